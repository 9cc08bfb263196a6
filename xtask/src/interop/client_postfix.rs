//! `sealpost send` to a private receiving Postfix over STARTTLS with the test PKI, at every
//! TLS level, including Postfix asking for a client certificate.
//!
//! The instance runs as root from the scratch folder, like the relaying one of
//! [`super::postfix`]: smtpd on a free loopback port with `server-chain.pem` (names
//! `mail.test`, `localhost`, 127.0.0.1), `smtpd_tls_ask_ccert = yes` with the test CA, and
//! mail for `pf.test` relayed to the `discard` transport. Each case checks what `sealpost
//! send` reports and the line Postfix logged for the message.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::exec::{Output, POLL, read_lossy, tail};
use super::{Ctx, Suite, postfix_cf};

const PEER: &str = "postfix";
const LIMIT: Duration = Duration::from_secs(60);

/// `main.cf` of a receiving instance in `dir`.
fn main_cf(dir: &Path, chain: &str, key: &str, ca: &str) -> String {
    postfix_cf::main_cf(
        dir,
        "mail.test",
        &[
            "relay_domains = pf.test",
            "smtpd_tls_security_level = may",
            &format!("smtpd_tls_cert_file = {chain}"),
            &format!("smtpd_tls_key_file = {key}"),
            &format!("smtpd_tls_CAfile = {ca}"),
            "smtpd_tls_ask_ccert = yes",
            "smtpd_tls_loglevel = 1",
            "smtpd_tls_received_header = yes",
        ],
    )
}

/// A running receiving Postfix.
pub(crate) struct Receiver<'a> {
    ctx: &'a Ctx<'a>,
    config: PathBuf,
    log: PathBuf,
    port: u16,
    running: bool,
}

impl<'a> Receiver<'a> {
    fn start(ctx: &'a Ctx<'a>) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Receiver::start_on(ctx, "postfix-rx", port)
    }

    /// An instance in the scratch folder `name`, listening on 127.0.0.1:`port`.
    pub(crate) fn start_on(ctx: &'a Ctx<'a>, name: &str, port: u16) -> Result<Self> {
        let dir = ctx.scratch.dir(name)?;
        let config = ctx.scratch.dir(&format!("{name}/etc"))?;
        ctx.scratch.dir(&format!("{name}/queue"))?;
        ctx.scratch.dir(&format!("{name}/log"))?;
        let data = ctx.scratch.dir(&format!("{name}/data"))?;
        let write = |name: &str, text: String| {
            let path = config.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
        };
        let cf = main_cf(
            &dir,
            &ctx.pki("server-chain.pem"),
            &ctx.pki("server-key.pem"),
            &ctx.pki("ca-bundle.pem"),
        );
        write("main.cf", cf)?;
        write("master.cf", postfix_cf::master_cf(port, ""))?;
        write("transport", String::from("pf.test discard:\n"))?;
        ctx.exec.run(ctx.sh.cmd("chown").arg("postfix").arg(&data), b"", LIMIT)?.expect_code(0)?;
        let mut receiver =
            Receiver { ctx, log: dir.join("log/maillog"), config, port, running: false };
        // `postfix start` prints why it refuses only to a terminal: give it one.
        let line = format!("postfix -c {} start", receiver.config.display());
        let out =
            ctx.exec.run(ctx.sh.cmd("script").args(["-qec", &line, "/dev/null"]), b"", LIMIT)?;
        if !out.status.success() {
            bail!("`{line}` failed ({}): {}", out.code(), out.text().trim());
        }
        receiver.running = true;
        receiver.wait_for_log(0, "the daemon start", |l| l.contains("daemon started"))?;
        Ok(receiver)
    }

    /// The length of the log now: a mark for [`Receiver::wait_for_log`].
    fn mark(&self) -> usize {
        read_lossy(&self.log).len()
    }

    /// Waits at most [`LIMIT`] for a log line after byte `mark` that `wanted` accepts.
    fn wait_for_log(
        &self,
        mark: usize,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + LIMIT;
        loop {
            let log = read_lossy(&self.log);
            if let Some(line) = log.get(mark..).and_then(|rest| rest.lines().find(|l| wanted(l))) {
                return Ok(line.to_owned());
            }
            if Instant::now() >= deadline {
                bail!("no log line for {what} within {} s:\n{}", LIMIT.as_secs(), tail(&log));
            }
            std::thread::sleep(POLL * 5);
        }
    }

    /// `sealpost send` to this instance for `local@pf.test` with `args`.
    fn send(&self, local: &str, args: &[&str]) -> Result<Output> {
        self.send_to(&format!("127.0.0.1:{}", self.port), local, args)
    }

    /// [`Receiver::send`] through `--server server` (a name that leads to this instance).
    fn send_to(&self, server: &str, local: &str, args: &[&str]) -> Result<Output> {
        let to = format!("{local}@pf.test");
        let mut cmd = self.ctx.sh.cmd(&self.ctx.bin.display().to_string());
        cmd.args(["send", "--timeout", "20", "--server", server, "--helo", "client.test"])
            .args(["--from", "sender@client.test", "--to", &to])
            .args(args);
        let message = format!("Subject: {local}\n\nto a private Postfix\n");
        self.ctx.exec.run(&mut cmd, message.as_bytes(), LIMIT)
    }

    /// Sends, expects exit 0 with report `trust`, and the discard line for the recipient.
    fn accepted(&self, local: &str, trust: &str, args: &[&str]) -> Result<(String, usize)> {
        let server = format!("127.0.0.1:{}", self.port);
        let (report, mark) = self.accepted_via(&server, local, trust, args)?;
        let brief = report.split(" cert-sha256").next().unwrap_or(&report).to_owned();
        Ok((brief, mark))
    }

    /// [`Receiver::accepted`] through `--server server`; returns the whole `tls:` line.
    pub(crate) fn accepted_via(
        &self,
        server: &str,
        local: &str,
        trust: &str,
        args: &[&str],
    ) -> Result<(String, usize)> {
        let mark = self.mark();
        let output = self.send_to(server, local, args)?;
        output.expect_code(0)?;
        let report = output.stdout.lines().find(|l| l.starts_with("tls: ")).unwrap_or_default();
        if !report.starts_with(&format!("tls: {trust} TLSv1.")) {
            bail!("expected `tls: {trust} ...`:\n{}", output.text());
        }
        let to = format!("to=<{local}@pf.test>");
        let line = self
            .wait_for_log(mark, "the discard", |l| l.contains(&to) && l.contains("status=sent"))?;
        if !line.contains("relay=none") {
            bail!("not discarded: {line}");
        }
        Ok((report.to_owned(), mark))
    }

    pub(crate) fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let config = self.config.display().to_string();
        let (sh, exec) = (self.ctx.sh, self.ctx.exec);
        let stopped = exec.run(sh.cmd("postfix").args(["-c", &config, "stop"]), b"", LIMIT)?;
        if !stopped.status.success() {
            let _ = exec.run(sh.cmd("postfix").args(["-c", &config, "abort"]), b"", LIMIT);
            bail!("`postfix -c {config} stop` failed: {}", stopped.text().trim());
        }
        Ok(())
    }
}

