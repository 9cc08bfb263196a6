//! # sealpost-smime
//!
//! S/MIME 4.0 (RFC 8551, RFC 8550) for whole mail messages, on OpenSSL's CMS. It knows
//! nothing of SMTP: give it the bytes of an RFC 5322 message, get the bytes back.
//!
//! - [`sign_message`]: multipart/signed (detached) or opaque signed-data; RSA (PKCS #1
//!   v1.5 or PSS) or ECDSA; SHA-256 by default; the chain included; SMIMECapabilities
//!   announcing AES-GCM first and never DES, 3DES or RC2. 8-bit parts get a 7-bit transfer
//!   encoding first, and the bytes signed are exactly the bytes sent.
//! - [`Verifier`]: every signer with its own [`SignerReport`]: signature, chain to your
//!   trust anchors, key usage and EKU, signing time, and whether the signer is the author
//!   in From ([`AddressMatch`], with the [`OriginatorField`] that matched; Sender only with
//!   [`VerifyOptions::accept_sender`]). Detached signatures that also carry content, and
//!   signatures without signers, are refused; [`signed_parts`] names the signed parts of a
//!   message that is only partly signed.
//! - [`encrypt_message`]: AuthEnvelopedData (AES-GCM) when every recipient reads it,
//!   EnvelopedData (AES-256-CBC) otherwise; RSA (PKCS #1 v1.5 or OAEP) and ECDH P-256
//!   (SHA-256 KDF) recipients.
//! - [`decrypt_message`]: plaintext only after OpenSSL reported success, with its
//!   [`Protection`] (authenticated or not: the EFAIL caution for CBC). A message for
//!   someone else is [`Error::NotForUs`] with the recipients it names.
//! - [`Unwrapper`]: peels sign-then-encrypt (and the reverse) with a nesting limit.
//!
//! ```
//! # fn main() -> Result<(), sealpost_smime::Error> {
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki");
//! # let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
//! use sealpost_smime::*;
//!
//! let alice = Identity::from_cert_and_key(
//!     &read("smime-alice-rsa-chain.pem"), &read("smime-alice-rsa-key.pem"), None)?;
//! let bob = Identity::from_cert_and_key(
//!     &read("smime-bob-rsa-chain.pem"), &read("smime-bob-rsa-key.pem"), None)?;
//!
//! let message = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nHello Bob\r\n";
//! let signed = sign_message(&alice, message, &SignOptions::default())?;
//! let sealed = encrypt_message(
//!     &[Recipient::new(bob.certificate.clone()).reads_gcm(true)], &signed, ContentCipher::Auto)?;
//!
//! let verifier = Verifier::new(VerifyOptions::new(load_certificates(&read("root-ca.pem"))?));
//! let opened = Unwrapper::new(verifier, vec![bob]).unwrap(&sealed)?;
//! assert!(opened.all_signatures_valid());
//! assert!(matches!(opened.layers[0], Layer::Encrypted(Protection::Authenticated)));
//! assert!(opened.message.ends_with(b"\r\n\r\nHello Bob\r\n"));
//! # Ok(()) }
//! ```
//!
//! Defaults that differ from OpenSSL's: OpenSSL 3.0's CMS functions accept SHA-1, DSA and
//! RSA-1024 signatures by themselves, and list DES and RC2 among the capabilities they
//! announce. Here a signer using SHA-1, MD5, DSA or an RSA key under 2048 bits is reported
//! with [`SignerProblem::LegacyAlgorithm`], and chains are verified at OpenSSL security level 2
//! (which refuses SHA-1-signed and 1024-bit certificates), unless
//! [`VerifyOptions::allow_legacy`] is set (then level 0). ECDH recipients get the SHA-256
//! KDF, not OpenSSL's SHA-1 default. Certificates, keys and PKCS #12 files are read with
//! [`Identity`] and [`load_certificates`]; what a signed message says about encrypting to
//! its signers is [`VerifiedMessage::recipients`].
//!
//! The few CMS functions the `openssl` crate does not bind (signer certificates, per-signer
//! checks, recipient ids, key parameters) are declared in one small private module; it is
//! the only place with `unsafe` code.
#![deny(unsafe_code)]

mod asn1;
mod decrypt;
mod encrypt;
mod error;
mod ffi;
/// Private readers for the fuzz targets (`fuzz/`), not API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod identity;
mod keys;
mod mime;
mod parts;
mod sign;
mod unwrap;
mod verify;

