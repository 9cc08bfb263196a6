//! A scratch folder for one run of the suite: the server's data, the peers' configuration
//! files and their captured output. Removed when dropped (also when a case fails or
//! panics), unless the run asked to keep it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// A fresh folder under the system's temporary folder.
pub(crate) struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    /// Creates `$TMPDIR/sealpost-interop-PID-NANOS`, readable by every user: the private
    /// Postfix runs its daemons as the `postfix` user and must reach its folders below it.
    pub(crate) fn new(keep: bool) -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let path =
            std::env::temp_dir().join(format!("sealpost-interop-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        set_mode(&path, 0o755)?;
        Ok(Self { path, keep })
    }

    /// Creates `name` (and its parents) below the folder and returns its path.
    pub(crate) fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        set_mode(&dir, 0o755)?;
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            println!("interop: kept the scratch folder {}", self.path.display());
        } else if let Err(err) = std::fs::remove_dir_all(&self.path) {
            eprintln!("interop: could not remove {}: {err}", self.path.display());
        }
    }
}

/// Sets the permission bits of `path`.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))
}
