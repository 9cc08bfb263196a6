//! `openssl cms` (OpenSSL 3.0 of Debian 12), both ways: signatures (detached and opaque,
//! RSA and ECDSA, and RSA-PSS from openssl), AES-GCM and AES-CBC encryption, RSA-OAEP and
//! ECDH key transport, and a tampered AES-GCM message.
//!
//! openssl is told exactly what to check: `-verify_email alice@example.org` (the signer
//! certificate's address), `-purpose smimesign`, the test root as the only trust anchor.
//! What it signs and encrypts is the body entity of the test message (`-binary`, so it
//! takes the bytes as they are); the outer headers are put in front of its output, as a
//! mail program does.

use anyhow::{Context, Result, bail};

use super::mime::{self, ALICE, Message};
use super::{
    ALICE_EC, ALICE_RSA, BOB_EC, BOB_RSA, Party, expect_decrypted, expect_headers_kept,
    expect_integrity_note, expect_same, first_line, tamper_ciphertext,
};
use crate::interop::{Ctx, Suite};

const PEER: &str = "openssl cms";

/// `msg`'s outer headers but MIME-Version, which openssl writes itself.
pub(crate) fn headers_but_mime_version(msg: &Message) -> String {
    msg.headers.split_inclusive("\r\n").filter(|l| !l.starts_with("MIME-Version:")).collect()
}

/// `openssl cms -verify` of the S/MIME message `signed` (as openssl reads mail, from the
/// whole message): exit 0, the content it writes equals `entity`, the signer certificate
/// it writes is `signer`'s. Returns the signer's subject.
fn openssl_verify(
    ctx: &Ctx<'_>,
    name: &str,
    signed: &[u8],
    signer: Party,
    entity: &[u8],
) -> Result<String> {
    let input = ctx.put(&format!("{name}.eml"), signed)?.display().to_string();
    let content = ctx.file(&format!("{name}.content"))?;
    let signer_out = ctx.file(&format!("{name}.signer.pem"))?;
    let (content_arg, signer_arg) =
        (content.display().to_string(), signer_out.display().to_string());
    let ca = ctx.pki("ca-bundle.pem");
    let out = ctx.peer(
        "openssl",
        &[
            "cms",
            "-verify",
            "-in",
            &input,
            "-CAfile",
            &ca,
            "-purpose",
            "smimesign",
            "-verify_email",
            ALICE,
            "-out",
            &content_arg,
            "-signer",
            &signer_arg,
        ],
        b"",
    )?;
    out.expect_code(0)?;
    if !out.stderr.contains("CMS Verification successful") {
        bail!("no `CMS Verification successful`:\n{}", out.text());
    }
    expect_same("the content openssl verified", &ctx.get(&content)?, entity)?;
    let subject = ctx.peer("openssl", &["x509", "-noout", "-subject", "-in", &signer_arg], b"")?;
    subject.expect_code(0)?;
    let want = format!("CN = {}", signer.cn);
    if !subject.stdout.contains(&want) {
        bail!("the signer certificate is `{}`, expected {want}", subject.stdout.trim());
    }
    Ok(subject.stdout.trim().trim_start_matches("subject=").to_owned())
}

