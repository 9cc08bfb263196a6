//! HAProxy in front of sealpost with the PROXY protocol.
//!
//! A second `sealpost serve` (its own data folder and configuration file) has an MX
//! listener with `proxy_protocol = true` and `proxy_trusted = ["127.0.0.1/32"]`. A private
//! HAProxy (`haproxy -f CFG -db`, its configuration in the scratch folder, its log on
//! standard output) has three `mode tcp` frontends on free loopback ports, each with one
//! backend server, that sealpost listener: `send-proxy` (v1), `send-proxy-v2`, and
//! `send-proxy-v2 proxy-v2-options crc32c,unique-id` (v2 with TLVs). The first two check
//! the server with `option smtpchk`, the third with a plain TCP check.
//!
//! HAProxy connects from 127.0.0.1; the client (swaks) binds 127.0.0.2 as its source, so
//! an address sealpost records can only be the client's if it came from the header: the
//! Received header of the stored message, the session log line (`peer=` the client,
//! `proxy=` HAProxy) and HAProxy's own connection log line must name the same client
//! address and port. Direct connections without a header, and headers from 127.0.0.3
//! (outside `proxy_trusted`), must be closed before the greeting.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::exec::{Chat, Output, POLL, free_port, signal};
use super::sealpost::{DOMAIN, Sealpost};
use super::{Ctx, Suite};

const PEER: &str = "haproxy";
const LIMIT: Duration = Duration::from_secs(60);
/// `[timeouts] proxy_header` of the proxied instance: short, so that the case of a client
/// that sends no header ends soon.
const PROXY_HEADER_SECS: u64 = 2;
/// The client's source address: not HAProxy's, so sealpost can only know it from the
/// header.
const CLIENT_IP: &str = "127.0.0.2";
/// A source outside `proxy_trusted`.
const UNTRUSTED_IP: &str = "127.0.0.3";
/// HAProxy's health-check interval, in milliseconds.
const CHECK_INTER_MS: u64 = 500;
/// How long the health-check case watches sealpost's log.
const CHECK_WINDOW: Duration = Duration::from_secs(3);
/// The log filter of the proxied instance: its listener's debug line names the version
/// and the number of TLVs of every PROXY header.
const LOG_FILTER: &str = "info,sealpost_server::listener=debug";

/// The three frontends' ports.
#[derive(Clone, Copy)]
struct Frontends {
    v1: u16,
    v2: u16,
    tlv: u16,
}

/// sealpost's configuration: the MX listener behind the balancer.
fn sealpost_toml() -> String {
    format!(
        "[listeners.smtp]\nproxy_protocol = true\nproxy_trusted = [\"127.0.0.1/32\"]\n\n\
         [timeouts]\nproxy_header = {PROXY_HEADER_SECS}\n"
    )
}

/// The start of every private HAProxy's configuration: its log on standard output, one
/// thread, TCP mode with connection and health-check logging.
pub(crate) const PREAMBLE: &str = "global
    log stdout format raw local0 info
    nbthread 1
    hard-stop-after 10s

defaults
    mode tcp
    log global
    option tcplog
    option log-health-checks
    timeout connect 5s
    timeout client 30s
    timeout server 30s
";

/// HAProxy's configuration: the frontends on 127.0.0.1, each backend one server at `mx`.
fn haproxy_cfg(ports: Frontends, mx: &str) -> String {
    let check = format!("check inter {CHECK_INTER_MS}");
    format!(
        "{PREAMBLE}
frontend fe_v1
    bind 127.0.0.1:{v1}
    default_backend be_v1

frontend fe_v2
    bind 127.0.0.1:{v2}
    default_backend be_v2

frontend fe_v2_tlv
    bind 127.0.0.1:{tlv}
    unique-id-format %{{+X}}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid
    default_backend be_v2_tlv

backend be_v1
    option smtpchk EHLO lb.test
    server sealpost {mx} send-proxy {check}

backend be_v2
    option smtpchk EHLO lb.test
    server sealpost {mx} send-proxy-v2 {check}

backend be_v2_tlv
    server sealpost {mx} send-proxy-v2 proxy-v2-options crc32c,unique-id {check}
",
        v1 = ports.v1,
        v2 = ports.v2,
        tlv = ports.tlv,
    )
}

