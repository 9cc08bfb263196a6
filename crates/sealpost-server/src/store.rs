//! The message sink of [`MtaHandler`](crate::MtaHandler): spool once, link everywhere.
//!
//! A message is written once, to `spool/<unique>`, while it arrives. At the end of the
//! data it is fsynced, then placed into each destination with `link()` (or, across file
//! systems, copied to the destination's `tmp/`, fsynced and linked into place), and each
//! destination directory is fsynced. Only when every destination is durable does commit
//! answer 250; if any fails, the entries already made are taken back (best effort) and
//! the answer is "451 4.3.0", so the client retries and nothing is half-acknowledged.
//! The spool file is removed in every case, on abort, and when the sink is dropped.
//!
//! A `link()` makes a complete file appear under its final name in one step, so a crash
//! at any point leaves either nothing or a complete message in `new/`. Maildir copies
//! of one message share one inode (as with Dovecot's multi-recipient delivery); mail
//! readers rename and unlink files, they do not rewrite them.
//!
//! When the message goes to a Maildir, the spool starts with `Return-Path: <sender>`:
//! written before the driver's first chunk (the Received header), it ends up first in
//! the file, as RFC 5321 section 4.4 wants for final delivery.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::filter::MessageFilter;
use crate::handler::{MessageSink, Verdict};
use crate::maildir;
use crate::queue::{self, QueueEnvelope};

/// Data is handed to the file system in pieces of this size: few blocking calls, and a
/// buffer that is allocated once per message.
const BUFFER: usize = 64 * 1024;

/// Where things are under the data directory.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) maildir: PathBuf,
    pub(crate) queue: PathBuf,
    pub(crate) spool: PathBuf,
    /// The host name as it appears in Maildir file names.
    pub(crate) host: String,
    /// Looks at messages for the Maildirs before they are stored.
    pub(crate) filter: Option<Arc<dyn MessageFilter>>,
}

/// Where one message goes.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Maildir roots (`maildir/<domain>/<local>`), without duplicates, each with its
    /// address (`local@domain`, folded as the recipient list is).
    pub(crate) maildirs: Vec<(PathBuf, String)>,
    /// The queue entry for relayed recipients, its `message_offset` still to be set.
    pub(crate) queue: Option<QueueEnvelope>,
    /// `Return-Path: <sender>\r\n`, written first when there are Maildirs.
    pub(crate) return_path: String,
}

/// The [`MessageSink`] of [`MtaHandler`](crate::MtaHandler).
///
/// The message is written once to `spool/` while it arrives (starting with
/// `Return-Path:` when it goes to a Maildir). Commit fsyncs it, links it into every
/// destination (or copies it via the destination's `tmp/` across file systems), fsyncs
/// each destination directory, and only then accepts; if any destination fails, the
/// entries already made are removed and the answer is "451 4.3.0". A crash at any point
/// leaves nothing or a complete message in `new/`. Abort, and dropping the sink, remove
/// the spool file.
#[derive(Debug)]
pub struct MtaSink {
    layout: Arc<Layout>,
    plan: Option<Plan>,
    /// Unique name of this message (spool file, queue id, Maildir file name).
    base: String,
    spool: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
    size: u64,
    /// The spool file is gone (committed or aborted): nothing for `Drop` to do.
    finished: bool,
}

fn join_error(e: tokio::task::JoinError) -> io::Error {
    io::Error::other(format!("storage task failed: {e}"))
}

/// "451 4.3.0": the answer whenever a message could not be stored.
pub(crate) fn storage_failure() -> Verdict {
    Verdict::reject(451, (4, 3, 0), "Cannot store the message now; try again later")
}

