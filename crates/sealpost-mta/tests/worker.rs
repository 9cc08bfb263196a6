//! The delivery worker over a real queue: messages queued by the server through
//! submission, a scripted relay, Maildir final delivery, retries with backoff, expiry,
//! and delivery status notices to local and remote senders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sealpost_mta::queue::{QueuedMessage, RecipientRoute};
use sealpost_mta::relay::{Deliverer, DeliveryJob, RecipientOutcome};
use sealpost_mta::{FileQueue, MaildirDelivery, MtaHandler, QueueStore, Worker, WorkerSettings};
use sealpost_server::Role;
use support::{Client, MESSAGE, files, start, tempdir};

/// Outcomes per address, in the order the attempts come; and every job seen.
#[derive(Default)]
struct Script {
    outcomes: Mutex<HashMap<String, VecDeque<RecipientOutcome>>>,
    jobs: Mutex<Vec<DeliveryJob>>,
}

impl Script {
    fn then(&self, address: &str, outcome: RecipientOutcome) {
        self.outcomes.lock().unwrap().entry(address.to_owned()).or_default().push_back(outcome);
    }
}

impl Deliverer for Script {
    async fn deliver(&self, job: &DeliveryJob) -> Vec<RecipientOutcome> {
        self.jobs.lock().unwrap().push(job.clone());
        let mut outcomes = self.outcomes.lock().unwrap();
        job.recipients
            .iter()
            .map(|&i| {
                let address =
                    job.envelope.recipients[i].forward_path.mailbox().unwrap().to_string();
                outcomes
                    .get_mut(&address)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_else(|| panic!("no scripted outcome left for {address}"))
            })
            .collect()
    }
}

fn delivered(reply: &str, dsn_passed_on: bool) -> RecipientOutcome {
    RecipientOutcome::Delivered {
        remote_mta: Some(String::from("mx.elsewhere.test")),
        reply: reply.to_owned(),
        dsn_passed_on,
    }
}

fn deferred(why: &str) -> RecipientOutcome {
    RecipientOutcome::Deferred { remote_mta: None, diagnostic: why.to_owned() }
}

fn failed(status: &str, why: &str) -> RecipientOutcome {
    RecipientOutcome::Failed {
        remote_mta: Some(String::from("mx.example.net")),
        status: status.to_owned(),
        diagnostic: why.to_owned(),
    }
}

/// Queues one message from `from` (as alice, over submission) to `to`.
async fn queue(dir: &Path, from: &str, to: &[&str]) {
    let server = start(dir, |_| {}).await;
    let mut c = Client::submission(server.addr(Role::Submission), "alice", "secret").await;
    let mut commands = format!("MAIL FROM:<{from}> RET=HDRS ENVID=env+2B1\r\n");
    // Each entry is an address, optionally followed by RCPT parameters.
    for rcpt in to {
        let (address, parameters) = rcpt.split_once(' ').unwrap_or((rcpt, ""));
        commands.push_str(&format!("RCPT TO:<{address}> {parameters}\r\n"));
    }
    commands.push_str("DATA\r\n");
    c.send(commands.as_bytes()).await;
    for _ in 0..=to.len() {
        c.expect(250).await;
    }
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    server.stop().await;
}

type TestWorker = Worker<FileQueue, Script, MaildirDelivery>;

fn make_worker(
    dir: &Path,
    script: &Arc<Script>,
    adjust: impl FnOnce(&mut WorkerSettings),
) -> (TestWorker, Arc<FileQueue>) {
    let queue = Arc::new(FileQueue::open(dir.join("queue")).unwrap());
    let handler = MtaHandler::new(support::config(dir), queue.clone()).unwrap();
    let local = Arc::new(MaildirDelivery::new(handler.store(), handler.router()));
    let mut settings = WorkerSettings::new("node-a", "mx.mail.test");
    adjust(&mut settings);
    (Worker::new(queue.clone(), script.clone(), local, handler.router(), settings), queue)
}

