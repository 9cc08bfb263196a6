//! Two TLS stacks as STARTTLS clients: OpenSSL's `s_client` and GnuTLS's `gnutls-cli`, both
//! verifying the host name `mail.test` against the test CA, then a scripted EHLO and QUIT
//! (each line sent only after the previous reply arrived, as RFC 2920 asks after EHLO).

use std::time::Duration;

use anyhow::{Result, bail};

use super::exec::Chat;
use super::{Ctx, Suite};

const LIMIT: Duration = Duration::from_secs(30);

/// `openssl s_client -starttls smtp` to the MX port, verifying `mail.test` with `ca`.
/// With `-brief` (in `extra`) it prints a short summary instead of the session details.
fn s_client(ctx: &Ctx<'_>, ca: &str, extra: &[&str]) -> std::process::Command {
    let mut cmd = ctx.sh.cmd("openssl");
    cmd.args(["s_client", "-starttls", "smtp", "-connect", &ctx.server.mx.to_string()])
        .args(["-servername", "mail.test", "-CAfile", ca, "-verify_hostname", "mail.test"])
        // -nocommands: a line starting with Q (QUIT) must be sent, not end the client.
        .args(["-verify_return_error", "-crlf", "-nocommands"])
        .args(extra);
    cmd
}

/// `gnutls-cli --starttls-proto=smtp` to the MX port, verifying `mail.test` with `ca`.
fn gnutls_cli(ctx: &Ctx<'_>, ca: &str) -> std::process::Command {
    let mut cmd = ctx.sh.cmd("gnutls-cli");
    cmd.args(["--crlf", "--starttls-proto=smtp", "--port", &ctx.server.mx.port().to_string()])
        .args(["--x509cafile", ca, "--sni-hostname", "mail.test", "--verify-hostname"])
        .args(["mail.test", "127.0.0.1"]);
    cmd
}

/// Once the handshake is done: EHLO, wait for the last line of its reply, QUIT, wait for
/// 221, close; the client must exit 0. Returns the transcript.
fn ehlo_quit(mut chat: Chat) -> Result<String> {
    let mark = chat.mark();
    chat.send("EHLO client.test\n")?;
    // The last EHLO line under TLS (the pre-TLS reply ended with "250 STARTTLS").
    chat.wait_for_line(mark, LIMIT, "EHLO reply", |l| {
        l.starts_with("250 ") && l != "250 STARTTLS"
    })?;
    let mark = chat.mark();
    chat.send("QUIT\n")?;
    chat.wait_for_line(mark, LIMIT, "221 reply to QUIT", |l| l.starts_with("221 "))?;
    let (code, transcript) = chat.finish(LIMIT)?;
    if code != 0 {
        bail!("exit code {code} after QUIT:\n{transcript}");
    }
    Ok(transcript)
}

/// The value of the `Name: value` line of `text`.
fn field<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim)
}

