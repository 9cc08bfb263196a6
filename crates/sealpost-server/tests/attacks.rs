//! The server-side cases of the attack list, sent as real bytes over loopback sockets:
//! one `write` per `|` of the list, TCP_NODELAY on both ends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Client, settings, start};
use sealpost_codec::server::StartTlsTrailing;
use sealpost_codec::{BareLineEndings, NulOctets};
use sealpost_server::Role;
use sealpost_test_support::attacks::{SMUGGLING, has_nul, refused_by_default};

const SMUGGLED: &[u8] =
    b"MAIL FROM:<smuggled@x.test>\r\nRCPT TO:<victim@mail.test>\r\nDATA\r\nsmuggled body\r\n.\r\n";

/// Opens a transaction up to the 354.
async fn open_data(client: &mut Client) {
    client.expect(220).await;
    client.send(b"EHLO attacker.test\r\n").await;
    client.expect(250).await;
    client.send(b"MAIL FROM:<a@attacker.test>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
    for code in [250, 250, 354] {
        client.expect(code).await;
    }
}

/// Every reply until the server closes.
async fn rest_of_replies(client: &mut Client) -> Vec<u16> {
    let mut codes = Vec::new();
    while let Some(reply) = client.reply().await {
        codes.push(reply.code().get());
    }
    codes
}

#[tokio::test]
async fn smuggling_sequences_never_end_the_data_reject_mode() {
    let server = start(settings()).await;
    for (i, sequence) in SMUGGLING.iter().enumerate() {
        // Ten with a bare CR or LF, two with a NUL: the defaults refuse them all.
        assert!(refused_by_default(sequence), "{sequence:?}");
        assert_eq!(has_nul(sequence), matches!(i, 8 | 9), "{sequence:?}");
        for split in [false, true] {
            let mut c = Client::connect(server.addr(Role::Mx)).await;
            open_data(&mut c).await;
            let writes: Vec<Vec<u8>> = if split {
                vec![b"body text".to_vec(), sequence.to_vec(), SMUGGLED.to_vec()]
            } else {
                vec![[&b"body text"[..], sequence, SMUGGLED].concat()]
            };
            for write in &writes {
                c.send(write).await;
            }
            c.send(b"QUIT\r\n").await;
            let codes = rest_of_replies(&mut c).await;
            // One verdict for the whole transfer, then QUIT: the smuggled MAIL, RCPT
            // and DATA were never answered as commands.
            assert_eq!(codes, [550, 221], "sequence {i} {sequence:?} split={split}");
        }
    }
    assert!(server.stored.lock().unwrap().is_empty(), "nothing stored");
    server.stop().await;
}

#[tokio::test]
async fn smuggling_sequences_in_normalize_and_strip_mode_make_one_message() {
    let mut settings = settings();
    settings.session.bare_line_endings = BareLineEndings::Normalize;
    settings.session.nul_octets = NulOctets::Strip;
    let server = start(settings).await;
    for sequence in SMUGGLING {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        open_data(&mut c).await;
        c.send(&[&b"body text"[..], sequence, SMUGGLED].concat()).await;
        c.send(b"QUIT\r\n").await;
        assert_eq!(rest_of_replies(&mut c).await, vec![250, 221], "{sequence:?}");
    }
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), SMUGGLING.len());
    for message in &stored {
        let text = String::from_utf8_lossy(&message.content);
        assert!(text.contains("MAIL FROM:<smuggled@x.test>\r\n"), "{text}");
        // Normalized and stripped: no bare CR or LF and no NUL reaches the store.
        let bytes = &message.content;
        assert!(!has_nul(bytes), "{text:?}");
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(bytes.get(i.wrapping_sub(1)), Some(&b'\r'), "{text:?}");
            }
            if b == b'\r' {
                assert_eq!(bytes.get(i + 1), Some(&b'\n'), "{text:?}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_nul_mid_line_refuses_the_message_after_its_real_end() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    open_data(&mut c).await;
    c.send(b"Subject: nul\r\n\r\nbefore\0after\r\n").await;
    c.send(b"more text\r\n.\r\n").await;
    let refused = c.expect_status(550, "5.6.0").await;
    assert!(refused.to_string().contains("Message holds a NUL octet"), "{refused}");
    // The session goes on: the next transaction is stored.
    c.send(b"MAIL FROM:<a@attacker.test>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
    for code in [250, 250, 354] {
        c.expect(code).await;
    }
    c.send(b"Subject: clean\r\n\r\nclean\r\n.\r\n").await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].content.ends_with(b"Subject: clean\r\n\r\nclean\r\n"));
    server.stop().await;
}

#[tokio::test]
async fn a_nul_mid_line_is_stripped_by_option() {
    let mut settings = settings();
    settings.session.nul_octets = NulOctets::Strip;
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    open_data(&mut c).await;
    c.send(b"Subject: nul\r\n\r\nbefore\0after\r\n\0.\r\n.\r\n").await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    let content = &stored[0].content;
    // The dot after the stripped NUL stays content: the line "." is stored as it came.
    let text = String::from_utf8_lossy(content);
    assert!(content.ends_with(b"Subject: nul\r\n\r\nbeforeafter\r\n.\r\n"), "{text:?}");
    server.stop().await;
}

#[tokio::test]
async fn empty_message_and_leading_dots() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    open_data(&mut c).await;
    c.send(b".\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<a@attacker.test>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
    for code in [250, 250, 354] {
        c.expect(code).await;
    }
    c.send(b"..x\r\n.\r\n").await;
    c.expect(250).await;
    let stored = server.stored.lock().unwrap().clone();
    let body = |i: usize| {
        let text = String::from_utf8(stored[i].content.clone()).unwrap();
        text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned())
    };
    // The first message holds only the Received header; the second unstuffs "..x".
    assert!(stored[0].content.starts_with(b"Received: "));
    assert!(!String::from_utf8_lossy(&stored[0].content).contains("\r\n\r\n"));
    assert!(String::from_utf8_lossy(&stored[1].content).ends_with("\r\n.x\r\n"), "{}", body(1));
    server.stop().await;
}

