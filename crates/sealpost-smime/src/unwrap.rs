//! Peeling nested S/MIME layers (sign-then-encrypt, encrypt-then-sign, and deeper) with a
//! limit, so that a message of a thousand wrappers costs no more than a few.

use openssl::cms::CmsContentInfo;

use crate::decrypt::{self, Protection};
use crate::error::{Error, Result};
use crate::keys::Identity;
use crate::mime;
use crate::verify::{OID_SIGNED_DATA, SignerReport, Verifier};

/// The default nesting limit (RFC 8551 section 3.7 allows any nesting; real mail has 2).
pub const DEFAULT_MAX_DEPTH: usize = 4;

/// What kind of S/MIME message something is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmimeKind {
    /// multipart/signed or opaque signed-data.
    Signed,
    /// enveloped-data or authEnveloped-data.
    Encrypted,
    /// application/pkcs7-mime that is neither (certs-only, compressed, ...).
    OtherCms,
    /// Not S/MIME.
    Plain,
}

/// Classifies a message by its Content-Type (and, for application/pkcs7-mime without a
/// usable smime-type, by the CMS content type).
pub fn classify(message: &[u8]) -> Result<SmimeKind> {
    let canonical = mime::canonicalize(message);
    let parsed = mime::split(&canonical)?;
    let ct = mime::content_type(&parsed.fields);
    match ct.mimetype.as_str() {
        "multipart/signed" => Ok(SmimeKind::Signed),
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let der = mime::decode_body(&mime::transfer_encoding(&parsed.fields), parsed.body)?;
            let cms = CmsContentInfo::from_der(&der).map_err(Error::Cms)?;
            Ok(match crate::ffi::content_type_oid(&cms).as_str() {
                OID_SIGNED_DATA => SmimeKind::Signed,
                decrypt::OID_ENVELOPED_DATA | decrypt::OID_AUTH_ENVELOPED_DATA => {
                    SmimeKind::Encrypted
                }
                _ => SmimeKind::OtherCms,
            })
        }
        _ => Ok(SmimeKind::Plain),
    }
}

/// One layer taken off.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Layer {
    /// A signature layer and its signers.
    Signed(Vec<SignerReport>),
    /// An encryption layer and its protection.
    Encrypted(Protection),
}

/// The innermost message and the layers around it, outermost first.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Unwrapped {
    /// The layers, outermost first.
    pub layers: Vec<Layer>,
    /// The innermost message (outer header fields and the innermost entity).
    pub message: Vec<u8>,
}

impl Unwrapped {
    /// Whether every signature layer is fully valid and there is at least one.
    pub fn all_signatures_valid(&self) -> bool {
        let mut any = false;
        for layer in &self.layers {
            if let Layer::Signed(signers) = layer {
                any = true;
                if signers.is_empty() || !signers.iter().all(SignerReport::is_valid) {
                    return false;
                }
            }
        }
        any
    }
}

/// Unwraps signatures (with a [`Verifier`]) and encryption (with the identities).
#[derive(Clone, Debug)]
pub struct Unwrapper {
    verifier: Verifier,
    identities: Vec<Identity>,
    max_depth: usize,
}

impl Unwrapper {
    /// An unwrapper with the default nesting limit.
    pub fn new(verifier: Verifier, identities: Vec<Identity>) -> Self {
        Unwrapper { verifier, identities, max_depth: DEFAULT_MAX_DEPTH }
    }

    /// Sets the nesting limit.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Takes off every S/MIME layer. Signature problems are reported in the layers;
    /// structural errors, decryption failures and too deep nesting are errors.
    pub fn unwrap(&self, message: &[u8]) -> Result<Unwrapped> {
        let mut layers = Vec::new();
        let mut current = message.to_vec();
        // Bounded by max_depth.
        loop {
            let kind = classify(&current)?;
            if matches!(kind, SmimeKind::Plain | SmimeKind::OtherCms) {
                return Ok(Unwrapped { layers, message: current });
            }
            if layers.len() >= self.max_depth {
                return Err(Error::TooDeep(self.max_depth));
            }
            match kind {
                SmimeKind::Signed => {
                    let verified = self.verifier.verify_message(&current)?;
                    current = verified.unwrapped_message();
                    layers.push(Layer::Signed(verified.signed.signers));
                }
                _ => {
                    let mut last_error = None;
                    let mut done = None;
                    for identity in &self.identities {
                        match decrypt::decrypt_message(identity, &current) {
                            Ok(d) => {
                                done = Some(d);
                                break;
                            }
                            Err(e) => last_error = Some(e),
                        }
                    }
                    let Some(d) = done else {
                        return Err(last_error.unwrap_or(Error::Credentials {
                            what: "decryption key".into(),
                            reason: "the message is encrypted and no key was given".into(),
                            source: None,
                        }));
                    };
                    layers.push(Layer::Encrypted(d.decrypted.protection));
                    current = d.message;
                }
            }
        }
    }
}
