//! The durable queue: every message that is not delivered at once waits here, with its
//! envelope and the delivery state of each recipient, until a worker delivers it.
//!
//! [`QueueStore`] is the contract; two backends keep it and pass one behaviour suite:
//!
//! - [`FileQueue`]: a local directory (one node; the default).
//! - `PostgresQueue` (feature `postgres`): a PostgreSQL database that any number of nodes
//!   share.
//! - [`AnyQueue`]: either of them, chosen at run time (by the command line's
//!   configuration).
//!
//! # Leases
//!
//! Workers do not lock a message while they deliver it. They *claim* due recipients: the
//! store hands them out with a lease (an owner, an expiry, and a fencing token that grows
//! with every claim) and does not hand them out again until the lease expires. A worker
//! records what happened ([`QueueStore::settle`]) only while its lease is the current
//! one: a worker that stalled past its lease (and whose recipients were claimed again)
//! gets [`QueueError::LeaseLost`] and writes nothing. A worker that dies loses nothing:
//! its recipients are due again when the lease expires. So delivery is at least once:
//! a recipient whose next hop said 250 just before its worker died is delivered again.
//!
//! # What a recipient goes through
//!
//! Enqueued (due at once) → claimed → delivered or failed (gone from the queue; a failure
//! leaves a delivery status notice, queued in the same step) or deferred (due again after
//! the backoff, with its last error). A message leaves the queue with its last recipient.

mod any;
mod envelope;
mod file;
#[cfg(feature = "postgres")]
mod postgres;

pub use any::AnyQueue;
pub use envelope::{QueuedEnvelope, QueuedRecipient, RecipientRoute};
pub use file::FileQueue;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresQueue};

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The name of a queued message: 1 to 128 characters of `A-Z a-z 0-9 . _ -`, so it is safe
/// as a file name, in logs and on a command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueId(String);

/// A string that is not a [`QueueId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a queue id (1 to 128 of A-Z a-z 0-9 . _ -)")]
pub struct InvalidQueueId(pub String);

impl QueueId {
    /// A new id, unique across processes and machines (time, process, counter and 64
    /// random bits).
    pub fn generate() -> QueueId {
        QueueId(crate::maildir::unique_base())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for QueueId {
    type Error = InvalidQueueId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = (1..=128).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !value.starts_with('.');
        if valid { Ok(QueueId(value)) } else { Err(InvalidQueueId(value)) }
    }
}

impl std::str::FromStr for QueueId {
    type Err = InvalidQueueId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueId::try_from(s.to_owned())
    }
}

impl From<QueueId> for String {
    fn from(id: QueueId) -> String {
        id.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The content of a message to enqueue.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Body {
    /// A complete file (written, not necessarily fsynced), of which the first `offset`
    /// octets are not part of the message. [`FileQueue`] links it into the queue without
    /// copying and fsyncs it; a database backend reads it into its transaction.
    Spooled {
        /// The file.
        path: PathBuf,
        /// Octets to skip (a `Return-Path:` line written for local Maildir copies).
        offset: u64,
    },
    /// The message in memory.
    Memory(Bytes),
}

/// A message for [`QueueStore::enqueue`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewMessage {
    /// Its id (see [`QueueId::generate`]).
    pub id: QueueId,
    /// Its envelope: every recipient in it is queued, due at once.
    pub envelope: QueuedEnvelope,
    /// Its content.
    pub body: Body,
}

impl NewMessage {
    /// A message with a new id.
    pub fn new(envelope: QueuedEnvelope, body: Body) -> Self {
        NewMessage { id: QueueId::generate(), envelope, body }
    }
}

/// The right to deliver some recipients of one message for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The message.
    pub id: QueueId,
    /// The fencing token: the store accepts results only with the token of the latest
    /// claim of these recipients.
    pub token: u64,
    /// The node (worker) holding it.
    pub owner: String,
    /// When it ends, by the store's clock.
    pub expires: SystemTime,
}

/// One recipient as claimed: its index in the envelope and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimedRecipient {
    /// The index in [`QueuedEnvelope::recipients`].
    pub index: usize,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Why the last attempt did not deliver.
    pub last_error: Option<String>,
}

/// Due recipients of one message, leased to one worker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claim {
    /// The lease: pass it to [`QueueStore::settle`] (and [`QueueStore::renew`]).
    pub lease: Lease,
    /// The message's envelope (all its recipients; the claimed ones are listed below).
    pub envelope: QueuedEnvelope,
    /// The claimed recipients, in envelope order.
    pub recipients: Vec<ClaimedRecipient>,
    /// The size of the content in octets.
    pub size: u64,
}

/// What happened to one claimed recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// Delivered: it leaves the queue.
    Delivered,
    /// Given up on: it leaves the queue (a notice goes with the same settle call).
    Failed,
    /// Not now: due again after `retry_after` (counted by the store's clock).
    Deferred {
        /// The wait.
        retry_after: Duration,
        /// Why, for `sealpost queue list` and for the notice when it finally fails.
        error: String,
    },
}

/// Where a queued recipient stands, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientStatus {
    /// The index in [`QueuedEnvelope::recipients`].
    pub index: usize,
    /// Attempts so far.
    pub attempts: u32,
    /// When it is due next.
    pub next_attempt: SystemTime,
    /// Why the last attempt did not deliver.
    pub last_error: Option<String>,
    /// The worker delivering it now, with the lease's end.
    pub leased_to: Option<(String, SystemTime)>,
}

