//! [`FileQueue`]: the queue in a local directory, for a single node.
//!
//! # Layout
//!
//! Each message is two files named by its id:
//!
//! - `<id>.eml`: the content. When the message was also delivered to local Maildirs at
//!   once, the file is shared with them (a hard link) and starts with their
//!   `Return-Path:` line; the entry's `message_offset` says how many octets to skip.
//! - `<id>.json`: the entry: the envelope ([`QueuedEnvelope`]) and the state of each
//!   recipient still queued (attempts, next attempt, last error, lease), one JSON object.
//!
//! # Commit order
//!
//! Enqueue places the content first (`link()` or copy, fsync, fsync of the directory),
//! then writes the entry to `<id>.json.tmp`, fsyncs it and renames it to `<id>.json` (the
//! commit point) and fsyncs the directory. After a crash an id has both files, or a
//! `.eml` without its `.json` (never read; removed at the next start once it is a minute
//! old). Changes to an entry are written the same way (temporary file, fsync, rename),
//! under the directory lock (`queue/.lock`), which `sealpost queue` takes too.
//!
//! # Entry format (version 2)
//!
//! ```json
//! {"version":2,"id":"1700000000.M1P2Q3R00ff","size":1234,"message_offset":0,
//!  "envelope":{"reverse_path":"alice@example.org","mail_parameters":[{"Ret":"Hdrs"}],
//!    "recipients":[{"forward_path":"bob@example.net","parameters":[],"route":"remote"}],
//!    "arrived":1700000000,"session":"6553f1c000001","client":"192.0.2.1:50123",
//!    "user":"alice","node":"mx-a"},
//!  "pending":[{"index":0,"attempts":1,"next_attempt_ms":1700000300000,
//!    "last_error":"451 4.3.0 try again","lease":null}],
//!  "lease_seq":1}
//! ```
//!
//! Times are milliseconds since the Unix epoch. Entries of version 1 (earlier sealpost
//! releases: the envelope as strings) are converted when the queue is opened.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

mod index;
mod lock;
mod upgrade;

use index::Index;
use lock::DirLock;

use super::{
    Body, Claim, ClaimedRecipient, Lease, NewMessage, QueueError, QueueId, QueueStore,
    QueuedEnvelope, QueuedMessage, RecipientStatus, Settlement,
};
use crate::clock::{from_millis, millis};
use crate::fsutil::{create_private_dir, place, sync_dir, write_synced};

/// The entry format this crate writes.
pub(super) const VERSION: u32 = 2;

/// A `.eml` without its `.json` younger than this may be a commit in progress (of this
/// or another process); older ones are leftovers of a crash.
const ORPHAN_AGE: Duration = Duration::from_secs(60);

/// One message's entry (`<id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) version: u32,
    pub(super) id: QueueId,
    pub(super) size: u64,
    pub(super) message_offset: u64,
    pub(super) envelope: QueuedEnvelope,
    pub(super) pending: Vec<Pending>,
    /// The last fencing token handed out for this message.
    pub(super) lease_seq: u64,
}

/// A recipient still queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) index: usize,
    pub(super) attempts: u32,
    pub(super) next_attempt_ms: u64,
    pub(super) last_error: Option<String>,
    pub(super) lease: Option<StoredLease>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredLease {
    owner: String,
    token: u64,
    expires_ms: u64,
}

impl Pending {
    fn leased_at(&self, now: u64) -> Option<&StoredLease> {
        self.lease.as_ref().filter(|l| l.expires_ms > now)
    }

    fn due_at(&self) -> u64 {
        match &self.lease {
            Some(lease) => self.next_attempt_ms.max(lease.expires_ms),
            None => self.next_attempt_ms,
        }
    }

    fn status(&self) -> RecipientStatus {
        RecipientStatus {
            index: self.index,
            attempts: self.attempts,
            next_attempt: from_millis(self.next_attempt_ms),
            last_error: self.last_error.clone(),
            leased_to: self
                .leased_at(millis(SystemTime::now()))
                .map(|l| (l.owner.clone(), from_millis(l.expires_ms))),
        }
    }
}

