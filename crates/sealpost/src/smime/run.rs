//! Running `sealpost smime ...`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sealpost_smime::{
    Identity, Protection, Recipient, RsaKeyTransport, RsaSignaturePadding, SignOptions, SignedForm,
    SmimeKind, Verifier, VerifyOptions, classify, decrypt_message, encrypt_message,
    load_certificates, sign_message, signed_parts,
};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use super::args::{DecryptArgs, EncryptArgs, SignArgs, SmimeCommand, VerifyArgs};
use crate::values::SecretSource;

/// Runs one `sealpost smime` command.
pub(crate) fn run(command: &SmimeCommand) -> anyhow::Result<()> {
    match command {
        SmimeCommand::Sign(args) => sign(args),
        SmimeCommand::Verify(args) => verify(args),
        SmimeCommand::Encrypt(args) => encrypt(args),
        SmimeCommand::Decrypt(args) => decrypt(args),
    }
}

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut message = Vec::new();
    std::io::stdin().lock().read_to_end(&mut message).context("cannot read standard input")?;
    if message.is_empty() {
        bail!("standard input is empty: pipe the message in, e.g. `sealpost smime ... < msg.eml`");
    }
    Ok(message)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).context("cannot write standard output")
}

/// A password from `env:VAR` or `file:PATH` (its first line); never from the command line
/// itself, where other users of the machine could read it.
fn password(source: Option<&SecretSource>) -> anyhow::Result<Option<String>> {
    let Some(source) = source else { return Ok(None) };
    source.read().map(Some).with_context(|| format!("--pass {source}"))
}

fn identity(
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
    p12: Option<&PathBuf>,
    pass: Option<&SecretSource>,
) -> anyhow::Result<Identity> {
    let pass = password(pass)?;
    if let Some(p12) = p12 {
        let der = read_file(p12, "PKCS #12 file")?;
        return Identity::from_pkcs12(&der, pass.as_deref().unwrap_or(""))
            .with_context(|| format!("{} (give its password with --pass)", p12.display()));
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        bail!("give --cert and --key, or --p12");
    };
    Identity::from_cert_and_key(
        &read_file(cert, "certificate")?,
        &read_file(key, "private key")?,
        pass.as_deref().map(str::as_bytes),
    )
    .with_context(|| format!("cannot use {} with {}", cert.display(), key.display()))
}

fn trust_anchors(files: &[PathBuf]) -> anyhow::Result<Vec<sealpost_smime::openssl::x509::X509>> {
    let mut anchors = Vec::new();
    for file in files {
        let certs = load_certificates(&read_file(file, "CA file")?)
            .with_context(|| format!("--ca {}", file.display()))?;
        anchors.extend(certs);
    }
    Ok(anchors)
}

fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let mut signer =
        identity(args.cert.as_ref(), args.key.as_ref(), args.p12.as_ref(), args.pass.as_ref())?;
    if let Some(chain) = &args.chain {
        signer = signer
            .with_chain(&read_file(chain, "chain file")?)
            .with_context(|| format!("--chain {}", chain.display()))?;
    }
    let message = read_stdin()?;
    let mut options = SignOptions::default().digest(args.digest);
    if args.opaque {
        options = options.form(SignedForm::Opaque);
    }
    if args.rsa_pss {
        options = options.rsa_padding(RsaSignaturePadding::Pss);
    }
    if let Some(file) = &args.encryption_cert {
        let cert = load_certificates(&read_file(file, "encryption certificate")?)
            .with_context(|| format!("--encryption-cert {}", file.display()))?
            .remove(0);
        options = options.encryption_certificate(cert);
    }
    let signed = sign_message(&signer, message, &options).context("cannot sign the message")?;
    write_stdout(&signed)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let anchors = trust_anchors(&args.ca)?;
    let message = read_stdin()?;
    if classify(&message).ok() == Some(SmimeKind::Encrypted) {
        bail!("the message is encrypted: decrypt it first (sealpost smime decrypt), then verify");
    }
    let verifier = Verifier::new(
        VerifyOptions::new(anchors)
            .allow_legacy(args.allow_legacy)
            .accept_sender(args.accept_sender),
    );
    let verified = match verifier.verify_message(&message) {
        Ok(verified) => verified,
        Err(e @ sealpost_smime::Error::NotSmime(_)) => {
            // A signature on a part does not cover the message around it: say where it is.
            let parts = signed_parts(&message).unwrap_or_default();
            if parts.is_empty() {
                return Err(e).context("cannot verify the message");
            }
            let list: Vec<String> = parts.iter().map(ToString::to_string).collect();
            bail!(
                "the message is not signed as a whole; only {} is signed, and a signature on \
                 a part vouches for nothing around it",
                list.join(", ")
            );
        }
        Err(e) => return Err(e).context("cannot verify the message"),
    };
    let mut lines = String::new();
    for (i, signer) in verified.signers().iter().enumerate() {
        let status = if signer.is_valid() {
            "valid".to_owned()
        } else {
            let problems: Vec<String> = signer.problems.iter().map(ToString::to_string).collect();
            format!("INVALID ({})", problems.join("; "))
        };
        let subject = if signer.subject.is_empty() {
            signer.id.as_ref().map_or_else(|| "unknown signer".to_owned(), ToString::to_string)
        } else {
            signer.subject.clone()
        };
        let signed_at = signer
            .signing_time
            .map_or_else(|| "no signing time".to_owned(), |t| format!("signed {}", utc(t)));
        lines.push_str(&format!(
            "signer {}: {status}; subject: {subject}; address: {}; {signed_at}\n",
            i + 1,
            signer.address_match
        ));
    }
    write_stdout(lines.as_bytes())?;
    let bad = verified.signers().iter().filter(|s| !s.is_valid()).count();
    if bad > 0 {
        bail!(
            "{bad} of {} signer(s) not valid; the content was not written",
            verified.signers().len()
        );
    }
    if let Some(out) = &args.out {
        std::fs::write(out, &verified.entity)
            .with_context(|| format!("cannot write --out {}", out.display()))?;
    }
    Ok(())
}

