//! `sealpost send` (the outbound client) against real peers: smtp-sink's transaction dump
//! (the envelope and its DSN parameters as received, the envelope pipelined in one write,
//! seen through a recording TCP relay), `openssl s_server` as an implicit-TLS peer at level
//! `verify` (and refused when its certificate names another host), aiosmtpd requiring
//! STARTTLS (`client_aiosmtpd.py` records what it received), and `sealpost serve` itself at
//! level `secure`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::exec::{Output, free_port, read_lossy, tail};
use super::peers::PYTHON;
use super::{Ctx, Suite};

const LIMIT: Duration = Duration::from_secs(60);
const AIOSMTPD: &str = include_str!("client_aiosmtpd.py");

/// Runs `sealpost send ARGS` with `message` on stdin.
fn send(ctx: &Ctx<'_>, args: &[&str], message: &[u8]) -> Result<Output> {
    let mut cmd = ctx.sh.cmd(&ctx.bin.display().to_string());
    cmd.arg("send").args(["--timeout", "20"]).args(args);
    ctx.exec.run(&mut cmd, message, LIMIT)
}

/// A one-connection TCP relay from a local port to `target` that records the chunks the
/// client wrote, one entry per read.
pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    chunks: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: JoinHandle<()>,
}

impl Relay {
    pub(crate) fn start(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let record = chunks.clone();
        let thread = std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else { return };
            let Ok(server) = TcpStream::connect(target) else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            for stream in [&client, &server] {
                let _ = stream.set_read_timeout(Some(LIMIT));
            }
            let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone())
            else {
                return;
            };
            let back = std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(Shutdown::Write);
            });
            let (mut from_client, mut to_server) = (client, server);
            let mut buf = [0u8; 16 * 1024];
            // Bounded: the read timeout ends a stalled session, EOF ends a finished one.
            while let Ok(n @ 1..) = from_client.read(&mut buf) {
                if let Ok(mut chunks) = record.lock() {
                    chunks.push(buf[..n].to_vec());
                }
                if to_server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown(Shutdown::Write);
            let _ = back.join();
        });
        Ok(Self { addr, chunks, thread })
    }

    fn finish(self) -> Vec<Vec<u8>> {
        let _ = self.thread.join();
        self.chunks.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// smtp-sink with `-D`: the dump shows the envelope as received.
fn smtp_sink_dump(ctx: &Ctx<'_>) -> Result<String> {
    let dir = ctx.scratch.dir("client-sink")?;
    let dump = dir.join("dump");
    let port = free_port()?;
    let sink_addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut sink = ctx.sh.cmd("smtp-sink");
    sink.args(["-u", "root", "-D"]).arg(&dump).arg(sink_addr.to_string()).arg("10");
    let sink = ctx.exec.chat(&mut sink)?;
    wait_listening(sink_addr)?;
    let relay = Relay::start(sink_addr)?;
    let server = relay.addr.to_string();
    let marker = "client-sink-dump";
    let message = format!("Subject: {marker}\n\nbody\n");
    let output = send(
        ctx,
        &[
            "--server",
            &server,
            "--from",
            "a@client.test",
            "--to",
            "b@sink.test",
            "--to",
            "c@sink.test",
            "--notify",
            "success,failure",
            "--ret",
            "hdrs",
            "--envid",
            "ID42",
        ],
        message.as_bytes(),
    )?;
    let chunks = relay.finish();
    drop(sink);
    output.expect_code(0)?;
    for rcpt in ["<b@sink.test>: accepted: 250", "<c@sink.test>: accepted: 250"] {
        if !output.stdout.contains(rcpt) {
            bail!("stdout lacks {rcpt:?}:\n{}", output.text());
        }
    }
    let dumped = read_lossy(&dump);
    for line in [
        "X-Mail-Args: <a@client.test> RET=HDRS ENVID=ID42",
        "X-Rcpt-Args: <b@sink.test> NOTIFY=SUCCESS,FAILURE",
        "X-Rcpt-Args: <c@sink.test> NOTIFY=SUCCESS,FAILURE",
    ] {
        if !dumped.lines().any(|l| l == line) {
            bail!("the dump lacks {line:?}:\n{}", tail(&dumped));
        }
    }
    if !dumped.contains(marker) {
        bail!("the dump lacks the message:\n{}", tail(&dumped));
    }
    // The envelope went in one write: MAIL, both RCPTs and DATA.
    let pipelined = chunks.iter().any(|c| {
        let text = String::from_utf8_lossy(c);
        text.starts_with("MAIL FROM:")
            && text.matches("\r\nRCPT TO:").count() == 2
            && text.ends_with("\r\nDATA\r\n")
    });
    if !pipelined {
        let seen: Vec<String> =
            chunks.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        bail!("MAIL, RCPT, RCPT, DATA were not one write; the client wrote {seen:?}");
    }
    Ok(format!(
        "exit 0, both recipients accepted; dump has the MAIL/RCPT arguments with DSN \
         parameters; MAIL+RCPT+RCPT+DATA in one write ({} writes in all)",
        chunks.len()
    ))
}

/// Waits until something listens on `addr` (smtp-sink takes any number of connections,
/// so a probe that connects and closes is harmless).
fn wait_listening(addr: SocketAddr) -> Result<()> {
    for _ in 0..250 {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listens on {addr} after 5 s")
}

/// Runs `sealpost send` in a thread (the main thread plays the server side).
fn send_in_background(
    bin: &Path,
    root: &Path,
    args: Vec<String>,
    message: &'static [u8],
) -> JoinHandle<Result<(i32, String, String)>> {
    let bin = bin.to_owned();
    let root = root.to_owned();
    std::thread::spawn(move || {
        let mut child = Command::new(bin)
            .arg("send")
            .args(["--timeout", "20"])
            .args(&args)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting sealpost send")?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(message)?;
        }
        // Bounded by --timeout: every phase of the client has a 20 s deadline.
        let out = child.wait_with_output()?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok((out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr)))
    })
}

