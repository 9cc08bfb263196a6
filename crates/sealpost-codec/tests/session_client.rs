//! Client session behaviour against scripted server bytes: the greeting and EHLO/HELO,
//! the checks of `send_mail`, pipelined and step-by-step transactions, the results per
//! recipient, BDAT, AUTH, STARTTLS, RSET/NOOP/QUIT and broken servers (LMTP: in
//! `session_client_lmtp.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::{client_with_config, codes, done, feed, sent};
use common::{envelope, from, to};
use sealpost_codec::client::{ClientConfig, ClientError, ClientEvent, ClientSession, Envelope};
use sealpost_codec::{Command, ForwardPath, MailParameters, Mechanism, RcptParameters, ReplyError};

/// A client after EHLO with the given extension lines.
fn ready(extensions: &[&str]) -> ClientSession {
    let mut ehlo = String::from("250-mx.test\r\n");
    for e in extensions {
        ehlo.push_str(&format!("250-{e}\r\n"));
    }
    ehlo.push_str("250 HELP\r\n");
    client_with_config(ClientConfig::new("client.test"), ehlo.as_bytes())
}

/// MAIL parameters as written on the command line.
fn params(text: &str) -> MailParameters<'static> {
    let line = format!("MAIL FROM:<a@client.test> {text}\r\n");
    match Command::decode(line.as_bytes()).unwrap().1 {
        Command::Mail { parameters, .. } => parameters.into_owned(),
        other => panic!("{other:?}"),
    }
}

fn rcpt_params(text: &str) -> RcptParameters<'static> {
    let line = format!("RCPT TO:<b@mx.test> {text}\r\n");
    match Command::decode(line.as_bytes()).unwrap().1 {
        Command::Rcpt { parameters, .. } => parameters.into_owned(),
        other => panic!("{other:?}"),
    }
}

// ----------------------------------------------------------------------------------------
// Opening.