fn encrypt(args: &EncryptArgs) -> anyhow::Result<()> {
    let mut capabilities: Vec<(String, Vec<sealpost_smime::Capability>)> = Vec::new();
    if !args.capabilities_from.is_empty() {
        let verifier = Verifier::new(VerifyOptions::new(trust_anchors(&args.ca)?));
        for file in &args.capabilities_from {
            let verified = verifier
                .verify_message(&read_file(file, "signed message")?)
                .with_context(|| format!("--capabilities-from {}", file.display()))?;
            for signer in verified.signers().iter().filter(|s| s.is_valid()) {
                // Only a valid signature vouches for what the signer's software reads; it
                // covers the signing certificate and the one it asks to be encrypted to.
                for cert in signer.certificate.iter().chain(&signer.encryption_certificate) {
                    capabilities.push((
                        sealpost_smime::fingerprint_sha256(cert)?,
                        signer.capabilities.clone(),
                    ));
                }
            }
        }
    }
    let mut recipients = Vec::new();
    for file in &args.to {
        let cert = load_certificates(&read_file(file, "recipient certificate")?)
            .with_context(|| format!("--to {}", file.display()))?
            .remove(0);
        let fingerprint = sealpost_smime::fingerprint_sha256(&cert)?;
        let mut recipient = Recipient::new(cert);
        if let Some((_, caps)) = capabilities.iter().find(|(f, _)| *f == fingerprint) {
            recipient = recipient.with_capabilities(caps);
        }
        if args.oaep {
            recipient = recipient.rsa_key_transport(RsaKeyTransport::Oaep);
        }
        recipients.push(recipient);
    }
    let message = read_stdin()?;
    let encrypted =
        encrypt_message(&recipients, message, args.cipher).context("cannot encrypt the message")?;
    write_stdout(&encrypted)
}

fn decrypt(args: &DecryptArgs) -> anyhow::Result<()> {
    let recipient =
        identity(args.cert.as_ref(), args.key.as_ref(), args.p12.as_ref(), args.pass.as_ref())?;
    let message = read_stdin()?;
    let decrypted = decrypt_message(&recipient, message).context("cannot decrypt the message")?;
    if decrypted.decrypted.protection == Protection::Unauthenticated {
        eprintln!(
            "sealpost: warning: the content was encrypted with CBC (enveloped-data), which does \
             not protect integrity; trust it only if it is also validly signed"
        );
    }
    write_stdout(&decrypted.message)
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian calendar).
fn utc(unix: i64) -> String {
    const FORMAT: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    match OffsetDateTime::from_unix_timestamp(unix).map(|t| t.format(FORMAT)) {
        Ok(Ok(text)) => text,
        // Outside years -9999 to 9999: no signing time is, but say what was there.
        _ => format!("{unix} seconds after 1970-01-01 UTC"),
    }
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_000_000), "2026-11-30 00:53:20 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(utc(i64::MAX), format!("{} seconds after 1970-01-01 UTC", i64::MAX));
    }
}
