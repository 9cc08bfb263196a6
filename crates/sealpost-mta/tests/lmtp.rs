//! Final delivery over LMTP through the queue: each recipient's own reply after the data
//! decides its fate (delivered, retried, returned), and a retry sends only the recipients
//! still queued, so nothing is lost and nothing is delivered twice. The LMTP server is
//! sealpost-server in LMTP mode, answering per recipient as told.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use sealpost_client::LmtpTarget;
use sealpost_codec::{Command, ForwardPath};
use sealpost_mta::queue::{Body, NewMessage, QueuedEnvelope, QueuedRecipient, RecipientRoute};
use sealpost_mta::relay::{Deliverer, DeliveryJob, RecipientOutcome};
use sealpost_mta::{FileQueue, LmtpDelivery, QueueStore, Router, Worker, WorkerSettings};
use sealpost_server::{Role, Verdict};
use sealpost_test_support::server::{MemoryHandler, Running, settings, start_handler};

/// The relay of this test: nothing may go there.
struct NoRelay;

impl Deliverer for NoRelay {
    async fn deliver(&self, job: &DeliveryJob) -> Vec<RecipientOutcome> {
        panic!("a local recipient went to the relay: {job:?}");
    }
}

fn recipient(address: &str) -> QueuedRecipient {
    let forward_path = ForwardPath::Mailbox(address.parse().unwrap());
    // Parameters the mailbox server must not see (this server answers NOTIFY itself).
    let line = "RCPT TO:<x@y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y\r\n";
    let Ok((_, Command::Rcpt { parameters, .. })) = Command::decode(line.as_bytes()) else {
        panic!("RCPT")
    };
    QueuedRecipient::new(forward_path, parameters.into_owned(), RecipientRoute::Local)
}

/// sealpost-server in LMTP mode with `handler`, and the target to reach it.
async fn lmtp_server(handler: MemoryHandler) -> (Running, LmtpTarget) {
    let mut server_settings = settings();
    server_settings.session.lmtp = true;
    let server = start_handler(server_settings, handler).await;
    let target = server.addr(Role::Mx).to_string().parse().unwrap();
    (server, target)
}

/// A file queue in `dir` holding one message from `mail` (a MAIL command line) to bob,
/// carol and dave at mail.test.
async fn queue_for_three(dir: &Path, mail: &[u8], body: Bytes) -> Arc<FileQueue> {
    let queue = Arc::new(FileQueue::open(dir.join("queue")).unwrap());
    let (_, mail) = Command::decode(mail).unwrap();
    let Command::Mail { reverse_path, parameters } = mail.into_owned() else { panic!("MAIL") };
    let envelope = QueuedEnvelope::new(reverse_path, parameters)
        .recipient(recipient("bob@mail.test"))
        .recipient(recipient("carol@mail.test"))
        .recipient(recipient("dave@mail.test"));
    queue.enqueue(NewMessage::new(envelope, Body::Memory(body))).await.unwrap();
    queue
}

#[tokio::test]
async fn each_lmtp_reply_decides_its_recipient_through_the_queue() {
    let verdicts: HashMap<String, Verdict> = [
        ("carol@mail.test", Verdict::reject(452, (4, 2, 2), "Mailbox full")),
        ("dave@mail.test", Verdict::reject(550, (5, 1, 1), "No such mailbox")),
    ]
    .into_iter()
    .map(|(a, v)| (a.to_owned(), v))
    .collect();
    let handler = MemoryHandler { commit_verdicts: verdicts, ..MemoryHandler::default() };
    let (server, target) = lmtp_server(handler).await;

    let dir = tempfile::tempdir().unwrap();
    let body = Bytes::from_static(b"Received: from x\r\nSubject: lmtp\r\n\r\nhello\r\n");
    let mail = b"MAIL FROM:<alice@a.test> RET=HDRS ENVID=e1\r\n";
    let queue = queue_for_three(dir.path(), mail, body.clone()).await;

    let router =
        Arc::new(Router::new(&["mail.test".into()], None, &dir.path().join("maildir")).unwrap());
    let lmtp = LmtpDelivery::new(target, "mx.a.test", router.clone(), None);
    let worker = Worker::new(
        queue.clone(),
        Arc::new(NoRelay),
        Arc::new(lmtp),
        router,
        WorkerSettings::new("node-a", "mx.a.test"),
    );
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.delivered, pass.deferred, pass.failed, pass.notices), (1, 1, 1, 1));

    // One LMTP transaction with the three recipients, the content as queued.
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].recipients, 3);
    assert!(stored[0].content.ends_with(b"Subject: lmtp\r\n\r\nhello\r\n"));

    // Queued now: carol (retry later, with her reply) and one notice to alice about bob
    // ("delivered", he asked NOTIFY=SUCCESS) and dave ("failed").
    let list = queue.list().await.unwrap();
    let carol = list.iter().find(|m| m.envelope.sender().is_some()).unwrap();
    assert_eq!(carol.pending.len(), 1);
    assert_eq!(
        carol.envelope.recipients[carol.pending[0].index].forward_path.to_string(),
        "<carol@mail.test>"
    );
    let error = carol.pending[0].last_error.clone().unwrap();
    assert!(error.starts_with("452 4.2.2"), "{error}");
    let notices: Vec<String> = notice_bodies(&queue, &list).await;
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert!(notice.contains("Final-Recipient: rfc822; bob@mail.test\r\nOriginal-Recipient: rfc822; x@y\r\nAction: delivered\r\n"), "{notice}");
    assert!(notice.contains("Final-Recipient: rfc822; dave@mail.test\r\nOriginal-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n"), "{notice}");
    assert!(!notice.contains("carol@mail.test"), "{notice}");

    // The retry sends carol only: bob is never delivered twice. (The notices leave the
    // queue first: they would go to the relay, which this test does not have.)
    for notice in list.iter().filter(|m| m.envelope.sender().is_none()) {
        queue.delete(&notice.id).await.unwrap();
    }
    queue.retry(&carol.id).await.unwrap();
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.delivered, pass.deferred, pass.failed), (0, 1, 0));
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].recipients, 1);
    let left = queue.show(&carol.id).await.unwrap();
    assert_eq!(left.pending[0].attempts, 2);
    server.stop().await;
}