impl MtaSink {
    /// Creates the spool file for a message going where `plan` says.
    pub(crate) async fn open(layout: Arc<Layout>, mut plan: Plan) -> io::Result<MtaSink> {
        let base = maildir::unique_base();
        let spool = layout.spool.join(&base);
        let path = spool.clone();
        let file =
            tokio::task::spawn_blocking(move || create_new(&path)).await.map_err(join_error)??;
        let mut buf = Vec::with_capacity(BUFFER);
        if !plan.maildirs.is_empty() {
            buf.extend_from_slice(plan.return_path.as_bytes());
        }
        if let Some(queued) = plan.queue.as_mut() {
            queued.id.clone_from(&base);
            queued.message_offset = buf.len() as u64;
        }
        Ok(MtaSink {
            layout,
            plan: Some(plan),
            base,
            spool,
            file: Some(file),
            size: buf.len() as u64,
            buf,
            finished: false,
        })
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
        let file = self.file.take().ok_or_else(|| io::Error::other("sink already failed"))?;
        let buf = std::mem::take(&mut self.buf);
        let plan = self.plan.take().unwrap_or_default();
        let layout = self.layout.clone();
        let (spool, base, size) = (self.spool.clone(), self.base.clone(), self.size);
        let result = tokio::task::spawn_blocking(move || {
            let result = finish_file(file, &buf).and_then(|()| {
                let mut created = Vec::new();
                let result = deliver(&layout, &plan, &spool, &base, size, &mut created);
                if result.is_err() {
                    // Take back what was placed: the client will send it again.
                    for path in created.iter().rev() {
                        let _ = fs::remove_file(path);
                    }
                }
                result
            });
            let _ = fs::remove_file(&spool);
            result
        })
        .await
        .map_err(join_error)?;
        self.finished = true;
        result
    }
}

impl MessageSink for MtaSink {
    async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        self.size += chunk.len() as u64;
        self.buf.extend_from_slice(&chunk);
        if self.buf.len() >= BUFFER { self.flush().await } else { Ok(()) }
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
        self.file = None;
        let spool = self.spool.clone();
        if tokio::task::spawn_blocking(move || fs::remove_file(spool)).await.is_ok() {
            self.finished = true;
        }
    }
}

impl Drop for MtaSink {
    fn drop(&mut self) {
        // Neither committed nor aborted (the connection task was cancelled): one unlink,
        // cheap enough to do here.
        if !self.finished {
            let _ = fs::remove_file(&self.spool);
        }
    }
}

/// Writes the last bytes and makes the spool file durable.
fn finish_file(mut file: File, rest: &[u8]) -> io::Result<()> {
    file.write_all(rest)?;
    file.sync_all()
}

/// Places the spool file into every destination of `plan`, recording what it created.
fn deliver(
    layout: &Layout,
    plan: &Plan,
    spool: &Path,
    base: &str,
    size: u64,
    created: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let versions = Versions::make(layout, plan, spool, size)?;
    for ((root, _), (source, size)) in plan.maildirs.iter().zip(&versions.sources) {
        let name = maildir::file_name(base, &layout.host, *size);
        maildir::ensure(&layout.maildir, root)?;
        let new = root.join("new");
        let target = new.join(&name);
        place(source, &target, &root.join("tmp").join(&name))?;
        created.push(target);
        sync_dir(&new)?;
    }
    if let Some(queued) = &plan.queue {
        queue::commit(&layout.queue, spool, queued, created)?;
    }
    Ok(())
}

