//! STARTTLS injection (attacks.md, server side) as real bytes against the real
//! `sealpost serve` (how the binary is found: see `smuggling.rs`). The driver runs the
//! whole list in process in `crates/sealpost-server/tests/attacks.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealpost_test_support::process::{MailTestServer, Sealpost, Smtp, codes};

/// Connects to the MX listener and says `EHLO a`.
fn greeted(server: &MailTestServer) -> Smtp {
    let mut c = Smtp::connect(server.mx());
    c.expect(220);
    c.send_once(b"EHLO a\r\n");
    c.expect(250);
    c
}

#[test]
fn commands_after_starttls_in_the_same_write_are_refused_and_the_connection_closed() {
    let server = MailTestServer::start(&Sealpost::built());
    let injected = format!(
        "STARTTLS\r\nAUTH PLAIN {}\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<inject@mail.test>\r\n",
        MailTestServer::auth_plain()
    );
    for bytes in [&b"STARTTLS\r\nRSET\r\n"[..], injected.as_bytes()] {
        let mut c = greeted(&server);
        c.send_once(bytes);
        // 554 before any 220: no handshake, and none of the injected commands answered.
        let rest = c.rest();
        assert_eq!(codes(&rest), [554], "{:?}: {rest:?}", String::from_utf8_lossy(bytes));
        assert!(rest[0].1.starts_with("554 5.5.0 "), "{rest:?}");
    }
    assert!(server.server.stop().success());
}

#[test]
fn a_bare_lf_ends_no_line_so_starttls_rset_noop_is_one_refused_line() {
    let server = MailTestServer::start(&Sealpost::built());
    let mut c = greeted(&server);
    c.send_once(b"STARTTLS\nRSET\n");
    // A pause, so the two writes arrive apart: the bare LFs are not followed by CRLF in
    // the same segment.
    std::thread::sleep(std::time::Duration::from_millis(100));
    c.send_once(b"NOOP\r\n");
    // `STARTTLS\nRSET\nNOOP` is one line: one 500 5.5.2, no 220, no 250 for RSET or NOOP.
    let refused = c.expect(500);
    assert!(refused.starts_with("500 5.5.2 "), "{refused}");
    c.send_once(b"QUIT\r\n");
    assert_eq!(codes(&c.rest()), [221]);
    assert!(server.server.stop().success());
}
