//! `sealpost send` against `sealpost serve`, both as real processes over loopback, with
//! the test PKI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use common::{FREE_PORTS, Server, new_messages, pki, run, sealpost, text};

const MESSAGE: &[u8] = b"Subject: sent by sealpost send\n\nhello\n.line with a dot\n";

/// `serve` with the test PKI's good certificate.
fn serve(dir: &Path) -> Server {
    let (chain, key) = (pki("server-chain.pem"), pki("server-key.pem"));
    let mut args: Vec<&str> = FREE_PORTS.to_vec();
    args.extend(["--cert", &chain, "--key", &key]);
    sealpost().serve(dir, &args)
}

fn send(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["send", "--timeout", "20"];
    all.extend(args);
    run(dir, &all, MESSAGE)
}

#[test]
fn verified_delivery_to_the_mx_listener_reports_recipients_and_tls() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let addr = server.addr("smtp").to_string();
    let ca = pki("ca-bundle.pem");
    let output = send(
        dir.path(),
        &[
            "--server",
            &addr,
            "--tls-level",
            "verify",
            "--ca",
            &ca,
            "--match",
            "localhost",
            "--from",
            "someone@example.org",
            "--to",
            "postmaster@localhost",
        ],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("tls: verified TLSv1."), "{stdout}");
    assert!(stdout.contains("spki-sha256="), "{stdout}");
    assert!(stdout.contains("<postmaster@localhost>: accepted: 250"), "{stdout}");
    let new = dir.path().join("sealpost-data/maildir/localhost/postmaster/new");
    let messages = new_messages(&new);
    assert_eq!(messages.len(), 1);
    let stored = std::fs::read(&messages[0]).unwrap();
    // Bare LF on stdin went out as CRLF, and the dot line arrived unstuffed.
    assert!(text(&stored).ends_with("\r\nhello\r\n.line with a dot\r\n"), "{}", text(&stored));
    assert!(server.stop().success());
}

#[test]
fn a_refused_recipient_makes_the_exit_code_fail_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let addr = server.addr("smtp").to_string();
    let output = send(
        dir.path(),
        &["--server", &addr, "--to", "postmaster@localhost", "--to", "someone@elsewhere.example"],
    );
    let stdout = text(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("<postmaster@localhost>: accepted: 250"), "{stdout}");
    assert!(stdout.contains("<someone@elsewhere.example>: rejected: 550"), "{stdout}");
    assert!(stdout.contains("tls: untrusted"), "level may: {stdout}");
    assert!(text(&output.stderr).contains("1 of 2 recipient(s) did not accept"));
    assert!(server.stop().success());
}

#[test]
fn verify_without_the_test_ca_and_fingerprint_mismatches_fail() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let addr = server.addr("smtp").to_string();
    // The Mozilla roots do not include the test root.
    let output = send(
        dir.path(),
        &["--server", &addr, "--tls-level", "verify", "--to", "postmaster@localhost"],
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("certificate-not-trusted"), "{}", text(&output.stderr));
    let wrong = "00".repeat(32);
    let output = send(
        dir.path(),
        &[
            "--server",
            &addr,
            "--tls-level",
            "fingerprint",
            "--fingerprint",
            &wrong,
            "--to",
            "postmaster@localhost",
        ],
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("certificate-not-trusted"), "{}", text(&output.stderr));
    assert!(
        new_messages(&dir.path().join("sealpost-data/maildir/localhost/postmaster/new")).is_empty()
    );
    // The right pin passes.
    let pin = fingerprint_of(&pki("server.pem"));
    let output = send(
        dir.path(),
        &[
            "--server",
            &addr,
            "--tls-level",
            "fingerprint",
            "--fingerprint",
            &pin,
            "--to",
            "postmaster@localhost",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("tls: verified"));
    assert!(server.stop().success());
}

/// SHA-256 of the first certificate of a PEM file.
fn fingerprint_of(pem: &str) -> String {
    let chain = sealpost_starttls::read_chain(Path::new(pem)).unwrap();
    sealpost_starttls::hex_colon(&sealpost_starttls::sha256(chain[0].as_ref()))
}

#[test]
fn tls_mode_mismatches_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let smtp = server.addr("smtp").to_string();
    let output =
        send(dir.path(), &["--server", &smtp, "--implicit-tls", "--to", "postmaster@localhost"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("not an implicit-TLS port"), "{}", text(&output.stderr));
    let smtps = server.addr("smtps").to_string();
    let output = run(
        dir.path(),
        &["send", "--timeout", "2", "--server", &smtps, "--to", "postmaster@localhost"],
        MESSAGE,
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("connect with implicit TLS"), "{}", text(&output.stderr));
    assert!(server.stop().success());
}

#[test]
fn authenticated_submission_over_starttls_and_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    sealpost().add_user(dir.path(), "sealpost-data/users", "alice", "correct horse");
    let server = serve(dir.path());
    let ca = pki("ca-bundle.pem");
    for (listener, implicit) in [("submission", false), ("smtps", true)] {
        let addr = server.addr(listener).to_string();
        let mut args = vec![
            "send",
            "--timeout",
            "20",
            "--server",
            &addr,
            "--tls-level",
            "secure",
            "--ca",
            &ca,
            "--match",
            "localhost",
            "--user",
            "alice",
            "--pass",
            "env:SEALPOST_TEST_PASSWORD",
            "--from",
            "alice@localhost",
            "--to",
            "bob@localhost",
        ];
        if implicit {
            args.push("--implicit-tls");
        }
        let mut child = sealpost()
            .command()
            .args(&args)
            .current_dir(dir.path())
            .env("SEALPOST_TEST_PASSWORD", "correct horse")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(MESSAGE).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{listener}: {}", text(&output.stderr));
        assert!(text(&output.stdout).contains("tls: verified"), "{}", text(&output.stdout));
    }
    let new = dir.path().join("sealpost-data/maildir/localhost/bob/new");
    let messages = new_messages(&new);
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| text(&std::fs::read(m).unwrap()).contains("with ESMTPSA")));
    // A password on the command line is refused before anything is sent.
    let addr = server.addr("submission").to_string();
    let output = send(
        dir.path(),
        &["--server", &addr, "--user", "alice", "--pass", "correct horse", "--to", "bob@localhost"],
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("env:VARIABLE"), "{}", text(&output.stderr));
    assert!(server.stop().success());
}

#[test]
fn send_without_a_server_or_a_recipient_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // Without --server the recipients' MX hosts are used: one domain per run.
    let output = send(dir.path(), &["--to", "a@example.org", "--to", "b@example.net"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("several domains (example.net, example.org)"), "{stderr}");
    let output = send(dir.path(), &["--server", "127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(2), "clap usage error");
    let output =
        send(dir.path(), &["--server", "127.0.0.1:1", "--tls-level", "danger", "--to", "a@b"]);
    assert!(
        text(&output.stderr).contains("unknown TLS security level"),
        "{}",
        text(&output.stderr)
    );
    // MTA-STS is about MX deliveries; a trust anchor file needs a DNS server to use it.
    let output = send(dir.path(), &["--server", "127.0.0.1:1", "--mta-sts", "--to", "a@b"]);
    assert_eq!(output.status.code(), Some(2), "clap usage error");
    let output = send(dir.path(), &["--dns-trust-anchor", "/nonexistent", "--to", "a@example.org"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--dns-trust-anchor needs --dns"),
        "{}",
        text(&output.stderr)
    );
}
