//! Server session behaviour with exact replies: the replies the session writes itself
//! (500 ... 555, 421), limits, AUTH and STARTTLS state, LMTP, and the pipelining rules.
//! Message data (DATA, BDAT) is in `session_server_data.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, ServerApp, mx_config, reply, submission_config};
use sealpost_codec::server::{
    AuthConfig, CloseReason, ServerConfig, ServerEvent, ServerSession, TlsOffer,
};
use sealpost_codec::{Reply, Verb};

/// The default configuration (no STARTTLS: the transport has no certificate).
fn plain() -> Server {
    Server::new(ServerConfig::new("mx.test"))
}

/// After an accepted EHLO.
fn greeted(config: ServerConfig) -> Server {
    let mut server = Server::new(config);
    server.ehlo();
    server
}

/// After EHLO, STARTTLS, the handshake and EHLO again.
fn under_tls(config: ServerConfig) -> Server {
    let mut server = greeted(config);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    server.handshake();
    server.ehlo();
    server
}

/// Nothing more comes out of a closed session, whatever is fed to it.
fn assert_silent(server: &mut Server) {
    assert!(server.session.is_closed());
    let events = server.app.events.len();
    assert!(server.write(b"NOOP\r\nRSET\r\nQUIT\r\n").is_empty());
    assert_eq!(server.app.events.len(), events, "no event after close");
    server.session.accept();
    server.session.reject(reply("550 5.0.0 no"));
    server.session.close(reply("421 4.3.2 again"));
    assert!(server.flush().is_empty());
}

// ----------------------------------------------------------------------------------------
// Greeting, EHLO, HELO, the simple commands.

#[test]
fn greeting_and_ehlo_reply() {
    let mut server = plain();
    assert_eq!(server.sent, b"220 mx.test ESMTP\r\n");
    let lines = server.ehlo();
    let want = [
        "mx.test",
        "SIZE 26214400",
        "PIPELINING",
        "8BITMIME",
        "CHUNKING",
        "BINARYMIME",
        "SMTPUTF8",
        "DSN",
        "ENHANCEDSTATUSCODES",
    ];
    assert_eq!(lines, want, "no STARTTLS without a certificate, no AUTH without TLS");
    assert_eq!(server.session.hello(), Some(Verb::Ehlo));
}

#[test]
fn helo_reply_is_the_name_only() {
    let mut server = plain();
    assert_eq!(server.write(b"HELO client.test\r\n"), b"250 mx.test\r\n");
    assert_eq!(server.session.hello(), Some(Verb::Helo));
}

#[test]
fn a_refused_hello_leaves_the_session_without_one() {
    let app = ServerApp::new().with_hook(|e| match e {
        ServerEvent::Hello { verb: Verb::Ehlo, .. } => Some(reply("550 5.7.1 go away")),
        _ => None,
    });
    let mut server = Server::with_app(ServerConfig::new("mx.test"), app);
    assert_eq!(server.send(b"EHLO client.test\r\n"), ["550 5.7.1"]);
    assert_eq!(server.session.hello(), None);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["503 5.5.1"]);
}

#[test]
fn noop_rset_help_quit() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    assert_eq!(server.write(b"NOOP\r\n"), b"250 2.0.0 Ok\r\n");
    assert_eq!(server.write(b"NOOP some text\r\n"), b"250 2.0.0 Ok\r\n");
    assert_eq!(server.send(b"HELP\r\n"), ["214 2.0.0"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.write(b"RSET\r\n"), b"250 2.0.0 Ok\r\n");
    assert_eq!(server.app.events.last(), Some(&ServerEvent::Reset));
    // RSET without a transaction reports nothing.
    let events = server.app.events.len();
    assert_eq!(server.send(b"RSET\r\n"), ["250 2.0.0"]);
    assert_eq!(server.app.events.len(), events);
    assert_eq!(server.write(b"QUIT\r\n"), b"221 2.0.0 Bye\r\n");
    assert_eq!(server.closed_by(), Some(CloseReason::Quit));
    assert_silent(&mut server);
}

