//! `cargo xtask interop`: real peers against the real `sealpost serve`, on loopback only.
//!
//! The run: make sure every peer is installed ([`peers`]), build the server, start it in a
//! scratch folder ([`sealpost`]), run each peer group's cases, stop the server with
//! SIGTERM, then write the result table to `docs/interop.md` ([`report`]) and print it.
//! Each case asserts what the peer reports (exit status, reply codes, TLS verification)
//! and what the server stored (the message found in its Maildir by a marker only that
//! case sends), and becomes one row. Any failed row fails the run, after all rows ran.
//! The S/MIME group ([`smime`]) runs `sealpost smime` on files against S/MIME peers; its
//! rows get their own table. `--only GROUP,...` runs some groups and leaves the page alone.

mod client;
mod client_dane;
mod client_postfix;
mod cluster;
mod dovecot;
mod exec;
mod haproxy;
mod maildir;
mod msmtp;
mod peers;
mod postfix;
mod postfix_cf;
mod report;
mod scratch;
mod sealpost;
mod smime;
mod smtp_source;
mod smtplib;
mod swaks;
mod testssl;
mod tls;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};

use crate::sh::Sh;
use exec::Exec;
use peers::Versions;
use scratch::Scratch;
use sealpost::Sealpost;

/// Options of `cargo xtask interop`.
#[derive(clap::Args, Default)]
pub(crate) struct InteropArgs {
    /// Keep the scratch folder (server data and log, peer configuration and output) and
    /// print where it is.
    #[arg(long)]
    keep: bool,
    /// Run only these groups of cases, comma-separated (swaks, tls, testssl, msmtp,
    /// smtplib, postfix, smtp-source, client, client-postfix, client-dane, haproxy,
    /// dovecot, cluster, smime), for quick work on a few of them. docs/interop.md is then left as
    /// it is: only a full run writes it (CI never passes this option).
    #[arg(long, value_delimiter = ',', value_name = "GROUP")]
    only: Vec<String>,
}

/// A group of cases: the name `--only` takes, and what runs it.
type Group = (&'static str, fn(&mut Suite<'_>));

/// Every group, in the order of the result table.
const GROUPS: &[Group] = &[
    ("swaks", swaks::run),
    ("tls", tls::run),
    ("testssl", testssl::run),
    ("msmtp", msmtp::run),
    ("smtplib", smtplib::run),
    ("postfix", postfix::run),
    ("smtp-source", smtp_source::run),
    ("client", client::run),
    ("client-postfix", client_postfix::run),
    ("client-dane", client_dane::run),
    ("haproxy", haproxy::run),
    ("dovecot", dovecot::run),
    ("cluster", cluster::run),
    ("smime", smime::run),
];

/// The groups `only` names (all of them when it is empty), in table order.
fn selected(only: &[String]) -> Result<Vec<Group>> {
    let names: Vec<&str> = GROUPS.iter().map(|(name, _)| *name).collect();
    if let Some(unknown) = only.iter().find(|o| !names.contains(&o.as_str())) {
        bail!("--only: no group {unknown:?}; the groups are {}", names.join(","));
    }
    Ok(GROUPS
        .iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| o == name))
        .copied()
        .collect())
}

/// What the cases share.
pub(crate) struct Ctx<'a> {
    /// For commands: the workspace root as working folder, the extended search path.
    pub(crate) sh: &'a Sh,
    /// Starts peers with a time limit.
    pub(crate) exec: &'a Exec,
    /// The server under test.
    pub(crate) server: &'a Sealpost,
    /// The `sealpost` binary (the S/MIME group runs `sealpost smime ...`).
    pub(crate) bin: &'a Path,
    /// `tests/pki`.
    pub(crate) pki: PathBuf,
    /// The run's scratch folder.
    pub(crate) scratch: &'a Scratch,
}

impl Ctx<'_> {
    /// A file of the test PKI, as an absolute path.
    pub(crate) fn pki(&self, name: &str) -> String {
        self.pki.join(name).display().to_string()
    }
}

