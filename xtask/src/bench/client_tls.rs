//! `cargo xtask bench client`, second part: STARTTLS delivery with and without TLS session
//! resumption, against `sealpost serve --handler discard` (rustls) and a private Postfix
//! smtpd with the DISCARD action (OpenSSL).
//!
//! Every message travels on a connection of its own (EHLO, STARTTLS, handshake, EHLO, MAIL,
//! RCPT, DATA, QUIT), ten at a time, at level `verify` against the test CA with the name
//! `mail.test`: a new connection per message is where resumption pays, because a resumed
//! handshake skips the server's certificate, its signature and the client's chain check.
//!
//! - *with resumption*: one [`Client`] for every delivery; its [`TlsClient`] keeps the
//!   tickets the server sends, so after the first ten handshakes most are abbreviated.
//! - *without resumption*: a new [`Client`] per message, so every handshake is full (and
//!   each pays for building its TLS configuration, as a client without a cache would).
//!
//! [`TlsClient`]: sealpost_client::sealpost_starttls::client::TlsClient
//!
//! The figure must say what it claims: each delivery must be verified and accepted, the
//! mode with resumption must have resumed sessions and the mode without must have resumed
//! none, or the run fails. Before the timed runs a delivery that demands a name the
//! certificate does not carry must fail, which shows the certificate check really runs.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sealpost_client::sealpost_codec::client::Envelope;
use sealpost_client::sealpost_starttls::TlsError;
use sealpost_client::sealpost_starttls::client::{SecurityLevel, TlsPolicy, Trust};
use sealpost_client::sealpost_starttls::tlsrpt::ResultType;
use sealpost_client::{Client, DeliveryConfig, DeliveryError, Message, Route};

use super::postfix::{Disposition, Postfix};
use super::procs::{Handler, QueueBackend, RelayWorker, Sealpost, SealpostConfig};
use crate::sh::Sh;

/// Deliveries at once (as smtp-source's `-s 10`).
pub(crate) const CONCURRENCY: usize = 10;

/// The name the test server certificate carries (it also names 127.0.0.1, which is why
/// the policy names `mail.test` explicitly rather than relying on the address).
const SERVER_NAME: &str = "mail.test";

/// Whether the deliveries of a run share one client (and so its resumption cache).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// One client for all deliveries.
    Resume,
    /// A new client per delivery.
    Fresh,
}

/// The runs of one mode against one server.
#[derive(Debug, Default)]
pub(crate) struct ModeRuns {
    /// Per run: the time from the first connect to the last reply, and how many of the
    /// deliveries resumed a TLS session.
    pub(crate) runs: Vec<(Duration, usize)>,
}

impl ModeRuns {
    /// Messages per second of the best run.
    fn best(&self, messages: usize) -> f64 {
        self.runs.iter().map(|(t, _)| messages as f64 / t.as_secs_f64()).fold(0.0, f64::max)
    }

    /// Messages per second of every run, in order.
    fn all(&self, messages: usize) -> String {
        let rates: Vec<String> = self
            .runs
            .iter()
            .map(|(t, _)| format!("{:.0}", messages as f64 / t.as_secs_f64()))
            .collect();
        rates.join(", ")
    }

    /// Resumed sessions of every run, in order.
    fn resumed(&self) -> String {
        let counts: Vec<String> = self.runs.iter().map(|(_, r)| r.to_string()).collect();
        counts.join(", ")
    }
}

/// Both modes against one server.
#[derive(Debug)]
pub(crate) struct ServerRow {
    pub(crate) server: String,
    pub(crate) with: ModeRuns,
    pub(crate) without: ModeRuns,
    /// The TLS versions the sessions negotiated (a TLS 1.2 session resumes differently).
    pub(crate) versions: BTreeSet<&'static str>,
}

impl ServerRow {
    /// A row without runs yet.
    fn new(server: String) -> Self {
        ServerRow {
            server,
            with: ModeRuns::default(),
            without: ModeRuns::default(),
            versions: BTreeSet::new(),
        }
    }

    /// Adds a run of `mode`.
    fn record(&mut self, mode: Mode, timed: Timed) {
        let runs = if mode == Mode::Resume { &mut self.with } else { &mut self.without };
        runs.runs.push((timed.took, timed.resumed));
        self.versions.extend(timed.versions);
    }
}

