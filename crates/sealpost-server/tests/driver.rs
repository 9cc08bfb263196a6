//! The driver over real loopback sockets: plaintext, STARTTLS, implicit TLS, AUTH, limits,
//! timeouts and shutdown, with an in-memory handler.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Client, MESSAGE, MemoryHandler, settings, start, start_handler};
use sealpost_server::{Role, Verdict};

#[tokio::test]
async fn plaintext_mx_delivery_with_received_header() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await;
    let text = ehlo.to_string();
    assert!(text.contains("STARTTLS"), "{text}");
    assert!(!text.contains("AUTH"), "AUTH must not be offered before TLS: {text}");
    c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mail.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    let relay = c.expect(550).await;
    assert_eq!(relay.enhanced_status().unwrap().to_string(), "5.7.1");
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    assert!(c.reply().await.is_none());
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].recipients, 1);
    let content = String::from_utf8(stored[0].content.clone()).unwrap();
    assert!(
        content.starts_with(
            "Received: from client.test ([127.0.0.1])\r\n\tby mail.test (sealpost) with ESMTP id "
        ),
        "{content}"
    );
    assert!(content.ends_with("\r\nSubject: test\r\n\r\nHello\r\n"), "{content}");
    server.stop().await;
}

#[tokio::test]
async fn lmtp_answers_each_recipient_with_its_own_verdict() {
    let mut settings = settings();
    settings.session.lmtp = true;
    let mut handler = MemoryHandler::default();
    let quota = Verdict::reject(452, (4, 2, 2), "Quota exceeded");
    handler.commit_verdicts.insert("quota@mail.test".into(), quota);
    let sieve = Verdict::reject(550, (5, 7, 1), "Rejected by Sieve");
    handler.commit_verdicts.insert("sieve@mail.test".into(), sieve);
    let server = start_handler(settings, handler).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"LHLO client.test\r\n").await;
    c.expect(250).await;
    // An accepting verdict before refusals answers its recipient only.
    let table: [(&[&str], &[&str]); 3] = [
        (&["ok", "quota", "sieve"], &["250 2.0.0", "452 4.2.2", "550 5.7.1"]),
        (&["quota", "ok", "other"], &["452 4.2.2", "250 2.0.0", "250 2.0.0"]),
        (&["ok", "other"], &["250 2.0.0", "250 2.0.0"]),
    ];
    for (recipients, want) in table {
        let mut envelope = b"MAIL FROM:<a@client.test>\r\n".to_vec();
        for r in recipients {
            envelope.extend_from_slice(format!("RCPT TO:<{r}@mail.test>\r\n").as_bytes());
        }
        c.send(&envelope).await;
        for _ in 0..=recipients.len() {
            c.expect(250).await;
        }
        c.send(b"DATA\r\n").await;
        c.expect(354).await;
        c.send(MESSAGE).await;
        let mut got = Vec::new();
        for _ in recipients {
            let reply = c.reply().await.unwrap();
            got.push(format!("{} {}", reply.code(), reply.enhanced_status().unwrap()));
        }
        assert_eq!(got, want, "{recipients:?}");
    }
    c.send(b"NOOP\r\n").await;
    c.expect(250).await;
    server.stop().await;
}

