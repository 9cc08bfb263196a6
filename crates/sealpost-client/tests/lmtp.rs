//! LMTP delivery (RFC 2033) with `Client::deliver_lmtp`: against `sealpost-server` in LMTP
//! mode over TCP (under the configured TLS level), against a scripted Dovecot-like server
//! on a Unix-domain socket (never TLS), each recipient's own reply after DATA and after
//! BDAT LAST, a server that stops half-way, unreachable targets and a refused LHLO.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use sealpost_client::{Client, DeliveryError, LmtpTarget, Message, ServerAddr};
use sealpost_codec::client::{Envelope, TransactionResult};
use sealpost_codec::{ForwardPath, Mailbox, ReversePath};
use sealpost_server::{Role, ServerSettings, Verdict};
use sealpost_starttls::client::{SecurityLevel, Trust};
use support::server::{MemoryHandler, Running, start_with};
use support::{Step, config, hostile_sessions, hostile_unix, policy};

const BODY: &[u8] = b"Subject: test\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nlast\r\n";

fn message(to: &[&str]) -> Message {
    let mailbox = |s: &str| s.parse::<Mailbox<'_>>().unwrap().into_owned();
    let envelope = to
        .iter()
        .fold(Envelope::new(ReversePath::Mailbox(mailbox("sender@example.org"))), |e, r| {
            e.recipient(ForwardPath::Mailbox(mailbox(r)))
        });
    Message::new(envelope, BODY)
}

/// Per recipient: the final reply as text, and whether it got the message.
fn outcome(result: &TransactionResult) -> Vec<(String, bool)> {
    result
        .recipients
        .iter()
        .map(|r| (r.final_reply().unwrap().to_string(), r.delivered()))
        .collect()
}

fn codes(result: &TransactionResult) -> Vec<u16> {
    result.recipients.iter().map(|r| r.final_reply().unwrap().code().get()).collect()
}

// ----------------------------------------------------------------------------------------
// sealpost-server in LMTP mode, over TCP.

async fn lmtp_server() -> Running {
    let mut settings = ServerSettings::new("mail.test");
    settings.session.lmtp = true;
    let handler = MemoryHandler::default()
        .commit_verdict("quota@mail.test", Verdict::reject(452, (4, 2, 2), "Quota exceeded"))
        .commit_verdict("sieve@mail.test", Verdict::reject(550, (5, 7, 1), "Rejected by Sieve"));
    start_with(settings, handler).await
}

fn tcp_target(server: &Running) -> LmtpTarget {
    let addr = server.addr(Role::Mx);
    LmtpTarget::Tcp { host: addr.ip().to_string(), port: addr.port() }
}

#[tokio::test]
async fn sealpost_server_answers_per_recipient() {
    let server = lmtp_server().await;
    let recipients = ["ok@mail.test", "quota@mail.test", "x@elsewhere.example", "sieve@mail.test"];
    // A big message goes out in several BDAT chunks.
    let big_content = [&[b'x'; 78][..], b"\r\n"].concat().repeat(8 * 1024);
    let big = Message::new(message(&["ok@mail.test"]).envelope, big_content.clone());
    for chunking in [false, true] {
        let mut config = config(policy(SecurityLevel::Verify));
        config.chunking = chunking;
        let client = Client::new(config);
        let messages = [message(&recipients), big.clone()];
        let delivery = client.deliver_lmtp(&tcp_target(&server), &messages).await.unwrap();
        assert_eq!(delivery.addr, ServerAddr::Tcp(server.addr(Role::Mx)));
        // Over TCP the configured level applies: STARTTLS, verified.
        assert_eq!(delivery.tls.trust, Trust::Verified, "{}", delivery.tls);
        let result = delivery.results[0].as_ref().unwrap();
        assert_eq!(codes(result), [250, 452, 550, 550], "chunking {chunking}");
        let statuses: Vec<String> = result
            .recipients
            .iter()
            .map(|r| r.final_reply().unwrap().enhanced_status().unwrap().to_string())
            .collect();
        assert_eq!(statuses, ["2.0.0", "4.2.2", "5.7.1", "5.7.1"]);
        let delivered: Vec<bool> = result.recipients.iter().map(|r| r.delivered()).collect();
        assert_eq!(delivered, [true, false, false, false]);
        // Refused at RCPT: no data reply; refused after the data: the RCPT was accepted.
        assert_eq!(result.recipients[2].rcpt.as_ref().unwrap().code().get(), 550);
        assert!(result.recipients[2].data.is_none());
        assert_eq!(result.recipients[3].rcpt.as_ref().unwrap().code().get(), 250);
        assert!(delivery.results[1].as_ref().unwrap().all_delivered());
        assert!(!delivery.all_delivered());
    }
    let stored = server.stored();
    assert_eq!(stored.len(), 4);
    let received = String::from_utf8_lossy(&stored[0].content[..200]).into_owned();
    assert!(received.contains("with LMTPS"), "{received}");
    assert!(stored[0].content.ends_with(BODY));
    assert!(stored[3].content.ends_with(&big_content));
    server.stop().await;
}

