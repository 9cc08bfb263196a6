//! DANE and MTA-STS through real DNS and HTTPS: `sealpost send` at the levels `dane` and
//! `dane-only`, and with `--mta-sts`, delivering to `sealpost serve`.
//!
//! - DNS: a root zone made for the run (MX, A, TLSA and `_mta-sts` TXT records), signed
//!   with `ldns-signzone` (NSEC) under a key made by `ldns-keygen`, and served by `nsd` on
//!   a loopback port. `sealpost send --dns 127.0.0.1:PORT --dns-trust-anchor KEY` validates
//!   every answer itself up to that key, as it would up to the IANA root keys.
//! - TLSA fixtures come from the test PKI, their digests computed by the `openssl`
//!   command-line program (not by sealpost), and each verdict is checked against `openssl
//!   s_client -dane_tlsa_domain -dane_tlsa_rrdata` on the same record and server.
//! - MTA-STS policies are served by `openssl s_server -WWW` on 127.0.0.1:443 with a
//!   certificate for `mta-sts.mail.test` issued by the test intermediate CA during the run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::exec::{Chat, Output};
use super::sealpost::{DOMAIN, PASSWORD, Sealpost, USER};
use super::{Ctx, Suite};

const LIMIT: Duration = Duration::from_secs(60);

/// A TLSA record of the zone: the host, the port (the server's MX port, or a relay's),
/// and the record data.
struct Fixture {
    host: &'static str,
    port: u16,
    rrdata: String,
}

/// The DNSSEC-signed zone and the nsd serving it.
struct Dns {
    port: u16,
    /// The zone key's DNSKEY record: the trust anchor.
    anchor: PathBuf,
    /// A key of the same kind that signed nothing: every answer is bogus under it.
    wrong_anchor: PathBuf,
    _nsd: Chat,
}

/// Runs `sh -c SCRIPT` in the workspace root and returns its standard output, trimmed.
fn sh_out(ctx: &Ctx<'_>, script: &str) -> Result<String> {
    let output = ctx.exec.run(ctx.sh.cmd("sh").args(["-c", script]), b"", LIMIT)?;
    output.expect_code(0)?;
    Ok(output.stdout.trim().to_owned())
}

/// The SHA-256 or SHA-512 (`dgst`) of a certificate's DER or of its SubjectPublicKeyInfo
/// (`spki`), by the openssl program.
fn digest(ctx: &Ctx<'_>, pem: &str, spki: bool, dgst: &str) -> Result<String> {
    let der = if spki {
        format!("openssl x509 -in {pem} -noout -pubkey | openssl pkey -pubin -outform DER")
    } else {
        format!("openssl x509 -in {pem} -outform DER")
    };
    let out = sh_out(ctx, &format!("{der} | openssl dgst -{dgst} -r"))?;
    Ok(out.split_whitespace().next().unwrap_or_default().to_owned())
}

/// The fixtures; `ta_port` is the port of a relay to the server, so that `mail.test` (the
/// one host name the test leaf carries besides localhost, which resolvers answer
/// themselves) can have a DANE-TA record apart from its DANE-EE one.
fn fixtures(ctx: &Ctx<'_>, ta_port: u16, postfix_port: u16) -> Result<Vec<Fixture>> {
    let leaf = ctx.pki("server.pem");
    let ca = ctx.pki("intermediate-ca.pem");
    let ee_spki = digest(ctx, &leaf, true, "sha256")?;
    let ta = digest(ctx, &ca, false, "sha256")?;
    let port = ctx.server.mx.port();
    let fixture = |host, rrdata: String| Fixture { host, port, rrdata };
    Ok(vec![
        fixture("mail.test", format!("3 1 1 {ee_spki}")),
        // DANE-TA: the certificate must name the host.
        Fixture { host: "mail.test", port: ta_port, rrdata: format!("2 0 1 {ta}") },
        fixture("ee-cert.test", format!("3 0 1 {}", digest(ctx, &leaf, false, "sha256")?)),
        fixture("ee-sha512.test", format!("3 1 2 {}", digest(ctx, &leaf, true, "sha512")?)),
        fixture("ta-wrong-name.test", format!("2 0 1 {ta}")),
        fixture("wrong.test", format!("3 1 1 {}", "ab".repeat(32))),
        // The private Postfix of the `postfix` rows: DANE-EE at a name of its own, DANE-TA
        // at mail.test (the name its certificate carries) on its port.
        Fixture { host: "postfix.test", port: postfix_port, rrdata: format!("3 1 1 {ee_spki}") },
        Fixture { host: "mail.test", port: postfix_port, rrdata: format!("2 0 1 {ta}") },
        // PKIX-TA: unusable for SMTP (RFC 7672 section 3.1.3).
        fixture("unusable.test", format!("0 0 1 {ta}")),
    ])
}