/// The proxied `sealpost serve` and the HAProxy in front of it.
struct Proxied {
    server: Sealpost,
    haproxy: Chat,
    ports: Frontends,
}

impl Proxied {
    fn start(ctx: &Ctx<'_>) -> Result<Self> {
        let dir = ctx.scratch.dir("haproxy")?;
        let config = dir.join("sealpost.toml");
        std::fs::write(&config, sealpost_toml())?;
        let config = config.display().to_string();
        let server = Sealpost::start_logging(
            ctx.sh,
            ctx.exec,
            ctx.bin,
            &dir,
            DOMAIN,
            &["--config", &config],
            LOG_FILTER,
        )?;
        let ports = Frontends { v1: free_port()?, v2: free_port()?, tlv: free_port()? };
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, haproxy_cfg(ports, &server.mx.to_string()))?;
        let mut cmd = ctx.sh.cmd("haproxy");
        cmd.arg("-f").arg(&cfg).arg("-db");
        let mut haproxy = ctx.exec.chat(&mut cmd)?;
        // Ready when every backend's first health check passed: HAProxy listens, and
        // sealpost answered it through the PROXY protocol.
        for backend in ["be_v1", "be_v2", "be_v2_tlv"] {
            let wanted = format!("Health check for server {backend}/sealpost succeeded");
            haproxy.wait_for_line(0, LIMIT, &wanted, |l| l.contains(&wanted))?;
        }
        Ok(Proxied { server, haproxy, ports })
    }

    /// Stops HAProxy with SIGUSR1 (soft stop) and the server with SIGTERM.
    fn stop(self) -> Result<String> {
        let Proxied { server, haproxy, .. } = self;
        if !signal(&haproxy.pid().to_string(), "USR1") {
            bail!("could not send SIGUSR1 to haproxy");
        }
        let (code, transcript) = haproxy.finish(LIMIT)?;
        if code != 0 {
            bail!("haproxy exited with {code} after SIGUSR1:\n{}", super::exec::tail(&transcript));
        }
        let stopped = server.stop()?;
        Ok(format!("haproxy exit code 0 after SIGUSR1; the proxied sealpost serve {stopped}"))
    }
}

/// swaks from `source` to `port`, for `local@mail.test`, with a Message-Id made from
/// `marker`, plus `extra` options.
fn swaks(
    ctx: &Ctx<'_>,
    port: u16,
    source: &str,
    local: &str,
    marker: &str,
    extra: &[&str],
) -> Result<Output> {
    let mut cmd = ctx.sh.cmd("swaks");
    cmd.args(["--server", "127.0.0.1", "--port", &port.to_string(), "--timeout", "30"])
        .args(["--local-interface", source, "--ehlo", "client.test"])
        .args(["--from", "sender@client.test", "--to", &format!("{local}@{DOMAIN}")])
        .args(["--header", &format!("Subject: interop {marker}")])
        .args(["--header", &format!("Message-Id: <{marker}@client.test>")])
        .args(extra);
    ctx.exec.run(&mut cmd, b"", LIMIT)
}

/// The value of `key=` in a log line (up to the next space).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    line[start..].split(' ').next()
}

/// The session id in a Received header (`... with ESMTP id ID` then `;` or a space).
fn received_id(received: &str) -> Option<&str> {
    let start = received.find(" id ")? + 4;
    received[start..].split([' ', ';']).next()
}

/// Whether `line` is the server's summary line of session `id`.
fn is_session_line(line: &str, id: &str) -> bool {
    line.contains(&format!(" session {id} "))
}

/// Waits at most `limit` for HAProxy's connection log line (`option tcplog`) of the
/// client `client` (`IP:PORT`).
fn tcplog_line(haproxy: &Chat, client: &str, limit: Duration) -> Result<String> {
    let wanted = format!("{client} [");
    let deadline = Instant::now() + limit;
    loop {
        let transcript = haproxy.transcript();
        if let Some(line) = transcript.lines().find(|l| l.starts_with(&wanted)) {
            return Ok(line.to_owned());
        }
        if Instant::now() >= deadline {
            bail!(
                "HAProxy logged no connection from {client}:\n{}",
                super::exec::tail(&transcript)
            );
        }
        std::thread::sleep(POLL * 5);
    }
}

