//! The relay worker over a real queue: messages queued by the server through submission,
//! a scripted deliverer, retries with backoff, expiry, and delivery status notices to
//! local and remote senders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use sealpost_server::queue::QueueEnvelope;
use sealpost_server::relay::{
    Deliverer, PassSummary, RecipientOutcome, RelayJob, RelaySettings, RelayWorker,
};
use sealpost_server::{MtaConfig, MtaHandler, Role};
use support::{Client, MESSAGE, TempDir, files, start};

/// Outcomes per address, in the order the attempts come; and every job seen.
#[derive(Default)]
struct Script {
    outcomes: Mutex<HashMap<String, VecDeque<RecipientOutcome>>>,
    jobs: Mutex<Vec<RelayJob>>,
}

impl Script {
    fn then(&self, address: &str, outcome: RecipientOutcome) {
        self.outcomes.lock().unwrap().entry(address.to_owned()).or_default().push_back(outcome);
    }
}

impl Deliverer for Script {
    async fn deliver(&self, job: &RelayJob) -> Vec<RecipientOutcome> {
        self.jobs.lock().unwrap().push(job.clone());
        let mut outcomes = self.outcomes.lock().unwrap();
        job.envelope
            .recipients
            .iter()
            .map(|r| {
                outcomes
                    .get_mut(&r.address)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_else(|| panic!("no scripted outcome left for {}", r.address))
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

fn envelopes(dir: &Path) -> Vec<QueueEnvelope> {
    files(&dir.join("queue"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| QueueEnvelope::from_json(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn worker(dir: &Path, script: &Arc<Script>) -> RelayWorker<Script> {
    let mut config = MtaConfig::new(dir, vec![String::from("mail.test")]);
    config.hostname = String::from("mx.mail.test");
    let local = Arc::new(MtaHandler::new(config).unwrap());
    RelayWorker::new(dir.join("queue"), script.clone(), RelaySettings::new("mx.mail.test"))
        .with_local(local)
}

fn alice_notices(dir: &Path) -> Vec<String> {
    files(&dir.join("maildir/mail.test/alice/new"))
        .iter()
        .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn deliver_retry_expire_and_notify_a_local_sender() {
    let dir = TempDir::new("relay-local");
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
    let worker = worker(dir.path(), &script);
    let t0 = envelopes(dir.path())[0].arrived;

    let pass = worker.run_once(t0).await.unwrap();
    let counts = (pass.attempted, pass.delivered, pass.deferred, pass.failed, pass.notices);
    assert_eq!((counts, pass.errors), ((1, 1, 1, 1, 1), 0));
    // The job carried the message as received, without Return-Path.
    let job = script.jobs.lock().unwrap()[0].clone();
    assert!(job.message.starts_with(b"Received: "), "{}", String::from_utf8_lossy(&job.message));
    assert!(job.message.ends_with(b"Subject: test\r\n\r\nHello\r\n"));
    // bob asked for SUCCESS and the next hop did not pass it on: "relayed"; dave said NEVER.
    let notices = alice_notices(dir.path());
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
    let left = envelopes(dir.path());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].recipients.len(), 1);
    assert_eq!(left[0].recipients[0].address, "carol@example.net");
    assert_eq!(left[0].recipients[0].last_error.as_deref(), Some("451 4.3.0 busy"));
    assert_eq!((left[0].attempts, left[0].next_attempt), (1, t0 + 300));

    // Not due yet: nothing happens.
    assert_eq!(worker.run_once(t0 + 299).await.unwrap(), PassSummary::default());
    // Due, deferred again: the second wait is longer.
    script.then("carol@example.net", deferred("421 4.4.2 timeout"));
    assert_eq!(worker.run_once(t0 + 300).await.unwrap().deferred, 1);
    let left = envelopes(dir.path());
    assert_eq!((left[0].attempts, left[0].next_attempt), (2, t0 + 300 + 600));

    // Five days on, still deferred: it expires, alice hears of it, the queue is empty.
    script.then("carol@example.net", deferred("421 4.4.2 timeout"));
    let pass = worker.run_once(t0 + 5 * 24 * 3600).await.unwrap();
    assert_eq!((pass.failed, pass.notices), (1, 1));
    let notices = alice_notices(dir.path());
    let expiry = notices.iter().find(|n| n.contains("carol@example.net")).unwrap();
    assert!(expiry.contains("Action: failed\r\nStatus: 4.4.7\r\n"), "{expiry}");
    assert!(expiry.contains("delivery time expired; last error: 421 4.4.2 timeout"), "{expiry}");
    assert!(expiry.contains("Subject: Undelivered Mail Returned to Sender"), "{expiry}");
    assert!(files(&dir.path().join("queue")).is_empty(), "{:?}", files(&dir.path().join("queue")));
}

#[tokio::test]
async fn a_remote_sender_gets_a_queued_notice_and_the_null_sender_none() {
    let dir = TempDir::new("relay-remote");
    queue(dir.path(), "alice@example.org", &["bob@elsewhere.test"]).await;
    let script = Arc::new(Script::default());
    script.then("bob@elsewhere.test", failed("5.7.1", "550 5.7.1 refused"));
    let worker = worker(dir.path(), &script);
    let pass = worker.run_once(u64::MAX / 2).await.unwrap();
    assert_eq!((pass.failed, pass.notices), (1, 1));
    // The notice is queued from <> to the sender, as a multipart/report.
    let queued = envelopes(dir.path());
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].sender, "");
    assert_eq!(queued[0].recipients[0].address, "alice@example.org");
    let eml =
        std::fs::read_to_string(dir.path().join(format!("queue/{}.eml", queued[0].id))).unwrap();
    assert!(eml.contains("report-type=delivery-status") && eml.contains("Status: 5.7.1"), "{eml}");
    // When that notice fails too, nobody is notified (never a notice to <>).
    script.then("alice@example.org", failed("5.1.1", "550 5.1.1 gone"));
    let pass = worker.run_once(u64::MAX / 2).await.unwrap();
    assert_eq!((pass.failed, pass.notices), (1, 0));
    assert!(files(&dir.path().join("queue")).is_empty());
}

#[tokio::test]
async fn a_wrong_outcome_count_defers_and_keeps_the_message() {
    /// Answers nothing at all.
    struct Mute;
    impl Deliverer for Mute {
        async fn deliver(&self, _job: &RelayJob) -> Vec<RecipientOutcome> {
            Vec::new()
        }
    }
    let dir = TempDir::new("relay-mute");
    queue(dir.path(), "alice@mail.test", &["bob@elsewhere.test"]).await;
    let worker =
        RelayWorker::new(dir.path().join("queue"), Arc::new(Mute), RelaySettings::new("mx.test"));
    let arrived = envelopes(dir.path())[0].arrived;
    let pass = worker.run_once(arrived).await.unwrap();
    assert_eq!(pass.deferred, 1);
    let left = envelopes(dir.path());
    assert_eq!(
        left[0].recipients[0].last_error.as_deref(),
        Some("the deliverer answered 0 outcomes for 1 recipients")
    );
}