/// Hosts with an address and no TLSA records.
const WITHOUT_TLSA: &[&str] = &["none.test", "ns.test", "mta-sts.mail.test"];

impl Dns {
    fn start(ctx: &Ctx<'_>, fixtures: &[Fixture]) -> Result<Dns> {
        let dir = ctx.scratch.dir("dns")?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut zone = String::from(
            "$ORIGIN .\n$TTL 300\n\
             .\tIN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n\
             .\tIN NS ns.test.\n",
        );
        zone.push_str(&format!("{DOMAIN}.\tIN MX 10 {DOMAIN}.\n"));
        zone.push_str(&format!("_mta-sts.{DOMAIN}.\tIN TXT \"v=STSv1; id=20261129\"\n"));
        let mut hosts: Vec<&str> =
            fixtures.iter().map(|f| f.host).chain(WITHOUT_TLSA.iter().copied()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        for host in hosts {
            zone.push_str(&format!("{host}.\tIN A 127.0.0.1\n"));
        }
        for f in fixtures {
            zone.push_str(&format!("_{}._tcp.{}.\tIN TLSA {}\n", f.port, f.host, f.rrdata));
        }
        std::fs::write(dir.join("root.zone"), &zone)?;
        let keygen = |name: &str| -> Result<String> {
            let d = dir.display();
            sh_out(ctx, &format!("cd {d} && ldns-keygen -a ECDSAP256SHA256 -k {name}"))
        };
        let key = keygen(".")?;
        let wrong = keygen("unrelated.")?;
        sh_out(ctx, &format!("cd {} && ldns-signzone root.zone {key}", dir.display()))?;
        // The wrong anchor claims the root with the unrelated key's public key.
        let unrelated = std::fs::read_to_string(dir.join(format!("{wrong}.key")))?;
        let wrong_anchor = dir.join("wrong-anchor.key");
        std::fs::write(&wrong_anchor, unrelated.replacen("unrelated.", ".", 1))?;
        let config = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  zonesdir: \"{d}\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
             zonelistfile: \"{d}/zone.list\"\n  username: \"\"\n  chroot: \"\"\n  \
             logfile: \"{d}/nsd.log\"\nremote-control:\n  control-enable: no\n\
             zone:\n  name: \".\"\n  zonefile: \"root.zone.signed\"\n",
            d = dir.display()
        );
        std::fs::write(dir.join("nsd.conf"), config)?;
        let mut cmd = ctx.sh.cmd("nsd");
        cmd.arg("-d").arg("-c").arg(dir.join("nsd.conf"));
        let nsd = ctx.exec.chat(&mut cmd)?;
        // Ready when it answers: the signed SOA through dig would need another package;
        // the TCP port accepting is enough (nsd opens it after loading the zone).
        let deadline = std::time::Instant::now() + LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("nsd did not listen on {port}:\n{}", nsd.transcript());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Dns { port, anchor: dir.join(format!("{key}.key")), wrong_anchor, _nsd: nsd })
    }
}