/// A delivery through `frontend`: stored, with the client's address in the Received
/// header, the session log line and HAProxy's log line; returns what was found and the
/// session's TCP peer (HAProxy's side of the connection).
fn through(
    ctx: &Ctx<'_>,
    px: &Proxied,
    frontend: &str,
    port: u16,
    marker: &str,
    extra: &[&str],
    protocol: &str,
) -> Result<(String, String)> {
    swaks(ctx, port, CLIENT_IP, marker, marker, extra)?.expect_code(0)?;
    let stored = px.server.mailbox(marker).one(&format!("<{marker}@client.test>"))?;
    let with = stored.expect_protocol(protocol)?;
    let received = stored.received()?;
    let wanted = format!("Received: from client.test ([{CLIENT_IP}])");
    if !received.starts_with(&wanted) {
        bail!("the Received header does not name the client {CLIENT_IP}: {received}");
    }
    let id = received_id(&received).context("no id in the Received header")?;
    // The summary line is written when the session ends, which may be just after
    // swaks saw the reply to QUIT.
    let line = px
        .server
        .wait_for_line(0, LIMIT, |l| is_session_line(l, id))
        .with_context(|| format!("no log line of session {id}"))?;
    let peer = field(&line, "peer").context("no peer= in the session line")?;
    let proxy = field(&line, "proxy").context("no proxy= in the session line")?;
    if !peer.starts_with(&format!("{CLIENT_IP}:")) || !proxy.starts_with("127.0.0.1:") {
        bail!("the session line does not name the client and the balancer: {line}");
    }
    let tcplog = tcplog_line(&px.haproxy, peer, Duration::from_secs(10))?;
    if !tcplog.contains(&format!(" {frontend} ")) {
        bail!("HAProxy's line for {peer} is not on {frontend}: {tcplog}");
    }
    let found = format!(
        "stored; Received `from client.test ([{CLIENT_IP}])`, {with}; session line \
         peer={CLIENT_IP}:PORT proxy=127.0.0.1:PORT; HAProxy's {frontend} log line names \
         the same client port"
    );
    Ok((found, proxy.to_owned()))
}

/// The log's lines after byte `mark`.
fn since(log: &str, mark: usize) -> &str {
    log.get(mark..).unwrap_or_default()
}

/// Warnings and errors in `log`.
fn warnings(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect()
}

/// Expects swaks to have got no reply at all: the connection closed before a greeting.
fn no_greeting(out: &Output) -> Result<()> {
    let text = out.text();
    if out.code() == 0 || text.lines().any(|l| l.starts_with("<-")) {
        bail!("expected a close without any reply; exit {}:\n{text}", out.code());
    }
    if !text.contains("Remote host closed connection unexpectedly") {
        bail!("swaks did not see the connection closed:\n{text}");
    }
    Ok(())
}

/// Waits at most `LIMIT` for a warning after `mark` that contains `wanted`.
fn wait_for_warning(server: &Sealpost, mark: usize, wanted: &str) -> Result<String> {
    server.wait_for_line(mark, LIMIT, |l| warnings(l).len() == 1 && l.contains(wanted))
}

/// The part of a log line from `reason=` on.
fn reason(line: &str) -> &str {
    line.find("reason=").map_or(line, |i| &line[i..])
}

/// The health-check sessions in `log`: (smtpchk through v1, smtpchk through v2, plain
/// TCP checks), with the first line of each kind.
fn check_sessions(log: &str) -> [(usize, Option<&str>); 3] {
    let mut kinds = [(0, None); 3];
    for line in log.lines().filter(|l| l.contains(" session ") && l.contains(" role=mx ")) {
        let kind = match (line.contains(" helo=lb.test "), line.contains(" proxy=")) {
            (true, true) => 0,
            (true, false) => 1,
            (false, _) if line.contains(" messages=0 ") => 2,
            _ => continue,
        };
        kinds[kind].0 += 1;
        kinds[kind].1.get_or_insert(line);
    }
    kinds
}

