//! `sealpost serve` as a user runs it: the real binary in a scratch directory, on free
//! loopback ports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{FREE_PORTS, Smtp, deliver, deliver_over, new_messages, run, sealpost, text};

#[test]
fn default_layout_delivery_signals_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = sealpost().serve(dir.path(), &FREE_PORTS);

    // The real bound addresses, one line per listener.
    for name in ["smtp", "submission", "smtps"] {
        let addr = server.addr(name);
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{name}: {addr}");
    }
    assert!(server.banner.contains("local domains: localhost"), "{}", server.banner);
    assert!(server.banner.contains("openssl s_client -starttls smtp -connect 127.0.0.1:"));
    assert!(server.banner.contains("swaks --server 127.0.0.1 --port"), "{}", server.banner);
    assert!(server.banner.contains("self-signed, made now"), "{}", server.banner);

    // The self-signed certificate of the embedded default, with a private key.
    let tls = dir.path().join("sealpost-data/tls");
    let cert = std::fs::read(tls.join("cert.pem")).unwrap();
    assert!(text(&cert).starts_with("-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tls.join("key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key.pem must be readable by its owner only");
    }

    // One message over plaintext to the MX port, into the Maildir.
    deliver(server.addr("smtp"), "someone@example.org", "postmaster@localhost", "Hello, sealpost");
    let new = dir.path().join("sealpost-data/maildir/localhost/postmaster/new");
    let messages = new_messages(&new);
    assert_eq!(messages.len(), 1, "{}", new.display());
    let stored = text(&std::fs::read(&messages[0]).unwrap());
    assert!(stored.contains("Subject: first\r\n\r\nHello, sealpost\r\n"), "{stored}");
    assert!(
        server.wait_for_log("messages=1", Duration::from_secs(10)),
        "one summary line per session:\n{}",
        server.stderr()
    );

    // SIGHUP reloads; the server goes on.
    server.signal("HUP");
    assert!(server.wait_for_log("reloaded", Duration::from_secs(10)), "{}", server.stderr());
    let mut c = Smtp::connect(server.addr("smtp"));
    c.expect(220);
    c.send(b"QUIT\r\n");
    c.expect(221);

    // SIGTERM: a clean exit, quickly.
    let started = Instant::now();
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    // A restart keeps the certificate (and the mail).
    let again = sealpost().serve(dir.path(), &FREE_PORTS);
    assert!(!again.banner.contains("made now"), "{}", again.banner);
    assert_eq!(std::fs::read(tls.join("cert.pem")).unwrap(), cert);
    assert_eq!(new_messages(&new).len(), 1);
    assert!(again.stop().success());
}

#[test]
fn sigint_stops_too_and_listeners_can_be_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = sealpost()
        .serve(dir.path(), &["--smtp", "127.0.0.1:0", "--submission", "off", "--smtps", "off"]);
    assert_eq!(server.addrs.len(), 1, "{}", server.banner);
    let status = {
        server.signal("INT");
        let mut server = server;
        server.wait(Duration::from_secs(10)).expect("exits on SIGINT")
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn flags_choose_names_domains_and_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = FREE_PORTS.to_vec();
    args.extend([
        "--hostname",
        "mx.example.test",
        "--domain",
        "example.test",
        "--data-dir",
        "elsewhere",
        "--max-message-size",
        "1k",
    ]);
    let server = sealpost().serve(dir.path(), &args);
    assert!(server.banner.contains("running as mx.example.test; local domains: example.test"));
    let smtp = server.addr("smtp");

    let mut c = Smtp::connect(smtp);
    assert!(c.expect(220).starts_with("220 mx.example.test "));
    c.send(b"EHLO client.example\r\n");
    let ehlo = c.expect(250);
    assert!(ehlo.contains("SIZE 1024"), "{ehlo}");
    // Not a local domain, not logged in: no relaying.
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@localhost>\r\n");
    c.expect(250);
    c.expect(550);
    c.send(b"QUIT\r\n");
    c.expect(221);

    deliver(smtp, "a@example.org", "alice@example.test", "to a chosen domain");
    let new = dir.path().join("elsewhere/maildir/example.test/alice/new");
    assert_eq!(new_messages(&new).len(), 1);
    assert!(dir.path().join("elsewhere/tls/cert.pem").is_file());
    assert!(!dir.path().join("sealpost-data").exists());
    assert!(server.stop().success());
}