/// Checks s_client's `-brief` summary: verified as mail.test with `version`.
fn s_client_summary(text: &str, version: &str) -> Result<String> {
    let verified = field(text, "Verification:") == Some("OK")
        && field(text, "Verified peername:") == Some("mail.test");
    let protocol = field(text, "Protocol version:").unwrap_or("?");
    let suite = field(text, "Ciphersuite:").unwrap_or("?");
    if !verified || protocol != version {
        bail!("expected verification OK for mail.test over {version}:\n{text}");
    }
    Ok(format!("{protocol} {suite}, Verification: OK, Verified peername: mail.test"))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    let ca = suite.ctx().pki("ca-bundle.pem");
    let rogue = suite.ctx().pki("rogue-root-ca.pem");

    suite.case(
        "openssl",
        "`s_client -starttls smtp -verify_hostname mail.test -verify_return_error`, EHLO, QUIT",
        "Verification: OK, peer name mail.test, TLSv1.3; EHLO answered under TLS; QUIT 221; exit 0",
        |ctx| {
            let mut chat = ctx.exec.chat(&mut s_client(ctx, &ca, &["-brief"]))?;
            chat.wait_for_line(0, LIMIT, "verification result", |l| {
                l.starts_with("Verification:")
            })?;
            let transcript = ehlo_quit(chat)?;
            Ok(format!("{}; EHLO 250, QUIT 221", s_client_summary(&transcript, "TLSv1.3")?))
        },
    );

    suite.case(
        "openssl",
        "the same with `-tls1_2`",
        "TLSv1.2 with an ECDHE AEAD suite; Verification: OK; EHLO, QUIT 221; exit 0",
        |ctx| {
            let mut chat = ctx.exec.chat(&mut s_client(ctx, &ca, &["-brief", "-tls1_2"]))?;
            chat.wait_for_line(0, LIMIT, "verification result", |l| {
                l.starts_with("Verification:")
            })?;
            let transcript = ehlo_quit(chat)?;
            let summary = s_client_summary(&transcript, "TLSv1.2")?;
            let suite = field(&transcript, "Ciphersuite:").unwrap_or_default();
            if !suite.starts_with("ECDHE-")
                || !(suite.contains("GCM") || suite.contains("CHACHA20"))
            {
                bail!("TLS 1.2 suite without forward secrecy or AEAD: {suite}");
            }
            Ok(summary)
        },
    );

    suite.case(
        "openssl",
        "`s_client` trusting only the rogue root",
        "verify error 20, handshake aborted, exit 1",
        |ctx| {
            let out = ctx.exec.run(&mut s_client(ctx, &rogue, &["-brief"]), b"", LIMIT)?;
            out.expect_code(1)?;
            let text = out.text();
            if !text.contains("verify error:num=20:") || !text.contains("certificate verify failed")
            {
                bail!("no verification failure reported:\n{text}");
            }
            Ok(String::from("verify error:num=20 (unable to get local issuer certificate), exit 1"))
        },
    );

    suite.case(
        "openssl",
        "TLS 1.2 session resumption: `-sess_out`, then `-sess_in`",
        "the second handshake reports `Reused, TLSv1.2`, verification OK both times",
        |ctx| {
            let session = ctx.scratch.dir("s_client")?.join("tls12.session");
            let session = session.display().to_string();
            let first = ctx.exec.run(
                &mut s_client(ctx, &ca, &["-tls1_2", "-sess_out", &session]),
                b"",
                LIMIT,
            )?;
            first.expect_code(0)?;
            let second = ctx.exec.run(
                &mut s_client(ctx, &ca, &["-tls1_2", "-sess_in", &session]),
                b"",
                LIMIT,
            )?;
            second.expect_code(0)?;
            for out in [&first, &second] {
                if field(&out.text(), "Verification:") != Some("OK") {
                    bail!("verification not OK:\n{}", out.text());
                }
            }
            let text = second.text();
            let Some(line) = text.lines().find(|l| l.starts_with("Reused, ")) else {
                bail!("the session was not resumed:\n{text}");
            };
            if !line.starts_with("Reused, TLSv1.2") {
                bail!("resumed with another version: {line}");
            }
            Ok(line.trim_end_matches(',').to_owned())
        },
    );

    suite.case(
        "openssl",
        "`s_client`: EHLO and QUIT in one write after TLS",
        "554 5.5.0 and close, no EHLO reply: EHLO must end a pipelined group (RFC 2920 \
         section 3.1)",
        |ctx| {
            let mut chat = ctx.exec.chat(&mut s_client(ctx, &ca, &["-brief"]))?;
            chat.wait_for_line(0, LIMIT, "verification result", |l| {
                l.starts_with("Verification:")
            })?;
            let mark = chat.mark();
            chat.send("EHLO client.test\nQUIT\n")?;
            let line = chat.wait_for_line(mark, LIMIT, "554 reply", |l| l.starts_with("554 "))?;
            let (_, transcript) = chat.finish(LIMIT)?;
            if !line.starts_with("554 5.5.0")
                || transcript.get(mark..).unwrap_or_default().contains("250-mail.test")
            {
                bail!("expected only a 554 5.5.0 reply:\n{transcript}");
            }
            Ok(line)
        },
    );

    suite.case(
        "gnutls-cli",
        "`--starttls-proto=smtp --x509cafile ca-bundle.pem --verify-hostname mail.test`, \
         EHLO, QUIT",
        "\"The certificate is trusted\", handshake completed (TLS 1.3); EHLO answered; QUIT \
         221; exit 0",
        |ctx| {
            let mut chat = ctx.exec.chat(&mut gnutls_cli(ctx, &ca))?;
            chat.wait_for_line(0, LIMIT, "completed handshake", |l| {
                l == "- Handshake was completed"
            })?;
            let transcript = ehlo_quit(chat)?;
            if !transcript.contains("- Status: The certificate is trusted.") {
                bail!("the certificate was not reported trusted:\n{transcript}");
            }
            let description = field(&transcript, "- Description:").unwrap_or("?");
            if !description.starts_with("(TLS1.3-") {
                bail!("not TLS 1.3: {description}");
            }
            Ok(format!("trusted; {description}; EHLO 250, QUIT 221"))
        },
    );

    suite.case(
        "gnutls-cli",
        "trusting only the rogue root",
        "\"NOT trusted ... issuer is unknown\", exit 1",
        |ctx| {
            let mut cmd = gnutls_cli(ctx, &rogue);
            let out = ctx.exec.run(&mut cmd, b"", LIMIT)?;
            out.expect_code(1)?;
            let text = out.text();
            if !text.contains("The certificate is NOT trusted. The certificate issuer is unknown.")
            {
                bail!("no verification failure reported:\n{text}");
            }
            Ok(String::from("NOT trusted (issuer unknown), exit 1"))
        },
    );
}
