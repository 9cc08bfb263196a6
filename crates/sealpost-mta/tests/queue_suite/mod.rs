//! The behaviour every [`QueueStore`] backend must show, written once over a
//! [`Harness`] and run by `queue_file.rs` (FileQueue) and `queue_postgres.rs`
//! (PostgresQueue). Leases are short (about a second) so the suite stays fast.

// Each runner uses every case, but the compiler checks each test file on its own.
#![allow(dead_code)]

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use sealpost_codec::{Command, MailParameter};
use sealpost_mta::QueueStore;
use sealpost_mta::queue::{
    Body, NewMessage, QueueError, QueueId, QueuedEnvelope, QueuedRecipient, RecipientRoute,
    Settlement,
};

/// How a runner makes stores.
pub(crate) trait Harness: Sync {
    /// The backend.
    type Q: QueueStore + Clone;
    /// A new handle on the runner's storage, as another node (or a restarted one)
    /// would open it.
    fn open(&self) -> impl Future<Output = Self::Q> + Send;
    /// Another node of a deployment that shares work with `queue` (for the file queue,
    /// a single-node store, that is the same process and so the same handle).
    fn peer(&self, queue: &Self::Q) -> impl Future<Output = Self::Q> + Send;
    /// A directory for spool files.
    fn scratch(&self) -> &Path;
}

const LEASE: Duration = Duration::from_millis(1000);

/// An envelope from a MAIL line and RCPT lines (as a session parsed them).
pub(crate) fn envelope(mail: &str, rcpts: &[&str]) -> QueuedEnvelope {
    let line = format!("{mail}\r\n");
    let Ok((_, Command::Mail { reverse_path, parameters })) = Command::decode(line.as_bytes())
    else {
        panic!("MAIL line {mail:?}")
    };
    let mut envelope = QueuedEnvelope::new(reverse_path.into_owned(), parameters.into_owned());
    for rcpt in rcpts {
        let line = format!("{rcpt}\r\n");
        let Ok((_, Command::Rcpt { forward_path, parameters })) = Command::decode(line.as_bytes())
        else {
            panic!("RCPT line {rcpt:?}")
        };
        let route = if rcpt.contains("@mail.test") {
            RecipientRoute::Local
        } else {
            RecipientRoute::Remote
        };
        envelope.recipients.push(QueuedRecipient::new(
            forward_path.into_owned(),
            parameters.into_owned(),
            route,
        ));
    }
    envelope.session = String::from("s1");
    envelope.client = Some("192.0.2.1:50123".parse().unwrap());
    envelope.user = Some(String::from("alice"));
    envelope.node = String::from("node-a");
    envelope
}

