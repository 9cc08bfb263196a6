//! `cargo xtask bench server`: whole-process measurements of `sealpost serve` against real
//! peers on loopback, in the same run, written to `docs/performance.md`.
//!
//! 1. **plain**: `smtp-source -s 10 -m 20000 -l 5120` (a new connection per message, and
//!    with `-d` one connection per session) against `sealpost serve --handler discard` and
//!    against `smtp-sink`.
//! 2. **durable**: the same against `--handler maildir` (fsync, link, fsync of `new/`
//!    before 250) and against a private Postfix that keeps each message in its queue.
//! 3. **queue**: the durable load against `sealpost serve` on each queue backend (file:
//!    local mail into the Maildirs; postgres: local mail committed to a private PostgreSQL
//!    cluster) and against Postfix into its queue ([`queue`]).
//! 4. **relay**: accept, queue and deliver 100 KiB messages to smtp-sink, a share of them
//!    deferred, through sealpost on each backend and through Postfix ([`relay`]).
//! 5. **tls**: STARTTLS sessions (handshake plus one message) per second against sealpost
//!    and Postfix smtpd, with this crate's load client ([`load`]): smtp-source has no TLS.
//! 6. **idle**: the server's resident memory per idle connection, 10,000 plaintext and
//!    1,000 TLS connections.
//!
//! Contenders take turns (A, B, A, B, ...) so both see the same background load; the best
//! run of each counts. The benchmark runs from a release build of xtask (it builds one
//! and starts it) so that the load client is never what limits the rate; `sealpost` is
//! built with `--release` too. It is a benchmark, not a test: it is not part of CI, and
//! it fails only when a peer or a run fails, never on a ratio.

mod client;
mod client_tls;
mod db;
pub(crate) mod load;
mod postfix;
mod procs;
mod queue;
mod relay;
mod report;
mod rss;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sh::{Sh, display};
use postfix::{Disposition, Postfix};
use procs::{Handler, QueueBackend, RelayWorker, Sealpost, SealpostConfig, SmtpSink};
use report::{Comparison, IdleResult, Results, Run};

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// `sealpost serve` against smtp-sink and Postfix: throughput, durable throughput,
    /// STARTTLS sessions and memory per idle connection; writes docs/performance.md.
    Server(ServerArgs),
    /// sealpost-client against smtp-source, both sending to one smtp-sink, then STARTTLS
    /// delivery with and without session resumption; writes docs/performance.md.
    Client(client::ClientArgs),
}

/// The parts of the server benchmark.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Plain,
    Durable,
    Queue,
    Relay,
    Tls,
    Idle,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Runs of each contender per measurement (taken in turns); the best counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Messages per smtp-source run (`-m`).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Messages per relay run (100 KiB each).
    #[arg(long, default_value_t = 4_000)]
    relay_messages: usize,
    /// Deliveries at once in the relay runs: sealpost's `[relay] concurrency`, Postfix's
    /// smtp process limit and `smtp_destination_concurrency_limit`.
    #[arg(long, default_value_t = 20)]
    relay_concurrency: usize,
    /// STARTTLS sessions per TLS run.
    #[arg(long, default_value_t = 2_000)]
    tls_sessions: usize,
    /// Sessions at once in the TLS runs (as smtp-source's `-s 10`).
    #[arg(long, default_value_t = 10)]
    tls_concurrency: usize,
    /// Idle plaintext connections.
    #[arg(long, default_value_t = 10_000)]
    idle_plain: usize,
    /// Idle TLS connections.
    #[arg(long, default_value_t = 1_000)]
    idle_tls: usize,
    /// Only these parts (comma-separated). plain, durable, tls and idle are then printed,
    /// not written (they share one section of docs/performance.md); queue and relay are
    /// written to their own sections.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Print the results without writing docs/performance.md.
    #[arg(long)]
    no_write: bool,
}

/// The longest an smtp-source run may take (Postfix on a slow disk: about 2 minutes).
const SMTP_SOURCE_LIMIT: Duration = Duration::from_secs(600);

/// Set in the release build that the debug build starts, so it does not start another.
const RELEASE_CHILD: &str = "SEALPOST_BENCH_RELEASE";

/// `cargo xtask bench`.
pub(crate) fn run(sh: &mut Sh, args: &BenchArgs) -> Result<()> {
    let target = target_dir(sh);
    if cfg!(debug_assertions) && std::env::var_os(RELEASE_CHILD).is_none() {
        sh.run(sh.cmd("cargo").args(["build", "--release", "-p", "xtask", "-p", "sealpost"]))?;
        let mut child = Command::new(target.join("release/xtask"));
        child.args(std::env::args_os().skip(1)).current_dir(sh.root()).env(RELEASE_CHILD, "1");
        return sh.run(&mut child);
    }
    match &args.what {
        What::Server(args) => {
            sh.run(sh.cmd("cargo").args(["build", "--release", "-p", "sealpost"]))?;
            server(sh, args, &target.join("release/sealpost"))
        }
        What::Client(args) => {
            sh.run(sh.cmd("cargo").args(["build", "--release", "-p", "sealpost"]))?;
            client::run(sh, args, &target.join("release/sealpost"))
        }
    }
}