#[test]
fn the_discard_handler_accepts_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = FREE_PORTS.to_vec();
    args.extend(["--handler", "discard"]);
    let server = sealpost().serve(dir.path(), &args);
    deliver(server.addr("smtp"), "a@example.org", "postmaster@localhost", "gone");
    assert!(
        new_messages(&dir.path().join("sealpost-data/maildir/localhost/postmaster/new")).is_empty()
    );
    assert!(server.stop().success());
}

/// Makes a certificate with `sealpost cert self-signed`.
fn make_cert(dir: &Path, out: &str) {
    let output = run(dir, &["cert", "self-signed", "--host", "localhost", "--out", out], b"");
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn sighup_and_the_file_watch_reload_certificates_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path(), "live");
    make_cert(dir.path(), "next");
    make_cert(dir.path(), "third");
    let config = dir.path().join("sealpost.toml");
    // No watching: only SIGHUP may reload.
    std::fs::write(
        &config,
        "[tls]\ncert = \"live/cert.pem\"\nkey = \"live/key.pem\"\nwatch_interval = 0\n",
    )
    .unwrap();
    let mut args = FREE_PORTS.to_vec();
    args.extend(["--config", "sealpost.toml"]);
    let server = sealpost().serve(dir.path(), &args);
    let smtps = server.addr("smtps");
    let live = dir.path().join("live");
    let next = dir.path().join("next/cert.pem");

    let mut c = Smtp::connect_tls(smtps, &live.join("cert.pem"), "localhost").unwrap();
    c.expect(220);
    assert!(Smtp::connect_tls(smtps, &next, "localhost").is_err(), "not yet the next one");

    // Swap in the next pair: not used until SIGHUP.
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(dir.path().join("next").join(file), live.join(file)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Smtp::connect_tls(smtps, &next, "localhost").is_err(), "reloaded without SIGHUP");
    server.signal("HUP");
    assert!(
        eventually(|| Smtp::connect_tls(smtps, &next, "localhost").is_ok()),
        "SIGHUP did not load the new certificate:\n{}",
        server.stderr()
    );

    // A broken file: refused, the last good pair stays, the log says why.
    std::fs::write(live.join("cert.pem"), "not a certificate\n").unwrap();
    server.signal("HUP");
    assert!(server.wait_for_log("refused", Duration::from_secs(10)), "{}", server.stderr());
    let mut c = Smtp::connect_tls(smtps, &next, "localhost").unwrap();
    c.expect(220);
    assert!(server.stop().success());

    // With the watch on, a change on disk is picked up without a signal.
    std::fs::write(
        &config,
        "[tls]\ncert = \"live/cert.pem\"\nkey = \"live/key.pem\"\nwatch_interval = 1\n",
    )
    .unwrap();
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(dir.path().join("next").join(file), live.join(file)).unwrap();
    }
    let server = sealpost().serve(dir.path(), &args);
    let smtps = server.addr("smtps");
    let third = dir.path().join("third/cert.pem");
    // Modification times can be coarse: make sure the copies look newer.
    std::thread::sleep(Duration::from_millis(1100));
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(dir.path().join("third").join(file), live.join(file)).unwrap();
    }
    assert!(
        eventually(|| Smtp::connect_tls(smtps, &third, "localhost").is_ok()),
        "the watch did not load the new certificate:\n{}",
        server.stderr()
    );
    assert!(server.stop().success());
}