pub use openssl;

pub use crate::decrypt::{Decrypted, DecryptedMessage, Protection, decrypt_cms, decrypt_message};
pub use crate::encrypt::{ContentCipher, Recipient, RsaKeyTransport, encrypt_cms, encrypt_message};
pub use crate::error::{Error, Result};
pub use crate::identity::{AddressMatch, FieldDefect, OriginatorField, certificate_addresses};
pub use crate::keys::{
    Identity, fingerprint_sha256, load_certificates, load_private_key, subject_of,
};
pub use crate::parts::{SignedPart, signed_parts};
pub use crate::sign::{
    ANNOUNCED_CAPABILITIES, Digest, RsaSignaturePadding, SignOptions, SignedForm, sign_cms,
    sign_message,
};
pub use crate::unwrap::{DEFAULT_MAX_DEPTH, Layer, SmimeKind, Unwrapped, Unwrapper, classify};
pub use crate::verify::{
    MAX_SIGNERS, SignedContent, SignerProblem, SignerReport, VerifiedMessage, Verifier,
    VerifyOptions,
};

use openssl::nid::Nid;

/// A content-encryption algorithm announced in SMIMECapabilities (RFC 8551 section 2.5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// AES-256-GCM (2.16.840.1.101.3.4.1.46).
    Aes256Gcm,
    /// AES-128-GCM (2.16.840.1.101.3.4.1.6).
    Aes128Gcm,
    /// AES-256-CBC (2.16.840.1.101.3.4.1.42).
    Aes256Cbc,
    /// AES-128-CBC (2.16.840.1.101.3.4.1.2).
    Aes128Cbc,
    /// Anything else, by dotted OID.
    Other(String),
}

impl Capability {
    /// From a dotted OID.
    pub fn from_oid(oid: &str) -> Self {
        match oid {
            "2.16.840.1.101.3.4.1.46" => Capability::Aes256Gcm,
            "2.16.840.1.101.3.4.1.6" => Capability::Aes128Gcm,
            "2.16.840.1.101.3.4.1.42" => Capability::Aes256Cbc,
            "2.16.840.1.101.3.4.1.2" => Capability::Aes128Cbc,
            other => Capability::Other(other.to_owned()),
        }
    }

    pub(crate) fn nid(&self) -> Option<Nid> {
        match self {
            Capability::Aes256Gcm => Some(Nid::AES_256_GCM),
            Capability::Aes128Gcm => Some(Nid::AES_128_GCM),
            Capability::Aes256Cbc => Some(Nid::AES_256_CBC),
            Capability::Aes128Cbc => Some(Nid::AES_128_CBC),
            Capability::Other(_) => None,
        }
    }
}

/// How CMS names a certificate: issuer and serial number, or subject key identifier
/// (RFC 5652 sections 5.3 and 6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateId {
    /// Issuer distinguished name and serial number (upper-case hex).
    IssuerSerial {
        /// The issuer, on one line.
        issuer: String,
        /// The serial number, hex.
        serial: String,
    },
    /// A subjectKeyIdentifier, hex.
    SubjectKeyId(String),
    /// A recipient kind other than key transport or key agreement (KEK, password), by its
    /// RecipientInfo type number.
    Other(i32),
}

impl From<ffi::RawCertId> for CertificateId {
    fn from(raw: ffi::RawCertId) -> Self {
        match raw {
            ffi::RawCertId::IssuerSerial { issuer, serial } => {
                CertificateId::IssuerSerial { issuer, serial }
            }
            ffi::RawCertId::KeyId(bytes) => {
                CertificateId::SubjectKeyId(data_encoding::HEXUPPER.encode(&bytes))
            }
        }
    }
}

impl std::fmt::Display for CertificateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateId::IssuerSerial { issuer, serial } => {
                write!(f, "issuer \"{issuer}\" serial {serial}")
            }
            CertificateId::SubjectKeyId(k) => write!(f, "subject key id {k}"),
            CertificateId::Other(t) => write!(f, "recipient info of type {t}"),
        }
    }
}

/// The recipients of an encrypted message, by certificate id.
pub type RecipientId = CertificateId;

impl CertificateId {
    pub(crate) fn list(ids: &[CertificateId]) -> String {
        if ids.is_empty() {
            return "no recipients".to_owned();
        }
        ids.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }
}

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