/// sealpost signs (detached or opaque, as `signer`, RSASSA-PSS when `pss`), openssl
/// verifies.
fn sealpost_signs(ctx: &Ctx<'_>, signer: Party, opaque: bool, pss: bool) -> Result<String> {
    let form = if opaque { "opaque" } else { "detached" };
    let name = format!("sp-sign-{}-{form}{}", signer.name, if pss { "-pss" } else { "" });
    let msg = Message::new(&name);
    let mut extra = Vec::new();
    if opaque {
        extra.push("--opaque");
    }
    if pss {
        extra.push("--rsa-pss");
    }
    let signed = ctx.sealpost_sign_with(&msg, signer, &extra)?;
    let (entity, der) = if opaque {
        let (content_type, der) = mime::pkcs7_body(&signed)?;
        if mime::param(&content_type, "smime-type").as_deref() != Some("signed-data") {
            bail!("opaque signature with Content-Type `{content_type}`");
        }
        (msg.entity.clone(), der)
    } else {
        let parts = mime::split_signed(&signed)?;
        let protocol = mime::param(&parts.content_type, "protocol");
        let micalg = mime::param(&parts.content_type, "micalg");
        if protocol.as_deref() != Some("application/pkcs7-signature")
            || micalg.as_deref() != Some("sha-256")
        {
            bail!("multipart/signed with protocol {protocol:?} and micalg {micalg:?}");
        }
        if !parts.signature_type.starts_with("application/pkcs7-signature") {
            bail!("the signature part is `{}`", parts.signature_type);
        }
        // The signed entity must carry the original body unchanged.
        if !parts.entity.ends_with(msg.body()) {
            bail!(
                "the signed entity lost the original body:\n{}",
                String::from_utf8_lossy(&parts.entity)
            );
        }
        (parts.entity, parts.signature)
    };
    let info = ctx.cms_info(&name, &der)?;
    if info.content_type != "pkcs7-signedData" || info.econtent != Some(opaque) {
        bail!(
            "CMS content type {} with eContent {:?} for a {form} signature",
            info.content_type,
            info.econtent
        );
    }
    if info.digest.as_deref() != Some("sha256") {
        bail!("digest {:?}, expected sha256", info.digest);
    }
    let want_signature = match (pss, signer.name.ends_with("-ec")) {
        (true, _) => "rsassaPss",
        (false, true) => "ecdsa-with-SHA256",
        (false, false) => "rsaEncryption",
    };
    if info.signature.as_deref() != Some(want_signature) {
        bail!("signature algorithm {:?}, expected {want_signature}", info.signature);
    }
    let subject = openssl_verify(ctx, &name, &signed, signer, &entity)?;
    Ok(format!(
        "verified, signer {subject}, {form} ({}), sha256 with {want_signature}, signed \
         attributes {}",
        if opaque { "eContent present" } else { "eContent absent" },
        info.attributes.join(", ")
    ))
}

/// openssl signs the entity of a message (detached or opaque, as `signer`, with extra
/// openssl signs the entity of a message (detached or opaque, as `signer`, with extra
/// options), sealpost verifies.
fn openssl_signs(
    ctx: &Ctx<'_>,
    signer: Party,
    opaque: bool,
    extra: &[&str],
    tag: &str,
) -> Result<String> {
    let form = if opaque { "opaque" } else { "detached" };
    let name = format!("ossl-sign-{}-{form}{tag}", signer.name);
    let msg = Message::new(&name);
    let signed = openssl_sign(ctx, &name, &msg, signer, opaque, extra)?;
    let line = ctx.sealpost_verify(&name, &signed, signer, &msg.entity)?;
    Ok(format!("sealpost: `{line}`; the entity from --out is the original"))
}

/// `openssl cms -sign` of `msg`'s entity as `signer` (`extra` options after the signer, as
/// `-keyopt` needs), as a full message.
pub(super) fn openssl_sign(
    ctx: &Ctx<'_>,
    name: &str,
    msg: &Message,
    signer: Party,
    opaque: bool,
    extra: &[&str],
) -> Result<Vec<u8>> {
    let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
    let (cert, key, chain) = (ctx.cert(signer), ctx.key(signer), ctx.pki("intermediate-ca.pem"));
    let mut args = vec!["cms", "-sign", "-binary", "-crlfeol", "-md", "sha256", "-in", &entity];
    args.extend_from_slice(&["-signer", &cert, "-inkey", &key, "-certfile", &chain]);
    if opaque {
        args.push("-nodetach");
    }
    args.extend_from_slice(extra);
    let out = ctx.peer("openssl", &args, b"")?;
    out.expect_code(0)?;
    Ok([headers_but_mime_version(msg).as_bytes(), out.stdout.as_bytes()].concat())
}