#[tokio::test]
async fn a_host_name_target_and_level_none() {
    let server = lmtp_server().await;
    let port = server.addr(Role::Mx).port();
    let target: LmtpTarget = format!("localhost:{port}").parse().unwrap();
    let client = Client::new(config(policy(SecurityLevel::None)));
    let delivery = client.deliver_lmtp(&target, &[message(&["ok@mail.test"])]).await.unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.host, "localhost");
    assert_eq!(delivery.tls.trust, Trust::None);
    assert!(!server.stored()[0].tls);
    server.stop().await;
}

// ----------------------------------------------------------------------------------------
// A Dovecot-like LMTP server on a Unix-domain socket.

/// Dovecot 2.3's LHLO reply, with STARTTLS configured.
const LHLO: &[u8] = b"250-lmtp.test\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n\
    250-PIPELINING\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 XCLIENT ADDR PORT TTL TIMEOUT\r\n";
const LHLO_CHUNKING: &[u8] = b"250-lmtp.test\r\n250-8BITMIME\r\n250-CHUNKING\r\n\
    250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n\
    250 XCLIENT ADDR PORT TTL TIMEOUT\r\n";

/// The opening and the envelope of four recipients (c refused), pipelined.
fn envelope_steps(lhlo: &'static [u8]) -> Vec<Step> {
    vec![
        Step::Send(b"220 lmtp.test Dovecot ready.\r\n"),
        Step::Expect("LHLO CLIENT.TEST"),
        Step::Send(lhlo),
        Step::Expect("MAIL FROM:<SENDER@EXAMPLE.ORG>"),
        Step::Expect("RCPT TO:<A@MAIL.TEST>"),
        Step::Expect("RCPT TO:<B@MAIL.TEST>"),
        Step::Expect("RCPT TO:<C@MAIL.TEST>"),
        Step::Expect("RCPT TO:<D@MAIL.TEST>"),
        Step::Send(
            b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n\
              550 5.1.1 <c@mail.test> User doesn't exist: c@mail.test\r\n250 2.1.5 OK\r\n",
        ),
    ]
}

/// DATA and the dot-stuffed content.
fn data_steps() -> Vec<Step> {
    let lines = ["SUBJECT: TEST", "", "LINE ONE", "..LEADING DOT", "...TWO DOTS", "LAST", "."];
    let mut steps = vec![Step::Expect("DATA"), Step::Send(b"354 OK\r\n")];
    steps.extend(lines.into_iter().map(Step::Expect));
    steps
}

