//! The cluster, on loopback: two `sealpost serve` nodes behind HAProxy (PROXY v2), one
//! queue in PostgreSQL with a synchronous standby, local mail handed to Dovecot by LMTP,
//! mail for another domain relayed to smtp-sink. A load runs through the balancer, and
//! during it one node is killed with SIGKILL and started again, and the database's
//! primary is killed and its standby promoted. Afterwards, with the queue drained: every
//! message that got 250 must have been delivered, whole, at least once; the duplicates
//! are counted.
//!
//! - PostgreSQL 15: a private primary (`initdb`, `pg_ctl` on a free port, via
//!   sealpost-test-support's `PgCluster`), a standby made by `pg_basebackup -R` that streams
//!   from it, and `synchronous_standby_names` set on the primary only (in its
//!   `postgresql.auto.conf`, written after the copy), so every commit waits for the standby
//!   and the promoted standby waits for nobody. The nodes' `[queue] url` names both hosts.
//! - The nodes: the same configuration but `node`, fixed loopback ports (a restarted node
//!   is where it was), `proxy_protocol = true` on MX and submission with `proxy_trusted =
//!   ["127.0.0.1/32"]`, `[queue] lease = 10` (a dead node's recipients come back after 10
//!   s), `[delivery] lmtp` to the private Dovecot, `[relay.policy."remote.test"] route` to
//!   smtp-sink.
//! - HAProxy: two `mode tcp` frontends (MX and submission), each balancing both nodes
//!   round-robin with `send-proxy-v2` and fast health checks.
//! - The load ([`load`]): numbered messages, half to a Dovecot user over the MX port, half
//!   over submission (STARTTLS, AUTH) to `remote.test`. Clients retry on 4xx and broken
//!   connections, as real ones do.

mod load;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealpost_test_support::postgres::PgCluster;

use super::dovecot::{self, Dovecot};
use super::exec::{Chat, POLL, free_port, read_lossy};
use super::sealpost::{PASSWORD, Sealpost, USER};
use super::{Ctx, Suite};
use load::{Message, Outcome, Progress, Target, Via};

const PEER: &str = "postgresql";
const LIMIT: Duration = Duration::from_secs(60);
/// Messages in the load.
const MESSAGES: usize = 400;
/// Their size.
const SIZE: usize = 8 * 1024;
/// Clients at once.
const SESSIONS: usize = 4;
/// Each client's pause between messages: the load lasts long enough for the failures to
/// happen in the middle of it.
const PACE: Duration = Duration::from_millis(40);
/// The node that is killed, and when (share of the load accepted), and for how long.
const KILL_AT: usize = MESSAGES / 5;
const DOWN_FOR: Duration = Duration::from_secs(3);
/// When the database's primary is killed and the standby promoted.
const FAILOVER_AT: usize = MESSAGES / 2;
/// `[queue] lease` of the nodes, in seconds.
const LEASE: u64 = 10;
/// How long the queue may take to drain after the load.
const DRAIN: Duration = Duration::from_secs(180);
/// The domain relayed to smtp-sink.
const REMOTE: &str = "remote.test";
/// The Dovecot user the local half goes to.
const LOCAL_USER: &str = "bob";

/// A node's configuration file: everything but the listeners (given as flags) and the
/// certificate.
fn node_toml(name: &str, db_url: &str, password: &Path, lmtp: u16, sink: SocketAddr) -> String {
    format!(
        "[queue]\nbackend = \"postgres\"\nurl = \"{db_url}\"\npassword = \"file:{}\"\n\
         node = \"{name}\"\nlease = {LEASE}\npool_size = 4\n\n\
         [delivery]\nlmtp = \"127.0.0.1:{lmtp}\"\n\n\
         [listeners.smtp]\nproxy_protocol = true\nproxy_trusted = [\"127.0.0.1/32\"]\n\n\
         [listeners.submission]\nproxy_protocol = true\nproxy_trusted = [\"127.0.0.1/32\"]\n\n\
         [relay]\nscan_interval = 1\nconcurrency = 8\nretry = [2, 4, 8]\n\n\
         [relay.policy.\"{REMOTE}\"]\nlevel = \"none\"\nroute = \"{sink}\"\n",
        password.display()
    )
}

