//! MtaHandler over real loopback sockets: local delivery, recipient policy, the relay
//! queue, AUTH. Storage failures are in mta_faults.rs.

// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::os::unix::fs::MetadataExt;

use sealpost_mta::QueueStore;
use sealpost_mta::queue::{QueuedMessage, RecipientRoute};
use sealpost_server::Role;
use support::{Client, MESSAGE, delivered, files, start, tempdir};

#[tokio::test]
async fn local_delivery_is_complete_with_return_path_then_received_first() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let reply = c.transaction("sender@client.test", &["Alice@MAIL.test"], MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    let content = String::from_utf8(delivered(dir.path(), "mail.test", "alice")).unwrap();
    assert!(
        content.starts_with(
            "Return-Path: <sender@client.test>\r\nReceived: from client.test ([127.0.0.1])\r\n\
             \tby mx.mail.test (sealpost) with ESMTP id "
        ),
        "{content}"
    );
    assert!(content.contains("\r\n\tfor <Alice@MAIL.test>; "), "{content}");
    assert!(content.ends_with("\r\nSubject: test\r\n\r\nHello\r\n"), "{content}");
    let maildir = dir.path().join("maildir/mail.test/alice");
    assert!(maildir.join("cur").is_dir() && files(&maildir.join("tmp")).is_empty());
    let name = files(&maildir.join("new"))[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(&format!(".mx.mail.test,S={}", content.len())), "{name}");
    assert!(files(&dir.path().join("spool")).is_empty());
    assert!(files(&dir.path().join("queue")).is_empty());

    // The null sender, through BDAT, into the same Maildir under a new name.
    c.send(b"MAIL FROM:<>\r\nRCPT TO:<alice@mail.test>\r\nBDAT 12 LAST\r\nSubject: b\r\n").await;
    for code in [250, 250, 250] {
        c.expect(code).await;
    }
    let new = files(&maildir.join("new"));
    assert_eq!(new.len(), 2);
    let second = new.iter().map(|p| std::fs::read_to_string(p).unwrap()).find(|s| s != &content);
    let second = second.unwrap();
    assert!(second.starts_with("Return-Path: <>\r\nReceived: "), "{second}");
    assert!(second.ends_with("\r\nSubject: b\r\n"), "{second}");
    server.stop().await;
}