/// What one timed run found.
pub(crate) struct Timed {
    took: Duration,
    resumed: usize,
    versions: BTreeSet<&'static str>,
}

/// What the timed runs need, whatever the server.
pub(crate) struct Workload {
    messages: usize,
    content: Bytes,
    envelope: Envelope,
    config: DeliveryConfig,
}

impl Workload {
    /// `messages` of `content` per run, at level `verify` with the test CA in `ca` (PEM)
    /// as the only trust anchor and `mail.test` as the name to match.
    pub(crate) fn new(
        messages: usize,
        content: Bytes,
        envelope: Envelope,
        ca: &Path,
    ) -> Result<Workload> {
        let config = verify_config(ca, SERVER_NAME)?;
        Ok(Workload { messages, content, envelope, config })
    }

    fn message(&self) -> Message {
        Message::new(self.envelope.clone(), self.content.clone())
    }

    /// One run: every message on its own connection, [`CONCURRENCY`] at a time. Fails
    /// unless every message is accepted over a verified TLS session.
    pub(crate) fn run(
        &self,
        runtime: &tokio::runtime::Runtime,
        addr: SocketAddr,
        mode: Mode,
    ) -> Result<Timed> {
        let route: Route = addr.to_string().parse().context("the server's address as a route")?;
        let shared = Arc::new(Client::new(self.config.clone()));
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let (resumed, versions) = runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..CONCURRENCY {
                let (shared, next, route) = (shared.clone(), next.clone(), route.clone());
                let (config, message, total) = (self.config.clone(), self.message(), self.messages);
                tasks.spawn(async move {
                    let (mut resumed, mut versions) = (0, BTreeSet::new());
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        let fresh;
                        let client = match mode {
                            Mode::Resume => &*shared,
                            Mode::Fresh => {
                                fresh = Client::new(config.clone());
                                &fresh
                            }
                        };
                        let delivery =
                            client.deliver(&route, std::slice::from_ref(&message)).await?;
                        if delivery.tls.trust != Trust::Verified {
                            bail!("a delivery was not over verified TLS: {}", delivery.tls);
                        }
                        if !delivery.all_delivered() {
                            bail!("a message was not accepted: {:?}", delivery.results);
                        }
                        resumed += usize::from(delivery.tls.resumed);
                        versions.extend(delivery.tls.session.as_ref().map(|s| s.version));
                    }
                    Ok::<_, anyhow::Error>((resumed, versions))
                });
            }
            let (mut resumed, mut versions) = (0, BTreeSet::new());
            while let Some(done) = tasks.join_next().await {
                let (count, seen) = done.context("a delivery task failed")??;
                resumed += count;
                versions.extend(seen);
            }
            Ok::<_, anyhow::Error>((resumed, versions))
        })?;
        let took = started.elapsed();
        let label = match mode {
            Mode::Resume => "one client (resumption)",
            Mode::Fresh => "a client per message (no resumption)",
        };
        println!(
            "  {} STARTTLS deliveries to {addr}, {label}: {:.2} s, {resumed} resumed",
            self.messages,
            took.as_secs_f64()
        );
        check_resumed(mode, resumed, self.messages)?;
        Ok(Timed { took, resumed, versions })
    }

    /// Before timing: a delivery must be verified and start with a full handshake, and a
    /// policy that demands a name the certificate lacks must be refused with
    /// certificate-host-mismatch, so the figures are known to include the check.
    pub(crate) fn preflight(
        &self,
        runtime: &tokio::runtime::Runtime,
        addr: SocketAddr,
        ca: &Path,
    ) -> Result<()> {
        let route: Route = addr.to_string().parse().context("the server's address as a route")?;
        let right = Client::new(self.config.clone());
        let wrong = Client::new(verify_config(ca, "wrong-name.test")?);
        runtime.block_on(async {
            let first = right.deliver(&route, &[self.message()]).await?;
            if first.tls.trust != Trust::Verified || first.tls.resumed || !first.all_delivered() {
                bail!(
                    "the first delivery to {addr} was not a verified full handshake: {}",
                    first.tls
                );
            }
            match wrong.deliver(&route, &[self.message()]).await {
                Err(DeliveryError::Tls {
                    error:
                        TlsError::CertificateRejected {
                            result_type: ResultType::CertificateHostMismatch,
                            ..
                        },
                    ..
                }) => Ok(()),
                Ok(delivery) => bail!(
                    "{addr} took a message under a policy naming wrong-name.test: {}",
                    delivery.tls
                ),
                Err(other) => bail!("wrong-name.test at {addr}: not a host mismatch: {other}"),
            }
        })
    }
}

