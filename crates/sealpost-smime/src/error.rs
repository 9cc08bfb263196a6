//! The crate's error type.

use openssl::error::ErrorStack;

use crate::RecipientId;

/// Everything that can go wrong. Messages say what happened and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not an S/MIME message of the kind asked for.
    #[error("not an S/MIME message: {0}")]
    NotSmime(String),
    /// The MIME structure is broken (missing boundary, no body, bad header).
    #[error("malformed MIME: {0}")]
    Mime(String),
    /// The base64 of the S/MIME part does not decode (the cause says where).
    #[error("the S/MIME part's base64 does not decode")]
    Base64(#[source] base64::DecodeError),
    /// The CMS structure does not parse (truncated, garbage, wrong type); OpenSSL's errors
    /// are the cause.
    #[error("malformed CMS (PKCS #7) structure")]
    Cms(#[source] ErrorStack),
    /// More signers than this crate checks in one message (a cheap way to make a verifier
    /// work hard).
    #[error("{count} signers; more than {limit} are refused")]
    TooManySigners {
        /// The signers the message carries.
        count: usize,
        /// The most this crate checks.
        limit: usize,
    },
    /// A detached signature (multipart/signed) whose SignedData also carries content: the
    /// content shown and the content signed could differ ("eContent confusion").
    #[error("the detached signature also embeds content (eContent); refusing it")]
    DetachedWithContent,
    /// A signed attribute this crate writes itself (the SMIMEEncryptionKeyPreference)
    /// cannot be DER-encoded from the certificate's issuer and serial number.
    #[error("cannot encode the {what} attribute")]
    Encode {
        /// The attribute.
        what: &'static str,
        /// The DER encoder's error.
        #[source]
        source: der::Error,
    },
    /// An opaque signed message without the content it signs.
    #[error("the opaque signed message carries no content")]
    MissingContent,
    /// A SignedData without any SignerInfo: nothing is signed.
    #[error("the signed message has no signer (empty SignerInfos)")]
    NoSigners,
    /// The message is not encrypted to the given certificate.
    #[error(
        "the message is not encrypted to this certificate; it is for: {}",
        RecipientId::list(recipients)
    )]
    NotForUs {
        /// Every recipient the message names.
        recipients: Vec<RecipientId>,
    },
    /// OpenSSL refused to decrypt (wrong key, tampered ciphertext or authentication tag);
    /// its errors are the cause. No plaintext was released.
    #[error("decryption failed, no content released")]
    Decrypt(#[source] ErrorStack),
    /// An algorithm that this crate never produces or, without opting in, never accepts.
    #[error("algorithm not allowed: {0}")]
    Algorithm(String),
    /// S/MIME layers nested deeper than the limit.
    #[error("S/MIME layers nested deeper than {0}")]
    TooDeep(usize),
    /// MIME multiparts nested deeper than the limit (32) in a message to sign.
    #[error("multipart entities nested deeper than {0}")]
    MultipartTooDeep(usize),
    /// A certificate, key or PKCS #12 file could not be read.
    #[error("cannot read {what}: {reason}")]
    Credentials {
        /// What was being read.
        what: String,
        /// Why it failed, or what to check.
        reason: String,
        /// OpenSSL's errors, when OpenSSL refused it.
        #[source]
        source: Option<ErrorStack>,
    },
    /// The input is too large for OpenSSL's memory buffers (over 2 GiB).
    #[error("input too large (over 2 GiB)")]
    TooLarge,
    /// A call into OpenSSL failed.
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] ErrorStack),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// OpenSSL's error text, or a fallback when its queue was empty.
pub(crate) fn describe(e: &ErrorStack) -> String {
    let text = e.to_string();
    if text.is_empty() { "no detail from OpenSSL".to_owned() } else { text }
}
