//! Every sequence of `/work/shared/attacks.md` (SMTP smuggling, STARTTLS injection on
//! both sides) at session level. Each `|` of the attack file is one `handle_input` (one
//! write), processed before the next one arrives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, envelope, mx_config, submission_config};
use memchr::memmem;
use sealpost_codec::client::{ClientConfig, ClientError, ClientEvent, ClientSession};
use sealpost_codec::server::{CloseReason, ServerConfig, ServerEvent, StartTlsTrailing};
use sealpost_codec::{BareLineEndings, Mechanism, NulOctets};
use sealpost_test_support::attacks::{
    SMUGGLING, has_bare_line_ending, has_nul, refused_by_default,
};

// ----------------------------------------------------------------------------------------
// SMTP smuggling: end-of-data confusion.

/// A complete second transaction, to be read as message content.
const SMUGGLED: &[u8] = b"MAIL FROM:<smuggled@x>\r\nRCPT TO:<victim@mx.test>\r\nDATA\r\n\
    From: smuggled@x\r\n\r\nsmuggled body\r\n.\r\n";

/// The server's DATA policies: bare CR/LF and NUL octets.
type Policy = (BareLineEndings, NulOctets);

/// The defaults (both refuse the message).
const DEFAULT: Policy = (BareLineEndings::Reject, NulOctets::Reject);
/// The defaults, and each of the options on top.
const POLICIES: [Policy; 3] = [
    DEFAULT,
    (BareLineEndings::Normalize, NulOctets::Reject),
    (BareLineEndings::Normalize, NulOctets::Strip),
];

fn server_in_data((bare, nul): Policy, pipelining: bool) -> Server {
    let mut config = ServerConfig::new("mx.test");
    config.bare_line_endings = bare;
    config.nul_octets = nul;
    config.pipelining = pipelining;
    let mut server = Server::new(config);
    server.ehlo();
    let replies = server.send_writes(&[
        b"MAIL FROM:<sender@client.test>\r\n",
        b"RCPT TO:<rcpt@mx.test>\r\n",
        b"DATA\r\n",
    ]);
    assert_eq!(replies, ["250 2.1.0", "250 2.1.5", "354"]);
    server
}

/// Exactly one message (or one refusal), and no smuggled command ever answered.
fn assert_one_message(server: &mut Server, replies: &[String], policy: Policy, seq: &[u8]) {
    let (bare, nul) = policy;
    let refused = (bare == BareLineEndings::Reject && has_bare_line_ending(seq))
        || (nul == NulOctets::Reject && has_nul(seq));
    if policy == DEFAULT {
        assert_eq!(refused, refused_by_default(seq), "{seq:?}");
    }
    let want = if refused { "550 5.6.0" } else { "250 2.0.0" };
    assert_eq!(replies, [want], "sequence {seq:?}, {policy:?}");
    let app = &server.app;
    assert_eq!(app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1, "{seq:?}");
    assert_eq!(app.count(|e| matches!(e, ServerEvent::Rcpt { .. })), 1, "{seq:?}");
    assert_eq!(app.count(|e| matches!(e, ServerEvent::MessageStart { .. })), 1, "{seq:?}");
    let ends = app
        .count(|e| matches!(e, ServerEvent::MessageEnd { .. } | ServerEvent::MessageRejected(_)));
    assert_eq!(ends, 1, "{seq:?}");
    if refused {
        assert!(app.messages.is_empty());
    } else {
        let message = &app.messages[0];
        let text = String::from_utf8_lossy(message);
        assert!(text.contains("MAIL FROM:<smuggled@x>"), "the smuggled MAIL is content: {text:?}");
        assert!(text.ends_with("smuggled body\r\n"), "{text:?}");
        assert!(!has_nul(message), "stripped: {text:?}");
    }
    // The session is in sync: the next command is a command.
    assert_eq!(server.send(b"QUIT\r\n"), ["221 2.0.0"], "{seq:?}");
}