/// The queue in a local directory, for one node; see the [queue documentation](super).
///
/// ```
/// use sealpost_mta::queue::FileQueue;
///
/// let dir = tempfile::tempdir()?;
/// let queue = FileQueue::open(dir.path().join("queue"))?;
/// assert_eq!(queue.dir(), dir.path().join("queue"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileQueue {
    dir: PathBuf,
    /// Wakes this process's workers when this process enqueues.
    wake: Arc<Notify>,
    /// When each message is next claimable.
    index: Arc<Mutex<Index>>,
}

fn corrupt(id: &str, reason: impl ToString) -> QueueError {
    QueueError::Corrupt { id: id.to_owned(), reason: reason.to_string() }
}

fn join_error(e: tokio::task::JoinError) -> QueueError {
    QueueError::Io { context: String::from("queue task"), source: io::Error::other(e) }
}

impl FileQueue {
    /// Opens (creating) the queue directory `dir`, converts entries of an earlier format,
    /// and removes what a crash left (temporary files, and content files without an entry
    /// that are over a minute old).
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileQueue, QueueError> {
        let dir = dir.into();
        create_private_dir(&dir).map_err(QueueError::io(format!("create {}", dir.display())))?;
        let queue =
            FileQueue { dir, wake: Arc::new(Notify::new()), index: Arc::new(Mutex::default()) };
        queue.recover()?;
        Ok(queue)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn eml(&self, id: &QueueId) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    fn json(&self, id: &QueueId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads every entry into the index (at open, and after another process changed the
    /// queue).
    fn rescan(&self, generation: u64) -> Result<(), QueueError> {
        let entries = self.entries()?;
        let mut index = self.index();
        index.rebuild(&entries);
        index.generation = Some(generation);
        Ok(())
    }

    fn recover(&self) -> Result<(), QueueError> {
        let mut lock = DirLock::acquire(&self.dir).map_err(QueueError::io("lock the queue"))?;
        self.recover_locked()?;
        let generation = lock.bump().map_err(QueueError::io("write the queue's lock file"))?;
        self.rescan(generation)
    }

    fn recover_locked(&self) -> Result<(), QueueError> {
        let read = fs::read_dir(&self.dir).map_err(QueueError::io("read the queue directory"))?;
        for entry in read {
            let path = entry.map_err(QueueError::io("read the queue directory"))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            let leftover = if let Some(id) = name.strip_suffix(".eml") {
                !self.dir.join(format!("{id}.json")).exists() && older_than(&path, ORPHAN_AGE)
            } else {
                name.ends_with(".tmp") && older_than(&path, ORPHAN_AGE)
            };
            if leftover {
                tracing::warn!(file = %path.display(), "removing an incomplete queue file");
                fs::remove_file(&path).map_err(QueueError::io(format!("remove {name}")))?;
            } else if name.ends_with(".json") {
                self.upgrade(&path)?;
            }
        }
        Ok(())
    }

    /// Rewrites an entry of version 1 in the current format.
    fn upgrade(&self, path: &Path) -> Result<(), QueueError> {
        let bytes = fs::read(path).map_err(QueueError::io(format!("read {}", path.display())))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(&path.display().to_string(), e))?;
        if value.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
            return Ok(());
        }
        let mut entry =
            upgrade::from_version_1(&value).map_err(|e| corrupt(&path.display().to_string(), e))?;
        let stored = fs::metadata(self.eml(&entry.id)).map_or(0, |m| m.len());
        entry.size = stored.saturating_sub(entry.message_offset);
        tracing::info!(queue_id = %entry.id, "queue entry converted from format version 1");
        self.write_entry(&entry)
    }

    /// Reads an entry.
    fn read_entry(&self, id: &QueueId) -> Result<Entry, QueueError> {
        match fs::read(self.json(id)) {
            Ok(bytes) => parse_entry(id.as_str(), &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(QueueError::NotFound(id.clone())),
            Err(e) => Err(QueueError::Io { context: format!("read entry {id}"), source: e }),
        }
    }

    /// Every readable entry; unreadable ones are logged and skipped.
    fn entries(&self) -> Result<Vec<Entry>, QueueError> {
        let read = fs::read_dir(&self.dir).map_err(QueueError::io("read the queue directory"))?;
        let mut out = Vec::new();
        for dirent in read {
            let path = dirent.map_err(QueueError::io("read the queue directory"))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            let Some(id) = name.strip_suffix(".json") else { continue };
            let entry = match fs::read(&path) {
                Ok(bytes) => parse_entry(id, &bytes),
                // Removed between the listing and the read: delivered meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => Err(QueueError::Io { context: format!("read {name}"), source: e }),
            };
            match entry {
                Ok(entry) => out.push(entry),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable queue entry")
                }
            }
        }
        Ok(out)
    }

    /// Replaces (or creates) an entry durably.
    fn write_entry(&self, entry: &Entry) -> Result<(), QueueError> {
        let mut json = serde_json::to_vec(entry).map_err(|e| corrupt(entry.id.as_str(), e))?;
        json.push(b'\n');
        let tmp = self.dir.join(format!("{}.json.tmp", entry.id));
        let _ = fs::remove_file(&tmp);
        let result =
            write_synced(&tmp, &json).and_then(|()| fs::rename(&tmp, self.json(&entry.id)));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
            .and_then(|()| sync_dir(&self.dir))
            .map_err(QueueError::io(format!("write entry {}", entry.id)))?;
        self.index().update(entry);
        Ok(())
    }

    /// Removes an entry and its content (the entry first: a content file alone is a
    /// leftover that is never read).
    fn remove_entry(&self, id: &QueueId) -> Result<(), QueueError> {
        let removed = fs::remove_file(self.json(id));
        if removed.as_ref().map_or_else(|e| e.kind() == io::ErrorKind::NotFound, |()| true) {
            self.index().remove(id);
        }
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(QueueError::NotFound(id.clone()));
            }
            Err(e) => {
                return Err(QueueError::Io { context: format!("remove entry {id}"), source: e });
            }
        }
        sync_dir(&self.dir).map_err(QueueError::io("sync the queue directory"))?;
        if let Err(e) = fs::remove_file(self.eml(id)) {
            tracing::warn!(queue_id = %id, error = %e, "cannot remove a delivered message's content");
        }
        Ok(())
    }

    /// Stores a message (blocking).
    fn enqueue_blocking(&self, message: &NewMessage) -> Result<(), QueueError> {
        let id = &message.id;
        let eml = self.eml(id);
        let context = || format!("store message {id}");
        let (size, offset) = match &message.body {
            Body::Spooled { path, offset } => {
                place(path, &eml, &self.dir.join(format!("{id}.eml.tmp")))
                    .map_err(QueueError::io(context()))?;
                // The caller may not have made the file durable (a link shares the data,
                // not its fsync): this costs nothing when it did.
                fs::File::open(&eml)
                    .and_then(|f| f.sync_all())
                    .map_err(QueueError::io(context()))?;
                let len = fs::metadata(&eml).map_err(QueueError::io(context()))?.len();
                (len.saturating_sub(*offset), *offset)
            }
            Body::Memory(bytes) => {
                write_synced(&eml, bytes).map_err(QueueError::io(context()))?;
                (bytes.len() as u64, 0)
            }
        };
        let result = sync_dir(&self.dir).map_err(QueueError::io(context())).and_then(|()| {
            let now = millis(SystemTime::now());
            self.write_entry(&Entry {
                version: VERSION,
                id: id.clone(),
                size,
                message_offset: offset,
                envelope: message.envelope.clone(),
                pending: (0..message.envelope.recipients.len())
                    .map(|index| Pending {
                        index,
                        attempts: 0,
                        next_attempt_ms: now,
                        last_error: None,
                        lease: None,
                    })
                    .collect(),
                lease_seq: 0,
            })
        });
        if result.is_err() {
            let _ = fs::remove_file(&eml);
        }
        result
    }

    /// Bumps the lock file's generation after a change made without the lock; this
    /// process's index stays current only if it was current before.
    fn announce_change(&self) -> Result<(), QueueError> {
        let mut lock = DirLock::acquire(&self.dir).map_err(QueueError::io("lock the queue"))?;
        let current = self.index().generation == Some(lock.generation());
        let generation = lock.bump().map_err(QueueError::io("write the queue's lock file"))?;
        if current {
            self.index().generation = Some(generation);
        }
        Ok(())
    }

    /// Runs `f` with the directory lock held, on the blocking pool, with an index that
    /// reflects the directory (rebuilt first when another process changed it).
    async fn locked<T: Send + 'static>(
        &self,
        f: impl FnOnce(&FileQueue) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let queue = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut lock =
                DirLock::acquire(&queue.dir).map_err(QueueError::io("lock the queue"))?;
            if queue.index().generation != Some(lock.generation()) {
                queue.rescan(lock.generation())?;
            }
            let result = f(&queue);
            // Whatever happened, files may have changed: say so to other processes.
            let generation = lock.bump().map_err(QueueError::io("write the queue's lock file"))?;
            queue.index().generation = Some(generation);
            result
        })
        .await
        .map_err(join_error)?
    }

    /// Leases every recipient of `entry` that `pick` selects, writes the entry, and
    /// returns the claim (`None` when `pick` chose nobody).
    fn lease(
        &self,
        mut entry: Entry,
        owner: &str,
        lease: Duration,
        now: u64,
        pick: impl Fn(&Pending) -> bool,
    ) -> Result<Option<Claim>, QueueError> {
        let expires_ms = now.saturating_add(millis_of(lease));
        let token = entry.lease_seq + 1;
        let mut recipients = Vec::new();
        for pending in entry.pending.iter_mut().filter(|p| pick(p)) {
            pending.lease = Some(StoredLease { owner: owner.to_owned(), token, expires_ms });
            recipients.push(ClaimedRecipient {
                index: pending.index,
                attempts: pending.attempts,
                last_error: pending.last_error.clone(),
            });
        }
        if recipients.is_empty() {
            return Ok(None);
        }
        entry.lease_seq = token;
        self.write_entry(&entry)?;
        Ok(Some(Claim {
            lease: Lease {
                id: entry.id.clone(),
                token,
                owner: owner.to_owned(),
                expires: from_millis(expires_ms),
            },
            envelope: entry.envelope,
            recipients,
            size: entry.size,
        }))
    }
}