/// Polls `check` for up to ten seconds.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_configuration_file_sets_listeners_domains_and_recipients() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/sealpost.toml"),
        "hostname = \"mail.example.test\"\n\
         domains = [\"example.test\"]\n\
         recipients = [\"alice@example.test\"]\n\
         data_dir = \"../data\"\n\
         [listeners.smtp]\naddress = \"127.0.0.1:0\"\n\
         [listeners.submission]\naddress = \"off\"\n\
         [listeners.smtps]\naddress = \"127.0.0.1:0\"\n\
         [limits]\nmax_recipients = 1\n",
    )
    .unwrap();
    let server = sealpost().serve(dir.path(), &["--config", "etc/sealpost.toml"]);
    let names: Vec<_> = server.addrs.keys().map(String::as_str).collect();
    assert!(names.len() == 2 && !names.contains(&"submission"), "{}", server.banner);
    let mut c = Smtp::connect(server.addr("smtp"));
    assert!(c.expect(220).starts_with("220 mail.example.test "));
    c.send(b"EHLO client.example\r\n");
    c.expect(250);
    c.send(b"MAIL FROM:<x@example.org>\r\nRCPT TO:<bob@example.test>\r\n");
    c.expect(250);
    c.expect(550); // not in `recipients`
    c.send(b"RCPT TO:<alice@example.test>\r\nRCPT TO:<postmaster@example.test>\r\n");
    c.expect(250);
    c.expect(452); // max_recipients = 1
    c.send(b"QUIT\r\n");
    c.expect(221);
    deliver(server.addr("smtp"), "x@example.org", "alice@example.test", "listed");
    // data_dir is relative to the file's directory.
    assert_eq!(new_messages(&dir.path().join("data/maildir/example.test/alice/new")).len(), 1);
    assert!(server.stop().success());
}

#[test]
fn a_listener_behind_a_load_balancer_takes_the_client_from_the_proxy_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sealpost.toml"),
        "[listeners.smtp]\naddress = \"127.0.0.1:0\"\n\
         proxy_protocol = true\nproxy_trusted = [\"127.0.0.0/8\", \"::1/128\"]\n\
         [listeners.submission]\naddress = \"off\"\n\
         [listeners.smtps]\naddress = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let server = sealpost().serve(dir.path(), &["--config", "sealpost.toml"]);
    assert!(
        server.banner.contains(
            "smtp: PROXY protocol header required (v1 or v2), only from 127.0.0.0/8, ::1/128"
        ),
        "{}",
        server.banner
    );
    assert!(!server.banner.contains("swaks"), "no first message to paste: {}", server.banner);
    let smtp = server.addr("smtp");

    // What HAProxy's send-proxy sends, then the client's session.
    let mut c = Smtp::connect(smtp);
    c.send(b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r\n");
    deliver_over(c, "a@example.org", "postmaster@localhost", "via the balancer");
    let new = dir.path().join("sealpost-data/maildir/localhost/postmaster/new");
    let messages = new_messages(&new);
    assert_eq!(messages.len(), 1);
    let stored = text(&std::fs::read(&messages[0]).unwrap());
    assert!(stored.contains("\nReceived: from client.example ([192.0.2.1])\r\n"), "{stored}");
    assert!(
        server.wait_for_log("peer=192.0.2.1:50000 proxy=127.0.0.1:", Duration::from_secs(10)),
        "{}",
        server.stderr()
    );

    // A client that connects directly gets no greeting, and the log says why.
    let mut direct = Smtp::connect(smtp);
    direct.send(b"EHLO client.example\r\n");
    assert!(direct.closes_silently());
    assert!(
        server.wait_for_log("no PROXY protocol header", Duration::from_secs(10)),
        "{}",
        server.stderr()
    );
    // The listener without proxy_protocol greets as always.
    let mut tls = Smtp::connect_tls(
        server.addr("smtps"),
        &dir.path().join("sealpost-data/tls/cert.pem"),
        "localhost",
    )
    .unwrap();
    tls.expect(220);
    assert!(server.stop().success());
}

