//! The Maildir store and the message sink of [`MtaHandler`](crate::MtaHandler): spool
//! once, link everywhere.
//!
//! A message is written once, to `spool/<unique>`, while it arrives. At the end of the
//! data it is fsynced, then placed into each local Maildir with `link()` (or, across file
//! systems, copied to the destination's `tmp/`, fsynced and linked into place), each
//! destination directory is fsynced, and the queue gets it (the file queue links the
//! same file; a database reads it into its transaction). Only when every destination is
//! durable does commit answer 250; if any fails, the Maildir entries already made are
//! taken back (best effort) and the answer is "451 4.3.0", so the client retries and
//! nothing is half-acknowledged. The spool file is removed in every case, on abort, and
//! when the sink is dropped.
//!
//! A `link()` makes a complete file appear under its final name in one step, so a crash
//! at any point leaves either nothing or a complete message in `new/`. Maildir copies
//! of one message share one inode (as with Dovecot's multi-recipient delivery); mail
//! readers rename and unlink files, they do not rewrite them.
//!
//! When the message goes to a Maildir, the spool starts with `Return-Path: <sender>`:
//! written before the driver's first chunk (the Received header), it ends up first in
//! the file, as RFC 5321 section 4.4 wants for final delivery. The queue skips it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use sealpost_codec::replies;
use sealpost_server::{MessageSink, Verdict};

use crate::filter::MessageFilter;
use crate::fsutil::{create_new, create_private_dir, place, sync_dir};
use crate::maildir;
use crate::queue::{Body, NewMessage, QueueId, QueueStore, QueuedEnvelope};

/// Data is handed to the file system in pieces of this size: few blocking calls, and a
/// buffer that is allocated once per message.
const BUFFER: usize = 64 * 1024;

/// A message only for a queue that copies what it stores (a database) stays in memory up
/// to this size: no spool file to write and read back. Larger ones go to the spool, so a
/// session never holds more than this in memory.
const IN_MEMORY: usize = 1024 * 1024;

/// The Maildirs of the data directory, and its spool for messages on their way in.
///
/// Mail for `local@domain` goes to `maildir/<domain>/<local>/` (see
/// [`crate::maildir`]); a filter may change what each mailbox gets (see
/// [`crate::filter`]).
#[derive(Debug)]
pub struct MaildirStore {
    pub(crate) maildir: PathBuf,
    pub(crate) spool: PathBuf,
    /// The host name as it appears in Maildir file names.
    pub(crate) host: String,
    /// Looks at messages for the Maildirs before they are stored.
    pub(crate) filter: Option<Arc<dyn MessageFilter>>,
}

impl MaildirStore {
    /// The store below `data_dir` (`maildir/` and `spool/`, created if missing); what an
    /// interrupted run left in `spool/` is removed. `hostname` goes into file names.
    pub fn open(
        data_dir: &Path,
        hostname: &str,
        filter: Option<Arc<dyn MessageFilter>>,
    ) -> io::Result<MaildirStore> {
        let store = MaildirStore {
            maildir: data_dir.join("maildir"),
            spool: data_dir.join("spool"),
            host: maildir::safe_host(hostname),
            filter,
        };
        for dir in [&store.maildir, &store.spool] {
            create_private_dir(dir)?;
        }
        for entry in fs::read_dir(&store.spool)? {
            let path = entry?.path();
            tracing::warn!(file = %path.display(), "removing a message left from an interrupted run");
            fs::remove_file(&path)?;
        }
        Ok(store)
    }

    /// The directory holding the Maildirs.
    pub fn maildir_dir(&self) -> &Path {
        &self.maildir
    }

    /// Stores `message` in the Maildirs of `mailboxes` (root and `local@domain` address
    /// each), durably, as the sink does at the end of the data: spool, fsync, (filter,)
    /// link into each `new/`, fsync each `new/`. All or nothing: on an error the entries
    /// already made are removed. Blocking.
    pub(crate) fn deliver(
        &self,
        mailboxes: &[(PathBuf, String)],
        message: &[u8],
    ) -> io::Result<()> {
        let spool = self.spool.join(maildir::unique_base());
        let result = (|| {
            finish_file(create_new(&spool)?, message)?;
            let mut created = Vec::new();
            let result = self.place_all(mailboxes, &spool, message.len() as u64, &mut created);
            if result.is_err() {
                take_back(&created);
            }
            result
        })();
        let _ = fs::remove_file(&spool);
        result
    }

