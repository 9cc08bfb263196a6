//! The lock of a queue directory: one exclusive `flock` on `queue/.lock`, held for the
//! few milliseconds a claim, a settlement or an administrator's change takes, so that
//! `sealpost queue` and a running server never read-modify-write an entry at once.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Held while it lives; the kernel drops the lock when the process dies, so a crash
/// never leaves the queue locked.
#[derive(Debug)]
pub(crate) struct DirLock(File);

impl DirLock {
    /// Waits for the lock of the queue directory `dir`.
    pub(crate) fn acquire(dir: &Path) -> io::Result<DirLock> {
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock"))?;
        file.lock()?;
        Ok(DirLock(file))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
