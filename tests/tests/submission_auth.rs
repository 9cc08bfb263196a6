//! The submission port before TLS (attacks.md, STARTTLS injection, server side) against
//! the real `sealpost serve` (how the binary is found: see `smuggling.rs`): EHLO shows
//! STARTTLS and no AUTH, and valid credentials sent in the clear are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealpost_test_support::process::{MailTestServer, Sealpost, Smtp};

#[test]
fn auth_plain_before_starttls_is_refused_even_with_valid_credentials() {
    let server = MailTestServer::start_with_user(&Sealpost::built());
    let mut c = Smtp::connect(server.submission());
    c.expect(220);
    c.send_once(b"EHLO a\r\n");
    let ehlo = c.expect(250);
    assert!(ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"), "{ehlo}");
    c.send_once(format!("AUTH PLAIN {}\r\n", MailTestServer::auth_plain()).as_bytes());
    let refused = c.expect(530);
    assert!(refused.starts_with("530 5.7.0 "), "{refused}");
    c.send_once(b"MAIL FROM:<tester@mail.test>\r\n");
    let (code, mail) = c.reply();
    assert_eq!(code / 100, 5, "MAIL without TLS and AUTH: {mail}");
    c.send_once(b"QUIT\r\n");
    c.expect(221);
    assert!(server.server.stop().success());
}
