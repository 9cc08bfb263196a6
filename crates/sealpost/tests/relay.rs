//! Relaying in `sealpost serve`, end to end between two real servers on loopback: alice
//! submits to A over implicit TLS with AUTH; A's relay worker delivers to B under the
//! `[relay]` policy (level verify with the test CA); B stores it. A policy that B cannot
//! meet defers the message and keeps it queued.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Server, Smtp, new_messages, pki, run, sealpost, text, wait_for};

/// B: the destination, MX only, with the test PKI's certificate for mail.test.
fn start_b(dir: &Path) -> Server {
    sealpost().serve(
        dir,
        &[
            "--smtp",
            "127.0.0.1:0",
            "--submission",
            "off",
            "--smtps",
            "off",
            "--hostname",
            "mail.test",
            "--domain",
            "remote.test",
            "--cert",
            &pki("server-chain.pem"),
            "--key",
            &pki("server-key.pem"),
        ],
    )
}

/// A: the submission server with a user and a relay policy for remote.test.
fn start_a(dir: &Path, b: std::net::SocketAddr, policy: &str) -> Server {
    sealpost().add_user(dir, "users", "alice", "correct horse");
    std::fs::write(
        dir.join("a.toml"),
        format!(
            "hostname = \"a.test\"\ndomains = [\"a.test\"]\nusers = \"users\"\n\
             [listeners.smtp]\naddress = \"off\"\n\
             [listeners.submission]\naddress = \"off\"\n\
             [listeners.smtps]\naddress = \"127.0.0.1:0\"\n\
             [relay]\nscan_interval = 1\nretry = [3600]\n\
             [relay.policy.\"remote.test\"]\nroute = \"{b}\"\n{policy}"
        ),
    )
    .unwrap();
    sealpost().serve(dir, &["--config", "a.toml"])
}

fn submit(a: &Server, dir: &Path) {
    let cert = dir.join("sealpost-data/tls/cert.pem");
    let mut c = Smtp::connect_tls(a.addr("smtps"), &cert, "localhost").unwrap();
    c.expect(220);
    c.send(b"EHLO client.example\r\n");
    c.expect(250);
    // "\0alice\0correct horse"
    c.send(b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=\r\n");
    c.expect(235);
    c.send(b"MAIL FROM:<alice@a.test>\r\nRCPT TO:<bob@remote.test>\r\nDATA\r\n");
    c.expect(250);
    c.expect(250);
    c.expect(354);
    c.send(b"Subject: relayed\r\n\r\nacross two servers\r\n.\r\n");
    c.expect(250);
    c.send(b"QUIT\r\n");
    c.expect(221);
}

#[test]
fn queued_mail_is_relayed_under_a_verify_policy() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = start_b(dir_b.path());
    let policy =
        format!("level = \"verify\"\nmatch = [\"mail.test\"]\nca = \"{}\"\n", pki("ca-bundle.pem"));
    let a = start_a(dir_a.path(), b.addr("smtp"), &policy);
    submit(&a, dir_a.path());
    let inbox = dir_b.path().join("sealpost-data/maildir/remote.test/bob/new");
    wait_for("the relayed message at B", Duration::from_secs(20), || {
        !new_messages(&inbox).is_empty()
    });
    let stored = text(&std::fs::read(&new_messages(&inbox)[0]).unwrap());
    assert!(stored.contains("across two servers"), "{stored}");
    assert!(stored.contains("Return-Path: <alice@a.test>"), "{stored}");
    // B saw TLS from A; A logged the attempt as verified.
    assert!(stored.contains("with ESMTPS"), "{stored}");
    let queue = dir_a.path().join("sealpost-data/queue");
    wait_for("an empty queue at A", Duration::from_secs(10), || {
        // Nothing but the queue's lock file.
        std::fs::read_dir(&queue).unwrap().all(|e| e.unwrap().file_name() == ".lock")
    });
    assert!(a.wait_for_log("relay attempt", Duration::from_secs(5)), "{}", a.stderr());
    let log = a.stderr();
    let line = log.lines().find(|l| l.contains("relay attempt")).unwrap();
    assert!(line.contains("verified") && line.contains("TLSv1.3"), "{line}");
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[test]
fn a_policy_the_destination_cannot_meet_defers_and_keeps_the_message() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = start_b(dir_b.path());
    // secure needs the certificate to name the next hop; B's names mail.test only.
    let policy = format!(
        "level = \"secure\"\nmatch = [\"other.test\"]\nca = \"{}\"\n",
        pki("ca-bundle.pem")
    );
    let a = start_a(dir_a.path(), b.addr("smtp"), &policy);
    submit(&a, dir_a.path());
    assert!(a.wait_for_log("delivery deferred", Duration::from_secs(20)), "{}", a.stderr());
    // The entry is rewritten right after the attempt: wait for that.
    let queue = dir_a.path().join("sealpost-data/queue");
    let envelope = || {
        let json: Vec<_> = std::fs::read_dir(&queue)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(json.len(), 1);
        text(&std::fs::read(&json[0]).unwrap())
    };
    wait_for("the attempt recorded", Duration::from_secs(10), || {
        envelope().contains("\"attempts\":1")
    });
    let envelope = envelope();
    assert!(envelope.contains("\"last_error\":\"TLS with"), "{envelope}");
    assert!(
        new_messages(&dir_b.path().join("sealpost-data/maildir/remote.test/bob/new")).is_empty()
    );
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[test]
fn a_bad_relay_policy_stops_the_start_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    for (policy, expected) in [
        // toml's message shows the line, the key and what the type said.
        ("level = \"paranoid\"\n", "level = \"paranoid\""),
        ("level = \"paranoid\"\n", "unknown TLS security level \"paranoid\""),
        (
            "level = \"fingerprint\"\n",
            "[relay] policy for remote.test: level \"fingerprint\" needs",
        ),
        ("route = \"no port\"\n", "route = \"no port\""),
        ("route = \"no port\"\n", "invalid server \"no port\": expected HOST:PORT"),
        ("fingerprints = [\"AB:CD\"]\n", "invalid SHA-256 fingerprint \"AB:CD\""),
        ("match = [\"mail test\"]\n", "`mail test` is neither a DNS name nor an IP address"),
    ] {
        std::fs::write(
            dir.path().join("bad.toml"),
            format!(
                "[listeners.smtp]\naddress = \"127.0.0.1:0\"\n\
                 [listeners.submission]\naddress = \"off\"\n[listeners.smtps]\naddress = \"off\"\n\
                 [relay.policy.\"remote.test\"]\n{policy}"
            ),
        )
        .unwrap();
        let output = run(dir.path(), &["serve", "--config", "bad.toml"], b"");
        assert!(!output.status.success());
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{policy}: {stderr}");
    }
}
