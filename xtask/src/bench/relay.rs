//! Part **relay**: accept, queue, deliver. A load of 100 KiB messages, one recipient each,
//! is submitted to the contender, which relays them to two smtp-sinks on loopback: one
//! accepts (`ok.test`), one answers every RCPT with "450 4.3.0" (`defer.test`, every
//! [`DEFER_EVERY`]th message). The time runs from the first submission until the accepting
//! sink has counted every deliverable message; the deferred share stays queued, its retry
//! an hour away, in every contender.
//!
//! sealpost relays only for an authenticated client or one with a listed certificate, and
//! smtp-source has neither TLS nor AUTH, so the load comes from this crate's load client
//! ([`load`]) in this (release-built) process: [`CONNECTIONS`] STARTTLS connections that
//! present `tests/pki/client-chain.pem`, each sending its share of the messages one after
//! the other (MAIL with SIZE, RCPT and DATA pipelined, as an MTA sends them). The same
//! client, certificate and messages go to every contender: sealpost with
//! `relay_client_certs`, Postfix with `permit_tls_clientcerts` and `relay_clientcerts`.
//! smtp-sink does not announce SIZE, so a relay must keep the submission's SIZE to its own
//! hop (sealpost passed it on, and every message failed, until the relay stopped doing so).
//!
//! Every run is checked: every submission accepted, the accepting sink's count exactly the
//! deliverable messages (no more: a duplicate fails the run), and the contender's queue
//! holding exactly the deferred ones after their first attempt.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use sealpost_client::sealpost_starttls::{hex_colon, read_chain, sha256};
use sealpost_test_support::PgCluster;

use super::Bench;
use super::db::Db;
use super::load::{self, Tls};
use super::postfix::{Postfix, RelaySetup};
use super::procs::{
    CountingSink, Handler, QueueBackend, RelayRoutes, RelayWorker, Sealpost, SmtpSink,
};
use super::report::{Ratio, Row, Run};

/// The domain the accepting sink takes.
const OK_DOMAIN: &str = "ok.test";
/// The domain whose sink answers RCPT with 450.
const DEFER_DOMAIN: &str = "defer.test";
/// Every this many messages, one goes to [`DEFER_DOMAIN`] (12.5 %).
pub(crate) const DEFER_EVERY: usize = 8;
/// The size of each message.
pub(crate) const MESSAGE_SIZE: usize = 100 * 1024;
/// Submission connections at once (as smtp-source's `-s 10`).
pub(crate) const CONNECTIONS: usize = 10;
/// Seconds before a deferred recipient is tried again: beyond any run.
pub(crate) const RETRY: u64 = 3600;
/// `[relay] scan_interval` of sealpost.
pub(crate) const SCAN_INTERVAL: u64 = 1;
/// The longest one run may take to deliver, and then to settle its deferred share.
const LIMIT: Duration = Duration::from_secs(600);
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// The contenders, in the order of the runs and the columns.
const FILE: &str = "sealpost, file backend";
const POSTGRES: &str = "sealpost, postgres backend";
const POSTFIX: &str = "Postfix";

/// What the part measured.
pub(crate) struct RelayResults {
    /// End to end, then submission alone.
    pub(crate) rows: Vec<Row>,
    /// Messages per run, deliverable ones, deferred ones.
    pub(crate) messages: usize,
    pub(crate) deliverable: usize,
    pub(crate) deferred: usize,
    /// Deliveries at once, in every contender.
    pub(crate) concurrency: usize,
    /// The PostgreSQL version and settings.
    pub(crate) postgres: String,
}

/// postgres / file, file / Postfix and postgres / Postfix; no targets.
pub(crate) fn ratios() -> Vec<Ratio> {
    vec![
        Ratio { label: "postgres / file", of: 1, to: 0, target: None },
        Ratio { label: "file / Postfix", of: 0, to: 2, target: None },
        Ratio { label: "postgres / Postfix", of: 1, to: 2, target: None },
    ]
}