#[test]
fn vrfy_and_expn() {
    let mut config = ServerConfig::new("mx.test");
    let mut server = greeted(config.clone());
    assert_eq!(server.send(b"VRFY alice\r\n"), ["252 2.1.5"]);
    assert!(
        matches!(server.app.events.last(), Some(ServerEvent::Vrfy(t)) if t.as_str() == "alice")
    );
    assert_eq!(server.send(b"EXPN staff\r\n"), ["502 5.5.1"], "EXPN is off by default");
    config.disable_expn = false;
    let app = ServerApp::new()
        .with_hook(|e| matches!(e, ServerEvent::Expn(_)).then(|| reply("550 5.7.1 not here")));
    let mut server = Server::with_app(config, app);
    server.ehlo();
    assert_eq!(server.send(b"EXPN staff\r\n"), ["550 5.7.1"]);
}

// ----------------------------------------------------------------------------------------
// The replies the session writes itself.

#[test]
fn code_500_unrecognized_bare_line_endings_and_wrong_greeting_verb() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    assert_eq!(server.send(b"FOO bar\r\n"), ["500 5.5.2"]);
    assert_eq!(server.send(b"LHLO client.test\r\n"), ["500 5.5.2"], "LHLO is not SMTP");
    // A bare LF is not a line end: the whole line up to CRLF is refused once.
    assert_eq!(server.send(b"NOOP\nRSET\r\n"), ["500 5.5.2"]);
    assert_eq!(server.send(b"NOOP\rRSET\r\n"), ["500 5.5.2"]);
    assert_eq!(server.send(b"NO\0OP\r\n"), ["500 5.5.2"]);
    let mut config = ServerConfig::new("lmtp.test");
    config.lmtp = true;
    let mut server = Server::new(config);
    assert_eq!(server.send(b"EHLO client.test\r\n"), ["500 5.5.1"]);
    assert_eq!(server.send(b"HELO client.test\r\n"), ["500 5.5.1"]);
}

#[test]
fn code_500_5_5_6_overlong_line_then_resync() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    let mut line = b"NOOP ".to_vec();
    line.resize(600, b'x');
    line.extend_from_slice(b"\r\nNOOP\r\n");
    assert_eq!(server.send(&line), ["500 5.5.6", "250 2.0.0"]);
    // The same line in small writes: dropped as it comes, one reply at its CRLF.
    assert!(server.write(b"MAIL FROM:<").is_empty());
    for _ in 0..20 {
        assert!(server.write(&[b'a'; 50]).is_empty());
    }
    assert!(server.write(b"@b.test>\r").is_empty());
    assert_eq!(server.send(b"\nNOOP\r\n"), ["500 5.5.6", "250 2.0.0"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 0);
    // 512 octets with CRLF is the limit (RFC 5321 section 4.5.3.1.4): accepted.
    let mut at_limit = b"NOOP ".to_vec();
    at_limit.resize(510, b'y');
    at_limit.extend_from_slice(b"\r\n");
    assert_eq!(server.send(&at_limit), ["250 2.0.0"]);
    at_limit.insert(5, b'y');
    assert_eq!(server.send(&at_limit), ["500 5.5.6"]);
}

