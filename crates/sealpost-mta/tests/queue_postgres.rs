//! The queue behaviour suite (`queue_suite`) on [`PostgresQueue`], each test on a private
//! PostgreSQL cluster (sealpost-test-support's [`PgCluster`]); then what only a database
//! does: outages, failover to another host, migrations, password logins.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod queue_suite;

use std::path::Path;
use std::time::{Duration, Instant};

use sealpost_codec::Secret;
use sealpost_mta::QueueStore;
use sealpost_mta::queue::{PostgresConfig, PostgresQueue, QueueError};
use sealpost_test_support::PgCluster;
use tempfile::TempDir;

struct Database {
    cluster: PgCluster,
    scratch: TempDir,
}

impl Database {
    fn new() -> Self {
        Database { cluster: PgCluster::new(), scratch: tempfile::tempdir().unwrap() }
    }
}

/// Short timeouts, so that an outage shows within seconds.
fn config(url: String) -> PostgresConfig {
    let mut config = PostgresConfig::new(url);
    config.password = Some(Secret::new(String::from(PgCluster::PASSWORD)));
    config.pool_size = 4;
    config.connect_timeout = Duration::from_secs(2);
    config.operation_timeout = Duration::from_secs(5);
    config
}

async fn connect(url: String) -> PostgresQueue {
    PostgresQueue::connect(config(url)).await.unwrap()
}

impl queue_suite::Harness for Database {
    type Q = PostgresQueue;

    /// A handle whose LISTEN connection is up, so that wake-up tests are not racing it.
    async fn open(&self) -> PostgresQueue {
        let queue = connect(self.cluster.url()).await;
        until_listening(&queue).await;
        queue
    }

    /// Another node: its own pool and its own LISTEN connection.
    async fn peer(&self, _: &PostgresQueue) -> PostgresQueue {
        self.open().await
    }

