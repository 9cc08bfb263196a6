//! Durable file operations shared by the Maildir store and the file queue: files that
//! never replace another, fsync of files and of the directories that name them.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Creates a file that must not exist yet, readable by its owner only.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_links_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"message").unwrap();
        let dst = dir.path().join("dst");
        place(&src, &dst, &dir.path().join("dst.tmp")).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"message");
        let again = place(&src, &dst, &dir.path().join("dst.tmp")).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        // A source that cannot be linked (a directory) is copied, and here fails cleanly.
        let err = place(dir.path(), &dir.path().join("d2"), &dir.path().join("d2.tmp"));
        assert!(err.is_err());
        assert!(!dir.path().join("d2.tmp").exists() && !dir.path().join("d2").exists());
    }
}
