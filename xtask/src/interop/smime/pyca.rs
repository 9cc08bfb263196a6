//! Python's `cryptography` (pinned, from PyPI, in `target/tools/pypi/`): its `pkcs7` module
//! signs (detached S/MIME and opaque), encrypts (AES-CBC; it writes no AES-GCM) and
//! decrypts; it has no verification API, so signatures go one way only.
//!
//! The Python side is `pyca_cases.py`, run by the interpreter that installed the package.

use anyhow::{Context, Result, bail};

use super::mime::{self, Message};
use super::openssl::headers_but_mime_version;
use super::{ALICE_EC, ALICE_RSA, BOB_RSA, Party, first_line};
use crate::interop::peers::{CRYPTOGRAPHY, PYPI_PYTHON, pypi_dir};
use crate::interop::{Ctx, Suite};

const PEER: &str = "python3 cryptography";
const SCRIPT: &str = include_str!("pyca_cases.py");

/// Runs `pyca_cases.py CASE ARGS`; it must exit 0. Returns its summary line.
fn python(ctx: &Ctx<'_>, case: &str, args: &[&str]) -> Result<String> {
    let script = ctx.put("pyca_cases.py", SCRIPT.as_bytes())?;
    let mut cmd = ctx.sh.cmd(PYPI_PYTHON);
    cmd.env("PYTHONPATH", pypi_dir(ctx.sh.root(), CRYPTOGRAPHY)).arg(&script).arg(case).args(args);
    let out = ctx.exec.run(&mut cmd, b"", super::LIMIT)?;
    out.expect_code(0)?;
    Ok(first_line(&out.stdout))
}

/// Python signs the entity (detached or opaque) as `signer`; sealpost verifies.
fn python_signs(ctx: &Ctx<'_>, signer: Party, opaque: bool) -> Result<String> {
    let form = if opaque { "opaque" } else { "detached" };
    let name = format!("pyca-sign-{}-{form}", signer.name);
    let msg = Message::new(&name);
    let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
    let out = ctx.file(&format!("{name}.out"))?;
    let out_arg = out.display().to_string();
    let (cert, key, chain) = (ctx.cert(signer), ctx.key(signer), ctx.pki("intermediate-ca.pem"));
    let case = if opaque { "sign-opaque" } else { "sign-detached" };
    let said = python(ctx, case, &[&cert, &key, &chain, &entity, &out_arg])?;
    let written = ctx.get(&out)?;
    let signed = if opaque {
        mime::wrap_pkcs7(&msg.headers, &written, "signed-data")
    } else {
        let parts = mime::split_signed(&written)?;
        super::expect_same(
            "the entity Python put into multipart/signed",
            &parts.entity,
            &msg.entity,
        )?;
        [headers_but_mime_version(&msg).as_bytes(), &written].concat()
    };
    let line = ctx.sealpost_verify(&name, &signed, signer, &msg.entity)?;
    Ok(format!("{said}; sealpost: `{line}`"))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    suite.case(
        PEER,
        "`PKCS7SignatureBuilder` detached (S/MIME encoding, protocol x-pkcs7-signature), Alice \
         (RSA) → sealpost verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| python_signs(ctx, ALICE_RSA, false),
    );
    suite.case(
        PEER,
        "`PKCS7SignatureBuilder` opaque (DER SignedData as application/pkcs7-mime), Alice (EC) → \
         sealpost verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| python_signs(ctx, ALICE_EC, true),
    );

    suite.case(
        PEER,
        "`PKCS7EnvelopeBuilder` AES-256-CBC to Bob (RSA) → sealpost decrypts",
        "Python writes EnvelopedData with aes-256-cbc; sealpost exits 0 with the original entity",
        |ctx| {
            let name = "pyca-encrypt";
            let msg = Message::new(name);
            let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
            let out = ctx.file(&format!("{name}.out"))?;
            let out_arg = out.display().to_string();
            let cert = ctx.cert(BOB_RSA);
            python(ctx, "encrypt", &[&cert, "AES256", &entity, &out_arg])?;
            let written = ctx.get(&out)?;
            let (_, der) = mime::pkcs7_body(&written)?;
            let info = ctx.cms_info(name, &der)?;
            if info.content_type != "pkcs7-envelopedData"
                || info.cipher.as_deref() != Some("aes-256-cbc")
            {
                bail!("Python wrote {} with {:?}", info.content_type, info.cipher);
            }
            // Its S/MIME output ends lines with bare LF; a mail system sends CRLF.
            let written =
                String::from_utf8_lossy(&written).replace("\r\n", "\n").replace('\n', "\r\n");
            let message = [headers_but_mime_version(&msg).as_bytes(), written.as_bytes()].concat();
            let note = ctx.sealpost_decrypt(&msg, &message, BOB_RSA)?;
            Ok(format!("pkcs7-envelopedData, aes-256-cbc: decrypted; it says: {note}"))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-cbc` to Bob (RSA) → `pkcs7_decrypt_smime`",
        "exit 0; the original entity byte for byte",
        |ctx| {
            let name = "pyca-decrypt";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-cbc")?;
            let input = ctx.put(&format!("{name}.eml"), &encrypted)?.display().to_string();
            let out = ctx.file(&format!("{name}.plain"))?;
            let out_arg = out.display().to_string();
            let (cert, key) = (ctx.cert(BOB_RSA), ctx.key(BOB_RSA));
            let said = python(ctx, "decrypt", &[&cert, &key, &input, &out_arg])?;
            super::expect_same("the plaintext Python decrypted", &ctx.get(&out)?, &msg.entity)?;
            Ok(format!("{said}: the original entity"))
        },
    );

    suite.case(
        PEER,
        "sealpost encrypts `--cipher aes256-gcm` (AuthEnvelopedData) → `pkcs7_decrypt_smime`",
        "cryptography reads no AuthEnvelopedData: it must raise (non-zero exit), no plaintext",
        |ctx| {
            let name = "pyca-gcm";
            let msg = Message::new(name);
            let encrypted = ctx.sealpost_encrypt(&msg, BOB_RSA, "aes256-gcm")?;
            let input = ctx.put(&format!("{name}.eml"), &encrypted)?.display().to_string();
            let out_path = ctx.file(&format!("{name}.plain"))?;
            let out_arg = out_path.display().to_string();
            let (cert, key) = (ctx.cert(BOB_RSA), ctx.key(BOB_RSA));
            let script = ctx.put("pyca_cases.py", SCRIPT.as_bytes())?;
            let mut cmd = ctx.sh.cmd(PYPI_PYTHON);
            cmd.env("PYTHONPATH", pypi_dir(ctx.sh.root(), CRYPTOGRAPHY))
                .arg(&script)
                .args(["decrypt", &cert, &key, &input, &out_arg]);
            let out = ctx.exec.run(&mut cmd, b"", super::LIMIT)?;
            if out.code() == 0 {
                bail!(
                    "cryptography decrypted AuthEnvelopedData: the table of peers needs updating"
                );
            }
            if out_path.exists() {
                bail!("it failed but wrote {}", out_path.display());
            }
            let why = out.stderr.lines().last().context("no error message")?.to_owned();
            Ok(format!("exit {}, no output; it says: {why}", out.code()))
        },
    );
}