impl Drop for Receiver<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("interop: {err:#}");
        }
    }
}

/// SHA-256 of the first certificate of a PEM file, as `openssl x509 -fingerprint` prints it.
fn pin(ctx: &Ctx<'_>, file: &str) -> Result<String> {
    let mut cmd = ctx.sh.cmd("openssl");
    cmd.args(["x509", "-noout", "-fingerprint", "-sha256", "-in", &ctx.pki(file)]);
    let out = ctx.exec.run(&mut cmd, b"", LIMIT)?;
    out.expect_code(0)?;
    let pin = out.stdout.trim().rsplit('=').next().unwrap_or_default().to_owned();
    if pin.len() != 95 {
        bail!("unexpected fingerprint output: {}", out.stdout);
    }
    Ok(pin)
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let ca = suite.ctx().pki("ca-bundle.pem");
    let client_chain = suite.ctx().pki("client-chain.pem");
    let client_key = suite.ctx().pki("client-key.pem");
    suite.case(
        PEER,
        "`sealpost send` to a private Postfix smtpd (STARTTLS with server-chain.pem, \
         `smtpd_tls_ask_ccert = yes`) at levels may, encrypt, fingerprint, verify and secure; \
         secure also with a client certificate",
        "each: exit 0, report `untrusted` (may, encrypt) or `verified` (the others), and \
         Postfix logs status=sent for the recipient; with the client certificate Postfix logs \
         `Trusted TLS connection established`, without it `Anonymous`; secure with \
         `--match other.test` exits non-zero with certificate-host-mismatch",
        |ctx| {
            let mut rx = Receiver::start(ctx)?;
            let mut found = Vec::new();
            let pin = pin(ctx, "server.pem")?;
            let verify = ["--ca", ca.as_str(), "--match", "mail.test"];
            let levels: [(&str, &str, Vec<&str>); 5] = [
                ("lvl-may", "untrusted", vec!["--tls-level", "may"]),
                ("lvl-encrypt", "untrusted", vec!["--tls-level", "encrypt"]),
                (
                    "lvl-fingerprint",
                    "verified",
                    vec!["--tls-level", "fingerprint", "--fingerprint", &pin],
                ),
                ("lvl-verify", "verified", [&["--tls-level", "verify"][..], &verify].concat()),
                ("lvl-secure", "verified", [&["--tls-level", "secure"][..], &verify].concat()),
            ];
            for (local, trust, args) in &levels {
                let (report, mark) = rx.accepted(local, trust, args)?;
                rx.wait_for_log(mark, "an anonymous TLS session", |l| {
                    l.contains("Anonymous TLS connection established from")
                })?;
                found.push(format!("{local}: {report}"));
            }
            let mut args = vec!["--tls-level", "secure", "--client-cert", &client_chain];
            args.extend(["--client-key", client_key.as_str()]);
            args.extend(verify);
            let (report, mark) = rx.accepted("lvl-secure-ccert", "verified", &args)?;
            rx.wait_for_log(mark, "the client certificate", |l| {
                l.contains("Trusted TLS connection established from")
            })?;
            found.push(format!("lvl-secure-ccert: {report}; Postfix: Trusted TLS connection"));
            let output = rx.send(
                "lvl-mismatch",
                &["--tls-level", "secure", "--ca", &ca, "--match", "other.test"],
            )?;
            if output.status.success() || !output.stderr.contains("certificate-host-mismatch") {
                bail!(
                    "secure with --match other.test did not fail on the name:\n{}",
                    output.text()
                );
            }
            found.push(String::from("--match other.test: certificate-host-mismatch"));
            rx.stop()?;
            Ok(found.join("; "))
        },
    );
}