/// HAProxy's configuration: MX and submission frontends, each over both nodes.
fn haproxy_cfg(mx: u16, submission: u16, nodes: &[[u16; 3]; 2]) -> String {
    let servers = |index: usize| {
        nodes
            .iter()
            .enumerate()
            .map(|(n, ports)| {
                format!(
                    "    server node{n} 127.0.0.1:{} send-proxy-v2 check inter 300 fall 1 rise 2\n",
                    ports[index]
                )
            })
            .collect::<String>()
    };
    format!(
        "{preamble}    option redispatch
    retries 3

frontend mx
    bind 127.0.0.1:{mx}
    default_backend nodes_mx

frontend submission
    bind 127.0.0.1:{submission}
    default_backend nodes_submission

backend nodes_mx
    balance roundrobin
    option smtpchk EHLO lb.test
{mx_servers}
backend nodes_submission
    balance roundrobin
    option smtpchk EHLO lb.test
{submission_servers}",
        preamble = super::haproxy::PREAMBLE,
        mx_servers = servers(0),
        submission_servers = servers(1),
    )
}

/// What happened, for the rows: each `None` until reached, then what a row reports, or
/// why it fails.
type Fact = Option<Result<String, String>>;

#[derive(Default)]
struct Facts {
    replication: Fact,
    load: Option<Outcome>,
    kill: Fact,
    failover: Fact,
    delivered: Fact,
    /// Per node: how it stopped.
    stopped: Vec<Result<String, String>>,
}

/// Runs `f`, turning a panic of a test-support helper (they panic with the reason) into an
/// error.
fn unpanic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        anyhow::anyhow!("{what}: {why}")
    })
}

/// The primary with its synchronous standby.
struct Database {
    primary: PgCluster,
    standby: PgCluster,
}

impl Database {
    /// The primary in a directory of its own, the standby's data in `standby_dir`.
    fn start(standby_dir: &Path) -> Result<Database> {
        let primary = unpanic("starting PostgreSQL", PgCluster::new)?;
        let mut standby = unpanic("making the standby", || {
            primary.standby(&standby_dir.join("data"), "standby1")
        })?;
        unpanic("starting the standby", || standby.start())?;
        unpanic("making the standby synchronous", || {
            primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
            primary.psql("SELECT pg_reload_conf()");
        })?;
        let deadline = Instant::now() + LIMIT;
        loop {
            let state = unpanic("reading pg_stat_replication", || {
                primary
                    .psql("SELECT application_name || ' ' || sync_state FROM pg_stat_replication")
            })?;
            if state == "standby1 sync" {
                break;
            }
            if Instant::now() > deadline {
                bail!("the standby is not synchronous after a minute: {state:?}");
            }
            std::thread::sleep(POLL * 5);
        }
        Ok(Database { primary, standby })
    }

    /// Both hosts, the writable one found by `target_session_attrs=read-write`.
    fn url(&self) -> String {
        format!(
            "postgresql://{}@127.0.0.1:{},127.0.0.1:{}/{}",
            PgCluster::USER,
            self.primary.port(),
            self.standby.port(),
            PgCluster::DATABASE
        )
    }
}

/// smtp-sink for `remote.test`, one file per transaction under `dir`. It waits a second
/// before it answers DATA (`-w 1`), so that relay attempts are in flight, and their
/// recipients leased, when a node is killed.
fn start_sink(ctx: &Ctx<'_>, dir: &Path) -> Result<(Chat, SocketAddr)> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let mut sink = ctx.sh.cmd("smtp-sink");
    sink.args(["-u", "root", "-w", "1", "-d"])
        .arg(format!("{}/m.", dir.display()))
        .arg(addr.to_string())
        .arg("64");
    let chat = ctx.exec.chat(&mut sink)?;
    let deadline = Instant::now() + LIMIT;
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("smtp-sink does not listen on {addr}");
        }
        std::thread::sleep(POLL);
    }
    Ok((chat, addr))
}

/// A node: its scratch folder, ports and configuration.
struct NodeSpec {
    name: &'static str,
    dir: PathBuf,
    config: PathBuf,
    ports: [u16; 3],
}

impl NodeSpec {
    fn start(&self, ctx: &Ctx<'_>) -> Result<Sealpost> {
        let listeners = self.ports.map(|p| format!("127.0.0.1:{p}"));
        let listeners = [listeners[0].as_str(), listeners[1].as_str(), listeners[2].as_str()];
        let config = self.config.display().to_string();
        Sealpost::start_on(
            ctx.sh,
            ctx.exec,
            ctx.bin,
            &self.dir,
            "mail.test",
            listeners,
            &["--domain", dovecot::DOMAIN, "--config", &config],
            "info",
        )
    }
}