/// A message to `count` remote recipients, in memory.
pub(crate) fn message(count: usize) -> NewMessage {
    let rcpts: Vec<String> = (0..count).map(|i| format!("RCPT TO:<r{i}@example.net>")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    NewMessage::new(
        envelope("MAIL FROM:<alice@example.org>", &rcpts),
        Body::Memory(Bytes::from_static(b"Subject: hi\r\n\r\nHello\r\n")),
    )
}

fn indexes(claim: &sealpost_mta::queue::Claim) -> Vec<usize> {
    claim.recipients.iter().map(|r| r.index).collect()
}

/// Enqueue, then list, show and body give back the typed envelope and the content: DSN
/// parameters, SMTPUTF8, REQUIRETLS, BODY; a spooled body without its prefix.
pub(crate) async fn round_trip<H: Harness>(h: &H) {
    let queue = h.open().await;
    let typed = envelope(
        "MAIL FROM:<ålice@exämple.org> BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS ENVID=QQ+2B1",
        &[
            "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net",
            "RCPT TO:<carol@mail.test> NOTIFY=NEVER",
        ],
    );
    assert!(typed.mail_parameters.iter().any(|p| matches!(p, MailParameter::RequireTls)));
    let prefix = b"Return-Path: <alice@example.org>\r\n";
    let content = "Subject: héllo\r\n\r\nBody ünïcode\r\n".as_bytes();
    let spool = h.scratch().join("spooled-message");
    std::fs::write(&spool, [&prefix[..], content].concat()).unwrap();
    let spooled = NewMessage::new(
        typed.clone(),
        Body::Spooled { path: spool.clone(), offset: prefix.len() as u64 },
    );
    let id = spooled.id.clone();
    queue.enqueue(spooled).await.unwrap();
    let mut later = message(1);
    later.envelope.arrived = typed.arrived + 10;
    let later_id = later.id.clone();
    queue.enqueue(later).await.unwrap();

    let list = queue.list().await.unwrap();
    let ids: Vec<&QueueId> = list.iter().map(|m| &m.id).collect();
    assert_eq!(ids, [&id, &later_id], "oldest first");
    let shown = queue.show(&id).await.unwrap();
    assert_eq!(shown.envelope, typed);
    assert_eq!(list[0].envelope, typed);
    assert_eq!(shown.size, content.len() as u64);
    assert_eq!(shown.envelope.mail_parameters.envid().unwrap().as_str(), "QQ+2B1");
    assert_eq!(
        shown.envelope.recipients[0].parameters.orcpt().unwrap().address.as_str(),
        "bob@example.net"
    );
    assert_eq!(shown.envelope.recipients[1].route, RecipientRoute::Local);
    let pending: Vec<(usize, u32)> = shown.pending.iter().map(|p| (p.index, p.attempts)).collect();
    assert_eq!(pending, [(0, 0), (1, 0)]);
    assert!(shown.pending.iter().all(|p| p.leased_to.is_none() && p.last_error.is_none()));
    assert!(shown.pending.iter().all(|p| p.next_attempt <= SystemTime::now()));
    assert_eq!(&queue.body(&id).await.unwrap()[..], content);
    assert_eq!(&queue.body(&later_id).await.unwrap()[..], b"Subject: hi\r\n\r\nHello\r\n");

    let unknown: QueueId = "no-such-id".parse().unwrap();
    assert!(matches!(queue.show(&unknown).await, Err(QueueError::NotFound(_))));
    assert!(matches!(queue.body(&unknown).await, Err(QueueError::NotFound(_))));
}

/// Delivered and failed recipients leave; a deferred one keeps its error, counts an
/// attempt, is not due before its time, and `retry` makes it due; the message leaves
/// with its last recipient.
pub(crate) async fn settle_outcomes<H: Harness>(h: &H) {
    let queue = h.open().await;
    let new = message(3);
    let id = new.id.clone();
    queue.enqueue(new).await.unwrap();
    let claims = queue.claim("w1", LEASE, 4).await.unwrap();
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    assert_eq!(claim.lease.id, id);
    assert_eq!(indexes(claim), [0, 1, 2]);
    assert!(claim.recipients.iter().all(|r| r.attempts == 0 && r.last_error.is_none()));
    assert_eq!(claim.envelope.recipients.len(), 3);
    let before = SystemTime::now();
    let outcomes = [
        (0, Settlement::Delivered),
        (1, Settlement::Failed),
        (
            2,
            Settlement::Deferred {
                retry_after: Duration::from_secs(600),
                error: String::from("451 4.3.0 later"),
            },
        ),
    ];
    queue.settle(&claim.lease, &outcomes, Vec::new()).await.unwrap();

    let shown = queue.show(&id).await.unwrap();
    assert_eq!(shown.pending.len(), 1);
    let left = &shown.pending[0];
    assert_eq!((left.index, left.attempts), (2, 1));
    assert_eq!(left.last_error.as_deref(), Some("451 4.3.0 later"));
    assert!(left.leased_to.is_none());
    assert!(left.next_attempt >= before + Duration::from_secs(590), "{:?}", left.next_attempt);
    assert!(queue.claim("w2", LEASE, 4).await.unwrap().is_empty(), "not due yet");
    let due = queue.next_due().await.unwrap().unwrap();
    assert!(due >= before + Duration::from_secs(590));

    queue.retry(&id).await.unwrap();
    let claims = queue.claim("w2", LEASE, 4).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(indexes(&claims[0]), [2]);
    assert_eq!(claims[0].recipients[0].attempts, 1);
    assert_eq!(claims[0].recipients[0].last_error.as_deref(), Some("451 4.3.0 later"));
    assert!(claims[0].lease.token > claim.lease.token);
    queue.settle(&claims[0].lease, &[(2, Settlement::Delivered)], Vec::new()).await.unwrap();
    assert!(matches!(queue.show(&id).await, Err(QueueError::NotFound(_))));
    assert!(matches!(queue.body(&id).await, Err(QueueError::NotFound(_))));
    assert!(queue.list().await.unwrap().is_empty());
    assert_eq!(queue.next_due().await.unwrap(), None);
}

/// Notices are queued by the settle call that records the failure; recipients of the
/// claim without an outcome are released, due at once.
pub(crate) async fn notices_and_release<H: Harness>(h: &H) {
    let queue = h.open().await;
    let new = message(2);
    let id = new.id.clone();
    queue.enqueue(new).await.unwrap();
    let claim = queue.claim("w1", LEASE * 30, 1).await.unwrap().remove(0);
    let notice = NewMessage::new(
        envelope("MAIL FROM:<>", &["RCPT TO:<alice@example.org>"]),
        Body::Memory(Bytes::from_static(b"Subject: failed\r\n\r\nsorry\r\n")),
    );
    let notice_id = notice.id.clone();
    queue.settle(&claim.lease, &[(0, Settlement::Failed)], vec![notice]).await.unwrap();
    let list = queue.list().await.unwrap();
    assert_eq!(list.len(), 2);
    let shown = queue.show(&notice_id).await.unwrap();
    assert!(shown.envelope.sender().is_none(), "from <>");
    assert_eq!(&queue.body(&notice_id).await.unwrap()[..], b"Subject: failed\r\n\r\nsorry\r\n");
    // Recipient 1 had no outcome: released, and due again now.
    let original = queue.show(&id).await.unwrap();
    let pending: Vec<(usize, u32)> =
        original.pending.iter().map(|p| (p.index, p.attempts)).collect();
    assert_eq!(pending, [(1, 0)]);
    assert!(original.pending[0].leased_to.is_none());
    let mut again = queue.claim("w2", LEASE, 4).await.unwrap();
    again.sort_by(|a, b| a.lease.id.cmp(&b.lease.id));
    let claimed: HashSet<(QueueId, usize)> = again
        .iter()
        .flat_map(|c| c.recipients.iter().map(|r| (c.lease.id.clone(), r.index)))
        .collect();
    assert_eq!(claimed, HashSet::from([(id, 1), (notice_id, 0)]));
}

/// Two nodes claiming at once, many messages: no recipient is handed out twice, and
/// together they get every one.
pub(crate) async fn concurrent_claims<H: Harness>(h: &H) {
    const MESSAGES: usize = 40;
    let first = Arc::new(h.open().await);
    let second = Arc::new(h.open().await);
    let mut all = HashSet::new();
    for i in 0..MESSAGES {
        let new = message(1 + i % 3);
        for r in 0..new.envelope.recipients.len() {
            all.insert((new.id.clone(), r));
        }
        first.enqueue(new).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let queue = if worker % 2 == 0 { first.clone() } else { second.clone() };
        tasks.spawn(async move {
            let owner = format!("worker-{worker}");
            let mut got = Vec::new();
            let mut empty = 0;
            // Bounded: each pass either claims something or counts towards the end.
            for _ in 0..500 {
                let claims = queue.claim(&owner, Duration::from_secs(30), 3).await.unwrap();
                if claims.is_empty() {
                    empty += 1;
                    if empty == 3 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                empty = 0;
                for claim in claims {
                    let outcomes: Vec<(usize, Settlement)> =
                        claim.recipients.iter().map(|r| (r.index, Settlement::Delivered)).collect();
                    got.extend(claim.recipients.iter().map(|r| (claim.lease.id.clone(), r.index)));
                    queue.settle(&claim.lease, &outcomes, Vec::new()).await.unwrap();
                }
            }
            got
        });
    }
    let mut seen = HashSet::new();
    let mut per_worker = Vec::new();
    while let Some(got) = tasks.join_next().await {
        let got = got.unwrap();
        per_worker.push(got.len());
        for key in got {
            assert!(seen.insert(key.clone()), "{key:?} was claimed twice");
        }
    }
    assert_eq!(seen, all, "together the workers got every recipient");
    assert!(first.list().await.unwrap().is_empty());
    eprintln!("recipients per worker: {per_worker:?}");
}

/// A worker that dies mid-delivery: its recipients stay leased until the lease ends,
/// are claimable after, and its late settle is refused and changes nothing.
pub(crate) async fn dead_worker<H: Harness>(h: &H) {
    let dead = h.open().await;
    let alive = h.open().await;
    let new = message(2);
    let id = new.id.clone();
    dead.enqueue(new).await.unwrap();
    let old = dead.claim("dead", LEASE, 4).await.unwrap().remove(0);
    assert!(alive.claim("alive", LEASE, 4).await.unwrap().is_empty(), "leased");
    match alive.claim_message(&id, "admin", LEASE).await {
        Err(QueueError::Busy { id: busy, owner }) => {
            assert_eq!((busy, owner.as_str()), (id.clone(), "dead"))
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    let leased = alive.show(&id).await.unwrap();
    assert!(
        leased.pending.iter().all(|p| p.leased_to.as_ref().map(|l| l.0.as_str()) == Some("dead"))
    );
    let due = alive.next_due().await.unwrap().unwrap();
    assert!(due >= old.lease.expires - Duration::from_millis(1), "due when the lease ends");

    tokio::time::sleep(wait_past(old.lease.expires)).await;
    let new = alive.claim("alive", LEASE * 30, 4).await.unwrap().remove(0);
    assert_eq!(indexes(&new), [0, 1]);
    assert!(new.lease.token > old.lease.token);

    let late = NewMessage::new(
        envelope("MAIL FROM:<>", &["RCPT TO:<alice@example.org>"]),
        Body::Memory(Bytes::from_static(b"Subject: late\r\n\r\n")),
    );
    let refused = dead.settle(&old.lease, &[(0, Settlement::Failed)], vec![late]).await;
    assert!(
        matches!(refused, Err(QueueError::LeaseLost { ref id, token }) if *id == old.lease.id && token == old.lease.token),
        "{refused:?}"
    );
    assert!(matches!(dead.renew(&old.lease, LEASE).await, Err(QueueError::LeaseLost { .. })));
    let list = alive.list().await.unwrap();
    assert_eq!(list.len(), 1, "no notice from the refused settle");
    let pending: Vec<(usize, u32, Option<&str>)> = list[0]
        .pending
        .iter()
        .map(|p| (p.index, p.attempts, p.leased_to.as_ref().map(|l| l.0.as_str())))
        .collect();
    assert_eq!(pending, [(0, 0, Some("alive")), (1, 0, Some("alive"))]);
    alive
        .settle(&new.lease, &[(0, Settlement::Delivered), (1, Settlement::Delivered)], Vec::new())
        .await
        .unwrap();
    assert!(alive.list().await.unwrap().is_empty());
}

/// How long to sleep until `expires` has passed (with a margin for clock granularity).
fn wait_past(expires: SystemTime) -> Duration {
    expires.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_millis(150)
}

/// `renew` keeps a lease past its first end, with its token; a settle under it works.
pub(crate) async fn renew_keeps_the_lease<H: Harness>(h: &H) {
    let queue = h.open().await;
    let other = h.open().await;
    let new = message(1);
    let id = new.id.clone();
    queue.enqueue(new).await.unwrap();
    let claim = queue.claim("w1", LEASE, 4).await.unwrap().remove(0);
    tokio::time::sleep(LEASE / 2).await;
    let renewed = queue.renew(&claim.lease, LEASE * 3).await.unwrap();
    assert_eq!(renewed.token, claim.lease.token);
    assert!(renewed.expires > claim.lease.expires);
    tokio::time::sleep(wait_past(claim.lease.expires)).await;
    assert!(other.claim("w2", LEASE, 4).await.unwrap().is_empty(), "still leased");
    assert!(matches!(other.claim_message(&id, "admin", LEASE).await, Err(QueueError::Busy { .. })));
    queue.settle(&renewed, &[(0, Settlement::Delivered)], Vec::new()).await.unwrap();
    assert!(queue.list().await.unwrap().is_empty());
}

/// An administrator claims a message whether due or not, unless a worker holds it;
/// `delete` removes a message; unknown ids are `NotFound`.
pub(crate) async fn claim_message_and_delete<H: Harness>(h: &H) {
    let queue = h.open().await;
    let new = message(2);
    let id = new.id.clone();
    queue.enqueue(new).await.unwrap();
    let claim = queue.claim("w1", LEASE, 4).await.unwrap().remove(0);
    let later = Settlement::Deferred { retry_after: Duration::from_secs(3600), error: "x".into() };
    queue.settle(&claim.lease, &[(0, later.clone()), (1, later)], Vec::new()).await.unwrap();
    assert!(queue.claim("w1", LEASE, 4).await.unwrap().is_empty());
    let admin = queue.claim_message(&id, "admin", LEASE * 30).await.unwrap();
    assert_eq!(indexes(&admin), [0, 1]);
    assert!(admin.recipients.iter().all(|r| r.attempts == 1));
    assert_eq!(admin.envelope.recipients.len(), 2);
    assert!(matches!(
        queue.claim_message(&id, "admin2", LEASE).await,
        Err(QueueError::Busy { owner, .. }) if owner == "admin"
    ));
    queue.delete(&id).await.unwrap();
    assert!(matches!(queue.show(&id).await, Err(QueueError::NotFound(_))));
    assert!(matches!(queue.delete(&id).await, Err(QueueError::NotFound(_))));
    assert!(matches!(queue.retry(&id).await, Err(QueueError::NotFound(_))));
    assert!(matches!(queue.claim_message(&id, "a", LEASE).await, Err(QueueError::NotFound(_))));
    assert!(matches!(
        queue.settle(&admin.lease, &[(0, Settlement::Delivered)], Vec::new()).await,
        Err(QueueError::LeaseLost { .. })
    ));
    assert!(queue.list().await.unwrap().is_empty());
}

/// A restarted node finds the queue as it was, leases included.
pub(crate) async fn restart<H: Harness>(h: &H) {
    let (first_id, second_id, lease) = {
        let queue = h.open().await;
        let (first, second) = (message(1), message(2));
        let ids = (first.id.clone(), second.id.clone());
        queue.enqueue(first).await.unwrap();
        let lease = queue.claim("old", Duration::from_secs(30), 1).await.unwrap().remove(0).lease;
        assert_eq!(lease.id, ids.0);
        queue.enqueue(second).await.unwrap();
        (ids.0, ids.1, lease)
    };
    let queue = h.open().await;
    let list = queue.list().await.unwrap();
    let ids: HashSet<&QueueId> = list.iter().map(|m| &m.id).collect();
    assert_eq!(ids, HashSet::from([&first_id, &second_id]));
    let first = queue.show(&first_id).await.unwrap();
    assert_eq!(first.pending[0].leased_to.as_ref().map(|l| l.0.as_str()), Some("old"));
    let claims = queue.claim("new", LEASE, 4).await.unwrap();
    assert_eq!(claims.len(), 1, "the leased message stays with its worker");
    assert_eq!(claims[0].lease.id, second_id);
    assert_eq!(indexes(&claims[0]), [0, 1]);
    // The lease is the store's data, not the process's: it still settles.
    queue.settle(&lease, &[(0, Settlement::Delivered)], Vec::new()).await.unwrap();
    assert!(matches!(queue.show(&first_id).await, Err(QueueError::NotFound(_))));
}

/// `wait_for_work` returns when another node enqueues, and otherwise at its timeout.
pub(crate) async fn wake_on_enqueue<H: Harness>(h: &H) {
    let queue = h.open().await;
    let peer = h.peer(&queue).await;
    let start = Instant::now();
    queue.wait_for_work(Duration::from_millis(300)).await;
    assert!(start.elapsed() >= Duration::from_millis(290), "nothing to wake it");
    woken_by(&queue, &peer).await;
}

/// Asserts that an enqueue on `peer` ends a long wait of `queue` early.
pub(crate) async fn woken_by<Q: QueueStore + Clone>(queue: &Q, peer: &Q) {
    let waiting = queue.clone();
    let wait = tokio::spawn(async move {
        let start = Instant::now();
        waiting.wait_for_work(Duration::from_secs(20)).await;
        start.elapsed()
    });
    // Let the waiter start waiting first (a wake-up with nobody waiting is not kept).
    tokio::time::sleep(Duration::from_millis(200)).await;
    peer.enqueue(message(1)).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(30), wait).await.unwrap().unwrap();
    assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
}
