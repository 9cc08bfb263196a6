//! Signing (RFC 8551 section 3.5): multipart/signed with a detached signature, or opaque
//! application/pkcs7-mime with the content inside the SignedData.

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, Private};
use openssl::x509::X509;

use crate::asn1::IssuerAndSerialNumber;
use crate::error::{Error, Result};
use crate::keys::{Identity, fingerprint_sha256};
use crate::mime::{self, Field};
use crate::{Capability, ffi};

/// The message digest of a signature. SHA-256 by default (RFC 8551 section 2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Digest {
    /// SHA-256.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// From the names `sha256`, `sha-256`, `sha384`, ... (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Some(Digest::Sha256),
            "sha384" => Some(Digest::Sha384),
            "sha512" => Some(Digest::Sha512),
            _ => None,
        }
    }

    fn message_digest(self) -> MessageDigest {
        match self {
            Digest::Sha256 => MessageDigest::sha256(),
            Digest::Sha384 => MessageDigest::sha384(),
            Digest::Sha512 => MessageDigest::sha512(),
        }
    }

    /// The `micalg` parameter of multipart/signed (RFC 8551 section 3.5.3.2).
    pub fn micalg(self) -> &'static str {
        match self {
            Digest::Sha256 => "sha-256",
            Digest::Sha384 => "sha-384",
            Digest::Sha512 => "sha-512",
        }
    }
}

/// Which form a signed message takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedForm {
    /// multipart/signed: the content stays readable without S/MIME support.
    #[default]
    Detached,
    /// application/pkcs7-mime; smime-type=signed-data: the content is inside the CMS.
    Opaque,
}

/// The RSA signature scheme (ignored for EC keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RsaSignaturePadding {
    /// RSASSA-PKCS1-v1_5: what every reader verifies.
    #[default]
    Pkcs1v15,
    /// RSASSA-PSS (RFC 4056), salt length = digest length.
    Pss,
}

/// How to sign.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SignOptions {
    /// Detached (default) or opaque.
    pub form: SignedForm,
    /// The digest (default SHA-256).
    pub digest: Digest,
    /// RSA signature scheme.
    pub rsa_padding: RsaSignaturePadding,
    /// The certificate others should encrypt to, when it is not the signing certificate:
    /// announced with the SMIMEEncryptionKeyPreference attribute (RFC 8551 section 2.5.3).
    pub encryption_certificate: Option<X509>,
}

impl SignOptions {
    /// Sets the form.
    pub fn form(mut self, form: SignedForm) -> Self {
        self.form = form;
        self
    }

    /// Sets the digest.
    pub fn digest(mut self, digest: Digest) -> Self {
        self.digest = digest;
        self
    }

    /// Sets the RSA signature scheme.
    pub fn rsa_padding(mut self, padding: RsaSignaturePadding) -> Self {
        self.rsa_padding = padding;
        self
    }

    /// Announces a separate encryption certificate.
    pub fn encryption_certificate(mut self, cert: X509) -> Self {
        self.encryption_certificate = Some(cert);
        self
    }
}

/// The capabilities every signature announces, in order of preference (RFC 8551 section
/// 2.7: AES-GCM first; never DES, 3DES or RC2).
pub const ANNOUNCED_CAPABILITIES: [Capability; 4] =
    [Capability::Aes256Gcm, Capability::Aes128Gcm, Capability::Aes256Cbc, Capability::Aes128Cbc];

/// A CMS SignedData (DER) over `content`: detached or with the content inside. Signed
/// attributes: content type, signing time, message digest, SMIMECapabilities,
/// signingCertificateV2, and SMIMEEncryptionKeyPreference when asked for.
pub fn sign_cms(identity: &Identity, content: &[u8], options: &SignOptions) -> Result<Vec<u8>> {
    if content.len() > i32::MAX as usize {
        return Err(Error::TooLarge);
    }
    let detached = options.form == SignedForm::Detached;
    let key_id = identity.key.id();
    if !matches!(key_id, Id::RSA | Id::EC | Id::RSA_PSS) {
        return Err(Error::Algorithm(
            "only RSA and ECDSA keys sign S/MIME (RFC 8551 section 2.2)".into(),
        ));
    }
    let mut flags = ffi::CMS_PARTIAL | ffi::CMS_BINARY;
    if detached {
        flags |= ffi::CMS_DETACHED;
    }
    let mut cms = CmsContentInfo::sign::<Private>(
        None,
        None,
        None,
        None,
        CMSOptions::from_bits_truncate(flags),
    )?;
    let md = options.digest.message_digest();
    let pss = key_id == Id::RSA && options.rsa_padding == RsaSignaturePadding::Pss;
    let separate_encryption_cert = match &options.encryption_certificate {
        Some(enc) if fingerprint_sha256(enc)? != fingerprint_sha256(&identity.certificate)? => {
            Some(enc)
        }
        _ => None,
    };
    {
        let si = ffi::add_signer(&mut cms, &identity.certificate, &identity.key, md, pss)?;
        if pss {
            ffi::use_rsa_pss(&si, md)?;
        }
        let caps: Vec<(Nid, i32)> =
            ANNOUNCED_CAPABILITIES.iter().filter_map(Capability::nid).map(|n| (n, -1)).collect();
        ffi::add_smime_capabilities(&si, &caps)?;
        if let Some(enc) = separate_encryption_cert {
            let value = encryption_key_preference(enc)?;
            ffi::add_signed_attribute_der(&si, Nid::ID_SMIME_AA_ENCRYPKEYPREF, &value)?;
        }
    }
    ffi::add_certificate(&mut cms, &identity.certificate)?;
    if let Some(enc) = separate_encryption_cert {
        // Carried so that the reader can encrypt to it (RFC 8551 section 2.5.3).
        ffi::add_certificate(&mut cms, enc)?;
    }
    for cert in &identity.chain {
        ffi::add_certificate(&mut cms, cert)?;
    }
    ffi::finalize(&mut cms, content, detached)?;
    Ok(cms.to_der()?)
}

