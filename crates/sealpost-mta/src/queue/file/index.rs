//! What a [`FileQueue`](super::FileQueue) remembers of its directory: when each message
//! is next claimable, so that a claim reads only the entries it takes instead of every
//! entry of the queue.
//!
//! The index is this process's: it follows its own changes, and is rebuilt from the
//! directory whenever the lock file's generation shows that another process (`sealpost
//! queue`) changed the queue, and at open.

use std::collections::{BTreeSet, HashMap};

use super::Entry;
use crate::queue::QueueId;

/// Messages by the time one of their recipients is next claimable (milliseconds since the
/// Unix epoch: the later of its next attempt and its lease's end).
#[derive(Debug, Default)]
pub(super) struct Index {
    due: HashMap<QueueId, u64>,
    order: BTreeSet<(u64, QueueId)>,
    /// The lock file's generation this index reflects; `None` until the first full look.
    pub(super) generation: Option<u64>,
}

/// When `entry` next has a claimable recipient; `None` for an entry with none left.
pub(super) fn due_of(entry: &Entry) -> Option<u64> {
    entry.pending.iter().map(super::Pending::due_at).min()
}

impl Index {
    /// Forgets everything, then remembers `entries`.
    pub(super) fn rebuild<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        self.due.clear();
        self.order.clear();
        for entry in entries {
            self.update(entry);
        }
    }

    /// Remembers `entry` as it is now written.
    pub(super) fn update(&mut self, entry: &Entry) {
        self.set(&entry.id, due_of(entry));
    }

    /// Forgets message `id`.
    pub(super) fn remove(&mut self, id: &QueueId) {
        self.set(id, None);
    }

    fn set(&mut self, id: &QueueId, due: Option<u64>) {
        if let Some(old) = self.due.remove(id) {
            self.order.remove(&(old, id.clone()));
        }
        if let Some(due) = due {
            self.due.insert(id.clone(), due);
            self.order.insert((due, id.clone()));
        }
    }

    /// The messages claimable at `now`, earliest first.
    pub(super) fn due_at(&self, now: u64) -> impl Iterator<Item = &QueueId> {
        self.order.iter().take_while(move |(due, _)| *due <= now).map(|(_, id)| id)
    }

    /// When the earliest message is claimable.
    pub(super) fn first(&self) -> Option<u64> {
        self.order.first().map(|(due, _)| *due)
    }
}
