//! Verification (RFC 8551 section 3.5, RFC 8550): every signer gets its own result.

use der::Encode as _;
use der::asn1::UintRef;
use openssl::cms::CmsContentInfo;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509, X509PurposeId, X509StoreContext};

use crate::asn1::{self, IssuerAndSerialNumber};
use crate::error::{Error, Result, describe};
use crate::identity::{self, AddressMatch, Originators};
use crate::keys::subject_of;
use crate::mime::{self, Field};
use crate::{Capability, CertificateId, ffi};

/// `id-signedData`.
pub(crate) const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";

/// `X509_V_ERR_CERT_HAS_EXPIRED`.
const CERT_HAS_EXPIRED: i32 = 10;
/// `X509_V_ERR_INVALID_PURPOSE`: reported by the key usage checks of our own instead.
const INVALID_PURPOSE: i32 = 26;

/// More SignerInfos than any real message has: refused before any signature work, so that a
/// crafted message cannot make verification arbitrarily expensive.
pub const MAX_SIGNERS: usize = 32;

const KU_DIGITAL_SIGNATURE: u32 = 0x80;
const KU_NON_REPUDIATION: u32 = 0x40;
const XKU_SMIME: u32 = 0x4;
const XKU_ANYEKU: u32 = 0x100;

/// How to verify.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// The trust anchors: certificate chains must end at one of them.
    pub trust_anchors: Vec<X509>,
    /// Accept SHA-1, DSA and RSA keys under 2048 bits (old mail, RFC 4134 examples).
    pub allow_legacy: bool,
    /// Check validity at this time (Unix seconds) instead of now.
    pub at_time: Option<i64>,
    /// Certificates (signers' or intermediates) to use besides those in the message; they
    /// are not trusted.
    pub extra_certificates: Vec<X509>,
    /// Accept a signer whose certificate names the Sender but not the From address (RFC
    /// 8550's From-or-Sender rule). Off by default: readers show From as the author.
    pub accept_sender: bool,
}

impl VerifyOptions {
    /// Options trusting these anchors.
    pub fn new(trust_anchors: Vec<X509>) -> Self {
        VerifyOptions { trust_anchors, ..VerifyOptions::default() }
    }

    /// Allows legacy algorithms.
    pub fn allow_legacy(mut self, allow: bool) -> Self {
        self.allow_legacy = allow;
        self
    }

    /// Adds untrusted certificates to find signers and build chains with.
    pub fn extra_certificates(mut self, certs: Vec<X509>) -> Self {
        self.extra_certificates.extend(certs);
        self
    }

    /// Accepts a signer that matches Sender instead of From (RFC 8550 section 3), for
    /// mailing lists and delegates who sign for an author. The report still says the match
    /// was through Sender ([`AddressMatch::Matches`] with [`OriginatorField::Sender`]).
    ///
    /// [`OriginatorField::Sender`]: crate::OriginatorField::Sender
    pub fn accept_sender(mut self, accept: bool) -> Self {
        self.accept_sender = accept;
        self
    }

    /// Checks certificate validity at a fixed time.
    pub fn at_time(mut self, unix_seconds: i64) -> Self {
        self.at_time = Some(unix_seconds);
        self
    }
}

/// Why a signer is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerProblem {
    /// The signer's certificate is neither in the message nor given.
    CertificateNotFound,
    /// The signature (or the message digest) does not match: the content or the signature
    /// was changed.
    BadSignature(String),
    /// The certificate chain does not verify up to a trust anchor.
    Untrusted {
        /// OpenSSL's `X509_V_ERR_*` code.
        code: i32,
        /// Its text.
        reason: String,
    },
    /// The signer certificate (or one above it) has expired.
    Expired(String),
    /// Key usage lacks digitalSignature and nonRepudiation.
    KeyUsage,
    /// Extended key usage is present without emailProtection.
    ExtendedKeyUsage,
    /// A legacy algorithm, and the caller did not opt in.
    LegacyAlgorithm(String),
    /// The certificate's public key cannot be decoded (for example DSA parameters
    /// inherited from the issuer, RFC 3279 section 2.3.2, which OpenSSL 3 does not support).
    UnusableKey(String),
    /// The signer is not the originator shown, or the originator fields do not show one
    /// unambiguously.
    Address(AddressMatch),
}

