//! swaks, the scripted SMTP client: plain, STARTTLS and implicit TLS, AUTH PLAIN and
//! LOGIN, pipelining, and what EHLO offers before and after TLS.
//!
//! swaks exits 0 only when every reply was the expected one; it exits 28 when AUTH fails
//! and 29 when TLS cannot start (including a failed verification). Its transcript marks
//! what it sent with `->` (`~>` under TLS) and what it read with `<-` (`<~`).

use std::time::Duration;

use anyhow::{Result, bail};

use super::exec::Output;
use super::sealpost::{DOMAIN, PASSWORD, USER};
use super::{Ctx, Suite};

const PEER: &str = "swaks";
const LIMIT: Duration = Duration::from_secs(60);

/// Runs swaks to `local@mail.test` on `port`, with a Subject and Message-Id made from
/// `marker`, plus `extra` options.
fn swaks(ctx: &Ctx<'_>, port: u16, local: &str, marker: &str, extra: &[&str]) -> Result<Output> {
    let from = if extra.contains(&"--auth") {
        format!("{USER}@{DOMAIN}")
    } else {
        String::from("sender@client.test")
    };
    let mut cmd = ctx.sh.cmd("swaks");
    cmd.args(["--server", "127.0.0.1", "--port", &port.to_string(), "--timeout", "30"])
        .args(["--ehlo", "client.test", "--from", &from, "--to", &format!("{local}@{DOMAIN}")])
        .args(["--header", &format!("Subject: interop {marker}")])
        .args(["--header", &format!("Message-Id: <{marker}@client.test>")])
        .args(extra);
    ctx.exec.run(&mut cmd, b"", LIMIT)
}

/// The `=== TLS started with cipher ...` line, checked to be TLS 1.2 or 1.3 with the
/// server's certificate.
fn tls_started(out: &Output) -> Result<String> {
    let text = out.text();
    let Some(line) = text.lines().find(|l| l.starts_with("=== TLS started with cipher ")) else {
        bail!("swaks did not start TLS:\n{text}");
    };
    if !line.contains("TLSv1.3") && !line.contains("TLSv1.2") {
        bail!("not TLS 1.2 or 1.3: {line}");
    }
    if !text.contains("=== TLS peer DN=\"/CN=mail.test/") {
        bail!("the peer certificate is not the one for mail.test:\n{text}");
    }
    Ok(line.trim_start_matches("=== TLS started with cipher ").to_owned())
}

