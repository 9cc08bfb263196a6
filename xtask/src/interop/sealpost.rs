//! The server under test: the real `sealpost serve` binary, started the way a person
//! starts it, with a fresh data folder, the test PKI's `mail.test` certificate, one user,
//! and every listener on a free loopback port (read back from its start message).

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::exec::{self, Exec, POLL, read_lossy, tail};
use super::maildir::Mailbox;
use crate::sh::{Sh, display};

/// The host name and the one local domain.
pub(crate) const DOMAIN: &str = "mail.test";
/// The user the AUTH cases log in as.
pub(crate) const USER: &str = "tester";
/// Its password (a test secret, like the keys in tests/pki).
pub(crate) const PASSWORD: &str = "interop-Secret-42";

/// How long the start message may take on a busy machine.
const START_LIMIT: Duration = Duration::from_secs(60);
/// SIGTERM lets sessions finish for `shutdown_grace` (30 s by default): wait a bit longer.
const STOP_LIMIT: Duration = Duration::from_secs(45);

/// Builds the binary (the debug build: after `cargo xtask ci`'s test step it only links)
/// and returns its path.
pub(crate) fn build(sh: &Sh) -> Result<PathBuf> {
    sh.run(sh.cmd("cargo").args(["build", "--workspace", "--all-features", "--bin", "sealpost"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| sh.root().join("target"), PathBuf::from);
    let bin = target.join("debug").join("sealpost");
    if !bin.is_file() {
        bail!("cargo build succeeded but {} is not there", bin.display());
    }
    Ok(bin)
}

/// A running `sealpost serve`.
pub(crate) struct Sealpost {
    child: Child,
    /// The MX listener (STARTTLS offered).
    pub(crate) mx: SocketAddr,
    /// The submission listener (STARTTLS, then AUTH).
    pub(crate) submission: SocketAddr,
    /// The implicit-TLS submission listener.
    pub(crate) smtps: SocketAddr,
    data_dir: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Sealpost {
    /// Adds the test user to a users file in `dir` and starts the server with its data
    /// in `dir/data`.
    pub(crate) fn start(sh: &Sh, exec: &Exec, bin: &Path, dir: &Path) -> Result<Self> {
        Sealpost::start_as(sh, exec, bin, dir, DOMAIN, &[])
    }

    /// [`Sealpost::start`] with another host name and local domain, and more arguments
    /// (such as `--config FILE`).
    pub(crate) fn start_as(
        sh: &Sh,
        exec: &Exec,
        bin: &Path,
        dir: &Path,
        domain: &str,
        extra: &[&str],
    ) -> Result<Self> {
        Sealpost::start_logging(sh, exec, bin, dir, domain, extra, "info")
    }

    /// [`Sealpost::start_as`] with the log filter `log` (`SEALPOST_LOG`), for cases that
    /// read a debug line of one module.
    pub(crate) fn start_logging(
        sh: &Sh,
        exec: &Exec,
        bin: &Path,
        dir: &Path,
        domain: &str,
        extra: &[&str],
        log: &str,
    ) -> Result<Self> {
        let any = ["127.0.0.1:0"; 3];
        Sealpost::start_on(sh, exec, bin, dir, domain, any, extra, log)
    }

    /// [`Sealpost::start_logging`] with the listeners on `listeners` (smtp, submission,
    /// smtps): fixed ports, so that a server killed and started again is found where it
    /// was.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_on(
        sh: &Sh,
        exec: &Exec,
        bin: &Path,
        dir: &Path,
        domain: &str,
        listeners: [&str; 3],
        extra: &[&str],
        log: &str,
    ) -> Result<Self> {
        let users = dir.join("users");
        let mut add = Command::new(bin);
        add.current_dir(sh.root()).args(["user", "add", USER, "--users"]).arg(&users);
        exec.run(&mut add, format!("{PASSWORD}\n").as_bytes(), START_LIMIT)?.expect_code(0)?;

        let data_dir = dir.join("data");
        let pki = sh.root().join("tests/pki");
        let mut serve = Command::new(bin);
        serve
            .current_dir(sh.root())
            .env("SEALPOST_LOG", log)
            .env_remove("RUST_LOG")
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--hostname", domain, "--domain", domain])
            .arg("--cert")
            .arg(pki.join("server-chain.pem"))
            .arg("--key")
            .arg(pki.join("server-key.pem"))
            .arg("--users")
            .arg(&users)
            .args(["--smtp", listeners[0], "--submission", listeners[1]])
            .args(["--smtps", listeners[2]])
            .args(extra);
        let line = display(&serve);
        println!("$ {line}");
        let stdout = dir.join("serve.stdout");
        let stderr = dir.join("serve.stderr");
        // Same process group as xtask: an interrupted run takes the server down with it.
        let child = serve
            .stdin(Stdio::null())
            .stdout(File::create(&stdout)?)
            .stderr(File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        let mut server = Sealpost {
            child,
            mx: unbound(),
            submission: unbound(),
            smtps: unbound(),
            data_dir,
            stdout,
            stderr,
        };
        server.read_addresses()?;
        println!(
            "sealpost serve: MX {}, submission {}, smtps {}",
            server.mx, server.submission, server.smtps
        );
        Ok(server)
    }

    /// Waits for the three `listening on ADDR (NAME: ...)` lines of the start message.
    fn read_addresses(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let banner = read_lossy(&self.stdout);
            let found = |name: &str| listening(&banner, name);
            if let (Some(mx), Some(sub), Some(smtps)) =
                (found("smtp"), found("submission"), found("smtps"))
            {
                (self.mx, self.submission, self.smtps) = (mx, sub, smtps);
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("sealpost serve exited ({status}) before listening:\n{}", self.output());
            }
            if Instant::now() >= deadline {
                bail!("sealpost serve printed no addresses within a minute:\n{}", self.output());
            }
            std::thread::sleep(POLL);
        }
    }

    /// The start message and the log so far.
    pub(crate) fn output(&self) -> String {
        format!("{}{}", read_lossy(&self.stdout), tail(&read_lossy(&self.stderr)))
    }

    /// The whole log so far (standard error).
    pub(crate) fn log(&self) -> String {
        read_lossy(&self.stderr)
    }

    /// Waits at most `limit` for a log line after byte `mark` that `wanted` accepts.
    ///
    /// The log is written by another process: a line about an event the test already
    /// saw the effect of (a stored message) may still be on its way.
    pub(crate) fn wait_for_line(
        &self,
        mark: usize,
        limit: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            let since = log.get(mark..).unwrap_or_default();
            if let Some(line) = since.lines().find(|l| wanted(l)) {
                return Ok(line.to_owned());
            }
            if Instant::now() >= deadline {
                bail!("no such line within {} s; the log ends:\n{}", limit.as_secs(), tail(since));
            }
            std::thread::sleep(POLL * 5);
        }
    }

    /// The data folder.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The Maildir of `local@mail.test`.
    pub(crate) fn mailbox(&self, local: &str) -> Mailbox {
        Mailbox::new(self.data_dir.join("maildir").join(DOMAIN).join(local))
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it; returns its
    /// log.
    pub(crate) fn kill(mut self) -> Result<String> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(self.log())
    }

    /// Stops the server with SIGTERM and checks that it exits 0 within the grace period.
    pub(crate) fn stop(mut self) -> Result<String> {
        let pid = self.child.id().to_string();
        if !exec::signal(&pid, "TERM") {
            bail!("could not send SIGTERM to sealpost serve (pid {pid})");
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("sealpost serve ended with {status} after SIGTERM:\n{}", self.output());
                }
                return Ok(String::from("exit code 0"));
            }
            if started.elapsed() > STOP_LIMIT {
                bail!("sealpost serve still runs {} s after SIGTERM", STOP_LIMIT.as_secs());
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Sealpost {
    fn drop(&mut self) {
        // Only when stop() was not reached (a failure): never leave a server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unbound() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The address in the start message's `listening on ADDR (NAME: ...)` line for `name`.
fn listening(banner: &str, name: &str) -> Option<SocketAddr> {
    banner.lines().find_map(|line| {
        let rest = line.strip_prefix("listening on ")?;
        let (addr, purpose) = rest.split_once(' ')?;
        purpose.starts_with(&format!("({name}:")).then(|| addr.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_from_the_listening_lines() {
        let banner = "sealpost 0.1.0 is running as mail.test; local domains: mail.test\n\
            listening on 127.0.0.1:38825 (smtp: MX for the local domains, STARTTLS offered)\n\
            listening on 127.0.0.1:33409 (submission: STARTTLS, then AUTH required)\n\
            listening on [::1]:35969 (smtps: implicit TLS, then AUTH required)\n";
        assert_eq!(listening(banner, "smtp"), "127.0.0.1:38825".parse().ok());
        assert_eq!(listening(banner, "submission"), "127.0.0.1:33409".parse().ok());
        assert_eq!(listening(banner, "smtps"), "[::1]:35969".parse().ok());
        assert_eq!(listening(banner, "lmtp"), None);
    }
}