impl std::fmt::Display for SignerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerProblem::CertificateNotFound => f.write_str("signer certificate not found"),
            SignerProblem::BadSignature(r) => write!(f, "bad signature ({r})"),
            SignerProblem::Untrusted { code, reason } => {
                write!(f, "untrusted certificate (error {code}: {reason})")
            }
            SignerProblem::Expired(r) => write!(f, "certificate expired ({r})"),
            SignerProblem::KeyUsage => {
                f.write_str("key usage allows neither digitalSignature nor nonRepudiation")
            }
            SignerProblem::ExtendedKeyUsage => {
                f.write_str("extended key usage lacks emailProtection")
            }
            SignerProblem::LegacyAlgorithm(a) => {
                write!(f, "legacy algorithm {a} (allow it explicitly to accept)")
            }
            SignerProblem::UnusableKey(r) => write!(f, "unusable public key ({r})"),
            SignerProblem::Address(m) => m.fmt(f),
        }
    }
}

/// The result for one signer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignerReport {
    /// How the SignerInfo names its certificate.
    pub id: Option<CertificateId>,
    /// The signer's certificate, when found.
    pub certificate: Option<X509>,
    /// Its subject, on one line (empty when not found).
    pub subject: String,
    /// The digest algorithm (dotted OID).
    pub digest_algorithm: String,
    /// The signature algorithm (dotted OID).
    pub signature_algorithm: String,
    /// The signingTime attribute, in Unix seconds.
    pub signing_time: Option<i64>,
    /// The e-mail addresses the certificate names.
    pub addresses: Vec<String>,
    /// How they relate to From and Sender, and which of the two matched.
    pub address_match: AddressMatch,
    /// The SMIMECapabilities the signer announced.
    pub capabilities: Vec<Capability>,
    /// The certificate the signer wants mail encrypted to, when its
    /// SMIMEEncryptionKeyPreference attribute names one carried in the message.
    pub encryption_certificate: Option<X509>,
    /// Everything wrong; empty means valid.
    pub problems: Vec<SignerProblem>,
}

impl SignerReport {
    /// Whether this signature is valid: good signature, trusted chain, right key usage,
    /// allowed algorithms, and the signer is the author in From (or the Sender, when
    /// [`VerifyOptions::accept_sender`] is set): [`AddressMatch::is_match`].
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A verified SignedData.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignedContent {
    /// The signed bytes, exactly.
    pub content: Vec<u8>,
    /// One report per SignerInfo, in order.
    pub signers: Vec<SignerReport>,
    /// Every certificate the SignedData carries.
    pub certificates: Vec<X509>,
}

impl SignedContent {
    /// Whether there is at least one signer and every signer is valid.
    pub fn all_valid(&self) -> bool {
        !self.signers.is_empty() && self.signers.iter().all(SignerReport::is_valid)
    }
}

/// A verified S/MIME message.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedMessage {
    /// Detached (multipart/signed) or opaque.
    pub form: crate::SignedForm,
    /// The signed entity (its Content-* fields and body), byte for byte.
    pub entity: Vec<u8>,
    /// The signers and certificates.
    pub signed: SignedContent,
    outer: Vec<Field>,
}

impl VerifiedMessage {
    /// Whether every signer is valid.
    pub fn all_valid(&self) -> bool {
        self.signed.all_valid()
    }

    /// The per-signer reports.
    pub fn signers(&self) -> &[SignerReport] {
        &self.signed.signers
    }

    /// What this message tells about encrypting to its signers: for each valid signer, its
    /// preferred encryption certificate (or its signing certificate) with the capabilities
    /// it announced. Invalid signatures vouch for nothing and give nothing.
    pub fn recipients(&self) -> Vec<crate::Recipient> {
        self.signed
            .signers
            .iter()
            .filter(|s| s.is_valid())
            .filter_map(|s| {
                let cert = s.encryption_certificate.clone().or_else(|| s.certificate.clone())?;
                Some(crate::Recipient::new(cert).with_capabilities(&s.capabilities))
            })
            .collect()
    }