#[test]
fn greeting_ehlo_and_capabilities() {
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    assert!(client.poll_transmit().is_none(), "the server speaks first");
    let (_, out) = feed(&mut client, b"220-mx.test ESMTP\r\n220 more\r\n");
    assert_eq!(out, b"EHLO client.test\r\n");
    assert!(client.send_mail(envelope("a@client.test", &["b@mx.test"])).is_err(), "not ready");
    let (events, _) = feed(&mut client, b"250-mx.test hi\r\n250-SIZE 1000\r\n250 PIPELINING\r\n");
    let [ClientEvent::Ready { ehlo: Some(ehlo) }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(ehlo.size(), Some(1000));
    assert_eq!(client.capabilities(), Some(ehlo));
}

#[test]
fn a_refused_greeting_ends_the_session() {
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    let (events, out) = feed(&mut client, b"554 mx.test no service\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::UnexpectedReply { .. }))]));
    assert_eq!(out, b"QUIT\r\n", "RFC 5321 section 3.1: the client should send QUIT");
    assert!(client.is_closed());
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    feed(&mut client, b"220 mx.test\r\n");
    let (events, out) = feed(&mut client, b"500 5.5.1 what?\r\n");
    assert!(events.is_empty());
    assert_eq!(out, b"HELO client.test\r\n");
    let (events, _) = feed(&mut client, b"250 mx.test\r\n");
    assert_eq!(events, [ClientEvent::Ready { ehlo: None }]);
    assert_eq!(client.capabilities(), None);
    // Without EHLO: no parameters at all.
    let e = envelope("a@client.test", &["b@mx.test"]).parameters(params("BODY=7BIT"));
    assert!(matches!(client.send_mail(e), Err(ClientError::NotOffered(_))));
    // A refused HELO too ends the session; a 4xx to EHLO is no reason to fall back.
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    feed(&mut client, b"220 mx.test\r\n");
    feed(&mut client, b"502 5.5.1 no\r\n");
    let (events, out) = feed(&mut client, b"550 5.7.1 go away\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::UnexpectedReply { .. }))]));
    assert_eq!(out, b"QUIT\r\n");
    let mut client = ClientSession::new(ClientConfig::new("client.test"));
    feed(&mut client, b"220 mx.test\r\n");
    let (events, out) = feed(&mut client, b"451 4.3.0 later\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::UnexpectedReply { .. }))]));
    assert_eq!(out, b"QUIT\r\n");
}

// ----------------------------------------------------------------------------------------
// send_mail checks: nothing is sent when the server did not announce what is needed.

#[test]
fn send_mail_checks_the_announced_extensions() {
    let check = |extensions: &[&str], e: Envelope, want: ClientError| {
        let mut client = ready(extensions);
        assert_eq!(client.send_mail(e), Err(want));
        assert!(client.poll_transmit().is_none(), "nothing sent");
        assert!(client.is_ready());
    };
    let base = || envelope("a@client.test", &["b@mx.test"]);
    check(&[], base().parameters(params("SIZE=10")), ClientError::NotOffered("SIZE"));
    check(
        &["SIZE 1000"],
        base().parameters(params("SIZE=1001")),
        ClientError::MessageTooLarge { size: 1001, limit: 1000 },
    );
    let utf8 = Envelope::new(from("a@client.test")).recipient(to("jö@mx.test"));
    check(&["8BITMIME"], utf8, ClientError::NotOffered("SMTPUTF8"));
    check(&[], base().parameters(params("SMTPUTF8")), ClientError::NotOffered("SMTPUTF8"));
    check(&[], base().parameters(params("BODY=8BITMIME")), ClientError::NotOffered("8BITMIME"));
    let binary = base().parameters(params("BODY=BINARYMIME"));
    check(&["BINARYMIME"], binary.clone(), ClientError::NotOffered("BINARYMIME with CHUNKING"));
    check(&["CHUNKING"], binary, ClientError::NotOffered("BINARYMIME with CHUNKING"));
    check(&[], base().parameters(params("RET=HDRS")), ClientError::NotOffered("DSN"));
    let notify = Envelope::new(from("a@client.test"))
        .recipient_with(to("b@mx.test"), rcpt_params("NOTIFY=FAILURE"));
    check(&[], notify, ClientError::NotOffered("DSN"));
    check(
        &["REQUIRETLS"],
        base().parameters(params("REQUIRETLS")),
        ClientError::RequireTlsWithoutTls,
    );
    assert_eq!(
        ready(&[]).send_mail(Envelope::new(from("a@client.test"))),
        Err(ClientError::InvalidState("an envelope needs at least one recipient"))
    );
}

#[test]
fn send_mail_sends_what_was_announced() {
    let mut client = ready(&["SIZE 1000", "8BITMIME", "SMTPUTF8", "DSN"]);
    let e = Envelope::new(from("jö@client.test"))
        .parameters(params("SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS"))
        .recipient_with(to("b@mx.test"), rcpt_params("NOTIFY=FAILURE"));
    client.send_mail(e).unwrap();
    assert_eq!(
        sent(&mut client),
        "MAIL FROM:<jö@client.test> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS\r\n".as_bytes()
    );
    // A non-ASCII address without the parameter: the client adds it (RFC 6531 3.4).
    let mut client = ready(&["SMTPUTF8"]);
    client.send_mail(Envelope::new(from("a@client.test")).recipient(to("jö@mx.test"))).unwrap();
    assert_eq!(sent(&mut client), b"MAIL FROM:<a@client.test> SMTPUTF8\r\n");
    // SIZE 0 announces no limit (RFC 1870).
    let mut client = ready(&["SIZE 0"]);
    client
        .send_mail(envelope("a@b.test", &["c@d.test"]).parameters(params("SIZE=99999999")))
        .unwrap();
}

// ----------------------------------------------------------------------------------------
// Transactions.

#[test]
fn a_pipelined_transaction_is_one_write() {
    let mut client = ready(&["PIPELINING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test", "c@mx.test"])).unwrap();
    let write = client.poll_transmit().unwrap();
    assert_eq!(
        &write[..],
        b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mx.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\n"
    );
    let (events, _) = feed(&mut client, b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n");
    assert_eq!(events, [ClientEvent::SendBody]);
    client.send_body(b"hi", true).unwrap();
    assert_eq!(sent(&mut client), b"hi\r\n.\r\n");
    let (events, out) = feed(&mut client, b"250 2.0.0 queued\r\n");
    let result = done(&events);
    assert!(out.is_empty());
    assert_eq!(codes(result), [(Some(250), Some(250)), (Some(550), None)]);
    assert!(result.recipients[0].delivered() && !result.recipients[1].delivered());
    assert_eq!(result.recipients[1].final_reply().unwrap().code().get(), 550);
    assert!(!result.all_delivered());
    assert_eq!(result.delivered().count(), 1);
    assert_eq!(result.data_command.as_ref().unwrap().code().get(), 354);
    assert!(client.is_ready());
}

#[test]
fn without_pipelining_each_command_waits_for_its_reply() {
    let mut client = ready(&[]);
    client.send_mail(envelope("a@client.test", &["b@mx.test", "c@mx.test"])).unwrap();
    assert_eq!(sent(&mut client), b"MAIL FROM:<a@client.test>\r\n");
    assert!(client.reset().is_err(), "busy");
    assert_eq!(feed(&mut client, b"250 ok\r\n").1, b"RCPT TO:<b@mx.test>\r\n");
    assert_eq!(feed(&mut client, b"250 ok\r\n").1, b"RCPT TO:<c@mx.test>\r\n");
    assert_eq!(feed(&mut client, b"250 ok\r\n").1, b"DATA\r\n");
    assert_eq!(feed(&mut client, b"354 go\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"a", false).unwrap();
    client.send_body(b"", false).unwrap();
    client.send_body(b"b\r\n", true).unwrap();
    assert_eq!(sent(&mut client), b"ab\r\n.\r\n");
    assert!(done(&feed(&mut client, b"250 ok\r\n").0).all_delivered());
}

#[test]
fn a_refused_mail_ends_the_transaction_without_rset() {
    let mut client = ready(&[]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    let (events, out) = feed(&mut client, b"550 5.7.1 no\r\n");
    assert!(out.is_empty());
    let result = done(&events);
    assert_eq!(result.mail.code().get(), 550);
    assert_eq!(codes(result), [(None, None)]);
    // Pipelined: the RCPTs and DATA fail after it, still no RSET.
    let mut client = ready(&["PIPELINING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    let (events, out) = feed(&mut client, b"550 no\r\n503 no\r\n503 no\r\n");
    assert!(out.is_empty());
    assert_eq!(codes(done(&events)), [(Some(503), None)]);
    assert!(client.is_ready());
}

#[test]
fn no_accepted_recipient_resets_before_reporting() {
    let mut client = ready(&[]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    assert_eq!(feed(&mut client, b"250 ok\r\n").1, b"RCPT TO:<b@mx.test>\r\n");
    let (events, out) = feed(&mut client, b"550 5.1.1 no\r\n");
    assert!(events.is_empty(), "reported once the RSET is answered");
    assert_eq!(out, b"RSET\r\n");
    let (events, _) = feed(&mut client, b"250 ok\r\n");
    assert_eq!(codes(done(&events)), [(Some(550), None)]);
    assert!(client.is_ready());
}

#[test]
fn a_refused_data_command() {
    let mut client = ready(&["PIPELINING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    let (events, out) = feed(&mut client, b"250 ok\r\n250 ok\r\n451 4.3.0 later\r\n");
    assert!(events.is_empty());
    assert_eq!(out, b"RSET\r\n");
    let (events, _) = feed(&mut client, b"250 ok\r\n");
    let result = done(&events);
    assert_eq!(codes(result), [(Some(250), Some(451))]);
    assert_eq!(result.data_command.as_ref().unwrap().code().get(), 451);
}

#[test]
fn a_354_although_every_recipient_failed_sends_an_empty_body() {
    // RFC 2920 section 3.1: some servers accept DATA even when no RCPT succeeded.
    let mut client = ready(&["PIPELINING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    let (events, out) = feed(&mut client, b"250 ok\r\n550 no\r\n354 go\r\n");
    assert!(events.is_empty(), "no SendBody: there is no one to send to");
    assert_eq!(out, b".\r\n");
    let (events, out) = feed(&mut client, b"554 5.5.1 no valid recipients\r\n");
    assert_eq!(codes(done(&events)), [(Some(550), None)]);
    assert!(out.is_empty());
}

#[test]
fn bdat_chunks_and_a_failed_chunk() {
    let mut client = ready(&["PIPELINING", "CHUNKING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    assert_eq!(sent(&mut client), b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mx.test>\r\n");
    assert_eq!(feed(&mut client, b"250 ok\r\n250 ok\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"abc\r\n", false).unwrap();
    client.send_body(b"", false).unwrap();
    client.send_body(b"def", true).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 5\r\nabc\r\nBDAT 5 LAST\r\ndef\r\n");
    let (events, _) = feed(&mut client, b"552 5.3.4 too big\r\n503 5.5.1 no transaction\r\n");
    let result = done(&events);
    assert_eq!(codes(result), [(Some(250), Some(552))], "the failed chunk stands for the data");
    assert_eq!(result.data_command, None);
}

#[test]
fn binarymime_goes_as_is() {
    let mut client = ready(&["CHUNKING", "BINARYMIME"]);
    let mut config_free = envelope("a@client.test", &["b@mx.test"]);
    config_free = config_free.parameters(params("BODY=BINARYMIME"));
    client.send_mail(config_free).unwrap();
    sent(&mut client);
    feed(&mut client, b"250 ok\r\n");
    feed(&mut client, b"250 ok\r\n");
    client.send_body(b"\0\r.\n", true).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 4 LAST\r\n\0\r.\n");
    // A client configured without chunking still needs BDAT for BINARYMIME.
    let mut config = ClientConfig::new("client.test");
    config.chunking = false;
    let ehlo = b"250-mx.test\r\n250-CHUNKING\r\n250 BINARYMIME\r\n";
    let mut client = client_with_config(config, ehlo);
    client
        .send_mail(envelope("a@b.test", &["c@d.test"]).parameters(params("BODY=BINARYMIME")))
        .unwrap();
    sent(&mut client);
    feed(&mut client, b"250 ok\r\n");
    assert_eq!(feed(&mut client, b"250 ok\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"x", true).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 1 LAST\r\nx");
}

/// A client with the body open (DATA's 354 received, or BDAT ready).
fn sending_body(extensions: &[&str], config: ClientConfig) -> ClientSession {
    let mut ehlo = String::from("250-mx.test\r\n");
    for e in extensions {
        ehlo.push_str(&format!("250-{e}\r\n"));
    }
    ehlo.push_str("250 HELP\r\n");
    let mut client = client_with_config(config, ehlo.as_bytes());
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    let replies: &[u8] = if extensions.contains(&"CHUNKING") {
        b"250 ok\r\n250 ok\r\n"
    } else {
        b"250 ok\r\n250 ok\r\n354 go\r\n"
    };
    assert_eq!(feed(&mut client, replies).0, [ClientEvent::SendBody]);
    client
}

#[test]
fn a_nul_in_a_text_message_is_never_sent_and_ends_the_session() {
    for extensions in [&["PIPELINING"][..], &["PIPELINING", "CHUNKING"][..]] {
        let mut client = sending_body(extensions, ClientConfig::new("client.test"));
        client.send_body(b"line\r\n", false).unwrap();
        let before = sent(&mut client);
        // `\r\n\0.\r\n`: a next hop that drops the NUL would end the message here.
        let error = client.send_body(b"\r\n\0.\r\nMAIL FROM:<x@y>\r\n", true).unwrap_err();
        assert_eq!(error, ClientError::NulInContent { offset: 8 }, "{extensions:?}");
        assert!(sent(&mut client).is_empty(), "nothing of the chunk, no end of data, no QUIT");
        assert!(client.is_closed());
        let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
        assert_eq!(events, [ClientEvent::Closed(Err(error))]);
        assert!(!before.windows(3).any(|w| w == b"\r\n."), "{before:?}");
    }
}

#[test]
fn a_nul_in_a_text_message_is_dropped_by_option() {
    let mut config = ClientConfig::new("client.test");
    config.nul_octets = sealpost_codec::NulOctets::Strip;
    let mut client = sending_body(&["PIPELINING"], config.clone());
    client.send_body(b"a\r\n\0.\r\nb\0\r\n", true).unwrap();
    assert_eq!(sent(&mut client), b"a\r\n..\r\nb\r\n.\r\n", "the dot is stuffed, not an end");
    let mut client = sending_body(&["PIPELINING", "CHUNKING"], config);
    client.send_body(b"a\0\r\n", true).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 3 LAST\r\na\r\n");
}

// ----------------------------------------------------------------------------------------
// AUTH, STARTTLS, RSET, NOOP, QUIT.

#[test]
fn auth_plain_and_login_on_the_wire() {
    let mut client = ClientSession::with_tls(ClientConfig::new("client.test"), true);
    feed(&mut client, b"220 mx.test\r\n");
    feed(&mut client, b"250-mx.test\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n");
    client.authenticate(&Mechanism::PLAIN, "u", "p").unwrap();
    assert_eq!(sent(&mut client), b"AUTH PLAIN AHUAcA==\r\n");
    assert!(client.noop().is_err(), "busy");
    let (events, _) = feed(&mut client, b"535 5.7.8 no\r\n");
    assert!(matches!(&events[..], [ClientEvent::AuthFailed(r)] if r.code().get() == 535));
    assert!(client.is_ready() && !client.is_authenticated());
    client.authenticate(&Mechanism::LOGIN, "user", "pass").unwrap();
    assert_eq!(sent(&mut client), b"AUTH LOGIN\r\n");
    assert_eq!(feed(&mut client, b"334 VXNlcm5hbWU6\r\n").1, b"dXNlcg==\r\n");
    assert_eq!(feed(&mut client, b"334 UGFzc3dvcmQ6\r\n").1, b"cGFzcw==\r\n");
    assert_eq!(feed(&mut client, b"235 2.7.0 ok\r\n").0, [ClientEvent::Authenticated]);
    assert!(client.is_authenticated());
    // Offered but not a mechanism the session frames; not offered at all.
    let cram = Mechanism::new("CRAM-MD5").unwrap();
    assert!(matches!(client.authenticate(&cram, "u", "p"), Err(ClientError::NotOffered(_))));
    let xoauth = Mechanism::new("XOAUTH2").unwrap();
    assert_eq!(
        client.authenticate(&xoauth, "u", "p"),
        Err(ClientError::NotOffered("this AUTH mechanism"))
    );
}

#[test]
fn auth_in_the_clear_only_when_configured() {
    let mut config = ClientConfig::new("client.test");
    config.allow_auth_without_tls = true;
    let mut client = client_with_config(config, b"250-mx.test\r\n250 AUTH PLAIN\r\n");
    client.authenticate(&Mechanism::PLAIN, "u", "p").unwrap();
    assert_eq!(sent(&mut client), b"AUTH PLAIN AHUAcA==\r\n");
}

#[test]
fn starttls_forgets_and_greets_again() {
    let mut client = ready(&["STARTTLS", "PIPELINING"]);
    client.start_tls().unwrap();
    assert!(client.start_tls().is_err(), "busy");
    assert_eq!(sent(&mut client), b"STARTTLS\r\n");
    assert_eq!(feed(&mut client, b"220 go\r\n").0, [ClientEvent::StartTls]);
    assert!(client.send_mail(envelope("a@b.test", &["c@d.test"])).is_err(), "waiting for TLS");
    client.tls_established();
    assert!(client.is_tls());
    assert_eq!(sent(&mut client), b"EHLO client.test\r\n");
    let (events, _) = feed(&mut client, b"250-mx.test\r\n250 SIZE 5\r\n");
    let [ClientEvent::Ready { ehlo: Some(ehlo) }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(ehlo.size(), Some(5));
    assert_eq!(client.start_tls(), Err(ClientError::InvalidState("TLS is already active")));
    // tls_established() at any other time does nothing.
    client.tls_established();
    assert!(client.poll_transmit().is_none());
}

#[test]
fn rset_noop_quit() {
    let mut client = ready(&[]);
    client.reset().unwrap();
    assert_eq!(sent(&mut client), b"RSET\r\n");
    let (events, _) = feed(&mut client, b"250 2.0.0 ok\r\n");
    assert!(matches!(&events[..], [ClientEvent::Reply(r)] if r.code().get() == 250));
    client.noop().unwrap();
    assert_eq!(sent(&mut client), b"NOOP\r\n");
    assert!(matches!(&feed(&mut client, b"250 ok\r\n").0[..], [ClientEvent::Reply(_)]));
    client.quit();
    client.quit();
    assert_eq!(sent(&mut client), b"QUIT\r\n", "once");
    assert_eq!(feed(&mut client, b"221 bye\r\n").0, [ClientEvent::Closed(Ok(()))]);
    assert!(client.is_closed());
    assert_eq!(client.noop(), Err(ClientError::InvalidState("the session is closed")));
    // Giving up while waiting for the handshake sends nothing in the clear.
    let mut client = ready(&["STARTTLS"]);
    client.start_tls().unwrap();
    sent(&mut client);
    feed(&mut client, b"220 go\r\n");
    client.quit();
    assert!(client.poll_transmit().is_none());
    assert_eq!(client.poll_event(), Some(ClientEvent::Closed(Ok(()))));
}

#[test]
fn api_misuse_is_refused() {
    let mut client = ready(&[]);
    assert_eq!(client.send_body(b"x", true), Err(ClientError::InvalidState("no transaction")));
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    assert_eq!(
        client.send_body(b"x", true),
        Err(ClientError::InvalidState("the server does not wait for the body"))
    );
    assert!(client.send_mail(envelope("a@client.test", &["b@mx.test"])).is_err());
    assert!(client.authenticate(&Mechanism::PLAIN, "u", "p").is_err());
}

// ----------------------------------------------------------------------------------------
// Broken or hostile servers.

#[test]
fn a_421_at_any_time_closes_without_quit() {
    let mut client = ready(&["PIPELINING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    let (events, out) = feed(&mut client, b"250 ok\r\n421 4.3.2 shutting down\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::ServiceClosing(_)))]));
    assert!(out.is_empty());
    // Unsolicited.
    let mut client = ready(&[]);
    let (events, out) = feed(&mut client, b"421 4.4.2 idle\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::ServiceClosing(_)))]));
    assert!(out.is_empty());
}

#[test]
fn garbage_from_the_server_closes_the_session() {
    let mut client = ready(&[]);
    let (events, out) = feed(&mut client, b"250 unsolicited\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::UnexpectedReply { .. }))]));
    assert_eq!(out, b"QUIT\r\n");
    let mut client = ready(&[]);
    client.noop().unwrap();
    sent(&mut client);
    let (events, _) = feed(&mut client, b"hello\r\n");
    assert_eq!(
        events,
        [ClientEvent::Closed(Err(ClientError::MalformedReply(ReplyError::InvalidCode)))]
    );
    let mut client = ready(&[]);
    client.noop().unwrap();
    sent(&mut client);
    let (events, _) = feed(&mut client, &vec![b'2'; 5000]);
    assert_eq!(events, [ClientEvent::Closed(Err(ClientError::ReplyTooLong { limit: 2048 }))]);
    // Input after the close is ignored.
    client.handle_input(b"250 ok\r\n");
    assert_eq!(client.poll_event(), None);
}

#[test]
fn postmaster_is_a_recipient_of_its_own() {
    let mut client = ready(&["PIPELINING"]);
    client
        .send_mail(Envelope::new(from("a@client.test")).recipient(ForwardPath::Postmaster))
        .unwrap();
    assert_eq!(sent(&mut client), b"MAIL FROM:<a@client.test>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n");
}

#[test]
fn no_chunk_is_sent_after_a_refused_chunk() {
    // RFC 3030 section 2: a failed chunk fails the transaction; no more BDAT.
    let mut client = ready(&["CHUNKING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    feed(&mut client, b"250 ok\r\n");
    assert_eq!(feed(&mut client, b"250 ok\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"abc", false).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 3\r\nabc");
    let (events, out) = feed(&mut client, b"552 5.3.4 too big\r\n");
    assert!(events.is_empty());
    assert_eq!(out, b"RSET\r\n", "the transaction is over");
    assert_eq!(client.send_body(b"more", true), Err(ClientError::InvalidState("no transaction")));
    let (events, _) = feed(&mut client, b"250 ok\r\n");
    assert_eq!(codes(done(&events)), [(Some(250), Some(552))]);
    // Pipelined: the chunks already sent are answered first, nothing more is sent.
    let mut client = ready(&["CHUNKING", "PIPELINING"]);
    client.send_mail(envelope("a@client.test", &["b@mx.test"])).unwrap();
    sent(&mut client);
    assert_eq!(feed(&mut client, b"250 ok\r\n250 ok\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"abc", false).unwrap();
    client.send_body(b"def", false).unwrap();
    sent(&mut client);
    assert!(feed(&mut client, b"552 5.3.4 too big\r\n").1.is_empty());
    assert_eq!(
        client.send_body(b"ghi", true),
        Err(ClientError::InvalidState("the server refused a BDAT chunk"))
    );
    assert!(client.poll_transmit().is_none());
    assert_eq!(feed(&mut client, b"503 5.5.1 no transaction\r\n").1, b"RSET\r\n");
    let (events, _) = feed(&mut client, b"250 ok\r\n");
    assert_eq!(codes(done(&events)), [(Some(250), Some(552))]);
    assert!(client.is_ready());
}
