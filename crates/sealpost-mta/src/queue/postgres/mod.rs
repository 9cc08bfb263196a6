//! [`PostgresQueue`]: the queue in a PostgreSQL database that any number of nodes share
//! (feature `postgres`).
//!
//! The schema, the transactions, failover and what is left out are described on
//! [`PostgresQueue`], where the published documentation shows them.

mod listen;
mod schema;
mod store;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use sealpost_codec::Secret;
use tokio::sync::oneshot;
use tokio_postgres::NoTls;
use tokio_postgres::config::{SslMode, TargetSessionAttrs};

use super::QueueError;
use listen::Listener;

/// How to reach the database; see [`PostgresQueue::connect`].
///
/// ```
/// use sealpost_mta::queue::{PostgresConfig, PostgresQueue, QueueError};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// // Passwords come separately (the command line reads them from `env:` or `file:`).
/// let inline = PostgresConfig::new("postgresql://sealpost:hunter2@127.0.0.1/sealpost");
/// let refused = PostgresQueue::connect(inline).await.unwrap_err();
/// assert!(matches!(refused, QueueError::Config { .. }));
/// assert!(!refused.to_string().contains("hunter2"));
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// A `postgresql://` URL (or libpq `key=value` string) without a password; several
    /// hosts for failover as `host1:port1,host2:port2`.
    pub url: String,
    /// The password of the URL's user, if the server asks for one.
    pub password: Option<Secret<String>>,
    /// Connections kept for the queue's calls (the `LISTEN` connection is one more).
    pub pool_size: usize,
    /// The longest wait for a new connection to one host (unless the URL sets
    /// `connect_timeout`).
    pub connect_timeout: Duration,
    /// The longest time one call may take, from waiting for a pooled connection to the
    /// commit; past it the call fails with [`QueueError::Unavailable`].
    pub operation_timeout: Duration,
}

impl PostgresConfig {
    /// A configuration for `url` with 8 connections, a 5 second connect timeout and a
    /// 30 second operation timeout.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            password: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(30),
        }
    }

    /// Checks the URL without connecting: it must parse, name a host, carry no password
    /// and ask for no TLS. [`PostgresQueue::connect`] checks the same, so a program that
    /// reads its configuration long before it connects can refuse a bad one at once.
    ///
    /// ```
    /// use sealpost_mta::queue::PostgresConfig;
    ///
    /// assert!(PostgresConfig::new("postgresql://sealpost@127.0.0.1/sealpost").check().is_ok());
    /// assert!(PostgresConfig::new("postgresql://sealpost:hunter2@127.0.0.1/sealpost").check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), QueueError> {
        self.client_config().map(drop)
    }

    /// The client configuration: the URL checked and completed.
    fn client_config(&self) -> Result<tokio_postgres::Config, QueueError> {
        // The parser's errors name the option, never the value, so they cannot leak
        // a password into logs.
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|e| {
            let reason = format!("the database URL cannot be read: {}", describe(&e));
            QueueError::Config { reason, source: Some(Box::new(e)) }
        })?;
        if config.get_password().is_some() {
            return Err(QueueError::config(
                "the database URL carries a password; remove it from the URL and give it \
                 separately (for example `password = \"env:SEALPOST_DB_PASSWORD\"` or \
                 `\"file:/etc/sealpost/db-password\"`)",
            ));
        }
        if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
            return Err(QueueError::config(
                "the database URL asks for TLS (sslmode), which this build does not offer; \
                 reach the database over loopback or a private network with sslmode=disable",
            ));
        }
        if config.get_hosts().is_empty() {
            return Err(QueueError::config("the database URL names no host"));
        }
        if let Some(password) = &self.password {
            config.password(password.expose().as_bytes());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("sealpost");
        }
        // Every call writes: a read-only standby is never the right host.
        config.target_session_attrs(TargetSessionAttrs::ReadWrite);
        // Notice a peer that vanished without closing (a failed host, a cut network)
        // within about a minute, not the kernel's default two hours.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        Ok(config)
    }
}

