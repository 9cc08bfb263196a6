//! The edges of end of data (attacks.md, after the smuggling list) against the real
//! `sealpost serve` (how the binary is found: see `smuggling.rs`): `.` CRLF straight after
//! the 354 is the empty message (the CRLF of the DATA line counts), and a first line
//! `..x` is unstuffed to `.x`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealpost_test_support::process::{MailTestServer, Sealpost, Smtp};

#[test]
fn a_dot_right_after_354_is_the_empty_message_and_a_leading_dot_is_unstuffed() {
    let server = MailTestServer::start(&Sealpost::built());
    let mut c = Smtp::connect(server.mx());
    c.expect(220);
    c.send_once(b"EHLO a\r\n");
    c.expect(250);
    for body in [&b".\r\n"[..], b"..x\r\n.\r\n"] {
        c.send_once(b"MAIL FROM:<a@attacker.test>\r\nRCPT TO:<dots@mail.test>\r\nDATA\r\n");
        for code in [250, 250, 354] {
            c.expect(code);
        }
        c.send_once(body);
        c.expect(250);
    }
    c.send_once(b"QUIT\r\n");
    c.expect(221);

    let stored: Vec<String> =
        server.messages("dots").iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    // The empty message is nothing but the trace headers the server adds.
    let only_trace = |t: &str| {
        t.split_terminator("\r\n").all(|line| {
            line.starts_with("Return-Path: ")
                || line.starts_with("Received: ")
                || line.starts_with([' ', '\t'])
        })
    };
    assert_eq!(stored.iter().filter(|t| only_trace(t)).count(), 1, "{stored:?}");
    let unstuffed = stored.iter().filter(|t| t.ends_with("\r\n.x\r\n") && !t.contains("..x"));
    assert_eq!(unstuffed.count(), 1, "{stored:?}");
    assert!(server.server.stop().success());
}