/// The `PROXY header` debug lines in `log` with `client=None version=v2 tlvs=0`: HAProxy's
/// v2 health checks (LOCAL).
fn local_headers(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("PROXY header") && l.contains("client=None version=v2 tlvs=0"))
        .count()
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let started = Proxied::start(suite.ctx()).map_err(|e| format!("{e:#}"));
    let get = || {
        started
            .as_ref()
            .map_err(|e| anyhow::anyhow!("HAProxy and the proxied server did not start: {e}"))
    };

    suite.case(
        PEER,
        "`server ... send-proxy` (v1) to a listener with `proxy_protocol = true`, \
         `proxy_trusted = [\"127.0.0.1/32\"]`; swaks from 127.0.0.2 to the frontend",
        "exit 0; stored; Received `from client.test ([127.0.0.2])`; sealpost's session line \
         peer=127.0.0.2:PORT proxy=127.0.0.1:PORT; HAProxy's tcplog line shows the same \
         client address and port",
        |ctx| {
            let px = get()?;
            let (found, _) = through(ctx, px, "fe_v1", px.ports.v1, "hap-v1", &[], "ESMTP")?;
            Ok(found)
        },
    );

    suite.case(
        PEER,
        "`server ... send-proxy-v2`; swaks from 127.0.0.2 with STARTTLS through the TCP \
         proxy, `--tls-verify --tls-ca-path ca-bundle.pem`",
        "exit 0; stored `with ESMTPS`; Received, session line and HAProxy's line name \
         127.0.0.2 and the same port",
        |ctx| {
            let px = get()?;
            let ca = ctx.pki("ca-bundle.pem");
            let tls = ["--tls", "--tls-verify", "--tls-ca-path", ca.as_str()];
            let (found, _) = through(ctx, px, "fe_v2", px.ports.v2, "hap-v2", &tls, "ESMTPS")?;
            Ok(found)
        },
    );

    suite.case(
        PEER,
        "`send-proxy-v2 proxy-v2-options crc32c,unique-id` (a v2 header with TLVs)",
        "exit 0; stored with the client 127.0.0.2 as above; sealpost's debug line for the \
         header says version=v2 tlvs=2 (skipped, not trusted)",
        |ctx| {
            let px = get()?;
            let (found, proxy) =
                through(ctx, px, "fe_v2_tlv", px.ports.tlv, "hap-tlv", &[], "ESMTP")?;
            let wanted = format!("PROXY header peer={proxy} ");
            let log = px.server.log();
            let header = log
                .lines()
                .find(|l| l.contains(&wanted))
                .with_context(|| format!("no debug line {wanted:?}"))?;
            let tlvs = field(header, "tlvs").unwrap_or_default();
            if field(header, "version") != Some("v2") || tlvs != "2" {
                bail!("expected a v2 header with 2 TLVs: {header}");
            }
            Ok(format!("{found}; header version=v2 tlvs={tlvs}"))
        },
    );

    suite.case(
        PEER,
        "health checks every 500 ms: `option smtpchk EHLO lb.test` on the v1 and v2 \
         servers, a plain TCP check on the TLV server",
        "HAProxy reports every server UP (no DOWN line); over 3 s sealpost logs each kind \
         of check session at info level and no warning or error",
        |_| {
            let px = get()?;
            let mark = px.server.log().len();
            std::thread::sleep(CHECK_WINDOW);
            let log = px.server.log();
            let window = since(&log, mark);
            let warned = warnings(window);
            if !warned.is_empty() {
                bail!("warnings during the health checks:\n{}", warned.join("\n"));
            }
            let transcript = px.haproxy.transcript();
            if let Some(down) = transcript.lines().find(|l| l.contains(" is DOWN")) {
                bail!("HAProxy marked a server down: {down}");
            }
            let [v1, v2, tcp] = check_sessions(window);
            let locals = local_headers(window);
            // The plain TCP checks send a LOCAL header too: more of them than smtpchk
            // sessions through v2.
            if v1.0 < 2 || v2.0 < 2 || locals < v2.0 + 2 {
                bail!(
                    "too few check sessions (smtpchk v1 {}, smtpchk v2 {}, v2 LOCAL headers \
                     {locals}):\n{window}",
                    v1.0,
                    v2.0,
                );
            }
            let (v1_line, v2_line) = (v1.1.unwrap_or_default(), v2.1.unwrap_or_default());
            if field(v1_line, "result") != Some("Quit") || field(v2_line, "result") != Some("Quit")
            {
                bail!("an SMTP check did not end with QUIT:\n{window}");
            }
            let host = |line, key| field(line, key).and_then(|a| a.split(':').next());
            if host(v1_line, "peer") != Some("127.0.0.1")
                || host(v1_line, "proxy") != Some("127.0.0.1")
            {
                bail!("the v1 check's session line: {v1_line}");
            }
            let tcp = match tcp.1.and_then(|l| field(l, "result")) {
                Some(result) => format!("an info line with result={result}"),
                None => String::from("no session line"),
            };
            Ok(format!(
                "all servers UP, none DOWN; over 3 s no warning or error in sealpost's log; \
                 smtpchk through v1: a TCP4 header naming the check's own connection \
                 (peer=127.0.0.1:X proxy=127.0.0.1:X), EHLO, QUIT; through v2: a LOCAL \
                 header (the balancer stays the client), EHLO, QUIT; the plain TCP check: a \
                 LOCAL header, then HAProxy resets the connection ({tcp})"
            ))
        },
    );

    suite.case(
        PEER,
        "a client from a trusted address (127.0.0.1) straight to the proxied listener, \
         without a header",
        "no greeting: swaks sees the connection closed without a reply; sealpost warns \
         `no complete PROXY header within 2s`",
        |ctx| {
            let px = get()?;
            let mark = px.server.log().len();
            let started = Instant::now();
            let out = swaks_direct(ctx, px, "127.0.0.1", "hap-none", &[])?;
            let secs = started.elapsed().as_secs_f64();
            no_greeting(&out)?;
            if secs < PROXY_HEADER_SECS as f64 * 0.75 {
                bail!("closed after {secs:.1} s, before the header timeout");
            }
            let line = wait_for_warning(&px.server, mark, "no complete PROXY header")?;
            if !line.contains(" peer=127.0.0.1:") {
                bail!("the warning does not name the client: {line}");
            }
            px.server.mailbox("hap-none").expect_none("hap-none")?;
            Ok(format!(
                "closed without a reply when `proxy_header` ({PROXY_HEADER_SECS} s) ran out; {}",
                reason(&line)
            ))
        },
    );

    suite.case(
        PEER,
        "valid PROXY v1 and v2 headers (swaks `--proxy-version 1|2 --proxy-source \
         192.0.2.7`) sent straight from 127.0.0.3, outside `proxy_trusted`; the same from \
         127.0.0.1",
        "from 127.0.0.3: no greeting, sealpost warns `127.0.0.3 is not a trusted load \
         balancer`, nothing stored; from 127.0.0.1 the header is believed: stored with \
         Received `from client.test ([192.0.2.7])`",
        |ctx| {
            let px = get()?;
            let mut found = Vec::new();
            for (version, family) in [("1", "TCP4"), ("2", "AF_INET")] {
                let header = [
                    "--proxy-version",
                    version,
                    "--proxy-family",
                    family,
                    "--proxy-source",
                    "192.0.2.7",
                    "--proxy-source-port",
                    "4444",
                    "--proxy-dest",
                    "127.0.0.1",
                    "--proxy-dest-port",
                    "25",
                ];
                let marker = format!("hap-untrusted-v{version}");
                let mark = px.server.log().len();
                let out = swaks_direct(ctx, px, UNTRUSTED_IP, &marker, &header)?;
                no_greeting(&out)?;
                let wanted = format!("{UNTRUSTED_IP} is not a trusted load balancer");
                let line = wait_for_warning(&px.server, mark, &wanted)?;
                px.server.mailbox(&marker).expect_none(&marker)?;
                found.push(format!("v{version}: closed without a reply, {}", reason(&line)));
                let marker = format!("hap-trusted-v{version}");
                swaks_direct(ctx, px, "127.0.0.1", &marker, &header)?.expect_code(0)?;
                let stored = px.server.mailbox(&marker).one(&marker)?;
                let received = stored.received()?;
                if !received.starts_with("Received: from client.test ([192.0.2.7])") {
                    bail!("the header from 127.0.0.1 was not believed: {received}");
                }
            }
            Ok(format!(
                "{}; from 127.0.0.1 both stored with Received `from client.test ([192.0.2.7])`",
                found.join("; ")
            ))
        },
    );

    let mut started = started.ok();
    suite.case(
        PEER,
        "stop HAProxy (SIGUSR1, soft stop) and the proxied `sealpost serve` (SIGTERM)",
        "both exit with code 0",
        |_| match started.take() {
            Some(px) => px.stop(),
            None => bail!("they did not start"),
        },
    );
}