/// A queued message, for `sealpost queue list` and `show`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueuedMessage {
    /// Its id.
    pub id: QueueId,
    /// Its envelope.
    pub envelope: QueuedEnvelope,
    /// The recipients still queued.
    pub pending: Vec<RecipientStatus>,
    /// The size of the content in octets.
    pub size: u64,
}

/// Why the queue could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The local file system failed.
    #[error("queue storage: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be reached or failed; nothing was written.
    #[error("queue database unavailable: {reason}")]
    Unavailable {
        /// What was being done and what went wrong, in words (the database server's
        /// message and SQLSTATE when it sent one).
        reason: String,
        /// The database client's or the pool's own error, when there is one (a timeout
        /// has none).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The lease is no longer this worker's: nothing was written.
    #[error("the lease on {id} (token {token}) is no longer held")]
    LeaseLost {
        /// The message.
        id: QueueId,
        /// The token that was refused.
        token: u64,
    },
    /// No such message in the queue.
    #[error("no message {0} in the queue")]
    NotFound(QueueId),
    /// The message is being delivered by a worker right now.
    #[error("message {id} is being delivered by {owner}; try again when its lease ends")]
    Busy {
        /// The message.
        id: QueueId,
        /// The worker holding it.
        owner: String,
    },
    /// The queue's configuration cannot be used (for example a database URL that
    /// carries a password); nothing was tried.
    #[error("queue configuration: {reason}")]
    Config {
        /// What is wrong with it.
        reason: String,
        /// The parser's or the pool builder's error, when one refused it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A stored record cannot be read.
    #[error("queue entry {id} cannot be read: {reason}")]
    Corrupt {
        /// The entry.
        id: String,
        /// Why.
        reason: String,
    },
}

impl QueueError {
    /// A configuration that cannot be used, for a reason of this crate's own (no other
    /// error underneath). Only the PostgreSQL backend has a configuration to refuse.
    #[cfg(feature = "postgres")]
    pub(crate) fn config(reason: impl Into<String>) -> QueueError {
        QueueError::Config { reason: reason.into(), source: None }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> QueueError {
        let context = context.into();
        move |source| QueueError::Io { context, source }
    }
}

/// A durable queue that workers on one or many nodes deliver from; see the
/// [module documentation](self).
///
/// Every method that changes the queue is durable when it returns `Ok` (fsynced files, or
/// a committed transaction) and changes nothing when it returns `Err`.
pub trait QueueStore: Send + Sync + 'static {
    /// Stores a message with all its recipients due at once. Durable when it returns: a
    /// server answers 250 only after this.
    fn enqueue(&self, message: NewMessage) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Claims the due, unleased recipients of up to `max_messages` messages for `owner`,
    /// for `lease` (oldest due first; all due recipients of a message together, so they
    /// can share one transaction with the next hop).
    fn claim(
        &self,
        owner: &str,
        lease: Duration,
        max_messages: usize,
    ) -> impl Future<Output = Result<Vec<Claim>, QueueError>> + Send;

    /// Claims every queued recipient of message `id` whether due or not (for an
    /// administrator's bounce). [`QueueError::Busy`] when a worker holds any of them.
    fn claim_message(
        &self,
        id: &QueueId,
        owner: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, QueueError>> + Send;

    /// Extends a lease by `lease` from now, keeping its token.
    fn renew(
        &self,
        lease: &Lease,
        extension: Duration,
    ) -> impl Future<Output = Result<Lease, QueueError>> + Send;

    /// The content of message `id`.
    fn body(&self, id: &QueueId) -> impl Future<Output = Result<Bytes, QueueError>> + Send;

    /// Records the outcome of each recipient of `lease` (by envelope index) and enqueues
    /// `notices` (delivery status notifications) in the same step, only if `lease` is
    /// still the current lease of those recipients. Recipients of the claim without an
    /// outcome are released (due at once).
    fn settle(
        &self,
        lease: &Lease,
        outcomes: &[(usize, Settlement)],
        notices: Vec<NewMessage>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// When the earliest queued recipient is due (a leased one: when its lease ends), or
    /// `None` for an empty queue.
    fn next_due(&self) -> impl Future<Output = Result<Option<SystemTime>, QueueError>> + Send;

    /// Waits until something may have become due (a message was enqueued, here or on
    /// another node) or `timeout` passes.
    fn wait_for_work(&self, timeout: Duration) -> impl Future<Output = ()> + Send;

    /// Every queued message, oldest first.
    fn list(&self) -> impl Future<Output = Result<Vec<QueuedMessage>, QueueError>> + Send;

    /// One queued message.
    fn show(&self, id: &QueueId) -> impl Future<Output = Result<QueuedMessage, QueueError>> + Send;

    /// Makes every queued recipient of `id` due now (its lease, if any, stays).
    fn retry(&self, id: &QueueId) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Removes message `id` and all its recipients, without notice.
    fn delete(&self, id: &QueueId) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Whether the store copies the content it is given (a database) rather than linking
    /// a spool file into place (a directory). The server's sink then keeps small messages
    /// that go only to the queue in memory instead of writing a spool file to read back.
    fn copies_content(&self) -> bool {
        false
    }
}