#[test]
fn smuggling_in_one_write() {
    for policy in POLICIES {
        for seq in SMUGGLING {
            let mut server = server_in_data(policy, true);
            let mut write = b"Subject: hello\r\n\r\nlast body text".to_vec();
            write.extend_from_slice(seq);
            write.extend_from_slice(SMUGGLED);
            let replies = server.send(&write);
            assert_one_message(&mut server, &replies, policy, seq);
        }
    }
}

#[test]
fn smuggling_in_separate_writes() {
    // body | sequence | smuggled transaction, and without PIPELINING: the server must
    // not answer after the sequence, where a lenient reader would see the end.
    for policy in POLICIES {
        for seq in SMUGGLING {
            let mut server = server_in_data(policy, false);
            let replies = server.send_writes(&[b"last body text", seq, SMUGGLED]);
            assert_one_message(&mut server, &replies, policy, seq);
        }
    }
}

#[test]
fn smuggling_one_octet_per_write() {
    for seq in SMUGGLING {
        let mut server = server_in_data(DEFAULT, true);
        let mut input = b"text".to_vec();
        input.extend_from_slice(seq);
        input.extend_from_slice(SMUGGLED);
        let replies: Vec<String> = input.iter().flat_map(|b| server.send(&[*b])).collect();
        assert_one_message(&mut server, &replies, DEFAULT, seq);
    }
}

#[test]
fn dot_crlf_right_after_354_is_the_empty_message() {
    let mut server = server_in_data(DEFAULT, true);
    assert_eq!(server.send(b".\r\nMAIL FROM:<next@client.test>\r\n"), ["250 2.0.0", "250 2.1.0"]);
    assert_eq!(server.app.messages, [Vec::<u8>::new()]);
}