/// Level `verify` with the certificates of `ca` as the only trust anchors and `name` as
/// the name the server certificate must carry.
fn verify_config(ca: &Path, name: &str) -> Result<DeliveryConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).with_context(|| ca.display().to_string())? {
        roots.add(cert?)?;
    }
    let policy = TlsPolicy::new(SecurityLevel::Verify).roots(Arc::new(roots)).match_name(name);
    Ok(DeliveryConfig::new("bench.test").tls(policy))
}

/// The resumption count must agree with the mode: some sessions resumed with a shared
/// client (the first [`CONCURRENCY`] cannot, having no ticket yet), none with fresh ones.
fn check_resumed(mode: Mode, resumed: usize, messages: usize) -> Result<()> {
    match mode {
        Mode::Resume if resumed == 0 && messages > CONCURRENCY => {
            bail!(
                "with one shared client, none of {messages} TLS sessions was resumed: the \
                 server sent no usable session ticket"
            )
        }
        Mode::Fresh if resumed > 0 => {
            bail!("{resumed} sessions were resumed although every delivery had a fresh client")
        }
        _ => Ok(()),
    }
}

/// How to start the two servers.
pub(crate) struct Servers<'a> {
    pub(crate) sh: &'a Sh,
    pub(crate) sealpost: &'a Path,
    pub(crate) scratch: &'a Path,
    pub(crate) cert: &'a Path,
    pub(crate) key: &'a Path,
    pub(crate) ca: &'a Path,
}

impl Servers<'_> {
    /// Both servers kept running; the modes and servers take turns, the best run counts.
    pub(crate) fn measure(
        &self,
        runtime: &tokio::runtime::Runtime,
        workload: &Workload,
        runs: usize,
    ) -> Result<Vec<ServerRow>> {
        println!("\n== client: STARTTLS delivery with and without session resumption");
        let _ = std::fs::remove_dir_all(self.scratch);
        let dir = self.scratch.join("sealpost");
        let sealpost = Sealpost::start(&SealpostConfig {
            binary: self.sealpost,
            dir: &dir,
            handler: Handler::Discard,
            cert: self.cert,
            key: self.key,
            max_connections: 1000,
            nofile: None,
            worker_threads: None,
            queue: QueueBackend::File,
            relay: RelayWorker::Default,
        })?;
        let postfix = Postfix::start(
            self.sh,
            &self.scratch.join("postfix"),
            Disposition::Discard,
            Some((self.cert, self.key)),
        )?;
        let postfix_version = super::postfix::version(self.sh)?;
        let mut rows = [
            ServerRow::new("sealpost serve --handler discard (rustls)".to_owned()),
            ServerRow::new(format!("Postfix {postfix_version} smtpd, DISCARD action (OpenSSL)")),
        ];
        let addrs = [sealpost.addr, postfix.addr];
        for addr in addrs {
            workload.preflight(runtime, addr, self.ca)?;
        }
        for _ in 0..runs {
            for (row, addr) in rows.iter_mut().zip(addrs) {
                for mode in [Mode::Resume, Mode::Fresh] {
                    row.record(mode, workload.run(runtime, addr, mode)?);
                }
            }
        }
        postfix.stop()?;
        sealpost.process.stop()?;
        let _ = std::fs::remove_dir_all(self.scratch);
        Ok(rows.into())
    }
}