    /// Places the complete, fsynced `spool` file into every Maildir of `mailboxes`,
    /// recording what it created.
    fn place_all(
        &self,
        mailboxes: &[(PathBuf, String)],
        spool: &Path,
        size: u64,
        created: &mut Vec<PathBuf>,
    ) -> io::Result<()> {
        let versions = Versions::make(self, mailboxes, spool, size)?;
        let base = maildir::unique_base();
        for ((root, _), (source, size)) in mailboxes.iter().zip(&versions.sources) {
            let name = maildir::file_name(&base, &self.host, *size);
            maildir::ensure(&self.maildir, root)?;
            let new = root.join("new");
            let target = new.join(&name);
            place(source, &target, &root.join("tmp").join(&name))?;
            created.push(target);
            sync_dir(&new)?;
        }
        Ok(())
    }
}

/// Where one message goes.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Maildir roots (`maildir/<domain>/<local>`), without duplicates, each with its
    /// address (`local@domain`, folded as the recipient list is).
    pub(crate) maildirs: Vec<(PathBuf, String)>,
    /// The envelope of the recipients that go through the queue.
    pub(crate) queued: Option<QueuedEnvelope>,
    /// `Return-Path: <sender>\r\n`, written first when there are Maildirs.
    pub(crate) return_path: String,
}

/// The [`MessageSink`] of [`MtaHandler`](crate::MtaHandler);
/// see there for what it writes where.
#[derive(Debug)]
pub struct MtaSink<Q> {
    store: Arc<MaildirStore>,
    queue: Arc<Q>,
    plan: Option<Plan>,
    /// Unique name of this message (spool file, queue id, Maildir file name).
    base: String,
    spool: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
    size: u64,
    /// Octets of `Return-Path:` at the start of the spool.
    offset: u64,
    /// No spool file yet: the message is in `buf` (a small one for a database queue).
    in_memory: bool,
    /// The spool file is gone (committed or aborted): nothing for `Drop` to do.
    finished: bool,
}

fn join_error(e: tokio::task::JoinError) -> io::Error {
    io::Error::other(format!("storage task failed: {e}"))
}

/// "451 4.3.0": the answer whenever a message could not be stored.
pub(crate) fn storage_failure() -> Verdict {
    Verdict::from(replies::CANNOT_STORE)
}

/// Removes entries made by a delivery that did not complete (best effort).
fn take_back(created: &[PathBuf]) {
    for path in created.iter().rev() {
        let _ = fs::remove_file(path);
    }
}

impl<Q: QueueStore> MtaSink<Q> {
    /// Creates the spool file for a message going where `plan` says (or, for a small
    /// message only for a queue that copies what it stores, nothing yet).
    pub(crate) async fn open(
        store: Arc<MaildirStore>,
        queue: Arc<Q>,
        plan: Plan,
    ) -> io::Result<MtaSink<Q>> {
        let base = maildir::unique_base();
        let spool = store.spool.join(&base);
        let in_memory = plan.maildirs.is_empty() && queue.copies_content();
        let file = if in_memory {
            None
        } else {
            let path = spool.clone();
            Some(
                tokio::task::spawn_blocking(move || create_new(&path))
                    .await
                    .map_err(join_error)??,
            )
        };
        let mut buf = Vec::with_capacity(BUFFER);
        if !plan.maildirs.is_empty() {
            buf.extend_from_slice(plan.return_path.as_bytes());
        }
        let offset = buf.len() as u64;
        Ok(MtaSink {
            store,
            queue,
            plan: Some(plan),
            base,
            spool,
            file,
            size: offset,
            offset,
            in_memory,
            buf,
            // Nothing on disk to remove yet.
            finished: in_memory,
        })
    }

    /// Moves a message that outgrew [`IN_MEMORY`] to a spool file.
    async fn spill(&mut self) -> io::Result<()> {
        let path = self.spool.clone();
        let file =
            tokio::task::spawn_blocking(move || create_new(&path)).await.map_err(join_error)??;
        self.file = Some(file);
        self.in_memory = false;
        self.finished = false;
        self.flush().await
    }