#[tokio::test]
async fn starttls_then_auth_then_relay_and_tls_in_received() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Submission)).await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    assert_eq!(c.expect(530).await.enhanced_status().unwrap().to_string(), "5.7.0");
    c.send(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").await;
    c.expect(530).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"), "{ehlo}");
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    c.expect(530).await;
    c.send(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n").await;
    assert_eq!(c.expect(535).await.enhanced_status().unwrap().to_string(), "5.7.8");
    c.send(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").await;
    c.expect(235).await;
    c.send(b"MAIL FROM:<alice@mail.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    let stored = server.stored.lock().unwrap().clone();
    let content = String::from_utf8(stored[0].content.clone()).unwrap();
    assert!(content.contains("with ESMTPSA id"), "{content}");
    assert!(content.contains("(using TLSv1.3 with cipher TLS_"), "{content}");
    server.stop().await;
}

#[tokio::test]
async fn bytes_after_starttls_get_554_and_close() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"EHLO a\r\n").await;
    c.expect(250).await;
    c.send(b"STARTTLS\r\nRSET\r\n").await;
    let refusal = c.expect(554).await;
    assert_eq!(refusal.enhanced_status().unwrap().to_string(), "5.5.0");
    assert!(c.reply().await.is_none(), "the connection must close, RSET never answered");
    server.stop().await;
}

#[tokio::test]
async fn implicit_tls_submission_needs_auth() {
    let server = start(settings()).await;
    let mut c = Client::connect_tls(server.addr(Role::Submissions)).await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains("AUTH") && !ehlo.contains("STARTTLS"), "{ehlo}");
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    c.expect(530).await;
    c.send(b"AUTH LOGIN\r\n").await;
    c.expect(334).await;
    c.send(b"YWxpY2U=\r\n").await;
    c.expect(334).await;
    c.send(b"c2VjcmV0\r\n").await;
    c.expect(235).await;
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    server.stop().await;
}

#[tokio::test]
async fn connection_limit_per_address_gets_421() {
    let mut settings = settings();
    settings.limits.max_connections_per_ip = 2;
    let server = start(settings).await;
    let mut first = Client::connect(server.addr(Role::Mx)).await;
    first.expect(220).await;
    let mut second = Client::connect(server.addr(Role::Mx)).await;
    second.expect(220).await;
    let mut third = Client::connect(server.addr(Role::Mx)).await;
    let refused = third.expect(421).await;
    assert_eq!(refused.enhanced_status().unwrap().to_string(), "4.7.0");
    drop(first);
    // The slot comes back once the server sees the close.
    let mut ok = None;
    for _ in 0..50 {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        if c.reply().await.is_some_and(|r| r.code().get() == 220) {
            ok = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok.is_some(), "the freed slot was never given back");
    drop(second);
    server.stop().await;
}

#[tokio::test]
async fn idle_client_times_out_with_421() {
    let mut settings = settings();
    settings.timeouts.command = Duration::from_millis(300);
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    let timeout = c.expect(421).await;
    assert_eq!(timeout.enhanced_status().unwrap().to_string(), "4.4.2");
    assert!(c.reply().await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_command_trickled_in_octet_by_octet_times_out_as_a_whole() {
    let mut settings = settings();
    settings.timeouts.command = Duration::from_millis(400);
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    // A command that completes in time renews the deadline...
    c.send(b"NOOP\r\n").await;
    c.expect(250).await;
    // ...but octets that do not finish a command do not: one every 100 ms, each well
    // within the timeout, and the session still ends at the command deadline.
    let started = std::time::Instant::now();
    let mut answer = None;
    for octet in b"EHLO slow.client.test\r\n" {
        c.send(&[*octet]).await;
        if let Ok(reply) = tokio::time::timeout(Duration::from_millis(100), c.reply()).await {
            answer = reply;
            break;
        }
    }
    let answer = answer.expect("the trickling client was never cut off");
    assert_eq!(answer.code().get(), 421, "{answer}");
    assert_eq!(answer.enhanced_status().unwrap().to_string(), "4.4.2");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_421_to_idle_sessions_and_lets_transactions_finish() {
    let mut settings = settings();
    settings.timeouts.shutdown_grace = Duration::from_secs(5);
    let server = start(settings).await;
    let mut idle = Client::connect(server.addr(Role::Mx)).await;
    idle.expect(220).await;
    let mut busy = Client::connect(server.addr(Role::Mx)).await;
    busy.expect(220).await;
    busy.send(b"EHLO c\r\n").await;
    busy.expect(250).await;
    busy.send(b"MAIL FROM:<a@c>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
    for code in [250, 250, 354] {
        busy.expect(code).await;
    }
    let stored = server.stored.clone();
    let stopping = tokio::spawn(server.stop());
    let closing = idle.expect(421).await;
    assert_eq!(closing.enhanced_status().unwrap().to_string(), "4.3.2");
    busy.send(MESSAGE).await;
    busy.expect(250).await;
    busy.expect(421).await;
    stopping.await.unwrap();
    assert_eq!(stored.lock().unwrap().len(), 1);
}
