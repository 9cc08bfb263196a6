//! Dovecot's LMTP server as the mailbox server behind sealpost (`[delivery] lmtp`).
//!
//! A private Dovecot runs from the scratch folder: its own configuration (`dovecot -c CFG
//! -F`, `base_dir`, `state_dir` and `log_path` in the folder, so a system-wide Dovecot
//! is neither needed nor disturbed), `protocols = lmtp` with an `inet_listener` on a free
//! 127.0.0.1 port and a `unix_listener` in the folder, `ssl = no`, users from a
//! passwd-file, and Maildirs under `mail/%d/%n` in the folder. The master runs as root;
//! mail is written as the Debian system user `mail` (Dovecot refuses mail access as root).
//!
//! First Python's smtplib speaks LMTP to it directly (over TCP and over the socket), to
//! show what sealpost relies on: one DATA reply per accepted recipient, 550 5.1.1 at RCPT
//! for an unknown user. Then `sealpost serve` instances for the local domain `dove.test`
//! with `[delivery] lmtp` (TCP, then `unix:PATH`) take mail by SMTP and hand it over; the
//! messages are read back from Dovecot's Maildirs, and the unknown recipient must come
//! back to the sender as a delivery status notice, delivered by LMTP too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::exec::{Chat, Exec, Output, POLL, free_port, read_lossy, tail};
use super::maildir::{Mailbox, Stored};
use super::peers::PYTHON;
use super::sealpost::Sealpost;
use super::{Ctx, Suite};
use crate::sh::Sh;

const PEER: &str = "dovecot";
const LIMIT: Duration = Duration::from_secs(60);
/// How long a message queued by sealpost may take to reach Dovecot's Maildir.
const DELIVERY: Duration = Duration::from_secs(30);
/// The local domain, Dovecot's users' domain.
pub(crate) const DOMAIN: &str = "dove.test";
/// Dovecot's users (local parts); `nobody` is not one of them.
const USERS: &[&str] = &["bob", "alice", "carol"];
/// Dovecot's host name in its Received headers.
const HOSTNAME: &str = "lmtp.dove.test";
/// The system user that owns the mail (Debian's base-passwd has it on every machine).
const MAIL_USER: &str = "mail";
const SCRIPT: &str = include_str!("dovecot_lmtp.py");

/// `dovecot.conf` of the instance in `dir`, its LMTP on 127.0.0.1:`port` and at
/// `dir/lmtp.sock`.
fn dovecot_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "# The private Dovecot of `cargo xtask interop`: nothing here is shared with a
# system-wide instance (own base_dir, state_dir, instance name, ports and log).
instance_name = sealpost-interop
hostname = {HOSTNAME}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
# Mail access as root is refused (\"Mail access not allowed for root\"): mail belongs to
# the system user `mail`, and first_valid_uid lets its low uid through.
mail_uid = {MAIL_USER}
mail_gid = {MAIL_USER}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{d}/mail/%d/%n
mail_home = {d}/home/%d/%n
auth_username_format = %Lu
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener {d}/lmtp.sock {{
    mode = 0666
  }}
}}
"
    )
}

/// The running private Dovecot.
pub(crate) struct Dovecot<'a> {
    sh: &'a Sh,
    exec: &'a Exec,
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    master: Option<Chat>,
}

impl<'a> Dovecot<'a> {
    fn start(ctx: &Ctx<'a>) -> Result<Self> {
        Dovecot::start_in(ctx, "dovecot")
    }

