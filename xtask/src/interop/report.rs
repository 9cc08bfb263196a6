//! The result table: printed at the end of a run and written to `docs/interop.md`.
//!
//! The page holds no times, ports or queue ids, so a run with the same peers and results
//! writes the same bytes and the file is ready to commit as it is.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::Row;
use super::peers::{PEERS, Versions};

/// Where the page goes, relative to the workspace root.
pub(crate) const PATH: &str = "docs/interop.md";

/// What the page says before the tables.
const INTRO: &str = "\
# Interoperability with real peers

`cargo xtask interop` runs real mail and TLS programs against the real `sealpost serve`
binary, on loopback (127.0.0.1) only, and writes this page; `cargo xtask ci` runs it after
the tests. Every case below asserts what the peer reports (exit status, SMTP reply codes,
TLS verification) and, where mail is sent, what the server stored: the message is found in
its Maildir by a Message-Id or subject only that case sends, and the server's `Received`
header must say `ESMTP`, `ESMTPS` or `ESMTPSA` (RFC 3848) as the session was. A failed case
fails the run, after every case has run.

## How it runs

- `cargo xtask interop` (or `cargo xtask ci`), as root on Debian 12: root installs the
  missing peers and runs the private Postfix. `cargo xtask ci --no-interop` leaves the
  suite out for a quick local run (CI never does).
- It builds `sealpost` (the debug build the test step already made) and starts
  `sealpost serve` with a fresh data folder, `--hostname mail.test --domain mail.test`,
  `--cert tests/pki/server-chain.pem --key tests/pki/server-key.pem`, a users file with
  one user made by `sealpost user add`, and every listener on port 0 (the addresses come
  from its `listening on` lines). At the end it stops the server with SIGTERM and checks
  that it exits 0.
- Clients trust `tests/pki/ca-bundle.pem` only; the negative cases trust
  `tests/pki/rogue-root-ca.pem` instead and must fail verification.
- A private Postfix runs as root from a temporary folder (its own `main.cf`, queue and
  `maillog_file`, smtpd on a free loopback port) and relays into sealpost at TLS level
  `secure`.
- The raw-bytes cases are sent by xtask itself (TCP_NODELAY, one write per `|` of
  `attacks.md`); the whole attack list runs in process in
  `crates/sealpost-server/tests/attacks.rs`.
- Every peer and wait is bounded in time; the scratch folder, the server and Postfix are
  removed or stopped also when a case fails (`--keep` keeps the folder for inspection).

## What it installs

When a peer is missing it installs, as root, with `apt-get update` once and then
`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends` (for postfix,
after preseeding `postfix/main_mailer_type` to `No configuration`):
";

/// Notes on results that are intended refusals or peer limits, after the table.
const NOTES: &str = "\
## Notes on the results

- **Pipelining after EHLO.** `openssl s_client` given `EHLO` and `QUIT` in one write sends
  them in one TCP segment; sealpost answers `554 5.5.0` and closes, as RFC 2920 section 3.1
  makes EHLO the last command of a group (Postfix 3.9's `smtpd_forbid_unauth_pipelining`
  does the same). Scripted clients must wait for the EHLO reply; the other s_client and
  gnutls-cli cases do.
- **SMTPUTF8 twice.** Python's `send_message()` adds `SMTPUTF8` to the MAIL command by
  itself when an address is not ASCII, also when the caller already passed
  `mail_options=[\"SMTPUTF8\"]`, and then sends the keyword twice. sealpost's codec keeps
  an exact repeat of a parameter (harmless, and the command still round-trips) and refuses
  only a repeat with another value (`501 5.5.4`, `ParamError::Duplicate`), so all three
  ways of sending SMTPUTF8 from Python deliver. The Received header says `with UTF8SMTP`
  (RFC 6531 section 4.3).
- **smtp-source** (Postfix 3.7) greets with HELO and never pipelines (its manual: \"No SMTP
  command pipelining support\"), so sealpost's protection against improper pipelining is
  not involved; the stored messages say `with SMTP`.
- **testssl 3.0** reports session resumption as \"check failed, pls report\" for TLS 1.3
  over STARTTLS: its `s_client` probe reads no input and closes before the server's
  NewSessionTicket arrives, so it saves no session (the same probe against
  `openssl s_server` saves none either). The suite accepts exactly those two warnings
  (and the exit code 2 they cause) and checks resumption itself with `s_client -tls1_2
  -sess_out` / `-sess_in`.
";

/// Writes the page.
pub(crate) fn write(path: &Path, versions: &Versions, rows: &[Row]) -> Result<()> {
    let mut page = String::from(INTRO);
    let mut packages: Vec<&str> = PEERS.iter().flat_map(|p| p.packages()).copied().collect();
    packages.sort_unstable();
    packages.dedup();
    let _ = writeln!(page, "`{}`.", packages.join("`, `"));
    let _ = writeln!(page);
    let _ = writeln!(page, "## Peers");
    let _ = writeln!(page);
    let _ = writeln!(page, "| peer | version | Debian packages |");
    let _ = writeln!(page, "| --- | --- | --- |");
    for (spec, (name, version)) in PEERS.iter().zip(versions.all()) {
        let _ = writeln!(page, "| {name} | {version} | {} |", spec.packages().join(", "));
    }
    let _ = writeln!(page);
    let passed = rows.iter().filter(|r| r.outcome.is_ok()).count();
    let _ = writeln!(page, "## Results: {passed} of {} cases passed", rows.len());
    let _ = writeln!(page);
    let _ = writeln!(page, "| peer | case | what is checked | result |");
    let _ = writeln!(page, "| --- | --- | --- | --- |");
    for row in rows {
        let result = match &row.outcome {
            Ok(found) => format!("pass: {found}"),
            Err(why) => format!("**FAIL**: {}", why.lines().next().unwrap_or_default()),
        };
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} |",
            cell(&row.peer),
            cell(&row.case),
            cell(&row.checks),
            cell(&result)
        );
    }
    let _ = writeln!(page);
    page.push_str(NOTES);
    std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))
}

/// Prints every row, then the failures in full.
pub(crate) fn print(rows: &[Row]) {
    println!();
    println!("==================== interop results ====================");
    for row in rows {
        let (mark, text) = match &row.outcome {
            Ok(found) => ("pass", found.as_str()),
            Err(why) => ("FAIL", why.lines().next().unwrap_or_default()),
        };
        println!("{mark}  {} | {} | {text}", row.peer, row.case);
    }
    for row in rows.iter().filter(|r| r.outcome.is_err()) {
        if let Err(why) = &row.outcome {
            println!();
            println!("FAILED: {} | {}\n  expected: {}\n{why}", row.peer, row.case, row.checks);
        }
    }
}

/// Text that is safe in a Markdown table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_one_line_with_pipes_escaped() {
        assert_eq!(cell("a | b\n  c"), "a \\| b c");
    }
}
