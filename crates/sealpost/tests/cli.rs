//! `cert self-signed`, `user add`, the AUTH path they enable, and the errors of `serve`:
//! the real binary, its exit codes and what it prints.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::path::Path;

use common::{FREE_PORTS, Smtp, new_messages, run, sealpost, text};
use sealpost_mta::Users;
use sealpost_starttls::{CertificateFiles, hex_colon, read_chain, sha256};

#[test]
fn cert_self_signed_writes_a_pair_that_loads_and_prints_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        ["cert", "self-signed", "--host", "mx.example.test", "--host", "192.0.2.1", "--out", "tls"];
    let output = run(dir.path(), &args, b"");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);

    let files =
        CertificateFiles::new(dir.path().join("tls/cert.pem"), dir.path().join("tls/key.pem"));
    files.load().expect("the pair loads and matches");
    let leaf = read_chain(&files.chain).unwrap().remove(0);
    let fingerprint = hex_colon(&sha256(leaf.as_ref()));
    assert!(stdout.contains(&format!("SHA-256 fingerprint: {fingerprint}")), "{stdout}");
    assert!(stdout.contains("tls/cert.pem") && stdout.contains("tls/key.pem"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Never over an existing pair without --force.
    let again = run(dir.path(), &args, b"");
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists; pass --force"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(read_chain(&files.chain).unwrap()[0], leaf);
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(run(dir.path(), &forced, b"").status.success());
    assert_ne!(read_chain(&files.chain).unwrap()[0], leaf);

    let bad = run(dir.path(), &["cert", "self-signed", "--host", "not a name", "--out", "x"], b"");
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("neither a DNS name nor an IP address"));
    let missing = run(dir.path(), &["cert", "self-signed", "--out", "x"], b"");
    assert!(!missing.status.success() && text(&missing.stderr).contains("--host"));
}

#[test]
fn user_add_reads_the_password_from_stdin_and_the_file_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("conf/users");
    let output =
        run(dir.path(), &["user", "add", "alice", "--users", "conf/users"], b"correct horse\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output =
        run(dir.path(), &["user", "add", "bob", "--users", "conf/users"], b"battery staple\r\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let loaded = Users::load(&users).unwrap();
    assert_eq!(loaded.len(), 2);
    assert!(loaded.verify("alice", "correct horse"));
    assert!(loaded.verify("bob", "battery staple"), "CRLF is a line ending, not the password");
    assert!(!loaded.verify("alice", "battery staple"));
    // The password is nowhere but in the hash.
    let file = std::fs::read_to_string(&users).unwrap();
    assert!(!file.contains("correct horse"));

    for (stdin, expected) in [(&b""[..], "empty password"), (&b"\n"[..], "empty password")] {
        let output = run(dir.path(), &["user", "add", "carol", "--users", "conf/users"], stdin);
        assert!(!output.status.success());
        assert!(text(&output.stderr).contains(expected), "{}", text(&output.stderr));
    }
    let output = run(dir.path(), &["user", "add", "a:b", "--users", "conf/users"], b"pw\n");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("user name"), "{}", text(&output.stderr));
    // A password on the command line is not an option.
    let output = run(dir.path(), &["user", "add", "dave", "--users", "conf/users", "secret"], b"");
    assert!(!output.status.success());
    assert_eq!(Users::load(&users).unwrap().len(), 2);
}