/// Stores a complete message in the Maildir at `root` the way [`MtaSink`] does (spool,
/// fsync, link into `new/`, fsync `new/`), for messages made here (delivery status
/// notices) rather than received.
pub(crate) fn deliver_bytes(layout: &Layout, root: &Path, message: &[u8]) -> io::Result<()> {
    let base = maildir::unique_base();
    let spool = layout.spool.join(&base);
    let result = (|| {
        finish_file(create_new(&spool)?, message)?;
        maildir::ensure(&layout.maildir, root)?;
        let name = maildir::file_name(&base, &layout.host, message.len() as u64);
        let new = root.join("new");
        place(&spool, &new.join(&name), &root.join("tmp").join(&name))?;
        sync_dir(&new)
    })();
    let _ = fs::remove_file(&spool);
    result
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
    fn make(layout: &Layout, plan: &Plan, spool: &Path, size: u64) -> io::Result<Versions> {
        let mut versions = Versions { sources: Vec::new(), written: Vec::new() };
        let original = (spool.to_path_buf(), size);
        let filter = match &layout.filter {
            Some(filter) if !plan.maildirs.is_empty() => filter,
            _ => {
                versions.sources = vec![original; plan.maildirs.len()];
                return Ok(versions);
            }
        };
        let message = fs::read(spool)?;
        let recipients: Vec<&str> = plan.maildirs.iter().map(|(_, a)| a.as_str()).collect();
        let filtered = filter.filter(&message, &recipients)?;
        let common = match &filtered.message {
            Some(bytes) => versions.write(spool, "filtered", bytes)?,
            None => original,
        };
        for (i, (_, address)) in plan.maildirs.iter().enumerate() {
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

/// Makes the complete, fsynced file `src` appear as `dst`, never replacing an existing
/// `dst`: a hard link, or where that is impossible (another file system) a copy into
/// `tmp` (same directory tree as `dst`), fsynced, then linked into place.
pub(crate) fn place(src: &Path, dst: &Path, tmp: &Path) -> io::Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
        Err(_) => {}
    }
    let copied = (|| {
        let mut out = create_new(tmp)?;
        io::copy(&mut File::open(src)?, &mut out)?;
        out.sync_all()?;
        drop(out);
        match fs::hard_link(tmp, dst) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists && !dst.exists() => {
                // A file system without hard links: rename is atomic too.
                tracing::debug!(error = %e, "link failed; renaming");
                fs::rename(tmp, dst)
            }
            other => other,
        }
    })();
    let _ = fs::remove_file(tmp);
    copied
}