/// sealpost encrypts to `to` with `cipher`; openssl shows the content type and cipher,
/// then decrypts.
fn sealpost_encrypts(
    ctx: &Ctx<'_>,
    to: Party,
    cipher: &str,
    oaep: bool,
    content_type: &str,
    algorithm: &str,
) -> Result<String> {
    let name = format!("sp-enc-{}-{cipher}{}", to.name, if oaep { "-oaep" } else { "" });
    let msg = Message::new(&name);
    let mut extra = vec!["--cipher", cipher];
    if oaep {
        extra.push("--oaep");
    }
    let encrypted = ctx.sealpost_encrypt_with(&msg, to, &extra)?;
    let (mime_type, der) = mime::pkcs7_body(&encrypted)?;
    let smime_type = mime::param(&mime_type, "smime-type").unwrap_or_default();
    let want_smime_type =
        if content_type == "pkcs7-envelopedData" { "enveloped-data" } else { "authEnveloped-data" };
    if !smime_type.eq_ignore_ascii_case(want_smime_type) {
        bail!("smime-type={smime_type}, expected {want_smime_type}");
    }
    let info = ctx.cms_info(&name, &der)?;
    // ECDH with the SHA-256 KDF (not OpenSSL's SHA-1 default); RSA as asked.
    let transport = match (to.name.ends_with("-ec"), oaep) {
        (true, _) => "dhSinglePass-stdDH-sha256kdf-scheme",
        (false, true) => "rsaesOaep",
        (false, false) => "rsaEncryption",
    };
    if info.key_encryption != [transport] {
        bail!("key transport {:?} for {}, expected {transport}", info.key_encryption, to.cn);
    }
    if info.content_type != content_type || info.cipher.as_deref() != Some(algorithm) {
        bail!(
            "openssl sees {} with {:?}, expected {content_type} with {algorithm}",
            info.content_type,
            info.cipher
        );
    }
    let plain = openssl_decrypt(ctx, &name, &encrypted, to)?;
    expect_same("the plaintext openssl decrypted", &plain, &msg.entity)?;
    Ok(format!(
        "smime-type={smime_type}; openssl sees {content_type}, {algorithm}, key transport {}; \
         decrypts (exit 0) to the original entity",
        info.key_encryption.join(", ")
    ))
}

/// `openssl cms -decrypt` of the message `encrypted` as `to`: exit 0; returns the plaintext.
fn openssl_decrypt(ctx: &Ctx<'_>, name: &str, encrypted: &[u8], to: Party) -> Result<Vec<u8>> {
    let input = ctx.put(&format!("{name}.eml"), encrypted)?.display().to_string();
    let plain = ctx.file(&format!("{name}.plain"))?;
    let plain_arg = plain.display().to_string();
    let (cert, key) = (ctx.cert(to), ctx.key(to));
    let mut args = vec!["cms", "-decrypt", "-binary", "-in", &input];
    args.extend_from_slice(&["-recip", &cert, "-inkey", &key, "-out", &plain_arg]);
    ctx.peer("openssl", &args, b"")?.expect_code(0)?;
    ctx.get(&plain)
}

/// openssl encrypts the entity to `to` with `options`; sealpost decrypts.
fn openssl_encrypts(ctx: &Ctx<'_>, to: Party, options: &[&str], tag: &str) -> Result<String> {
    let name = format!("ossl-enc-{}-{tag}", to.name);
    let msg = Message::new(&name);
    let encrypted = openssl_encrypt(ctx, &name, &msg, to, options)?;
    let (_, der) = mime::pkcs7_body(&encrypted)?;
    let info = ctx.cms_info(&name, &der)?;
    // openssl did what it was asked: the key transport the case is about.
    let key_transport = if options.contains(&"rsa_padding_mode:oaep") {
        "rsaesOaep"
    } else if options.contains(&"ecdh_kdf_md:sha256") {
        "dhSinglePass-stdDH-sha256kdf-scheme"
    } else {
        "rsaEncryption"
    };
    if info.key_encryption != [key_transport] {
        bail!("openssl wrote key transport {:?}, expected {key_transport}", info.key_encryption);
    }
    let note = ctx.sealpost_decrypt(&msg, &encrypted, to)?;
    Ok(format!(
        "{} with {}, key transport {}: sealpost decrypts to the original entity; it says: {note}",
        info.content_type,
        info.cipher.unwrap_or_default(),
        info.key_encryption.join(", ")
    ))
}