#[test]
fn the_printed_openssl_command_delivers_a_first_message() {
    let found = std::process::Command::new("openssl").arg("version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "this test runs the printed `openssl s_client` command: install openssl \
         (Debian: apt-get install openssl; .ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = sealpost().serve(dir.path(), &FREE_PORTS);
    let command: String = server
        .banner
        .lines()
        .skip_while(|line| !line.starts_with("or with openssl"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(command.contains("openssl s_client -starttls smtp"), "{}", server.banner);
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let replies = text(&output.stdout);
    assert!(output.status.success(), "{command}\n{replies}\n{}", text(&output.stderr));
    assert!(replies.contains("250 2.0.0"), "{replies}");
    let new = dir.path().join("sealpost-data/maildir/localhost/postmaster/new");
    let messages = new_messages(&new);
    assert_eq!(messages.len(), 1, "{replies}");
    let stored = text(&std::fs::read(&messages[0]).unwrap());
    assert!(
        stored.contains("with ESMTPS") && stored.ends_with("Subject: hello\r\n\r\nHi!\r\n"),
        "{stored}"
    );
    assert!(server.stop().success());
}

#[test]
fn the_smime_section_verifies_signed_mail_and_encrypts_at_rest() {
    let pem = common::pki;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sealpost.toml"),
        format!(
            "hostname = \"mx.example.test\"\n\
             domains = [\"example.test\"]\n\
             [listeners.smtp]\naddress = \"127.0.0.1:0\"\n\
             [listeners.submission]\naddress = \"off\"\n\
             [listeners.smtps]\naddress = \"off\"\n\
             [smime]\ntrust = [\"{}\"]\n\
             encrypt_at_rest = {{ \"bob@example.test\" = \"{}\" }}\n",
            pem("root-ca.pem"),
            pem("smime-bob-rsa.pem")
        ),
    )
    .unwrap();
    let server = sealpost().serve(dir.path(), &["--config", "sealpost.toml"]);
    let alice = sealpost_smime::Identity::from_cert_and_key(
        &std::fs::read(pem("smime-alice-rsa-chain.pem")).unwrap(),
        &std::fs::read(pem("smime-alice-rsa-key.pem")).unwrap(),
        None,
    )
    .unwrap();
    let message = b"From: alice@example.org\r\nSubject: signed\r\n\r\nSigned words.\r\n";
    let signed =
        sealpost_smime::sign_message(&alice, message, &sealpost_smime::SignOptions::default())
            .unwrap();
    let mut c = Smtp::connect(server.addr("smtp"));
    c.expect(220);
    c.send(b"EHLO client.example\r\n");
    c.expect(250);
    c.send(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n");
    c.expect(250);
    c.expect(250);
    c.expect(250);
    c.expect(354);
    // A forged result first; no line of a signed message starts with a dot.
    c.send(b"Authentication-Results: mx.example.test; smime=pass\r\n");
    c.send(&signed);
    c.send(b".\r\n");
    c.expect(250);
    c.send(b"QUIT\r\n");
    c.expect(221);

    let data = dir.path().join("sealpost-data/maildir/example.test");
    let carol = new_messages(&data.join("carol/new"));
    assert_eq!(carol.len(), 1);
    let carol = std::fs::read_to_string(&carol[0]).unwrap();
    assert_eq!(carol.matches("Authentication-Results:").count(), 1, "{carol}");
    assert!(
        carol.contains("Authentication-Results: mx.example.test;\r\n\tsmime=pass body.smime-identifier=alice@example.org"),
        "{carol}"
    );
    let bob = new_messages(&data.join("bob/new"));
    assert_eq!(bob.len(), 1);
    let bob = std::fs::read(&bob[0]).unwrap();
    assert!(!String::from_utf8_lossy(&bob).contains("Signed words."));
    let key = sealpost_smime::Identity::from_cert_and_key(
        &std::fs::read(pem("smime-bob-rsa.pem")).unwrap(),
        &std::fs::read(pem("smime-bob-rsa-key.pem")).unwrap(),
        None,
    )
    .unwrap();
    let opened = sealpost_smime::decrypt_message(&key, &bob).unwrap();
    // Inside: the signed message, its signature still verifiable.
    let inner = String::from_utf8_lossy(&opened.message).into_owned();
    assert!(inner.contains("multipart/signed") && inner.contains("Signed words."), "{inner}");
    assert!(server.stop().success());
}