/// Everything that runs for the group.
struct Cluster<'a> {
    ctx: &'a Ctx<'a>,
    db: Database,
    dovecot: Dovecot<'a>,
    sink: Chat,
    sink_dir: PathBuf,
    haproxy: Chat,
    specs: [NodeSpec; 2],
    nodes: [Option<Sealpost>; 2],
    frontends: (u16, u16),
}

impl<'a> Cluster<'a> {
    fn start(ctx: &'a Ctx<'a>, facts: &mut Facts) -> Result<Cluster<'a>> {
        let db = Database::start(&ctx.scratch.dir("cluster-standby")?)?;
        facts.replication = Some(Ok(format!(
            "primary on port {}, standby on port {} streaming from it; sync_state sync",
            db.primary.port(),
            db.standby.port()
        )));
        let dir = ctx.scratch.dir("cluster")?;
        let password = dir.join("db-password");
        std::fs::write(&password, format!("{}\n", PgCluster::PASSWORD))?;
        let dovecot = Dovecot::start_in(ctx, "cluster-dovecot")?;
        let sink_dir = ctx.scratch.dir("cluster/sink")?;
        let (sink, sink_addr) = start_sink(ctx, &sink_dir)?;
        let mut specs = Vec::new();
        for name in ["node-a", "node-b"] {
            let node_dir = ctx.scratch.dir(&format!("cluster/{name}"))?;
            let config = node_dir.join("sealpost.toml");
            std::fs::write(
                &config,
                node_toml(name, &db.url(), &password, dovecot.port(), sink_addr),
            )?;
            let ports = [free_port()?, free_port()?, free_port()?];
            specs.push(NodeSpec { name, dir: node_dir, config, ports });
        }
        let specs: [NodeSpec; 2] = specs.try_into().map_err(|_| anyhow::anyhow!("two nodes"))?;
        let nodes = [Some(specs[0].start(ctx)?), Some(specs[1].start(ctx)?)];
        let frontends = (free_port()?, free_port()?);
        let cfg = dir.join("haproxy.cfg");
        let ports = [specs[0].ports, specs[1].ports];
        std::fs::write(&cfg, haproxy_cfg(frontends.0, frontends.1, &ports))?;
        let mut cmd = ctx.sh.cmd("haproxy");
        cmd.arg("-f").arg(&cfg).arg("-db");
        let haproxy = ctx.exec.chat(&mut cmd)?;
        let cluster =
            Cluster { ctx, db, dovecot, sink, sink_dir, haproxy, specs, nodes, frontends };
        cluster.wait_for_backends()?;
        Ok(cluster)
    }

    /// Waits until HAProxy's health checks found all four servers up.
    fn wait_for_backends(&self) -> Result<()> {
        let deadline = Instant::now() + LIMIT;
        loop {
            let log = self.haproxy.transcript();
            let up = |backend: &str, n: usize| {
                log.lines()
                    .any(|l| l.contains(&format!("{backend}/node{n}")) && l.contains("succeeded"))
            };
            if (0..2).all(|n| up("nodes_mx", n) && up("nodes_submission", n)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("HAProxy's health checks did not pass within a minute:\n{log}");
            }
            std::thread::sleep(POLL * 5);
        }
    }

    /// The load, with node a killed and started again, and the database failed over, in
    /// its course.
    fn run_load(&mut self, facts: &mut Facts) -> Result<Vec<Message>> {
        let run = format!("{:x}", std::process::id());
        let messages: Vec<Message> = (0..MESSAGES)
            .map(|n| {
                if n % 2 == 0 {
                    let to = format!("{LOCAL_USER}@{}", dovecot::DOMAIN);
                    Message::new(&run, n, Via::Mx, vec![to], SIZE)
                } else {
                    Message::new(&run, n, Via::Submission, vec![format!("r{n}@{REMOTE}")], SIZE)
                }
            })
            .collect();
        let shared = Arc::new(messages.clone());
        let tls = crate::bench::load::Tls::new(
            &self.ctx.sh.root().join("tests/pki/ca-bundle.pem"),
            "mail.test",
        )?;
        let target = Target {
            mx: format!("127.0.0.1:{}", self.frontends.0).parse()?,
            submission: format!("127.0.0.1:{}", self.frontends.1).parse()?,
            tls,
            user: USER.to_owned(),
            password: PASSWORD.to_owned(),
        };
        let progress = Arc::new(Progress::default());
        let loader = {
            let progress = progress.clone();
            let deadline = Instant::now() + Duration::from_secs(300);
            std::thread::spawn(move || {
                let runtime = crate::bench::load::runtime()?;
                anyhow::Ok(
                    runtime.block_on(load::run(target, shared, SESSIONS, PACE, deadline, progress)),
                )
            })
        };
        let accepted = || progress.accepted.load(Ordering::Relaxed);
        let wait_until = |count: usize, loader: &std::thread::JoinHandle<_>| {
            while accepted() < count && !loader.is_finished() {
                std::thread::sleep(POLL);
            }
        };

        // A node dies mid-load, without a word, and comes back.
        wait_until(KILL_AT, &loader);
        let at = accepted();
        let leased = || {
            unpanic("counting node-a's leases", || {
                self.db.primary.psql_in(
                    PgCluster::DATABASE,
                    "SELECT count(*) FROM recipients WHERE lease_owner = 'node-a' \
                     AND lease_expires > now()",
                )
            })
        };
        let held = leased()?;
        let killed = self.nodes[0].take().context("node a is not running")?;
        killed.kill()?;
        let before = accepted();
        std::thread::sleep(DOWN_FOR);
        let during = accepted() - before;
        self.nodes[0] = Some(self.specs[0].start(self.ctx)?);
        facts.kill = Some(Ok(format!(
            "node-a killed at {at} accepted, holding leases on {held} recipient(s); {during} \
             accepted through node-b in the {} s it was down; restarted on its ports",
            DOWN_FOR.as_secs()
        )));

        // The database's primary dies; the standby takes over.
        wait_until(FAILOVER_AT, &loader);
        let at = accepted();
        unpanic("killing the primary", || self.db.primary.kill())?;
        let killed = Instant::now();
        unpanic("promoting the standby", || self.db.standby.promote())?;
        let promoted = killed.elapsed();
        let before = accepted();
        let deadline = Instant::now() + LIMIT;
        while accepted() == before && !loader.is_finished() {
            if Instant::now() > deadline {
                bail!("no message accepted in a minute after the promotion");
            }
            std::thread::sleep(POLL);
        }
        let resumed = killed.elapsed();
        if unpanic("asking the new primary", || self.db.standby.in_recovery())? {
            bail!("the promoted standby is still in recovery");
        }
        facts.failover = Some(Ok(format!(
            "primary killed at {at} accepted; standby promoted {} ms later; the next 250 \
             {} ms after the kill",
            promoted.as_millis(),
            resumed.as_millis()
        )));

        let outcome = loader.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
        facts.load = Some(outcome);
        Ok(messages)
    }

    /// Waits until `sealpost queue list` (from node b's configuration) says the queue is
    /// empty.
    fn drain(&self) -> Result<()> {
        let deadline = Instant::now() + DRAIN;
        loop {
            let mut cmd = self.ctx.sh.cmd(&self.ctx.bin.display().to_string());
            cmd.args(["queue", "list", "--config"]).arg(&self.specs[1].config);
            let out = self.ctx.exec.run(&mut cmd, b"", LIMIT)?;
            let last = out.stdout.lines().last().unwrap_or_default().to_owned();
            if out.code() == 0 && last.contains(" 0 message(s)") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the queue did not drain in {} s:\n{}", DRAIN.as_secs(), out.text());
            }
            std::thread::sleep(POLL * 20);
        }
    }

    /// Every copy of every message that arrived: in Dovecot's Maildir (local) and in
    /// smtp-sink's dump files (remote), with CRLF turned into LF (Dovecot stores LF).
    fn arrived(&self) -> Result<Vec<String>> {
        let mut copies = Vec::new();
        for stored in self.dovecot.mailbox(LOCAL_USER).messages()? {
            copies.push(stored.text().replace("\r\n", "\n"));
        }
        for entry in std::fs::read_dir(&self.sink_dir)? {
            copies.push(read_lossy(&entry?.path()).replace("\r\n", "\n"));
        }
        Ok(copies)
    }

    fn stop(&mut self, facts: &mut Facts) {
        for (n, node) in self.nodes.iter_mut().enumerate() {
            if let Some(node) = node.take() {
                let name = self.specs[n].name;
                facts.stopped.push(match node.stop() {
                    Ok(_) => Ok(format!("{name}: exit 0")),
                    Err(e) => Err(format!("{name}: {e:#}")),
                });
            }
        }
        crate::interop::exec::signal(&self.haproxy.pid().to_string(), "USR1");
        crate::interop::exec::signal(&self.sink.pid().to_string(), "TERM");
        let _ = self.dovecot.stop();
    }
}