/// `openssl cms -encrypt` of `msg`'s entity to `to`, as a full message.
pub(super) fn openssl_encrypt(
    ctx: &Ctx<'_>,
    name: &str,
    msg: &Message,
    to: Party,
    options: &[&str],
) -> Result<Vec<u8>> {
    let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
    let cert = ctx.cert(to);
    // `-keyopt` applies to the `-recip` before it.
    let split = options.iter().position(|o| *o == "-keyopt").unwrap_or(options.len());
    let mut args = vec!["cms", "-encrypt", "-binary", "-crlfeol", "-in", &entity];
    args.extend_from_slice(&options[..split]);
    args.extend_from_slice(&["-recip", &cert]);
    args.extend_from_slice(&options[split..]);
    let out = ctx.peer("openssl", &args, b"")?;
    out.expect_code(0)?;
    Ok([headers_but_mime_version(msg).as_bytes(), out.stdout.as_bytes()].concat())
}

/// The AES-GCM message of both tampering cases, made once and shared so that openssl and
/// sealpost see the same bytes: openssl encrypts to Bob (RSA); returns the message, the
/// original and a copy with the last ciphertext byte flipped.
fn tampered_gcm(ctx: &Ctx<'_>) -> Result<(Message, Vec<u8>, Vec<u8>)> {
    let name = "tampered-gcm";
    let msg = Message::new(name);
    let (original, tampered) =
        (ctx.file(&format!("{name}.orig.eml"))?, ctx.file(&format!("{name}.eml"))?);
    if !tampered.exists() {
        let entity = ctx.put(&format!("{name}.entity"), &msg.entity)?.display().to_string();
        let cert = ctx.cert(BOB_RSA);
        let der = ctx.file(&format!("{name}.orig.der"))?;
        let der_arg = der.display().to_string();
        let mut args = vec!["cms", "-encrypt", "-binary", "-aes-256-gcm", "-in", &entity];
        args.extend_from_slice(&["-outform", "DER", "-out", &der_arg, "-recip", &cert]);
        ctx.peer("openssl", &args, b"")?.expect_code(0)?;
        let der = ctx.get(&der)?;
        let flipped = tamper_ciphertext(ctx, name, &der)?;
        std::fs::write(&original, mime::wrap_pkcs7(&msg.headers, &der, "authEnveloped-data"))?;
        std::fs::write(&tampered, mime::wrap_pkcs7(&msg.headers, &flipped, "authEnveloped-data"))?;
    }
    Ok((msg, ctx.get(&original)?, ctx.get(&tampered)?))
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    for (signer, opaque, pss) in [
        (ALICE_RSA, false, false),
        (ALICE_RSA, true, false),
        (ALICE_EC, false, false),
        (ALICE_EC, true, false),
        (ALICE_RSA, false, true),
    ] {
        let form =
            if opaque { "opaque (application/pkcs7-mime)" } else { "detached (multipart/signed)" };
        let pss_note = if pss { " `--rsa-pss`" } else { "" };
        suite.case(
            PEER,
            &format!("sealpost signs{pss_note}, {form}, {} → `openssl cms -verify`", signer.cn),
            "exit 0 with `-verify_email alice@example.org -purpose smimesign` and the test root \
             only; the verified content equals the signed entity; signer certificate is \
             Alice's; SHA-256; outer headers kept",
            |ctx| sealpost_signs(ctx, signer, opaque, pss),
        );
    }

    suite.case(
        PEER,
        "`openssl cms -sign` detached, Alice (RSA) → sealpost verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| openssl_signs(ctx, ALICE_RSA, false, &[], ""),
    );
    suite.case(
        PEER,
        "`openssl cms -sign -nodetach` (opaque), Alice (EC) → sealpost verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| openssl_signs(ctx, ALICE_EC, true, &[], ""),
    );
    suite.case(
        PEER,
        "`openssl cms -sign -keyopt rsa_padding_mode:pss` (RSASSA-PSS), Alice (RSA) → sealpost \
         verifies",
        "exit 0; one signer line, valid, Alice's address; `--out` holds the entity byte for byte",
        |ctx| openssl_signs(ctx, ALICE_RSA, false, &["-keyopt", "rsa_padding_mode:pss"], "-pss"),
    );

    let gcm = "id-smime-ct-authEnvelopedData";
    for (to, cipher, oaep, content_type, algorithm) in [
        (BOB_RSA, "aes256-gcm", false, gcm, "aes-256-gcm"),
        (BOB_RSA, "aes128-gcm", false, gcm, "aes-128-gcm"),
        (BOB_RSA, "aes256-cbc", false, "pkcs7-envelopedData", "aes-256-cbc"),
        (BOB_RSA, "aes128-cbc", false, "pkcs7-envelopedData", "aes-128-cbc"),
        // Nothing known about what Bob reads: the CBC every peer reads.
        (BOB_RSA, "auto", false, "pkcs7-envelopedData", "aes-256-cbc"),
        (BOB_RSA, "aes256-gcm", true, gcm, "aes-256-gcm"),
        (BOB_EC, "aes256-gcm", false, gcm, "aes-256-gcm"),
    ] {
        let oaep_note = if oaep { " --oaep" } else { "" };
        suite.case(
            PEER,
            &format!(
                "sealpost encrypts `--cipher {cipher}{oaep_note}` to {} → `cms -decrypt`",
                to.cn
            ),
            &format!(
                "openssl sees {content_type} with {algorithm}; it decrypts with exit 0 to the \
                 original entity byte for byte; outer headers kept"
            ),
            |ctx| sealpost_encrypts(ctx, to, cipher, oaep, content_type, algorithm),
        );
    }

    for (to, options, tag, label) in [
        (BOB_RSA, &["-aes-256-gcm"][..], "gcm", "`-aes-256-gcm`"),
        (BOB_RSA, &["-aes-256-cbc"][..], "cbc", "`-aes-256-cbc`"),
        (
            BOB_RSA,
            &["-aes-256-cbc", "-keyopt", "rsa_padding_mode:oaep"][..],
            "oaep",
            "`-aes-256-cbc -keyopt rsa_padding_mode:oaep`",
        ),
        (
            BOB_EC,
            &["-aes-256-gcm", "-keyopt", "ecdh_kdf_md:sha256"][..],
            "ecdh",
            "`-aes-256-gcm -keyopt ecdh_kdf_md:sha256` (ECDH)",
        ),
    ] {
        suite.case(
            PEER,
            &format!("`openssl cms -encrypt` {label} to {} → sealpost decrypts", to.cn),
            "exit 0; the output ends with the original entity byte for byte and keeps the outer \
             headers",
            |ctx| openssl_encrypts(ctx, to, options, tag),
        );
    }

    suite.case(
        PEER,
        "sealpost encrypts `--cipher auto --capabilities-from BOB-SIGNED.eml` (Bob's \
         sealpost-signed mail announces AES-GCM) → `cms -decrypt`",
        "openssl sees AuthEnvelopedData with aes-256-gcm and decrypts it to the original entity",
        |ctx| {
            let name = "sp-enc-auto-capabilities";
            let msg = Message::new(name);
            // Bob's mail to Alice: its From must be the signer's address for the signature to
            // be valid, and only a valid signature vouches for the capabilities.
            let mut from_bob = Message::new("bob-capabilities");
            from_bob.headers = from_bob
                .headers
                .replace("From: Alice <alice@example.org>", "From: Bob <bob@example.org>")
                .replace("To: Bob <bob@example.org>", "To: Alice <alice@example.org>");
            let bob_signed = ctx.sealpost_sign(&from_bob, BOB_RSA, false)?;
            let caps = ctx.put(&format!("{name}.bob-signed.eml"), &bob_signed)?;
            let (caps, ca) = (caps.display().to_string(), ctx.pki("ca-bundle.pem"));
            let extra = ["--cipher", "auto", "--capabilities-from", &caps, "--ca", &ca];
            let encrypted = ctx.sealpost_encrypt_with(&msg, BOB_RSA, &extra)?;
            let (_, der) = mime::pkcs7_body(&encrypted)?;
            let info = ctx.cms_info(name, &der)?;
            if info.content_type != "id-smime-ct-authEnvelopedData"
                || info.cipher.as_deref() != Some("aes-256-gcm")
            {
                bail!("auto chose {} with {:?}", info.content_type, info.cipher);
            }
            let plain = openssl_decrypt(ctx, name, &encrypted, BOB_RSA)?;
            expect_same("the plaintext openssl decrypted", &plain, &msg.entity)?;
            Ok(String::from("auto chose AuthEnvelopedData, aes-256-gcm; openssl decrypts it"))
        },
    );

    suite.case(
        PEER,
        "sign, then encrypt: sealpost signs (Alice, RSA) and encrypts `--cipher aes256-gcm` to \
         Bob (RSA) → openssl decrypts, then verifies",
        "both exit 0; openssl verifies what it decrypted as Alice's signature over the original \
         signed entity",
        |ctx| {
            let name = "sp-sign-then-encrypt";
            let msg = Message::new(name);
            let signed = ctx.sealpost_sign(&msg, ALICE_RSA, false)?;
            let signed_entity = mime::split_signed(&signed)?.entity;
            let cert = ctx.cert(BOB_RSA);
            let encrypt = ["encrypt", "--to", &cert, "--cipher", "aes256-gcm"];
            let out = ctx.sealpost(&encrypt, &signed)?;
            out.expect_code(0).context("sealpost smime encrypt of the signed message")?;
            expect_headers_kept(&msg, out.stdout.as_bytes())?;
            let inner = openssl_decrypt(ctx, name, out.stdout.as_bytes(), BOB_RSA)?;
            let subject = openssl_verify(ctx, name, &inner, ALICE_RSA, &signed_entity)?;
            Ok(format!("openssl decrypted multipart/signed and verified it: signer {subject}"))
        },
    );

    suite.case(
        PEER,
        "sign, then encrypt: openssl signs (Alice, RSA) and encrypts `-aes-256-gcm` to Bob \
         (RSA) → sealpost decrypts, then verifies",
        "both exit 0; the decrypted message is openssl's multipart/signed; verify `--out` \
         holds the original entity",
        |ctx| {
            let name = "ossl-sign-then-encrypt";
            let msg = Message::new(name);
            let signed = openssl_sign(ctx, name, &msg, ALICE_RSA, false, &[])?;
            let outer = headers_but_mime_version(&msg);
            let signed_entity = signed.get(outer.len()..).context("short signed message")?;
            // openssl ends the base64 lines of the signature part with bare LF even with
            // -crlfeol; the entity goes into the envelope as a mail program would send it,
            // with CRLF, so that sealpost's CRLF output can be compared byte for byte.
            let crlf =
                String::from_utf8_lossy(signed_entity).replace("\r\n", "\n").replace('\n', "\r\n");
            let inner = Message {
                marker: format!("{name}-inner"),
                headers: msg.headers.clone(),
                entity: crlf.into_bytes(),
            };
            let encrypted =
                openssl_encrypt(ctx, &inner.marker, &inner, BOB_RSA, &["-aes-256-gcm"])?;
            let (cert, key) = (ctx.cert(BOB_RSA), ctx.key(BOB_RSA));
            let out = ctx.sealpost(&["decrypt", "--cert", &cert, "--key", &key], &encrypted)?;
            out.expect_code(0).context("sealpost smime decrypt")?;
            expect_decrypted(&inner, &out)?;
            let line = ctx.sealpost_verify(name, out.stdout.as_bytes(), ALICE_RSA, &msg.entity)?;
            Ok(format!("decrypted, then `{line}`"))
        },
    );

    suite.case(
        PEER,
        "sealpost decrypts with `--p12 bob.p12 --pass env:VAR` (openssl `-aes-256-gcm`)",
        "exit 0; the original entity byte for byte",
        |ctx| {
            let name = "ossl-enc-p12";
            let msg = Message::new(name);
            let encrypted = openssl_encrypt(ctx, name, &msg, BOB_RSA, &["-aes-256-gcm"])?;
            let p12 = ctx.file("bob-rsa.p12")?.display().to_string();
            let (cert, key, chain) =
                (ctx.cert(BOB_RSA), ctx.key(BOB_RSA), ctx.pki("intermediate-ca.pem"));
            let pass = format!("pass:{}", super::P12_PASSWORD);
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
                    "-out",
                    &p12,
                    "-passout",
                    &pass,
                ],
                b"",
            )?
            .expect_code(0)?;
            let var = format!("env:{}", super::P12_PASSWORD_VAR);
            let out = ctx.sealpost(&["decrypt", "--p12", &p12, "--pass", &var], &encrypted)?;
            out.expect_code(0).context("sealpost smime decrypt --p12")?;
            expect_decrypted(&msg, &out)?;
            let (_, der) = mime::pkcs7_body(&encrypted)?;
            let note = expect_integrity_note(&ctx.cms_info(name, &der)?, &out)?;
            Ok(format!("decrypted to the original entity; {note}"))
        },
    );

    suite.case(
        PEER,
        "tampered AES-256-GCM (last ciphertext byte flipped) → `openssl cms -decrypt -out FILE`",
        "the untampered copy decrypts; the tampered one fails (exit 4, `Error decrypting CMS \
         structure`); how many bytes it left in the -out file is recorded (the finding of \
         peers.md)",
        |ctx| {
            let (msg, original, tampered) = tampered_gcm(ctx)?;
            // The control: the untampered message decrypts.
            let plain = openssl_decrypt(ctx, "tampered-gcm-control", &original, BOB_RSA)?;
            expect_same("the untampered message", &plain, &msg.entity)?;
            let input = ctx.put("tampered-gcm.openssl-in.eml", &tampered)?.display().to_string();
            let plain = ctx.file("tampered-gcm.openssl-out")?;
            let plain_arg = plain.display().to_string();
            let (cert, key) = (ctx.cert(BOB_RSA), ctx.key(BOB_RSA));
            let out = ctx.peer(
                "openssl",
                &[
                    "cms", "-decrypt", "-binary", "-in", &input, "-recip", &cert, "-inkey", &key,
                    "-out", &plain_arg,
                ],
                b"",
            )?;
            out.expect_code(4)?;
            if !out.stderr.contains("Error decrypting CMS structure") {
                bail!("no `Error decrypting CMS structure`:\n{}", out.text());
            }
            let released = std::fs::read(&plain).unwrap_or_default();
            let finding = match released.len() {
                0 => String::from(
                    "it left 0 bytes in -out: this OpenSSL 3.0 release does not release the \
                     tampered plaintext",
                ),
                n if memchr::memmem::find(&released, b"Hello Bob").is_some() => {
                    format!("FINDING: it left {n} bytes of the tampered plaintext in -out")
                }
                n => format!("it left {n} bytes (not the plaintext) in -out"),
            };
            Ok(format!("exit 4, `Error decrypting CMS structure`; {finding}"))
        },
    );

    suite.case(
        PEER,
        "tampered AES-256-GCM (the same bytes) → sealpost decrypts",
        "the untampered copy decrypts; the tampered one: non-zero exit, nothing on standard \
         output, an error on standard error",
        |ctx| {
            let (msg, original, tampered) = tampered_gcm(ctx)?;
            // The control: the untampered message decrypts.
            ctx.sealpost_decrypt(&msg, &original, BOB_RSA)?;
            let (cert, key) = (ctx.cert(BOB_RSA), ctx.key(BOB_RSA));
            let out = ctx.sealpost(&["decrypt", "--cert", &cert, "--key", &key], &tampered)?;
            if out.code() == 0 {
                bail!("sealpost accepted a tampered GCM message:\n{}", out.text());
            }
            if !out.stdout.is_empty() {
                bail!("sealpost released {} bytes on standard output", out.stdout.len());
            }
            if out.stderr.trim().is_empty() {
                bail!("sealpost failed (exit {}) without saying why", out.code());
            }
            Ok(format!(
                "exit {}, 0 bytes released; it says: {}",
                out.code(),
                first_line(&out.stderr)
            ))
        },
    );

    super::attacks::run(suite);
}