/// `openssl s_server` as an implicit-TLS server presenting `chain`/`key`; the SMTP
/// server side is played through its standard input when `converse`.
fn s_server(
    ctx: &Ctx<'_>,
    leaf: &str,
    key: &str,
    level_args: &[&str],
    converse: bool,
) -> Result<(i32, String, String, String)> {
    let port = free_port()?;
    let mut cmd = ctx.sh.cmd("openssl");
    cmd.args(["s_server", "-naccept", "1", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", &ctx.pki(leaf), "-cert_chain", &ctx.pki("intermediate-ca.pem")])
        .args(["-key", &ctx.pki(key)]);
    let mut server = ctx.exec.chat(&mut cmd)?;
    server.wait_for_line(0, LIMIT, "ACCEPT", |l| l == "ACCEPT")?;
    let mut args: Vec<String> =
        ["--server", &format!("127.0.0.1:{port}"), "--implicit-tls", "--to", "b@s.test"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    args.extend(level_args.iter().map(|s| (*s).to_owned()));
    let client = send_in_background(ctx.bin, ctx.sh.root(), args, b"Subject: s_server\n\nhi\n");
    if converse {
        let mark = server.mark();
        server.send("220 s.test ESMTP\r\n")?;
        server.wait_for_line(mark, LIMIT, "EHLO", |l| l.starts_with("EHLO "))?;
        let mark = server.mark();
        server.send("250-s.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")?;
        server.wait_for_line(mark, LIMIT, "DATA", |l| l == "DATA")?;
        let mark = server.mark();
        server.send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n")?;
        server.wait_for_line(mark, LIMIT, "end of data", |l| l == ".")?;
        let mark = server.mark();
        server.send("250 2.0.0 queued\r\n")?;
        server.wait_for_line(mark, LIMIT, "QUIT", |l| l == "QUIT")?;
        server.send("221 2.0.0 bye\r\n")?;
    }
    let (code, stdout, stderr) = match client.join() {
        Ok(result) => result?,
        Err(_) => bail!("the sealpost send thread panicked"),
    };
    let (_, transcript) = server.finish(LIMIT)?;
    Ok((code, stdout, stderr, transcript))
}

fn s_server_verified(ctx: &Ctx<'_>) -> Result<String> {
    let ca = ctx.pki("ca-bundle.pem");
    let level = ["--tls-level", "verify", "--ca", &ca, "--match", "mail.test"];
    let (code, stdout, stderr, transcript) =
        s_server(ctx, "server.pem", "server-key.pem", &level, true)?;
    if code != 0 || !stdout.contains("tls: verified TLSv1.") {
        bail!("exit {code}:\n{stdout}{stderr}");
    }
    if !transcript.lines().any(|l| l == "RCPT TO:<b@s.test>") {
        bail!("s_server did not receive the envelope:\n{}", tail(&transcript));
    }
    let tls = stdout.lines().find(|l| l.starts_with("tls: ")).unwrap_or_default();
    Ok(format!("exit 0; {}", tls.split(" cert-sha256").next().unwrap_or(tls)))
}

fn s_server_wrong_name(ctx: &Ctx<'_>) -> Result<String> {
    let ca = ctx.pki("ca-bundle.pem");
    let level = ["--tls-level", "verify", "--ca", &ca, "--match", "mail.test"];
    let (code, stdout, stderr, transcript) =
        s_server(ctx, "server-wrong-name.pem", "server-wrong-name-key.pem", &level, false)?;
    if code == 0 || !stderr.contains("certificate-host-mismatch") {
        bail!("expected a failure with certificate-host-mismatch; exit {code}:\n{stdout}{stderr}");
    }
    if transcript.contains("EHLO") {
        bail!("the client spoke SMTP over the refused session:\n{}", tail(&transcript));
    }
    Ok(format!("exit {code}: {}", stderr.trim()))
}

/// aiosmtpd with STARTTLS required: the envelope and content as it recorded them.
fn aiosmtpd(ctx: &Ctx<'_>) -> Result<String> {
    let dir = ctx.scratch.dir("client-aiosmtpd")?;
    let script = dir.join("client_aiosmtpd.py");
    std::fs::write(&script, AIOSMTPD).with_context(|| format!("writing {}", script.display()))?;
    let records = dir.join("records.jsonl");
    let port = free_port()?;
    let mut cmd = ctx.sh.cmd(PYTHON);
    cmd.arg(&script).arg(port.to_string()).arg(ctx.pki("server-chain.pem"));
    cmd.arg(ctx.pki("server-key.pem")).arg(&records);
    let mut server = ctx.exec.chat(&mut cmd)?;
    server.wait_for_line(0, LIMIT, "READY", |l| l == "READY")?;
    let ca = ctx.pki("ca-bundle.pem");
    let address = format!("127.0.0.1:{port}");
    let marker = "client-aiosmtpd";
    let message = format!("Subject: {marker}\n\ngrüße\n");
    let output = send(
        ctx,
        &[
            "--server",
            &address,
            "--tls-level",
            "verify",
            "--ca",
            &ca,
            "--match",
            "mail.test",
            "--from",
            "a@client.test",
            "--to",
            "b@aio.test",
            "--to",
            "c@aio.test",
        ],
        message.as_bytes(),
    )?;
    let (code, transcript) = server.finish(LIMIT)?;
    output.expect_code(0)?;
    if code != 0 {
        bail!("aiosmtpd exited {code}:\n{}", tail(&transcript));
    }
    if !output.stdout.contains("tls: verified TLSv1.") {
        bail!("not verified:\n{}", output.text());
    }
    let recorded = read_lossy(&records);
    let lines: Vec<&str> = recorded.lines().collect();
    let [line] = lines[..] else {
        bail!("expected one transaction, aiosmtpd recorded:\n{recorded}")
    };
    let expected = [
        "\"tls\": true",
        "\"mail_from\": \"a@client.test\"",
        "\"rcpt_tos\": [\"b@aio.test\", \"c@aio.test\"]",
        "\"BODY=8BITMIME\"",
        "\"SIZE=",
        "gr\\u00fc\\u00dfe\\r\\n",
    ];
    for part in expected {
        if !line.contains(part) {
            bail!("the record lacks {part}: {line}");
        }
    }
    Ok(String::from(
        "exit 0, verified; aiosmtpd recorded one transaction under TLS with both recipients, \
         SIZE and BODY=8BITMIME, the UTF-8 body intact with CRLF line ends",
    ))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        "postfix",
        "smtp-sink -D: `sealpost send` with two recipients, --notify, --ret, --envid, through \
         a recording relay",
        "exit 0; the dump's X-Mail-Args/X-Rcpt-Args carry RET, ENVID and NOTIFY; MAIL, both \
         RCPTs and DATA in one write (PIPELINING)",
        smtp_sink_dump,
    );
    suite.case(
        "openssl",
        "s_server as implicit-TLS peer; `sealpost send --implicit-tls --tls-level verify --ca \
         --match mail.test`",
        "exit 0; report `verified`; s_server received the envelope",
        s_server_verified,
    );
    suite.case(
        "openssl",
        "s_server presenting server-wrong-name.pem; the same `sealpost send`",
        "exit non-zero with `certificate-host-mismatch`; no SMTP over the refused session",
        s_server_wrong_name,
    );
    suite.case(
        "python3 aiosmtpd",
        "aiosmtpd with `require_starttls`; `sealpost send --tls-level verify --ca --match \
         mail.test`, two recipients, an 8-bit body",
        "exit 0, report `verified`; aiosmtpd's record: TLS, both recipients, SIZE and \
         BODY=8BITMIME on MAIL, the body's UTF-8 bytes with CRLF",
        aiosmtpd,
    );
}