#[test]
fn code_501_syntax() {
    let mut server = greeted(mx_config());
    assert_eq!(server.send(b"EHLO\r\n"), ["501 5.5.4"]);
    assert_eq!(server.send(b"MAIL FROM:bad\r\n"), ["501 5.5.4"]);
    let long_local = format!("MAIL FROM:<{}@b.test>\r\n", "a".repeat(65));
    assert_eq!(server.send(long_local.as_bytes()), ["501 5.1.7"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    let long_label = format!("RCPT TO:<a@{}.test>\r\n", "b".repeat(64));
    assert_eq!(server.send(long_label.as_bytes()), ["501 5.1.3"]);
    assert_eq!(server.send(b"RCPT TO:<@>\r\n"), ["501 5.5.4"]);
    assert_eq!(server.send(b"VRFY\r\n"), ["501 5.5.4"]);
    assert_eq!(server.send(b"STARTTLS foo\r\n"), ["501 5.5.4"]);
    assert_eq!(server.send(b"BDAT x\r\n"), ["501 5.5.4"]);
}

#[test]
fn code_502_not_implemented() {
    let mut config = ServerConfig::new("mx.test");
    config.auth = None;
    config.chunking = false;
    let mut server = greeted(config);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["502 5.5.1"], "no TLS offered");
    assert_eq!(server.send(b"AUTH PLAIN\r\n"), ["502 5.5.1"], "no AUTH configured");
    assert_eq!(server.send(b"EXPN list\r\n"), ["502 5.5.1"]);
    // BDAT without CHUNKING: its octets are read (never taken for commands), then 502.
    assert_eq!(server.send(b"BDAT 6\r\nRSET\r\n"), ["502 5.5.1"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::MessageChunk(_))), 0);
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
}

#[test]
fn code_503_bad_sequence() {
    let mut server = plain();
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["503 5.5.1"], "before EHLO");
    server.ehlo();
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["503 5.5.1"], "before MAIL");
    assert_eq!(server.send(b"DATA\r\n"), ["503 5.5.1"], "before MAIL");
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["503 5.5.1"], "nested MAIL");
    // BODY=BINARYMIME needs BDAT (RFC 3030 section 3).
    assert_eq!(server.send(b"RSET\r\n"), ["250 2.0.0"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["250 2.1.5"]);
    assert_eq!(server.send(b"DATA\r\n"), ["503 5.5.1"]);
}

#[test]
fn code_503_auth_sequence() {
    let mut config = ServerConfig::new("mx.test");
    config.auth.as_mut().unwrap().allow_without_tls = true;
    let mut server = plain_with(config.clone());
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["503 5.5.1"], "before EHLO");
    server.ehlo();
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["503 5.5.1"], "in a transaction");
    assert_eq!(server.send(b"RSET\r\n"), ["250 2.0.0"]);
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["235 2.7.0"]);
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["503 5.5.1"], "already authenticated");
    let mut server = plain_with(config);
    assert_eq!(server.send(b"HELO client.test\r\n"), ["250"]);
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["503 5.5.1"], "AUTH needs EHLO");
}

fn plain_with(config: ServerConfig) -> Server {
    Server::new(config)
}

#[test]
fn code_504_unknown_mechanism() {
    let mut server = under_tls(mx_config());
    assert_eq!(server.send(b"AUTH CRAM-MD5\r\n"), ["504 5.5.4"]);
    assert_eq!(server.send(b"AUTH X-UNKNOWN dGVzdA==\r\n"), ["504 5.5.4"]);
}

#[test]
fn code_552_size_declared_too_big() {
    let mut config = ServerConfig::new("mx.test");
    config.max_message_size = Some(1000);
    let mut server = greeted(config);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> SIZE=1001\r\n"), ["552 5.3.4"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> SIZE=1000\r\n"), ["250 2.1.0"]);
}

#[test]
fn code_553_non_ascii_without_smtputf8() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    assert_eq!(server.send("MAIL FROM:<jö@b.test>\r\n".as_bytes()), ["553 5.6.7"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send("RCPT TO:<jö@d.test>\r\n".as_bytes()), ["553 5.6.7"]);
    assert_eq!(server.send(b"RSET\r\n"), ["250 2.0.0"]);
    assert_eq!(server.send("MAIL FROM:<jö@b.test> SMTPUTF8\r\n".as_bytes()), ["250 2.1.0"]);
    assert_eq!(server.send("RCPT TO:<jö@d.test>\r\n".as_bytes()), ["250 2.1.5"]);
}

