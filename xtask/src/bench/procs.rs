//! The server processes under test: `sealpost serve` (release build) and `smtp-sink`.
//! Each is stopped when its value is dropped, so a failed run leaves nothing behind.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sh::{Sh, display};

/// A free loopback port (bound, then released; nothing else on this machine races for it
/// during a benchmark).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts connections on `addr`.
pub(crate) fn wait_for_port(addr: SocketAddr, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} does not accept connections on {addr} after 30 s")
}

/// A child process, killed (and reaped) when dropped.
pub(crate) struct Process {
    child: Child,
    name: String,
}

impl Process {
    fn spawn(cmd: &mut Command, name: &str) -> Result<Process> {
        println!("$ {}", display(cmd));
        let child = cmd.spawn().with_context(|| format!("cannot start {name}"))?;
        Ok(Process { child, name: name.to_owned() })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then up to ten seconds for it to exit.
    pub(crate) fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("{} (pid {pid}) still runs 10 s after SIGTERM", self.name)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What `sealpost serve` should do with mail.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handler {
    Discard,
    Maildir,
}

/// The configuration file of the server under test; paths are TOML strings (quoted).
pub(crate) fn sealpost_toml(
    data: &str,
    handler: Handler,
    cert: &str,
    key: &str,
    max_connections: usize,
    worker_threads: Option<usize>,
) -> String {
    let handler = if handler == Handler::Discard { "discard" } else { "maildir" };
    let runtime =
        worker_threads.map_or(String::new(), |n| format!("[runtime]\nworker_threads = {n}\n"));
    format!(
        "hostname = \"bench.test\"\n\
         domains = [\"y.test\"]\n\
         data_dir = {data}\n\
         handler = \"{handler}\"\n\
         [tls]\ncert = {cert}\nkey = {key}\nwatch_interval = 0\n\
         [listeners.smtp]\naddress = \"127.0.0.1:0\"\n\
         [listeners.submission]\naddress = \"off\"\n\
         [listeners.smtps]\naddress = \"off\"\n\
         [limits]\nmax_connections = {max_connections}\n\
         max_connections_per_ip = {max_connections}\n{runtime}"
    )
}

/// A running `sealpost serve` with only its MX listener, on a free port.
pub(crate) struct Sealpost {
    pub(crate) process: Process,
    pub(crate) addr: SocketAddr,
    /// Its data directory (the Maildir is `maildir/y.test/b/new` below it).
    pub(crate) data: PathBuf,
}

/// How to start `sealpost serve`.
pub(crate) struct SealpostConfig<'a> {
    pub(crate) binary: &'a Path,
    /// Scratch folder for the configuration, the data and the log.
    pub(crate) dir: &'a Path,
    pub(crate) handler: Handler,
    /// Certificate chain and key (PEM).
    pub(crate) cert: &'a Path,
    pub(crate) key: &'a Path,
    /// `[limits] max_connections` and `max_connections_per_ip`.
    pub(crate) max_connections: usize,
    /// RLIMIT_NOFILE of the process (set with prlimit(1)), if more than inherited.
    pub(crate) nofile: Option<u64>,
    /// `[runtime] worker_threads`, if not one per core.
    pub(crate) worker_threads: Option<usize>,
}

impl Sealpost {
    /// Writes a configuration file and starts the server; returns once it listens.
    pub(crate) fn start(config: &SealpostConfig<'_>) -> Result<Sealpost> {
        let data = config.dir.join("data");
        std::fs::create_dir_all(&data)?;
        let toml = sealpost_toml(
            &format!("{data:?}"),
            config.handler,
            &format!("{:?}", config.cert),
            &format!("{:?}", config.key),
            config.max_connections,
            config.worker_threads,
        );
        let file = config.dir.join("sealpost.toml");
        std::fs::write(&file, toml)?;
        let log = std::fs::File::create(config.dir.join("sealpost.log"))?;
        let mut cmd = match config.nofile {
            Some(n) => {
                let mut cmd = Command::new("prlimit");
                cmd.arg(format!("--nofile={n}:{n}")).arg("--").arg(config.binary);
                cmd
            }
            None => Command::new(config.binary),
        };
        cmd.arg("serve")
            .arg("--config")
            .arg(&file)
            .env_remove("RUST_LOG")
            .env_remove("SEALPOST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut process = Process::spawn(&mut cmd, "sealpost serve")?;
        let stdout = process.child.stdout.take().context("no stdout")?;
        // Keep reading standard output for the life of the process, so it never blocks.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| {
                let log = std::fs::read_to_string(config.dir.join("sealpost.log"));
                anyhow::anyhow!(
                    "sealpost serve did not start; its log:\n{}",
                    log.unwrap_or_default()
                )
            })?;
            let Some(rest) = line.strip_prefix("listening on ") else { continue };
            let Some((addr, name)) = rest.split_once(" (") else { continue };
            if !name.starts_with("smtp:") {
                continue;
            }
            let addr = addr.parse().with_context(|| format!("odd address in {line:?}"))?;
            return Ok(Sealpost { process, addr, data });
        }
    }

    /// Messages delivered to `b@y.test`.
    pub(crate) fn delivered(&self) -> Result<usize> {
        let new = self.data.join("maildir/y.test/b/new");
        Ok(std::fs::read_dir(&new).map_or(0, |entries| entries.count()))
    }
}

/// `smtp-sink` on a free port: accepts and discards mail (the reference of the plain runs).
pub(crate) struct SmtpSink {
    pub(crate) process: Process,
    pub(crate) addr: SocketAddr,
}

impl SmtpSink {
    pub(crate) fn start(sh: &Sh) -> Result<SmtpSink> {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        // -u root: it runs as root here and would otherwise refuse; 1000: listen backlog.
        let mut cmd = sh.cmd("smtp-sink");
        cmd.args(["-u", "root", &addr.to_string(), "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let process = Process::spawn(&mut cmd, "smtp-sink")?;
        wait_for_port(addr, "smtp-sink")?;
        Ok(SmtpSink { process, addr })
    }
}