fn alice_mail(dir: &Path) -> Vec<String> {
    files(&dir.join("maildir/mail.test/alice/new"))
        .iter()
        .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn within(time: SystemTime, after: Duration) -> bool {
    let wait = time.duration_since(SystemTime::now()).unwrap_or_default();
    wait <= after && wait + Duration::from_secs(30) >= after
}

async fn only(queue: &FileQueue) -> QueuedMessage {
    let mut list = queue.list().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    list.remove(0)
}

#[tokio::test]
async fn deliver_retry_expire_and_notify_a_local_sender() {
    let dir = tempdir();
    queue(
        dir.path(),
        "alice@mail.test",
        &[
            "bob@elsewhere.test NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@elsewhere.test",
            "carol@example.net",
            "dave@example.net NOTIFY=NEVER",
        ],
    )
    .await;
    let script = Arc::new(Script::default());
    script.then("bob@elsewhere.test", delivered("250 2.0.0 queued as 1A", false));
    script.then("carol@example.net", deferred("451 4.3.0 busy"));
    script.then("dave@example.net", failed("5.1.1", "550 5.1.1 no such user"));
    let (worker, queue) = make_worker(dir.path(), &script, |_| {});

    let pass = worker.run_once().await.unwrap();
    let counts = (pass.attempted, pass.delivered, pass.deferred, pass.failed, pass.notices);
    assert_eq!((counts, pass.errors, pass.lost), ((1, 1, 1, 1, 1), 0, 0));
    // The job carried the message as received, without Return-Path.
    let job = script.jobs.lock().unwrap()[0].clone();
    assert!(job.message.starts_with(b"Received: "), "{}", String::from_utf8_lossy(&job.message));
    assert!(job.message.ends_with(b"Subject: test\r\n\r\nHello\r\n"));
    // The notice is queued for alice's Maildir, and the next pass stores it there.
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.attempted, pass.delivered), (1, 1));
    // bob asked for SUCCESS and the next hop did not pass it on: "relayed"; dave said NEVER.
    let notices = alice_mail(dir.path());
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert!(
        notice.starts_with(
            "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.mail.test>\r\n"
        ),
        "{notice}"
    );
    assert!(notice.contains("Original-Envelope-Id: env+1\r\n"), "{notice}");
    assert!(notice.contains("Final-Recipient: rfc822; bob@elsewhere.test\r\nOriginal-Recipient: rfc822; bob@elsewhere.test\r\nAction: relayed\r\nStatus: 2.0.0\r\n"), "{notice}");
    assert!(!notice.contains("dave@example.net"), "{notice}");
    // RET=HDRS: the headers of the message, not its body.
    assert!(notice.contains("Content-Type: text/rfc822-headers") && !notice.contains("Hello"));
    // carol stays, with her reason and a time for the next attempt.
    let left = only(&queue).await;
    assert_eq!(left.pending.len(), 1);
    let carol = &left.pending[0];
    assert_eq!(
        left.envelope.recipients[carol.index].forward_path.to_string(),
        "<carol@example.net>"
    );
    assert_eq!(carol.last_error.as_deref(), Some("451 4.3.0 busy"));
    assert_eq!(carol.attempts, 1);
    assert!(within(carol.next_attempt, Duration::from_secs(300)), "{carol:?}");

    // Not due yet: nothing happens.
    assert_eq!(worker.run_once().await.unwrap().attempted, 0);
    // Due (made so by hand), deferred again: the second wait is longer.
    queue.retry(&left.id).await.unwrap();
    script.then("carol@example.net", deferred("421 4.4.2 timeout"));
    assert_eq!(worker.run_once().await.unwrap().deferred, 1);
    let carol = only(&queue).await.pending[0].clone();
    assert_eq!(carol.attempts, 2);
    assert!(within(carol.next_attempt, Duration::from_secs(600)), "{carol:?}");

    // Past the maximum age, still deferred: it expires, alice hears of it, the queue is
    // empty.
    let (expiring, _) = make_worker(dir.path(), &script, |s| s.max_age = Duration::ZERO);
    queue.retry(&left.id).await.unwrap();
    script.then("carol@example.net", deferred("421 4.4.2 timeout"));
    let pass = expiring.run_once().await.unwrap();
    assert_eq!((pass.failed, pass.notices), (1, 1));
    expiring.run_once().await.unwrap();
    let notices = alice_mail(dir.path());
    let expiry = notices.iter().find(|n| n.contains("carol@example.net")).unwrap();
    assert!(expiry.contains("Action: failed\r\nStatus: 4.4.7\r\n"), "{expiry}");
    assert!(expiry.contains("delivery time expired; last error: 421 4.4.2 timeout"), "{expiry}");
    assert!(expiry.contains("Subject: Undelivered Mail Returned to Sender"), "{expiry}");
    assert!(queue.list().await.unwrap().is_empty());
    assert!(files(&dir.path().join("queue")).is_empty(), "{:?}", files(&dir.path().join("queue")));
}

