//! Encryption (RFC 8551 section 3.3): AuthEnvelopedData with AES-GCM (RFC 5083, RFC 5084)
//! when every recipient reads it, EnvelopedData with AES-CBC otherwise.

use std::str::FromStr;

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;

use crate::error::{Error, Result};
use crate::ffi::{self, KeyTransport};
use crate::{Capability, mime, sign};

/// The content-encryption algorithm. Never DES, 3DES or RC2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentCipher {
    /// AES-256-GCM when every recipient is known to read AES-GCM, else AES-256-CBC.
    #[default]
    Auto,
    /// AuthEnvelopedData, AES-256-GCM.
    Aes256Gcm,
    /// AuthEnvelopedData, AES-128-GCM.
    Aes128Gcm,
    /// EnvelopedData, AES-256-CBC (no integrity protection: EFAIL-style malleability).
    Aes256Cbc,
    /// EnvelopedData, AES-128-CBC.
    Aes128Cbc,
}

impl ContentCipher {
    /// Whether the cipher protects integrity (AuthEnvelopedData).
    pub fn is_authenticated(self) -> bool {
        matches!(self, ContentCipher::Aes256Gcm | ContentCipher::Aes128Gcm)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ContentCipher::Auto => "auto",
            ContentCipher::Aes256Gcm => "aes256-gcm",
            ContentCipher::Aes128Gcm => "aes128-gcm",
            ContentCipher::Aes256Cbc => "aes256-cbc",
            ContentCipher::Aes128Cbc => "aes128-cbc",
        }
    }

    fn openssl(self) -> Cipher {
        match self {
            ContentCipher::Aes256Gcm | ContentCipher::Auto => Cipher::aes_256_gcm(),
            ContentCipher::Aes128Gcm => Cipher::aes_128_gcm(),
            ContentCipher::Aes256Cbc => Cipher::aes_256_cbc(),
            ContentCipher::Aes128Cbc => Cipher::aes_128_cbc(),
        }
    }

    /// The concrete cipher for these recipients.
    pub fn resolve(self, recipients: &[Recipient]) -> ContentCipher {
        match self {
            ContentCipher::Auto
                if !recipients.is_empty() && recipients.iter().all(|r| r.reads_gcm) =>
            {
                ContentCipher::Aes256Gcm
            }
            ContentCipher::Auto => ContentCipher::Aes256Cbc,
            other => other,
        }
    }
}

impl FromStr for ContentCipher {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ContentCipher::Auto),
            "aes256-gcm" | "aes-256-gcm" => Ok(ContentCipher::Aes256Gcm),
            "aes128-gcm" | "aes-128-gcm" => Ok(ContentCipher::Aes128Gcm),
            "aes256-cbc" | "aes-256-cbc" => Ok(ContentCipher::Aes256Cbc),
            "aes128-cbc" | "aes-128-cbc" => Ok(ContentCipher::Aes128Cbc),
            other => Err(format!(
                "unknown cipher {other:?}: use auto, aes256-gcm, aes128-gcm, aes256-cbc or aes128-cbc"
            )),
        }
    }
}

/// RSA key transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RsaKeyTransport {
    /// RSAES-PKCS1-v1_5: what every reader decrypts.
    #[default]
    Pkcs1v15,
    /// RSAES-OAEP with SHA-256 (RFC 8551 section 2.3 recommends it).
    Oaep,
}

/// One recipient: a certificate and what is known about its reader.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Recipient {
    /// The recipient's certificate (RSA, or EC P-256/P-384 for ECDH).
    pub certificate: X509,
    /// RSA key transport scheme.
    pub rsa_key_transport: RsaKeyTransport,
    /// Whether the recipient's software reads AES-GCM (AuthEnvelopedData).
    pub reads_gcm: bool,
}

impl Recipient {
    /// A recipient whose capabilities are unknown (so `Auto` chooses AES-256-CBC).
    pub fn new(certificate: X509) -> Self {
        Recipient { certificate, rsa_key_transport: RsaKeyTransport::default(), reads_gcm: false }
    }

    /// Takes the capabilities the recipient announced in its signed mail.
    pub fn with_capabilities(mut self, capabilities: &[Capability]) -> Self {
        self.reads_gcm =
            capabilities.iter().any(|c| matches!(c, Capability::Aes256Gcm | Capability::Aes128Gcm));
        self
    }