    /// Writes the buffer out, on the blocking pool.
    async fn flush(&mut self) -> io::Result<()> {
        let mut file = self.file.take().ok_or_else(|| io::Error::other("sink already failed"))?;
        let buf = std::mem::take(&mut self.buf);
        let (file, mut buf, result) = tokio::task::spawn_blocking(move || {
            let result = file.write_all(&buf);
            (file, buf, result)
        })
        .await
        .map_err(join_error)?;
        buf.clear();
        self.buf = buf;
        // After a failed write the file stays closed: the transaction is over.
        if result.is_ok() {
            self.file = Some(file);
        }
        result
    }

    /// Writes the rest, fsyncs, places the message everywhere; removes the spool file.
    async fn store(&mut self) -> io::Result<()> {
        if self.in_memory {
            return self.store_from_memory().await;
        }
        let file = self.file.take().ok_or_else(|| io::Error::other("sink already failed"))?;
        let buf = std::mem::take(&mut self.buf);
        let plan = self.plan.take().unwrap_or_default();
        let store = self.store.clone();
        let (spool, size) = (self.spool.clone(), self.size);
        let maildirs = plan.maildirs;
        let (placed, created) = tokio::task::spawn_blocking(move || {
            let mut created = Vec::new();
            // The Maildir copies are links to the spool file: it must be durable first. A
            // message only for the queue is made durable by the queue (the file queue
            // fsyncs what it links; a database commits its own copy).
            let durable =
                if maildirs.is_empty() { write_rest(file, &buf) } else { finish_file(file, &buf) };
            let result =
                durable.and_then(|()| store.place_all(&maildirs, &spool, size, &mut created));
            (result, created)
        })
        .await
        .map_err(join_error)?;
        let mut result = placed;
        if let (Ok(()), Some(envelope)) = (&result, plan.queued) {
            let id = QueueId::try_from(self.base.clone()).unwrap_or_else(|_| QueueId::generate());
            let body = Body::Spooled { path: self.spool.clone(), offset: self.offset };
            let message = NewMessage { id, envelope, body };
            if let Err(e) = self.queue.enqueue(message).await {
                result = Err(io::Error::other(e));
            }
        }
        let spool = self.spool.clone();
        let failed = result.is_err();
        tokio::task::spawn_blocking(move || {
            if failed {
                // Take back what was placed: the client will send it again.
                take_back(&created);
            }
            let _ = fs::remove_file(&spool);
        })
        .await
        .map_err(join_error)?;
        self.finished = true;
        result
    }
}

impl<Q: QueueStore> MtaSink<Q> {
    /// Commits a message held in memory to the queue, which copies it.
    async fn store_from_memory(&mut self) -> io::Result<()> {
        self.finished = true;
        let plan = self.plan.take().unwrap_or_default();
        let Some(envelope) = plan.queued else { return Ok(()) };
        let id = QueueId::try_from(self.base.clone()).unwrap_or_else(|_| QueueId::generate());
        let body = Body::Memory(Bytes::from(std::mem::take(&mut self.buf)));
        self.queue.enqueue(NewMessage { id, envelope, body }).await.map_err(io::Error::other)
    }
}

impl<Q: QueueStore> MessageSink for MtaSink<Q> {
    async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        self.size += chunk.len() as u64;
        self.buf.extend_from_slice(&chunk);
        match (self.in_memory, self.buf.len()) {
            (true, len) if len > IN_MEMORY => self.spill().await,
            (false, len) if len >= BUFFER => self.flush().await,
            _ => Ok(()),
        }
    }

    async fn commit(mut self) -> Vec<Verdict> {
        match self.store().await {
            Ok(()) => {
                tracing::debug!(id = %self.base, size = self.size, "message stored");
                vec![Verdict::Accept]
            }
            Err(e) => {
                tracing::warn!(id = %self.base, error = %e, "cannot store the message");
                vec![storage_failure()]
            }
        }
    }

    async fn abort(mut self) {
        if self.in_memory {
            return;
        }
        self.file = None;
        let spool = self.spool.clone();
        if tokio::task::spawn_blocking(move || fs::remove_file(spool)).await.is_ok() {
            self.finished = true;
        }
    }
}

impl<Q> Drop for MtaSink<Q> {
    fn drop(&mut self) {
        // Neither committed nor aborted (the connection task was cancelled): one unlink,
        // cheap enough to do here.
        if !self.finished {
            let _ = fs::remove_file(&self.spool);
        }
    }
}

