//! The certificate checks of the outbound levels as one rustls verifier. Whatever the
//! level, the handshake signature is always verified against the presented certificate:
//! a level that ignores the certificate's trust still makes the server prove it holds the
//! key, and a pinned certificate is worthless without that proof.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use data_encoding::HEXLOWER_PERMISSIVE;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

use crate::certs::{hex_colon, sha256, spki_sha256};
use crate::tlsrpt::ResultType;

/// A SHA-256 pin of a server certificate (DER) or of its SubjectPublicKeyInfo, as
/// Postfix's `smtp_tls_fingerprint_cert_match` takes it: 64 hex digits, with or without
/// colons. A pin matches when it equals either digest of the leaf.
///
/// ```
/// use sealpost_starttls::client::Fingerprint;
///
/// let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// let pin: Fingerprint = hex.parse().unwrap();
/// assert_eq!(pin, sealpost_starttls::sha256(b"abc").into());
/// assert!(pin.to_string().starts_with("BA:78:16:BF"));
/// assert!("BA:78".parse::<Fingerprint>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl From<[u8; 32]> for Fingerprint {
    fn from(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_colon(&self.0))
    }
}

/// A fingerprint that is not 32 bytes of hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SHA-256 fingerprint {0:?}: expected 64 hex digits, colons allowed")]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFingerprint(s.to_owned());
        let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
        let bytes = HEXLOWER_PERMISSIVE.decode(&digits).map_err(|_| bad())?;
        <[u8; 32]>::try_from(bytes).map(Fingerprint).map_err(|_| bad())
    }
}

/// What the verifier checks about the certificate itself.
#[derive(Debug)]
pub(crate) enum Check {
    /// Nothing (none, may, encrypt): the session is reported untrusted.
    Nothing,
    /// The leaf or its key must match a pin.
    Pins(Vec<Fingerprint>),
    /// PKIX: the chain must reach `roots` and the leaf must name one of `names` (the
    /// name the connection was made to when the list is empty).
    Pkix { webpki: Arc<WebPkiServerVerifier>, names: Vec<ServerName<'static>> },
}

/// The rustls verifier of a [`TlsPolicy`](super::TlsPolicy).
#[derive(Debug)]
pub(crate) struct PolicyVerifier {
    check: Check,
    signatures: crate::signatures::HandshakeSignatures,
}

impl PolicyVerifier {
    pub(crate) fn new(check: Check) -> Self {
        PolicyVerifier { check, signatures: crate::signatures::HandshakeSignatures::ring() }
    }

    pub(crate) fn pkix(
        roots: Arc<RootCertStore>,
        names: Vec<ServerName<'static>>,
    ) -> Result<Self, rustls::client::VerifierBuilderError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider).build()?;
        Ok(Self::new(Check::Pkix { webpki, names }))
    }
}

impl ServerCertVerifier for PolicyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.check {
            Check::Nothing => Ok(ServerCertVerified::assertion()),
            Check::Pins(pins) => {
                let cert = sha256(end_entity.as_ref());
                let spki = spki_sha256(end_entity);
                let pinned = pins.iter().any(|p| p.0 == cert || Some(p.0) == spki);
                if pinned {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::ApplicationVerificationFailure,
                    ))
                }
            }
            Check::Pkix { webpki, names } => {
                let fallback = [server_name.to_owned()];
                let names = if names.is_empty() { &fallback[..] } else { &names[..] };
                let mut first_error = None;
                for name in names {
                    match webpki.verify_server_cert(
                        end_entity,
                        intermediates,
                        name,
                        ocsp_response,
                        now,
                    ) {
                        Ok(verified) => return Ok(verified),
                        // A chain error is the same for every name: no need to go on.
                        Err(e) if result_type_of(&e) != ResultType::CertificateHostMismatch => {
                            return Err(e);
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Err(first_error.unwrap_or(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName,
                )))
            }
        }
    }

    crate::signatures::handshake_signature_methods!();
}

/// The RFC 8460 result type of a handshake error (a `DaneFailure`, feature `dane`,
/// carries its own).
pub fn result_type_of(error: &rustls::Error) -> ResultType {
    use CertificateError as C;
    #[cfg(feature = "dane")]
    if let Some(dane) = crate::dane::DaneFailure::from_rustls(error) {
        return dane.result_type;
    }
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                ResultType::CertificateHostMismatch
            }
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => ResultType::CertificateExpired,
            C::UnknownIssuer | C::ApplicationVerificationFailure | C::Revoked => {
                ResultType::CertificateNotTrusted
            }
            _ => ResultType::ValidationFailure,
        },
        _ => ResultType::ValidationFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_and_without_colons() {
        let plain = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let colons = hex_colon(&plain.parse::<Fingerprint>().unwrap().0);
        assert_eq!(colons.parse::<Fingerprint>(), plain.parse::<Fingerprint>());
        assert_eq!(plain.parse::<Fingerprint>().unwrap().0[15], 0xff);
        for bad in ["", "00", &plain[..62], &format!("{plain}00"), &plain.replace('0', "g")] {
            assert_eq!(bad.parse::<Fingerprint>(), Err(BadFingerprint(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn certificate_errors_map_to_their_result_types() {
        let table = [
            (C::NotValidForName, ResultType::CertificateHostMismatch),
            (C::Expired, ResultType::CertificateExpired),
            (C::NotValidYet, ResultType::CertificateExpired),
            (C::UnknownIssuer, ResultType::CertificateNotTrusted),
            (C::ApplicationVerificationFailure, ResultType::CertificateNotTrusted),
            (C::BadSignature, ResultType::ValidationFailure),
            (C::BadEncoding, ResultType::ValidationFailure),
        ];
        use CertificateError as C;
        for (error, expected) in table {
            assert_eq!(result_type_of(&rustls::Error::InvalidCertificate(error)), expected);
        }
        assert_eq!(
            result_type_of(&rustls::Error::HandshakeNotComplete),
            ResultType::ValidationFailure
        );
    }
}