/// The three per-recipient replies, one write each, and QUIT.
fn reply_steps() -> Vec<Step> {
    vec![
        Step::Send(b"250 2.0.0 <a@mail.test> Yb1lB2Fo3GUmNQAAnCv2RQ Saved\r\n"),
        Step::Sleep(20),
        Step::Send(b"452 4.2.2 <b@mail.test> Quota exceeded (mailbox for user is full)\r\n"),
        Step::Sleep(20),
        Step::Send(b"550 5.7.1 <d@mail.test> Rejected by Sieve\r\n"),
        Step::Expect("QUIT"),
        Step::Send(b"221 2.0.0 Bye\r\n"),
    ]
}

const FOUR: [&str; 4] = ["a@mail.test", "b@mail.test", "c@mail.test", "d@mail.test"];

fn expected_outcome() -> Vec<(String, bool)> {
    [
        ("250 2.0.0 <a@mail.test> Yb1lB2Fo3GUmNQAAnCv2RQ Saved", true),
        ("452 4.2.2 <b@mail.test> Quota exceeded (mailbox for user is full)", false),
        ("550 5.1.1 <c@mail.test> User doesn't exist: c@mail.test", false),
        ("550 5.7.1 <d@mail.test> Rejected by Sieve", false),
    ]
    .map(|(r, d)| (r.to_owned(), d))
    .to_vec()
}

#[tokio::test]
async fn unix_socket_data_per_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp");
    let script = [envelope_steps(LHLO), data_steps(), reply_steps()].concat();
    let task = hostile_unix(&path, vec![script]);
    // Level encrypt requires TLS on TCP; a Unix socket is never under TLS, even when the
    // server offers STARTTLS.
    let client = Client::new(config(policy(SecurityLevel::Encrypt)));
    let target: LmtpTarget = format!("unix:{}", path.display()).parse().unwrap();
    let delivery = client.deliver_lmtp(&target, &[message(&FOUR)]).await.unwrap();
    let transcript = task.await.unwrap().pop().unwrap();
    assert_eq!(transcript.failure, None, "{:?}", transcript.lines);
    assert!(!transcript.sent("STARTTLS") && !transcript.sent("HELO"));
    assert_eq!(outcome(delivery.results[0].as_ref().unwrap()), expected_outcome());
    assert_eq!(delivery.addr, ServerAddr::Unix(path.clone()));
    assert_eq!(delivery.addr.to_string(), format!("unix:{}", path.display()));
    assert_eq!(delivery.host, path.display().to_string());
    assert_eq!(delivery.tls.level, SecurityLevel::None);
    assert_eq!(delivery.tls.trust, Trust::None);
}

#[tokio::test]
async fn unix_socket_bdat_last_per_recipient() {
    assert_eq!(BODY.len(), 59);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp");
    let content = ["SUBJECT: TEST", "", "LINE ONE", ".LEADING DOT", "..TWO DOTS", "LAST"];
    let mut script = envelope_steps(LHLO_CHUNKING);
    script.push(Step::Expect("BDAT 59 LAST"));
    script.extend(content.into_iter().map(Step::Expect));
    script.extend(reply_steps());
    let task = hostile_unix(&path, vec![script]);
    let client = Client::new(config(policy(SecurityLevel::May)));
    let delivery = client.deliver_lmtp(&LmtpTarget::Unix(path), &[message(&FOUR)]).await.unwrap();
    let transcript = task.await.unwrap().pop().unwrap();
    assert_eq!(transcript.failure, None, "{:?}", transcript.lines);
    assert!(!transcript.sent("DATA"));
    assert_eq!(outcome(delivery.results[0].as_ref().unwrap()), expected_outcome());
}