/// Writes the last bytes, without making them durable.
fn write_rest(mut file: File, rest: &[u8]) -> io::Result<()> {
    file.write_all(rest)
}

/// Writes the last bytes and makes the spool file durable.
fn finish_file(mut file: File, rest: &[u8]) -> io::Result<()> {
    file.write_all(rest)?;
    file.sync_all()
}

/// What each Maildir of a plan gets: the spool file itself, or a version a
/// [`MessageFilter`] made, written next to it and fsynced. The versions are removed when
/// this is dropped (the Maildirs hold links to them by then).
struct Versions {
    /// Per Maildir of the plan, in order: the file to place and its size.
    sources: Vec<(PathBuf, u64)>,
    /// Files written here.
    written: Vec<PathBuf>,
}

impl Versions {
    fn make(
        store: &MaildirStore,
        maildirs: &[(PathBuf, String)],
        spool: &Path,
        size: u64,
    ) -> io::Result<Versions> {
        let mut versions = Versions { sources: Vec::new(), written: Vec::new() };
        let original = (spool.to_path_buf(), size);
        let filter = match &store.filter {
            Some(filter) if !maildirs.is_empty() => filter,
            _ => {
                versions.sources = vec![original; maildirs.len()];
                return Ok(versions);
            }
        };
        let message = fs::read(spool)?;
        let recipients: Vec<&str> = maildirs.iter().map(|(_, a)| a.as_str()).collect();
        let filtered = filter.filter(&message, &recipients)?;
        let common = match &filtered.message {
            Some(bytes) => versions.write(spool, "filtered", bytes)?,
            None => original,
        };
        for (i, (_, address)) in maildirs.iter().enumerate() {
            let own = filtered.per_recipient.iter().find(|(r, _)| r == address);
            let source = match own {
                Some((_, bytes)) => versions.write(spool, &format!("r{i}"), bytes)?,
                None => common.clone(),
            };
            versions.sources.push(source);
        }
        Ok(versions)
    }

    /// Writes `bytes` durably to `<spool>.<suffix>`.
    fn write(&mut self, spool: &Path, suffix: &str, bytes: &[u8]) -> io::Result<(PathBuf, u64)> {
        let mut name = spool.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        let path = PathBuf::from(name);
        let file = create_new(&path)?;
        self.written.push(path.clone());
        finish_file(file, bytes)?;
        Ok((path, bytes.len() as u64))
    }
}

impl Drop for Versions {
    fn drop(&mut self) {
        for path in &self.written {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::FileQueue;

    struct Dirs {
        dir: tempfile::TempDir,
        store: Arc<MaildirStore>,
        queue: Arc<FileQueue>,
    }

    fn dirs() -> Dirs {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MaildirStore::open(dir.path(), "mx.test", None).unwrap());
        let queue = Arc::new(FileQueue::open(dir.path().join("queue")).unwrap());
        Dirs { dir, store, queue }
    }

    impl Dirs {
        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn plan(&self, users: &[&str]) -> Plan {
            Plan {
                maildirs: users
                    .iter()
                    .map(|u| (self.path("maildir/mail.test").join(u), format!("{u}@mail.test")))
                    .collect(),
                queued: None,
                return_path: String::from("Return-Path: <a@b.test>\r\n"),
            }
        }

        async fn sink(&self, users: &[&str]) -> MtaSink<FileQueue> {
            MtaSink::open(self.store.clone(), self.queue.clone(), self.plan(users)).await.unwrap()
        }
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir).map(|r| r.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
    }

    #[tokio::test]
    async fn commit_links_one_complete_file_into_each_maildir() {
        let dirs = dirs();
        let mut sink = dirs.sink(&["a", "b"]).await;
        sink.write(Bytes::from_static(b"Received: x\r\n")).await.unwrap();
        let big = Bytes::from(vec![b'x'; 3 * BUFFER]);
        sink.write(big).await.unwrap();
        assert_eq!(sink.commit().await, vec![Verdict::Accept]);
        for user in ["a", "b"] {
            let new = entries(&dirs.path("maildir/mail.test").join(user).join("new"));
            assert_eq!(new.len(), 1);
            let content = fs::read(&new[0]).unwrap();
            assert!(content.starts_with(b"Return-Path: <a@b.test>\r\nReceived: x\r\nxxx"));
            assert_eq!(content.len(), 25 + 13 + 3 * BUFFER);
            let name = new[0].file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.ends_with(&format!(".mx.test,S={}", content.len())), "{name}");
        }
        assert!(entries(&dirs.path("spool")).is_empty());
    }

