//! [`AnyQueue`]: one of the queue backends, chosen at run time.
//!
//! The worker and the server are generic over [`QueueStore`]; a program that reads its
//! backend from a configuration file needs one concrete type for both. An enum that
//! delegates costs one match per call and keeps the trait free of boxed futures.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{
    Claim, FileQueue, Lease, NewMessage, QueueError, QueueId, QueueStore, QueuedMessage, Settlement,
};

/// The queue a node was configured with.
///
/// ```
/// use sealpost_mta::queue::{AnyQueue, FileQueue, QueueStore};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let queue = AnyQueue::from(FileQueue::open(dir.path().join("queue"))?);
/// assert!(queue.list().await?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyQueue {
    /// A local directory.
    File(FileQueue),
    /// A shared PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(super::PostgresQueue),
}

impl From<FileQueue> for AnyQueue {
    fn from(queue: FileQueue) -> Self {
        AnyQueue::File(queue)
    }
}

#[cfg(feature = "postgres")]
impl From<super::PostgresQueue> for AnyQueue {
    fn from(queue: super::PostgresQueue) -> Self {
        AnyQueue::Postgres(queue)
    }
}

/// Calls the same method on whichever backend `self` holds.
macro_rules! delegate {
    ($self:ident, $queue:ident => $call:expr) => {
        match $self {
            AnyQueue::File($queue) => $call.await,
            #[cfg(feature = "postgres")]
            AnyQueue::Postgres($queue) => $call.await,
        }
    };
}

impl QueueStore for AnyQueue {
    async fn enqueue(&self, message: NewMessage) -> Result<(), QueueError> {
        delegate!(self, q => q.enqueue(message))
    }

    async fn claim(
        &self,
        owner: &str,
        lease: Duration,
        max_messages: usize,
    ) -> Result<Vec<Claim>, QueueError> {
        delegate!(self, q => q.claim(owner, lease, max_messages))
    }

    async fn claim_message(
        &self,
        id: &QueueId,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, QueueError> {
        delegate!(self, q => q.claim_message(id, owner, lease))
    }

    async fn renew(&self, lease: &Lease, extension: Duration) -> Result<Lease, QueueError> {
        delegate!(self, q => q.renew(lease, extension))
    }

    async fn body(&self, id: &QueueId) -> Result<Bytes, QueueError> {
        delegate!(self, q => q.body(id))
    }

    async fn settle(
        &self,
        lease: &Lease,
        outcomes: &[(usize, Settlement)],
        notices: Vec<NewMessage>,
    ) -> Result<(), QueueError> {
        delegate!(self, q => q.settle(lease, outcomes, notices))
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, QueueError> {
        delegate!(self, q => q.next_due())
    }

    async fn wait_for_work(&self, timeout: Duration) {
        delegate!(self, q => q.wait_for_work(timeout))
    }

    async fn list(&self) -> Result<Vec<QueuedMessage>, QueueError> {
        delegate!(self, q => q.list())
    }

    async fn show(&self, id: &QueueId) -> Result<QueuedMessage, QueueError> {
        delegate!(self, q => q.show(id))
    }

    async fn retry(&self, id: &QueueId) -> Result<(), QueueError> {
        delegate!(self, q => q.retry(id))
    }

    async fn delete(&self, id: &QueueId) -> Result<(), QueueError> {
        delegate!(self, q => q.delete(id))
    }

    fn copies_content(&self) -> bool {
        match self {
            AnyQueue::File(queue) => queue.copies_content(),
            #[cfg(feature = "postgres")]
            AnyQueue::Postgres(queue) => queue.copies_content(),
        }
    }
}
