//! The command line of `sealpost smime`, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use sealpost_smime::{ContentCipher, Digest};

use crate::flags;
use crate::values::SecretSource;

/// `sealpost smime ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SmimeCommand {
    /// Sign the message on stdin (its body; the header stays outside) and write it to stdout.
    Sign(SignArgs),
    /// Verify the signed message on stdin: one line per signer; exit 0 only if all is valid.
    Verify(VerifyArgs),
    /// Encrypt the message on stdin (its body; the header stays outside) to certificates.
    Encrypt(EncryptArgs),
    /// Decrypt the message on stdin and write it to stdout.
    Decrypt(DecryptArgs),
}

/// `sealpost smime sign`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:\n  sealpost smime sign --cert alice.pem --key alice-key.pem < msg.eml > signed.eml\n\
The signature is detached (multipart/signed) unless --opaque is given. 8-bit parts are \
given a 7-bit transfer encoding before signing so that relays cannot break the signature.")]
pub(crate) struct SignArgs {
    /// The signer's certificate (PEM, optionally followed by its chain, or DER).
    #[arg(long, value_name = "FILE", required_unless_present = "p12", conflicts_with = "p12")]
    pub(crate) cert: Option<PathBuf>,
    /// The signer's private key (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// The signer's certificate and key as PKCS #12 (use --pass for its password).
    #[arg(long, value_name = "FILE")]
    pub(crate) p12: Option<PathBuf>,
    /// Intermediate CA certificates to include (PEM).
    #[arg(long, value_name = "FILE")]
    pub(crate) chain: Option<PathBuf>,
    /// Opaque signed-data (application/pkcs7-mime) instead of multipart/signed.
    #[arg(long)]
    pub(crate) opaque: bool,
    /// The digest: sha256, sha384 or sha512.
    #[arg(long, value_name = "NAME", default_value = "sha256", value_parser = flags::digest)]
    pub(crate) digest: Digest,
    /// Sign RSA keys with RSASSA-PSS instead of PKCS #1 v1.5.
    #[arg(long)]
    pub(crate) rsa_pss: bool,
    /// Announce this certificate (yours, for another key) as the one to encrypt to
    /// (SMIMEEncryptionKeyPreference); it travels with the signature.
    #[arg(long, value_name = "CERT")]
    pub(crate) encryption_cert: Option<PathBuf>,
    /// Where the key's or PKCS #12 file's password comes from: env:VAR or file:PATH.
    #[arg(long, value_name = "SOURCE")]
    pub(crate) pass: Option<SecretSource>,
}

/// `sealpost smime verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:\n  sealpost smime verify --ca root.pem --out content.eml < signed.eml\n\
Prints one line per signer: status, subject, and which originator field the signer's address \
matched (From; Sender only with --accept-sender). Exit code 0 only when every signer is valid.")]
pub(crate) struct VerifyArgs {
    /// A trusted CA certificate file (PEM, may hold several). Repeat for more.
    #[arg(long = "ca", value_name = "FILE", required = true)]
    pub(crate) ca: Vec<PathBuf>,
    /// Write the signed content (the signed MIME entity) to this file when all is valid.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Accept SHA-1, DSA and RSA keys under 2048 bits.
    #[arg(long)]
    pub(crate) allow_legacy: bool,
    /// Accept a signer that is the Sender but not the author in From (RFC 8550's
    /// From-or-Sender rule: mailing lists, delegates). Readers show From as the author.
    #[arg(long)]
    pub(crate) accept_sender: bool,
}

/// `sealpost smime encrypt`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:\n  sealpost smime encrypt --to bob.pem --cipher aes256-gcm < msg.eml > encrypted.eml\n\
--cipher auto uses AES-256-GCM only when every recipient is known to read it (see \
--capabilities-from), and AES-256-CBC otherwise: most deployed readers cannot decrypt GCM yet.")]
pub(crate) struct EncryptArgs {
    /// A recipient's certificate (PEM or DER). Repeat for more recipients.
    #[arg(long = "to", value_name = "CERT", required = true)]
    pub(crate) to: Vec<PathBuf>,
    /// auto, aes256-gcm, aes128-gcm, aes256-cbc or aes128-cbc.
    #[arg(long, value_name = "CIPHER", default_value = "auto")]
    pub(crate) cipher: ContentCipher,
    /// Use RSAES-OAEP (SHA-256) for RSA recipients instead of PKCS #1 v1.5.
    #[arg(long)]
    pub(crate) oaep: bool,
    /// A signed message from a recipient whose valid signature announces the algorithms its
    /// software reads (SMIMECapabilities); needs --ca. Repeat for more.
    #[arg(long, value_name = "FILE", requires = "ca")]
    pub(crate) capabilities_from: Vec<PathBuf>,
    /// Trust anchors for --capabilities-from.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Vec<PathBuf>,
}

/// `sealpost smime decrypt`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:\n  sealpost smime decrypt --cert bob.pem --key bob-key.pem < encrypted.eml > msg.eml\n  \
SEALPOST_PASS=... sealpost smime decrypt --p12 bob.p12 --pass env:SEALPOST_PASS < encrypted.eml\n\
Nothing is written unless decryption succeeded completely. CBC (enveloped-data) content is \
not integrity-protected: a warning says so on stderr.")]
pub(crate) struct DecryptArgs {
    /// The recipient's certificate (PEM or DER).
    #[arg(long, value_name = "FILE", required_unless_present = "p12", conflicts_with = "p12")]
    pub(crate) cert: Option<PathBuf>,
    /// The recipient's private key (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// The recipient's certificate and key as PKCS #12.
    #[arg(long, value_name = "FILE")]
    pub(crate) p12: Option<PathBuf>,
    /// Where the key's or PKCS #12 file's password comes from: env:VAR or file:PATH.
    #[arg(long, value_name = "SOURCE")]
    pub(crate) pass: Option<SecretSource>,
}