#[test]
fn code_554_no_valid_recipients() {
    let app = ServerApp::new().reject_rcpt("c@d.test", reply("550 5.1.1 No such user"));
    let mut server = Server::with_app(ServerConfig::new("mx.test"), app);
    server.ehlo();
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["550 5.1.1"]);
    assert_eq!(server.send(b"DATA\r\n"), ["554 5.5.1"]);
    assert_eq!(server.send(b"BDAT 3 LAST\r\nabc"), ["554 5.5.1"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::MessageStart { .. })), 0);
    assert!(server.app.messages.is_empty());
}

#[test]
fn code_555_parameters() {
    let mut config = ServerConfig::new("mx.test");
    config.dsn = false;
    config.eight_bit_mime = false;
    let mut server = greeted(config);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> FOO=bar\r\n"), ["555 5.5.4"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> BODY=8BITMIME\r\n"), ["555 5.5.4"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> RET=HDRS\r\n"), ["555 5.5.4"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"RCPT TO:<c@d.test> NOTIFY=NEVER\r\n"), ["555 5.5.4"]);
    // RFC 5321 section 4.1.1.11: no parameters after HELO.
    let mut server = plain();
    assert_eq!(server.send(b"HELO client.test\r\n"), ["250"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test> SIZE=10\r\n"), ["555 5.5.4"]);
}

#[test]
fn code_421_after_too_many_errors_then_silence() {
    let mut config = ServerConfig::new("mx.test");
    config.max_errors = 3;
    let mut server = greeted(config);
    assert_eq!(server.send(b"FOO\r\n"), ["500 5.5.2"]);
    assert_eq!(server.send(b"DATA\r\n"), ["503 5.5.1"]);
    // Replies that are not protocol errors do not count.
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
    assert_eq!(server.send(b"BAR\r\n"), ["500 5.5.2", "421 4.7.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::TooManyErrors));
    assert_silent(&mut server);
}

#[test]
fn close_by_the_application_then_silence() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    server.session.handle_input(b"MAIL FROM:<a@b.test>\r\n");
    assert!(matches!(server.session.poll_event(), Some(ServerEvent::Mail { .. })));
    // A decision is owed; close() ends the session anyway, with its reply only.
    server.session.close(reply("421 4.3.2 Shutting down"));
    assert_eq!(server.session.poll_event(), Some(ServerEvent::Closed(CloseReason::Application)));
    assert_eq!(server.flush(), b"421 4.3.2 Shutting down\r\n");
    assert!(!server.session.is_pending());
    assert_silent(&mut server);
}

#[test]
fn a_negative_greeting_serves_only_quit() {
    let greeting = Reply::new(554, "mx.test No service").unwrap();
    let mut session = ServerSession::with_greeting(ServerConfig::new("mx.test"), greeting);
    assert_eq!(&session.poll_transmit().unwrap()[..], b"554 mx.test No service\r\n");
    let mut server = Server { session, app: ServerApp::new(), sent: Vec::new() };
    assert_eq!(server.send(b"EHLO client.test\r\n"), ["503 5.5.1"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Hello { .. })), 0);
    assert_eq!(server.send(b"QUIT\r\n"), ["221 2.0.0"]);
}

// ----------------------------------------------------------------------------------------
// Recipients.

#[test]
fn at_least_100_recipients_then_452_at_the_limit() {
    let mut config = ServerConfig::new("mx.test");
    assert!(config.max_recipients >= 100, "RFC 5321 section 4.5.3.1.8");
    config.max_recipients = 100;
    let mut server = greeted(config);
    let mut group = b"MAIL FROM:<a@b.test>\r\n".to_vec();
    for i in 0..101 {
        group.extend_from_slice(format!("RCPT TO:<user{i}@mx.test>\r\n").as_bytes());
    }
    let replies = server.send(&group);
    assert_eq!(replies.len(), 102);
    assert_eq!(replies[0], "250 2.1.0");
    assert!(replies[1..101].iter().all(|r| r == "250 2.1.5"), "{replies:?}");
    assert_eq!(replies[101], "452 4.5.3");
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Rcpt { .. })), 100);
    assert_eq!(server.send(b"DATA\r\n"), ["354"]);
    assert_eq!(server.send(b"hi\r\n.\r\n"), ["250 2.0.0"]);
}

