//! The `Session` contract both sessions keep: phases for deadlines, the end of the
//! stream, the STARTTLS hand-off, one `MessageStart` for DATA and BDAT, and the state a
//! driver reads instead of copying it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealpost_codec::client::{ClientConfig, ClientError, ClientEvent, ClientSession};
use sealpost_codec::server::{ServerConfig, ServerEvent, ServerSession, TlsOffer};
use sealpost_codec::{Reply, Session, SessionPhase};

fn drain<S: Session>(session: &mut S) -> String {
    let mut out = Vec::new();
    while let Some(bytes) = session.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    String::from_utf8(out).unwrap()
}

fn server(tls: TlsOffer) -> ServerSession {
    let mut config = ServerConfig::new("mx.test");
    config.tls = tls;
    let mut session = ServerSession::new(config);
    drain(&mut session);
    session
}

#[test]
fn the_server_phase_follows_what_it_reads() {
    let mut s = server(TlsOffer::Offered);
    assert_eq!(Session::phase(&s), SessionPhase::Command);
    s.handle_input(b"EHLO c.test\r\n");
    let Some(ServerEvent::Hello { .. }) = s.poll_event() else { panic!() };
    assert_eq!(s.hello_host(), None, "not before the decision");
    s.accept();
    assert_eq!(s.hello_host().map(ToString::to_string).as_deref(), Some("c.test"));
    s.handle_input(b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n");
    for _ in 0..2 {
        assert!(s.poll_event().is_some());
        s.accept();
    }
    assert_eq!(s.poll_event(), Some(ServerEvent::MessageStart { chunking: false }));
    s.accept();
    assert!(drain(&mut s).ends_with("354 2.0.0 End data with <CR><LF>.<CR><LF>\r\n"));
    assert_eq!(s.phase(), SessionPhase::Data);
    s.handle_input(b"x\r\n.\r\n");
    assert!(matches!(s.poll_event(), Some(ServerEvent::MessageChunk(_))));
    assert!(matches!(s.poll_event(), Some(ServerEvent::MessageEnd { .. })));
    s.accept();
    assert_eq!(s.phase(), SessionPhase::Command);
    s.handle_input(b"STARTTLS\r\n");
    assert_eq!(s.poll_event(), Some(ServerEvent::StartTls { discarded: 0 }));
    assert_eq!(s.phase(), SessionPhase::TlsHandshake);
    assert!(Session::is_awaiting_tls(&s) && Session::buffered(&s) == 0);
    Session::tls_established(&mut s);
    assert!(Session::is_tls(&s));
    assert_eq!(s.hello_host(), None, "forgotten after TLS (RFC 3207 section 4.2)");
}

/// A server session after EHLO, MAIL and one accepted RCPT, its replies read.
fn in_transaction() -> ServerSession {
    let mut s = server(TlsOffer::None);
    s.handle_input(b"EHLO c.test\r\n");
    assert!(s.poll_event().is_some());
    s.accept();
    s.handle_input(b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
    for _ in 0..2 {
        assert!(s.poll_event().is_some());
        s.accept();
    }
    drain(&mut s);
    s
}

#[test]
fn bdat_opens_the_message_with_the_same_event_as_data() {
    let mut s = in_transaction();
    s.handle_input(b"BDAT 3\r\nabcBDAT 2 LAST\r\nde");
    assert_eq!(s.poll_event(), Some(ServerEvent::MessageStart { chunking: true }));
    assert_eq!(drain(&mut s), "", "nothing is said before the chunk is read");
    s.accept();
    assert_eq!(s.poll_event(), Some(ServerEvent::MessageChunk("abc".into())));
    // Only the first chunk of a transaction opens the message.
    assert_eq!(s.poll_event(), Some(ServerEvent::MessageChunk("de".into())));
    assert!(matches!(s.poll_event(), Some(ServerEvent::MessageEnd { size: 5, .. })));
    s.accept();
    assert_eq!(drain(&mut s), "250 2.0.0 3 octets received\r\n250 2.0.0 Ok: message accepted\r\n");
}

#[test]
fn a_refused_bdat_start_drains_the_chunk_and_ends_the_transaction() {
    let mut s = in_transaction();
    // The chunk holds what looks like a command: it must be read as octets.
    s.handle_input(b"BDAT 6\r\nRSET\r\nBDAT 1 LAST\r\nx");
    assert_eq!(s.poll_event(), Some(ServerEvent::MessageStart { chunking: true }));
    s.respond(Reply::new(451, "4.3.0 Try again later").unwrap());
    assert_eq!(s.poll_event(), None);
    assert_eq!(
        drain(&mut s),
        "451 4.3.0 Try again later\r\n503 5.5.1 Need MAIL command\r\n",
        "the refusal after the chunk; the transaction is over"
    );
}

#[test]
fn the_end_of_the_stream_closes_the_server_after_complete_commands() {
    let mut s = server(TlsOffer::None);
    s.handle_input(b"NOOP\r\n");
    assert_eq!(s.poll_event(), None);
    s.handle_input(b"NOO");
    s.handle_eof();
    assert_eq!(s.poll_event(), None);
    assert!(s.is_closed());
    assert_eq!(s.phase(), SessionPhase::Closed);
    assert_eq!(drain(&mut s), "250 2.0.0 Ok\r\n");
}

#[test]
fn the_identity_is_the_users_or_the_one_the_application_names() {
    let mut config = ServerConfig::new("mx.test");
    config.implicit_tls = true;
    let mut s = ServerSession::new(config);
    s.handle_input(b"EHLO c.test\r\n");
    assert!(s.poll_event().is_some());
    s.accept();
    // "\0alice\0secret"
    s.handle_input(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert!(matches!(s.poll_event(), Some(ServerEvent::Auth { .. })));
    assert_eq!(s.authenticated_as(), None, "not before the decision");
    s.accept_auth("alice@example.org");
    assert_eq!(s.authenticated_as(), Some("alice@example.org"));
    assert!(drain(&mut s).ends_with("235 2.7.0 Authentication successful\r\n"));
}

#[test]
fn the_client_phase_names_the_reply_it_waits_for() {
    let mut c = ClientSession::new(ClientConfig::new("c.test"));
    assert_eq!(c.phase(), SessionPhase::Greeting);
    c.handle_input(b"220 mx.test\r\n");
    assert!(matches!(c.poll_event(), Some(ClientEvent::Greeting(_))));
    assert_eq!(c.phase(), SessionPhase::Command);
    c.handle_input(b"250-mx.test\r\n250 STARTTLS\r\n");
    assert!(matches!(c.poll_event(), Some(ClientEvent::Ready { .. })));
    c.start_tls().unwrap();
    c.handle_input(b"220 go\r\n");
    assert_eq!(c.poll_event(), Some(ClientEvent::StartTls));
    assert_eq!(c.phase(), SessionPhase::TlsHandshake);
    assert!(Session::is_awaiting_tls(&c));
}

#[test]
fn a_tls_record_instead_of_a_greeting_is_named() {
    for first in [0x15u8, 0x16] {
        let mut c = ClientSession::new(ClientConfig::new("c.test"));
        c.handle_input(&[first, 3, 1, 0, 2]);
        assert_eq!(c.poll_event(), Some(ClientEvent::Closed(Err(ClientError::TlsBeforeGreeting))));
        assert_eq!(drain(&mut c), "", "no QUIT to a TLS server");
    }
}
