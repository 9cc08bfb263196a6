//! The S/MIME cases of attacks.md that need hostile bytes from a second implementation:
//! openssl makes them (a message for someone else, a signer who is not the From address,
//! a detached signature that embeds other content, a SignedData without signers, signer
//! certificates with the wrong key usage, an untrusted root, a body changed in transit),
//! sealpost must refuse each with nothing released. The rows count as `openssl cms` rows.

use anyhow::{Context, Result, bail};
use memchr::memmem;

use super::mime::{self, Message};
use super::openssl::{openssl_encrypt, openssl_sign};
use super::{ALICE_RSA, ALICE_WRONG_EKU, ALICE_WRONG_KU, BOB_RSA, first_line};
use crate::interop::exec::Output;
use crate::interop::{Ctx, Suite};

const PEER: &str = "openssl cms";

/// Hostile input made by openssl, the S/MIME cases of attacks.md that need a second
/// implementation to produce the bytes: each must be refused with nothing released.
pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        PEER,
        "message for another recipient: openssl encrypts to Bob (RSA), sealpost decrypts with \
         Alice's key",
        "non-zero exit; nothing on standard output; the error names the recipient it holds \
         (Bob's certificate serial number)",
        |ctx| {
            let name = "ossl-enc-not-for-alice";
            let msg = Message::new(name);
            let encrypted = openssl_encrypt(ctx, name, &msg, BOB_RSA, &["-aes-256-gcm"])?;
            let (cert, key) = (ctx.cert(ALICE_RSA), ctx.key(ALICE_RSA));
            let out = ctx.sealpost(&["decrypt", "--cert", &cert, "--key", &key], &encrypted)?;
            expect_refused(&out)?;
            let serial = ctx.peer(
                "openssl",
                &["x509", "-noout", "-serial", "-in", &ctx.cert(BOB_RSA)],
                b"",
            )?;
            serial.expect_code(0)?;
            let (_, hex) = serial.stdout.trim().split_once('=').context("no serial")?;
            if !out.stderr.to_ascii_uppercase().contains(&hex.to_ascii_uppercase()) {
                bail!("the error does not name Bob's certificate ({hex}): {}", out.stderr.trim());
            }
            Ok(format!(
                "exit {}, nothing released; it says: {}",
                out.code(),
                first_line(&out.stderr)
            ))
        },
    );

    suite.case(
        PEER,
        "signer address differs from From: openssl signs, with Alice's key, a message From \
         eve@example.net",
        "sealpost verifies the signature but reports the mismatch: non-zero exit, the signer \
         line does not say `matches`, `--out` not written",
        |ctx| {
            let name = "ossl-sign-from-eve";
            let mut msg = Message::new(name);
            msg.headers = msg
                .headers
                .replace("From: Alice <alice@example.org>", "From: Eve <eve@example.net>");
            let signed = openssl_sign(ctx, name, &msg, ALICE_RSA, false, &[])?;
            let (out, written) = sealpost_verify_raw(ctx, name, &signed)?;
            if out.code() == 0 || written {
                bail!("accepted (exit {}, --out written: {written}):\n{}", out.code(), out.text());
            }
            let line = out.stdout.lines().find(|l| l.contains(ALICE_RSA.cn));
            let Some(line) = line else { bail!("no signer line:\n{}", out.text()) };
            if line.contains("matches") || !line.contains("eve@example.net") {
                bail!("the signer line does not report the mismatch: {line}");
            }
            Ok(format!("exit {}; `{}`", out.code(), line.trim()))
        },
    );

    suite.case(
        PEER,
        "eContent confusion: multipart/signed whose signature part is openssl's opaque \
         SignedData over other content",
        "refused: non-zero exit, no `valid` signer line, `--out` not written",
        |ctx| {
            let name = "ossl-econtent-confusion";
            let msg = Message::new(name);
            let hidden = Message::new("hidden-content-the-signature-covers");
            let entity = ctx.put(&format!("{name}.hidden"), &hidden.entity)?.display().to_string();
            let der = ctx.file(&format!("{name}.p7s"))?;
            let der_arg = der.display().to_string();
            let (cert, key) = (ctx.cert(ALICE_RSA), ctx.key(ALICE_RSA));
            ctx.peer(
                "openssl",
                &[
                    "cms",
                    "-sign",
                    "-nodetach",
                    "-binary",
                    "-in",
                    &entity,
                    "-signer",
                    &cert,
                    "-inkey",
                    &key,
                    "-outform",
                    "DER",
                    "-out",
                    &der_arg,
                ],
                b"",
            )?
            .expect_code(0)?;
            let signed = mime::wrap_signed(&msg.headers, &msg.entity, &ctx.get(&der)?);
            expect_verify_refused(ctx, name, &signed, &ctx.pki("ca-bundle.pem"))
        },
    );

    suite.case(
        PEER,
        "no SignerInfo: multipart/signed whose signature part is a certificates-only SignedData \
         (`openssl crl2pkcs7 -nocrl`)",
        "refused: non-zero exit, no `valid` signer line, `--out` not written",
        |ctx| {
            let name = "ossl-no-signers";
            let msg = Message::new(name);
            let chain = ctx.pki("smime-alice-rsa-chain.pem");
            let der = ctx.file(&format!("{name}.p7s"))?;
            let der_arg = der.display().to_string();
            let args =
                ["crl2pkcs7", "-nocrl", "-certfile", &chain, "-outform", "DER", "-out", &der_arg];
            ctx.peer("openssl", &args, b"")?.expect_code(0)?;
            let signed = mime::wrap_signed(&msg.headers, &msg.entity, &ctx.get(&der)?);
            expect_verify_refused(ctx, name, &signed, &ctx.pki("ca-bundle.pem"))
        },
    );

    for (signer, what) in [
        (ALICE_WRONG_EKU, "extended key usage serverAuth only"),
        (ALICE_WRONG_KU, "key usage keyCertSign only"),
    ] {
        suite.case(
            PEER,
            &format!("openssl signs with {} ({what}) → sealpost verifies", signer.cn),
            "refused: non-zero exit, the signer line says INVALID, `--out` not written",
            |ctx| {
                let name = format!("ossl-sign-{}", signer.name);
                let msg = Message::new(&name);
                let signed = openssl_sign(ctx, &name, &msg, signer, false, &[])?;
                expect_verify_refused(ctx, &name, &signed, &ctx.pki("ca-bundle.pem"))
            },
        );
    }

    suite.case(
        PEER,
        "openssl signs with Alice (RSA); sealpost verifies with `--ca rogue-root-ca.pem` only",
        "refused (the chain ends at a root not trusted): non-zero exit, `--out` not written",
        |ctx| {
            let name = "ossl-sign-untrusted";
            let msg = Message::new(name);
            let signed = openssl_sign(ctx, name, &msg, ALICE_RSA, false, &[])?;
            expect_verify_refused(ctx, name, &signed, &ctx.pki("rogue-root-ca.pem"))
        },
    );

    suite.case(
        PEER,
        "openssl signs detached; one byte of the signed body changed in transit",
        "refused (message digest mismatch): non-zero exit, `--out` not written",
        |ctx| {
            let name = "ossl-sign-tampered";
            let msg = Message::new(name);
            let mut signed = openssl_sign(ctx, name, &msg, ALICE_RSA, false, &[])?;
            let at =
                memmem::find(&signed, b"Hello Bob").context("the body is not in the message")?;
            signed[at + 6] = b'b';
            expect_verify_refused(ctx, name, &signed, &ctx.pki("ca-bundle.pem"))
        },
    );
}