fn parse_entry(id: &str, bytes: &[u8]) -> Result<Entry, QueueError> {
    let entry: Entry = serde_json::from_slice(bytes).map_err(|e| corrupt(id, e))?;
    if entry.version != VERSION {
        return Err(corrupt(id, format!("format version {} is not supported", entry.version)));
    }
    if entry.id.as_str() != id {
        return Err(corrupt(id, format!("the entry names itself {}", entry.id)));
    }
    Ok(entry)
}

fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified.elapsed().is_ok_and(|elapsed| elapsed >= age))
}

fn message_of(entry: Entry) -> QueuedMessage {
    QueuedMessage {
        pending: entry.pending.iter().map(Pending::status).collect(),
        id: entry.id,
        envelope: entry.envelope,
        size: entry.size,
    }
}

impl QueueStore for FileQueue {
    async fn enqueue(&self, message: NewMessage) -> Result<(), QueueError> {
        let queue = self.clone();
        tokio::task::spawn_blocking(move || {
            // The entry commits without the lock (the rename is the commit point); the
            // lock is taken after, only to tell other processes the queue changed.
            queue.enqueue_blocking(&message)?;
            queue.announce_change()
        })
        .await
        .map_err(join_error)??;
        self.wake.notify_waiters();
        Ok(())
    }