#[tokio::test]
async fn a_remote_sender_gets_a_queued_notice_and_the_null_sender_none() {
    let dir = tempdir();
    queue(dir.path(), "alice@example.org", &["bob@elsewhere.test"]).await;
    let script = Arc::new(Script::default());
    script.then("bob@elsewhere.test", failed("5.7.1", "550 5.7.1 refused"));
    let (worker, queue) = make_worker(dir.path(), &script, |_| {});
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.failed, pass.notices), (1, 1));
    // The notice is queued from <> to the sender, as a multipart/report, for the relay.
    let notice = only(&queue).await;
    assert_eq!(notice.envelope.sender(), None);
    let to = &notice.envelope.recipients[0];
    assert_eq!(
        (to.forward_path.to_string().as_str(), to.route),
        ("<alice@example.org>", RecipientRoute::Remote)
    );
    let eml = queue.body(&notice.id).await.unwrap();
    let eml = String::from_utf8_lossy(&eml);
    assert!(eml.contains("report-type=delivery-status") && eml.contains("Status: 5.7.1"), "{eml}");
    // When that notice fails too, nobody is notified (never a notice to <>).
    script.then("alice@example.org", failed("5.1.1", "550 5.1.1 gone"));
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.failed, pass.notices), (1, 0));
    assert!(queue.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_outcome_count_defers_and_keeps_the_message() {
    let dir = tempdir();
    queue(dir.path(), "alice@mail.test", &["bob@elsewhere.test"]).await;
    // No outcome scripted: a deliverer that answers nothing at all.
    struct Mute;
    impl Deliverer for Mute {
        async fn deliver(&self, _job: &DeliveryJob) -> Vec<RecipientOutcome> {
            Vec::new()
        }
    }
    let queue = Arc::new(FileQueue::open(dir.path().join("queue")).unwrap());
    let handler = MtaHandler::new(support::config(dir.path()), queue.clone()).unwrap();
    let local = Arc::new(MaildirDelivery::new(handler.store(), handler.router()));
    let worker = Worker::new(
        queue.clone(),
        Arc::new(Mute),
        local,
        handler.router(),
        WorkerSettings::new("n", "mx.test"),
    );
    assert_eq!(worker.run_once().await.unwrap().deferred, 1);
    let left = only(&queue).await;
    assert_eq!(
        left.pending[0].last_error.as_deref(),
        Some("the deliverer answered 0 outcomes for 1 recipients")
    );
}

#[tokio::test]
async fn in_queue_mode_local_mail_waits_for_the_worker() {
    let dir = tempdir();
    let server = start(dir.path(), |c| c.local_mail = sealpost_mta::LocalMail::Queue).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let reply = c
        .transaction("someone@client.test", &["alice@mail.test", "carol@other.test"], MESSAGE)
        .await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    server.stop().await;
    // Accepted into the queue only.
    assert!(alice_mail(dir.path()).is_empty());
    let script = Arc::new(Script::default());
    let (worker, queue) = make_worker(dir.path(), &script, |_| {});
    let queued = only(&queue).await;
    assert!(queued.envelope.recipients.iter().all(|r| r.route == RecipientRoute::Local));
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.delivered, pass.notices), (2, 0));
    assert!(script.jobs.lock().unwrap().is_empty(), "nothing went to the relay");
    let mail = alice_mail(dir.path());
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].starts_with("Return-Path: <someone@client.test>\r\nReceived: from client.test"),
        "{}",
        mail[0]
    );
    assert_eq!(files(&dir.path().join("maildir/other.test/carol/new")).len(), 1);
    assert!(queue.list().await.unwrap().is_empty());
}