#[test]
fn a_first_line_dot_dot_x_is_unstuffed() {
    let mut server = server_in_data(DEFAULT, true);
    assert_eq!(server.send(b"..x\r\n.\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.messages, [b".x\r\n".to_vec()]);
}

#[test]
fn commands_after_the_final_dot_without_pipelining() {
    let mut server = server_in_data(DEFAULT, false);
    let replies = server.send(b"body\r\n.\r\nMAIL FROM:<smuggled@x>\r\nRCPT TO:<v@mx.test>\r\n");
    assert_eq!(replies, ["250 2.0.0", "554 5.5.0"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1);
    assert!(server.session.is_closed());
    assert!(server.write(b"DATA\r\n").is_empty());
}

#[test]
fn after_a_rejection_inside_data_the_server_reads_to_the_exact_end() {
    // Refused for a bare LF early on; the rest holds a smuggling sequence and commands.
    let mut server = server_in_data(DEFAULT, true);
    let mut write = b"a\nb\r\n".to_vec();
    write.extend_from_slice(b"\n.\r\n");
    write.extend_from_slice(SMUGGLED);
    assert_eq!(server.send(&write), ["550 5.6.0"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1);
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
    // Refused for its size: drained to the end just the same.
    let mut config = ServerConfig::new("mx.test");
    config.max_message_size = Some(8);
    let mut server = Server::new(config);
    server.ehlo();
    let setup = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n";
    assert_eq!(server.send(setup), ["250 2.1.0", "250 2.1.5", "354"]);
    let mut write = b"0123456789\r\n".to_vec();
    write.extend_from_slice(SMUGGLED);
    assert_eq!(server.send(&write), ["552 5.3.4"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1);
}

#[test]
fn after_a_rejection_inside_bdat_the_server_reads_to_the_exact_end() {
    let mut config = ServerConfig::new("mx.test");
    config.max_message_size = Some(8);
    let mut server = Server::new(config);
    server.ehlo();
    assert_eq!(
        server.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"),
        ["250 2.1.0", "250 2.1.5"]
    );
    let mut write = format!("BDAT {} LAST\r\n", SMUGGLED.len()).into_bytes();
    write.extend_from_slice(SMUGGLED);
    assert!(server.write(&write[..30]).is_empty());
    assert_eq!(server.send(&write[30..]), ["552 5.3.4"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1);
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
}

// ----------------------------------------------------------------------------------------
// STARTTLS injection, server side (the attacker is the client).

fn tls_server(trailing: StartTlsTrailing) -> Server {
    let mut config = mx_config();
    config.starttls_trailing = trailing;
    let mut server = Server::new(config);
    server.ehlo();
    server
}

#[test]
fn starttls_then_rset_in_one_write_is_refused_before_the_220() {
    let mut server = tls_server(StartTlsTrailing::Reject);
    let out = server.write(b"STARTTLS\r\nRSET\r\n");
    assert_eq!(out, b"554 5.5.0 Data after STARTTLS was sent in the clear; closing\r\n");
    assert_eq!(server.closed_by(), Some(CloseReason::StartTlsInjection { trailing: 6 }));
    assert!(!server.session.is_awaiting_tls());
    server.session.tls_established();
    assert!(!server.session.is_tls());
    assert!(server.write(b"RSET\r\n").is_empty(), "never a 250 for the RSET");
}

#[test]
fn starttls_then_rset_discarded_by_option() {
    let mut server = tls_server(StartTlsTrailing::Discard);
    assert_eq!(server.send(b"STARTTLS\r\nRSET\r\n"), ["220 2.0.0"]);
    assert_eq!(server.app.events.last(), Some(&ServerEvent::StartTls { discarded: 6 }));
    server.handshake();
    // The RSET is never answered: the first reply under TLS is the new EHLO's.
    assert_eq!(server.send(b"EHLO client.test\r\n"), ["250"]);
    assert!(server.flush().is_empty());
}

#[test]
fn starttls_then_auth_and_mail_none_executed() {
    let injected = b"STARTTLS\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<x@y>\r\n";
    for trailing in [StartTlsTrailing::Reject, StartTlsTrailing::Discard] {
        let mut server = tls_server(trailing);
        let replies = server.send(injected);
        if trailing == StartTlsTrailing::Reject {
            assert_eq!(replies, ["554 5.5.0"]);
            assert!(server.session.is_closed());
        } else {
            assert_eq!(replies, ["220 2.0.0"]);
            server.handshake();
            assert_eq!(server.send(b"MAIL FROM:<x@y>\r\n"), ["503 5.5.1"], "no EHLO yet");
            assert!(!server.session.is_authenticated());
        }
        let executed =
            server.app.count(|e| matches!(e, ServerEvent::Auth { .. } | ServerEvent::Mail { .. }));
        assert_eq!(executed, 0);
    }
}

#[test]
fn no_gluing_of_a_partial_line_across_the_handshake() {
    // `STARTTLS\r\nRS` | handshake | `ET\r\n`
    let mut server = tls_server(StartTlsTrailing::Reject);
    assert_eq!(server.send(b"STARTTLS\r\nRS"), ["554 5.5.0"]);
    assert!(server.write(b"ET\r\n").is_empty());
    let mut server = tls_server(StartTlsTrailing::Discard);
    assert_eq!(server.send(b"STARTTLS\r\nRS"), ["220 2.0.0"]);
    server.handshake();
    assert_eq!(server.send(b"ET\r\n"), ["500 5.5.2"], "ET is an unknown command, not RSET");
    // The partial line arriving on its own after the 220, before the handshake: the
    // handshake's place holds plaintext, whatever the option.
    for trailing in [StartTlsTrailing::Reject, StartTlsTrailing::Discard] {
        let mut server = tls_server(trailing);
        assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
        assert_eq!(server.send(b"RS"), ["554 5.5.0"]);
        assert_eq!(server.closed_by(), Some(CloseReason::StartTlsInjection { trailing: 2 }));
    }
}

#[test]
fn starttls_with_bare_lf_is_not_a_command() {
    let mut server = tls_server(StartTlsTrailing::Reject);
    assert!(server.write(b"STARTTLS\nRSET\n").is_empty(), "no line end yet");
    assert!(!server.session.is_awaiting_tls());
    assert_eq!(server.send(b"\r\n"), ["500 5.5.2"], "the whole line is refused");
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::StartTls { .. })), 0);
}

#[test]
fn starttls_and_a_client_hello_in_one_write_is_refused() {
    let mut server = tls_server(StartTlsTrailing::Reject);
    let mut write = b"STARTTLS\r\n".to_vec();
    write.extend_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    assert_eq!(server.send(&write), ["554 5.5.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::StartTlsInjection { trailing: 11 }));
}

#[test]
fn ehlo_and_starttls_in_one_write_is_legal() {
    let mut server = Server::new(mx_config());
    assert_eq!(server.send(b"EHLO a\r\nSTARTTLS\r\n"), ["250", "220 2.0.0"]);
    server.handshake();
    assert_eq!(server.send(b"EHLO a\r\n"), ["250"]);
}

#[test]
fn starttls_with_an_argument_and_starttls_twice() {
    let mut server = tls_server(StartTlsTrailing::Reject);
    assert_eq!(server.send(b"STARTTLS foo\r\n"), ["501 5.5.4"]);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    server.handshake();
    assert_eq!(server.send(b"STARTTLS\r\n"), ["503 5.5.1"]);
}

#[test]
fn mail_before_starttls_then_rcpt_after_it() {
    let mut server = tls_server(StartTlsTrailing::Reject);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    server.handshake();
    assert_eq!(server.send(b"RCPT TO:<c@mx.test>\r\n"), ["503 5.5.1"]);
    server.ehlo();
    assert_eq!(server.send(b"RCPT TO:<c@mx.test>\r\n"), ["503 5.5.1"]);
}

#[test]
fn submission_shows_starttls_and_no_auth_before_tls() {
    let mut server = Server::new(submission_config());
    let lines = server.ehlo();
    assert!(lines.iter().any(|l| l == "STARTTLS"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("AUTH")), "{lines:?}");
    assert_eq!(
        server.write(b"AUTH LOGIN\r\n"),
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
}

#[test]
fn starttls_then_silence_waits_for_the_driver() {
    let mut server = tls_server(StartTlsTrailing::Reject);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    assert!(server.session.is_awaiting_tls());
    assert_eq!(server.session.poll_event(), None);
    // The driver's handshake timeout ends the session; its reply is all that is sent.
    server.session.close(common::reply("421 4.4.2 Handshake timeout"));
    assert_eq!(server.flush(), b"421 4.4.2 Handshake timeout\r\n");
    assert!(!server.session.is_awaiting_tls());
}

// ----------------------------------------------------------------------------------------
// STARTTLS injection and downgrade, client side (the attacker is the server).

const EHLO_TLS: &[u8] =
    b"250-mx.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n";

/// Feeds `bytes`; returns the events and what the client sent.
fn feed(client: &mut ClientSession, bytes: &[u8]) -> (Vec<ClientEvent>, Vec<u8>) {
    client.handle_input(bytes);
    let mut events = Vec::new();
    while let Some(event) = client.poll_event() {
        events.push(event);
    }
    let mut out = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    (events, out)
}

/// A client that greeted a server announcing `ehlo`.
fn client_with(ehlo: &[u8]) -> ClientSession {
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    let (_, out) = feed(&mut client, b"220 mx.test ESMTP\r\n");
    assert_eq!(out, b"EHLO client.test\r\n");
    let (events, _) = feed(&mut client, ehlo);
    assert!(matches!(events.last(), Some(ClientEvent::Ready { .. })), "{events:?}");
    client
}

fn starting_tls(ehlo: &[u8]) -> ClientSession {
    let mut client = client_with(ehlo);
    client.start_tls().unwrap();
    assert_eq!(&client.poll_transmit().unwrap()[..], b"STARTTLS\r\n");
    client
}

#[test]
fn injected_replies_after_the_220_abort_the_client() {
    let mut client = starting_tls(EHLO_TLS);
    let (events, out) = feed(&mut client, b"220 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n");
    assert_eq!(events, [ClientEvent::Closed(Err(ClientError::ResponseInjection { trailing: 30 }))]);
    assert!(out.is_empty(), "not even QUIT: the stream is not trustworthy");
    client.tls_established();
    assert!(!client.is_tls());
    assert!(client.poll_transmit().is_none());
}

#[test]
fn an_unfinished_injected_line_aborts_too() {
    let mut client = starting_tls(EHLO_TLS);
    let (events, out) = feed(&mut client, b"220 Ready\r\n250-fake");
    assert_eq!(events, [ClientEvent::Closed(Err(ClientError::ResponseInjection { trailing: 8 }))]);
    assert!(out.is_empty());
    // Bytes in a later write, before the handshake, are injected just the same.
    let mut client = starting_tls(EHLO_TLS);
    let (events, _) = feed(&mut client, b"220 Ready\r\n");
    assert_eq!(events, [ClientEvent::StartTls]);
    let (events, _) = feed(&mut client, b"250 ok\r\n");
    assert_eq!(events, [ClientEvent::Closed(Err(ClientError::ResponseInjection { trailing: 8 }))]);
}

#[test]
fn a_multiline_220_is_legal_and_tls_starts_after_its_last_line() {
    let mut client = starting_tls(EHLO_TLS);
    let (events, _) = feed(&mut client, b"220-Ready\r\n");
    assert!(events.is_empty());
    let (events, out) = feed(&mut client, b"220 go\r\n");
    assert_eq!(events, [ClientEvent::StartTls]);
    assert!(out.is_empty());
    client.tls_established();
    assert!(client.is_tls());
    assert_eq!(client.capabilities(), None, "forgotten (RFC 3207 section 4.2)");
    assert_eq!(&client.poll_transmit().unwrap()[..], b"EHLO client.test\r\n");
}

#[test]
fn starttls_refused_keeps_the_session_in_plaintext_without_auth() {
    for refusal in [&b"502 5.5.1 no\r\n"[..], b"454 4.7.0 TLS not available\r\n", b"354 what\r\n"] {
        let mut client = starting_tls(EHLO_TLS);
        let (events, out) = feed(&mut client, refusal);
        let [ClientEvent::StartTlsRefused(reply)] = &events[..] else { panic!("{events:?}") };
        assert_eq!(&reply.to_bytes()[..], refusal);
        assert!(out.is_empty());
        assert!(client.is_ready() && !client.is_tls());
        // AUTH was announced in the clear, but credentials never go in the clear.
        assert_eq!(
            client.authenticate(&Mechanism::PLAIN, "u", "p"),
            Err(ClientError::AuthWithoutTls)
        );
        assert!(client.poll_transmit().is_none());
    }
    let mut client = starting_tls(EHLO_TLS);
    let (events, out) = feed(&mut client, b"421 4.3.2 Shutting down\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::ServiceClosing(_)))]));
    assert!(out.is_empty());
}

#[test]
fn no_starttls_offered_or_helo_only_means_no_auth() {
    let mut client = client_with(b"250-mx.test\r\n250 AUTH PLAIN\r\n");
    assert!(!client.capabilities().unwrap().has(&sealpost_codec::Capability::StartTls));
    assert_eq!(client.authenticate(&Mechanism::PLAIN, "u", "p"), Err(ClientError::AuthWithoutTls));
    // EHLO refused, HELO accepted: no extensions at all.
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    feed(&mut client, b"220 mx.test\r\n");
    let (_, out) = feed(&mut client, b"502 5.5.1 no EHLO\r\n");
    assert_eq!(out, b"HELO client.test\r\n");
    let (events, _) = feed(&mut client, b"250 mx.test\r\n");
    assert_eq!(events, [ClientEvent::Ready { ehlo: None }]);
    assert_eq!(client.authenticate(&Mechanism::PLAIN, "u", "p"), Err(ClientError::AuthWithoutTls));
}

#[test]
fn auth_announced_before_tls_but_not_after_is_not_used() {
    let mut client = starting_tls(EHLO_TLS);
    let (events, _) = feed(&mut client, b"220 go\r\n");
    assert_eq!(events, [ClientEvent::StartTls]);
    client.tls_established();
    client.poll_transmit().unwrap();
    let (events, _) = feed(&mut client, b"250-mx.test\r\n250 PIPELINING\r\n");
    assert!(matches!(events[..], [ClientEvent::Ready { .. }]));
    assert!(matches!(
        client.authenticate(&Mechanism::PLAIN, "u", "p"),
        Err(ClientError::NotOffered(_))
    ));
    assert!(client.poll_transmit().is_none());
}

#[test]
fn the_client_never_sends_a_bare_line_ending_and_stuffs_from_the_first_octet() {
    // The content, in awkward pieces: a CR at the end of one piece, its LF in the next.
    let pieces: [&[u8]; 5] =
        [b".first line\nbare lf\rbare cr\r", b"\n.\r\n", b"..two\r", b"\r\n.", b"\n.\n"];
    for (ehlo, bdat) in [
        (&b"250-mx.test\r\n250 PIPELINING\r\n"[..], false),
        (b"250-mx.test\r\n250 CHUNKING\r\n", true),
    ] {
        let mut client = client_with(ehlo);
        client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
        let mut wire = client.poll_transmit().unwrap().to_vec();
        let replies: &[u8] = if bdat { b"250 ok\r\n" } else { b"250 ok\r\n250 ok\r\n354 go\r\n" };
        if bdat {
            wire.extend(feed(&mut client, replies).1);
            let (events, out) = feed(&mut client, b"250 ok\r\n");
            assert_eq!(events, [ClientEvent::SendBody]);
            wire.extend(out);
        } else {
            let (events, _) = feed(&mut client, replies);
            assert_eq!(events, [ClientEvent::SendBody]);
        }
        let body_start = wire.len();
        for (i, piece) in pieces.iter().enumerate() {
            client.send_body(piece, i + 1 == pieces.len()).unwrap();
            wire.extend_from_slice(&client.poll_transmit().map(|b| b.to_vec()).unwrap_or_default());
        }
        assert!(!has_bare_line_ending(&wire), "{:?}", String::from_utf8_lossy(&wire));
        let body = &wire[body_start..];
        let normalized = b".first line\r\nbare lf\r\nbare cr\r\n.\r\n..two\r\n\r\n.\r\n.\r\n";
        if bdat {
            // One chunk per call, each counted exactly; no stuffing in BDAT (RFC 3030),
            // the content is CRLF lines all the same.
            let (mut rest, mut content, mut chunks) = (body, Vec::new(), Vec::new());
            while !rest.is_empty() {
                let end = memmem::find(rest, b"\r\n").unwrap();
                let line = std::str::from_utf8(&rest[..end]).unwrap().to_owned();
                let size: usize = line.split(' ').nth(1).unwrap().parse().unwrap();
                content.extend_from_slice(&rest[end + 2..end + 2 + size]);
                rest = &rest[end + 2 + size..];
                chunks.push(line);
            }
            assert_eq!(chunks.len(), pieces.len());
            assert!(chunks.last().unwrap().ends_with(" LAST"), "{chunks:?}");
            assert_eq!(content, normalized, "{:?}", String::from_utf8_lossy(&content));
        } else {
            assert_eq!(
                body,
                &b"..first line\r\nbare lf\r\nbare cr\r\n..\r\n...two\r\n\r\n..\r\n..\r\n.\r\n"[..],
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn what_the_client_stuffs_the_server_unstuffs_to_the_same_content() {
    let contents: [&[u8]; 6] = [b"", b".", b".\r\n", b"..\r\n.\r\n", b"\r\n.\r\n", b"x\n.\ny"];
    for content in contents {
        let mut pair = common::Pair::ready(
            ClientConfig::new("client.test"),
            ServerConfig::new("mx.test"),
            common::ServerApp::new(),
        );
        let result = pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[content]);
        assert!(result.all_delivered(), "{content:?}");
        assert!(!has_bare_line_ending(&pair.client_sent()));
        let mut normalized = Vec::new();
        let mut stuffer = sealpost_codec::DotStuffer::normalizer();
        stuffer.encode(content, &mut normalized);
        stuffer.finish(&mut normalized);
        assert_eq!(pair.app.messages, [normalized], "{content:?}");
    }
}
