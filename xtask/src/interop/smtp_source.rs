//! Postfix's load generator `smtp-source` against the MX port: 1,000 messages of 5 KiB
//! from 10 parallel sessions, each to be found in the Maildir.
//!
//! smtp-source (Postfix 3.7) greets with HELO and does not pipeline, so the stored
//! messages must say `with SMTP`; sealpost's improper-pipelining protection is not
//! involved (see docs/interop.md).

use std::time::Duration;

use anyhow::{Result, bail};

use super::{Ctx, Suite};

const PEER: &str = "smtp-source";
const MESSAGES: usize = 1000;
const LIMIT: Duration = Duration::from_secs(300);

/// Sends 1,000 messages to `local@mail.test` with `extra` options and checks every one.
fn bulk(ctx: &Ctx<'_>, local: &str, extra: &[&str]) -> Result<String> {
    let mut cmd = ctx.sh.cmd("smtp-source");
    cmd.args(extra)
        .args(["-s", "10", "-m", &MESSAGES.to_string(), "-l", "5120"])
        .args(["-f", "a@client.test", "-t", &format!("{local}@mail.test")])
        .arg(ctx.server.mx.to_string());
    ctx.exec.run(&mut cmd, b"", LIMIT)?.expect_code(0)?;
    // Every 250 came after the message was durable: the files are there already; the
    // bounded wait only guards against a slow file system listing.
    let mailbox = ctx.server.mailbox(local);
    let count = mailbox.wait_count(MESSAGES, Duration::from_secs(30));
    if count != MESSAGES {
        bail!("{count} files in {}/new, expected {MESSAGES}", mailbox.root().display());
    }
    for message in mailbox.messages()? {
        message.expect_protocol("SMTP")?;
        if message.bytes.len() < 5120 {
            bail!(
                "{} holds {} bytes, less than the 5120 sent",
                message.path.display(),
                message.bytes.len()
            );
        }
    }
    Ok(format!("{MESSAGES} files in new/, each at least 5120 bytes with Received `with SMTP`"))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        PEER,
        "`-s 10 -m 1000 -l 5120 -f a@client.test -t user@mail.test` (a new connection per \
         message)",
        "exit 0; exactly 1,000 files in maildir/mail.test/user/new; HELO, no pipelining \
         (`with SMTP`)",
        |ctx| bulk(ctx, "user", &[]),
    );
    suite.case(
        PEER,
        "the same with `-d` (one connection per session)",
        "exit 0; exactly 1,000 files in maildir/mail.test/user-d/new",
        |ctx| bulk(ctx, "user-d", &["-d"]),
    );
}
