//! s-nail, a mail reader with S/MIME (on OpenSSL's PKCS7 API): it verifies and decrypts
//! what sealpost writes, reading it from an mbox as a person's mailbox would hold it.
//!
//! It runs in batch mode (`-#`) with no configuration files (`-n`, `MAILRC=/dev/null`), the
//! test root as its only trust anchor (`smime-ca-file`, `smime-ca-no-defaults`), and Bob's
//! key and certificate for decryption (`smime-sign-cert-bob@example.org`, found through the
//! To address). `verify` also checks that the From address is in the signer's certificate.
//! Its exit code is 0 also when a command failed, so each command is followed by
//! `echo status=$?`.

use anyhow::{Result, bail};

use super::mime::{self, BOB, Message};
use super::{ALICE_EC, ALICE_RSA, BOB_RSA, Party};
use crate::interop::exec::Output;
use crate::interop::{Ctx, Suite};

const PEER: &str = "s-nail";

/// Runs s-nail on an mbox holding `message`, with `commands` on standard input.
fn snail(ctx: &Ctx<'_>, name: &str, message: &[u8], commands: &str) -> Result<Output> {
    let mbox = ctx.put(&format!("{name}.mbox"), &mime::mbox(message))?.display().to_string();
    let ca = format!("smime-ca-file={}", ctx.pki("ca-bundle.pem"));
    let pair = ctx.put(
        "bob-rsa-pair.pem",
        &[ctx.get(ctx.key(BOB_RSA).as_ref())?, ctx.get(ctx.cert(BOB_RSA).as_ref())?].concat(),
    )?;
    let sign_cert = format!("smime-sign-cert-{BOB}={}", pair.display());
    let mut cmd = ctx.sh.cmd("s-nail");
    // -n skips the system's configuration; MAILRC=/dev/null the user's.
    cmd.env("MAILRC", "/dev/null")
        .args(["-n", "-#", "-R", "-S", &ca, "-S", "smime-ca-no-defaults", "-S", &sign_cert])
        .args(["-f", &mbox]);
    let out = ctx.exec.run(&mut cmd, commands.as_bytes(), super::LIMIT)?;
    out.expect_code(0)?;
    Ok(out)
}

/// The `status=N` line s-nail echoed after its command.
fn status(out: &Output) -> Option<i32> {
    out.stdout.lines().find_map(|l| l.strip_prefix("status=")).and_then(|v| v.trim().parse().ok())
}

/// sealpost signs detached as `signer`; s-nail `verify`.
fn snail_verifies(ctx: &Ctx<'_>, signer: Party) -> Result<String> {
    let name = format!("snail-verify-{}", signer.name);
    let msg = Message::new(&name);
    let signed = ctx.sealpost_sign(&msg, signer, false)?;
    let out = snail(ctx, &name, &signed, "verify 1\necho status=$?\n")?;
    if status(&out) != Some(0) || !out.stdout.contains("Message 1 was verified successfully") {
        bail!("s-nail did not verify it:\n{}", out.text());
    }
    Ok(String::from(
        "`Message 1 was verified successfully`, status 0 (signature, chain, From address)",
    ))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    // Detached only: s-nail 14.9 reads no opaque signed-data ("invalid mime type", also for
    // openssl's own).
    for signer in [ALICE_RSA, ALICE_EC] {
        suite.case(
            PEER,
            &format!("sealpost signs detached, {} → s-nail `verify`", signer.cn),
            "`Message 1 was verified successfully`, command status 0",
            |ctx| snail_verifies(ctx, signer),
        );
    }

    suite.case(
        PEER,
        "sealpost's detached signature with one body byte changed → s-nail `verify`",
        "the negative control: s-nail reports an error and command status 1",
        |ctx| {
            let name = "snail-verify-tampered";
            let msg = Message::new(name);
            let signed = ctx.sealpost_sign(&msg, ALICE_RSA, false)?;
            let at = memchr::memmem::find(&signed, b"Hello Bob").map(|i| i + 6);
            let Some(at) = at else { bail!("the signed message lost its body") };
            let mut tampered = signed;
            tampered[at] = b'b';
            let out = snail(ctx, name, &tampered, "verify 1\necho status=$?\n")?;
            if status(&out) != Some(1) || out.stdout.contains("verified successfully") {
                bail!("s-nail did not reject it:\n{}", out.text());
            }
            let why = out.stderr.lines().find(|l| l.contains("rror")).unwrap_or("(no message)");
            Ok(format!("status 1; it says: {}", why.trim()))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-cbc` to Bob (RSA) → s-nail `decrypt`",
        "command status 0; the copy it writes has the original headers, the decrypted entity's \
         headers and body (LF line ends in the mbox), and no S/MIME body left",
        |ctx| {
            let name = "snail-decrypt";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-cbc")?;
            let copy = ctx.file(&format!("{name}.decrypted.mbox"))?;
            let _ = std::fs::remove_file(&copy);
            let commands = format!("decrypt 1 {}\necho status=$?\n", copy.display());
            let out = snail(ctx, name, &encrypted, &commands)?;
            if status(&out) != Some(0) {
                bail!("decrypt failed:\n{}", out.text());
            }
            let written = String::from_utf8_lossy(&ctx.get(&copy)?).into_owned();
            let entity = String::from_utf8_lossy(&msg.entity).replace("\r\n", "\n");
            let subject = format!("Subject: S/MIME interop {name}\n");
            if !written.contains(&entity) || !written.contains(&subject) {
                bail!("the decrypted copy lacks the entity or the Subject:\n{written}");
            }
            if written.contains("smime.p7m") && !written.contains("X-Encoded-Content-Type") {
                bail!("the copy still holds the encrypted body:\n{written}");
            }
            Ok(String::from("status 0; the copy holds the Subject and the original entity"))
        },
    );
}
