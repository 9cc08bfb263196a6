//! The handshake-signature half of every rustls verifier in this crate.
//!
//! Each custom verifier (the outbound levels, DANE, "any client certificate") decides
//! about the certificate in its own way, but all of them must still verify that the peer
//! signed the handshake with the key of the certificate it presented: a verifier that
//! skipped it would accept a replayed certificate. This is that one part, shared.

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::CertificateDer;

/// Verifies TLS 1.2 and 1.3 handshake signatures with a crypto provider's algorithms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HandshakeSignatures(WebPkiSupportedAlgorithms);

impl HandshakeSignatures {
    /// The algorithms of `provider`.
    pub(crate) fn of(provider: &rustls::crypto::CryptoProvider) -> Self {
        HandshakeSignatures(provider.signature_verification_algorithms)
    }

    /// The algorithms of the ring provider, the one this crate builds its configs with.
    pub(crate) fn ring() -> Self {
        HandshakeSignatures::of(&rustls::crypto::ring::default_provider())
    }

    /// The algorithms, for webpki's own chain checks (the DANE-TA chain walk).
    #[cfg(feature = "dane")]
    pub(crate) fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0
    }

    /// `verify_tls12_signature` of the verifier traits.
    pub(crate) fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    /// `verify_tls13_signature` of the verifier traits.
    pub(crate) fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    /// `supported_verify_schemes` of the verifier traits.
    pub(crate) fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The three handshake-signature methods of rustls's `ServerCertVerifier` and
/// `ClientCertVerifier` (the same in both), delegated to a `signatures` field holding a
/// [`HandshakeSignatures`]: every verifier of the crate checks them the same way.
macro_rules! handshake_signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.signatures.tls12(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.signatures.tls13(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.signatures.schemes()
        }
    };
}
pub(crate) use handshake_signature_methods;