    async fn claim(
        &self,
        owner: &str,
        lease: Duration,
        max_messages: usize,
    ) -> Result<Vec<Claim>, QueueError> {
        let owner = owner.to_owned();
        self.locked(move |queue| {
            let now = millis(SystemTime::now());
            let free = |p: &Pending| p.next_attempt_ms <= now && p.leased_at(now).is_none();
            let candidates: Vec<QueueId> = queue.index().due_at(now).cloned().collect();
            let mut claims = Vec::new();
            for id in candidates {
                if claims.len() >= max_messages {
                    break;
                }
                let entry = match queue.read_entry(&id) {
                    Ok(entry) => entry,
                    Err(QueueError::NotFound(_)) => {
                        queue.index().remove(&id);
                        continue;
                    }
                    Err(e) => {
                        // One unreadable entry must not stop the rest of the queue.
                        tracing::warn!(queue_id = %id, error = %e, "unreadable queue entry");
                        queue.index().remove(&id);
                        continue;
                    }
                };
                queue.index().update(&entry);
                claims.extend(queue.lease(entry, &owner, lease, now, free)?);
            }
            Ok(claims)
        })
        .await
    }

    async fn claim_message(
        &self,
        id: &QueueId,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, QueueError> {
        let (id, owner) = (id.clone(), owner.to_owned());
        self.locked(move |queue| {
            let now = millis(SystemTime::now());
            let entry = queue.read_entry(&id)?;
            if let Some(held) = entry.pending.iter().find_map(|p| p.leased_at(now)) {
                return Err(QueueError::Busy { id, owner: held.owner.clone() });
            }
            queue.lease(entry, &owner, lease, now, |_| true)?.ok_or(QueueError::NotFound(id))
        })
        .await
    }

    async fn renew(&self, lease: &Lease, extension: Duration) -> Result<Lease, QueueError> {
        let lease = lease.clone();
        self.locked(move |queue| {
            let now = millis(SystemTime::now());
            let lost = || QueueError::LeaseLost { id: lease.id.clone(), token: lease.token };
            let mut entry = match queue.read_entry(&lease.id) {
                Err(QueueError::NotFound(_)) => return Err(lost()),
                other => other?,
            };
            let expires_ms = now.saturating_add(millis_of(extension));
            let mut held = false;
            for stored in entry.pending.iter_mut().filter_map(|p| p.lease.as_mut()) {
                if stored.token == lease.token && stored.owner == lease.owner {
                    stored.expires_ms = expires_ms;
                    held = true;
                }
            }
            if !held {
                return Err(lost());
            }
            queue.write_entry(&entry)?;
            Ok(Lease { expires: from_millis(expires_ms), ..lease })
        })
        .await
    }

    async fn body(&self, id: &QueueId) -> Result<Bytes, QueueError> {
        let entry = {
            let queue = self.clone();
            let id = id.clone();
            tokio::task::spawn_blocking(move || queue.read_entry(&id))
                .await
                .map_err(join_error)??
        };
        let stored = match tokio::fs::read(self.eml(id)).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(QueueError::NotFound(id.clone()));
            }
            Err(e) => {
                return Err(QueueError::Io { context: format!("read message {id}"), source: e });
            }
        };
        let offset = usize::try_from(entry.message_offset).unwrap_or(usize::MAX);
        let mut bytes = Bytes::from(stored);
        if offset > bytes.len() {
            return Err(corrupt(id.as_str(), "the content is shorter than its offset"));
        }
        Ok(bytes.split_off(offset))
    }

    async fn settle(
        &self,
        lease: &Lease,
        outcomes: &[(usize, Settlement)],
        notices: Vec<NewMessage>,
    ) -> Result<(), QueueError> {
        let (lease, outcomes) = (lease.clone(), outcomes.to_vec());
        let any_notice = !notices.is_empty();
        self.locked(move |queue| {
            let now = millis(SystemTime::now());
            let lost = || QueueError::LeaseLost { id: lease.id.clone(), token: lease.token };
            let mut entry = match queue.read_entry(&lease.id) {
                Err(QueueError::NotFound(_)) => return Err(lost()),
                other => other?,
            };
            let holds = |p: &Pending| {
                p.lease.as_ref().is_some_and(|l| l.token == lease.token && l.owner == lease.owner)
            };
            for (index, _) in &outcomes {
                if !entry.pending.iter().any(|p| p.index == *index && holds(p)) {
                    return Err(lost());
                }
            }
            for notice in &notices {
                queue.enqueue_blocking(notice)?;
            }
            let mut kept = Vec::with_capacity(entry.pending.len());
            for mut pending in std::mem::take(&mut entry.pending) {
                if !holds(&pending) {
                    kept.push(pending);
                    continue;
                }
                pending.lease = None;
                match outcomes.iter().find(|(i, _)| *i == pending.index).map(|(_, s)| s) {
                    Some(Settlement::Delivered | Settlement::Failed) => continue,
                    Some(Settlement::Deferred { retry_after, error }) => {
                        pending.attempts = pending.attempts.saturating_add(1);
                        pending.next_attempt_ms = now.saturating_add(millis_of(*retry_after));
                        pending.last_error = Some(error.clone());
                    }
                    None => {}
                }
                kept.push(pending);
            }
            entry.pending = kept;
            if entry.pending.is_empty() {
                queue.remove_entry(&entry.id)
            } else {
                queue.write_entry(&entry)
            }
        })
        .await?;
        if any_notice {
            self.wake.notify_waiters();
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, QueueError> {
        Ok(self.index().first().map(from_millis))
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    async fn list(&self) -> Result<Vec<QueuedMessage>, QueueError> {
        let queue = self.clone();
        let mut entries =
            tokio::task::spawn_blocking(move || queue.entries()).await.map_err(join_error)??;
        entries.sort_by(|a, b| (a.envelope.arrived, &a.id).cmp(&(b.envelope.arrived, &b.id)));
        Ok(entries.into_iter().map(message_of).collect())
    }

    async fn show(&self, id: &QueueId) -> Result<QueuedMessage, QueueError> {
        let (queue, id) = (self.clone(), id.clone());
        let entry = tokio::task::spawn_blocking(move || queue.read_entry(&id))
            .await
            .map_err(join_error)??;
        Ok(message_of(entry))
    }

    async fn retry(&self, id: &QueueId) -> Result<(), QueueError> {
        let id = id.clone();
        self.locked(move |queue| {
            let now = millis(SystemTime::now());
            let mut entry = queue.read_entry(&id)?;
            for pending in &mut entry.pending {
                pending.next_attempt_ms = pending.next_attempt_ms.min(now);
            }
            queue.write_entry(&entry)
        })
        .await?;
        self.wake.notify_waiters();
        Ok(())
    }

    async fn delete(&self, id: &QueueId) -> Result<(), QueueError> {
        let id = id.clone();
        self.locked(move |queue| queue.remove_entry(&id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{QueuedRecipient, RecipientRoute};

    fn message() -> NewMessage {
        let bob = QueuedRecipient::new(
            sealpost_codec::ForwardPath::Mailbox("bob@example.net".parse().unwrap()),
            Default::default(),
            RecipientRoute::Remote,
        );
        let envelope = QueuedEnvelope::new(sealpost_codec::ReversePath::Null, Default::default())
            .recipient(bob);
        NewMessage::new(envelope, Body::Memory(Bytes::from_static(b"Subject: x\r\n\r\nx\r\n")))
    }

    #[tokio::test]
    async fn two_processes_see_each_others_changes_through_the_lock_generation() {
        // Two instances on one directory have an index each, as two processes would.
        let dir = tempfile::tempdir().unwrap();
        let a = FileQueue::open(dir.path()).unwrap();
        let b = FileQueue::open(dir.path()).unwrap();
        a.enqueue(message()).await.unwrap();
        // B learns of A's message through the generation, and claims it.
        let claims = b.claim("b", Duration::from_secs(60), 10).await.unwrap();
        assert_eq!(claims.len(), 1);
        // A sees B's lease: nothing for A.
        assert!(a.claim("a", Duration::from_secs(60), 10).await.unwrap().is_empty());
        // B defers it; an administrator (A here) makes it due; B claims it again.
        let deferred =
            Settlement::Deferred { retry_after: Duration::from_secs(3600), error: "x".into() };
        b.settle(&claims[0].lease, &[(0, deferred)], Vec::new()).await.unwrap();
        assert!(b.claim("b", Duration::from_secs(60), 10).await.unwrap().is_empty());
        a.retry(&claims[0].lease.id).await.unwrap();
        assert_eq!(b.claim("b", Duration::from_secs(60), 10).await.unwrap().len(), 1);
    }

    #[test]
    fn leftovers_of_a_crash_go_once_they_are_old() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(120);
        for name in ["a.eml", "b.json.tmp", "c.eml", "new.eml"] {
            fs::write(dir.path().join(name), b"x").unwrap();
            if name != "new.eml" {
                fs::File::options()
                    .write(true)
                    .open(dir.path().join(name))
                    .unwrap()
                    .set_modified(old)
                    .unwrap();
            }
        }
        let queue = FileQueue::open(dir.path()).unwrap();
        let mut names: Vec<String> = fs::read_dir(queue.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        names.sort();
        // A content file without its entry that is young may be a commit in progress.
        assert_eq!(names, ["new.eml"]);
    }
}
