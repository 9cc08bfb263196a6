//! Wake-ups between nodes: one connection of its own that `LISTEN`s on the queue's channel
//! and wakes this process's waiting workers on every notification, and a task that
//! `NOTIFY`s the other nodes after this one queued something.
//!
//! The notification is sent after the commit, not inside the transaction: a `NOTIFY` in a
//! transaction takes a lock at commit that serialises the commits of every node, so each
//! one would flush the write-ahead log on its own instead of sharing a flush with the
//! commits that come at the same moment. Sent by one task that is poked after every
//! commit, notifications also coalesce: while one is on its way, any number of pokes
//! become the next one.
//!
//! The connection is outside the pool because a pooled connection is handed to other
//! work between uses, and notifications arrive only while someone reads the connection.
//! When it drops (the database restarts, fails over), the task connects again with a
//! growing pause; right after every (re)connection it wakes the workers once, since an
//! enqueue may have happened while nobody listened. A lost notification only delays
//! work until the worker's next poll: this is a shortcut, not the source of truth.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel that enqueues notify (`pg_notify`) and every node listens on.
pub(super) const CHANNEL: &str = "sealpost_queue";

/// The least time between two notifications of one node.
const NOTIFY_PAUSE: Duration = Duration::from_millis(20);

/// The first pause after a lost connection; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// What the listening task shares with the queue.
#[derive(Debug, Default)]
pub(super) struct Listener {
    /// Woken on every notification (and after every reconnection).
    pub(super) wake: Notify,
    /// Whether a `LISTEN` connection is up right now.
    pub(super) listening: AtomicBool,
}

/// Sends one `NOTIFY` after each poke of `poke` (pokes that come while one is sent, or
/// in the [`NOTIFY_PAUSE`] after it, make one more), until `stop` resolves. A notification that cannot be sent (the database is
/// away) is given up: the workers' polls find the work anyway.
pub(super) async fn announce(
    pool: deadpool_postgres::Pool,
    poke: Arc<Notify>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            () = poke.notified() => {}
        }
        let sent = async {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            client
                .execute("SELECT pg_notify($1, '')", &[&CHANNEL])
                .await
                .map_err(|e| super::describe(&e))
        };
        let limit = Duration::from_secs(5);
        match tokio::time::timeout(limit, sent).await {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => tracing::debug!(error = %why, "queue notification not sent"),
            Err(_) => tracing::debug!("queue notification not sent within {limit:?}"),
        }
        // At most one notification per pause: under load every enqueue would otherwise
        // cost the database a statement more, and a worker woken a few milliseconds later
        // loses nothing.
        tokio::time::sleep(NOTIFY_PAUSE).await;
    }
}

/// Listens until `stop` resolves (its sender is dropped with the last queue handle).
pub(super) async fn run(
    config: tokio_postgres::Config,
    connect_timeout: Duration,
    shared: Arc<Listener>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut pause = FIRST_PAUSE;
    loop {
        let outcome = tokio::select! {
            _ = &mut stop => return,
            outcome = listen_once(&config, connect_timeout, &shared) => outcome,
        };
        shared.listening.store(false, Ordering::SeqCst);
        match outcome {
            // It was up: try again at once, then back off if that fails too.
            Ok(true) => pause = FIRST_PAUSE,
            Ok(false) => {}
            Err(why) => tracing::warn!(error = %why, "queue notifications: connection lost"),
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One connection's life: `Ok(true)` when it was listening and then ended cleanly.
async fn listen_once(
    config: &tokio_postgres::Config,
    connect_timeout: Duration,
    shared: &Listener,
) -> Result<bool, String> {
    let (client, mut connection) = tokio::time::timeout(connect_timeout, config.connect(NoTls))
        .await
        .map_err(|_| format!("no connection within {connect_timeout:?}"))?
        .map_err(|e| super::describe(&e))?;
    // The connection must be driven while the LISTEN runs, and afterwards for as long as
    // it lives: this future is the only reader of it.
    let driver = async {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => shared.wake.notify_waiters(),
                Some(Ok(_)) => {} // a notice: nothing to do
                Some(Err(e)) => return Err(super::describe(&e)),
                None => return Ok(()),
            }
        }
    };
    tokio::pin!(driver);
    let listen = format!("LISTEN {CHANNEL}");
    tokio::select! {
        listened = client.batch_execute(&listen) => {
            listened.map_err(|e| super::describe(&e))?;
        }
        ended = &mut driver => {
            ended?;
            return Ok(false);
        }
    }
    shared.listening.store(true, Ordering::SeqCst);
    shared.wake.notify_waiters();
    driver.await?;
    // `client` lives until here: dropping it would close the connection.
    drop(client);
    Ok(true)
}