// ----------------------------------------------------------------------------------------
// AUTH and STARTTLS state.

#[test]
fn auth_is_never_offered_or_accepted_before_tls() {
    let mut server = Server::new(mx_config());
    let lines = server.ehlo();
    assert!(lines.contains(&"STARTTLS".to_owned()));
    assert!(!lines.iter().any(|l| l.starts_with("AUTH")), "{lines:?}");
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["530 5.7.0"]);
    assert_eq!(server.send(b"AUTH LOGIN\r\n"), ["530 5.7.0"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Auth { .. })), 0);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    server.handshake();
    let lines = server.ehlo();
    assert!(lines.contains(&"AUTH PLAIN LOGIN".to_owned()), "{lines:?}");
    assert!(!lines.contains(&"STARTTLS".to_owned()), "{lines:?}");
    // Loopback tests may allow AUTH in the clear, explicitly.
    let mut config = mx_config();
    config.auth.as_mut().unwrap().allow_without_tls = true;
    let mut server = greeted(config);
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["235 2.7.0"]);
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    let mut server = under_tls(mx_config());
    server.app = ServerApp::new().users(&[("alice", "secret")]);
    // "\0alice\0wrong" then "\0alice\0secret" (RFC 4616).
    assert_eq!(server.send(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n"), ["535 5.7.8"]);
    assert!(!server.session.is_authenticated());
    assert_eq!(server.write(b"AUTH PLAIN\r\n"), b"334 \r\n", "an empty challenge");
    assert_eq!(server.send(b"AGFsaWNlAHNlY3JldA==\r\n"), ["235 2.7.0"]);
    assert!(server.session.is_authenticated());
    let Some(ServerEvent::Auth { mechanism, credentials }) = server.app.events.last() else {
        panic!("{:?}", server.app.events)
    };
    assert!(mechanism.is("PLAIN"));
    assert_eq!(
        (credentials.username.as_str(), credentials.password.expose().as_str()),
        ("alice", "secret")
    );
    assert_eq!(credentials.authzid, None);
}

#[test]
fn auth_login_and_cancel() {
    let mut server = under_tls(mx_config());
    assert_eq!(server.write(b"AUTH LOGIN\r\n"), b"334 VXNlcm5hbWU6\r\n");
    assert_eq!(server.write(b"Ym9i\r\n"), b"334 UGFzc3dvcmQ6\r\n");
    assert_eq!(server.send(b"cHc=\r\n"), ["235 2.7.0"]);
    let Some(ServerEvent::Auth { mechanism, credentials }) = server.app.events.last() else {
        panic!()
    };
    assert!(mechanism.is("LOGIN"));
    assert_eq!(
        (credentials.username.as_str(), credentials.password.expose().as_str()),
        ("bob", "pw")
    );
    // "*" cancels at any step (RFC 4954 section 4).
    let mut server = under_tls(mx_config());
    assert_eq!(server.write(b"AUTH LOGIN\r\n"), b"334 VXNlcm5hbWU6\r\n");
    assert_eq!(server.send(b"*\r\n"), ["501 5.7.0"]);
    assert_eq!(server.write(b"AUTH LOGIN Ym9i\r\n"), b"334 UGFzc3dvcmQ6\r\n");
    assert_eq!(server.send(b"*\r\n"), ["501 5.7.0"]);
    assert_eq!(server.write(b"AUTH PLAIN\r\n"), b"334 \r\n");
    assert_eq!(server.send(b"*\r\n"), ["501 5.7.0"]);
    assert!(!server.session.is_authenticated());
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Auth { .. })), 0);
    // Commands work again after a cancel.
    assert_eq!(server.send(b"NOOP\r\n"), ["250 2.0.0"]);
}

