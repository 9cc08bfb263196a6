//! NSS (Thunderbird's engine) through its `cmsutil` tool: signatures both ways, AES-CBC
//! both ways, and its refusal of AuthEnvelopedData.
//!
//! A fresh NSS database in the scratch folder (`certutil -N --empty-password`) holds
//! Alice's and Bob's keys (`pk12util -i`) and the test root, trusted for e-mail only
//! (`-t ,C,`). `cmsutil -D` exits 0 also when a signature does not verify, so the cases
//! read its `signerN.status=` line, which must be `GoodSignature`.

use anyhow::{Context, Result, bail};

use super::mime::{self, BOB, Message};
use super::{ALICE_RSA, BOB_RSA, P12_PASSWORD, first_line};
use crate::interop::exec::Output;
use crate::interop::{Ctx, Suite};

const PEER: &str = "NSS cmsutil";

/// `sql:DIR` of the private database.
fn db(ctx: &Ctx<'_>) -> Result<String> {
    Ok(format!("sql:{}", ctx.file("nssdb")?.display()))
}

/// Runs an NSS tool against the private database.
fn nss(ctx: &Ctx<'_>, program: &str, args: &[&str]) -> Result<Output> {
    let db = db(ctx)?;
    let mut all = vec!["-d", db.as_str()];
    all.extend_from_slice(args);
    ctx.peer(program, &all, b"")
}

/// A fresh database with both key pairs and the trusted root.
fn setup(ctx: &Ctx<'_>) -> Result<String> {
    let dir = ctx.file("nssdb")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    nss(ctx, "certutil", &["-N", "--empty-password"])?.expect_code(0)?;
    let pass = format!("pass:{P12_PASSWORD}");
    for party in [ALICE_RSA, BOB_RSA] {
        let p12 = ctx.file(&format!("{}-nss.p12", party.name))?.display().to_string();
        let (cert, key, chain) = (ctx.cert(party), ctx.key(party), ctx.pki("intermediate-ca.pem"));
        ctx.peer(
            "openssl",
            &[
                "pkcs12",
                "-export",
                "-in",
                &cert,
                "-inkey",
                &key,
                "-certfile",
                &chain,
                "-name",
                party.name,
                "-out",
                &p12,
                "-passout",
                &pass,
            ],
            b"",
        )?
        .expect_code(0)?;
        let out = nss(ctx, "pk12util", &["-i", &p12, "-W", P12_PASSWORD])?;
        out.expect_code(0)?;
        if !out.text().contains("PKCS12 IMPORT SUCCESSFUL") {
            bail!("pk12util did not import {}:\n{}", party.cn, out.text());
        }
    }
    let root = ctx.pki("root-ca.pem");
    nss(ctx, "certutil", &["-A", "-n", "sealpost test root", "-t", ",C,", "-i", &root])?
        .expect_code(0)?;
    let list = nss(ctx, "certutil", &["-L"])?;
    list.expect_code(0)?;
    for nick in ["alice-rsa", "bob-rsa", "sealpost test root"] {
        if !list.stdout.contains(nick) {
            bail!("{nick} is not in the database:\n{}", list.stdout);
        }
    }
    Ok(String::from("alice-rsa and bob-rsa imported (pk12util), the test root trusted for e-mail"))
}