/// Checks every accepted message against what arrived; a summary, or what is wrong.
fn verify(messages: &[Message], outcome: &Outcome, copies: &[String]) -> Result<String> {
    let mut lost = Vec::new();
    let mut partial = Vec::new();
    let mut duplicates = 0usize;
    for &number in &outcome.accepted {
        let message = &messages[number];
        let marker = format!("<{}>", message.marker);
        let body = String::from_utf8_lossy(message.body()).replace("\r\n", "\n");
        let found: Vec<&String> = copies.iter().filter(|c| c.contains(&marker)).collect();
        if found.is_empty() {
            lost.push(number);
        }
        if found.iter().any(|c| !c.contains(&body)) {
            partial.push(number);
        }
        duplicates += found.len().saturating_sub(1);
    }
    if !lost.is_empty() || !partial.is_empty() {
        bail!(
            "{} accepted message(s) never arrived ({lost:?}); {} arrived incomplete ({partial:?})",
            lost.len(),
            partial.len()
        );
    }
    let local = outcome.accepted.iter().filter(|n| messages[**n].via == Via::Mx).count();
    Ok(format!(
        "all {} accepted messages arrived whole ({local} in Dovecot, {} at smtp-sink); \
         {duplicates} duplicate(s)",
        outcome.accepted.len(),
        outcome.accepted.len() - local
    ))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let mut facts = Facts::default();
    let result = (|| -> Result<()> {
        let ctx = suite.ctx();
        let mut cluster = Cluster::start(ctx, &mut facts)?;
        let messages = match cluster.run_load(&mut facts) {
            Ok(messages) => messages,
            Err(e) => {
                cluster.stop(&mut facts);
                return Err(e);
            }
        };
        let verified = cluster.drain().and_then(|()| {
            let copies = cluster.arrived()?;
            let outcome = facts.load.as_ref().context("no load outcome")?;
            verify(&messages, outcome, &copies)
        });
        cluster.stop(&mut facts);
        facts.delivered = Some(verified.map_err(|e| format!("{e:#}")));
        Ok(())
    })();
    let failure = result.err().map(|e| format!("{e:#}"));
    let fact = |f: &Fact| -> Result<String> {
        match (f, &failure) {
            (Some(Ok(text)), _) => Ok(text.clone()),
            (Some(Err(why)), _) => bail!("{why}"),
            (None, Some(why)) => bail!("the cluster group stopped before this: {why}"),
            (None, None) => bail!("not reached"),
        }
    };
    suite.case(
        PEER,
        "cluster: a primary with a synchronous standby (`pg_basebackup -R`)",
        "the standby streams from the primary and is synchronous before the load",
        |_| fact(&facts.replication),
    );
    let load: Fact = facts.load.as_ref().map(|o| {
        if o.given_up.is_empty() {
            Ok(format!(
                "{} of {MESSAGES} messages got 250 through HAProxy (PROXY v2) in {:.1} s; \
                 {} tries retried after a 4xx or a lost connection",
                o.accepted.len(),
                o.took.as_secs_f64(),
                o.retries
            ))
        } else {
            Err(format!("{} message(s) given up: {:?}", o.given_up.len(), o.given_up.first()))
        }
    });
    suite.case(
        PEER,
        "cluster: a load through HAProxy to two nodes on one PostgreSQL queue",
        "every message gets 250 in the end (clients retry 4xx and lost connections, as \
         real ones do); half to Dovecot by LMTP, half relayed to smtp-sink",
        |_| fact(&load),
    );
    suite.case(
        PEER,
        "cluster: `kill -9` of one node during the load, restarted",
        "the other node goes on accepting while it is down; the killed node's leased \
         recipients are delivered after the lease",
        |_| fact(&facts.kill),
    );
    suite.case(
        PEER,
        "cluster: the primary killed during the load, the standby promoted",
        "the nodes write to the promoted standby (two-host URL, read-write) and accept \
         again",
        |_| fact(&facts.failover),
    );
    suite.case(
        PEER,
        "cluster: afterwards, with the queue drained",
        "every message that got 250 arrived at least once, none is lost, none partial; \
         duplicates counted",
        |_| fact(&facts.delivered),
    );
    let stopped: Fact = if facts.stopped.is_empty() {
        None
    } else {
        let all =
            || facts.stopped.iter().map(|r| r.clone().unwrap_or_else(|e| e)).collect::<Vec<_>>();
        Some(if facts.stopped.iter().all(Result::is_ok) {
            Ok(all().join("; "))
        } else {
            Err(all().join("; "))
        })
    };
    suite.case(
        PEER,
        "cluster: both nodes stop with SIGTERM",
        "exit code 0 with the queue empty",
        |_| fact(&stopped),
    );
}