    /// States whether the recipient reads AES-GCM.
    pub fn reads_gcm(mut self, reads: bool) -> Self {
        self.reads_gcm = reads;
        self
    }

    /// Chooses the RSA key transport.
    pub fn rsa_key_transport(mut self, transport: RsaKeyTransport) -> Self {
        self.rsa_key_transport = transport;
        self
    }

    fn transport(&self) -> Result<KeyTransport> {
        let key = self.certificate.public_key()?;
        match key.id() {
            Id::RSA => Ok(match self.rsa_key_transport {
                RsaKeyTransport::Pkcs1v15 => KeyTransport::RsaPkcs1,
                RsaKeyTransport::Oaep => KeyTransport::RsaOaepSha256,
            }),
            Id::EC => {
                let curve = key.ec_key()?.group().curve_name();
                if matches!(curve, Some(Nid::X9_62_PRIME256V1) | Some(Nid::SECP384R1)) {
                    Ok(KeyTransport::EcdhSha256)
                } else {
                    Err(Error::Algorithm("EC recipients must use P-256 or P-384".into()))
                }
            }
            _ => Err(Error::Algorithm(format!(
                "recipient {} has a key that is neither RSA nor EC",
                crate::keys::subject_of(&self.certificate)
            ))),
        }
    }
}

/// An EnvelopedData or AuthEnvelopedData (DER) of `content` for every recipient, and the
/// cipher used.
pub fn encrypt_cms(
    recipients: &[Recipient],
    content: &[u8],
    cipher: ContentCipher,
) -> Result<(Vec<u8>, ContentCipher)> {
    if recipients.is_empty() {
        return Err(Error::Credentials {
            what: "recipients".into(),
            reason: "at least one recipient certificate is needed".into(),
            source: None,
        });
    }
    if content.len() > i32::MAX as usize {
        return Err(Error::TooLarge);
    }
    let cipher = cipher.resolve(recipients);
    let empty: Stack<X509> = Stack::new()?;
    // OpenSSL 3 makes AuthEnvelopedData for an AEAD cipher, EnvelopedData otherwise.
    let mut cms = CmsContentInfo::encrypt(
        &empty,
        &[],
        cipher.openssl(),
        CMSOptions::from_bits_truncate(ffi::CMS_PARTIAL | ffi::CMS_BINARY),
    )?;
    for r in recipients {
        ffi::add_recipient(&mut cms, &r.certificate, r.transport()?)?;
    }
    ffi::finalize(&mut cms, content, false)?;
    Ok((cms.to_der()?, cipher))
}

/// Encrypts a whole RFC 5322 message: its body entity is encrypted; the other header fields
/// stay outside (RFC 8551 section 3.1). A signed message stays signed inside
/// (sign-then-encrypt).
///
/// ```
/// # fn main() -> Result<(), sealpost_smime::Error> {
/// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki");
/// # let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
/// use sealpost_smime::{ContentCipher, Recipient, encrypt_message, load_certificates};
///
/// let bob = load_certificates(&read("smime-bob-ec.pem"))?.remove(0);
/// let message = b"From: alice@example.org\r\nTo: bob@example.org\r\n\r\nsecret\r\n";
/// let encrypted = encrypt_message(&[Recipient::new(bob)], message, ContentCipher::Aes256Gcm)?;
/// assert!(String::from_utf8_lossy(&encrypted).contains("smime-type=authEnveloped-data"));
/// # Ok(()) }
/// ```
///
/// The message may be borrowed or given (`Vec<u8>`): given, it is freed as soon as its body
/// entity is taken.
pub fn encrypt_message<M: AsRef<[u8]>>(
    recipients: &[Recipient],
    message: M,
    cipher: ContentCipher,
) -> Result<Vec<u8>> {
    let (outer, entity) = mime::body_entity(message)?;
    let (der, used) = encrypt_cms(recipients, &entity, cipher)?;
    drop(entity);
    let smime_type = if used.is_authenticated() { "authEnveloped-data" } else { "enveloped-data" };
    Ok(sign::pkcs7_mime(&outer, smime_type, &der))
}
