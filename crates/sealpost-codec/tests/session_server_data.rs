//! Server session and message data: DATA (end of data, dot-unstuffing, bare CR/LF, NUL,
//! size limit) and BDAT (chunk accounting, refusals that still consume the chunk).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, ServerApp, reply};
use sealpost_codec::server::{ServerConfig, ServerEvent};
use sealpost_codec::{BareLineEndings, DataError, NulOctets};

fn config() -> ServerConfig {
    ServerConfig::new("mx.test")
}

/// After EHLO, MAIL and one accepted RCPT.
fn in_transaction(config: ServerConfig) -> Server {
    let mut server = Server::new(config);
    server.ehlo();
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["250 2.1.5"]);
    server
}

/// After DATA and its 354.
fn in_data(config: ServerConfig) -> Server {
    let mut server = in_transaction(config);
    assert_eq!(
        server.write(b"DATA\r\n"),
        b"354 2.0.0 End data with <CR><LF>.<CR><LF>\r\n".to_vec()
    );
    server
}

fn message_ends(server: &Server) -> Vec<(u64, usize)> {
    server
        .app
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::MessageEnd { size, replies } => Some((*size, *replies)),
            _ => None,
        })
        .collect()
}

// ----------------------------------------------------------------------------------------
// DATA.

#[test]
fn a_message_and_its_end() {
    let mut server = in_data(config());
    assert!(server.write(b"Subject: hi\r\n\r\nline\r\n").is_empty());
    assert_eq!(server.write(b".\r\n"), b"250 2.0.0 Ok: message accepted\r\n");
    assert_eq!(server.app.messages, [b"Subject: hi\r\n\r\nline\r\n".to_vec()]);
    assert_eq!(message_ends(&server), [(21, 1)]);
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"], "commands again after the end");
}

#[test]
fn the_end_of_data_split_at_every_octet() {
    let body = b"one\r\n..two\r\nthree\r\n.\r\n";
    for cut in 0..=body.len() {
        let mut server = in_data(config());
        let mut replies = server.send(&body[..cut]);
        replies.extend(server.send(&body[cut..]));
        assert_eq!(replies, ["250 2.0.0"], "cut at {cut}");
        assert_eq!(server.app.messages, [b"one\r\n.two\r\nthree\r\n".to_vec()], "cut at {cut}");
    }
}

