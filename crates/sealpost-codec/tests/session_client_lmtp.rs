//! The client session in LMTP mode (RFC 2033) against scripted server bytes: LHLO and no
//! HELO fallback, DATA only after an accepted RCPT, one reply per accepted recipient after
//! DATA and after BDAT LAST (each kept as that recipient's own), refused chunks and DATA,
//! a server that stops half-way (421, end of stream), and SMTP mode unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::{client_with_config, codes, done, feed, sent};
use common::envelope;
use sealpost_codec::client::{ClientConfig, ClientError, ClientEvent, ClientSession};

const RECIPIENTS: [&str; 4] = ["a@lmtp.test", "b@lmtp.test", "c@lmtp.test", "d@lmtp.test"];

fn lmtp_config() -> ClientConfig {
    let mut config = ClientConfig::new("client.test");
    config.lmtp = true;
    config
}

/// An LMTP client after LHLO with these extensions (Dovecot announces 8BITMIME, CHUNKING,
/// ENHANCEDSTATUSCODES, PIPELINING, SMTPUTF8 and, to trusted clients, XCLIENT).
fn lmtp(extensions: &[&str]) -> ClientSession {
    let mut lhlo = String::from("250-lmtp.test\r\n");
    for e in extensions {
        lhlo.push_str(&format!("250-{e}\r\n"));
    }
    lhlo.push_str("250 XCLIENT ADDR PORT TTL TIMEOUT\r\n");
    client_with_config(lmtp_config(), lhlo.as_bytes())
}

/// The texts of every recipient's final reply.
fn finals(result: &sealpost_codec::client::TransactionResult) -> Vec<String> {
    result.recipients.iter().map(|r| r.final_reply().unwrap().to_string()).collect()
}

// ----------------------------------------------------------------------------------------
// LHLO.

#[test]
fn lhlo_and_never_helo() {
    for refusal in
        [&b"500 5.5.1 Unknown command\r\n"[..], b"550 5.7.1 go away\r\n", b"451 later\r\n"]
    {
        let mut client = ClientSession::new(lmtp_config());
        let (_, out) = feed(&mut client, b"220 lmtp.test LMTP ready\r\n");
        assert_eq!(out, b"LHLO client.test\r\n");
        let (events, out) = feed(&mut client, refusal);
        let [ClientEvent::Closed(Err(ClientError::UnexpectedReply { context, reply }))] =
            &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(*context, "LHLO");
        assert_eq!(reply.to_bytes(), refusal);
        assert_eq!(out, b"QUIT\r\n", "no HELO: LMTP has none");
        assert!(client.is_closed());
    }
}

#[test]
fn lhlo_again_after_starttls() {
    let mut client = lmtp(&["STARTTLS", "PIPELINING"]);
    client.start_tls().unwrap();
    assert_eq!(sent(&mut client), b"STARTTLS\r\n");
    assert_eq!(feed(&mut client, b"220 2.0.0 go\r\n").0, [ClientEvent::StartTls]);
    client.tls_established();
    assert_eq!(sent(&mut client), b"LHLO client.test\r\n");
    let (events, _) = feed(&mut client, b"250-lmtp.test\r\n250 PIPELINING\r\n");
    assert!(matches!(&events[..], [ClientEvent::Ready { ehlo: Some(_) }]), "{events:?}");
    // A refused LHLO under TLS is just as final.
    let mut client = lmtp(&["STARTTLS"]);
    client.start_tls().unwrap();
    feed(&mut client, b"220 go\r\n");
    client.tls_established();
    sent(&mut client);
    let (events, _) = feed(&mut client, b"502 5.5.1 no\r\n");
    assert!(matches!(
        &events[..],
        [ClientEvent::Closed(Err(ClientError::UnexpectedReply { context: "LHLO", .. }))]
    ));
}

// ----------------------------------------------------------------------------------------
// One reply per accepted recipient.