/// Creates a file that must not exist yet, readable by its owner only.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates a directory (and its missing parents) that only the owner can enter: mail is
/// private. An existing directory is fine.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Makes the entries of a directory durable (new names, renames, links).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("sealpost-store-{tag}-{}", maildir::unique_base()));
            for sub in ["maildir", "queue", "spool"] {
                fs::create_dir_all(dir.join(sub)).unwrap();
            }
            TempDir(dir)
        }
        fn layout(&self) -> Arc<Layout> {
            Arc::new(Layout {
                maildir: self.0.join("maildir"),
                queue: self.0.join("queue"),
                spool: self.0.join("spool"),
                host: String::from("mx.test"),
                filter: None,
            })
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn plan(dir: &TempDir, users: &[&str]) -> Plan {
        Plan {
            maildirs: users
                .iter()
                .map(|u| (dir.0.join("maildir/mail.test").join(u), format!("{u}@mail.test")))
                .collect(),
            queue: None,
            return_path: String::from("Return-Path: <a@b.test>\r\n"),
        }
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir).map(|r| r.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
    }

    #[tokio::test]
    async fn commit_links_one_complete_file_into_each_maildir() {
        let dir = TempDir::new("ok");
        let mut sink = MtaSink::open(dir.layout(), plan(&dir, &["a", "b"])).await.unwrap();
        sink.write(Bytes::from_static(b"Received: x\r\n")).await.unwrap();
        let big = Bytes::from(vec![b'x'; 3 * BUFFER]);
        sink.write(big).await.unwrap();
        assert_eq!(sink.commit().await, vec![Verdict::Accept]);
        for user in ["a", "b"] {
            let new = entries(&dir.0.join("maildir/mail.test").join(user).join("new"));
            assert_eq!(new.len(), 1);
            let content = fs::read(&new[0]).unwrap();
            assert!(content.starts_with(b"Return-Path: <a@b.test>\r\nReceived: x\r\nxxx"));
            assert_eq!(content.len(), 25 + 13 + 3 * BUFFER);
            let name = new[0].file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.ends_with(&format!(".mx.test,S={}", content.len())), "{name}");
        }
        assert!(entries(&dir.0.join("spool")).is_empty());
    }

    #[tokio::test]
    async fn abort_and_drop_remove_the_spool_file() {
        let dir = TempDir::new("abort");
        let mut sink = MtaSink::open(dir.layout(), plan(&dir, &["a"])).await.unwrap();
        sink.write(Bytes::from_static(b"partial")).await.unwrap();
        assert_eq!(entries(&dir.0.join("spool")).len(), 1);
        sink.abort().await;
        assert!(entries(&dir.0.join("spool")).is_empty());
        let sink = MtaSink::open(dir.layout(), plan(&dir, &["a"])).await.unwrap();
        drop(sink);
        assert!(entries(&dir.0.join("spool")).is_empty());
        assert!(!dir.0.join("maildir/mail.test/a/new").exists());
    }

    /// A full disk, without mounting anything: /dev/full fails every write with ENOSPC.
    fn on_full_disk(mut sink: MtaSink) -> MtaSink {
        sink.file = Some(fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
        sink
    }

    #[tokio::test]
    async fn a_full_disk_during_the_data_fails_the_write() {
        let dir = TempDir::new("full-write");
        let sink = MtaSink::open(dir.layout(), plan(&dir, &["a"])).await.unwrap();
        let mut sink = on_full_disk(sink);
        let error = sink.write(Bytes::from(vec![b'x'; BUFFER])).await.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(28), "{error}"); // ENOSPC
        // The driver aborts after a failed write.
        sink.abort().await;
        assert!(entries(&dir.0.join("spool")).is_empty());
        assert!(!dir.0.join("maildir/mail.test/a/new").exists());
    }

    #[tokio::test]
    async fn a_full_disk_at_the_end_gives_451_and_nothing_in_new() {
        let dir = TempDir::new("full-commit");
        let sink = MtaSink::open(dir.layout(), plan(&dir, &["a"])).await.unwrap();
        let mut sink = on_full_disk(sink);
        sink.write(Bytes::from_static(b"Subject: small\r\n\r\nhi\r\n")).await.unwrap();
        let verdicts = sink.commit().await;
        assert_eq!(verdicts, vec![storage_failure()]);
        let Verdict::Reply(reply) = &verdicts[0] else { panic!("{verdicts:?}") };
        assert_eq!(reply.to_string(), "451 4.3.0 Cannot store the message now; try again later");
        assert!(entries(&dir.0.join("spool")).is_empty());
        assert!(!dir.0.join("maildir/mail.test/a/new").exists());
    }

    #[tokio::test]
    async fn a_failing_destination_takes_back_the_others() {
        let dir = TempDir::new("rollback");
        // "b" cannot be a Maildir: its `new` is a regular file (works as root too).
        let b = dir.0.join("maildir/mail.test/b");
        fs::create_dir_all(b.join("tmp")).unwrap();
        fs::write(b.join("new"), b"not a directory").unwrap();
        let mut sink = MtaSink::open(dir.layout(), plan(&dir, &["a", "b"])).await.unwrap();
        sink.write(Bytes::from_static(b"Subject: x\r\n\r\nhi\r\n")).await.unwrap();
        assert_eq!(sink.commit().await, vec![storage_failure()]);
        assert!(entries(&dir.0.join("maildir/mail.test/a/new")).is_empty());
        assert!(entries(&dir.0.join("maildir/mail.test/a/tmp")).is_empty());
        assert!(entries(&dir.0.join("spool")).is_empty());
    }

    #[test]
    fn place_falls_back_to_a_copy_and_never_replaces() {
        let dir = TempDir::new("place");
        let src = dir.0.join("spool/src");
        fs::write(&src, b"message").unwrap();
        let dst = dir.0.join("queue/dst");
        place(&src, &dst, &dir.0.join("queue/dst.tmp")).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"message");
        let again = place(&src, &dst, &dir.0.join("queue/dst.tmp")).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        // A source that cannot be linked (a directory) is copied — and here fails cleanly.
        let err = place(&dir.0.join("spool"), &dir.0.join("queue/d2"), &dir.0.join("queue/d2.tmp"));
        assert!(err.is_err());
        assert_eq!(entries(&dir.0.join("queue")).len(), 1);
    }
}
