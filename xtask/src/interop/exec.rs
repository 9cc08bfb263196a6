//! Running peers with a time limit.
//!
//! Every peer runs in its own process group with its output going to files in the scratch
//! folder (no pipe can fill up and stall it), and is killed with its whole group when it
//! overruns its limit. [`Chat`] drives the interactive ones (`openssl s_client`,
//! `gnutls-cli`) line by line: send, then wait for an expected line, each step bounded.

use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sh::display;

/// How often a wait looks again.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// What a finished peer left.
pub(crate) struct Output {
    /// How it ended.
    pub(crate) status: ExitStatus,
    /// Standard output, as text.
    pub(crate) stdout: String,
    /// Standard error, as text.
    pub(crate) stderr: String,
}

impl Output {
    /// The exit code, or -1 when a signal ended it.
    pub(crate) fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Standard output and standard error together.
    pub(crate) fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Fails unless the exit code is `expected`, quoting the output.
    pub(crate) fn expect_code(&self, expected: i32) -> Result<()> {
        if self.code() != expected {
            bail!(
                "exit code {} (expected {expected}); output:\n{}",
                self.code(),
                tail(&self.text())
            );
        }
        Ok(())
    }
}

/// The last lines of `text`, for error messages.
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Starts peers, with their output captured in files of one folder.
pub(crate) struct Exec {
    dir: PathBuf,
    count: Cell<u32>,
}

impl Exec {
    /// Output files go to `dir`.
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir, count: Cell::new(0) }
    }

    fn next_file(&self, suffix: &str) -> Result<(PathBuf, File)> {
        let n = self.count.get() + 1;
        self.count.set(n);
        let path = self.dir.join(format!("{n:03}.{suffix}"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok((path, file))
    }

    /// Runs `cmd` to its end with `stdin` as its input, for at most `limit`.
    pub(crate) fn run(&self, cmd: &mut Command, stdin: &[u8], limit: Duration) -> Result<Output> {
        let line = display(cmd);
        println!("$ {line}");
        let (out_path, out) = self.next_file("stdout")?;
        let (err_path, err) = self.next_file("stderr")?;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        // A peer that does not read its input must not block us: write from a thread.
        let mut input = child.stdin.take().context("no stdin pipe")?;
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let status = wait_bounded(&mut child, limit);
        let _ = writer.join();
        let stdout = read_lossy(&out_path);
        let stderr = read_lossy(&err_path);
        match status {
            Some(status) => Ok(Output { status, stdout, stderr }),
            None => bail!(
                "`{line}` did not finish within {} s and was killed; output:\n{}",
                limit.as_secs(),
                tail(&format!("{stdout}{stderr}"))
            ),
        }
    }

    /// Starts an interactive peer; its standard output and error go, in order, to one file
    /// that [`Chat::wait_for_line`] reads.
    pub(crate) fn chat(&self, cmd: &mut Command) -> Result<Chat> {
        let line = display(cmd);
        println!("$ {line}");
        let (path, file) = self.next_file("chat")?;
        let err = file.try_clone().context("duplicating a file handle")?;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        let input = child.stdin.take();
        Ok(Chat { child, input, path, line })
    }
}

/// A loopback port that was free a moment ago, for a peer that binds it itself.
pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Reads a file as text; a missing file reads as empty.
pub(crate) fn read_lossy(path: &Path) -> String {
    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// Waits for `child` at most `limit`; on overrun kills its process group and returns None.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Sends `signal` (a name such as `TERM`) to the process or, with a leading `-`, the process
/// group `target`, through the shell's `kill` built-in (no extra package, no `unsafe`).
pub(crate) fn signal(target: &str, signal: &str) -> bool {
    Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"$2\"", "sh", signal, target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills the process group led by `pid` (every peer leads its own).
fn kill_group(pid: u32) {
    signal(&format!("-{pid}"), "KILL");
}

/// An interactive peer: lines go to its standard input, its output is read back from the
/// file it writes.
pub(crate) struct Chat {
    child: Child,
    input: Option<ChildStdin>,
    path: PathBuf,
    line: String,
}

impl Chat {
    /// The peer's process id (it leads its own process group), for signals.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the peer printed so far.
    pub(crate) fn transcript(&self) -> String {
        read_lossy(&self.path)
    }

    /// The length of the transcript now: a mark for [`Chat::wait_for_line`].
    pub(crate) fn mark(&self) -> usize {
        self.transcript().len()
    }

    /// Writes `text` to the peer's standard input in one write.
    pub(crate) fn send(&mut self, text: &str) -> Result<()> {
        let input = self.input.as_mut().context("standard input already closed")?;
        input.write_all(text.as_bytes()).and_then(|()| input.flush()).with_context(|| {
            format!("writing to `{}`: it ended early; output:\n{}", self.line, self.transcript())
        })
    }

    /// Waits at most `limit` for a line after byte `mark` of the transcript that `wanted`
    /// accepts, and returns it.
    pub(crate) fn wait_for_line(
        &mut self,
        mark: usize,
        limit: Duration,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.transcript();
            // Complete lines only: a line still being written could match half-way.
            let found = text.get(mark..).and_then(|rest| {
                let complete = &rest[..rest.rfind('\n').map_or(0, |i| i + 1)];
                complete.lines().map(|l| l.trim_end_matches('\r')).find(|l| wanted(l))
            });
            if let Some(line) = found {
                return Ok(line.to_owned());
            }
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() >= deadline {
                let why = if exited { "it exited" } else { "time is up" };
                bail!("`{}`: no {what} ({why}); output:\n{}", self.line, tail(&text));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Closes standard input and waits at most `limit` for the end; returns the exit code
    /// and the whole transcript.
    pub(crate) fn finish(mut self, limit: Duration) -> Result<(i32, String)> {
        drop(self.input.take());
        match wait_bounded(&mut self.child, limit) {
            Some(status) => Ok((status.code().unwrap_or(-1), self.transcript())),
            None => bail!(
                "`{}` did not end within {} s after its input closed; output:\n{}",
                self.line,
                limit.as_secs(),
                tail(&self.transcript())
            ),
        }
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            kill_group(self.child.id());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