/// swaks from `source` straight to the proxied listener (no HAProxy), with `extra`.
fn swaks_direct(
    ctx: &Ctx<'_>,
    px: &Proxied,
    source: &str,
    marker: &str,
    extra: &[&str],
) -> Result<Output> {
    swaks(ctx, px.server.mx.port(), source, marker, marker, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fields_and_received_ids_are_found() {
        let line = "2026-12-07T13:52:47.076840Z  INFO sealpost_server::driver: session \
                    6b16ba2f00003 peer=127.0.0.2:41627 proxy=127.0.0.1:51362 role=mx \
                    helo=c.test tls=none messages=1 rejected=0 duration=0.028s result=Quit";
        assert_eq!(field(line, "peer"), Some("127.0.0.2:41627"));
        assert_eq!(field(line, "proxy"), Some("127.0.0.1:51362"));
        assert_eq!(field(line, "result"), Some("Quit"));
        assert_eq!(field(line, "user"), None);
        assert!(is_session_line(line, "6b16ba2f00003"));
        assert!(!is_session_line(line, "6b16ba2f0000"));
        let received = "Received: from c.test ([127.0.0.2]) by mail.test (sealpost) with \
                        ESMTP id 6b16ba2f00003 for <x@mail.test>; Mon, 07 Dec 2026";
        assert_eq!(received_id(received), Some("6b16ba2f00003"));
        assert_eq!(received_id("Received: from c by d with ESMTP id 42; date"), Some("42"));
    }

    #[test]
    fn check_sessions_are_told_apart() {
        let log = "\
            x INFO d: session 1 peer=127.0.0.1:5 proxy=127.0.0.1:5 role=mx helo=lb.test tls=none messages=0 rejected=0 duration=0.001s result=Quit\n\
            x INFO d: session 2 peer=127.0.0.1:6 role=mx helo=lb.test tls=none messages=0 rejected=0 duration=0.001s result=Quit\n\
            x INFO d: session 3 peer=127.0.0.1:7 role=mx tls=none messages=0 rejected=0 duration=0.000s result=error (reset)\n\
            x DEBUG l: PROXY header peer=127.0.0.1:7 client=None version=v2 tlvs=0\n\
            x  WARN l: connection closed before the greeting peer=127.0.0.3:9\n";
        let [v1, v2, tcp] = check_sessions(log);
        assert_eq!((v1.0, v2.0, tcp.0), (1, 1, 1));
        assert!(tcp.1.unwrap().ends_with("result=error (reset)"));
        assert_eq!(local_headers(log), 1);
        assert_eq!(warnings(log).len(), 1);
    }

    #[test]
    fn the_configurations_name_the_ports() {
        let cfg = haproxy_cfg(Frontends { v1: 1, v2: 2, tlv: 3 }, "127.0.0.1:25");
        assert!(cfg.contains("bind 127.0.0.1:1\n"));
        assert!(cfg.contains("server sealpost 127.0.0.1:25 send-proxy check inter 500\n"));
        assert!(cfg.contains("unique-id-format %{+X}o%ci"));
        assert!(sealpost_toml().contains("proxy_header = 2\n"));
    }
}