/// Runs `sealpost send` with the zone as DNS and `args`; the message carries `marker`.
fn send(ctx: &Ctx<'_>, dns: &Dns, anchor: &Path, marker: &str, args: &[&str]) -> Result<Output> {
    let mut cmd = ctx.sh.cmd(&ctx.bin.display().to_string());
    cmd.args(["send", "--timeout", "20", "--dns", &format!("127.0.0.1:{}", dns.port)])
        .arg("--dns-trust-anchor")
        .arg(anchor)
        .args(["--from", "a@client.test", "--to", &format!("{marker}@{DOMAIN}")])
        .args(args);
    let message = format!("Subject: {marker}\n\nthrough the signed zone\n");
    ctx.exec.run(&mut cmd, message.as_bytes(), LIMIT)
}

/// The `tls:` line of a successful send, without the certificate digests.
fn tls_line(output: &Output) -> String {
    tls_line_of(output.stdout.lines().find(|l| l.starts_with("tls: ")).unwrap_or_default())
}

/// A `tls:` line without the certificate digests.
fn tls_line_of(line: &str) -> String {
    let (head, rest) = line.split_once(" cert-sha256").unwrap_or((line, ""));
    let tail = rest.find(" (level").map_or("", |i| &rest[i..]);
    format!("{head}{tail}")
}

/// Expects delivery, stored once, with `tls:` containing each of `wanted`.
fn delivered(ctx: &Ctx<'_>, output: &Output, marker: &str, wanted: &[&str]) -> Result<String> {
    output.expect_code(0)?;
    let tls = tls_line(output);
    for w in wanted {
        if !tls.contains(w) {
            bail!("the report lacks {w:?}:\n{}", output.text());
        }
    }
    ctx.server.mailbox(marker).one(marker)?;
    Ok(format!("exit 0, stored; {tls}"))
}

/// Expects a deferral naming `result_type`, and nothing stored.
fn deferred(ctx: &Ctx<'_>, output: &Output, marker: &str, result_type: &str) -> Result<String> {
    if output.code() == 0 || !output.stderr.contains(result_type) {
        bail!("expected a failure with {result_type}; exit {}:\n{}", output.code(), output.text());
    }
    ctx.server.mailbox(marker).expect_none(marker)?;
    let why = output.stderr.trim().trim_start_matches("sealpost: error: ");
    Ok(format!("exit {}, nothing stored: {why}", output.code()))
}

/// openssl's own DANE check of `fixture` against the server (no DNS involved).
fn openssl_dane(ctx: &Ctx<'_>, fixture: &Fixture) -> Result<bool> {
    let mut cmd = ctx.sh.cmd("openssl");
    // RFC 7672 section 3.1.1: DANE-EE ignores names; openssl checks them unless told.
    cmd.args(["s_client", "-starttls", "smtp", "-connect", &ctx.server.mx.to_string()])
        .args(["-dane_tlsa_domain", fixture.host, "-dane_tlsa_rrdata", &fixture.rrdata])
        .args(["-dane_ee_no_namechecks", "-verify_return_error", "-brief"]);
    let output = ctx.exec.run(&mut cmd, b"QUIT\r\n", LIMIT)?;
    Ok(output.code() == 0 && output.text().contains("Verification: OK"))
}

/// One DANE case at `--server HOST:PORT`: our verdict and openssl's on the same record.
fn dane_case(
    ctx: &Ctx<'_>,
    dns: &Dns,
    fixture: &Fixture,
    level: &str,
    expect: Result<(), &str>,
) -> Result<String> {
    let marker = format!(
        "dane-{}-{}-{level}",
        fixture.host.replace('.', "-"),
        fixture.rrdata.get(..1).unwrap_or_default()
    );
    let server = format!("{}:{}", fixture.host, fixture.port);
    let output =
        send(ctx, dns, &dns.anchor, &marker, &["--server", &server, "--tls-level", level])?;
    let ours = match expect {
        Ok(()) => delivered(ctx, &output, &marker, &["verified", "policy tlsa"])?,
        Err(result_type) => deferred(ctx, &output, &marker, result_type)?,
    };
    let openssl = openssl_dane(ctx, fixture)?;
    if openssl != expect.is_ok() {
        bail!("openssl s_client's DANE check disagrees (verified: {openssl}); ours: {ours}");
    }
    Ok(format!("{ours}; openssl s_client agrees ({})", if openssl { "verified" } else { "fails" }))
}