/// The content of every notice (message from `<>`) in `list`.
async fn notice_bodies(
    queue: &FileQueue,
    list: &[sealpost_mta::queue::QueuedMessage],
) -> Vec<String> {
    let mut out = Vec::new();
    for message in list.iter().filter(|m| m.envelope.sender().is_none()) {
        out.push(String::from_utf8_lossy(&queue.body(&message.id).await.unwrap()).into_owned());
    }
    out
}

/// Stamps the message for everyone, and gives bob a version of his own (as encryption at
/// rest does).
#[derive(Debug)]
struct Stamp;

impl sealpost_mta::filter::MessageFilter for Stamp {
    fn filter(
        &self,
        message: &[u8],
        recipients: &[&str],
    ) -> std::io::Result<sealpost_mta::filter::Filtered> {
        assert!(
            message.starts_with(b"Return-Path: <alice@a.test>\r\n"),
            "the filter sees Return-Path"
        );
        let stamped = sealpost_mta::headers::insert_trace_header(message, "X-Stamp: all\r\n");
        let mut out = sealpost_mta::filter::Filtered::replace(stamped);
        if recipients.contains(&"bob@mail.test") {
            let own = sealpost_mta::headers::insert_trace_header(message, "X-Stamp: bob\r\n");
            out = out.with_recipient("bob@mail.test", own);
        }
        Ok(out)
    }
}

#[tokio::test]
async fn a_filter_splits_the_recipients_into_one_transaction_per_version() {
    let (server, target) = lmtp_server(MemoryHandler::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let body = Bytes::from_static(b"Subject: versions\r\n\r\nhello\r\n");
    let queue = queue_for_three(dir.path(), b"MAIL FROM:<alice@a.test>\r\n", body).await;
    let router =
        Arc::new(Router::new(&["mail.test".into()], None, &dir.path().join("maildir")).unwrap());
    let lmtp = LmtpDelivery::new(target, "mx.a.test", router.clone(), Some(Arc::new(Stamp)));
    let worker = Worker::new(
        queue.clone(),
        Arc::new(NoRelay),
        Arc::new(lmtp),
        router,
        WorkerSettings::new("node-a", "mx.a.test"),
    );
    assert_eq!(worker.run_once().await.unwrap().delivered, 3);
    let mut stored = server.stored();
    stored.sort_by_key(|s| s.recipients);
    assert_eq!(stored.len(), 2, "one transaction per version");
    let of = |s: &sealpost_test_support::server::Stored| -> Vec<String> {
        s.envelope.recipients.iter().map(|(p, _)| p.to_string()).collect()
    };
    assert_eq!(of(&stored[0]), ["<bob@mail.test>"]);
    // Below the receiving server's own Received header: the version, without Return-Path.
    let text = |s: &sealpost_test_support::server::Stored| {
        String::from_utf8_lossy(&s.content).into_owned()
    };
    assert!(
        text(&stored[0]).ends_with("\r\nX-Stamp: bob\r\nSubject: versions\r\n\r\nhello\r\n"),
        "{}",
        text(&stored[0])
    );
    assert_eq!(of(&stored[1]), ["<carol@mail.test>", "<dave@mail.test>"]);
    assert!(
        text(&stored[1]).ends_with("\r\nX-Stamp: all\r\nSubject: versions\r\n\r\nhello\r\n"),
        "{}",
        text(&stored[1])
    );
    assert!(!text(&stored[1]).contains("Return-Path"));
    server.stop().await;
}