/// The `signer0.status=` and `signer0.id=` of `cmsutil -D -h 1` output.
fn signer_status(text: &str) -> Option<(String, String)> {
    let field = |key: &str| {
        let start = text.find(key)? + key.len();
        let rest = &text[start..];
        let end = rest.find(';')?;
        Some(rest[..end].trim_matches('"').to_owned())
    };
    Some((field("signer0.status=")?, field("signer0.id=")?))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        PEER,
        "setup: fresh NSS database, pk12util import of Alice (RSA) and Bob (RSA), test root \
         trusted",
        "`PKCS12 IMPORT SUCCESSFUL` twice; all three certificates listed",
        setup,
    );

    suite.case(
        PEER,
        "sealpost signs detached, Alice (RSA) → `cmsutil -D -c ENTITY`",
        "exit 0; signer0.status=GoodSignature (signature and chain); signer0.id is Alice",
        |ctx| {
            let name = "nss-verify";
            let msg = Message::new(name);
            let signed = ctx.sealpost_sign(&msg, ALICE_RSA, false)?;
            let parts = mime::split_signed(&signed)?;
            let sig = ctx.put(&format!("{name}.p7s"), &parts.signature)?.display().to_string();
            let entity = ctx.put(&format!("{name}.entity"), &parts.entity)?.display().to_string();
            let out = nss(
                ctx,
                "cmsutil",
                &["-D", "-i", &sig, "-c", &entity, "-n", "-h", "1", "-u", "4"],
            )?;
            out.expect_code(0)?;
            let (status, id) = signer_status(&out.stdout)
                .with_context(|| format!("no signer status:\n{}", out.text()))?;
            if status != "GoodSignature" || id != ALICE_RSA.cn {
                bail!("signer0 {id}: {status}");
            }
            Ok(format!("signer0.id=\"{id}\"; signer0.status={status}"))
        },
    );

    suite.case(
        PEER,
        "`cmsutil -S -T -G -P -H SHA256 -N alice-rsa` (detached) → sealpost verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| {
            let name = "nss-sign";
            let msg = Message::new(name);
            let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
            let sig = ctx.file(&format!("{name}.p7s"))?;
            let sig_arg = sig.display().to_string();
            let out = nss(
                ctx,
                "cmsutil",
                &[
                    "-S",
                    "-T",
                    "-G",
                    "-P",
                    "-H",
                    "SHA256",
                    "-N",
                    ALICE_RSA.name,
                    "-i",
                    &entity,
                    "-o",
                    &sig_arg,
                ],
            )?;
            out.expect_code(0)?;
            let signed = mime::wrap_signed(&msg.headers, &msg.entity, &ctx.get(&sig)?);
            let line = ctx.sealpost_verify(name, &signed, ALICE_RSA, &msg.entity)?;
            Ok(format!("sealpost: `{line}`"))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-cbc` to Bob (RSA) → `cmsutil -D`",
        "exit 0; the original entity byte for byte",
        |ctx| {
            let name = "nss-decrypt";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-cbc")?;
            let (_, der) = mime::pkcs7_body(&encrypted)?;
            let input = ctx.put(&format!("{name}.p7m"), &der)?.display().to_string();
            let plain = ctx.file(&format!("{name}.plain"))?;
            let plain_arg = plain.display().to_string();
            nss(ctx, "cmsutil", &["-D", "-i", &input, "-o", &plain_arg])?.expect_code(0)?;
            super::expect_same("the plaintext cmsutil decrypted", &ctx.get(&plain)?, &msg.entity)?;
            Ok(String::from("decrypted to the original entity"))
        },
    );

    suite.case(
        PEER,
        "`cmsutil -E -r bob@example.org` → sealpost decrypts",
        "cmsutil writes EnvelopedData with AES-CBC; sealpost exits 0 with the original entity",
        |ctx| {
            let name = "nss-encrypt";
            let msg = Message::new(name);
            let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
            let enc = ctx.file(&format!("{name}.p7m"))?;
            let enc_arg = enc.display().to_string();
            nss(ctx, "cmsutil", &["-E", "-r", BOB, "-i", &entity, "-o", &enc_arg])?
                .expect_code(0)?;
            let der = ctx.get(&enc)?;
            let info = ctx.cms_info(name, &der)?;
            let cipher = info.cipher.unwrap_or_default();
            if info.content_type != "pkcs7-envelopedData" || !cipher.ends_with("-cbc") {
                bail!("cmsutil wrote {} with {cipher}", info.content_type);
            }
            let message = mime::wrap_pkcs7(&msg.headers, &der, "enveloped-data");
            let note = ctx.sealpost_decrypt(&msg, &message, BOB_RSA)?;
            Ok(format!("pkcs7-envelopedData, {cipher}: decrypted; it says: {note}"))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-gcm` (AuthEnvelopedData) → `cmsutil -D`",
        "NSS 3.87 cannot read AuthEnvelopedData: non-zero exit, an error, no plaintext",
        |ctx| {
            let name = "nss-gcm";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-gcm")?;
            let (_, der) = mime::pkcs7_body(&encrypted)?;
            let input = ctx.put(&format!("{name}.p7m"), &der)?.display().to_string();
            let plain = ctx.file(&format!("{name}.plain"))?;
            let plain_arg = plain.display().to_string();
            let out = nss(ctx, "cmsutil", &["-D", "-i", &input, "-o", &plain_arg])?;
            if out.code() == 0 {
                bail!("cmsutil decrypted AuthEnvelopedData (exit 0): update the notes on peers");
            }
            let released = std::fs::read(&plain).map(|b| b.len()).unwrap_or(0);
            if released > 0 {
                bail!("cmsutil failed but left {released} bytes in -o");
            }
            let why = out.stderr.lines().rfind(|l| l.contains("cmsutil:")).unwrap_or_default();
            Ok(format!("exit {}, no output; it says: {}", out.code(), first_line(why)))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_status_is_read_from_cmsutil_headers() {
        let text = "SMIME: \tlevel=1.2; type=signedData; nsigners=1; \n\
                    \t\tsigner0.id=\"Alice (RSA)\"; signer0.status=GoodSignature; \n";
        assert_eq!(
            signer_status(text),
            Some((String::from("GoodSignature"), String::from("Alice (RSA)")))
        );
        assert_eq!(signer_status("SMIME: level=1.1; type=data;"), None);
    }
}
