//! Decryption (RFC 8551 section 3.3): the plaintext is released only after OpenSSL has
//! finished and reported success (AES-GCM: the tag checked), and the result says whether the
//! content was integrity-protected.

use openssl::cms::CmsContentInfo;

use crate::error::{Error, Result};
use crate::keys::Identity;
use crate::mime::{self, Field};
use crate::{CertificateId, ffi};

/// `id-envelopedData`.
pub(crate) const OID_ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
/// `id-ct-authEnvelopedData` (RFC 5083).
pub(crate) const OID_AUTH_ENVELOPED_DATA: &str = "1.2.840.113549.1.9.16.1.23";

/// Whether decrypted content was protected against modification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protection {
    /// AuthEnvelopedData (AES-GCM): any change to the ciphertext fails decryption.
    Authenticated,
    /// EnvelopedData (CBC): not integrity-protected. An attacker can change the ciphertext
    /// so that the plaintext changes predictably (EFAIL); do not render active content or
    /// trust it unless it is also signed.
    Unauthenticated,
}

/// Decrypted content.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Decrypted {
    /// The plaintext: for S/MIME, a MIME entity.
    pub content: Vec<u8>,
    /// Integrity protection of the envelope.
    pub protection: Protection,
}

/// A decrypted message.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DecryptedMessage {
    /// The decrypted entity and its protection.
    pub decrypted: Decrypted,
    /// The message as it was before encryption: outer header fields, then the entity.
    pub message: Vec<u8>,
}

/// Decrypts a DER EnvelopedData or AuthEnvelopedData with `identity`.
pub fn decrypt_cms(identity: &Identity, der: &[u8]) -> Result<Decrypted> {
    let cms = CmsContentInfo::from_der(der).map_err(Error::Cms)?;
    open(identity, &cms)
}

fn open(identity: &Identity, cms: &CmsContentInfo) -> Result<Decrypted> {
    let protection = match ffi::content_type_oid(cms).as_str() {
        OID_AUTH_ENVELOPED_DATA => Protection::Authenticated,
        OID_ENVELOPED_DATA => Protection::Unauthenticated,
        other => {
            return Err(Error::NotSmime(format!(
                "the CMS content type is {other}, not (auth)envelopedData"
            )));
        }
    };
    let recipients = ffi::recipient_infos(cms);
    if !recipients.iter().any(|r| r.matches(&identity.certificate)) {
        return Err(Error::NotForUs {
            recipients: recipients
                .iter()
                .map(|r| match r.id() {
                    Ok(id) => CertificateId::from(id),
                    Err(kind) => CertificateId::Other(kind),
                })
                .collect(),
        });
    }
    // `decrypt` writes into a memory buffer and returns it only when CMS_decrypt returned
    // success, which for AES-GCM includes the tag check: nothing partial escapes.
    let content = cms.decrypt(&identity.key, &identity.certificate).map_err(Error::Decrypt)?;
    Ok(Decrypted { content, protection })
}

/// Decrypts an application/pkcs7-mime enveloped-data or authEnveloped-data message.
///
/// The message may be borrowed or given (`Vec<u8>`): given, it is freed once the CMS
/// structure is read from it.
pub fn decrypt_message<M: AsRef<[u8]>>(
    identity: &Identity,
    message: M,
) -> Result<DecryptedMessage> {
    let (outer, cms) = {
        let canonical = mime::canonicalize(message.as_ref());
        let parsed = mime::split(&canonical)?;
        let ct = mime::content_type(&parsed.fields);
        if !mime::is_pkcs7_mime(&ct.mimetype) {
            return Err(Error::NotSmime(format!(
                "Content-Type is {}, not application/pkcs7-mime",
                ct.mimetype
            )));
        }
        let der = mime::decode_body(&mime::transfer_encoding(&parsed.fields), parsed.body)?;
        let cms = CmsContentInfo::from_der(&der).map_err(Error::Cms)?;
        let outer: Vec<Field> = parsed
            .fields
            .into_iter()
            .filter(|f| !f.is_content() && !f.is("MIME-Version"))
            .collect();
        (outer, cms)
    };
    drop(message);
    let decrypted = open(identity, &cms)?;
    drop(cms);
    let mut out = Vec::with_capacity(decrypted.content.len() + 1024);
    for f in &outer {
        out.extend_from_slice(&f.raw);
    }
    let entity = mime::canonicalize(&decrypted.content);
    // The entity may carry its own MIME-Version (a signed message inside the envelope
    // does): one is enough.
    if !has_mime_version(&entity) {
        out.extend_from_slice(&Field::new("MIME-Version", "1.0").raw);
    }
    out.extend_from_slice(&entity);
    Ok(DecryptedMessage { decrypted, message: out })
}

/// Whether the header section of `entity` has a MIME-Version field.
fn has_mime_version(entity: &[u8]) -> bool {
    for line in entity.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return false;
        }
        let name = b"mime-version:";
        if line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_mime_version;

    #[test]
    fn mime_version_is_looked_for_in_the_header_section_only() {
        assert!(has_mime_version(b"Content-Type: text/plain\r\nmime-version: 1.0\r\n\r\nx"));
        assert!(!has_mime_version(b"Content-Type: text/plain\r\n\r\nMIME-Version: 1.0\r\n"));
        assert!(!has_mime_version(b""));
    }
}