    /// A private Dovecot in the scratch folder `name` (each instance its own), for the
    /// users of [`DOMAIN`]. Its log and mail live there too.
    pub(crate) fn start_in(ctx: &Ctx<'a>, name: &str) -> Result<Self> {
        let dir = ctx.scratch.dir(name)?;
        for sub in ["run", "state"] {
            ctx.scratch.dir(&format!("{name}/{sub}"))?;
        }
        for sub in ["mail", "home"] {
            let path = ctx.scratch.dir(&format!("{name}/{sub}"))?;
            let owner = format!("{MAIL_USER}:{MAIL_USER}");
            ctx.exec.run(ctx.sh.cmd("chown").arg(&owner).arg(&path), b"", LIMIT)?.expect_code(0)?;
        }
        let users: String =
            USERS.iter().map(|u| format!("{u}@{DOMAIN}:{{PLAIN}}unused::::::\n")).collect();
        std::fs::write(dir.join("users"), users)?;
        let port = free_port()?;
        let config = dir.join("dovecot.conf");
        std::fs::write(&config, dovecot_conf(&dir, port))?;
        let mut cmd = ctx.sh.cmd("dovecot");
        cmd.arg("-c").arg(&config).arg("-F");
        let master = ctx.exec.chat(&mut cmd)?;
        let dovecot =
            Dovecot { sh: ctx.sh, exec: ctx.exec, dir, config, port, master: Some(master) };
        // Ready when both listeners are there.
        let deadline = Instant::now() + LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || !dovecot.socket().exists()
        {
            if Instant::now() >= deadline {
                bail!("Dovecot did not listen within a minute:\n{}", dovecot.output());
            }
            if dovecot.output().contains("Fatal") {
                bail!("Dovecot did not start:\n{}", dovecot.output());
            }
            std::thread::sleep(POLL * 5);
        }
        Ok(dovecot)
    }

    /// The LMTP Unix socket.
    fn socket(&self) -> PathBuf {
        self.dir.join("lmtp.sock")
    }

    /// The LMTP port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The Maildir of `local@dove.test`.
    pub(crate) fn mailbox(&self, local: &str) -> Mailbox {
        Mailbox::new(self.dir.join("mail").join(DOMAIN).join(local))
    }

    /// The master's output and the end of the log.
    fn output(&self) -> String {
        let master = self.master.as_ref().map(Chat::transcript).unwrap_or_default();
        format!("{master}{}", tail(&read_lossy(&self.dir.join("dovecot.log"))))
    }

    /// `dovecot -c CFG stop`, then the master must exit 0.
    pub(crate) fn stop(&mut self) -> Result<String> {
        let Some(master) = self.master.take() else { bail!("Dovecot is not running") };
        let mut cmd = self.sh.cmd("dovecot");
        cmd.arg("-c").arg(&self.config).arg("stop");
        self.exec.run(&mut cmd, b"", LIMIT)?.expect_code(0)?;
        let (code, transcript) = master.finish(LIMIT)?;
        if code != 0 {
            bail!("the Dovecot master exited with {code}:\n{}", tail(&transcript));
        }
        if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            bail!("the LMTP port still accepts connections after the stop");
        }
        Ok(String::from("`dovecot stop` exit 0; the master exited 0; the LMTP port is closed"))
    }
}

impl Drop for Dovecot<'_> {
    fn drop(&mut self) {
        // After a failed stop the Chat kills what is left of the process group.
        if self.master.is_some()
            && let Err(err) = self.stop()
        {
            eprintln!("interop: stopping Dovecot: {err:#}");
        }
    }
}

/// Runs the LMTP script against `target` (HOST:PORT or a socket path): one transaction
/// from `sender` to `recipients`; returns its replies.
fn lmtp(
    ctx: &Ctx<'_>,
    target: &str,
    marker: &str,
    sender: &str,
    recipients: &[&str],
) -> Result<Value> {
    let script = ctx.scratch.dir("dovecot")?.join("dovecot_lmtp.py");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let mut cmd = ctx.sh.cmd(PYTHON);
    cmd.arg(&script).args([target, marker, sender]).args(recipients);
    let out = ctx.exec.run(&mut cmd, b"", LIMIT)?;
    out.expect_code(0)?;
    serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("the LMTP script printed no JSON:\n{}", out.text()))
}

/// The reply in `replies[section][key]` (or `replies[section]` when `key` is empty).
fn reply<'a>(replies: &'a Value, section: &str, key: &str) -> &'a str {
    let value = &replies[section];
    let value = if key.is_empty() { value } else { &value[key] };
    value.as_str().unwrap_or_default()
}