/// The server's reply lines to the last EHLO of a transcript (`<-  250` or `<~  250`).
fn ehlo_keywords(text: &str, tls: bool) -> String {
    let prefix = if tls { "<~  250" } else { "<-  250" };
    text.lines().filter(|l| l.starts_with(prefix)).map(|l| &l[8..]).collect::<Vec<_>>().join(" ")
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let ca = suite.ctx().pki("ca-bundle.pem");
    let rogue = suite.ctx().pki("rogue-root-ca.pem");
    let verify: [&str; 4] = ["--tls", "--tls-verify", "--tls-ca-path", &ca];
    let auth = |mechanism: &'static str| {
        ["--auth", mechanism, "--auth-user", USER, "--auth-password", PASSWORD]
    };

    suite.case(
        PEER,
        "plain SMTP to the MX port",
        "exit 0; stored with its Message-Id; Received `with ESMTP`, no TLS clause",
        |ctx| {
            let out = swaks(ctx, ctx.server.mx.port(), "swaks-plain", "swaks-plain", &[])?;
            out.expect_code(0)?;
            ctx.server
                .mailbox("swaks-plain")
                .one("<swaks-plain@client.test>")?
                .expect_protocol("ESMTP")
        },
    );

    suite.case(
        PEER,
        "STARTTLS on the MX port, `--tls-verify --tls-ca-path ca-bundle.pem`",
        "TLS 1.2+ with the mail.test certificate verified; stored; Received `with ESMTPS` and \
         the TLS clause",
        |ctx| {
            let out = swaks(ctx, ctx.server.mx.port(), "swaks-tls", "swaks-tls", &verify)?;
            out.expect_code(0)?;
            let cipher = tls_started(&out)?;
            let with = ctx
                .server
                .mailbox("swaks-tls")
                .one("<swaks-tls@client.test>")?
                .expect_protocol("ESMTPS")?;
            Ok(format!("{cipher}; {with}"))
        },
    );

    suite.case(
        PEER,
        "STARTTLS, verifying against the rogue root",
        "verification fails: exit 29 (TLS failed), nothing stored",
        |ctx| {
            let extra = ["--tls", "--tls-verify", "--tls-ca-path", &rogue];
            let out = swaks(ctx, ctx.server.mx.port(), "swaks-rogue", "swaks-rogue", &extra)?;
            out.expect_code(29)?;
            if !out.text().contains("certificate verify failed") {
                bail!("no verification failure in the transcript:\n{}", out.text());
            }
            ctx.server.mailbox("swaks-rogue").expect_none("swaks-rogue")?;
            Ok(String::from("exit 29, \"certificate verify failed\", nothing stored"))
        },
    );

    suite.case(
        PEER,
        "implicit TLS (`--tls-on-connect`) on the smtps port, AUTH PLAIN",
        "TLS verified; 235; stored; Received `with ESMTPSA`",
        |ctx| {
            let extra: Vec<&str> = ["--tls-on-connect", "--tls-verify", "--tls-ca-path", &ca]
                .into_iter()
                .chain(auth("PLAIN"))
                .collect();
            let out = swaks(ctx, ctx.server.smtps.port(), "swaks-smtps", "swaks-smtps", &extra)?;
            out.expect_code(0)?;
            let cipher = tls_started(&out)?;
            if !out.stdout.contains("<~  235 ") {
                bail!("no 235 after AUTH:\n{}", out.stdout);
            }
            let with = ctx
                .server
                .mailbox("swaks-smtps")
                .one("<swaks-smtps@client.test>")?
                .expect_protocol("ESMTPSA")?;
            Ok(format!("{cipher}; 235; {with}"))
        },
    );

    for mechanism in ["PLAIN", "LOGIN"] {
        let case = format!("submission port: STARTTLS, then AUTH {mechanism}");
        let local = format!("swaks-sub-{}", mechanism.to_ascii_lowercase());
        let checks = if mechanism == "LOGIN" {
            "TLS verified; 334 Username/Password prompts; 235; stored; Received `with ESMTPSA`"
        } else {
            "TLS verified; 235; stored; Received `with ESMTPSA`"
        };
        suite.case(PEER, &case, checks, |ctx| {
            let extra: Vec<&str> = verify.iter().copied().chain(auth(mechanism)).collect();
            let out = swaks(ctx, ctx.server.submission.port(), &local, &local, &extra)?;
            out.expect_code(0)?;
            let cipher = tls_started(&out)?;
            let t = &out.stdout;
            if !t.contains(&format!(" ~> AUTH {mechanism}")) || !t.contains("<~  235 ") {
                bail!("no AUTH {mechanism} answered 235:\n{t}");
            }
            if mechanism == "LOGIN" && !t.contains("<~  334 VXNlcm5hbWU6") {
                bail!("no `334 Username:` prompt:\n{t}");
            }
            let with = ctx
                .server
                .mailbox(&local)
                .one(&format!("<{local}@client.test>"))?
                .expect_protocol("ESMTPSA")?;
            Ok(format!("{cipher}; 235; {with}"))
        });
    }

    suite.case(
        PEER,
        "submission port: STARTTLS, AUTH PLAIN with a wrong password",
        "535; exit 28 (AUTH failed); nothing stored",
        |ctx| {
            let extra = [
                "--tls",
                "--auth",
                "PLAIN",
                "--auth-user",
                USER,
                "--auth-password",
                "not-the-password",
            ];
            let out =
                swaks(ctx, ctx.server.submission.port(), "swaks-badpw", "swaks-badpw", &extra)?;
            out.expect_code(28)?;
            let line =
                out.stdout.lines().find(|l| l.starts_with("<~* 535 ") || l.starts_with("<~  535 "));
            let Some(line) = line else { bail!("no 535 reply:\n{}", out.stdout) };
            ctx.server.mailbox("swaks-badpw").expect_none("swaks-badpw")?;
            Ok(format!("{}; exit 28; nothing stored", line[4..].trim()))
        },
    );

    suite.case(
        PEER,
        "`--pipeline` on the MX port",
        "PIPELINING offered; MAIL, RCPT and DATA sent before the first reply; stored; \
         Received `with ESMTP`",
        |ctx| {
            let out =
                swaks(ctx, ctx.server.mx.port(), "swaks-pipe", "swaks-pipe", &["--pipeline"])?;
            out.expect_code(0)?;
            let t = &out.stdout;
            let pos = |needle: &str| t.find(needle);
            match (
                pos(" -> MAIL FROM:"),
                pos(" -> RCPT TO:"),
                pos(" -> DATA"),
                pos("<-  250 2.1.0"),
            ) {
                (Some(m), Some(r), Some(d), Some(reply)) if m < reply && r < reply && d < reply => {
                }
                _ => bail!("MAIL, RCPT and DATA were not sent as one group:\n{t}"),
            }
            ctx.server
                .mailbox("swaks-pipe")
                .one("<swaks-pipe@client.test>")?
                .expect_protocol("ESMTP")
        },
    );

    suite.case(
        PEER,
        "submission port: EHLO before and after TLS (`--quit-after EHLO`)",
        "before TLS: STARTTLS offered, no AUTH; after STARTTLS: AUTH PLAIN LOGIN, no STARTTLS",
        |ctx| {
            let port = ctx.server.submission.port();
            let before = swaks(ctx, port, "nobody", "ehlo-before", &["--quit-after", "EHLO"])?;
            before.expect_code(0)?;
            let plain = ehlo_keywords(&before.stdout, false);
            if !plain.contains("STARTTLS") || plain.contains("AUTH") {
                bail!("EHLO before TLS: {plain}");
            }
            let after =
                swaks(ctx, port, "nobody", "ehlo-after", &["--tls", "--quit-after", "EHLO"])?;
            after.expect_code(0)?;
            let tls = ehlo_keywords(&after.stdout, true);
            if !tls.contains("AUTH PLAIN LOGIN") || tls.contains("STARTTLS") {
                bail!("EHLO after TLS: {tls}");
            }
            Ok(String::from("before TLS: STARTTLS, no AUTH; after: AUTH PLAIN LOGIN"))
        },
    );
}