fn target_dir(sh: &Sh) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| sh.root().join("target"), PathBuf::from)
}

/// What every part needs.
struct Bench<'a> {
    sh: &'a Sh,
    args: &'a ServerArgs,
    sealpost: &'a Path,
    scratch: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

fn server(sh: &mut Sh, args: &ServerArgs, binary: &Path) -> Result<()> {
    postfix::ensure_installed(sh)?;
    for tool in ["prlimit", "script"] {
        if !sh.probe(sh.cmd("sh").args(["-c", &format!("command -v {tool}")])) {
            bail!("{tool} (util-linux) is missing: apt-get install util-linux bsdutils");
        }
    }
    let sh: &Sh = sh;
    let pki = sh.root().join(crate::certs::DEFAULT_DIR);
    let bench = Bench {
        sh,
        args,
        sealpost: binary,
        scratch: target_dir(sh).join("bench-server"),
        cert: pki.join("server-chain.pem"),
        key: pki.join("server-key.pem"),
        ca: pki.join("ca-bundle.pem"),
    };
    let _ = std::fs::remove_dir_all(&bench.scratch);
    std::fs::create_dir_all(&bench.scratch)?;
    let mut results = Results::new(report::Machine::probe(sh)?, postfix::version(sh)?, setup());
    let wanted = |part| args.only.is_empty() || args.only.contains(&part);
    if wanted(Part::Plain) {
        results.plain = bench.plain()?;
    }
    if wanted(Part::Durable) {
        results.durable = bench.durable()?;
    }
    if wanted(Part::Queue) {
        results.queue = Some(bench.queue()?);
    }
    if wanted(Part::Relay) {
        results.relay = Some(bench.relay()?);
    }
    if wanted(Part::Tls) {
        results.tls = Some(bench.tls()?);
    }
    if wanted(Part::Idle) {
        results.idle = bench.idle()?;
    }
    results.load_after = report::load_average();
    let words: Vec<String> = std::env::args().skip(1).collect();
    results.command = format!("cargo xtask {}", words.join(" "));
    let doc = sh.root().join("docs/performance.md");
    // plain, durable, tls and idle share one section, written only when all ran; queue
    // and relay have sections of their own, written whenever they ran.
    let shared = [Part::Plain, Part::Durable, Part::Tls, Part::Idle];
    if shared.iter().any(|&part| wanted(part)) {
        let section = results.render();
        println!("\n{section}");
        if !args.only.is_empty() || args.no_write {
            println!("(not written to docs/performance.md: only some parts ran, or --no-write)");
        } else {
            report::write_section(&doc, &section)?;
            println!("written to {}", doc.display());
        }
    }
    for (begin, end, section) in results.part_sections() {
        println!("\n{section}");
        if args.no_write {
            println!("(not written to docs/performance.md: --no-write)");
        } else {
            report::replace_section(&doc, begin, end, &section)?;
            println!("written to {}", doc.display());
        }
    }
    let _ = std::fs::remove_dir_all(&bench.scratch);
    Ok(())
}

/// How the servers were configured, for the report.
fn setup() -> String {
    let pki = |file: &str| format!("\"tests/pki/{file}\"");
    let toml = procs::Toml {
        data: "\"DIR/data\"",
        handler: Handler::Discard,
        cert: &pki("server-chain.pem"),
        key: &pki("server-key.pem"),
        max_connections: 1000,
        worker_threads: None,
        queue: QueueBackend::File,
        relay: RelayWorker::Default,
    }
    .render();
    let tls =
        (String::from("tests/pki/server-chain.pem"), String::from("tests/pki/server-key.pem"));
    let main_cf = postfix::main_cf("DIR", Disposition::Discard, Some(&tls));
    format!(
        "- sealpost: `target/release/sealpost serve --config DIR/sealpost.toml`, its log \
         (standard error, one line per session) to a file, with\n\n```toml\n{toml}```\n\n\
         \x20 and `[runtime] worker_threads = 1` for the runs against smtp-sink (one \
         process with one event loop, so both sides have one thread of protocol work and \
         smtp-source the other core); `handler = \"maildir\"` for the durable runs; for the idle runs \
         `max_connections` and `max_connections_per_ip` are the count plus 100, and the \
         server starts under `prlimit --nofile=N:N` with N the count plus 1000.\n\
         - smtp-sink: `smtp-sink -u root 127.0.0.1:PORT 1000`.\n\
         - Postfix: `postfix -c DIR/etc start` as root; `master.cf` is \
         `127.0.0.1:PORT inet n - n - - smtpd` and Debian's internal services, none \
         chrooted; `main.cf` for the TLS runs:\n\n```\n{main_cf}```\n\n\
         \x20 and for the durable runs the same with `static:HOLD` and without the \
         `smtpd_tls_*` lines. A fresh `DIR` for each instance.\n"
    )
}