#[test]
fn data_replies_per_recipient_in_rcpt_order() {
    let mut client = lmtp(&["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"]);
    client.send_mail(envelope("s@client.test", &RECIPIENTS)).unwrap();
    // MAIL and the RCPTs pipelined; DATA waits for their replies.
    assert_eq!(
        sent(&mut client),
        b"MAIL FROM:<s@client.test>\r\nRCPT TO:<a@lmtp.test>\r\nRCPT TO:<b@lmtp.test>\r\n\
          RCPT TO:<c@lmtp.test>\r\nRCPT TO:<d@lmtp.test>\r\n"
    );
    let (events, out) = feed(&mut client, b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n");
    assert!(events.is_empty() && out.is_empty());
    let (events, out) = feed(
        &mut client,
        b"550 5.1.1 <c@lmtp.test> User doesn't exist: c@lmtp.test\r\n250 2.1.5 OK\r\n",
    );
    assert!(events.is_empty());
    assert_eq!(out, b"DATA\r\n");
    assert_eq!(feed(&mut client, b"354 OK\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"Subject: x\r\n\r\n.hi\r\n", true).unwrap();
    assert_eq!(sent(&mut client), b"Subject: x\r\n\r\n..hi\r\n.\r\n");
    // Three accepted recipients, three replies; the first two are not the end.
    let (events, _) = feed(&mut client, b"250 2.0.0 <a@lmtp.test> Saved\r\n");
    assert!(events.is_empty(), "one reply per recipient: {events:?}");
    let (events, _) = feed(&mut client, b"452 4.2.2 <b@lmtp.test> Quota exceeded\r\n");
    assert!(events.is_empty());
    let (events, out) = feed(&mut client, b"550 5.7.1 <d@lmtp.test> Rejected by Sieve\r\n");
    assert!(out.is_empty());
    let result = done(&events);
    assert_eq!(
        codes(result),
        [(Some(250), Some(250)), (Some(250), Some(452)), (Some(550), None), (Some(250), Some(550))]
    );
    assert_eq!(
        finals(result),
        [
            "250 2.0.0 <a@lmtp.test> Saved",
            "452 4.2.2 <b@lmtp.test> Quota exceeded",
            "550 5.1.1 <c@lmtp.test> User doesn't exist: c@lmtp.test",
            "550 5.7.1 <d@lmtp.test> Rejected by Sieve",
        ]
    );
    let delivered: Vec<bool> = result.recipients.iter().map(|r| r.delivered()).collect();
    assert_eq!(delivered, [true, false, false, false]);
    assert_eq!(result.data_command.as_ref().unwrap().code().get(), 354);
    assert!(client.is_ready());
    // The next transaction starts clean.
    client.send_mail(envelope("s@client.test", &["a@lmtp.test"])).unwrap();
    sent(&mut client);
    assert_eq!(feed(&mut client, b"250 OK\r\n250 OK\r\n").1, b"DATA\r\n");
    feed(&mut client, b"354 OK\r\n");
    client.send_body(b"x\r\n", true).unwrap();
    sent(&mut client);
    assert!(done(&feed(&mut client, b"250 2.0.0 Saved\r\n").0).all_delivered());
}

#[test]
fn bdat_last_replies_per_recipient() {
    let mut client = lmtp(&["PIPELINING", "CHUNKING", "ENHANCEDSTATUSCODES"]);
    client.send_mail(envelope("s@client.test", &RECIPIENTS)).unwrap();
    sent(&mut client);
    let (events, out) = feed(
        &mut client,
        b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n550 5.1.1 no\r\n250 2.1.5 OK\r\n",
    );
    assert_eq!(events, [ClientEvent::SendBody]);
    assert!(out.is_empty(), "no DATA with CHUNKING");
    client.send_body(b"Subject: x\r\n\r\n", false).unwrap();
    client.send_body(b".hi\r\n", true).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 14\r\nSubject: x\r\n\r\nBDAT 5 LAST\r\n.hi\r\n");
    // The chunk's one reply, then one per recipient.
    let (events, _) = feed(&mut client, b"250 2.0.0 OK\r\n250 2.0.0 <a@lmtp.test> Saved\r\n");
    assert!(events.is_empty());
    let (events, _) = feed(&mut client, b"452 4.2.2 <b@lmtp.test> Quota\r\n550 5.7.1 <d> no\r\n");
    let result = done(&events);
    assert_eq!(
        codes(result),
        [(Some(250), Some(250)), (Some(250), Some(452)), (Some(550), None), (Some(250), Some(550))]
    );
    assert_eq!(result.data_command, None);
    assert_eq!(result.delivered().count(), 1);
    assert!(client.is_ready());
}

#[test]
fn step_by_step_without_pipelining() {
    let mut client = lmtp(&[]);
    client.send_mail(envelope("s@client.test", &["a@lmtp.test", "b@lmtp.test"])).unwrap();
    assert_eq!(sent(&mut client), b"MAIL FROM:<s@client.test>\r\n");
    assert_eq!(feed(&mut client, b"250 OK\r\n").1, b"RCPT TO:<a@lmtp.test>\r\n");
    assert_eq!(feed(&mut client, b"250 OK\r\n").1, b"RCPT TO:<b@lmtp.test>\r\n");
    assert_eq!(feed(&mut client, b"250 OK\r\n").1, b"DATA\r\n");
    assert_eq!(feed(&mut client, b"354 OK\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"x", true).unwrap();
    assert_eq!(sent(&mut client), b"x\r\n.\r\n");
    let (events, _) = feed(&mut client, b"451 4.3.0 <a> Temporary failure\r\n250 2.0.0 <b> ok\r\n");
    assert_eq!(codes(done(&events)), [(Some(250), Some(451)), (Some(250), Some(250))]);
}

#[test]
fn no_accepted_recipient_means_no_data() {
    for extensions in [&["PIPELINING"][..], &["PIPELINING", "CHUNKING"], &[]] {
        let mut client = lmtp(extensions);
        client.send_mail(envelope("s@client.test", &["a@lmtp.test", "b@lmtp.test"])).unwrap();
        let mut wire = sent(&mut client);
        let mut events = Vec::new();
        for reply in [&b"250 2.1.0 OK\r\n"[..], b"550 5.1.1 no\r\n", b"450 4.2.1 busy\r\n"] {
            let (e, out) = feed(&mut client, reply);
            events.extend(e);
            wire.extend(out);
        }
        let wire = String::from_utf8(wire).unwrap();
        assert!(!wire.contains("DATA") && !wire.contains("BDAT"), "{extensions:?}: {wire}");
        assert!(wire.ends_with("RSET\r\n"), "{wire}");
        assert!(events.is_empty(), "reported once the RSET is answered");
        let (events, _) = feed(&mut client, b"250 2.0.0 OK\r\n");
        let result = done(&events);
        assert_eq!(codes(result), [(Some(550), None), (Some(450), None)]);
        assert_eq!(finals(result), ["550 5.1.1 no", "450 4.2.1 busy"]);
        assert!(client.is_ready());
    }
}

#[test]
fn a_refused_data_command_is_every_recipients_reply() {
    let mut client = lmtp(&["PIPELINING"]);
    client.send_mail(envelope("s@client.test", &["a@lmtp.test", "b@lmtp.test"])).unwrap();
    sent(&mut client);
    assert_eq!(feed(&mut client, b"250 OK\r\n250 OK\r\n250 OK\r\n").1, b"DATA\r\n");
    let (events, out) = feed(&mut client, b"451 4.3.0 Temporary failure\r\n");
    assert!(events.is_empty());
    assert_eq!(out, b"RSET\r\n");
    let result = done(&feed(&mut client, b"250 OK\r\n").0).clone();
    assert_eq!(codes(&result), [(Some(250), Some(451)), (Some(250), Some(451))]);
    assert_eq!(result.delivered().count(), 0);
}

#[test]
fn a_refused_chunk_stands_for_every_recipient() {
    let mut client = lmtp(&["PIPELINING", "CHUNKING"]);
    client.send_mail(envelope("s@client.test", &["a@lmtp.test", "b@lmtp.test"])).unwrap();
    sent(&mut client);
    assert_eq!(feed(&mut client, b"250 OK\r\n250 OK\r\n250 OK\r\n").0, [ClientEvent::SendBody]);
    // Both chunks go out before the first reply comes back.
    client.send_body(b"first\r\n", false).unwrap();
    client.send_body(b"last\r\n", true).unwrap();
    assert_eq!(sent(&mut client), b"BDAT 7\r\nfirst\r\nBDAT 6 LAST\r\nlast\r\n");
    // Dovecot: the refused chunk, then "503 5.5.0 Previous data chunk failed": one reply
    // to BDAT LAST, not one per recipient.
    let (events, _) = feed(&mut client, b"552 5.2.3 Message size exceeds limit\r\n");
    assert!(events.is_empty());
    let (events, out) =
        feed(&mut client, b"503 5.5.0 Previous data chunk failed, issue RSET first\r\n");
    let result = done(&events);
    assert_eq!(codes(result), [(Some(250), Some(552)), (Some(250), Some(552))]);
    assert!(out.is_empty());
    assert!(client.is_ready());
}

// ----------------------------------------------------------------------------------------
// A server that stops half-way: the replies that came stand.

/// A client after MAIL, three accepted RCPTs, DATA and the body.
fn waiting_for_data_replies() -> ClientSession {
    let mut client = lmtp(&["PIPELINING"]);
    client.send_mail(envelope("s@client.test", &RECIPIENTS[..3])).unwrap();
    sent(&mut client);
    feed(&mut client, b"250 OK\r\n250 OK\r\n250 OK\r\n250 OK\r\n");
    assert_eq!(feed(&mut client, b"354 OK\r\n").0, [ClientEvent::SendBody]);
    client.send_body(b"x\r\n", true).unwrap();
    sent(&mut client);
    client
}

#[test]
fn code_421_after_some_replies() {
    let mut client = waiting_for_data_replies();
    let (events, out) =
        feed(&mut client, b"250 2.0.0 <a> Saved\r\n421 4.3.2 Shutting down\r\n250 2.0.0 late\r\n");
    let [ClientEvent::TransactionDone(result), ClientEvent::Closed(Err(e))] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        codes(result),
        [(Some(250), Some(250)), (Some(250), Some(421)), (Some(250), Some(421))]
    );
    assert!(result.recipients[0].delivered());
    assert!(matches!(e, ClientError::ServiceClosing(r) if r.code().get() == 421));
    assert!(out.is_empty(), "no QUIT after 421");
    // A 421 before any per-recipient reply: nothing is known, the session error says it.
    let mut client = waiting_for_data_replies();
    let (events, _) = feed(&mut client, b"421 4.3.2 Shutting down\r\n");
    assert!(matches!(&events[..], [ClientEvent::Closed(Err(ClientError::ServiceClosing(_)))]));
}

#[test]
fn end_of_stream_after_some_replies() {
    let mut client = waiting_for_data_replies();
    // The second reply is cut off by the end of the stream: it does not count.
    let (events, _) = feed(&mut client, b"250 2.0.0 <a> Saved\r\n250 2.0.0 <b> Sa");
    assert!(events.is_empty());
    client.handle_eof();
    let (events, out) = feed(&mut client, b"");
    let [ClientEvent::TransactionDone(result), ClientEvent::Closed(Err(e))] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(*e, ClientError::ConnectionClosed);
    assert_eq!(
        codes(result),
        [(Some(250), Some(250)), (Some(250), Some(451)), (Some(250), Some(451))]
    );
    let lost = result.recipients[1].final_reply().unwrap();
    assert_eq!(lost.enhanced_status().unwrap().to_string(), "4.4.2");
    assert!(out.is_empty());
    assert!(client.is_closed());
    // Input handed over after the end of the stream is not read.
    client.handle_input(b"250 2.0.0 late\r\n");
    assert_eq!(client.poll_event(), None);
}

#[test]
fn end_of_stream_elsewhere() {
    // Before any reply to the end of data: no result, the error says it.
    let mut client = waiting_for_data_replies();
    client.handle_eof();
    assert_eq!(feed(&mut client, b"").0, [ClientEvent::Closed(Err(ClientError::ConnectionClosed))]);
    // Before the greeting, and while waiting for RCPT replies.
    let mut client = ClientSession::new(lmtp_config());
    client.handle_eof();
    assert_eq!(feed(&mut client, b"").0, [ClientEvent::Closed(Err(ClientError::ConnectionClosed))]);
    let mut client = lmtp(&["PIPELINING"]);
    client.send_mail(envelope("s@client.test", &["a@lmtp.test"])).unwrap();
    sent(&mut client);
    client.handle_input(b"250 OK\r\n");
    client.handle_eof();
    assert_eq!(feed(&mut client, b"").0, [ClientEvent::Closed(Err(ClientError::ConnectionClosed))]);
    // After QUIT (and after its reply was due): a normal end.
    let mut client = lmtp(&[]);
    client.quit();
    assert_eq!(sent(&mut client), b"QUIT\r\n");
    client.handle_eof();
    assert_eq!(feed(&mut client, b"").0, [ClientEvent::Closed(Ok(()))]);
    // Idle.
    let mut client = lmtp(&[]);
    client.handle_eof();
    assert_eq!(feed(&mut client, b"").0, [ClientEvent::Closed(Ok(()))]);
}

// ----------------------------------------------------------------------------------------
// SMTP is unchanged.

#[test]
fn smtp_pipelines_data_and_shares_one_reply() {
    let mut client =
        client_with_config(ClientConfig::new("client.test"), b"250-mx.test\r\n250 PIPELINING\r\n");
    client.send_mail(envelope("s@client.test", &["a@mx.test", "b@mx.test"])).unwrap();
    assert!(sent(&mut client).ends_with(b"RCPT TO:<b@mx.test>\r\nDATA\r\n"));
    feed(&mut client, b"250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    client.send_body(b"x\r\n", true).unwrap();
    sent(&mut client);
    let result = done(&feed(&mut client, b"250 2.0.0 queued as 1\r\n").0).clone();
    assert_eq!(codes(&result), [(Some(250), Some(250)), (Some(250), Some(250))]);
    // A 421 to the end of data or the end of the stream: the session error, no result.
    for end in [&b"421 4.3.2 bye\r\n"[..], b""] {
        let mut client = client_with_config(
            ClientConfig::new("client.test"),
            b"250-mx.test\r\n250 PIPELINING\r\n",
        );
        client.send_mail(envelope("s@client.test", &["a@mx.test"])).unwrap();
        feed(&mut client, b"250 OK\r\n250 OK\r\n354 go\r\n");
        client.send_body(b"x\r\n", true).unwrap();
        sent(&mut client);
        if end.is_empty() {
            client.handle_eof();
        }
        let (events, _) = feed(&mut client, end);
        assert!(matches!(&events[..], [ClientEvent::Closed(Err(_))]), "{events:?}");
    }
}