    /// The message without its signature: the outer header fields (From, To, ...) followed
    /// by the signed entity.
    pub fn unwrapped_message(&self) -> Vec<u8> {
        let mut fields: Vec<Field> = self
            .outer
            .iter()
            .filter(|f| !f.is_content() && !f.is("MIME-Version"))
            .cloned()
            .collect();
        fields.push(Field::new("MIME-Version", "1.0"));
        let mut out = Vec::with_capacity(self.entity.len() + 1024);
        for f in &fields {
            out.extend_from_slice(&f.raw);
        }
        out.extend_from_slice(&self.entity);
        out
    }
}

/// Verifies S/MIME signatures against a set of trust anchors.
///
/// ```
/// # fn main() -> Result<(), sealpost_smime::Error> {
/// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki");
/// # let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
/// use sealpost_smime::{Identity, SignOptions, Verifier, VerifyOptions, load_certificates, sign_message};
///
/// let alice = Identity::from_cert_and_key(
///     &read("smime-alice-rsa-chain.pem"), &read("smime-alice-rsa-key.pem"), None)?;
/// let signed = sign_message(&alice, b"From: alice@example.org\r\n\r\nHi\r\n", &SignOptions::default())?;
///
/// let verifier = Verifier::new(VerifyOptions::new(load_certificates(&read("root-ca.pem"))?));
/// let verified = verifier.verify_message(&signed)?;
/// assert!(verified.all_valid());
/// assert_eq!(verified.entity, b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHi\r\n");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    options: VerifyOptions,
}

impl Verifier {
    /// A verifier with these options.
    pub fn new(options: VerifyOptions) -> Self {
        Verifier { options }
    }