#[test]
fn the_empty_message_right_after_354() {
    // The CRLF that ended the DATA line is the first CRLF of CRLF "." CRLF.
    let mut server = in_data(config());
    assert_eq!(server.send(b".\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [Vec::<u8>::new()]);
    assert_eq!(message_ends(&server), [(0, 1)]);
}

#[test]
fn a_first_line_with_two_dots_is_unstuffed() {
    let mut server = in_data(config());
    assert_eq!(server.send(b"..x\r\n..\r\n...\r\n.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b".x\r\n.\r\n..\r\n".to_vec()]);
}

#[test]
fn bare_line_endings_are_refused_after_the_real_end() {
    for (body, offset) in
        [(&b"line one\nline two\r\n"[..], 8u64), (b"a\rb\r\n", 1), (b"ab\r\r\n", 2)]
    {
        let mut server = in_data(config());
        // Nothing is answered before the real end: the whole message is read.
        assert!(server.write(body).is_empty());
        assert!(server.write(b"more\r\n").is_empty());
        assert_eq!(
            server.write(b".\r\n"),
            b"550 5.6.0 Message holds a bare CR or LF; lines must end with CRLF\r\n".to_vec()
        );
        assert_eq!(server.app.rejected, [DataError::BareLineEnding { offset }]);
        assert!(server.app.messages.is_empty());
        assert!(message_ends(&server).is_empty());
        // The transaction is over and the session reads commands again.
        assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["503 5.5.1"]);
        assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
    }
}

#[test]
fn bare_line_endings_normalized_by_option() {
    let mut config = config();
    config.bare_line_endings = BareLineEndings::Normalize;
    let mut server = in_data(config.clone());
    assert_eq!(server.send(b"line one\nline two\rthree\r\n.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"line one\r\nline two\r\nthree\r\n".to_vec()]);
    // A normalized line end never starts a line: "\n.\n" is content, not the end.
    let mut server = in_data(config);
    assert_eq!(server.send(b"a\n.\nb\r\n.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"a\r\n.\r\nb\r\n".to_vec()]);
}

#[test]
fn a_nul_is_refused_after_the_real_end() {
    for (body, offset) in [(&b"line\0one\r\n"[..], 4u64), (b"\0.\r\n", 0), (b"a\r\n.\0\r\n", 4)] {
        let mut server = in_data(config());
        // Nothing is answered before the real end: "\0.\r\n" and ".\0\r\n" are lines.
        assert!(server.write(body).is_empty(), "{body:?}");
        assert!(server.write(b"MAIL FROM:<smuggled@x.test>\r\n").is_empty());
        assert_eq!(server.write(b".\r\n"), b"550 5.6.0 Message holds a NUL octet\r\n".to_vec());
        assert_eq!(server.app.rejected, [DataError::Nul { offset }]);
        assert!(server.app.messages.is_empty());
        assert!(message_ends(&server).is_empty());
        assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1);
        // The transaction is over and the session reads commands again.
        assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["503 5.5.1"]);
        assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
    }
}

#[test]
fn nuls_stripped_by_option() {
    let mut config = config();
    config.nul_octets = NulOctets::Strip;
    let mut server = in_data(config.clone());
    assert_eq!(server.send(b"a\0b\0\r\n\0\r\n.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"ab\r\n\r\n".to_vec()]);
    // A stripped NUL does not make the dot after it start a line: no end of data there.
    let mut server = in_data(config);
    assert_eq!(server.send(b"a\r\n\0.\r\nb\r\n.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"a\r\n.\r\nb\r\n".to_vec()]);
}

#[test]
fn the_size_limit_drains_then_552() {
    let mut config = config();
    config.max_message_size = Some(100);
    let mut server = in_data(config.clone());
    for _ in 0..3 {
        assert!(server.write(&[b'x'; 98]).is_empty());
        assert!(server.write(b"\r\n").is_empty(), "drained without a reply");
    }
    assert_eq!(
        server.write(b".\r\n"),
        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n".to_vec()
    );
    assert_eq!(server.app.rejected, [DataError::TooLarge { limit: 100 }]);
    assert!(server.app.messages.is_empty());
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
    // Exactly the limit is fine.
    let mut server = in_data(config);
    let mut body = vec![b'y'; 98];
    body.extend_from_slice(b"\r\n.\r\n");
    assert_eq!(server.send(&body), ["250 2.0.0"]);
    assert_eq!(message_ends(&server), [(100, 1)]);
}

#[test]
fn a_refused_data_start_reads_no_data() {
    let app = ServerApp::new().with_hook(|e| {
        matches!(e, ServerEvent::MessageStart { .. }).then(|| reply("451 4.3.0 Try again later"))
    });
    let mut server = Server::with_app(config(), app);
    server.ehlo();
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["250 2.1.5"]);
    assert_eq!(server.send(b"DATA\r\n"), ["451 4.3.0"]);
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"], "still reading commands");
}

#[test]
fn the_message_reply_waits_for_the_application() {
    let mut server = in_data(config());
    server.app.hold = true;
    assert!(server.write(b"body\r\n.\r\nNOOP\r\n").is_empty());
    assert!(server.session.is_pending());
    assert_eq!(server.app.events.last(), Some(&ServerEvent::MessageEnd { size: 6, replies: 1 }));
    server.session.reject(reply("554 5.7.1 Spam"));
    server.app.hold = false;
    server.app.drive(&mut server.session);
    assert_eq!(common::summaries(&server.flush()), ["554 5.7.1", "250 2.0.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["503 5.5.1"], "the transaction ended");
}

// ----------------------------------------------------------------------------------------
// BDAT (RFC 3030).

#[test]
fn bdat_chunks_are_counted() {
    let mut server = in_transaction(config());
    assert_eq!(server.write(b"BDAT 3\r\nabc"), b"250 2.0.0 3 octets received\r\n");
    assert_eq!(server.write(b"BDAT 4\r\ndefg"), b"250 2.0.0 7 octets received\r\n");
    assert_eq!(server.send(b"BDAT 2 LAST\r\nhi"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"abcdefghi".to_vec()]);
    assert_eq!(message_ends(&server), [(9, 1)]);
    assert_eq!(server.send(b"BDAT 1 LAST\r\nx"), ["503 5.5.1"], "after LAST (RFC 3030 section 2)");
}

#[test]
fn bdat_zero_last() {
    let mut server = in_transaction(config());
    assert_eq!(server.send(b"BDAT 5\r\nhello"), ["250 2.0.0"]);
    assert_eq!(server.send(b"BDAT 0 LAST\r\n"), ["250 2.0.0"]);
    assert_eq!(message_ends(&server), [(5, 1)]);
    // An empty message.
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["250 2.1.5"]);
    assert_eq!(server.send(b"BDAT 0 LAST\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"hello".to_vec(), Vec::new()]);
}

#[test]
fn a_bdat_chunk_is_never_looked_at() {
    let mut server = in_transaction(config());
    let chunk = b"\r\n.\r\nQUIT\r\nbare\nlf";
    let mut write = format!("BDAT {} LAST\r\n", chunk.len()).into_bytes();
    write.extend_from_slice(chunk);
    assert!(server.write(&write[..10]).is_empty());
    assert!(server.write(&write[10..20]).is_empty(), "a chunk split over writes");
    assert_eq!(server.send(&write[20..]), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [chunk.to_vec()]);
    assert!(!server.session.is_closed(), "the QUIT inside was content");
}

#[test]
fn a_nul_in_a_text_message_by_bdat_is_refused_after_the_last_chunk() {
    let mut server = in_transaction(config());
    assert_eq!(server.write(b"BDAT 4\r\nab\0c"), b"250 2.0.0 4 octets received\r\n");
    assert_eq!(server.send(b"BDAT 5 LAST\r\n.\0\r\nx"), ["550 5.6.0"]);
    assert_eq!(server.app.rejected, [DataError::Nul { offset: 2 }]);
    assert!(server.app.messages.is_empty());
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"], "the session goes on");
    // 8BITMIME is text too.
    let mut server = Server::new(config());
    server.ehlo();
    let write = b"MAIL FROM:<a@b.test> BODY=8BITMIME\r\nRCPT TO:<c@d.test>\r\n";
    assert_eq!(server.send(write), ["250 2.1.0", "250 2.1.5"]);
    assert_eq!(server.send(b"BDAT 3 LAST\r\n\xe9\0\n"), ["550 5.6.0"]);
    assert_eq!(server.app.rejected, [DataError::Nul { offset: 1 }]);
}

#[test]
fn a_nul_in_a_text_message_by_bdat_is_stripped_by_option() {
    let mut config = config();
    config.nul_octets = NulOctets::Strip;
    let mut server = in_transaction(config);
    assert_eq!(server.write(b"BDAT 4\r\nab\0c"), b"250 2.0.0 3 octets received\r\n");
    // Found by fuzzing (server_session): a chunk of only NULs gave an empty MessageChunk.
    assert_eq!(server.write(b"BDAT 2\r\n\0\0"), b"250 2.0.0 3 octets received\r\n");
    assert_eq!(server.send(b"BDAT 4 LAST\r\n\0.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b"abc.\r\n".to_vec()]);
    assert_eq!(message_ends(&server), [(6, 1)]);
    let chunks = server.app.events.iter().filter_map(|e| match e {
        ServerEvent::MessageChunk(bytes) => Some(bytes.len()),
        _ => None,
    });
    assert_eq!(chunks.collect::<Vec<_>>(), [3, 3], "no empty chunk");
}

#[test]
fn bdat_pipelined_with_the_next_commands() {
    let mut server = in_transaction(config());
    let write = b"BDAT 3\r\nabcBDAT 3 LAST\r\ndefQUIT\r\n";
    assert_eq!(server.send(write), ["250 2.0.0", "250 2.0.0", "221 2.0.0"]);
    assert_eq!(server.app.messages, [b"abcdef".to_vec()]);
}

#[test]
fn bdat_without_mail_drains_the_chunk_then_503() {
    let mut server = Server::new(config());
    server.ehlo();
    assert_eq!(server.send(b"BDAT 6\r\nQUIT\r\n"), ["503 5.5.1"]);
    assert!(!server.session.is_closed(), "the chunk was not read as a command");
    assert_eq!(server.send(b"BDAT 17 LAST\r\nMAIL FROM:<a@b>\r\n"), ["503 5.5.1"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 0);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::MessageChunk(_))), 0);
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
}

#[test]
fn bdat_and_data_do_not_mix() {
    let mut server = in_transaction(config());
    assert_eq!(server.send(b"BDAT 3\r\nabc"), ["250 2.0.0"]);
    assert_eq!(server.send(b"DATA\r\n"), ["503 5.5.1"]);
}

#[test]
fn bdat_over_the_size_limit_drains_then_552() {
    let mut config = config();
    config.max_message_size = Some(10);
    let mut server = in_transaction(config);
    assert_eq!(server.send(b"BDAT 8\r\n12345678"), ["250 2.0.0"]);
    assert_eq!(server.send(b"BDAT 8 LAST\r\nRSET\r\n\r\n"), ["552 5.3.4"]);
    assert_eq!(server.app.rejected, [DataError::TooLarge { limit: 10 }]);
    assert!(server.app.messages.is_empty());
    // The transaction is over; the session reads commands again.
    assert_eq!(server.send(b"BDAT 2 LAST\r\nab"), ["503 5.5.1"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
}

#[test]
fn binarymime_goes_by_bdat() {
    let mut server = Server::new(config());
    server.ehlo();
    let write = b"MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\n";
    assert_eq!(server.send(write), ["250 2.1.0", "250 2.1.5"]);
    let chunk = [0u8, 255, b'\n', b'\r', b'.', b'\r', b'\n'];
    let mut write = b"BDAT 7 LAST\r\n".to_vec();
    write.extend_from_slice(&chunk);
    assert_eq!(server.send(&write), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [chunk.to_vec()]);
}