/// The fixture of `host` whose record starts with `usage`.
/// `sealpost send --server NAME.test:PORT` at `dane` (delivered, the report holding each of
/// `wanted`), then at `dane-only` (deferred with `result_type`).
fn dane_then_dane_only(
    ctx: &Ctx<'_>,
    dns: &Dns,
    name: &str,
    wanted: &[&str],
    result_type: &str,
) -> Result<String> {
    let server = format!("{name}.test:{}", ctx.server.mx.port());
    let args = |level| ["--server", server.as_str(), "--tls-level", level];
    let (marker, only) = (format!("dane-{name}"), format!("dane-only-{name}"));
    let out = send(ctx, dns, &dns.anchor, &marker, &args("dane"))?;
    let first = delivered(ctx, &out, &marker, wanted)?;
    let out = send(ctx, dns, &dns.anchor, &only, &args("dane-only"))?;
    let second = deferred(ctx, &out, &only, result_type)?;
    Ok(format!("{first} / {second}"))
}

fn fixture<'a>(fixtures: &'a [Fixture], host: &str, usage: &str) -> Result<&'a Fixture> {
    fixtures
        .iter()
        .find(|f| f.host == host && f.rrdata.starts_with(usage))
        .with_context(|| format!("no fixture for {host} {usage}"))
}

/// `sealpost serve` relaying: a second server (`a.test`) whose `[relay]` section names the
/// zone's server and trust anchor, with `extra` appended (`mta_sts`, `[relay.default]`),
/// takes a message by submission and relays it to the MX of mail.test; its TLS journal
/// and TLS-RPT report must name `policy_type`, with `level` and a verified session.
fn relay_case(
    ctx: &Ctx<'_>,
    dns: &Dns,
    marker: &str,
    extra: &str,
    level: &str,
    policy_type: &str,
) -> Result<String> {
    let dir = ctx.scratch.dir(marker)?;
    let config = dir.join("relay.toml");
    let toml = format!(
        "[relay]\nscan_interval = 1\nretry = [3600]\nmx_port = {port}\n\
         dns = [\"127.0.0.1:{dns_port}\"]\ndns_trust_anchor = {anchor:?}\n{extra}",
        port = ctx.server.mx.port(),
        dns_port = dns.port,
        anchor = dns.anchor.display().to_string(),
    );
    std::fs::write(&config, toml)?;
    let config = config.display().to_string();
    let relay =
        Sealpost::start_as(ctx.sh, ctx.exec, ctx.bin, &dir, "a.test", &["--config", &config])?;
    let mut cmd = ctx.sh.cmd(&ctx.bin.display().to_string());
    cmd.env("SEALPOST_INTEROP_PASS", PASSWORD)
        .args(["send", "--timeout", "20", "--server", &relay.submission.to_string()])
        .args(["--tls-level", "encrypt", "--user", USER, "--pass", "env:SEALPOST_INTEROP_PASS"])
        .args(["--from", &format!("{USER}@a.test"), "--to", &format!("{marker}@{DOMAIN}")]);
    let message = format!("Subject: {marker}\n\nrelayed under a published policy\n");
    ctx.exec.run(&mut cmd, message.as_bytes(), LIMIT)?.expect_code(0)?;
    let stored = ctx.server.mailbox(marker).wait_for(marker, Duration::from_secs(30))?;
    if !stored.text().contains("with ESMTPS") {
        bail!("{} does not say `with ESMTPS`", stored.path.display());
    }
    // The journal line is written right after the attempt; give it a moment.
    let journal = relay.data_dir().join("tls-report");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text: String = std::fs::read_dir(&journal)
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .map(|e| super::exec::read_lossy(&e.path()))
                    .collect::<Vec<_>>()
                    .join("")
            })
            .unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("\"delivered\":1")) {
            break line.to_owned();
        }
        if std::time::Instant::now() > deadline {
            bail!("no delivered attempt in {}:\n{text}", journal.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wanted = [
        format!("\"level\":\"{level}\""),
        String::from("\"trust\":\"verified\""),
        format!("\"policy-type\":\"{policy_type}\""),
    ];
    for wanted in wanted {
        if !line.contains(wanted.as_str()) {
            bail!("the journal line lacks {wanted}: {line}");
        }
    }
    let report = dir.join("tls-rpt.json");
    let mut cmd = ctx.sh.cmd(&ctx.bin.display().to_string());
    cmd.arg("serve").arg("--data-dir").arg(relay.data_dir()).arg("--tls-summary");
    cmd.arg("--tls-rpt").arg(&report);
    ctx.exec.run(&mut cmd, b"", LIMIT)?.expect_code(0)?;
    let json: serde_json::Value = serde_json::from_str(&super::exec::read_lossy(&report))
        .with_context(|| format!("{} is not JSON", report.display()))?;
    let policy = json["policies"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["policy"]["policy-type"] == policy_type))
        .with_context(|| format!("no {policy_type} policy in the TLS-RPT report: {json}"))?;
    let successes = &policy["summary"]["total-successful-session-count"];
    if successes != 1 {
        bail!("the {policy_type} policy counts {successes} successful sessions, not 1: {policy}");
    }
    relay.stop()?;
    Ok(format!(
        "submitted, relayed and stored `with ESMTPS`; the journal line says {level}, verified, \
         policy {policy_type}; the TLS-RPT report has the {policy_type} policy with 1 \
         successful session"
    ))
}