/// The smtp-source command line (with `PORT` for the port, as the report shows it).
fn smtp_source_args(messages: usize, reuse: bool, port: &str) -> Vec<String> {
    let mut words: Vec<String> = ["-s", "10", "-m", &messages.to_string(), "-l", "5120"]
        .into_iter()
        .chain(["-f", "a@x.test", "-t", "b@y.test"])
        .map(str::to_owned)
        .collect();
    if reuse {
        words.push("-d".to_owned());
    }
    words.push(format!("127.0.0.1:{port}"));
    words
}

impl Bench<'_> {
    /// One smtp-source run against `addr`; fails if smtp-source reports an error or
    /// takes longer than [`SMTP_SOURCE_LIMIT`].
    fn smtp_source(&self, addr: std::net::SocketAddr, reuse: bool) -> Result<Duration> {
        smtp_source(self.sh, addr, self.args.messages, reuse)
    }
}

/// One smtp-source run of `messages` against `addr`; fails if smtp-source reports an
/// error or takes longer than [`SMTP_SOURCE_LIMIT`].
fn smtp_source(
    sh: &Sh,
    addr: std::net::SocketAddr,
    messages: usize,
    reuse: bool,
) -> Result<Duration> {
    {
        let mut cmd = sh.cmd("smtp-source");
        cmd.args(smtp_source_args(messages, reuse, &addr.port().to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let line = display(&cmd);
        let started = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("cannot run {line}"))?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > SMTP_SOURCE_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("`{line}` still ran after {SMTP_SOURCE_LIMIT:?}: stopped");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = started.elapsed();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr)?;
        }
        if !status.success() || !stderr.is_empty() {
            bail!("`{line}` failed ({status}): {stderr}");
        }
        println!("  {line}: {:.2} s", took.as_secs_f64());
        Ok(took)
    }
}