#[test]
fn auth_bad_base64_and_bad_plain_message() {
    let mut server = under_tls(mx_config());
    // RFC 4954 section 4: 501 for a response that is not base64. On the command line
    // the parser refuses it (a syntax error of the arguments)...
    assert_eq!(server.send(b"AUTH PLAIN !!!\r\n"), ["501 5.5.4"]);
    assert_eq!(server.send(b"AUTH PLAIN YWJj=\r\n"), ["501 5.5.4"]);
    // ... on a response line the session does.
    assert_eq!(server.write(b"AUTH PLAIN\r\n"), b"334 \r\n");
    assert_eq!(server.send(b"not base64!\r\n"), ["501 5.5.2"]);
    // Valid base64, but "alice secret" has no NUL separators.
    assert_eq!(server.send(b"AUTH PLAIN YWxpY2Ugc2VjcmV0\r\n"), ["501 5.5.2"]);
    assert_eq!(server.write(b"AUTH LOGIN\r\n"), b"334 VXNlcm5hbWU6\r\n");
    assert_eq!(server.send(b"@@@\r\n"), ["501 5.5.2"]);
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Auth { .. })), 0);
}

#[test]
fn submission_requires_tls_then_auth_before_mail() {
    let mut server = Server::new(submission_config());
    let lines = server.ehlo();
    assert!(lines.contains(&"STARTTLS".to_owned()));
    assert!(!lines.iter().any(|l| l.starts_with("AUTH")));
    assert_eq!(
        server.write(b"MAIL FROM:<a@b.test>\r\n"),
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["530 5.7.0"]);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    server.handshake();
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["503 5.5.1"], "EHLO again first");
    server.ehlo();
    assert_eq!(server.write(b"MAIL FROM:<a@b.test>\r\n"), b"530 5.7.0 Authentication required\r\n");
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["235 2.7.0"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
}

#[test]
fn tls_resets_the_state() {
    let mut config = mx_config();
    config.auth.as_mut().unwrap().allow_without_tls = true;
    let mut server = greeted(config);
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["235 2.7.0"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\n"), ["250 2.1.0"]);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["220 2.0.0"]);
    assert!(matches!(server.app.events.last(), Some(ServerEvent::StartTls { discarded: 0 })));
    server.handshake();
    assert_eq!(server.app.events.last(), Some(&ServerEvent::Reset), "the transaction is gone");
    assert!(!server.session.is_authenticated(), "RFC 3207 section 4.2");
    assert_eq!(server.session.hello(), None);
    server.ehlo();
    // RFC 3207 section 4.2: the MAIL before TLS no longer counts.
    assert_eq!(server.send(b"RCPT TO:<c@d.test>\r\n"), ["503 5.5.1"]);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["503 5.5.1"], "TLS is already active");
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["235 2.7.0"]);
}

#[test]
fn implicit_tls_starts_under_tls() {
    let mut config = ServerConfig::new("smtps.test");
    config.implicit_tls = true;
    let mut server = greeted(config);
    assert!(server.session.is_tls());
    assert_eq!(server.send(b"AUTH PLAIN AGEAYg==\r\n"), ["235 2.7.0"]);
    assert_eq!(server.send(b"STARTTLS\r\n"), ["503 5.5.1"]);
}

// ----------------------------------------------------------------------------------------
// LMTP.