/// An HTTPS policy host: `openssl s_server -WWW` on 127.0.0.1:443 serving `policy` (or
/// nothing: 404) with a certificate for `mta-sts.mail.test`, issued by the test
/// intermediate CA (`trusted`) or self-signed.
fn policy_host(ctx: &Ctx<'_>, policy: Option<&str>, trusted: bool) -> Result<Chat> {
    let dir = ctx.scratch.dir(&format!("mta-sts-{}", if trusted { "ca" } else { "self" }))?;
    let name = format!("mta-sts.{DOMAIN}");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert.exists() {
        let d = dir.display();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        let san = format!("-addext subjectAltName=DNS:{name}");
        let script = if trusted {
            format!(
                "cd {d} && openssl req -new {ec} -keyout key.pem -subj /CN={name} {san} \
                 -out req.pem && printf 'subjectAltName=DNS:{name}\\nextendedKeyUsage=\
                 serverAuth\\n' > ext.cnf && openssl x509 -req -in req.pem -days 2 \
                 -CA {ca} -CAkey {cakey} -CAserial ca.srl -CAcreateserial -extfile ext.cnf -out cert.pem",
                ca = ctx.pki("intermediate-ca.pem"),
                cakey = ctx.pki("intermediate-ca-key.pem"),
            )
        } else {
            format!(
                "cd {d} && openssl req -x509 -days 2 {ec} -keyout key.pem -subj /CN={name} \
                 {san} -addext basicConstraints=critical,CA:FALSE -out cert.pem"
            )
        };
        sh_out(ctx, &script)?;
    }
    let www = dir.join("www");
    let _ = std::fs::remove_dir_all(&www);
    std::fs::create_dir_all(www.join(".well-known"))?;
    if let Some(policy) = policy {
        std::fs::write(www.join(".well-known/mta-sts.txt"), policy)?;
    }
    let mut cmd = ctx.sh.cmd("openssl");
    cmd.current_dir(&www)
        .args(["s_server", "-WWW", "-naccept", "1", "-accept", "127.0.0.1:443"])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key);
    if trusted {
        cmd.args(["-cert_chain", &ctx.pki("intermediate-ca.pem")]);
    }
    let mut server = ctx.exec.chat(&mut cmd)?;
    server.wait_for_line(0, LIMIT, "ACCEPT", |l| l == "ACCEPT")?;
    Ok(server)
}

