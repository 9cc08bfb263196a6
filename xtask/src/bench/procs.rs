//! The server processes under test: `sealpost serve` (release build) and `smtp-sink`.
//! Each is stopped when its value is dropped, so a failed run leaves nothing behind.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
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

/// Where `sealpost serve` keeps its queue.
#[derive(Clone, Copy)]
pub(crate) enum QueueBackend<'a> {
    /// `DATA_DIR/queue` (no `[queue]` section: the default).
    File,
    /// `[queue] backend = "postgres"` at `url` (without the password), which the server
    /// reads from [`DB_PASSWORD_VAR`] (`password = "env:..."`).
    Postgres {
        /// `postgresql://USER@HOST:PORT/DATABASE`.
        url: &'a str,
        /// Given to the server in [`DB_PASSWORD_VAR`].
        password: &'a str,
    },
}

/// The environment variable the server under test reads the database password from.
pub(crate) const DB_PASSWORD_VAR: &str = "SEALPOST_BENCH_DB_PASSWORD";

/// What the relay worker of `sealpost serve` does.
#[derive(Clone, Copy)]
pub(crate) enum RelayWorker<'a> {
    /// No `[relay]` section: the defaults (on; nothing to relay in those runs).
    Default,
    /// `[relay] enabled = false`: acceptance only, whatever the queue holds stays there.
    Off,
    /// Relaying to fixed routes, for clients that present a listed certificate.
    Routes(&'a RelayRoutes),
}

/// The `[relay]` of the relay runs.
pub(crate) struct RelayRoutes {
    /// Recipient domains and the host that takes each one's mail (`[relay.policy."D"]`
    /// `route`, at level `none`).
    pub(crate) routes: Vec<(String, SocketAddr)>,
    /// `[relay] concurrency`: messages delivered at once.
    pub(crate) concurrency: usize,
    /// `[relay] scan_interval`, seconds.
    pub(crate) scan_interval: u64,
    /// `[relay] retry = [N]`: seconds before a deferred recipient is tried again.
    pub(crate) retry: u64,
    /// SHA-256 fingerprint (hex with colons) of the client certificate whose sessions may
    /// relay (`relay_client_certs`; the MX listener asks for client certificates).
    pub(crate) client_cert: String,
}

/// The configuration file of the server under test; paths are TOML strings (quoted).
pub(crate) struct Toml<'a> {
    pub(crate) data: &'a str,
    pub(crate) handler: Handler,
    pub(crate) cert: &'a str,
    pub(crate) key: &'a str,
    pub(crate) max_connections: usize,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) queue: QueueBackend<'a>,
    pub(crate) relay: RelayWorker<'a>,
}

impl Toml<'_> {
    /// The file's text.
    pub(crate) fn render(&self) -> String {
        let handler = if self.handler == Handler::Discard { "discard" } else { "maildir" };
        let runtime = self
            .worker_threads
            .map_or(String::new(), |n| format!("[runtime]\nworker_threads = {n}\n"));
        let (relay_clients, client_certificates) = match self.relay {
            RelayWorker::Routes(routes) => (
                format!("relay_client_certs = [\"{}\"]\n", routes.client_cert),
                "client_certificates = \"optional\"\n",
            ),
            _ => (String::new(), ""),
        };
        let queue = match self.queue {
            QueueBackend::File => String::new(),
            QueueBackend::Postgres { url, .. } => format!(
                "[queue]\nbackend = \"postgres\"\nurl = \"{url}\"\n\
                 password = \"env:{DB_PASSWORD_VAR}\"\nnode = \"bench\"\n"
            ),
        };
        let relay = match self.relay {
            RelayWorker::Default => String::new(),
            RelayWorker::Off => String::from("[relay]\nenabled = false\n"),
            RelayWorker::Routes(r) => {
                let mut relay = format!(
                    "[relay]\nenabled = true\nconcurrency = {}\nscan_interval = {}\n\
                     retry = [{}]\n",
                    r.concurrency, r.scan_interval, r.retry
                );
                for (domain, addr) in &r.routes {
                    relay.push_str(&format!(
                        "[relay.policy.\"{domain}\"]\nlevel = \"none\"\nroute = \"{addr}\"\n"
                    ));
                }
                relay
            }
        };
        format!(
            "hostname = \"bench.test\"\n\
             domains = [\"y.test\"]\n\
             data_dir = {data}\n\
             handler = \"{handler}\"\n\
             {relay_clients}\
             [tls]\ncert = {cert}\nkey = {key}\nwatch_interval = 0\n\
             [listeners.smtp]\naddress = \"127.0.0.1:0\"\n{client_certificates}\
             [listeners.submission]\naddress = \"off\"\n\
             [listeners.smtps]\naddress = \"off\"\n\
             [limits]\nmax_connections = {max}\n\
             max_connections_per_ip = {max}\n{runtime}{queue}{relay}",
            data = self.data,
            cert = self.cert,
            key = self.key,
            max = self.max_connections,
        )
    }
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
    /// `[queue]`.
    pub(crate) queue: QueueBackend<'a>,
    /// `[relay]`.
    pub(crate) relay: RelayWorker<'a>,
}