impl Bench<'_> {
    fn sealpost_config<'a>(&'a self, dir: &'a Path, handler: Handler) -> SealpostConfig<'a> {
        SealpostConfig {
            binary: self.sealpost,
            dir,
            handler,
            cert: &self.cert,
            key: &self.key,
            max_connections: 1000,
            nofile: None,
            worker_threads: None,
            queue: QueueBackend::File,
            relay: RelayWorker::Default,
        }
    }

    /// smtp-source against `sealpost --handler discard` and smtp-sink, both kept running.
    fn plain(&self) -> Result<Vec<Comparison>> {
        println!("\n== plain: sealpost serve --handler discard vs smtp-sink");
        let dir = self.scratch.join("plain");
        // smtp-sink is one process with one event loop: one worker thread here too.
        let mut config = self.sealpost_config(&dir, Handler::Discard);
        config.worker_threads = Some(1);
        let sealpost = Sealpost::start(&config)?;
        let sink = SmtpSink::start(self.sh)?;
        let mut out = Vec::new();
        for reuse in [false, true] {
            let mut ours = Run::new("sealpost serve --handler discard", self.args.messages);
            let mut theirs = Run::new("smtp-sink", self.args.messages);
            for _ in 0..self.args.runs {
                ours.times.push(self.smtp_source(sealpost.addr, reuse)?);
                theirs.times.push(self.smtp_source(sink.addr, reuse)?);
            }
            let mut row = Comparison::smtp_source(reuse, self.args.messages, ours, theirs, 1.0);
            row.aim = Some(1.5);
            out.push(row);
        }
        sink.process.stop()?;
        // After SIGTERM every session has ended and logged its line.
        sealpost.process.stop()?;
        let stored = report::messages_logged(&dir.join("sealpost.log"))?;
        let sent = 2 * self.args.runs * self.args.messages;
        if stored != sent {
            bail!("sealpost logged {stored} accepted messages, smtp-source sent {sent}");
        }
        Ok(out)
    }

    /// smtp-source against `sealpost --handler maildir` and Postfix holding mail in its
    /// queue; each run on a fresh instance, checked for every message stored.
    fn durable(&self) -> Result<Vec<Comparison>> {
        println!("\n== durable: sealpost serve --handler maildir vs Postfix (queue, hold)");
        let mut out = Vec::new();
        for reuse in [false, true] {
            let mut ours = Run::new("sealpost serve --handler maildir", self.args.messages);
            let mut theirs = Run::new("Postfix smtpd + cleanup, hold queue", self.args.messages);
            for run in 0..self.args.runs {
                let dir = self.scratch.join(format!("maildir-{reuse}-{run}"));
                let sealpost = Sealpost::start(&self.sealpost_config(&dir, Handler::Maildir))?;
                ours.times.push(self.smtp_source(sealpost.addr, reuse)?);
                let delivered = sealpost.delivered()?;
                sealpost.process.stop()?;
                if delivered != self.args.messages {
                    bail!("sealpost stored {delivered} of {} messages", self.args.messages);
                }
                let _ = std::fs::remove_dir_all(&dir);

                let dir = self.scratch.join(format!("postfix-{reuse}-{run}"));
                let postfix = Postfix::start(self.sh, &dir, Disposition::Hold, None)?;
                theirs.times.push(self.smtp_source(postfix.addr, reuse)?);
                let held = postfix.held()?;
                postfix.stop()?;
                if held != self.args.messages {
                    bail!("Postfix holds {held} of {} messages", self.args.messages);
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
            out.push(Comparison::smtp_source(reuse, self.args.messages, ours, theirs, 2.0));
        }
        Ok(out)
    }

    /// STARTTLS sessions per second, sealpost (discard) and Postfix (DISCARD action).
    fn tls(&self) -> Result<Comparison> {
        println!("\n== tls: STARTTLS sessions against sealpost and Postfix smtpd");
        let (sessions, concurrency) = (self.args.tls_sessions, self.args.tls_concurrency);
        let tls = load::Tls::new(&self.ca, "mail.test")?;
        let dir = self.scratch.join("tls-sealpost");
        let sealpost = Sealpost::start(&self.sealpost_config(&dir, Handler::Discard))?;
        let postfix_dir = self.scratch.join("tls-postfix");
        let postfix = Postfix::start(
            self.sh,
            &postfix_dir,
            Disposition::Discard,
            Some((&self.cert, &self.key)),
        )?;
        let mut ours = Run::new("sealpost serve --handler discard", sessions);
        let mut theirs = Run::new("Postfix smtpd, DISCARD action", sessions);
        for _ in 0..self.args.runs {
            for (run, addr) in [(&mut ours, sealpost.addr), (&mut theirs, postfix.addr)] {
                let took = load::tls_sessions(addr, &tls, sessions, concurrency)?;
                println!("  {sessions} TLS sessions to {addr}: {:.2} s", took.as_secs_f64());
                run.times.push(took);
            }
        }
        postfix.stop()?;
        sealpost.process.stop()?;
        let command = format!(
            "the load client of `cargo xtask bench` (xtask/src/bench/load.rs): {sessions} \
             sessions, {concurrency} at a time; each: connect, EHLO, STARTTLS, TLS handshake \
             (no resumption), EHLO, MAIL, RCPT, DATA (5 KiB), QUIT"
        );
        Ok(Comparison::new(
            "STARTTLS sessions (handshake + one message)",
            command,
            ours,
            theirs,
            2.0,
        ))
    }

    /// Resident memory per idle connection, plaintext and TLS, each on a fresh server.
    fn idle(&self) -> Result<Vec<IdleResult>> {
        println!("\n== idle: resident memory per idle connection");
        let most = self.args.idle_plain.max(self.args.idle_tls);
        // The client holds one descriptor per connection, the server one more.
        let nofile = (most + 1000) as u64;
        rss::raise_nofile(self.sh, nofile)?;
        let tls = load::Tls::new(&self.ca, "mail.test")?;
        let mut out = Vec::new();
        for (count, with_tls, target_kib) in
            [(self.args.idle_plain, false, 32), (self.args.idle_tls, true, 64)]
        {
            let dir = self.scratch.join(format!("idle-{with_tls}"));
            let mut config = self.sealpost_config(&dir, Handler::Discard);
            config.max_connections = most + 100;
            config.nofile = Some(nofile);
            let sealpost = Sealpost::start(&config)?;
            let pid = sealpost.process.pid();
            // Warm up: the runtime's threads, the TLS configuration, the allocator's arenas.
            load::Idle::open(sealpost.addr, 50, with_tls.then_some(&tls))?.close();
            std::thread::sleep(Duration::from_millis(500));
            let before = rss::settled_rss_kib(pid)?;
            let idle = load::Idle::open(sealpost.addr, count, with_tls.then_some(&tls))?;
            let after = rss::settled_rss_kib(pid)?;
            if idle.len() != count {
                bail!("only {} of {count} connections opened", idle.len());
            }
            idle.close();
            sealpost.process.stop()?;
            out.push(IdleResult {
                count,
                tls: with_tls,
                before_kib: before,
                after_kib: after,
                target_kib,
            });
        }
        Ok(out)
    }
}
