//! Client certificates on a listener: off, optional (any issuer), optional with a CA,
//! required.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DistinguishedName, RootCertStore};

use crate::certs::read_chain;
use crate::error::TlsError;

/// Whether and how a listener asks for client certificates.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// Never ask (the default).
    #[default]
    Off,
    /// Ask; accept any certificate (its fingerprints identify the client, as with
    /// Postfix's `relay_clientcerts`); never verified against a CA.
    Optional,
    /// Ask; accept any certificate, and report it verified when it chains to these roots.
    OptionalWithCa(Arc<RootCertStore>),
    /// Demand a certificate that chains to these roots; the handshake fails otherwise.
    Required(Arc<RootCertStore>),
}

impl ClientAuth {
    /// Trust anchors from a PEM file (one or more CA certificates).
    pub fn roots_from_pem(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in read_chain(path)? {
            roots.add(cert).map_err(|e| TlsError::ClientRoots {
                path: Some(path.to_owned()),
                source: Box::new(e),
            })?;
        }
        Ok(Arc::new(roots))
    }

    /// The rustls verifier for this mode.
    pub(crate) fn verifier(&self) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
        Ok(match self {
            ClientAuth::Off => WebPkiClientVerifier::no_client_auth(),
            ClientAuth::Optional | ClientAuth::OptionalWithCa(_) => Arc::new(AnyClientCert::new()),
            ClientAuth::Required(roots) => WebPkiClientVerifier::builder(roots.clone())
                .build()
                .map_err(|e| TlsError::ClientRoots { path: None, source: Box::new(e) })?,
        })
    }

    /// Whether a presented chain chains to the configured roots (after the handshake).
    pub(crate) fn is_verified(&self, chain: &[CertificateDer<'static>]) -> bool {
        let (roots, Some((leaf, intermediates))) = (self.roots(), chain.split_first()) else {
            return false;
        };
        let Some(roots) = roots else { return false };
        let Ok(verifier) = WebPkiClientVerifier::builder(roots).build() else {
            return false;
        };
        verifier.verify_client_cert(leaf, intermediates, UnixTime::now()).is_ok()
    }

    fn roots(&self) -> Option<Arc<RootCertStore>> {
        match self {
            ClientAuth::OptionalWithCa(roots) | ClientAuth::Required(roots) => Some(roots.clone()),
            _ => None,
        }
    }
}

/// Accepts any client certificate but still checks that the client owns its key: the
/// handshake signature is verified like any other (a verifier that skips it would let
/// anyone replay a certificate it saw).
#[derive(Debug)]
struct AnyClientCert {
    signatures: crate::signatures::HandshakeSignatures,
}

impl AnyClientCert {
    fn new() -> Self {
        AnyClientCert { signatures: crate::signatures::HandshakeSignatures::ring() }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    crate::signatures::handshake_signature_methods!();
}