#[tokio::test]
async fn several_local_users_each_get_the_message_once() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let to = ["alice@mail.test", "bob@mail.test", "ALICE@mail.test", "carol@Other.Test"];
    let reply = c.transaction("s@client.test", &to, MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    let alice = delivered(dir.path(), "mail.test", "alice");
    assert_eq!(delivered(dir.path(), "mail.test", "bob"), alice);
    assert_eq!(delivered(dir.path(), "other.test", "carol"), alice);
    // Several recipients: no "for" clause in Received.
    let text = String::from_utf8(alice).unwrap();
    assert!(!text.contains("\tfor <"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn local_parts_that_look_like_paths_stay_inside_their_domain() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let to = ["\"../../etc\"@mail.test", "\"a/b\"@mail.test", "\".\"@mail.test", "\"\"@mail.test"];
    let reply = c.transaction("s@client.test", &to, MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    for name in ["%2E.%2F..%2Fetc", "a%2Fb", "%2E", "%"] {
        delivered(dir.path(), "mail.test", name);
    }
    let domain_dirs = files(&dir.path().join("maildir/mail.test"));
    assert_eq!(domain_dirs.len(), 4, "{domain_dirs:?}");
    assert_eq!(files(&dir.path().join("maildir")).len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn recipient_list_refuses_unknown_users_but_not_postmaster() {
    let dir = tempdir();
    let server = start(dir.path(), |config| {
        config.recipients = Some(vec![String::from("Alice@mail.test")]);
    })
    .await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<bob@mail.test>\r\nRCPT TO:<alice@Mail.Test>\r\nRCPT TO:<PostMaster@other.test>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect_status(550, "5.1.1").await;
    for code in [250, 250, 250, 354] {
        c.expect(code).await;
    }
    c.send(MESSAGE).await;
    c.expect(250).await;
    delivered(dir.path(), "mail.test", "alice");
    delivered(dir.path(), "other.test", "postmaster");
    // <Postmaster> goes to postmaster@ the first local domain.
    delivered(dir.path(), "mail.test", "postmaster");
    assert!(!dir.path().join("maildir/mail.test/bob").exists());
    server.stop().await;
}

#[tokio::test]
async fn relaying_without_auth_is_denied_and_nothing_is_stored() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<x@elsewhere.test>\r\nRCPT TO:<y@[127.0.0.1]>\r\nRCPT TO:<mail.test@elsewhere.test>\r\n").await;
    c.expect(250).await;
    for _ in 0..3 {
        c.expect_status(550, "5.7.1").await;
    }
    c.send(b"DATA\r\n").await;
    c.expect(554).await;
    // TLS alone is not authentication.
    c.send(b"RSET\r\n").await;
    c.expect(250).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<x@elsewhere.test>\r\n").await;
    c.expect(250).await;
    c.expect_status(550, "5.7.1").await;
    // A mixed transaction delivers to the local recipient only.
    c.send(b"RCPT TO:<alice@mail.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    delivered(dir.path(), "mail.test", "alice");
    assert!(files(&dir.path().join("queue")).is_empty());
    assert!(files(&dir.path().join("spool")).is_empty());
    server.stop().await;
}

/// The SHA-256 of the test client certificate, and of its SubjectPublicKeyInfo.
fn client_cert_fingerprints() -> ([u8; 32], [u8; 32]) {
    let chain = sealpost_starttls::read_chain(&sealpost_test_support::pki::pki("client-chain.pem"))
        .unwrap();
    let cert = sealpost_starttls::sha256(chain[0].as_ref());
    (cert, sealpost_starttls::spki_sha256(&chain[0]).unwrap())
}

/// One relay attempt over STARTTLS, with or without the client certificate; the reply
/// to RCPT TO a foreign domain.
async fn relay_attempt(server: &support::Running, with_cert: bool) -> u16 {
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    if with_cert {
        c.starttls_with_client_cert().await;
    } else {
        c.starttls().await;
    }
    // EHLO is a synchronisation point (RFC 2920): nothing may follow it in the same write.
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<x@elsewhere.test>\r\n").await;
    c.expect(250).await;
    let reply = c.reply().await.unwrap();
    let code = reply.code().get();
    if code == 250 {
        c.send(b"DATA\r\n").await;
        c.expect(354).await;
        c.send(MESSAGE).await;
        c.expect(250).await;
    } else {
        assert_eq!(reply.enhanced_status().unwrap().to_string(), "5.7.1", "{reply}");
    }
    code
}

#[tokio::test]
async fn a_listed_client_certificate_may_relay_without_auth() {
    let (cert, spki) = client_cert_fingerprints();
    for (name, listed) in [("cert", cert), ("spki", spki)] {
        let dir = tempdir();
        let server = start(dir.path(), |c| c.relay_client_certs = vec![listed]).await;
        // The listed certificate relays; the message is queued without a user.
        assert_eq!(relay_attempt(&server, true).await, 250, "{name}");
        let queue = files(&dir.path().join("queue"));
        assert_eq!(queue.len(), 2, "{queue:?}");
        let envelope = only(server.queue.list().await.unwrap()).envelope;
        assert_eq!(envelope.user, None);
        assert_eq!(envelope.recipients[0].forward_path.to_string(), "<x@elsewhere.test>");
        // TLS without a certificate does not.
        assert_eq!(relay_attempt(&server, false).await, 550, "{name}");
        assert_eq!(files(&dir.path().join("queue")).len(), 2);
        server.stop().await;
    }
}

#[tokio::test]
async fn an_unlisted_client_certificate_may_not_relay() {
    let dir = tempdir();
    // The server's own certificate is listed, not the client's.
    let chain = sealpost_starttls::read_chain(&sealpost_test_support::pki::pki("server-chain.pem"))
        .unwrap();
    let other = sealpost_starttls::sha256(chain[0].as_ref());
    assert_ne!(other, client_cert_fingerprints().0);
    let server = start(dir.path(), |c| c.relay_client_certs = vec![other]).await;
    assert_eq!(relay_attempt(&server, true).await, 550);
    // And with nothing listed, a certificate alone never relays.
    server.stop().await;
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    assert_eq!(relay_attempt(&server, true).await, 550);
    assert!(files(&dir.path().join("queue")).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn authenticated_mail_for_other_domains_is_queued_with_its_envelope() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::submission(server.addr(Role::Submission), "alice", "secret").await;
    c.send(b"MAIL FROM:<alice@mail.test> BODY=8BITMIME RET=HDRS ENVID=env+2B1\r\nRCPT TO:<bob@elsewhere.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@elsewhere.test\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n").await;
    for code in [250, 250, 250, 354] {
        c.expect(code).await;
    }
    c.send(MESSAGE).await;
    c.expect(250).await;
    let queue = files(&dir.path().join("queue"));
    assert_eq!(queue.len(), 2, "{queue:?}");
    let (message, json) = (&queue[0], &queue[1]);
    assert_eq!(message.extension().unwrap(), "eml");
    assert_eq!(json.extension().unwrap(), "json");
    assert_eq!(message.file_stem(), json.file_stem());
    let queued = only(server.queue.list().await.unwrap());
    assert_eq!(queued.id.as_str(), json.file_stem().unwrap().to_str().unwrap());
    let envelope = queued.envelope;
    assert_eq!(envelope.user.as_deref(), Some("alice"));
    assert_eq!(envelope.node, "node-a");
    assert_eq!(envelope.sender().unwrap().to_string(), "alice@mail.test");
    let params = &envelope.mail_parameters;
    assert_eq!(params.ret(), Some(sealpost_codec::Ret::Hdrs));
    assert_eq!(params.envid().unwrap().as_str(), "env+2B1");
    assert_eq!(params.body(), Some(sealpost_codec::BodyType::EightBitMime));
    assert!(envelope.client.unwrap().ip().is_loopback());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    assert!(now.as_secs().abs_diff(envelope.arrived) < 60);
    let rcpts: Vec<_> = envelope.recipients.iter().map(|r| r.forward_path.to_string()).collect();
    assert_eq!(rcpts, ["<bob@elsewhere.test>", "<carol@example.net>"]);
    assert!(envelope.recipients.iter().all(|r| r.route == RecipientRoute::Remote));
    let bob = &envelope.recipients[0].parameters;
    assert_eq!(bob.notify().unwrap().to_string(), "SUCCESS,FAILURE");
    assert_eq!(bob.orcpt().unwrap().address.as_str(), "bob@elsewhere.test");
    assert_eq!(queued.pending.len(), 2);
    assert_eq!(queued.size, server.queue.body(&queued.id).await.unwrap().len() as u64);
    let content = String::from_utf8(std::fs::read(message).unwrap()).unwrap();
    assert!(content.starts_with("Received: from client.test ([127.0.0.1])\r\n"), "{content}");
    assert!(content.contains("with ESMTPSA id"), "{content}");
    assert!(content.ends_with("\r\nSubject: test\r\n\r\nHello\r\n"), "{content}");
    assert!(files(&dir.path().join("maildir")).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn mixed_recipients_share_one_file_and_the_queue_skips_return_path() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::submission(server.addr(Role::Submission), "bob", "hunter2").await;
    let to = ["alice@mail.test", "x@elsewhere.test", "carol@other.test", "y@example.net"];
    let reply = c.transaction("bob@mail.test", &to, MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    let local = delivered(dir.path(), "mail.test", "alice");
    assert_eq!(delivered(dir.path(), "other.test", "carol"), local);
    let return_path = b"Return-Path: <bob@mail.test>\r\n";
    assert!(local.starts_with(return_path));
    assert!(local[return_path.len()..].starts_with(b"Received: from client.test"));

    let queue = files(&dir.path().join("queue"));
    assert_eq!(queue.len(), 2, "{queue:?}");
    let queued = only(server.queue.list().await.unwrap());
    let envelope = &queued.envelope;
    let rcpts: Vec<_> = envelope.recipients.iter().map(|r| r.forward_path.to_string()).collect();
    assert_eq!(rcpts, ["<x@elsewhere.test>", "<y@example.net>"]);
    assert_eq!(envelope.user.as_deref(), Some("bob"));
    // The queue hands out the message without the Maildirs' Return-Path line.
    let body = server.queue.body(&queued.id).await.unwrap();
    assert_eq!(&body[..], &local[return_path.len()..]);
    assert_eq!(std::fs::read(&queue[0]).unwrap(), local);
    // Written once: the two Maildir entries and the queue entry are one file.
    assert_eq!(std::fs::metadata(&queue[0]).unwrap().nlink(), 3);
    assert!(files(&dir.path().join("spool")).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn one_message_to_150_recipients_is_in_every_maildir() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let users: Vec<String> = (0..150).map(|i| format!("user{i}@mail.test")).collect();
    let to: Vec<&str> = users.iter().map(String::as_str).collect();
    let reply = c.transaction("s@client.test", &to, MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    let first = delivered(dir.path(), "mail.test", "user0");
    for i in 0..150 {
        assert_eq!(delivered(dir.path(), "mail.test", &format!("user{i}")), first);
    }
    let new = files(&dir.path().join("maildir/mail.test/user149/new"));
    assert_eq!(std::fs::metadata(&new[0]).unwrap().nlink(), 150);
    server.stop().await;
}

#[tokio::test]
async fn auth_plain_and_login_check_the_users_file() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let addr = server.addr(Role::Submission);
    let plain = |s: &str| sealpost_codec::sasl::encode_base64(s.as_bytes());
    let mut c = Client::greeted(addr).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    for wrong in ["\0alice\0wrong", "\0nobody\0secret", "bob\0alice\0secret"] {
        c.send(format!("AUTH PLAIN {}\r\n", plain(wrong)).as_bytes()).await;
        c.expect_status(535, "5.7.8").await;
    }
    c.send(b"AUTH LOGIN\r\n").await;
    c.expect(334).await;
    c.send(format!("{}\r\n", plain("bob")).as_bytes()).await;
    c.expect(334).await;
    c.send(format!("{}\r\n", plain("hunter2")).as_bytes()).await;
    c.expect(235).await;
    drop(c);
    // The authorization identity may name the user itself.
    let mut c = Client::greeted(addr).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(format!("AUTH PLAIN {}\r\n", plain("alice\0alice\0secret")).as_bytes()).await;
    c.expect(235).await;
    server.stop().await;

    // Without a users file every AUTH fails.
    let dir = tempdir();
    let server = start(dir.path(), |config| config.users = None).await;
    let mut c = Client::greeted(server.addr(Role::Submission)).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(format!("AUTH PLAIN {}\r\n", plain("\0alice\0secret")).as_bytes()).await;
    c.expect_status(535, "5.7.8").await;
    server.stop().await;
}

#[test]
fn startup_checks_the_configuration_and_removes_leftovers() {
    use sealpost_mta::{FileQueue, MtaConfig, MtaHandler};
    let dir = tempdir();
    let queue = std::sync::Arc::new(FileQueue::open(dir.path().join("queue")).unwrap());
    let none = MtaHandler::new(MtaConfig::new(dir.path(), vec![String::from(" ")]), queue.clone());
    assert_eq!(none.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    let mut config = MtaConfig::new(dir.path(), vec![String::from("mail.test")]);
    config.recipients = Some(vec![String::from("not an address")]);
    let error = MtaHandler::new(config, queue.clone()).unwrap_err();
    assert!(error.to_string().contains("\"not an address\""), "{error}");

    // What an interrupted run leaves in the spool goes at start.
    std::fs::write(dir.path().join("spool/1.M1P1Q1R1"), b"x").unwrap();
    let config = MtaConfig::new(dir.path(), vec![String::from("mail.test")]);
    let handler = MtaHandler::new(config, queue).unwrap();
    assert!(files(&dir.path().join("spool")).is_empty());
    let maildir = handler.store().maildir_dir().to_path_buf();
    assert_eq!(maildir, dir.path().join("maildir"));
    let mode = std::fs::metadata(&maildir).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[tokio::test]
async fn discard_handler_accepts_everything_and_stores_nothing() {
    use sealpost_server::{BoundServer, DiscardHandler, ListenerConfig, ServerSettings};
    let local = "127.0.0.1:0".parse().unwrap();
    let server = BoundServer::bind(
        std::sync::Arc::new(DiscardHandler::default()),
        ServerSettings::new("bench.test"),
        vec![ListenerConfig::new(local, Role::Mx, None)],
    )
    .await
    .unwrap();
    let addr = server.local_addrs()[0].1;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let mut c = Client::greeted(addr).await;
    for _ in 0..3 {
        let reply = c.transaction("a@b.test", &["x@anywhere.test", "y@[192.0.2.1]"], MESSAGE).await;
        assert_eq!(reply.code().get(), 250, "{reply}");
    }
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// A filter for the tests: stamps every message, gives bob a version of his own, and
/// fails on a message that asks for it.
#[derive(Debug)]
struct TestFilter;

impl sealpost_mta::filter::MessageFilter for TestFilter {
    fn filter(
        &self,
        message: &[u8],
        recipients: &[&str],
    ) -> std::io::Result<sealpost_mta::filter::Filtered> {
        let text = String::from_utf8_lossy(message);
        if text.contains("Subject: fail me") {
            return Err(std::io::Error::other("the test filter refuses this message"));
        }
        let stamp = format!("X-Filtered-For: {}\r\n", recipients.join(","));
        let stamped = sealpost_mta::headers::insert_trace_header(message, &stamp);
        let mut out = sealpost_mta::filter::Filtered::replace(stamped);
        if recipients.contains(&"bob@mail.test") {
            out = out.with_recipient(
                "bob@mail.test",
                b"Subject: for bob only\r\n\r\nsealed\r\n".to_vec(),
            );
        }
        Ok(out)
    }
}

#[tokio::test]
async fn a_filter_changes_what_local_recipients_get_but_not_the_queue() {
    let dir = tempdir();
    let server = start(dir.path(), |c| c.filter = Some(std::sync::Arc::new(TestFilter))).await;
    let mut c = Client::submission(server.addr(Role::Submission), "alice", "secret").await;
    let reply = c
        .transaction(
            "alice@mail.test",
            &["Alice@Mail.Test", "bob@mail.test", "carol@elsewhere.test"],
            MESSAGE,
        )
        .await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    // alice: the stamped message, the stamp right after Return-Path.
    let alice = String::from_utf8(delivered(dir.path(), "mail.test", "alice")).unwrap();
    assert!(
        alice.starts_with(
            "Return-Path: <alice@mail.test>\r\nX-Filtered-For: alice@mail.test,bob@mail.test\r\nReceived: "
        ),
        "{alice}"
    );
    assert!(alice.ends_with("\r\nSubject: test\r\n\r\nHello\r\n"), "{alice}");
    // bob: his own version, not a link to alice's file.
    let bob = delivered(dir.path(), "mail.test", "bob");
    assert_eq!(bob, b"Subject: for bob only\r\n\r\nsealed\r\n");
    let bob_file = &files(&dir.path().join("maildir/mail.test/bob/new"))[0];
    assert!(bob_file.to_str().unwrap().contains(&format!(",S={}", bob.len())), "{bob_file:?}");
    // The queue keeps the message as received.
    let queue = files(&dir.path().join("queue"));
    let queued = String::from_utf8(std::fs::read(&queue[0]).unwrap()).unwrap();
    assert!(!queued.contains("X-Filtered-For") && queued.ends_with("Hello\r\n"), "{queued}");
    assert!(files(&dir.path().join("spool")).is_empty());

    // A filter error is a 451 and nothing is stored anywhere.
    let reply = c
        .transaction("alice@mail.test", &["alice@mail.test"], b"Subject: fail me\r\n\r\nx\r\n.\r\n")
        .await;
    assert_eq!(reply.code().get(), 451, "{reply}");
    assert_eq!(reply.enhanced_status().unwrap().to_string(), "4.3.0");
    assert_eq!(files(&dir.path().join("maildir/mail.test/alice/new")).len(), 1);
    assert!(files(&dir.path().join("spool")).is_empty());
    server.stop().await;
}

/// The one message of a queue listing.
fn only(mut list: Vec<QueuedMessage>) -> QueuedMessage {
    assert_eq!(list.len(), 1, "{list:?}");
    list.remove(0)
}