/// The queue in a shared PostgreSQL database that any number of nodes use at once.
///
/// Every node connects to the same database; a message is committed there before the
/// server answers 250, and any node's workers claim due recipients from it. Nothing else
/// coordinates the nodes: row locks (`FOR UPDATE SKIP LOCKED`) keep two workers from
/// claiming the same recipient, leases with fencing tokens from a sequence keep a stalled
/// worker from writing over a newer claim, and `NOTIFY` wakes idle workers on every node
/// when mail arrives. An enqueue is one statement (the message and its recipients), so
/// one round trip and one commit; the `NOTIFY` goes after the commit, coalesced per node,
/// so that commits of many nodes share write-ahead-log flushes. All times (due, lease expiry) are the database's clock (`now()`),
/// so the nodes' clocks may disagree.
///
/// # Schema (version 1)
///
/// Created and upgraded by sealpost when it connects (numbered steps,
/// each applied once, in a transaction under an advisory lock, so nodes that start
/// together do not race).
///
/// | table / object | columns | notes |
/// | --- | --- | --- |
/// | `schema_version` | `version integer` | one row: the steps applied |
/// | `messages` | `id text` PK, `arrived timestamptz`, `size bigint`, `envelope json`, `body bytea` | the envelope is [`QueuedEnvelope`](crate::queue::QueuedEnvelope) as JSON (serde; `json`, checked but not converted, since it is only read back whole), the body the message without any spool prefix (compressed with lz4 where the server has it, else stored uncompressed); no index but the primary key, so an enqueue writes little |
/// | `recipients` | `message_id text` FK → `messages` `ON DELETE CASCADE`, `idx integer` (index in the envelope), `attempts integer`, `next_attempt timestamptz`, `last_error text`, `lease_owner text`, `lease_token bigint`, `lease_expires timestamptz`, `due timestamptz` (generated: `GREATEST(next_attempt, lease_expires)`) | PK `(message_id, idx)`; one row per recipient still queued; index `recipients_due (due)` makes "due and not leased" (`due <= now()`) and [`next_due`](crate::queue::QueueStore::next_due) an index scan |
/// | `lease_tokens` | sequence | one fencing token per claim |
///
/// A recipient is leased while `lease_expires > now()`; `GREATEST` ignores NULLs, so an
/// unleased recipient is due at `next_attempt` and a leased one no earlier than its
/// lease's end.
///
/// # Transactions
///
/// Each method is one short transaction; none stays open across anything but the
/// database (bodies of spooled messages are read before it starts). Rows are locked in
/// one order everywhere (the `messages` row, then its `recipients`), so claims,
/// settlements and deletions do not deadlock. A claim takes up to `max_messages`
/// messages with due recipients, oldest due first, skipping messages that another
/// transaction holds; all due recipients of a message go into one claim with one token.
///
/// # When the database is away
///
/// Every method returns [`QueueError::Unavailable`] within bounded time (the connect
/// timeout for new connections, the operation timeout for each call) and has written
/// nothing (a transaction that did not commit leaves no trace). A connection that failed
/// or timed out is thrown away rather than returned to the pool, so the pool heals by
/// itself once the database is back. One caveat of every database client: when a
/// connection breaks during `COMMIT`, the commit may have happened although the call
/// reports an error; for an enqueue that means the client sends the message again and
/// it is queued twice (delivery is at least once anyway).
///
/// # Failover
///
/// The URL may name several hosts (`postgresql://sealpost@db1:5432,db2:5432/sealpost`);
/// every new connection tries them in order and keeps the first that accepts writes
/// (`target_session_attrs=read-write` is always set: the queue writes on every call).
/// After a promotion, connections to the old primary break, are dropped, and their
/// replacements find the new one.
///
/// # Left out
///
/// TLS to the database: connections are plaintext (`NoTls`), for loopback or a private
/// network; a URL that asks for `sslmode=require` is refused rather than silently
/// downgraded.
///
/// # Example
///
/// ```no_run
/// use sealpost_codec::Secret;
/// use sealpost_mta::queue::{PostgresConfig, PostgresQueue, QueueStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = PostgresConfig::new(
///     "postgresql://sealpost@127.0.0.1:5432,127.0.0.1:5433/sealpost",
/// );
/// config.password = Some(Secret::new(std::env::var("SEALPOST_DB_PASSWORD")?));
/// let queue = PostgresQueue::connect(config).await?;
/// for message in queue.list().await? {
///     println!("{} from {}", message.id, message.envelope.reverse_path);
/// }
/// # Ok(())
/// # }
/// ```
///
/// Clones share the connection pool and the `LISTEN` connection, which close when the
/// last clone is dropped.
#[derive(Clone)]
pub struct PostgresQueue {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    listener: Arc<Listener>,
    /// Pokes the task that notifies the other nodes.
    announce: Arc<tokio::sync::Notify>,
    operation_timeout: Duration,
    /// Dropped with the last handle, which ends the listening task.
    _stop: oneshot::Sender<()>,
    /// Dropped with the last handle, which ends the notifying task.
    _stop_announce: oneshot::Sender<()>,
}