#[test]
fn lmtp_one_reply_per_accepted_recipient() {
    let mut config = ServerConfig::new("lmtp.test");
    config.lmtp = true;
    let app = ServerApp::new()
        .reject_rcpt("nobody@lmtp.test", reply("550 5.1.1 No such user"))
        .data_replies(vec![reply("250 2.0.0 pat ok"), reply("452 4.2.2 green over quota")]);
    let mut server = Server::with_app(config, app);
    assert_eq!(server.send(b"LHLO client.test\r\n"), ["250"]);
    assert_eq!(server.session.hello(), Some(Verb::Lhlo));
    let group = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<pat@lmtp.test>\r\n\
        RCPT TO:<nobody@lmtp.test>\r\nRCPT TO:<green@lmtp.test>\r\nDATA\r\n";
    assert_eq!(server.send(group), ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"]);
    assert_eq!(server.send(b"hello\r\n.\r\n"), ["250 2.0.0", "452 4.2.2"]);
    assert!(server.app.events.contains(&ServerEvent::MessageEnd { size: 7, replies: 2 }));
    // Accepting answers every recipient at once; BDAT LAST too.
    let group = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@lmtp.test>\r\nRCPT TO:<y@lmtp.test>\r\n";
    assert_eq!(server.send(group), ["250 2.1.0", "250 2.1.5", "250 2.1.5"]);
    assert_eq!(server.send(b"BDAT 2 LAST\r\nhi"), ["250 2.0.0", "250 2.0.0"]);
    // A refused message gets one refusal per recipient.
    let group =
        b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@lmtp.test>\r\nRCPT TO:<y@lmtp.test>\r\nDATA\r\n";
    assert_eq!(server.send(group), ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354"]);
    assert_eq!(server.send(b"bare\nlf\r\n.\r\n"), ["550 5.6.0", "550 5.6.0"]);
}

// ----------------------------------------------------------------------------------------
// Pipelining (RFC 2920) and the improper pipelining rules.

#[test]
fn a_pipelined_group_is_answered_in_order() {
    let app = ServerApp::new().reject_rcpt("b@mx.test", reply("550 5.1.1 No such user"));
    let mut server = Server::with_app(ServerConfig::new("mx.test"), app);
    server.ehlo();
    let group = b"MAIL FROM:<a@client.test>\r\nRCPT TO:<a@mx.test>\r\n\
        RCPT TO:<b@mx.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\n";
    assert_eq!(server.send(group), ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"]);
    // The end of data and the next transaction in one write (RFC 2920 section 3.1).
    let group = b"body\r\n.\r\nRSET\r\nMAIL FROM:<d@client.test>\r\nNOOP\r\n";
    assert_eq!(server.send(group), ["250 2.0.0", "250 2.0.0", "250 2.1.0", "250 2.0.0"]);
    assert_eq!(server.app.messages, [b"body\r\n".to_vec()]);
}

#[test]
fn replies_wait_for_decisions_and_keep_their_order() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    server.app.hold = true;
    let s = &mut server.session;
    s.handle_input(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nNOOP\r\nRCPT TO:<e@d.test>\r\n");
    assert!(matches!(s.poll_event(), Some(ServerEvent::Mail { .. })));
    assert_eq!(s.poll_event(), None, "blocked until the decision");
    assert!(s.is_pending());
    assert!(s.poll_transmit().is_none());
    s.accept();
    assert!(matches!(s.poll_event(), Some(ServerEvent::Rcpt { .. })));
    s.reject(reply("450 4.2.1 try later"));
    assert!(matches!(s.poll_event(), Some(ServerEvent::Rcpt { .. })));
    s.respond(reply("251 2.1.5 will forward"));
    assert_eq!(s.poll_event(), None);
    let out = server.flush();
    assert_eq!(common::summaries(&out), ["250 2.1.0", "450 4.2.1", "250 2.0.0", "251 2.1.5"]);
}

#[test]
fn commands_sent_ahead_without_pipelining_close_the_session() {
    let mut config = ServerConfig::new("mx.test");
    config.pipelining = false;
    let mut server = greeted(config.clone());
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"), ["554 5.5.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::ImproperPipelining));
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 0);
    assert_silent(&mut server);
    // EHLO ends a group too: the MAIL was sent before PIPELINING could be known.
    let mut server = Server::new(ServerConfig::new("mx.test"));
    assert_eq!(server.send(b"EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n"), ["554 5.5.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::ImproperPipelining));
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Hello { .. })), 0);
    // HELO never negotiates PIPELINING, even when the server offers it.
    let mut server = Server::new(ServerConfig::new("mx.test"));
    assert_eq!(server.send(b"HELO client.test\r\n"), ["250"]);
    assert_eq!(server.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"), ["554 5.5.0"]);
    // The rule can be turned off.
    config.reject_improper_pipelining = false;
    let mut server = greeted(config);
    assert_eq!(
        server.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"),
        ["250 2.1.0", "250 2.1.5"]
    );
}

