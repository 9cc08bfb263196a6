//! Memory per idle connection: the server's resident set before and after opening them,
//! and the open-file limits that so many connections need.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::sh::Sh;

/// `VmRSS` of process `pid`, in KiB.
pub(crate) fn vm_rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// `VmRSS` once it has stopped moving (two readings 200 ms apart within 1 %), at most
/// three seconds: the server may still be setting up the last sessions.
pub(crate) fn settled_rss_kib(pid: u32) -> Result<u64> {
    let mut last = vm_rss_kib(pid)?;
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(200));
        let now = vm_rss_kib(pid)?;
        if now.abs_diff(last) * 100 <= last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// The soft limit on open files of this process.
fn nofile_soft() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("no open-file limit in /proc/self/limits")?;
    let soft = line.split_whitespace().nth(3).context("odd /proc/self/limits")?;
    Ok(if soft == "unlimited" { u64::MAX } else { soft.parse()? })
}

/// Makes sure this process (and what it starts later) may open `need` files, with
/// prlimit(1): raising the hard limit needs root.
pub(crate) fn raise_nofile(sh: &Sh, need: u64) -> Result<()> {
    if nofile_soft()? >= need {
        return Ok(());
    }
    let pid = std::process::id().to_string();
    let set = sh.run(sh.cmd("prlimit").args(["--pid", &pid, &format!("--nofile={need}:{need}")]));
    if let Err(e) = set {
        bail!(
            "{e:#}\nthe idle-connection runs need {need} open files per process; run as root or \
             raise the hard limit (ulimit -Hn) first"
        );
    }
    if nofile_soft()? < need {
        bail!("prlimit ran, but the open-file limit is still below {need}");
    }
    Ok(())
}
