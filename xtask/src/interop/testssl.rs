//! testssl, the TLS configuration audit, over STARTTLS on the MX port.
//!
//! One run with the smallest set of checks that answers the questions: `--protocols`
//! (which TLS versions are offered), `--std` (the cipher categories: NULL, anonymous,
//! export, LOW = 64-bit/DES/RC2/RC4, 3DES/IDEA, obsolete CBC, strong AEAD) and
//! `--server-defaults` (the certificate and its chain of trust with `--add-ca`); no DNS.
//! Its flat JSON report is read, not its screen output. It takes about 20 seconds.
//!
//! testssl runs with `NO_ENGINE=true`: it then never loads OpenSSL's GOST engine. That
//! engine only lets testssl try the Russian GOST cipher suites, which rustls has never
//! implemented; whether Debian's `libengine-gost-openssl` happens to be installed (testssl
//! only recommends it) would otherwise decide whether testssl warns `engine_problem` and
//! exits non-zero. With the engine out of the picture, every warning left concerns the
//! server under test and fails the rows, except the TLS 1.3 resumption probes below.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::Suite;
use super::exec::read_lossy;

const PEER: &str = "testssl";
const LIMIT: Duration = Duration::from_secs(300);

/// The findings of the run: id, severity, finding.
struct Report {
    findings: Vec<(String, String, String)>,
}

impl Report {
    fn finding(&self, id: &str) -> Result<&str> {
        self.findings
            .iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, _, f)| f.as_str())
            .with_context(|| format!("testssl reported nothing for {id}"))
    }

    /// Checks that `finding(id)` starts with `expected` for each pair.
    fn expect(&self, pairs: &[(&str, &str)]) -> Result<String> {
        let mut found = Vec::new();
        for (id, expected) in pairs {
            let finding = self.finding(id)?;
            if !finding.starts_with(expected) {
                bail!("{id}: testssl says {finding:?}, expected {expected:?}");
            }
            found.push(format!("{id} {finding}"));
        }
        Ok(found.join(", "))
    }
}

/// Runs testssl once and reads its JSON report.
fn audit(ctx: &super::Ctx<'_>) -> Result<Report> {
    let json = ctx.scratch.dir("testssl")?.join("report.json");
    let mut cmd = ctx.sh.cmd("testssl");
    cmd.env("NO_ENGINE", "true")
        .args(["--quiet", "--color", "0", "--warnings", "batch", "--nodns", "none"])
        .args(["--connect-timeout", "10", "--openssl-timeout", "10"])
        .args(["--starttls", "smtp", "--add-ca", &ctx.pki("ca-bundle.pem")])
        .args(["--protocols", "--std", "--server-defaults", "--jsonfile"])
        .arg(&json)
        .arg(ctx.server.mx.to_string());
    let out = ctx.exec.run(&mut cmd, b"", LIMIT)?;
    let text = read_lossy(&json);
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("testssl wrote no JSON report; output:\n{}", out.text()))?;
    let findings: Vec<(String, String, String)> = value
        .as_array()
        .context("testssl's JSON report is not a list")?
        .iter()
        .map(|item| {
            let get =
                |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            (get("id"), get("severity"), get("finding"))
        })
        .collect();
    // testssl 3.0's exit code counts the checks it could not carry out. The only ones
    // allowed are its TLS 1.3 session resumption probes (see docs/interop.md).
    let unexplained: Vec<&(String, String, String)> = findings
        .iter()
        .filter(|(id, severity, _)| severity == "WARN" && !id.starts_with("sessionresumption_"))
        .collect();
    let resumption =
        findings.iter().filter(|(_, s, f)| s == "WARN" && f.contains("check failed")).count();
    if !unexplained.is_empty() || usize::try_from(out.code()).ok() != Some(resumption) {
        bail!(
            "testssl exit code {} with warnings {unexplained:?}; output:\n{}",
            out.code(),
            out.text()
        );
    }
    Ok(Report { findings })
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let report = audit(suite.ctx()).map_err(|e| format!("{e:#}"));
    let report = || report.as_ref().map_err(|e| anyhow::anyhow!("{e}"));

    suite.case(
        PEER,
        "`--starttls smtp --protocols`",
        "SSLv2, SSLv3, TLS 1.0, TLS 1.1 not offered; TLS 1.2 and TLS 1.3 offered",
        |_| {
            report()?.expect(&[
                ("SSLv2", "not offered"),
                ("SSLv3", "not offered"),
                ("TLS1", "not offered"),
                ("TLS1_1", "not offered"),
                ("TLS1_2", "offered"),
                ("TLS1_3", "offered"),
            ])
        },
    );

    suite.case(
        PEER,
        "`--starttls smtp --std` (cipher categories)",
        "NULL, anonymous, export, LOW (DES, RC2, RC4), 3DES/IDEA and obsolete CBC suites not \
         offered; strong AEAD offered",
        |_| {
            report()?.expect(&[
                ("cipherlist_NULL", "not offered"),
                ("cipherlist_aNULL", "not offered"),
                ("cipherlist_EXPORT", "not offered"),
                ("cipherlist_LOW", "not offered"),
                ("cipherlist_3DES_IDEA", "not offered"),
                ("cipherlist_AVERAGE", "not offered"),
                ("cipherlist_STRONG", "offered"),
            ])
        },
    );

    suite.case(
        PEER,
        "`--starttls smtp --server-defaults --add-ca ca-bundle.pem`",
        "chain of trust passed with the test CA; name matches via SAN; certificate CN mail.test",
        |_| {
            report()?.expect(&[
                ("cert_chain_of_trust", "passed"),
                ("cert_trust", "Ok via SAN"),
                ("cert_commonName", "mail.test"),
            ])
        },
    );
}