/// sealpost verify of `signed` with `ca` as the only trust anchor must refuse it: non-zero
/// exit, no signer line that says valid, `--out` not written. Returns what it said.
fn expect_verify_refused(ctx: &Ctx<'_>, name: &str, signed: &[u8], ca: &str) -> Result<String> {
    let out_file = ctx.file(&format!("{name}.verified"))?;
    let _ = std::fs::remove_file(&out_file);
    let out_arg = out_file.display().to_string();
    let out = ctx.sealpost(&["verify", "--ca", ca, "--out", &out_arg], signed)?;
    let written = out_file.exists();
    let valid_line = out.stdout.lines().any(|l| l.contains(": valid"));
    if out.code() == 0 || written || valid_line {
        bail!("accepted (exit {}, --out written: {written}):\n{}", out.code(), out.text());
    }
    let said = out.stdout.lines().next().map_or_else(|| first_line(&out.stderr), str::to_owned);
    Ok(format!("exit {}; `{}`", out.code(), said.trim()))
}

/// A refusal: non-zero exit, nothing on standard output, a reason on standard error.
fn expect_refused(out: &Output) -> Result<()> {
    if out.code() == 0 || !out.stdout.is_empty() || out.stderr.trim().is_empty() {
        bail!(
            "expected a refusal with nothing released, got exit {} with {} bytes out:\n{}",
            out.code(),
            out.stdout.len(),
            out.text()
        );
    }
    Ok(())
}

/// `sealpost smime verify --ca ca-bundle.pem --out FILE` of `signed`, whatever its outcome;
/// also tells whether FILE was written.
fn sealpost_verify_raw(ctx: &Ctx<'_>, name: &str, signed: &[u8]) -> Result<(Output, bool)> {
    let out_file = ctx.file(&format!("{name}.verified"))?;
    let _ = std::fs::remove_file(&out_file);
    let (ca, out_arg) = (ctx.pki("ca-bundle.pem"), out_file.display().to_string());
    let out = ctx.sealpost(&["verify", "--ca", &ca, "--out", &out_arg], signed)?;
    Ok((out, out_file.exists()))
}