#[tokio::test]
async fn commands_after_the_final_dot_without_pipelining_are_not_served() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    // HELO: no PIPELINING negotiated.
    c.send(b"HELO attacker.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<a@attacker.test>\r\n").await;
    c.expect(250).await;
    c.send(b"RCPT TO:<b@mail.test>\r\n").await;
    c.expect(250).await;
    c.send(b"DATA\r\n").await;
    c.expect(354).await;
    c.send(&[&b"hi\r\n.\r\n"[..], SMUGGLED].concat()).await;
    let codes = rest_of_replies(&mut c).await;
    // The real message is accepted; what was pushed after it closes the session.
    assert_eq!(codes, vec![250, 554]);
    assert_eq!(server.stored.lock().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn after_a_refused_bdat_chunk_its_octets_are_consumed() {
    let mut settings = settings();
    settings.session.max_message_size = Some(10);
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"EHLO attacker.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<a@attacker.test>\r\nRCPT TO:<b@mail.test>\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    // The chunk holds command lines: they must be read as data and dropped.
    let chunk = b"RSET\r\nMAIL FROM:<smuggled@x.test>\r\n";
    c.send(format!("BDAT {} LAST\r\n", chunk.len()).as_bytes()).await;
    c.send(chunk).await;
    c.expect(552).await;
    c.send(b"NOOP\r\n").await;
    c.expect(250).await;
    assert!(server.stored.lock().unwrap().is_empty());
    server.stop().await;
}

async fn ehlo(c: &mut Client) {
    c.expect(220).await;
    c.send(b"EHLO a\r\n").await;
    c.expect(250).await;
}

#[tokio::test]
async fn bytes_after_starttls_are_refused_with_554() {
    let server = start(settings()).await;
    let cases: [&[u8]; 4] = [
        b"STARTTLS\r\nRSET\r\n",
        b"STARTTLS\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<x@y.test>\r\n",
        b"STARTTLS\r\nRS",
        // A ClientHello right behind STARTTLS, in the same write.
        b"STARTTLS\r\n\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03",
    ];
    for case in cases {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        ehlo(&mut c).await;
        c.send(case).await;
        assert_eq!(rest_of_replies(&mut c).await, vec![554], "{case:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn in_discard_mode_the_bytes_are_dropped_and_never_glued() {
    let mut settings = settings();
    settings.session.starttls_trailing = StartTlsTrailing::Discard;
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    ehlo(&mut c).await;
    // "STARTTLS\r\nRS" | handshake | "ET\r\n": the RS is dropped, ET is not RSET.
    c.send(b"STARTTLS\r\nRS").await;
    c.expect(220).await;
    c.tls_handshake().await;
    c.send(b"ET\r\n").await;
    let reply = c.expect(500).await;
    assert_eq!(reply.enhanced_status().unwrap().to_string(), "5.5.2");
    server.stop().await;
}

#[tokio::test]
async fn bare_lf_starttls_is_not_a_command() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    ehlo(&mut c).await;
    c.send(b"STARTTLS\nRSET\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.send(b"QUIT\r\n").await;
    // One line with bare LFs: refused as a whole; no 220, no 250 for RSET.
    let reply = c.expect(500).await;
    assert_eq!(reply.enhanced_status().unwrap().to_string(), "5.5.2");
    server.stop().await;
}

#[tokio::test]
async fn ehlo_and_starttls_in_one_write_is_legal() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"EHLO a\r\nSTARTTLS\r\n").await;
    c.expect(250).await;
    c.expect(220).await;
    c.tls_handshake().await;
    c.send(b"EHLO a\r\n").await;
    c.expect(250).await;
    c.send(b"STARTTLS foo\r\n").await;
    c.expect(501).await;
    c.send(b"STARTTLS\r\n").await;
    c.expect(503).await;
    server.stop().await;
}

#[tokio::test]
async fn transaction_state_does_not_survive_tls() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    ehlo(&mut c).await;
    c.send(b"MAIL FROM:<a@attacker.test>\r\n").await;
    c.expect(250).await;
    c.starttls().await;
    c.send(b"EHLO a\r\n").await;
    c.expect(250).await;
    c.send(b"RCPT TO:<b@mail.test>\r\n").await;
    c.expect(503).await;
    server.stop().await;
}

#[tokio::test]
async fn submission_hides_auth_before_tls_and_refuses_it() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Submission)).await;
    c.expect(220).await;
    c.send(b"EHLO a\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"), "{ehlo}");
    c.send(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").await;
    let refusal = c.expect(530).await;
    assert_eq!(refusal.enhanced_status().unwrap().to_string(), "5.7.0");
    server.stop().await;
}

#[tokio::test]
async fn starttls_then_silence_times_out_and_frees_the_slot() {
    let mut settings = settings();
    settings.timeouts.handshake = Duration::from_millis(300);
    settings.limits.max_connections_per_ip = 1;
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    ehlo(&mut c).await;
    c.send(b"STARTTLS\r\n").await;
    c.expect(220).await;
    // No handshake: the server gives up and closes.
    assert!(c.reply().await.is_none());
    // The slot is free again.
    let mut next = None;
    for _ in 0..50 {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        if c.reply().await.is_some_and(|r| r.code().get() == 220) {
            next = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(next.is_some());
    server.stop().await;
}