#[test]
fn a_user_submits_over_implicit_tls_after_auth() {
    let dir = tempfile::tempdir().unwrap();
    sealpost().add_user(dir.path(), "sealpost-data/users", "alice", "correct horse");
    // The default users file is picked up without --users.
    let server = sealpost().serve(dir.path(), &FREE_PORTS);
    assert!(server.banner.contains("1 user(s) in ./sealpost-data/users"), "{}", server.banner);
    let cert = dir.path().join("sealpost-data/tls/cert.pem");
    let mut c = Smtp::connect_tls(server.addr("smtps"), &cert, "localhost").unwrap();
    c.expect(220);
    c.send(b"EHLO client.example\r\n");
    assert!(c.expect(250).contains("AUTH PLAIN LOGIN"));
    c.send(b"MAIL FROM:<alice@localhost>\r\n");
    c.expect(530);
    // "\0alice\0wrong"
    c.send(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n");
    c.expect(535);
    // "\0alice\0correct horse"
    c.send(b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=\r\n");
    c.expect(235);
    c.send(b"MAIL FROM:<alice@localhost>\r\n");
    c.expect(250);
    c.send(b"RCPT TO:<bob@localhost>\r\n");
    c.expect(250);
    c.send(b"DATA\r\n");
    c.expect(354);
    c.send(b"Subject: from alice\r\n\r\nsubmitted\r\n.\r\n");
    c.expect(250);
    c.send(b"QUIT\r\n");
    c.expect(221);
    let new = dir.path().join("sealpost-data/maildir/localhost/bob/new");
    let messages = new_messages(&new);
    assert_eq!(messages.len(), 1);
    assert!(text(&std::fs::read(&messages[0]).unwrap()).contains("with ESMTPSA"));
    assert!(server.stop().success());
}

/// Runs `serve` expecting it to refuse to start; returns stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let mut full = vec!["serve"];
    full.extend_from_slice(args);
    let output = run(dir, &full, b"");
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "serve {args:?} started:\n{}", text(&output.stdout));
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_flags_and_files_are_refused_with_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();

    let err = refused(p, &["--cert", "c.pem"]);
    assert!(err.contains("--key"), "{err}");

    std::fs::write(p.join("typo.toml"), "[limits]\nmax_conections = 10\n").unwrap();
    let err = refused(p, &["--config", "typo.toml"]);
    assert!(err.contains("max_conections") && err.contains("typo.toml"), "{err}");

    let err = refused(p, &["--config", "missing.toml"]);
    assert!(err.contains("cannot read the configuration file missing.toml"), "{err}");

    let err = refused(p, &["--smtp", "localhost:25"]);
    assert!(err.contains("expected IP:PORT"), "{err}");

    let err = refused(p, &["--smtp", "off", "--submission", "off", "--smtps", "off"]);
    assert!(err.contains("every listener is off"), "{err}");

    let err =
        refused(p, &["--cert", "nothing.pem", "--key", "nothing.key", "--smtp", "127.0.0.1:0"]);
    assert!(err.contains("nothing.pem") && err.contains("--cert PEM --key PEM"), "{err}");

    let err = refused(p, &["--users", "no-such-users", "--smtp", "127.0.0.1:0"]);
    assert!(err.contains("no-such-users") && err.contains("sealpost user add"), "{err}");

    let err = refused(p, &["--hostname", "bad host"]);
    assert!(err.contains("for '--hostname <NAME>': `bad host` is not a domain name"), "{err}");

    let err = refused(p, &["--nonsense"]);
    assert!(err.contains("--nonsense"), "{err}");

    // Never trust every PROXY header by accident.
    for (text, expected) in [
        (
            "[listeners.smtp]\nproxy_protocol = true\n",
            "[listeners.smtp] proxy_protocol = true needs proxy_trusted = [\"CIDR\", ...]",
        ),
        ("[listeners.smtps]\nproxy_trusted = [\"10.0.0.0/8\"]\n", "but not proxy_protocol = true"),
        (
            "[listeners.submission]\nproxy_protocol = true\nproxy_trusted = [\"10.0.0.0/33\"]\n",
            "proxy_trusted",
        ),
    ] {
        std::fs::write(p.join("proxy.toml"), text).unwrap();
        let err = refused(p, &["--config", "proxy.toml"]);
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn an_address_in_use_names_the_address_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = refused(
        dir.path(),
        &["--smtp", "127.0.0.1:0", "--submission", &addr, "--smtps", "127.0.0.1:0"],
    );
    assert!(
        err.contains(&format!("cannot bind {addr}: address in use; pass --submission ADDR")),
        "{err}"
    );
}
