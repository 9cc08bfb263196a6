//! Authenticating a server's certificate chain against TLSA records (RFC 7672 section 3),
//! as a rustls verifier.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use der::Decode as _;
use der::asn1::SequenceRef;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, OtherError};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use super::tlsa::{CertUsage, MatchingType, Selector, Tlsa};
use crate::tlsrpt::ResultType;

/// Which record authenticated the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DaneMatch {
    /// The record that matched.
    pub record: Tlsa,
    /// For DANE-TA, the reference name the certificate matched; `None` for DANE-EE, which
    /// ignores names.
    pub name: Option<String>,
}

/// Why DANE authentication failed, with the TLS-RPT result type to report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DANE: {reason} ({result_type})")]
pub struct DaneFailure {
    /// The RFC 8460 result type.
    pub result_type: ResultType,
    /// What happened, for logs.
    pub reason: String,
}

impl DaneFailure {
    pub(crate) fn new(result_type: ResultType, reason: impl Into<String>) -> Self {
        DaneFailure { result_type, reason: reason.into() }
    }

    /// The DANE failure inside an error returned by a handshake that used a
    /// [`DaneVerifier`], if that is why the handshake failed.
    ///
    /// ```
    /// use sealpost_starttls::dane::DaneFailure;
    ///
    /// assert!(DaneFailure::from_rustls(&sealpost_starttls::rustls::Error::HandshakeNotComplete).is_none());
    /// ```
    pub fn from_rustls(error: &rustls::Error) -> Option<&DaneFailure> {
        match error {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                other.0.downcast_ref::<DaneFailure>()
            }
            _ => None,
        }
    }
}

/// A rustls [`ServerCertVerifier`] that authenticates the server with DANE TLSA records
/// (RFC 7672): DANE-EE records match the leaf certificate regardless of names and dates;
/// DANE-TA records match a trust anchor that the chain must lead to (validity dates are
/// checked), and the leaf must carry one of the reference names. Handshake signatures
/// are still checked with the crypto provider's algorithms.
///
/// Only the records given are used; the caller must have obtained them from a
/// DNSSEC-secure answer (see [`dane_policy`](super::dane_policy)).
///
/// ```
/// use sealpost_starttls::dane::{DaneVerifier, Tlsa};
/// use sealpost_starttls::tlsrpt::ResultType;
///
/// let provider = std::sync::Arc::new(sealpost_starttls::rustls::crypto::ring::default_provider());
/// // PKIX-EE (usage 1) is unusable for SMTP: no verifier can be built from it alone.
/// let unusable: Tlsa = "1 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
///     .parse()
///     .unwrap();
/// let err = DaneVerifier::new(vec![unusable], vec!["mx.example.com".into()], provider).unwrap_err();
/// assert_eq!(err.result_type, ResultType::TlsaInvalid);
/// ```
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    names: Vec<String>,
    signatures: crate::signatures::HandshakeSignatures,
    last_failure: Mutex<Option<DaneFailure>>,
}