/// Expects one Dovecot Maildir message with `marker` for each of `locals`, with
/// Return-Path `<return_path>` and Dovecot's Received `with LMTP` first; returns them.
fn stored_in_dovecot(
    dovecot: &Dovecot<'_>,
    locals: &[&str],
    marker: &str,
    return_path: &str,
    limit: Duration,
) -> Result<Vec<Stored>> {
    let mut found = Vec::new();
    for local in locals {
        let stored = dovecot.mailbox(local).wait_for(marker, limit)?;
        let wanted = format!("Return-Path: <{return_path}>");
        if stored.headers("Return-Path") != [wanted.as_str()] {
            bail!("{local}: expected {wanted}:\n{}", stored.text());
        }
        let received = stored.received()?;
        if !received.contains(&format!("by {HOSTNAME} with LMTP")) {
            bail!("{local}: the first Received header is not Dovecot's: {received}");
        }
        found.push(stored);
    }
    Ok(found)
}

/// A `sealpost serve` for dove.test whose `[delivery] lmtp` is `target`.
fn sealpost_for(ctx: &Ctx<'_>, name: &str, target: &str) -> Result<Sealpost> {
    let dir = ctx.scratch.dir(name)?;
    let config = dir.join("sealpost.toml");
    std::fs::write(
        &config,
        format!("[delivery]\nlmtp = {target:?}\n\n[relay]\nscan_interval = 1\n"),
    )?;
    let config = config.display().to_string();
    Sealpost::start_as(ctx.sh, ctx.exec, ctx.bin, &dir, DOMAIN, &["--config", &config])
}

/// swaks from `from` to each of `to` on `server`'s MX port; Message-Id from `marker`.
fn swaks(
    ctx: &Ctx<'_>,
    server: &Sealpost,
    from: &str,
    to: &[&str],
    marker: &str,
) -> Result<Output> {
    let mut cmd = ctx.sh.cmd("swaks");
    cmd.args(["--server", "127.0.0.1", "--port", &server.mx.port().to_string()])
        .args(["--timeout", "30", "--ehlo", "client.test", "--from", from])
        .args(["--to", &to.join(",")])
        .args(["--header", &format!("Subject: interop {marker}")])
        .args(["--header", &format!("Message-Id: <{marker}@client.test>")]);
    ctx.exec.run(&mut cmd, b"", LIMIT)
}

/// Waits for the worker's log line about `to` (`delivered` or `delivery failed`).
fn worker_line(server: &Sealpost, what: &str, to: &str) -> Result<String> {
    let (what, wanted) = (format!(" {what} "), format!("to=<{to}>"));
    server.wait_for_line(0, DELIVERY, |l| l.contains(&what) && l.contains(&wanted))
}

/// Waits at most `limit` until `sealpost queue list` says the queue is empty.
fn queue_empty(ctx: &Ctx<'_>, server: &Sealpost, limit: Duration) -> Result<String> {
    let deadline = Instant::now() + limit;
    loop {
        let mut cmd = ctx.sh.cmd(&ctx.bin.display().to_string());
        cmd.args(["queue", "list", "--data-dir"]).arg(server.data_dir());
        let out = ctx.exec.run(&mut cmd, b"", LIMIT)?;
        out.expect_code(0)?;
        let last = out.stdout.lines().last().unwrap_or_default().to_owned();
        if last.contains(" 0 message(s)") {
            return Ok(last);
        }
        if Instant::now() >= deadline {
            bail!("the queue is not empty:\n{}", out.stdout);
        }
        std::thread::sleep(POLL * 25);
    }
}