/// One MTA-STS case: `sealpost send --mta-sts` at level may to the MX of mail.test.
fn sts_case(
    ctx: &Ctx<'_>,
    dns: &Dns,
    marker: &str,
    policy: Option<&str>,
    trusted: bool,
    expect: Result<&[&str], &str>,
) -> Result<String> {
    let _host = policy_host(ctx, policy, trusted)?;
    let ca = ctx.pki("ca-bundle.pem");
    let port = ctx.server.mx.port().to_string();
    let args = ["--mta-sts", "--tls-level", "may", "--ca", &ca, "--mx-port", &port];
    let output = send(ctx, dns, &dns.anchor, marker, &args)?;
    match expect {
        Ok(wanted) => delivered(ctx, &output, marker, wanted),
        Err(result_type) => deferred(ctx, &output, marker, result_type),
    }
}

/// A DANE row: the host, the TLSA usage of its fixture, the level, what is expected
/// (delivery verified, or the RFC 8460 result type of the failure), and what it is.
type DaneRow = (&'static str, &'static str, &'static str, Result<(), &'static str>, &'static str);

/// An MTA-STS row: what it is, the marker, the policy served (none: no file), whether the
/// policy host's certificate is from the test CA, what is expected (delivery with these in
/// the report, or the result type of the failure), and the checks column.
type StsRow = (
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
    Result<&'static [&'static str], &'static str>,
    &'static str,
);

const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mail.test\nmax_age: 86400\n";
const ENFORCE_OTHER: &str = "version: STSv1\nmode: enforce\nmx: *.other.test\nmax_age: 86400\n";
const TESTING_OTHER: &str = "version: STSv1\nmode: testing\nmx: *.other.test\nmax_age: 86400\n";

