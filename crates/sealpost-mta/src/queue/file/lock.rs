//! The lock of a queue directory: one exclusive `flock` on `queue/.lock`, held for the
//! few milliseconds a claim, a settlement or an administrator's change takes, so that
//! `sealpost queue` and a running server never read-modify-write an entry at once.
//!
//! The lock file also holds a generation: a counter that every holder of the lock
//! increments when it lets go. A process that finds the generation it left behind knows
//! that nobody else changed the queue since, and can trust what it remembers of it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Held while it lives; the kernel drops the lock when the process dies, so a crash
/// never leaves the queue locked.
#[derive(Debug)]
pub(super) struct DirLock {
    file: File,
    generation: u64,
}

impl DirLock {
    /// Waits for the lock of the queue directory `dir`.
    pub(super) fn acquire(dir: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.join(".lock"))?;
        file.lock()?;
        let mut bytes = [0u8; 8];
        // A new (empty) or short file reads as generation 0.
        let read = file.read_at(&mut bytes, 0)?;
        let generation = if read == 8 { u64::from_le_bytes(bytes) } else { 0 };
        Ok(DirLock { file, generation })
    }

    /// The generation the last holder left.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Marks the queue as changed; returns the new generation. Not fsynced: after a
    /// crash every process starts with a full look at the queue anyway.
    pub(super) fn bump(&mut self) -> io::Result<u64> {
        self.generation = self.generation.wrapping_add(1);
        self.file.write_all_at(&self.generation.to_le_bytes(), 0)?;
        Ok(self.generation)
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}