impl fmt::Debug for PostgresQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PostgresQueue")
            .field("connections", &status.size)
            .field("idle", &status.available)
            .field("listening", &self.listening())
            .finish_non_exhaustive()
    }
}

impl PostgresQueue {
    /// Connects to the database, creates or upgrades the queue's schema, and starts
    /// listening for other nodes' enqueues.
    ///
    /// Fails with [`QueueError::Config`] for a URL that cannot be used (one that carries
    /// a password, asks for TLS, or names no host), and with [`QueueError::Unavailable`]
    /// when no host accepts a writable connection in time.
    pub async fn connect(config: PostgresConfig) -> Result<PostgresQueue, QueueError> {
        let client_config = config.client_config()?;
        let hosts = u32::try_from(client_config.get_hosts().len()).unwrap_or(u32::MAX);
        // deadpool: a small, maintained pool that checks a connection before reuse and
        // bounds every wait; a hand-written one would need the same and more tests.
        // `Fast` recycling (is the connection closed?) avoids a round trip per call;
        // connections that failed in use are thrown away by `finish` below instead.
        let manager = Manager::from_config(
            client_config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.operation_timeout))
            // Each host gets its connect timeout, plus the read-write check.
            .create_timeout(Some(config.connect_timeout.saturating_mul(hosts.saturating_add(1))))
            .recycle_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| QueueError::Config {
                reason: format!("connection pool: {e}"),
                source: Some(Box::new(e)),
            })?;
        let listener = Arc::new(Listener::default());
        let announce = Arc::new(tokio::sync::Notify::new());
        let (stop, stopped) = oneshot::channel();
        let (stop_announce, stopped_announce) = oneshot::channel();
        let queue = PostgresQueue {
            inner: Arc::new(Inner {
                pool: pool.clone(),
                listener: listener.clone(),
                announce: announce.clone(),
                operation_timeout: config.operation_timeout,
                _stop: stop,
                _stop_announce: stop_announce,
            }),
        };
        queue.migrate().await?;
        tokio::spawn(listen::run(client_config, config.connect_timeout, listener, stopped));
        tokio::spawn(listen::announce(pool, announce, stopped_announce));
        Ok(queue)
    }

    /// Whether wake-ups from other nodes arrive right now (the `LISTEN` connection is
    /// up). While it is not, workers still find new mail at their next poll.
    pub fn listening(&self) -> bool {
        self.inner.listener.listening.load(Ordering::SeqCst)
    }

    /// Wakes this process's workers now, and the other nodes' through the database.
    fn announce(&self) {
        self.inner.listener.wake.notify_waiters();
        self.inner.announce.notify_one();
    }

    async fn migrate(&self) -> Result<(), QueueError> {
        let mut client = self.client().await?;
        let result = self.bounded("migrate the schema", schema::migrate(&mut client)).await;
        finish(client, &result);
        result
    }

    /// A pooled connection, within the pool's bounded waits.
    async fn client(&self) -> Result<deadpool_postgres::Object, QueueError> {
        self.inner.pool.get().await.map_err(|e| {
            let why = match &e {
                PoolError::Backend(e) => describe(e),
                PoolError::Timeout(_) => String::from("no database connection in time"),
                other => other.to_string(),
            };
            QueueError::Unavailable {
                reason: format!("no connection to the queue database: {why}"),
                source: Some(Box::new(e)),
            }
        })
    }

    /// Runs `work` within the operation timeout.
    async fn bounded<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, QueueError>>,
    ) -> Result<T, QueueError> {
        let limit = self.inner.operation_timeout;
        tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(QueueError::Unavailable {
                reason: format!("{what}: no answer from the database in {limit:?}"),
                source: None,
            })
        })
    }
}

/// Puts a connection back in the pool, or throws it away when the call failed in the
/// database: it may be broken, stuck mid-transaction, or (after a failover) connected
/// to a server that no longer accepts writes. Errors about the queue's content
/// (`NotFound`, `LeaseLost`, ...) leave a healthy connection.
fn finish<T>(client: deadpool_postgres::Object, result: &Result<T, QueueError>) {
    if matches!(result, Err(QueueError::Unavailable { .. })) {
        drop(deadpool_postgres::Object::take(client));
    }
}

/// A database error in words: the server's message and SQLSTATE, or the client's error
/// with its cause (tokio-postgres's own `Display` leaves both out).
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Maps a database error to [`QueueError::Unavailable`], saying what was being done.
fn db_error(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> QueueError {
    let context = context.into();
    move |e| QueueError::Unavailable {
        reason: format!("{context}: {}", describe(&e)),
        source: Some(Box::new(e)),
    }
}