/// One row of the result table.
pub(crate) struct Row {
    /// The peer and its version.
    pub(crate) peer: String,
    /// The case.
    pub(crate) case: String,
    /// What is checked.
    pub(crate) checks: String,
    /// What was found (pass) or why it failed.
    pub(crate) outcome: Result<String, String>,
}

/// The cases run so far.
pub(crate) struct Suite<'a> {
    ctx: Ctx<'a>,
    versions: &'a Versions,
    rows: Vec<Row>,
}

impl<'a> Suite<'a> {
    /// Runs one case of `peer` and records its row; `run` returns what it found.
    pub(crate) fn case(
        &mut self,
        peer: &str,
        case: &str,
        checks: &str,
        run: impl FnOnce(&Ctx<'a>) -> Result<String>,
    ) {
        println!();
        println!("--- {peer}: {case}");
        let started = Instant::now();
        let outcome = run(&self.ctx).map_err(|err| format!("{err:#}"));
        let secs = started.elapsed().as_secs_f64();
        match &outcome {
            Ok(found) => println!("pass ({secs:.1} s): {found}"),
            Err(why) => println!("FAIL ({secs:.1} s): {why}"),
        }
        let peer = self.versions.label(peer);
        self.rows.push(Row { peer, case: case.to_owned(), checks: checks.to_owned(), outcome });
    }

    /// The shared context.
    pub(crate) fn ctx(&self) -> &Ctx<'a> {
        &self.ctx
    }
}

/// `cargo xtask interop`.
pub(crate) fn run(sh: &mut Sh, args: &InteropArgs) -> Result<()> {
    let started = Instant::now();
    let groups = selected(&args.only)?;
    let scratch = Scratch::new(args.keep)?;
    let exec = Exec::new(scratch.dir("output")?);
    let versions = peers::ensure(sh, &exec)?;
    let bin = sealpost::build(sh)?;
    let sh: &Sh = sh;
    let server = Sealpost::start(sh, &exec, &bin, &scratch.dir("sealpost")?)?;
    let ctx = Ctx {
        sh,
        exec: &exec,
        server: &server,
        bin: &bin,
        pki: sh.root().join("tests/pki"),
        scratch: &scratch,
    };
    let mut suite = Suite { ctx, versions: &versions, rows: Vec::new() };

    for (_, run) in &groups {
        run(&mut suite);
    }

    let mut rows = suite.rows;
    if rows.iter().any(|r| r.outcome.is_err()) {
        println!("\n--- the server's start message and the end of its log:\n{}", server.output());
    }
    let stopped = server.stop().map_err(|err| format!("{err:#}"));
    rows.push(Row {
        peer: String::from("sealpost serve"),
        case: String::from("stop with SIGTERM after all cases"),
        checks: String::from("exits with code 0 within the shutdown grace period"),
        outcome: stopped,
    });

    let path = sh.root().join(report::PATH);
    let wrote = if args.only.is_empty() {
        report::write(&path, &versions, &rows)?;
        format!("wrote {}", path.display())
    } else {
        format!("--only {}: {} left as it was", args.only.join(","), path.display())
    };
    report::print(&rows);
    let failed = rows.iter().filter(|r| r.outcome.is_err()).count();
    let secs = started.elapsed().as_secs_f64();
    println!("interop: {} cases, {failed} failed, in {secs:.1} s; {wrote}", rows.len());
    if failed > 0 {
        bail!("{failed} of {} interop cases failed (see the table above)", rows.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selects_groups_by_name_in_table_order() {
        let names = |only: &[&str]| -> Result<Vec<&str>> {
            let only: Vec<String> = only.iter().map(|s| (*s).to_owned()).collect();
            Ok(selected(&only)?.into_iter().map(|(name, _)| name).collect())
        };
        assert_eq!(names(&[]).unwrap().len(), GROUPS.len());
        assert_eq!(names(&["smime", "swaks"]).unwrap(), ["swaks", "smime"]);
        let err = names(&["swaks", "nginx"]).unwrap_err().to_string();
        assert!(err.contains("\"nginx\"") && err.contains("swaks,tls"), "{err}");
    }
}