    fn scratch(&self) -> &Path {
        self.scratch.path()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip() {
    queue_suite::round_trip(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_outcomes() {
    queue_suite::settle_outcomes(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_release() {
    queue_suite::notices_and_release(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims() {
    queue_suite::concurrent_claims(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_worker() {
    queue_suite::dead_worker(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_keeps_the_lease() {
    queue_suite::renew_keeps_the_lease(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_message_and_delete() {
    queue_suite::claim_message_and_delete(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart() {
    queue_suite::restart(&Database::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_on_enqueue() {
    queue_suite::wake_on_enqueue(&Database::new()).await;
}

/// Waits (bounded) until `queue`'s LISTEN connection is up.
async fn until_listening(queue: &PostgresQueue) {
    let start = Instant::now();
    while !queue.listening() {
        assert!(start.elapsed() < Duration::from_secs(20), "LISTEN did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(cluster: &PgCluster, table: &str) -> u64 {
    cluster.psql_in(PgCluster::DATABASE, &format!("SELECT count(*) FROM {table}")).parse().unwrap()
}

/// The database goes away: every call fails promptly with `Unavailable` and writes
/// nothing; when it is back, the same handle works again, wake-ups included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_and_recovery() {
    let mut db = Database::new();
    let queue = connect(db.cluster.url()).await;
    queue.enqueue(queue_suite::message(1)).await.unwrap();
    until_listening(&queue).await;

    tokio::task::block_in_place(|| db.cluster.stop());
    let start = Instant::now();
    let lost = queue_suite::message(2);
    let lost_id = lost.id.clone();
    let refused = queue.enqueue(lost).await;
    let took = start.elapsed();
    assert!(matches!(refused, Err(QueueError::Unavailable { .. })), "{refused:?}");
    assert!(took < Duration::from_secs(5), "enqueue took {took:?}");
    eprintln!("enqueue with the database down failed in {took:?}: {}", refused.unwrap_err());
    for result in [
        queue.claim("w", Duration::from_secs(1), 4).await.map(drop),
        queue.list().await.map(drop),
        queue.next_due().await.map(drop),
        queue.retry(&lost_id).await,
    ] {
        assert!(matches!(result, Err(QueueError::Unavailable { .. })), "{result:?}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "calls while down took {:?}",
        start.elapsed()
    );
    // Waiting for work while the database is away returns at its timeout, no sooner
    // than asked and no later.
    let waited = Instant::now();
    queue.wait_for_work(Duration::from_millis(300)).await;
    assert!(waited.elapsed() < Duration::from_secs(2));

    tokio::task::block_in_place(|| db.cluster.start());
    // The pool replaces its dead connections by itself.
    queue.enqueue(queue_suite::message(1)).await.unwrap();
    let list = queue.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|m| m.id != lost_id), "the failed enqueue left nothing");
    assert_eq!(count(&db.cluster, "messages"), 2);
    assert_eq!(count(&db.cluster, "recipients"), 2);
    until_listening(&queue).await;
    let other = connect(db.cluster.url()).await;
    queue_suite::woken_by(&queue, &other).await;
}

/// Several hosts in the URL: connections go to the one that accepts writes, also after
/// the writable one changes (a promotion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_the_writable_host() {
    let first = PgCluster::new();
    let mut second = PgCluster::new();
    // Both get the schema, as a standby would have it from its primary.
    drop(connect(first.url()).await);
    drop(connect(second.url()).await);
    let read_only = |cluster: &PgCluster, on: bool| {
        cluster.psql(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = {on}",
            PgCluster::DATABASE
        ));
    };
    // The first host acts as a standby: it takes connections but no writes.
    read_only(&first, true);
    let url = format!(
        "postgresql://{}@127.0.0.1:{},127.0.0.1:{}/{}",
        PgCluster::USER,
        first.port(),
        second.port(),
        PgCluster::DATABASE
    );
    let queue = connect(url).await;
    queue.enqueue(queue_suite::message(1)).await.unwrap();
    assert_eq!((count(&first, "messages"), count(&second, "messages")), (0, 1));

    // The primary fails; the standby is promoted.
    tokio::task::block_in_place(|| second.stop());
    read_only(&first, false);
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match queue.enqueue(queue_suite::message(1)).await {
            Ok(()) => break,
            Err(e) => {
                assert!(matches!(e, QueueError::Unavailable { .. }), "{e:?}");
                assert!(attempts < 10, "no failover after {attempts} attempts: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    eprintln!("failover after {attempts} attempt(s), {:?}", start.elapsed());
    assert_eq!(count(&first, "messages"), 1);
    assert_eq!(queue.list().await.unwrap().len(), 1);
}

/// A real failover: a primary that commits synchronously to a streaming standby made by
/// `pg_basebackup`, killed; the standby promoted. What was acknowledged before is all
/// there, and the queue writes to the new primary through the two-host URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_synchronous_standby_has_every_acknowledged_message() {
    let mut primary = PgCluster::new();
    let standby_dir = TempDir::new().unwrap();
    let mut standby = primary.standby(&standby_dir.path().join("data"), "standby1");
    tokio::task::block_in_place(|| standby.start());
    assert!(standby.in_recovery());
    // Commits wait for the standby from now on.
    primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
    primary.psql("SELECT pg_reload_conf()");
    let deadline = Instant::now() + Duration::from_secs(30);
    while primary.psql("SELECT sync_state FROM pg_stat_replication") != "sync" {
        assert!(Instant::now() < deadline, "the standby never became synchronous");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!(
        "postgresql://{}@127.0.0.1:{},127.0.0.1:{}/{}",
        PgCluster::USER,
        primary.port(),
        standby.port(),
        PgCluster::DATABASE
    );
    let queue = connect(url).await;
    for n in 0..20 {
        queue.enqueue(queue_suite::message(n)).await.unwrap();
    }
    // The primary dies without a word; the standby takes over (the setting that made the
    // old primary wait for it lives in postgresql.auto.conf of the primary only).
    tokio::task::block_in_place(|| primary.kill());
    tokio::task::block_in_place(|| standby.promote());
    let start = Instant::now();
    loop {
        match queue.enqueue(queue_suite::message(20)).await {
            Ok(()) => break,
            Err(e) => {
                assert!(matches!(e, QueueError::Unavailable { .. }), "{e:?}");
                assert!(start.elapsed() < Duration::from_secs(30), "no failover: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    eprintln!("writes resumed {:?} after the promotion", start.elapsed());
    assert!(!standby.in_recovery());
    assert_eq!(queue.list().await.unwrap().len(), 21, "every acknowledged message survived");
}

/// Nodes that start together migrate once; the schema version is recorded; a database
/// from a newer sealpost is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_migrations() {
    let db = Database::new();
    let url = db.cluster.url();
    let (a, b, c) = tokio::join!(connect(url.clone()), connect(url.clone()), connect(url.clone()));
    drop((a, b, c));
    let version = db.cluster.psql_in(PgCluster::DATABASE, "SELECT version FROM schema_version");
    assert_eq!(version, "1");
    // Bodies: lz4 where the server has it (Debian's does), else stored uncompressed.
    let body = db.cluster.psql_in(
        PgCluster::DATABASE,
        "SELECT attcompression::text || '/' || attstorage::text FROM pg_attribute \
         WHERE attrelid = 'messages'::regclass AND attname = 'body'",
    );
    assert!(body == "l/x" || body == "/e", "{body:?}");
    assert_eq!(count(&db.cluster, "schema_version"), 1);
    db.cluster.psql_in(PgCluster::DATABASE, "UPDATE schema_version SET version = 99");
    let newer = PostgresQueue::connect(config(url)).await.unwrap_err();
    assert!(
        matches!(newer, QueueError::Config { ref reason, .. } if reason.contains("newer")),
        "{newer:?}"
    );
}

/// The password is checked (the test role logs in by SCRAM), never taken from the URL,
/// and never shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords() {
    let db = Database::new();
    let mut wrong = config(db.cluster.url());
    wrong.password = Some(Secret::new(String::from("not-the-password")));
    let refused = PostgresQueue::connect(wrong).await.unwrap_err();
    assert!(matches!(refused, QueueError::Unavailable { .. }), "{refused:?}");
    assert!(refused.to_string().contains("password"), "{refused}");
    assert!(!refused.to_string().contains("not-the-password"));
    // The pool's own error stays reachable as the cause, for callers that walk the chain.
    let cause = std::error::Error::source(&refused).expect("the pool's error");
    assert!(cause.is::<deadpool_postgres::PoolError>(), "{cause:?}");

    let mut none = config(db.cluster.url());
    none.password = None;
    assert!(matches!(PostgresQueue::connect(none).await, Err(QueueError::Unavailable { .. })));

    let inline = format!(
        "postgresql://{}:{}@127.0.0.1:{}/{}",
        PgCluster::USER,
        PgCluster::PASSWORD,
        db.cluster.port(),
        PgCluster::DATABASE
    );
    let refused = PostgresQueue::connect(config(inline)).await.unwrap_err();
    assert!(matches!(refused, QueueError::Config { .. }), "{refused:?}");
    assert!(!refused.to_string().contains(PgCluster::PASSWORD), "{refused}");

    let tls = format!("{}?sslmode=require", db.cluster.url());
    assert!(matches!(PostgresQueue::connect(config(tls)).await, Err(QueueError::Config { .. })));
}

/// A host that accepts TCP connections and then says nothing (a hung server, a
/// half-open path): connecting fails with `Unavailable` within the bounded timeouts
/// instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_does_not_hang_the_caller() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        // Bounded: the test makes a handful of connections.
        for _ in 0..16 {
            let Ok((socket, _)) = silent.accept().await else { break };
            open.push(socket);
        }
    });
    let mut config = config(format!("postgresql://sealpost@127.0.0.1:{port}/sealpost"));
    config.connect_timeout = Duration::from_secs(1);
    config.operation_timeout = Duration::from_secs(2);
    let start = Instant::now();
    let refused = PostgresQueue::connect(config).await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(refused, QueueError::Unavailable { .. }), "{refused:?}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    eprintln!("a silent server: {refused} after {took:?}");
    held.abort();
}

/// A call stuck in the database (here behind another session's table lock) ends with
/// `Unavailable` at the operation timeout; its transaction never commits, and the pool
/// goes on with a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_call_ends_at_the_operation_timeout() {
    let db = Database::new();
    let mut config = config(db.cluster.url());
    config.operation_timeout = Duration::from_secs(1);
    let queue = PostgresQueue::connect(config).await.unwrap();
    let locker = std::thread::spawn({
        let port = db.cluster.port();
        let data = db.cluster.data_dir().to_owned();
        move || {
            PgCluster::open(&data, port).psql_in(
                PgCluster::DATABASE,
                "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;",
            )
        }
    });
    // Bounded wait until the other session holds the lock.
    let start = Instant::now();
    while db.cluster.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted AND relation IS NOT NULL") == "0" {
        assert!(start.elapsed() < Duration::from_secs(10), "the lock was never taken");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stuck = queue_suite::message(1);
    let stuck_id = stuck.id.clone();
    let start = Instant::now();
    let result = queue.enqueue(stuck).await;
    let took = start.elapsed();
    assert!(matches!(result, Err(QueueError::Unavailable { .. })), "{result:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "took {took:?}");
    tokio::task::block_in_place(|| locker.join().unwrap());
    queue.enqueue(queue_suite::message(1)).await.unwrap();
    // The abandoned transaction's backend notices the closed connection and rolls back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let list = queue.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list.iter().all(|m| m.id != stuck_id));
}