/// A 100 KiB message of 78-octet lines (no line starts with a dot).
pub(crate) fn message() -> Bytes {
    let mut out = b"From: <a@x.test>\r\nSubject: relay\r\n\r\n".to_vec();
    let line = [b'x'; 76];
    while out.len() + 78 <= MESSAGE_SIZE {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    while out.len() < MESSAGE_SIZE - 2 {
        out.push(b'y');
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// The domain of message `i`'s recipient.
fn domain_of(i: usize) -> &'static str {
    if i % DEFER_EVERY == DEFER_EVERY - 1 { DEFER_DOMAIN } else { OK_DOMAIN }
}

/// The messages and the client that submits them.
struct Load {
    /// The recipients, one message each, of every connection.
    batches: Vec<Vec<String>>,
    /// The message, dot-terminated.
    content: Arc<[u8]>,
    deliverable: usize,
    deferred: usize,
    tls: Tls,
}

impl Load {
    fn new(messages: usize, tls: Tls) -> Load {
        let mut batches: Vec<Vec<String>> = vec![Vec::new(); CONNECTIONS];
        let mut deferred = 0;
        for i in 0..messages {
            let domain = domain_of(i);
            deferred += usize::from(domain == DEFER_DOMAIN);
            batches[i % CONNECTIONS].push(format!("r{i}@{domain}"));
        }
        let mut content = message().to_vec();
        content.extend_from_slice(b".\r\n");
        Load { batches, content: content.into(), deliverable: messages - deferred, deferred, tls }
    }

    /// Submits every message to `addr`; fails unless each is accepted.
    fn submit(&self, runtime: &tokio::runtime::Runtime, addr: SocketAddr) -> Result<Duration> {
        let started = Instant::now();
        runtime
            .block_on(async {
                let mut tasks = tokio::task::JoinSet::new();
                for batch in self.batches.clone() {
                    let (tls, content) = (self.tls.clone(), self.content.clone());
                    tasks.spawn(async move { submit_batch(addr, &tls, &batch, &content).await });
                }
                while let Some(done) = tasks.join_next().await {
                    done.context("a submission task failed")??;
                }
                anyhow::Ok(())
            })
            .with_context(|| format!("a submission to {addr} failed"))?;
        Ok(started.elapsed())
    }
}

/// One connection: STARTTLS with the client certificate, then one message per recipient,
/// MAIL (with SIZE), RCPT and DATA pipelined (both servers offer PIPELINING and SIZE).
async fn submit_batch(addr: SocketAddr, tls: &Tls, batch: &[String], content: &[u8]) -> Result<()> {
    let mut smtp = load::starttls(load::greet(addr).await?, tls).await?;
    // The message without the final ".\r\n" (RFC 1870: the size as the client has it).
    let size = content.len() - 3;
    for rcpt in batch {
        let commands = format!("MAIL FROM:<a@x.test> SIZE={size}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n");
        smtp.send(commands.as_bytes()).await?;
        for (step, expected) in [("MAIL", 250), ("RCPT", 250), ("DATA", 354)] {
            let code = smtp.reply().await?;
            if code != expected {
                bail!("{step} for {rcpt} got {code}, not {expected}");
            }
        }
        smtp.command(content, 250).await.with_context(|| format!("the message to {rcpt}"))?;
    }
    smtp.command(b"QUIT\r\n", 221).await
}

/// Lines of a sealpost log that contain `needle`.
fn log_lines(log: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().filter(|l| l.contains(needle)).count()
}

/// Waits (at most [`SETTLE_LIMIT`]) until `count()` is `expected`.
fn settle(what: &str, expected: usize, mut count: impl FnMut() -> Result<usize>) -> Result<()> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let now = count()?;
        if now == expected {
            return Ok(());
        }
        if now > expected || Instant::now() > deadline {
            bail!("{what}: {now}, expected {expected}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `.json` entries of a file queue (one per queued message).
fn file_queue_entries(queue: &Path) -> Result<usize> {
    let entries = std::fs::read_dir(queue).with_context(|| queue.display().to_string())?;
    let mut count = 0;
    for entry in entries {
        count += usize::from(entry?.file_name().to_string_lossy().ends_with(".json"));
    }
    Ok(count)
}

impl Bench<'_> {
    /// The three contenders in turns, each run on a fresh instance (and database).
    pub(super) fn relay(&self) -> Result<RelayResults> {
        println!("\n== relay: accept, queue and deliver 100 KiB messages to smtp-sink");
        let messages = self.args.relay_messages;
        let concurrency = self.args.relay_concurrency;
        let pki = self.sh.root().join(crate::certs::DEFAULT_DIR);
        let client_chain = pki.join("client-chain.pem");
        let tls = Tls::with_client_cert(
            &self.ca,
            "mail.test",
            &client_chain,
            &pki.join("client-key.pem"),
        )?;
        let load = Load::new(messages, tls);
        let leaf =
            read_chain(&client_chain)?.into_iter().next().context("no client certificate")?;
        let fingerprint = hex_colon(&sha256(&leaf));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let mut db = Db::start()?;
        let postgres = db.settings()?;
        let sink = CountingSink::start(self.sh)?;
        let defer = SmtpSink::start_with(self.sh, &["-r", "RCPT"])?;
        let routes = vec![(OK_DOMAIN.to_owned(), sink.addr), (DEFER_DOMAIN.to_owned(), defer.addr)];
        let sealpost_relay = RelayRoutes {
            routes: routes.clone(),
            concurrency,
            scan_interval: SCAN_INTERVAL,
            retry: RETRY,
            client_cert: fingerprint.clone(),
        };
        let transports = routes
            .iter()
            .map(|(domain, addr)| (domain.clone(), format!("[{}]:{}", addr.ip(), addr.port())))
            .collect();
        let postfix_relay =
            RelaySetup { transports, concurrency, retry: RETRY, client_cert: fingerprint };
        let (ok, deferred) = (load.deliverable, load.deferred);
        let mut end_to_end = [FILE, POSTGRES, POSTFIX].map(|name| Run::new(name, ok));
        let mut submitted = [FILE, POSTGRES, POSTFIX].map(|name| Run::new(name, messages));
        for run in 0..self.args.runs {
            for (contender, name) in [FILE, POSTGRES, POSTFIX].into_iter().enumerate() {
                let dir = self.scratch.join(format!("relay-{contender}-{run}"));
                let database = if name == POSTGRES { Some(db.fresh_database()?) } else { None };
                let first = sink.received();
                sink.expect(first + ok);
                let (took, submission) = if name == POSTFIX {
                    let postfix = Postfix::start_relay(
                        self.sh,
                        &dir,
                        &postfix_relay,
                        (&self.cert, &self.key),
                    )?;
                    let started = Instant::now();
                    let submission = load.submit(&runtime, postfix.addr)?;
                    let took = sink.wait(LIMIT)?.duration_since(started);
                    settle("Postfix's deferred queue", deferred, || postfix.deferred())?;
                    // Its log daemon writes a moment after the delivery agents report.
                    settle("Postfix's logged deliveries", ok, || {
                        Ok(postfix.log_lines("status=sent"))
                    })?;
                    postfix.stop()?;
                    (took, submission)
                } else {
                    let mut config = self.sealpost_config(&dir, Handler::Maildir);
                    config.relay = RelayWorker::Routes(&sealpost_relay);
                    if let Some((url, _)) = &database {
                        config.queue =
                            QueueBackend::Postgres { url, password: PgCluster::PASSWORD };
                    }
                    let sealpost = Sealpost::start(&config)?;
                    let log = dir.join("sealpost.log");
                    let started = Instant::now();
                    let submission = load.submit(&runtime, sealpost.addr)?;
                    let took = sink.wait(LIMIT)?.duration_since(started);
                    settle("sealpost's deferred deliveries (log)", deferred, || {
                        Ok(log_lines(&log, "delivery deferred"))
                    })?;
                    sealpost.process.stop()?;
                    let delivered = log_lines(&log, "worker: delivered");
                    if delivered != ok {
                        bail!("sealpost logged {delivered} deliveries, expected {ok}");
                    }
                    let queued = match &database {
                        Some((_, name)) => db.count(name, "SELECT count(*) FROM messages")?,
                        None => file_queue_entries(&dir.join("data/queue"))?,
                    };
                    if queued != deferred {
                        bail!("sealpost's queue holds {queued} messages, expected {deferred}");
                    }
                    (took, submission)
                };
                let received = sink.received() - first;
                if received != ok {
                    bail!("{name}: the sink received {received} messages, expected {ok}");
                }
                println!(
                    "  {name}: {messages} submitted in {:.2} s, {ok} delivered after {:.2} s",
                    submission.as_secs_f64(),
                    took.as_secs_f64()
                );
                end_to_end[contender].times.push(took);
                submitted[contender].times.push(submission);
                if let Some((_, name)) = &database {
                    db.drop_database(name)?;
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        sink.process.stop()?;
        defer.process.stop()?;
        let load_line = format!(
            "{messages} messages of {} KiB, one recipient each, {ok} to the accepting sink and \
             {deferred} (every {DEFER_EVERY}th) to the one that answers RCPT with 450; \
             {CONNECTIONS} STARTTLS connections of the load client with a client certificate",
            MESSAGE_SIZE / 1024
        );
        Ok(RelayResults {
            rows: vec![
                Row {
                    what: String::from("end to end: deliverable messages at the sink"),
                    command: format!(
                        "{load_line}; from the first submission until smtp-sink counted the \
                         {ok}th message; msg/s = {ok} / that time"
                    ),
                    runs: end_to_end.into(),
                },
                Row {
                    what: String::from("submission alone (while delivering)"),
                    command: format!(
                        "the same runs, until the last submission was accepted; msg/s = \
                         {messages} / that time"
                    ),
                    runs: submitted.into(),
                },
            ],
            messages,
            deliverable: ok,
            deferred,
            concurrency,
            postgres,
        })
    }
}

impl RelayResults {
    /// The section of docs/performance.md.
    pub(crate) fn render(&self, out: &mut String) {
        let (n, ok, deferred, concurrency) =
            (self.messages, self.deliverable, self.deferred, self.concurrency);
        let _ = writeln!(
            out,
            "## Relay end to end: accept, queue, deliver\n\n\
             {n} messages of {size} KiB, one recipient each, are submitted to the contender, \
             which relays them to two smtp-sinks on loopback: {ok} to `r<i>@{OK_DOMAIN}`, \
             whose sink accepts, and {deferred} (every {DEFER_EVERY}th) to \
             `r<i>@{DEFER_DOMAIN}`, whose sink answers every RCPT with `450 4.3.0` (greylisting, \
             in effect). The time runs from the first submission until the accepting sink's \
             counter (`smtp-sink -c`) reaches {ok}; msg/s is {ok} over that time. The \
             deferred share stays queued in every contender: its retry is {RETRY} s away.\n\n\
             sealpost relays only for a client that logged in or presents a listed \
             certificate, and smtp-source has neither TLS nor AUTH, so the load comes from \
             the benchmark's load client (`xtask/src/bench/load.rs`, rustls) in the \
             benchmark process: {CONNECTIONS} STARTTLS connections presenting \
             `tests/pki/client-chain.pem`, each sending its share of the messages one after \
             the other (MAIL with SIZE, RCPT and DATA pipelined; smtp-sink does not announce \
             SIZE, so the contenders must not pass it on). The same client, certificate and \
             messages go to every contender. Contenders take \
             turns (file, postgres, Postfix, file, ...), each run on a fresh instance (and a \
             fresh database); the sinks run throughout.\n\n\
             Each run is checked: every submission accepted; the accepting sink counted \
             exactly {ok} messages (a duplicate fails the run); after the deferred share's \
             first attempt (waited for after the timing), the contender logged {ok} \
             deliveries and its queue holds exactly {deferred} messages (sealpost: the \
             file queue's entries or `SELECT count(*) FROM messages`; Postfix: the deferred \
             queue).\n",
            size = MESSAGE_SIZE / 1024,
        );
        let _ = writeln!(
            out,
            "- sinks: `smtp-sink -c -u root 127.0.0.1:OK_PORT 1000` and `smtp-sink -r RCPT -u \
             root 127.0.0.1:DEFER_PORT 1000`.\n\
             - sealpost, both backends: the durable runs' configuration plus\n\n\
             ```toml\nrelay_client_certs = [\"FINGERPRINT\"]   # SHA-256 of tests/pki/client.pem\n\
             [listeners.smtp]\nclient_certificates = \"optional\"\n\
             [relay]\nenabled = true\nconcurrency = {concurrency}\n\
             scan_interval = {SCAN_INTERVAL}\nretry = [{RETRY}]\n\
             [relay.policy.\"{OK_DOMAIN}\"]\nlevel = \"none\"\nroute = \"127.0.0.1:OK_PORT\"\n\
             [relay.policy.\"{DEFER_DOMAIN}\"]\nlevel = \"none\"\n\
             route = \"127.0.0.1:DEFER_PORT\"\n```\n\n\
             \x20 and for the postgres backend the `[queue]` section of the previous part \
             (same cluster settings, a new database per run). The worker delivers up to \
             {concurrency} messages at once, each on a connection of its own.\n\
             - Postfix: `master.cf` as in the other runs with the smtp client's process \
             limit set to {concurrency} (`smtp unix - - n - {concurrency} smtp`), so at most \
             {concurrency} deliveries run at once as in sealpost, and\n\n```\n{main_cf}```\n\n\
             \x20 The rest is Postfix's default: `initial_destination_concurrency = 5` \
             (it raises the concurrency as deliveries succeed), and the connection cache \
             (`smtp_connection_cache_on_demand = yes`: a destination with a backlog gets \
             its connections reused, several messages per connection).\n",
            main_cf = super::postfix::relay_main_cf(
                "DIR",
                &RelaySetup {
                    transports: vec![
                        (OK_DOMAIN.to_owned(), "[127.0.0.1]:OK_PORT".to_owned()),
                        (DEFER_DOMAIN.to_owned(), "[127.0.0.1]:DEFER_PORT".to_owned()),
                    ],
                    concurrency,
                    retry: RETRY,
                    client_cert: "FINGERPRINT".to_owned(),
                },
                &("tests/pki/server-chain.pem".to_owned(), "tests/pki/server-key.pem".to_owned()),
            ),
        );
        let _ = writeln!(out, "The database, as in the queue part: {}.\n", self.postgres);
        super::report::contest_table(out, &self.rows, &ratios(), "msg");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_100_kib_of_crlf_lines() {
        let m = message();
        assert_eq!(m.len(), MESSAGE_SIZE);
        assert!(m.ends_with(b"\r\n"));
        assert!(!m.windows(3).any(|w| w == b"\n.\r" || w == b"\n.."));
    }

    #[test]
    fn one_message_in_eight_is_deferred() {
        let deferred = (0..800).filter(|&i| domain_of(i) == DEFER_DOMAIN).count();
        assert_eq!(deferred, 100);
    }
}