    #[tokio::test]
    async fn abort_and_drop_remove_the_spool_file() {
        let dirs = dirs();
        let mut sink = dirs.sink(&["a"]).await;
        sink.write(Bytes::from_static(b"partial")).await.unwrap();
        assert_eq!(entries(&dirs.path("spool")).len(), 1);
        sink.abort().await;
        assert!(entries(&dirs.path("spool")).is_empty());
        drop(dirs.sink(&["a"]).await);
        assert!(entries(&dirs.path("spool")).is_empty());
        assert!(!dirs.path("maildir/mail.test/a/new").exists());
    }

    /// A full disk, without mounting anything: /dev/full fails every write with ENOSPC.
    fn on_full_disk(mut sink: MtaSink<FileQueue>) -> MtaSink<FileQueue> {
        sink.file = Some(fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
        sink
    }

    #[tokio::test]
    async fn a_full_disk_during_the_data_fails_the_write() {
        let dirs = dirs();
        let mut sink = on_full_disk(dirs.sink(&["a"]).await);
        let error = sink.write(Bytes::from(vec![b'x'; BUFFER])).await.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(28), "{error}"); // ENOSPC
        // The driver aborts after a failed write.
        sink.abort().await;
        assert!(entries(&dirs.path("spool")).is_empty());
        assert!(!dirs.path("maildir/mail.test/a/new").exists());
    }

    #[tokio::test]
    async fn a_full_disk_at_the_end_gives_451_and_nothing_in_new() {
        let dirs = dirs();
        let mut sink = on_full_disk(dirs.sink(&["a"]).await);
        sink.write(Bytes::from_static(b"Subject: small\r\n\r\nhi\r\n")).await.unwrap();
        let verdicts = sink.commit().await;
        assert_eq!(verdicts, vec![storage_failure()]);
        let Verdict::Reply(reply) = &verdicts[0] else { panic!("{verdicts:?}") };
        assert_eq!(reply.to_string(), "451 4.3.0 Cannot store the message now; try again later");
        assert!(entries(&dirs.path("spool")).is_empty());
        assert!(!dirs.path("maildir/mail.test/a/new").exists());
    }

    #[tokio::test]
    async fn a_failing_destination_takes_back_the_others() {
        let dirs = dirs();
        // "b" cannot be a Maildir: its `new` is a regular file (works as root too).
        let b = dirs.path("maildir/mail.test/b");
        fs::create_dir_all(b.join("tmp")).unwrap();
        fs::write(b.join("new"), b"not a directory").unwrap();
        let mut sink = dirs.sink(&["a", "b"]).await;
        sink.write(Bytes::from_static(b"Subject: x\r\n\r\nhi\r\n")).await.unwrap();
        assert_eq!(sink.commit().await, vec![storage_failure()]);
        assert!(entries(&dirs.path("maildir/mail.test/a/new")).is_empty());
        assert!(entries(&dirs.path("maildir/mail.test/a/tmp")).is_empty());
        assert!(entries(&dirs.path("spool")).is_empty());
    }

    #[tokio::test]
    async fn a_queue_that_fails_takes_back_the_maildir_copies() {
        let dirs = dirs();
        let mut plan = dirs.plan(&["a"]);
        let bob = crate::queue::QueuedRecipient::new(
            sealpost_codec::ForwardPath::Mailbox("bob@example.net".parse().unwrap()),
            Default::default(),
            crate::queue::RecipientRoute::Remote,
        );
        plan.queued = Some(
            QueuedEnvelope::new(sealpost_codec::ReversePath::Null, Default::default())
                .recipient(bob),
        );
        // The queue directory is gone: the enqueue fails after the Maildir copy was made.
        fs::remove_dir_all(dirs.queue.dir()).unwrap();
        let mut sink = MtaSink::open(dirs.store.clone(), dirs.queue.clone(), plan).await.unwrap();
        sink.write(Bytes::from_static(b"Subject: x\r\n\r\nhi\r\n")).await.unwrap();
        assert_eq!(sink.commit().await, vec![storage_failure()]);
        assert!(entries(&dirs.path("maildir/mail.test/a/new")).is_empty());
        assert!(entries(&dirs.path("spool")).is_empty());
    }
}