/// The part of the report on STARTTLS delivery: how it was measured and the table.
pub(crate) fn render(rows: &[ServerRow], messages: usize, runs: usize) -> String {
    let mut out = format!(
        "## STARTTLS delivery with and without session resumption\n\n\
         The same command then sends {messages} messages (`--tls-messages`) of 5 KiB with \
         sealpost-client, each on a new connection ({CONCURRENCY} at a time; EHLO, STARTTLS, \
         TLS handshake, EHLO, MAIL, RCPT, DATA, QUIT), at level `verify` with the test CA \
         (`tests/pki/ca-bundle.pem`) as the only trust anchor and `mail.test` as the name to \
         match (route `127.0.0.1:PORT`, so no SNI is sent), to `sealpost serve --handler \
         discard` and to a private Postfix smtpd with the DISCARD action, both with \
         `tests/pki/server-chain.pem` (RSA 2048). *With resumption*: one `Client` for every \
         delivery, whose TLS client keeps the servers' session tickets; *without*: a new \
         `Client` per message, so every handshake is full (it also builds a new rustls \
         configuration per message, a cost not separated out here). Servers and modes take \
         turns; the best of {runs} runs counts. Every delivery must be accepted over a verified session; \
         the run fails if the mode with resumption resumed no session or the mode without \
         resumed any, and, before timing, a policy naming `wrong-name.test` must be refused \
         with certificate-host-mismatch.\n\n\
         | server | TLS | with resumption | without resumption | ratio with / without | \
         sessions resumed (with; without) |\n\
         | --- | --- | --- | --- | --- | --- |\n"
    );
    for row in rows {
        let (with, without) = (row.with.best(messages), row.without.best(messages));
        let ratio = if without > 0.0 { with / without } else { 0.0 };
        out.push_str(&format!(
            "| {} | {} | **{with:.0}** msg/s (runs: {}) | **{without:.0}** msg/s (runs: {}) | \
             {ratio:.2}x | {} of {messages}; {} of {messages} |\n",
            row.server,
            row.versions.iter().copied().collect::<Vec<_>>().join(", "),
            row.with.all(messages),
            row.without.all(messages),
            row.with.resumed(),
            row.without.resumed(),
        ));
    }
    out.push_str(
        "\nA TLS 1.3 ticket is used once (RFC 8446 appendix C.4; rustls takes it out of the \
         cache), so how many sessions resume depends on how many tickets the server sends. \
         sealpost's rustls server sends two after every handshake, full or resumed, so only \
         the first handshakes of a run (about one per concurrent delivery) are full. Postfix \
         with OpenSSL sends one after a full handshake and none after a resumed one (seen \
         with `openssl s_client -starttls smtp -sess_out` / `-sess_in` and `-msg`), so at \
         most every second session to it resumes, and its ratio understates what \
         resumption saves per handshake.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(ms: u64, resumed: usize, version: &'static str) -> Timed {
        Timed { took: Duration::from_millis(ms), resumed, versions: BTreeSet::from([version]) }
    }

    #[test]
    fn the_table_shows_best_rates_their_ratio_and_resumed_counts() {
        let mut row = ServerRow::new("srv".to_owned());
        row.record(Mode::Resume, timed(2000, 990, "TLSv1.3"));
        row.record(Mode::Fresh, timed(4000, 0, "TLSv1.2"));
        row.record(Mode::Resume, timed(1000, 995, "TLSv1.3"));
        row.record(Mode::Fresh, timed(5000, 0, "TLSv1.3"));
        let text = render(&[row], 1000, 2);
        let row = "| srv | TLSv1.2, TLSv1.3 | **1000** msg/s (runs: 500, 1000) | \
                   **250** msg/s (runs: 250, 200) | 4.00x | 990, 995 of 1000; 0, 0 of 1000 |\n";
        assert!(text.contains(row), "{text}");
        assert!(text.contains("best of 2 runs"));
    }

    #[test]
    fn resumption_counts_that_contradict_the_mode_fail_the_run() {
        assert!(check_resumed(Mode::Resume, 0, 2000).is_err());
        assert!(check_resumed(Mode::Resume, 1990, 2000).is_ok());
        // Too few messages for any ticket to come back before the last handshake starts.
        assert!(check_resumed(Mode::Resume, 0, CONCURRENCY).is_ok());
        assert!(check_resumed(Mode::Fresh, 1, 2000).is_err());
        assert!(check_resumed(Mode::Fresh, 0, 2000).is_ok());
    }

    #[test]
    fn the_policy_is_verify_with_the_test_ca_and_the_name() {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pki/ca-bundle.pem");
        let config = verify_config(&ca, SERVER_NAME).unwrap();
        assert_eq!(config.tls.level, SecurityLevel::Verify);
        assert_eq!(config.tls.match_names, [SERVER_NAME]);
        assert!(config.tls.roots.as_ref().is_some_and(|r| !r.is_empty()));
        assert!(verify_config(Path::new("/nonexistent/ca.pem"), SERVER_NAME).is_err());
    }
}