/// The one-line value of field `name` in a delivery status notice.
fn dsn_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let started = Dovecot::start(suite.ctx()).map_err(|e| format!("{e:#}"));
    let get =
        || started.as_ref().map_err(|e| anyhow::anyhow!("the private Dovecot did not start: {e}"));

    suite.case(
        PEER,
        "LMTP over TCP (Python's `smtplib.LMTP`): LHLO, one message for bob@ and alice@dove.test",
        "250 at RCPT for each; after DATA one 250 per recipient (RFC 2033), each naming its \
         recipient; the message in each user's Maildir `new/` with `Return-Path:` and \
         Dovecot's Received `with LMTP`",
        |ctx| {
            let dv = get()?;
            let target = format!("127.0.0.1:{}", dv.port);
            let rcpts = ["bob@dove.test", "alice@dove.test"];
            let replies = lmtp(ctx, &target, "dv-tcp", "sender@client.test", &rcpts)?;
            for rcpt in rcpts {
                let (at_rcpt, at_data) =
                    (reply(&replies, "rcpt", rcpt), reply(&replies, "data", rcpt));
                if !at_rcpt.starts_with("250 ")
                    || !at_data.starts_with(&format!("250 2.0.0 <{rcpt}>"))
                {
                    bail!("{rcpt}: RCPT {at_rcpt:?}, DATA {at_data:?}");
                }
            }
            let stored = stored_in_dovecot(
                dv,
                &["bob", "alice"],
                "<dv-tcp@client.test>",
                "sender@client.test",
                Duration::ZERO,
            )?;
            Ok(format!(
                "LHLO {}; DATA: `{}` / `{}`; stored for both ({}), first `{}`",
                reply(&replies, "lhlo", "").replace(" / ", " "),
                without_id(reply(&replies, "data", "bob@dove.test")),
                without_id(reply(&replies, "data", "alice@dove.test")),
                linked(&stored),
                trace(&stored[0].received()?),
            ))
        },
    );

    suite.case(
        PEER,
        "LMTP over the `unix_listener` socket: the same transaction",
        "the same: one 250 per recipient after DATA; both Maildirs hold the message",
        |ctx| {
            let dv = get()?;
            let target = dv.socket().display().to_string();
            let rcpts = ["bob@dove.test", "alice@dove.test"];
            let replies = lmtp(ctx, &target, "dv-unix", "sender@client.test", &rcpts)?;
            for rcpt in rcpts {
                let at_data = reply(&replies, "data", rcpt);
                if !at_data.starts_with(&format!("250 2.0.0 <{rcpt}>")) {
                    bail!("{rcpt}: DATA {at_data:?}");
                }
            }
            let stored = stored_in_dovecot(
                dv,
                &["bob", "alice"],
                "<dv-unix@client.test>",
                "sender@client.test",
                Duration::ZERO,
            )?;
            Ok(format!(
                "two 250 replies after DATA; stored for both; `{}` (no address over the socket)",
                trace(&stored[0].received()?)
            ))
        },
    );

    suite.case(
        PEER,
        "LMTP: RCPT for an unknown user (nobody@dove.test) between two known ones",
        "550 5.1.1 at RCPT for nobody; the transaction goes on: DATA replies only for bob \
         and alice, both stored; no Maildir for nobody",
        |ctx| {
            let dv = get()?;
            let target = format!("127.0.0.1:{}", dv.port);
            let rcpts = ["bob@dove.test", "nobody@dove.test", "alice@dove.test"];
            let replies = lmtp(ctx, &target, "dv-unknown", "sender@client.test", &rcpts)?;
            let refused = reply(&replies, "rcpt", "nobody@dove.test");
            if !refused.starts_with("550 5.1.1 ") {
                bail!("nobody@dove.test got {refused:?} at RCPT");
            }
            let data = replies["data"].as_object().map(|d| d.len()).unwrap_or_default();
            if data != 2 || !replies["data"]["nobody@dove.test"].is_null() {
                bail!("expected DATA replies for bob and alice only: {}", replies["data"]);
            }
            stored_in_dovecot(
                dv,
                &["bob", "alice"],
                "<dv-unknown@client.test>",
                "sender@client.test",
                Duration::ZERO,
            )?;
            if dv.mailbox("nobody").root().exists() {
                bail!("a Maildir was made for nobody");
            }
            Ok(format!("RCPT nobody: {refused}; bob and alice stored"))
        },
    );

    suite.case(
        PEER,
        "`sealpost serve` for dove.test with `[delivery] lmtp = \"127.0.0.1:PORT\"`: swaks \
         from carol@dove.test to bob, alice and nobody@dove.test",
        "sealpost accepts all three (it does not know Dovecot's users); bob and alice get \
         the message in Dovecot's Maildir with sealpost's Received under Dovecot's and \
         `Return-Path: <carol@dove.test>`; Dovecot refuses nobody at RCPT (550 5.1.1), so \
         carol gets a delivery status notice (Return-Path <>, Action failed, Status 5.1.1, \
         Dovecot's reply) through LMTP too; the queue ends empty",
        |ctx| {
            let dv = get()?;
            let server = sealpost_for(ctx, "dovecot-tcp", &format!("127.0.0.1:{}", dv.port))?;
            let marker = "<sp-lmtp-tcp@client.test>";
            let to = ["bob@dove.test", "alice@dove.test", "nobody@dove.test"];
            swaks(ctx, &server, "carol@dove.test", &to, "sp-lmtp-tcp")?.expect_code(0)?;
            let stored =
                stored_in_dovecot(dv, &["bob", "alice"], marker, "carol@dove.test", DELIVERY)?;
            let received = stored[0].headers("Received");
            let ours = received.get(1).map(String::as_str).unwrap_or_default();
            if !ours.starts_with(
                "Received: from client.test ([127.0.0.1]) by dove.test (sealpost) with ESMTP id ",
            ) {
                bail!("sealpost's Received header is not the second one: {received:?}");
            }
            let notice = dv.mailbox("carol").wait_for(marker, DELIVERY)?;
            let text = notice.text();
            let checks = [
                (notice.headers("Return-Path") == ["Return-Path: <>"], "Return-Path: <>"),
                (text.contains("report-type=delivery-status"), "a multipart/report"),
                (
                    dsn_field(&text, "Final-Recipient") == Some("rfc822; nobody@dove.test"),
                    "Final-Recipient",
                ),
                (dsn_field(&text, "Action") == Some("failed"), "Action: failed"),
                (dsn_field(&text, "Status") == Some("5.1.1"), "Status: 5.1.1"),
                (
                    dsn_field(&text, "Diagnostic-Code").is_some_and(|d| {
                        d.contains("550 5.1.1") && d.contains("User doesn't exist")
                    }),
                    "Dovecot's reply",
                ),
            ];
            if let Some((_, what)) = checks.iter().find(|(ok, _)| !ok) {
                bail!("the notice lacks {what}:\n{text}");
            }
            if dv.mailbox("nobody").root().exists() {
                bail!("a Maildir was made for nobody");
            }
            for (what, to) in [
                ("delivered", "bob@dove.test"),
                ("delivered", "alice@dove.test"),
                ("delivery failed", "nobody@dove.test"),
            ] {
                worker_line(&server, what, to)
                    .with_context(|| format!("no `{what}` log line for {to}"))?;
            }
            let queue = queue_empty(ctx, &server, DELIVERY)?;
            let stopped = server.stop()?;
            let remote_mta = dsn_field(&text, "Remote-MTA").unwrap_or_default();
            let remote_mta = remote_mta.replace(&format!(":{}", dv.port), ":PORT");
            Ok(format!(
                "bob and alice stored, `{}` under `{}`; carol got the notice: Status {}, \
                 Diagnostic-Code `{}`, Remote-MTA `{remote_mta}`; `sealpost queue list`: {}; \
                 serve {stopped}",
                trace(ours),
                trace(&received[0]),
                dsn_field(&text, "Status").unwrap_or_default(),
                dsn_field(&text, "Diagnostic-Code").unwrap_or_default(),
                queue.trim().trim_start_matches("-- "),
            ))
        },
    );

    suite.case(
        PEER,
        "`sealpost serve` with `[delivery] lmtp = \"unix:PATH\"` (Dovecot's unix_listener): \
         swaks to bob@dove.test",
        "the message in bob's Dovecot Maildir with `Delivered-To: bob@dove.test` (one \
         recipient) and sealpost's Received; the worker logs it delivered to unix:PATH",
        |ctx| {
            let dv = get()?;
            let target = format!("unix:{}", dv.socket().display());
            let server = sealpost_for(ctx, "dovecot-unix", &target)?;
            let marker = "<sp-lmtp-unix@client.test>";
            swaks(ctx, &server, "sender@client.test", &["bob@dove.test"], "sp-lmtp-unix")?
                .expect_code(0)?;
            let stored = stored_in_dovecot(dv, &["bob"], marker, "sender@client.test", DELIVERY)?;
            if stored[0].headers("Delivered-To") != ["Delivered-To: bob@dove.test"] {
                bail!("no Delivered-To for bob:\n{}", stored[0].text());
            }
            let received = stored[0].headers("Received");
            if !received.get(1).is_some_and(|r| r.contains("by dove.test (sealpost) with ESMTP")) {
                bail!("sealpost's Received header is not the second one: {received:?}");
            }
            let line = worker_line(&server, "delivered", "bob@dove.test")
                .context("no `delivered` log line")?;
            if !line.contains(&format!("remote_mta=Some(\"{target}\")")) {
                bail!("not delivered through the socket: {line}");
            }
            let stopped = server.stop()?;
            Ok(format!(
                "stored with `Delivered-To: bob@dove.test`, `{}` (no address over the socket) \
                 above sealpost's; delivered to unix:PATH; serve {stopped}",
                trace(&received[0])
            ))
        },
    );

    let mut started = started;
    suite.case(
        PEER,
        "stop the private instance (`dovecot -c CFG stop`)",
        "exits 0, the master exits 0, the LMTP port is closed",
        |_| match &mut started {
            Ok(dv) => dv.stop(),
            Err(e) => bail!("it did not start: {e}"),
        },
    );
}

