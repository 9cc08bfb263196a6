//! GnuPG's `gpgsm` 2.2: signatures both ways, AES-CBC both ways, and its answer to
//! AES-GCM (which it cannot read).
//!
//! It runs with its own `GNUPGHOME` in the scratch folder: `allow-loopback-pinentry` for
//! GnuPG's key daemon, `disable-crl-checks` (the test PKI publishes no CRL), the test root in
//! `trustlist.txt`, and Alice's and Bob's keys imported from PKCS#12 files with the legacy
//! PBE that gpgsm 2.2 reads (`PBE-SHA1-3DES`, SHA-1 MAC). Its `--status-fd` lines
//! (`GOODSIG`, `TRUST_FULLY`, `DECRYPTION_OKAY`) are what the cases check. The daemons it
//! starts are stopped with `gpgconf --kill all` after the cases.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::mime::{self, Message};
use super::{ALICE_EC, ALICE_RSA, BOB_RSA, LIMIT, P12_PASSWORD, Party, first_line};
use crate::interop::exec::Output;
use crate::interop::scratch::set_mode;
use crate::interop::{Ctx, Suite};

const PEER: &str = "gpgsm";

/// The private GNUPGHOME.
fn home(ctx: &Ctx<'_>) -> Result<PathBuf> {
    ctx.scratch.dir("smime/gnupg")
}

/// Runs `program` (gpgsm, gpgconf) with the private GNUPGHOME.
fn gnupg(ctx: &Ctx<'_>, program: &str, args: &[&str], stdin: &[u8]) -> Result<Output> {
    let mut cmd: Command = ctx.sh.cmd(program);
    cmd.env("GNUPGHOME", home(ctx)?).args(args);
    ctx.exec.run(&mut cmd, stdin, LIMIT)
}

/// Runs gpgsm in batch mode with the PKCS#12 password on standard input (for the key
/// daemon's loopback pinentry); status lines go to standard error.
fn gpgsm(ctx: &Ctx<'_>, args: &[&str]) -> Result<Output> {
    let mut all =
        vec!["--batch", "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--status-fd", "2"];
    all.extend_from_slice(args);
    gnupg(ctx, "gpgsm", &all, format!("{P12_PASSWORD}\n").as_bytes())
}

/// A fresh GNUPGHOME with the configuration, the trusted root and both key pairs.
fn setup(ctx: &Ctx<'_>) -> Result<String> {
    let home = home(ctx)?;
    set_mode(&home, 0o700)?;
    ctx.put("gnupg/gpg-agent.conf", b"allow-loopback-pinentry\n")?;
    ctx.put("gnupg/gpgsm.conf", b"disable-crl-checks\n")?;
    // The root first, so that the chains of the imported keys are complete.
    let root = ctx.pki("root-ca.pem");
    gpgsm(ctx, &["--import", &root])?.expect_code(0)?;
    let sha1 = ["x509", "-noout", "-fingerprint", "-sha1", "-in", &root];
    let fingerprint = ctx.peer("openssl", &sha1, b"")?;
    fingerprint.expect_code(0)?;
    let (_, hex) = fingerprint.stdout.trim().split_once('=').context("no fingerprint")?;
    ctx.put("gnupg/trustlist.txt", format!("{hex} S\n").as_bytes())?;
    let mut imported = Vec::new();
    // RSA keys only: gpgsm 2.2.40 crashes (SIGSEGV) importing the EC key's PKCS#12. It needs
    // no key to verify Alice's EC signature: the certificate comes with the signature.
    for party in [ALICE_RSA, BOB_RSA] {
        let p12 = ctx.file(&format!("{}-legacy.p12", party.name))?.display().to_string();
        let (cert, key, chain) = (ctx.cert(party), ctx.key(party), ctx.pki("intermediate-ca.pem"));
        let pass = format!("pass:{P12_PASSWORD}");
        let legacy = ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"];
        let mut export = vec!["pkcs12", "-export", "-in", &cert, "-inkey", &key];
        export.extend_from_slice(&["-certfile", &chain, "-out", &p12, "-passout", &pass]);
        export.extend_from_slice(&legacy);
        ctx.peer("openssl", &export, b"")?.expect_code(0)?;
        let out = gpgsm(ctx, &["--import", &p12])?;
        out.expect_code(0)?;
        if !out.stderr.contains("secret keys imported: 1") {
            bail!("gpgsm did not import the key of {}:\n{}", party.cn, out.text());
        }
        imported.push(party.cn);
    }
    Ok(format!(
        "root {hex} trusted; imported the keys of {} (legacy-PBE PKCS#12)",
        imported.join(", ")
    ))
}

