//! `sealpost send` to `sealpost serve`: the outbound client and the server, both the real
//! binary (how it is found: see `smuggling.rs`), over STARTTLS on loopback at level
//! `secure` with the test CA: no peer but the program itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealpost_test_support::pki::pki;
use sealpost_test_support::process::{MailTestServer, Sealpost, text};

#[test]
fn send_at_level_secure_is_verified_and_stored_once_with_esmtps() {
    let binary = Sealpost::built();
    let server = MailTestServer::start(&binary);
    let dir = tempfile::tempdir().unwrap();
    let (mx, ca) = (server.mx().to_string(), pki("ca-bundle.pem"));
    let args = [
        "send",
        "--timeout",
        "20",
        "--server",
        &mx,
        "--tls-level",
        "secure",
        "--ca",
        ca.to_str().unwrap(),
        "--match",
        "mail.test",
        "--from",
        "a@client.test",
        "--to",
        "send-secure@mail.test",
    ];
    let output = binary.run(dir.path(), &args, b"Subject: send-secure\n\nsent by sealpost send\n");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("tls: verified"), "{stdout}");
    assert!(stdout.contains("<send-secure@mail.test>: accepted: 250 "), "{stdout}");
    let stored = server.messages("send-secure");
    assert_eq!(stored.len(), 1);
    let stored = String::from_utf8_lossy(&stored[0]);
    assert!(stored.contains("with ESMTPS"), "{stored}");
    // `send` turns the bare LFs of its input into CRLF on the wire.
    assert!(stored.ends_with("Subject: send-secure\r\n\r\nsent by sealpost send\r\n"), "{stored}");
    assert!(server.server.stop().success());
}