/// A Received header up to its id (which changes with every run).
fn trace(received: &str) -> &str {
    received.find(" id ").map_or(received, |i| &received[..i])
}

/// An LMTP reply without Dovecot's session id: `250 2.0.0 <bob@dove.test> ID Saved`.
fn without_id(reply: &str) -> String {
    match (reply.find("> "), reply.rfind(' ')) {
        (Some(start), Some(end)) if start + 2 < end => {
            format!("{}ID{}", &reply[..start + 2], &reply[end..])
        }
        _ => reply.to_owned(),
    }
}

/// Whether Dovecot wrote one file hard-linked into every Maildir (it does when the
/// recipients get the same bytes).
fn linked(stored: &[Stored]) -> String {
    use std::os::unix::fs::MetadataExt;
    let inodes: Vec<u64> =
        stored.iter().filter_map(|s| std::fs::metadata(&s.path).ok()).map(|m| m.ino()).collect();
    if inodes.len() == stored.len() && inodes.windows(2).all(|w| w[0] == w[1]) {
        String::from("one file, hard-linked into each Maildir")
    } else {
        String::from("a file per Maildir")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_keeps_everything_in_its_folder() {
        let conf = dovecot_conf(Path::new("/s/dovecot"), 2424);
        for wanted in [
            "base_dir = /s/dovecot/run\n",
            "state_dir = /s/dovecot/state\n",
            "log_path = /s/dovecot/dovecot.log\n",
            "mail_location = maildir:/s/dovecot/mail/%d/%n\n",
            "    port = 2424\n",
            "  unix_listener /s/dovecot/lmtp.sock {\n",
        ] {
            assert!(conf.contains(wanted), "{wanted}");
        }
    }

    #[test]
    fn ids_are_left_out() {
        assert_eq!(
            without_id("250 2.0.0 <alice@dove.test> iNQYCMO7FmtdJAAAg+zDdQ:R2 Saved"),
            "250 2.0.0 <alice@dove.test> ID Saved"
        );
        assert_eq!(without_id("550 5.1.1 nope"), "550 5.1.1 nope");
        assert_eq!(
            trace("Received: from a by lmtp.dove.test with LMTP id X (envelope-from <>); d"),
            "Received: from a by lmtp.dove.test with LMTP"
        );
    }

    #[test]
    fn dsn_fields_are_read() {
        let text = "x\nFinal-Recipient: rfc822; nobody@dove.test\nAction: failed\nStatus: 5.1.1\n";
        assert_eq!(dsn_field(text, "Action"), Some("failed"));
        assert_eq!(dsn_field(text, "Final-Recipient"), Some("rfc822; nobody@dove.test"));
        assert_eq!(dsn_field(text, "Remote-MTA"), None);
    }
}
