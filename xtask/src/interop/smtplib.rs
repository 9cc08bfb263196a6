//! Python's smtplib (Debian's `/usr/bin/python3`): STARTTLS with a verifying SSL context,
//! login, send_message; and SMTPUTF8 to a non-ASCII local part. The Python side is
//! `smtplib_cases.py`; each case checks here what the server stored.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::exec::Output;
use super::peers::PYTHON;
use super::sealpost::{PASSWORD, USER};
use super::{Ctx, Suite};

const PEER: &str = "python3 smtplib";
const LIMIT: Duration = Duration::from_secs(60);
const SCRIPT: &str = include_str!("smtplib_cases.py");
/// The non-ASCII local part of the SMTPUTF8 cases, and its Maildir.
const UTF8_LOCAL: &str = "jösé";

/// Runs `case` of the script against `port`; it must exit 0.
fn python(ctx: &Ctx<'_>, case: &str, port: u16, ca: &str, marker: &str) -> Result<Output> {
    let script = ctx.scratch.dir("smtplib")?.join("smtplib_cases.py");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let mut cmd = ctx.sh.cmd(PYTHON);
    cmd.arg(&script).args([case, &port.to_string(), ca, marker, USER, PASSWORD]);
    let out = ctx.exec.run(&mut cmd, b"", LIMIT)?;
    out.expect_code(0)?;
    Ok(out)
}

/// Checks the stored SMTPUTF8 message with `marker`: in `maildir/mail.test/jösé/`, the
/// UTF-8 header bytes unchanged.
fn check_utf8(ctx: &Ctx<'_>, marker: &str) -> Result<String> {
    let mailbox = ctx.server.mailbox(UTF8_LOCAL);
    let stored = mailbox.one(&format!("<{marker}@client.test>"))?;
    let text = stored.text();
    if !text.contains("\r\nTo: jösé@mail.test\r\n") || !text.contains("grüße") {
        bail!("the UTF-8 header or body was changed:\n{text}");
    }
    if !stored.received()?.contains("for <jösé@mail.test>") {
        bail!("the Received header does not name the UTF-8 recipient: {}", stored.received()?);
    }
    // RFC 6531 section 4.3: an SMTPUTF8 transaction is recorded as UTF8SMTP.
    let with = stored.expect_protocol("UTF8SMTP")?;
    Ok(format!("stored in maildir/mail.test/{UTF8_LOCAL}/new/, UTF-8 bytes intact; {with}"))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let ca = suite.ctx().pki("ca-bundle.pem");
    let rogue = suite.ctx().pki("rogue-root-ca.pem");

    suite.case(
        PEER,
        "submission port: `starttls(context=create_default_context(cafile=ca-bundle.pem))`, \
         `login()`, `send_message()`",
        "TLS 1.2+ with the certificate and host name (IP SAN 127.0.0.1) verified; login \
         accepted; stored; Received `with ESMTPSA`",
        |ctx| {
            let out = python(ctx, "submit", ctx.server.submission.port(), &ca, "py-submit")?;
            let with = ctx
                .server
                .mailbox("py-submit")
                .one("<py-submit@client.test>")?
                .expect_protocol("ESMTPSA")?;
            Ok(format!("{}; {with}", out.stdout.trim()))
        },
    );

    suite.case(
        PEER,
        "`starttls()` with a context trusting only the rogue root",
        "ssl.SSLCertVerificationError (unable to get local issuer certificate)",
        |ctx| {
            let out = python(ctx, "rogue", ctx.server.mx.port(), &rogue, "py-rogue")?;
            Ok(out.stdout.trim().to_owned())
        },
    );

    suite.case(
        PEER,
        "SMTPUTF8: `sendmail(..., mail_options=[\"SMTPUTF8\"])` to jösé@mail.test",
        "accepted; stored in maildir/mail.test/jösé/ with the UTF-8 To header and body byte \
         for byte; Received `for <jösé@mail.test>`",
        |ctx| {
            python(ctx, "utf8-sendmail", ctx.server.mx.port(), &ca, "py-utf8-sendmail")?;
            check_utf8(ctx, "py-utf8-sendmail")
        },
    );

    suite.case(
        PEER,
        "SMTPUTF8: `send_message()` to jösé@mail.test (smtplib adds `SMTPUTF8 BODY=8BITMIME`)",
        "accepted; stored in maildir/mail.test/jösé/, UTF-8 intact",
        |ctx| {
            python(ctx, "utf8-send-message", ctx.server.mx.port(), &ca, "py-utf8-send-message")?;
            check_utf8(ctx, "py-utf8-send-message")
        },
    );

    suite.case(
        PEER,
        "SMTPUTF8: `send_message(..., mail_options=[\"SMTPUTF8\"])`",
        "smtplib sends `SMTPUTF8` twice; the exact repeat is accepted (a repeat with another \
         value would be refused); stored, UTF-8 intact",
        |ctx| {
            let out =
                python(ctx, "utf8-duplicate", ctx.server.mx.port(), &ca, "py-utf8-duplicate")?;
            if !out.stderr.contains(" SMTPUTF8 SMTPUTF8 ") {
                let stderr = &out.stderr;
                bail!("smtplib did not repeat SMTPUTF8 (the case shows nothing then):\n{stderr}");
            }
            let stored = check_utf8(ctx, "py-utf8-duplicate")?;
            Ok(format!("MAIL ... SMTPUTF8 SMTPUTF8 BODY=8BITMIME accepted; {stored}"))
        },
    );
}