/// `SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0]
/// IssuerAndSerialNumber, ... }` (implicit tags, RFC 8551 appendix A).
fn encryption_key_preference(cert: &X509) -> Result<Vec<u8>> {
    let issuer = cert.issuer_name().to_der()?;
    let serial = cert.serial_number().to_bn()?.to_vec();
    IssuerAndSerialNumber::new(&issuer, &serial)
        .and_then(IssuerAndSerialNumber::to_key_preference)
        .map_err(|source| Error::Encode { what: "SMIMEEncryptionKeyPreference", source })
}

/// Signs a whole RFC 5322 message: its body entity (Content-* fields and body, 8-bit parts
/// given a 7-bit transfer encoding, CRLF line ends) is signed; the other header fields
/// (From, To, Subject, ...) stay on the outside.
///
/// ```
/// # fn main() -> Result<(), sealpost_smime::Error> {
/// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki");
/// # let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
/// use sealpost_smime::{Identity, SignOptions, sign_message};
///
/// let alice = Identity::from_cert_and_key(
///     &read("smime-alice-ec-chain.pem"), &read("smime-alice-ec-key.pem"), None)?;
/// let message = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nHello\r\n";
/// let signed = sign_message(&alice, message, &SignOptions::default())?;
/// let text = String::from_utf8_lossy(&signed);
/// assert!(text.starts_with("From: alice@example.org\r\n"));
/// assert!(text.contains("multipart/signed"));
/// # Ok(()) }
/// ```
///
/// The message may be borrowed or given (`Vec<u8>`): given, it is freed as soon as its body
/// entity is taken, which keeps the peak memory of large messages lower.
pub fn sign_message<M: AsRef<[u8]>>(
    identity: &Identity,
    message: M,
    options: &SignOptions,
) -> Result<Vec<u8>> {
    let (outer, entity) = mime::body_entity(message)?;
    let der = sign_cms(identity, &entity, options)?;
    match options.form {
        SignedForm::Detached => {
            let boundary = mime::new_boundary(&entity)?;
            let content_type = mime::folded(
                "Content-Type",
                "multipart/signed",
                &[
                    ("protocol", "application/pkcs7-signature".to_owned()),
                    ("micalg", options.digest.micalg().to_owned()),
                    ("boundary", boundary.clone()),
                ],
            );
            let preamble = b"This is a cryptographically signed message in MIME format.\r\n\r\n";
            let signature_header: &[u8] =
                b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
                  Content-Transfer-Encoding: base64\r\n\
                  Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
                  Content-Description: S/MIME Cryptographic Signature\r\n\r\n";
            let body_len = preamble.len()
                + entity.len()
                + signature_header.len()
                + mime::base64_len(der.len())
                + 3 * (boundary.len() + 8);
            let mut out = mime::wrap_header(&outer, &[content_type], body_len);
            out.extend_from_slice(preamble);
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            out.extend_from_slice(&entity);
            drop(entity);
            out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            out.extend_from_slice(signature_header);
            mime::encode_base64_into(&der, &mut out);
            out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            Ok(out)
        }
        SignedForm::Opaque => {
            drop(entity);
            Ok(pkcs7_mime(&outer, "signed-data", &der))
        }
    }
}

/// A message whose body is an application/pkcs7-mime part.
pub(crate) fn pkcs7_mime(outer: &[Field], smime_type: &str, der: &[u8]) -> Vec<u8> {
    let content_type = mime::folded(
        "Content-Type",
        "application/pkcs7-mime",
        &[("smime-type", smime_type.to_owned()), ("name", "smime.p7m".to_owned())],
    );
    let fields = [
        content_type,
        Field::new("Content-Transfer-Encoding", "base64"),
        Field::new("Content-Disposition", "attachment; filename=\"smime.p7m\""),
    ];
    let mut out = mime::wrap_header(outer, &fields, mime::base64_len(der.len()));
    mime::encode_base64_into(der, &mut out);
    out
}