/// The SHA-1 fingerprint of `party`'s certificate, as gpgsm takes it for `-u` and `-r`
/// (the address alone is ambiguous once gpgsm has seen Alice's RSA and EC certificates).
fn fingerprint(ctx: &Ctx<'_>, party: Party) -> Result<String> {
    let cert = ctx.cert(party);
    let out =
        ctx.peer("openssl", &["x509", "-noout", "-fingerprint", "-sha1", "-in", &cert], b"")?;
    out.expect_code(0)?;
    let (_, hex) = out.stdout.trim().split_once('=').context("no fingerprint")?;
    Ok(hex.replace(':', ""))
}

/// The status line starting with `[GNUPG:] KEYWORD`.
fn status<'a>(out: &'a Output, keyword: &str) -> Option<&'a str> {
    let prefix = format!("[GNUPG:] {keyword} ");
    out.stderr
        .lines()
        .chain(out.stdout.lines())
        .find(|l| l.starts_with(&prefix) || *l == prefix.trim_end())
}

/// sealpost signs detached as `signer`; `gpgsm --verify SIG ENTITY`.
fn gpgsm_verifies(ctx: &Ctx<'_>, signer: Party) -> Result<String> {
    let name = format!("gpgsm-verify-{}", signer.name);
    let msg = Message::new(&name);
    let signed = ctx.sealpost_sign(&msg, signer, false)?;
    let parts = mime::split_signed(&signed)?;
    let sig = ctx.put(&format!("{name}.p7s"), &parts.signature)?.display().to_string();
    let entity = ctx.put(&format!("{name}.entity"), &parts.entity)?.display().to_string();
    let out = gpgsm(ctx, &["--verify", &sig, &entity])?;
    out.expect_code(0)?;
    let good = status(&out, "GOODSIG").context("no GOODSIG status")?;
    if !good.contains(&format!("/CN={}/", signer.cn)) {
        bail!("GOODSIG for another signer: {good}");
    }
    status(&out, "TRUST_FULLY")
        .with_context(|| format!("the chain is not trusted:\n{}", out.stderr))?;
    let subject = good.splitn(4, ' ').nth(3).unwrap_or_default();
    Ok(format!("GOODSIG {subject}, TRUST_FULLY (chain to the test root)"))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        PEER,
        "setup: private GNUPGHOME, test root in trustlist.txt, legacy-PBE PKCS#12 import of \
         Alice (RSA) and Bob (RSA)",
        "each import says `secret keys imported: 1`",
        setup,
    );

    for signer in [ALICE_RSA, ALICE_EC] {
        suite.case(
            PEER,
            &format!("sealpost signs detached, {} → `gpgsm --verify`", signer.cn),
            "exit 0; GOODSIG names Alice's certificate; TRUST_FULLY",
            |ctx| gpgsm_verifies(ctx, signer),
        );
    }

    suite.case(
        PEER,
        "`gpgsm --detach-sign -u ALICE-RSA-FINGERPRINT` → sealpost verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| {
            let name = "gpgsm-sign";
            let alice = fingerprint(ctx, ALICE_RSA)?;
            let msg = Message::new(name);
            let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
            let sig = ctx.file(&format!("{name}.p7s"))?;
            let sig_arg = sig.display().to_string();
            let out = gpgsm(
                ctx,
                &[
                    "--detach-sign",
                    "-u",
                    &alice,
                    "--include-certs",
                    "-1",
                    "--output",
                    &sig_arg,
                    &entity,
                ],
            )?;
            out.expect_code(0)?;
            status(&out, "SIG_CREATED").context("no SIG_CREATED status")?;
            let signed = mime::wrap_signed(&msg.headers, &msg.entity, &ctx.get(&sig)?);
            let line = ctx.sealpost_verify(name, &signed, ALICE_RSA, &msg.entity)?;
            Ok(format!("sealpost: `{line}`"))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-cbc` to Bob (RSA) → `gpgsm --decrypt`",
        "exit 0; DECRYPTION_OKAY; the original entity byte for byte",
        |ctx| {
            let name = "gpgsm-decrypt";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-cbc")?;
            let (_, der) = mime::pkcs7_body(&encrypted)?;
            let input = ctx.put(&format!("{name}.p7m"), &der)?.display().to_string();
            let plain = ctx.file(&format!("{name}.plain"))?;
            let plain_arg = plain.display().to_string();
            let out = gpgsm(ctx, &["--decrypt", "--output", &plain_arg, &input])?;
            out.expect_code(0)?;
            status(&out, "DECRYPTION_OKAY").context("no DECRYPTION_OKAY status")?;
            super::expect_same("the plaintext gpgsm decrypted", &ctx.get(&plain)?, &msg.entity)?;
            Ok(String::from("DECRYPTION_OKAY; the original entity"))
        },
    );

    suite.case(
        PEER,
        "`gpgsm --encrypt -r BOB-RSA-FINGERPRINT --cipher-algo AES256` → sealpost decrypts",
        "gpgsm writes EnvelopedData with aes-256-cbc; sealpost exits 0 with the original entity",
        |ctx| {
            let name = "gpgsm-encrypt";
            let bob = fingerprint(ctx, BOB_RSA)?;
            let msg = Message::new(name);
            let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
            let enc = ctx.file(&format!("{name}.p7m"))?;
            let enc_arg = enc.display().to_string();
            let out = gpgsm(
                ctx,
                &[
                    "--encrypt",
                    "-r",
                    &bob,
                    "--cipher-algo",
                    "AES256",
                    "--output",
                    &enc_arg,
                    &entity,
                ],
            )?;
            out.expect_code(0)?;
            let der = ctx.get(&enc)?;
            let info = ctx.cms_info(name, &der)?;
            if info.content_type != "pkcs7-envelopedData"
                || info.cipher.as_deref() != Some("aes-256-cbc")
            {
                bail!("gpgsm wrote {} with {:?}", info.content_type, info.cipher);
            }
            let message = mime::wrap_pkcs7(&msg.headers, &der, "enveloped-data");
            let note = ctx.sealpost_decrypt(&msg, &message, BOB_RSA)?;
            Ok(format!("pkcs7-envelopedData, aes-256-cbc: decrypted; it says: {note}"))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-gcm` (AuthEnvelopedData) → `gpgsm --decrypt`",
        "gpgsm 2.2 cannot read AuthEnvelopedData: it must fail (non-zero exit, \
         DECRYPTION_FAILED) and write no plaintext",
        |ctx| {
            let name = "gpgsm-gcm";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-gcm")?;
            let (_, der) = mime::pkcs7_body(&encrypted)?;
            let input = ctx.put(&format!("{name}.p7m"), &der)?.display().to_string();
            let plain = ctx.file(&format!("{name}.plain"))?;
            let plain_arg = plain.display().to_string();
            let out = gpgsm(ctx, &["--decrypt", "--output", &plain_arg, &input])?;
            if out.code() == 0 {
                bail!(
                    "gpgsm decrypted AuthEnvelopedData (exit 0): the table of peers needs updating"
                );
            }
            status(&out, "DECRYPTION_FAILED").context("no DECRYPTION_FAILED status")?;
            let released = std::fs::read(&plain).map(|b| b.len()).unwrap_or(0);
            if released > 0 {
                bail!("gpgsm failed but left {released} bytes in --output");
            }
            let why = out
                .stderr
                .lines()
                .find(|l| l.starts_with("gpgsm: "))
                .unwrap_or_default()
                .to_owned();
            Ok(format!(
                "exit {}, DECRYPTION_FAILED, no output; it says: {}",
                out.code(),
                first_line(&why)
            ))
        },
    );

    // The daemons gpgsm started run on; stop them (also when a case failed).
    if let Ok(out) = gnupg(suite.ctx(), "gpgconf", &["--kill", "all"], b"")
        && out.code() != 0
    {
        println!("gpgconf --kill all: exit {}\n{}", out.code(), out.text());
    }
}