impl Sealpost {
    /// Writes a configuration file and starts the server; returns once it listens.
    pub(crate) fn start(config: &SealpostConfig<'_>) -> Result<Sealpost> {
        let data = config.dir.join("data");
        std::fs::create_dir_all(&data)?;
        let toml = Toml {
            data: &format!("{data:?}"),
            handler: config.handler,
            cert: &format!("{:?}", config.cert),
            key: &format!("{:?}", config.key),
            max_connections: config.max_connections,
            worker_threads: config.worker_threads,
            queue: config.queue,
            relay: config.relay,
        }
        .render();
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
            .env_remove(DB_PASSWORD_VAR)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if let QueueBackend::Postgres { password, .. } = config.queue {
            cmd.env(DB_PASSWORD_VAR, password);
        }
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
        SmtpSink::start_with(sh, &[])
    }

    /// With more options first (`-r RCPT`: every RCPT gets "450 4.3.0").
    pub(crate) fn start_with(sh: &Sh, options: &[&str]) -> Result<SmtpSink> {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        // -u root: it runs as root here and would otherwise refuse; 1000: listen backlog.
        let mut cmd = sh.cmd("smtp-sink");
        cmd.args(options)
            .args(["-u", "root", &addr.to_string(), "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let process = Process::spawn(&mut cmd, "smtp-sink")?;
        wait_for_port(addr, "smtp-sink")?;
        Ok(SmtpSink { process, addr })
    }
}

/// `smtp-sink -c` on a free port: accepts mail and counts the messages it received (each
/// "." of a transaction), as its running counters on standard output say.
pub(crate) struct CountingSink {
    pub(crate) process: Process,
    pub(crate) addr: SocketAddr,
    state: Arc<(Mutex<Counted>, Condvar)>,
}

/// What the counters said so far.
#[derive(Default)]
struct Counted {
    messages: usize,
    /// A count being waited for, and when it was first reached.
    target: Option<usize>,
    reached: Option<Instant>,
    /// The counters' output ended (the sink exited).
    ended: bool,
}

/// The `mesg=N` of one update of smtp-sink's counters (`sess=1 quit=1 mesg=2`).
fn messages_counted(update: &str) -> Option<usize> {
    update.split_whitespace().find_map(|field| field.strip_prefix("mesg=")?.parse().ok())
}

impl CountingSink {
    pub(crate) fn start(sh: &Sh) -> Result<CountingSink> {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let mut cmd = sh.cmd("smtp-sink");
        cmd.args(["-c", "-u", "root", &addr.to_string(), "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut process = Process::spawn(&mut cmd, "smtp-sink -c")?;
        let stdout = process.child.stdout.take().context("no stdout")?;
        let state = Arc::new((Mutex::new(Counted::default()), Condvar::new()));
        let shared = state.clone();
        // The counters are rewritten in place: updates end with CR, not LF.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut update = Vec::new();
            loop {
                update.clear();
                match reader.read_until(b'\r', &mut update) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let Some(count) = messages_counted(&String::from_utf8_lossy(&update)) else {
                    continue;
                };
                let now = Instant::now();
                let (lock, changed) = &*shared;
                let mut counted = lock.lock().unwrap_or_else(PoisonError::into_inner);
                counted.messages = count;
                if counted.target.is_some_and(|t| count >= t) && counted.reached.is_none() {
                    counted.reached = Some(now);
                }
                changed.notify_all();
            }
            let (lock, changed) = &*shared;
            lock.lock().unwrap_or_else(PoisonError::into_inner).ended = true;
            changed.notify_all();
        });
        wait_for_port(addr, "smtp-sink -c")?;
        Ok(CountingSink { process, addr, state })
    }

    /// Messages received so far.
    pub(crate) fn received(&self) -> usize {
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner).messages
    }

    /// From now on, notes when the count first reaches `target` (messages in all, since
    /// the sink started).
    pub(crate) fn expect(&self, target: usize) {
        let mut counted = self.state.0.lock().unwrap_or_else(PoisonError::into_inner);
        counted.target = Some(target);
        counted.reached = (counted.messages >= target).then(Instant::now);
    }

    /// Waits (at most `limit`) until the count of [`CountingSink::expect`] is reached;
    /// returns when the counters first said so.
    pub(crate) fn wait(&self, limit: Duration) -> Result<Instant> {
        let deadline = Instant::now() + limit;
        let (lock, changed) = &*self.state;
        let mut counted = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let target = counted.target.context("nothing expected")?;
        loop {
            if let Some(when) = counted.reached {
                return Ok(when);
            }
            if counted.ended {
                bail!("smtp-sink exited after {} of {target} messages", counted.messages);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("smtp-sink received {} of {target} messages in {limit:?}", counted.messages);
            }
            counted = changed.wait_timeout(counted, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_of_smtp_sink_give_the_messages() {
        assert_eq!(messages_counted("sess=1 quit=1 mesg=2\r"), Some(2));
        assert_eq!(messages_counted("sess=10 quit=9 mesg=12345"), Some(12345));
        assert_eq!(messages_counted("sess=1 quit=1"), None);
        assert_eq!(messages_counted(""), None);
    }

    #[test]
    fn the_configuration_of_the_relay_runs_is_valid_toml() {
        let routes = RelayRoutes {
            routes: vec![("ok.test".into(), "127.0.0.1:2600".parse().unwrap())],
            concurrency: 20,
            scan_interval: 1,
            retry: 3600,
            client_cert: "AB:CD".into(),
        };
        let text = Toml {
            data: "\"/d\"",
            handler: Handler::Maildir,
            cert: "\"/c\"",
            key: "\"/k\"",
            max_connections: 10,
            worker_threads: None,
            queue: QueueBackend::Postgres { url: "postgresql://u@127.0.0.1:5/db", password: "p" },
            relay: RelayWorker::Routes(&routes),
        }
        .render();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(value["relay_client_certs"][0].as_str(), Some("AB:CD"));
        assert_eq!(value["listeners"]["smtp"]["client_certificates"].as_str(), Some("optional"));
        assert_eq!(value["queue"]["backend"].as_str(), Some("postgres"));
        assert_eq!(
            value["queue"]["password"].as_str(),
            Some(format!("env:{DB_PASSWORD_VAR}").as_str())
        );
        assert!(!text.contains("\"p\""), "the password is never in the file");
        assert_eq!(value["relay"]["retry"][0].as_integer(), Some(3600));
        assert_eq!(value["relay"]["policy"]["ok.test"]["route"].as_str(), Some("127.0.0.1:2600"));
    }
}