    /// Verifies a whole message: multipart/signed or application/pkcs7-mime signed-data.
    /// Structural faults (no signer, detached signature with embedded content, bad base64,
    /// truncated CMS) are errors; per-signer faults are in the reports.
    pub fn verify_message(&self, message: &[u8]) -> Result<VerifiedMessage> {
        let canonical = mime::canonicalize(message);
        let parsed = mime::split(&canonical)?;
        // NUL and bare CR or LF are looked for in the bytes as received, not in the
        // canonical copy where a bare line ending has already been made a real one.
        let originators = Originators::from_message(message, &parsed.fields);
        let ct = mime::content_type(&parsed.fields);
        let (form, der, detached) = match ct.mimetype.as_str() {
            "multipart/signed" => {
                let boundary = ct.params.get("boundary").ok_or_else(|| {
                    Error::Mime("multipart/signed without a boundary parameter".into())
                })?;
                let parts = mime::split_multipart(parsed.body, boundary)?;
                let [content, signature] = parts.parts.as_slice() else {
                    return Err(Error::Mime(format!(
                        "multipart/signed needs exactly 2 parts, found {}",
                        parts.parts.len()
                    )));
                };
                let sig = mime::split(signature)?;
                let sig_type = mime::content_type(&sig.fields).mimetype;
                if !matches!(
                    sig_type.as_str(),
                    "application/pkcs7-signature" | "application/x-pkcs7-signature"
                ) {
                    return Err(Error::NotSmime(format!(
                        "the signature part is {sig_type}, not application/pkcs7-signature"
                    )));
                }
                let der = mime::decode_body(&mime::transfer_encoding(&sig.fields), sig.body)?;
                (crate::SignedForm::Detached, der, Some(content.to_vec()))
            }
            "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
                let der = mime::decode_body(&mime::transfer_encoding(&parsed.fields), parsed.body)?;
                (crate::SignedForm::Opaque, der, None)
            }
            other => {
                return Err(Error::NotSmime(format!(
                    "Content-Type is {other}, not multipart/signed or application/pkcs7-mime"
                )));
            }
        };
        let signed = self.verify_signed_data(&der, detached.as_deref(), &originators)?;
        Ok(VerifiedMessage { form, entity: signed.content.clone(), signed, outer: parsed.fields })
    }

    /// Verifies a DER SignedData: with `detached` content (which the SignedData must not
    /// also carry), or opaque. Without a message around it, addresses are not compared.
    pub fn verify_cms(&self, der: &[u8], detached: Option<&[u8]>) -> Result<SignedContent> {
        self.verify_signed_data(der, detached, &Originators::absent())
    }

    /// Like [`Verifier::verify_cms`], comparing signer addresses with a From (and
    /// optional Sender) header value.
    pub fn verify_cms_from(
        &self,
        der: &[u8],
        detached: Option<&[u8]>,
        from: &str,
        sender: Option<&str>,
    ) -> Result<SignedContent> {
        self.verify_signed_data(der, detached, &Originators::from_values(from, sender))
    }

    fn verify_signed_data(
        &self,
        der: &[u8],
        detached: Option<&[u8]>,
        originators: &Originators,
    ) -> Result<SignedContent> {
        if der.len() > i32::MAX as usize || detached.is_some_and(|d| d.len() > i32::MAX as usize) {
            return Err(Error::TooLarge);
        }
        let cms = CmsContentInfo::from_der(der).map_err(Error::Cms)?;
        let content_type = ffi::content_type_oid(&cms);
        if content_type != OID_SIGNED_DATA {
            return Err(Error::NotSmime(format!(
                "the CMS content type is {content_type}, not signedData (is it encrypted? decrypt first)"
            )));
        }
        let embedded = ffi::has_econtent(&cms);
        match (detached.is_some(), embedded) {
            (true, true) => return Err(Error::DetachedWithContent),
            (false, false) => return Err(Error::MissingContent),
            _ => {}
        }
        let signer_infos = ffi::signer_infos(&cms);
        if signer_infos.is_empty() {
            return Err(Error::NoSigners);
        }
        if signer_infos.len() > MAX_SIGNERS {
            return Err(Error::TooManySigners { count: signer_infos.len(), limit: MAX_SIGNERS });
        }
        let carried = ffi::certificates(&cms)?;
        let mut certs: Stack<X509> = Stack::new()?;
        for c in carried.iter() {
            certs.push(c.to_owned())?;
        }
        let mut extra: Stack<X509> = Stack::new()?;
        for c in &self.options.extra_certificates {
            extra.push(c.clone())?;
            certs.push(c.clone())?;
        }
        ffi::resolve_signer_certificates(&cms, &extra);
        let checked = ffi::check_signers(&cms, detached).map_err(Error::Cms)?;
        let mut signers = Vec::with_capacity(signer_infos.len());
        for (si, signature) in signer_infos.iter().zip(&checked.signers) {
            signers.push(self.report(si, signature, &certs, originators)?);
        }
        Ok(SignedContent {
            content: checked.content,
            signers,
            certificates: carried.iter().map(|c| c.to_owned()).collect(),
        })
    }

    fn report(
        &self,
        si: &ffi::SignerInfo<'_>,
        signature: &std::result::Result<(), openssl::error::ErrorStack>,
        certs: &Stack<X509>,
        originators: &Originators,
    ) -> Result<SignerReport> {
        let (digest_nid, digest_algorithm) = si.digest_algorithm();
        let (sig_nid, signature_algorithm) = si.signature_algorithm();
        let signing_time = si
            .signed_attribute_values(Nid::PKCS9_SIGNINGTIME)
            .first()
            .and_then(|v| asn1::time_to_unix(v));
        let capabilities = si
            .signed_attribute_values(Nid::SMIMECAPABILITIES)
            .first()
            .and_then(|v| asn1::smime_capabilities(v))
            .unwrap_or_default()
            .iter()
            .map(|oid| Capability::from_oid(oid))
            .collect();
        let mut problems = Vec::new();
        let certificate = si.certificate();
        let Some(cert) = certificate.clone() else {
            problems.push(SignerProblem::CertificateNotFound);
            return Ok(SignerReport {
                id: si.signer_id().map(CertificateId::from),
                certificate: None,
                subject: String::new(),
                digest_algorithm,
                signature_algorithm,
                signing_time,
                addresses: Vec::new(),
                address_match: AddressMatch::NotChecked,
                capabilities,
                encryption_certificate: None,
                problems,
            });
        };
        if let Err(e) = signature {
            problems.push(SignerProblem::BadSignature(describe(e)));
        }
        let key = match cert.public_key() {
            Ok(key) => Some(key),
            Err(e) => {
                problems.push(SignerProblem::UnusableKey(format!(
                    "{}; DSA keys whose parameters are inherited from the issuer are not supported",
                    describe(&e)
                )));
                None
            }
        };
        if !self.options.allow_legacy {
            if matches!(digest_nid, Nid::SHA1 | Nid::MD5) || digest_nid == Nid::UNDEF {
                problems.push(SignerProblem::LegacyAlgorithm(format!("digest {digest_algorithm}")));
            }
            let dsa = key.as_ref().is_some_and(|k| k.id() == Id::DSA)
                || matches!(sig_nid, Nid::DSA | Nid::DSAWITHSHA1);
            if dsa {
                problems.push(SignerProblem::LegacyAlgorithm("DSA signature".into()));
            } else if let Some(k) = key.as_ref().filter(|k| matches!(k.id(), Id::RSA | Id::RSA_PSS))
                && k.bits() < 2048
            {
                problems.push(SignerProblem::LegacyAlgorithm(format!("RSA-{} key", k.bits())));
            }
        }
        let ku_problem = ffi::key_usage(&cert)
            .is_some_and(|ku| ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION) == 0);
        let eku_problem =
            ffi::extended_key_usage(&cert).is_some_and(|x| x & (XKU_SMIME | XKU_ANYEKU) == 0);
        if ku_problem {
            problems.push(SignerProblem::KeyUsage);
        }
        if eku_problem {
            problems.push(SignerProblem::ExtendedKeyUsage);
        }
        let chain = if key.is_some() { self.chain_error(&cert, certs)? } else { None };
        if let Some((code, reason)) = chain {
            if code == CERT_HAS_EXPIRED {
                problems.push(SignerProblem::Expired(reason));
            } else if !(code == INVALID_PURPOSE && (ku_problem || eku_problem)) {
                problems.push(SignerProblem::Untrusted { code, reason });
            }
        }
        let addresses = identity::certificate_addresses(&cert);
        let address_match = identity::check(originators, &addresses, self.options.accept_sender);
        if !address_match.is_match() && address_match != AddressMatch::NotChecked {
            problems.push(SignerProblem::Address(address_match.clone()));
        }
        let encryption_certificate = si
            .signed_attribute_values(Nid::ID_SMIME_AA_ENCRYPKEYPREF)
            .first()
            .and_then(|v| preferred_certificate(v, certs));
        Ok(SignerReport {
            id: si.signer_id().map(CertificateId::from),
            encryption_certificate,
            subject: subject_of(&cert),
            certificate,
            digest_algorithm,
            signature_algorithm,
            signing_time,
            addresses,
            address_match,
            capabilities,
            problems,
        })
    }

    /// Verifies the chain for S/MIME signing; `None` when it is good.
    fn chain_error(&self, cert: &X509, untrusted: &Stack<X509>) -> Result<Option<(i32, String)>> {
        let mut builder = X509StoreBuilder::new()?;
        for anchor in &self.options.trust_anchors {
            builder.add_cert(anchor.clone())?;
        }
        let mut param = X509VerifyParam::new()?;
        param.set_purpose(X509PurposeId::SMIME_SIGN)?;
        // Security level 2 (112-bit): refuses SHA-1 signatures and RSA-1024 in the chain
        // unless legacy algorithms are allowed.
        param.set_auth_level(if self.options.allow_legacy { 0 } else { 2 });
        if let Some(t) = self.options.at_time {
            param.set_time(t as _);
        }
        builder.set_param(&param)?;
        let store = builder.build();
        let mut ctx = X509StoreContext::new()?;
        let outcome = ctx.init(&store, cert, untrusted, |c| {
            let ok = c.verify_cert();
            Ok((ok, c.error()))
        })?;
        match outcome {
            (Ok(true), _) => Ok(None),
            (Ok(false), err) => Ok(Some((err.as_raw(), err.error_string().to_owned()))),
            // OpenSSL could not even build the chain (undecodable key in it, ...).
            (Err(e), err) => Ok(Some((err.as_raw(), format!("chain not built: {}", describe(&e))))),
        }
    }
}

/// The certificate an SMIMEEncryptionKeyPreference value names by issuer and serial number
/// (`[0] IMPLICIT IssuerAndSerialNumber`), among `certs`.
fn preferred_certificate(value: &[u8], certs: &Stack<X509>) -> Option<X509> {
    let wanted = IssuerAndSerialNumber::from_key_preference(value)?;
    let issuer = wanted.issuer.to_der().ok()?;
    certs
        .iter()
        .find(|c| {
            c.issuer_name().to_der().ok().as_deref() == Some(&issuer[..])
                && c.serial_number().to_bn().is_ok_and(|bn| {
                    UintRef::new(&bn.to_vec()).is_ok_and(|serial| serial == wanted.serial_number)
                })
        })
        .map(|c| c.to_owned())
}