#[tokio::test]
async fn the_replies_before_a_lost_connection_stand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp");
    let mut script = [envelope_steps(LHLO), data_steps()].concat();
    script.extend([Step::Send(b"250 2.0.0 <a@mail.test> Saved\r\n"), Step::Close]);
    let task = hostile_unix(&path, vec![script]);
    let client = Client::new(config(policy(SecurityLevel::May)));
    let second = message(&["a@mail.test"]);
    let delivery =
        client.deliver_lmtp(&LmtpTarget::Unix(path), &[message(&FOUR), second]).await.unwrap();
    assert_eq!(task.await.unwrap()[0].failure, None);
    let result = delivery.results[0].as_ref().unwrap();
    // a has the message; b and d were not answered: temporary, try again later.
    assert_eq!(codes(result), [250, 451, 550, 451]);
    let delivered: Vec<bool> = result.recipients.iter().map(|r| r.delivered()).collect();
    assert_eq!(delivered, [true, false, false, false]);
    let lost = result.recipients[1].final_reply().unwrap();
    assert_eq!(lost.enhanced_status().unwrap().to_string(), "4.4.2");
    // The next message was not tried on the broken connection.
    assert!(matches!(delivery.results[1], Err(DeliveryError::NotAttempted)));
}

// ----------------------------------------------------------------------------------------
// Targets that cannot be reached, and a refused LHLO.

#[tokio::test]
async fn unreachable_targets_are_temporary_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(config(policy(SecurityLevel::May)));
    // No socket at the path; a stale socket file nobody listens on.
    let missing = dir.path().join("missing");
    let stale = dir.path().join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for path in [missing, stale] {
        let target = LmtpTarget::Unix(path.clone());
        let error = client.deliver_lmtp(&target, &[message(&["a@b.test"])]).await.unwrap_err();
        let DeliveryError::Connect { addr, .. } = &error else { panic!("{error:?}") };
        assert_eq!(*addr, format!("unix:{}", path.display()));
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
        assert!(!error.is_permanent(), "{error}");
    }
    // A TCP port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let target = LmtpTarget::Tcp { host: "127.0.0.1".into(), port };
    let error = client.deliver_lmtp(&target, &[message(&["a@b.test"])]).await.unwrap_err();
    let DeliveryError::Connect { addr, .. } = &error else { panic!("{error:?}") };
    assert_eq!(*addr, format!("127.0.0.1:{port}"));
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(!error.is_permanent());
}

#[tokio::test]
async fn a_refused_lhlo_ends_the_delivery() {
    let refused = |reply: &'static [u8]| {
        vec![
            Step::Send(b"220 lmtp.test LMTP ready\r\n"),
            Step::Expect("LHLO "),
            Step::Send(reply),
            Step::Expect("QUIT"),
            Step::Send(b"221 2.0.0 Bye\r\n"),
        ]
    };
    let client = Client::new(config(policy(SecurityLevel::May)));
    // On a Unix socket: 5xx, permanent.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp");
    let task = hostile_unix(&path, vec![refused(b"500 5.5.1 Unknown command\r\n")]);
    let error =
        client.deliver_lmtp(&LmtpTarget::Unix(path), &[message(&["a@b.test"])]).await.unwrap_err();
    let DeliveryError::Refused { context, reply } = &error else { panic!("{error:?}") };
    assert_eq!((*context, reply.code().get()), ("LHLO", 500));
    assert!(error.is_permanent());
    let transcript = task.await.unwrap().pop().unwrap();
    assert_eq!(transcript.failure, None);
    assert!(!transcript.sent("HELO") && !transcript.sent("EHLO") && !transcript.sent("MAIL"));
    // Over TCP: 4xx, temporary.
    let (addr, task) = hostile_sessions(vec![refused(b"451 4.3.0 Not now\r\n")]).await;
    let target = LmtpTarget::Tcp { host: addr.ip().to_string(), port: addr.port() };
    let error = client.deliver_lmtp(&target, &[message(&["a@b.test"])]).await.unwrap_err();
    assert!(matches!(&error, DeliveryError::Refused { context: "LHLO", .. }), "{error:?}");
    assert!(!error.is_permanent());
    assert!(!task.await.unwrap()[0].sent("HELO"));
}
