//! The `Handler` hooks over real sockets: a SASL mechanism the handler drives step by
//! step, VRFY and EXPN answers, and the Received header replaced or left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, MESSAGE, MemoryHandler, ReceivedHeader, TWO_STEP, settings, start_handler};
use sealpost_codec::sasl::encode_base64;
use sealpost_server::{Role, Verdict};

fn two_step() -> MemoryHandler {
    MemoryHandler { two_step_auth: true, ..MemoryHandler::default() }
}

/// Is this the 334 challenge `text` (in base64, RFC 4954 section 4)?
fn is_challenge(reply: &sealpost_codec::Reply<'_>, text: &str) -> bool {
    reply.code().get() == 334 && reply.text() == encode_base64(text.as_bytes())
}

#[tokio::test]
async fn a_two_step_mechanism_of_the_handler_is_offered_under_tls_and_completes() {
    let server = start_handler(settings(), two_step()).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    // Before TLS: neither offered nor accepted.
    let auth = format!("AUTH {TWO_STEP}\r\n");
    c.send(auth.as_bytes()).await;
    c.expect_status(530, "5.7.0").await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains(&format!("AUTH PLAIN LOGIN {TWO_STEP}")), "{ehlo}");
    c.send(auth.as_bytes()).await;
    assert!(is_challenge(&c.expect(334).await, "User?"));
    c.send(format!("{}\r\n", encode_base64(b"alice")).as_bytes()).await;
    assert!(is_challenge(&c.expect(334).await, "Password?"));
    c.send(format!("{}\r\n", encode_base64(b"secret")).as_bytes()).await;
    c.expect_status(235, "2.7.0").await;
    // The identity the handler named is the session's: relaying is allowed for it.
    let reply = c.transaction("a@client.test", &["x@elsewhere.test"], MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    assert_eq!(server.stored()[0].user.as_deref(), Some("alice@two-step"));
    server.stop().await;
}

#[tokio::test]
async fn a_failed_step_is_a_535_and_a_new_auth_starts_afresh() {
    let server = start_handler(settings(), two_step()).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    // The initial response is step 0 too: the first challenge still comes.
    let auth = format!("AUTH {TWO_STEP} {}\r\n", encode_base64(b"ignored"));
    c.send(auth.as_bytes()).await;
    assert!(is_challenge(&c.expect(334).await, "User?"));
    c.send(format!("{}\r\n", encode_base64(b"alice")).as_bytes()).await;
    c.expect(334).await;
    c.send(format!("{}\r\n", encode_base64(b"wrong")).as_bytes()).await;
    c.expect_status(535, "5.7.8").await;
    c.send(auth.as_bytes()).await;
    assert!(is_challenge(&c.expect(334).await, "User?"), "a new exchange, not step 3");
    c.send(b"*\r\n").await;
    c.expect_status(501, "5.7.0").await;
    c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.test>\r\n").await;
    c.expect(250).await;
    c.expect_status(550, "5.7.1").await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    server.stop().await;
}

#[tokio::test]
async fn mechanisms_the_handler_cannot_complete_are_not_offered() {
    let server = start_handler(settings(), MemoryHandler::default()).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains(TWO_STEP), "{ehlo}");
    c.send(format!("AUTH {TWO_STEP}\r\n").as_bytes()).await;
    c.expect_status(504, "5.5.4").await;
    server.stop().await;
}

#[tokio::test]
async fn vrfy_and_expn_answers() {
    let mut settings = settings();
    settings.session.disable_expn = false;
    let answer =
        Verdict::Reply(sealpost_codec::Reply::new(250, "2.1.5 Alice <alice@mail.test>").unwrap());
    let handler = MemoryHandler { vrfy: Some(answer), ..MemoryHandler::default() };
    let server = start_handler(settings.clone(), handler).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.send(b"VRFY alice\r\n").await;
    let reply = c.expect_status(250, "2.1.5").await;
    assert!(reply.text().contains("<alice@mail.test>"), "{reply}");
    c.send(b"EXPN staff\r\n").await;
    c.expect_status(502, "5.5.1").await;
    server.stop().await;
    // The defaults: 252 for VRFY.
    let server = start_handler(settings, MemoryHandler::default()).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.send(b"VRFY alice\r\n").await;
    c.expect_status(252, "2.1.5").await;
    server.stop().await;
}

#[tokio::test]
async fn the_received_header_can_be_replaced_or_left_out() {
    let replaced = "Received: from hidden by mail.test; Sun, 6 Dec 2026 10:00:00 +0000\r\n";
    let cases = [
        (ReceivedHeader::Replace(replaced.to_owned()), Some(replaced)),
        (ReceivedHeader::Omit, None),
    ];
    for (received, header) in cases {
        let handler = MemoryHandler { received, ..MemoryHandler::default() };
        let server = start_handler(settings(), handler).await;
        let mut c = Client::greeted(server.addr(Role::Mx)).await;
        // DATA and BDAT open the message in the same place.
        let reply = c.transaction("a@client.test", &["b@mail.test"], MESSAGE).await;
        assert_eq!(reply.code().get(), 250);
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mail.test>\r\n").await;
        c.expect(250).await;
        c.expect(250).await;
        c.send(b"BDAT 24 LAST\r\nSubject: test\r\n\r\nHello\r\n").await;
        c.expect(250).await;
        let stored = server.stored();
        assert_eq!(stored.len(), 2);
        for message in stored {
            let content = String::from_utf8(message.content).unwrap();
            let body = "Subject: test\r\n\r\nHello\r\n";
            assert_eq!(content, format!("{}{body}", header.unwrap_or("")));
        }
        server.stop().await;
    }
}
