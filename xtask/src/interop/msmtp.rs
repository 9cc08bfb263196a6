//! msmtp, a GnuTLS-based submission client with a configuration file: AUTH PLAIN after
//! STARTTLS on the submission port, AUTH LOGIN over implicit TLS on the smtps port; both
//! verify the server as `mail.test` against the test CA.

use std::time::Duration;

use anyhow::{Context, Result};

use super::sealpost::{DOMAIN, PASSWORD, USER};
use super::{Ctx, Suite, scratch};

const PEER: &str = "msmtp";
const LIMIT: Duration = Duration::from_secs(60);

/// Writes the configuration file (mode 0600: msmtp refuses a readable file holding a
/// password) with one account per case.
fn config(ctx: &Ctx<'_>) -> Result<String> {
    let server = ctx.server;
    let ca = ctx.pki("ca-bundle.pem");
    let text = format!(
        "defaults\n\
         domain client.test\n\
         from {USER}@{DOMAIN}\n\
         tls on\n\
         tls_trust_file {ca}\n\
         tls_host_override mail.test\n\
         user {USER}\n\
         password {PASSWORD}\n\
         \n\
         account submission\n\
         host 127.0.0.1\n\
         port {}\n\
         tls_starttls on\n\
         auth plain\n\
         \n\
         account smtps\n\
         host 127.0.0.1\n\
         port {}\n\
         tls_starttls off\n\
         auth login\n",
        server.submission.port(),
        server.smtps.port()
    );
    let path = ctx.scratch.dir("msmtp")?.join("msmtprc");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    scratch::set_mode(&path, 0o600)?;
    Ok(path.display().to_string())
}

/// Sends one message through `account` to `local@mail.test` and checks it was stored.
fn send(ctx: &Ctx<'_>, account: &str, local: &str) -> Result<String> {
    let rc = config(ctx)?;
    let message = format!(
        "From: {USER}@{DOMAIN}\nTo: {local}@{DOMAIN}\nSubject: interop {local}\n\
         Message-ID: <{local}@client.test>\n\nSent by msmtp through account {account}.\n"
    );
    let mut cmd = ctx.sh.cmd("msmtp");
    cmd.args(["-C", &rc, "-a", account, &format!("{local}@{DOMAIN}")]);
    ctx.exec.run(&mut cmd, message.as_bytes(), LIMIT)?.expect_code(0)?;
    let with = ctx
        .server
        .mailbox(local)
        .one(&format!("<{local}@client.test>"))?
        .expect_protocol("ESMTPSA")?;
    Ok(format!("exit 0; {with}"))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        PEER,
        "submission port: `tls_starttls on`, `auth plain`",
        "exit 0 (TLS verified as mail.test, AUTH accepted, 250); stored; Received `with ESMTPSA`",
        |ctx| send(ctx, "submission", "msmtp-plain"),
    );
    suite.case(
        PEER,
        "smtps port: `tls_starttls off` (implicit TLS), `auth login`",
        "exit 0; stored; Received `with ESMTPSA`",
        |ctx| send(ctx, "smtps", "msmtp-login"),
    );
}