#[test]
fn ehlo_then_starttls_in_one_write_is_legal() {
    let mut config = mx_config();
    config.pipelining = false;
    let mut server = Server::new(config);
    let replies = server.send(b"EHLO client.test\r\nSTARTTLS\r\n");
    assert_eq!(replies, ["250", "220 2.0.0"]);
    assert!(server.session.is_awaiting_tls());
    // Also when the STARTTLS line arrives in pieces.
    let mut server = Server::new(mx_config());
    assert_eq!(server.send(b"EHLO client.test\r\nSTART"), ["250"]);
    assert_eq!(server.send(b"TLS\r\n"), ["220 2.0.0"]);
}

#[test]
fn data_sent_ahead_of_a_refused_data_is_never_read_as_commands() {
    let app = ServerApp::new().reject_rcpt("c@d.test", reply("550 5.1.1 No such user"));
    let mut server = Server::with_app(ServerConfig::new("mx.test"), app);
    server.ehlo();
    let write = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n\
        RSET\r\nMAIL FROM:<evil@b.test>\r\n.\r\n";
    assert_eq!(server.send(write), ["250 2.1.0", "550 5.1.1", "554 5.5.1", "554 5.5.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::ImproperPipelining));
    assert_eq!(server.app.count(|e| matches!(e, ServerEvent::Mail { .. })), 1);
    assert_silent(&mut server);
}

#[test]
fn data_sent_ahead_of_an_accepted_data_is_the_message() {
    let mut server = greeted(ServerConfig::new("mx.test"));
    let write = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhello\r\n.\r\n";
    assert_eq!(server.send(write), ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]);
    assert_eq!(server.app.messages, [b"hello\r\n".to_vec()]);
}

#[test]
fn bytes_after_the_end_of_data_without_pipelining() {
    let mut config = ServerConfig::new("mx.test");
    config.pipelining = false;
    let transaction: [&[u8]; 4] = [
        b"MAIL FROM:<a@b.test>\r\n",
        b"RCPT TO:<c@d.test>\r\n",
        b"DATA\r\n",
        b"body\r\n.\r\nQUIT\r\n",
    ];
    let mut server = greeted(config.clone());
    let replies = server.send_writes(&transaction);
    assert_eq!(replies, ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "554 5.5.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::ImproperPipelining));
    // The message itself was accepted before: only what followed it is refused.
    assert_eq!(server.app.messages.len(), 1);
    assert_silent(&mut server);
    // With PIPELINING negotiated the same writes are fine.
    let mut server = greeted(ServerConfig::new("mx.test"));
    let replies = server.send_writes(&transaction);
    assert_eq!(replies, ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"]);
    assert_eq!(server.closed_by(), Some(CloseReason::Quit));
}

#[test]
fn a_group_split_anywhere_gives_the_same_replies() {
    let input = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n";
    let mut whole = greeted(ServerConfig::new("mx.test"));
    let want = whole.send(input);
    for cut in 1..input.len() {
        let mut server = greeted(ServerConfig::new("mx.test"));
        let got = server.send_writes(&[&input[..cut], &input[cut..]]);
        assert_eq!(got, want, "cut at {cut}");
    }
}

#[test]
fn auth_config_lists_the_mechanisms_announced() {
    let mut config = mx_config();
    let mut auth = AuthConfig::default();
    auth.mechanisms = vec![sealpost_codec::Mechanism::PLAIN];
    config.auth = Some(auth);
    config.tls = TlsOffer::Required;
    let mut server = under_tls(config);
    assert_eq!(server.send(b"AUTH LOGIN\r\n"), ["504 5.5.4"]);
    assert!(server.ehlo().contains(&"AUTH PLAIN".to_owned()));
}