pub(crate) fn run(suite: &mut Suite<'_>) {
    let started = super::client::Relay::start(suite.ctx().server.mx).and_then(|relay| {
        let postfix_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let fixtures = fixtures(suite.ctx(), relay.addr.port(), postfix_port)?;
        let dns = Dns::start(suite.ctx(), &fixtures)?;
        Ok((relay, fixtures, dns, postfix_port))
    });
    let (relay, fixtures, dns, postfix_port) = match started {
        Ok(found) => found,
        Err(err) => {
            suite.case(
                "nsd",
                "a DNSSEC-signed zone for the DANE and MTA-STS cases",
                "ldns-keygen, ldns-signzone and nsd start",
                |_| Err(err),
            );
            return;
        }
    };
    let dns = &dns;
    let fixtures = &fixtures[..];
    let dane_rows: [DaneRow; 6] = [
        ("mail.test", "3", "dane-only", Ok(()), "DANE-EE SPKI SHA-256 (3 1 1)"),
        (
            "ee-cert.test",
            "3",
            "dane-only",
            Ok(()),
            "DANE-EE certificate SHA-256 (3 0 1) at a host the certificate does not name",
        ),
        ("ee-sha512.test", "3", "dane", Ok(()), "DANE-EE SPKI SHA-512 (3 1 2)"),
        (
            "mail.test",
            "2",
            "dane-only",
            Ok(()),
            "DANE-TA certificate SHA-256 (2 0 1) of the intermediate CA, through a TCP relay \
             (its own port, so its own TLSA record)",
        ),
        (
            "ta-wrong-name.test",
            "2",
            "dane-only",
            Err("certificate-host-mismatch"),
            "DANE-TA (2 0 1) at a host the certificate does not name",
        ),
        ("wrong.test", "3", "dane", Err("tlsa-invalid"), "a 3 1 1 record that matches nothing"),
    ];
    // The relay carries one connection, the DANE-TA case's. It is never joined: a case
    // that fails before connecting would leave it waiting (its thread ends with the run).
    let _relay = relay;
    for (host, usage, level, expect, what) in dane_rows {
        let checks = match expect {
            Ok(()) => {
                "exit 0, report `verified` with `policy tlsa`, stored; openssl s_client \
                       -dane_tlsa_rrdata verifies the same record"
            }
            Err(_) => {
                "exit non-zero with the RFC 8460 result type, nothing stored; openssl \
                       s_client -dane_tlsa_rrdata fails too"
            }
        };
        let case = format!("`sealpost send --tls-level {level} --server {host}:PORT`: {what}");
        let found = fixture(fixtures, host, usage);
        suite.case("nsd", &case, checks, |ctx| dane_case(ctx, dns, found?, level, expect));
    }
    suite.case(
        "nsd",
        "no TLSA records (a signed NXDOMAIN) at none.test: `--tls-level dane`, then `dane-only`",
        "dane: exit 0, `untrusted` (opportunistic TLS, as may), stored; dane-only: exit \
         non-zero with dane-required, nothing stored",
        |ctx| dane_then_dane_only(ctx, dns, "none", &["untrusted", "level dane"], "dane-required"),
    );
    suite.case(
        "nsd",
        "only an unusable record (0 0 1, PKIX-TA) at unusable.test: `dane`, then `dane-only`",
        "dane: exit 0, TLS required but unauthenticated (`untrusted`, `policy tlsa`, RFC 7672 \
         section 2.2); dane-only: exit non-zero with tlsa-invalid",
        |ctx| {
            dane_then_dane_only(ctx, dns, "unusable", &["untrusted", "policy tlsa"], "tlsa-invalid")
        },
    );
    suite.case(
        "postfix",
        "`sealpost send --tls-level dane-only` through the signed zone to a private Postfix \
         smtpd (OpenSSL, server-chain.pem): DANE-EE 3 1 1 at postfix.test, then DANE-TA 2 0 1 \
         at mail.test, both on its port",
        "each: exit 0, `verified` with `policy tlsa`, Postfix logs status=sent for the \
         recipient",
        |ctx| {
            let mut rx =
                super::client_postfix::Receiver::start_on(ctx, "postfix-dane", postfix_port)?;
            let dns_addr = format!("127.0.0.1:{}", dns.port);
            let anchor = dns.anchor.display().to_string();
            let args =
                ["--tls-level", "dane-only", "--dns", &dns_addr, "--dns-trust-anchor", &anchor];
            let mut found = Vec::new();
            for (host, local) in [("postfix.test", "dane-pf-ee"), ("mail.test", "dane-pf-ta")] {
                let server = format!("{host}:{postfix_port}");
                let (report, _) = rx.accepted_via(&server, local, "verified", &args)?;
                if !report.contains("policy tlsa") {
                    bail!("{host}: the report does not name the tlsa policy: {report}");
                }
                found.push(format!("{host}: {}", tls_line_of(&report)));
            }
            rx.stop()?;
            Ok(found.join("; "))
        },
    );
    suite.case(
        "nsd",
        "MX route: `sealpost send --tls-level dane-only --mx-port PORT --to x@mail.test` (MX \
         mail.test, TLSA 3 1 1)",
        "exit 0, `verified`, `policy tlsa`, stored",
        |ctx| {
            let port = ctx.server.mx.port().to_string();
            let args = ["--tls-level", "dane-only", "--mx-port", port.as_str()];
            let out = send(ctx, dns, &dns.anchor, "dane-mx", &args)?;
            delivered(ctx, &out, "dane-mx", &["verified", "policy tlsa"])
        },
    );
    suite.case(
        "nsd",
        "a trust anchor that did not sign the zone (every answer bogus): `--tls-level dane \
         --server mail.test:PORT`",
        "exit non-zero with dnssec-invalid, nothing stored (bogus DNS never turns DANE off)",
        |ctx| {
            let server = format!("mail.test:{}", ctx.server.mx.port());
            let args = ["--server", server.as_str(), "--tls-level", "dane"];
            let out = send(ctx, dns, &dns.wrong_anchor, "dane-bogus", &args)?;
            deferred(ctx, &out, "dane-bogus", "dnssec-invalid")
        },
    );
    suite.case(
        "sealpost serve",
        "a second `sealpost serve` with `[relay] dns`, `dns_trust_anchor` and `[relay.default] \
         level = \"dane-only\"` relays a submitted message to the MX of mail.test",
        "stored by the interop server `with ESMTPS`; the relay's TLS journal and `serve \
         --tls-summary --tls-rpt` report it under the tlsa policy, verified",
        |ctx| {
            let extra = "[relay.default]\nlevel = \"dane-only\"\n";
            relay_case(ctx, dns, "relay-dane", extra, "dane-only", "tlsa")
        },
    );
    suite.case(
        "sealpost serve",
        "a second `sealpost serve` with `[relay] mta_sts = true` and `[relay.default] level = \
         \"may\"`, `ca` = the test CA, relays a submitted message to the MX of mail.test \
         (policy `enforce`, `mx: mail.test`, from s_server -WWW)",
        "stored `with ESMTPS`; the relay's TLS journal and `serve --tls-summary --tls-rpt` \
         report it under the sts policy, verified although the level is may",
        |ctx| {
            let _host = policy_host(ctx, Some(ENFORCE), true)?;
            let extra = format!(
                "mta_sts = true\n[relay.default]\nlevel = \"may\"\nca = {:?}\n",
                ctx.pki("ca-bundle.pem")
            );
            relay_case(ctx, dns, "relay-sts", &extra, "may", "sts")
        },
    );
    let sts_rows: [StsRow; 5] = [
        (
            "enforce, `mx: mail.test`",
            "sts-enforce",
            Some(ENFORCE),
            true,
            Ok(&["verified", "policy sts"]),
            "exit 0, `verified` although the level is may, `policy sts`, stored",
        ),
        (
            "enforce, `mx: *.other.test`",
            "sts-enforce-other",
            Some(ENFORCE_OTHER),
            true,
            Err("validation-failure"),
            "exit non-zero (the MX host is not listed), nothing stored",
        ),
        (
            "testing, `mx: *.other.test`",
            "sts-testing-other",
            Some(TESTING_OTHER),
            true,
            Ok(&["policy sts", "validation-failure"]),
            "exit 0, stored; the report names the policy and validation-failure",
        ),
        (
            "no policy file (s_server -WWW then answers 200 with an error text)",
            "sts-no-file",
            None,
            true,
            Ok(&["level may", "sts-policy-invalid"]),
            "exit 0 under may (no valid policy), stored; the report says sts-policy-invalid",
        ),
        (
            "the policy host's certificate is self-signed",
            "sts-self-signed",
            Some(ENFORCE_OTHER),
            false,
            Ok(&["level may", "sts-webpki-invalid"]),
            "exit 0 under may (the unauthenticated policy is ignored), stored; the report \
             says sts-webpki-invalid",
        ),
    ];
    for (what, marker, policy, trusted, expect, checks) in sts_rows {
        let case = format!(
            "MTA-STS policy host (s_server -WWW on 127.0.0.1:443): {what}; `sealpost send \
             --mta-sts --tls-level may --ca ca-bundle.pem --mx-port PORT`"
        );
        suite.case("openssl", &case, checks, |ctx| {
            sts_case(ctx, dns, marker, policy, trusted, expect)
        });
    }
}