impl fmt::Debug for DaneVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaneVerifier")
            .field("records", &self.records)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl DaneVerifier {
    /// A verifier for the usable records among `records`, accepting DANE-TA chains whose
    /// leaf matches one of `names` (RFC 7672 section 3.2.2: the TLSA base domain and the
    /// MX host name; when empty, the name the handshake was started for). Fails with
    /// `tlsa-invalid` when no record is usable.
    pub fn new(
        records: Vec<Tlsa>,
        names: Vec<String>,
        provider: Arc<CryptoProvider>,
    ) -> Result<DaneVerifier, DaneFailure> {
        let total = records.len();
        let records: Vec<Tlsa> = records.into_iter().filter(Tlsa::is_usable).collect();
        if records.is_empty() {
            return Err(DaneFailure::new(
                ResultType::TlsaInvalid,
                format!("none of the {total} TLSA records is usable for SMTP"),
            ));
        }
        let names = names.iter().map(|n| crate::dns::normalize(n)).collect();
        Ok(DaneVerifier {
            records,
            names,
            signatures: crate::signatures::HandshakeSignatures::of(&provider),
            last_failure: Mutex::new(None),
        })
    }

    /// The usable records this verifier checks.
    pub fn records(&self) -> &[Tlsa] {
        &self.records
    }

    /// The failure of the most recent verification, if it failed.
    pub fn last_failure(&self) -> Option<DaneFailure> {
        self.last_failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Checks a presented chain (`end_entity` then `intermediates`, as sent by the server)
    /// at time `now`. `server_name` is used as the reference name when none were
    /// configured.
    pub fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: Option<&str>,
        now: UnixTime,
    ) -> Result<DaneMatch, DaneFailure> {
        // DANE-EE first: one match of the leaf is enough (RFC 7672 section 3.1.1).
        for record in self.records.iter().filter(|r| r.usage == CertUsage::DaneEe) {
            if record.matches(end_entity) {
                return Ok(DaneMatch { record: record.clone(), name: None });
            }
        }

        let names: Vec<String> = if self.names.is_empty() {
            server_name.map(crate::dns::normalize).into_iter().collect()
        } else {
            self.names.clone()
        };
        let mut failure: Option<DaneFailure> = None;
        for record in self.records.iter().filter(|r| r.usage == CertUsage::DaneTa) {
            for anchor in anchors_for(record, end_entity, intermediates) {
                match self.verify_with_anchor(end_entity, intermediates, &anchor, &names, now) {
                    Ok(name) => return Ok(DaneMatch { record: record.clone(), name: Some(name) }),
                    Err(f) => failure = Some(prefer(failure, f)),
                }
            }
        }
        Err(failure.unwrap_or_else(|| {
            DaneFailure::new(
                ResultType::TlsaInvalid,
                format!(
                    "no certificate in the server's chain matches any of the {} TLSA records",
                    self.records.len()
                ),
            )
        }))
    }

    fn verify_with_anchor(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        anchor: &TrustAnchor<'_>,
        names: &[String],
        now: UnixTime,
    ) -> Result<String, DaneFailure> {
        let leaf = webpki::EndEntityCert::try_from(end_entity).map_err(|e| {
            DaneFailure::new(ResultType::ValidationFailure, format!("bad server certificate: {e}"))
        })?;
        leaf.verify_for_usage(
            self.signatures.algorithms().all,
            std::slice::from_ref(anchor),
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| {
            let result_type = match e {
                webpki::Error::CertExpired { .. } => ResultType::CertificateExpired,
                _ => ResultType::ValidationFailure,
            };
            DaneFailure::new(result_type, format!("chain to the DANE-TA trust anchor: {e}"))
        })?;
        for name in names {
            let Ok(server_name) = ServerName::try_from(name.as_str()) else { continue };
            if leaf.verify_is_valid_for_subject_name(&server_name).is_ok() {
                return Ok(name.clone());
            }
        }
        Err(DaneFailure::new(
            ResultType::CertificateHostMismatch,
            format!("the certificate matches none of the names {names:?}"),
        ))
    }

    /// Keeps the outcome for [`last_failure`](Self::last_failure).
    fn remember(&self, result: &Result<DaneMatch, DaneFailure>) {
        let mut last = self.last_failure.lock().unwrap_or_else(PoisonError::into_inner);
        *last = result.as_ref().err().cloned();
    }
}

/// Keeps the more specific of two failures: a chain or name problem says more than "no
/// match".
fn prefer(old: Option<DaneFailure>, new: DaneFailure) -> DaneFailure {
    match old {
        Some(old) if old.result_type != ResultType::TlsaInvalid => old,
        _ => new,
    }
}

/// The trust anchors a DANE-TA record designates: every certificate of the presented
/// chain above the leaf that matches it; when none does and the record holds the anchor
/// in full (`2 0 0`, `2 1 0`), the anchor from the record itself. RFC 7672 section 3.1.2
/// lets servers leave the anchor out of the chain only in those cases; digests (`2 x 1`,
/// `2 x 2`) need it in the chain.
fn anchors_for<'a>(
    record: &'a Tlsa,
    end_entity: &'a CertificateDer<'a>,
    intermediates: &'a [CertificateDer<'a>],
) -> Vec<TrustAnchor<'a>> {
    let mut anchors: Vec<TrustAnchor<'a>> = intermediates
        .iter()
        .filter(|c| record.matches(c))
        .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
        .collect();
    if anchors.is_empty() && record.matching == MatchingType::Exact {
        match record.selector {
            // `2 0 0` carries the whole anchor certificate: usable without the server
            // sending it.
            Selector::FullCert => anchors.extend(
                webpki::anchor_from_trusted_cert(&CertificateDer::from(record.data.as_slice()))
                    .ok()
                    .map(|a| a.to_owned()),
            ),
            Selector::Spki => {
                anchors.extend(bare_key_anchor(record, intermediates.last().unwrap_or(end_entity)))
            }
            Selector::Other(_) => {}
        }
    }
    anchors
}

/// A trust anchor made of a bare key (`2 1 0`): named as the issuer of the topmost
/// certificate presented.
fn bare_key_anchor<'a>(record: &'a Tlsa, top: &'a CertificateDer<'a>) -> Option<TrustAnchor<'a>> {
    let top = webpki::EndEntityCert::try_from(top).ok()?;
    let spki = sequence_contents(&record.data)?;
    Some(TrustAnchor {
        subject: top.issuer().to_vec().into(),
        subject_public_key_info: spki.to_vec().into(),
        name_constraints: None,
    })
}

/// The contents of a DER SEQUENCE that spans all of `der`: a SubjectPublicKeyInfo without
/// its outer tag and length, as webpki's `TrustAnchor` holds it.
fn sequence_contents(der: &[u8]) -> Option<&[u8]> {
    <&SequenceRef>::from_der(der).ok().map(SequenceRef::as_bytes)
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = match server_name {
            ServerName::DnsName(dns) => Some(dns.as_ref().to_owned()),
            _ => None,
        };
        let result = self.verify_chain(end_entity, intermediates, name.as_deref(), now);
        self.remember(&result);
        match result {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            Err(failure) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(failure)),
            ))),
        }
    }

    crate::signatures::handshake_signature_methods!();
}
