//! Certificates and keys from PEM files, and their fingerprints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use data_encoding::HEXUPPER;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::error::TlsError;

/// Where a certificate chain and its key live: a PEM file with the leaf first and then the
/// intermediates (the chain is served as given), and a PEM private key (RSA, ECDSA or
/// Ed25519; PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    /// The chain, leaf first.
    pub chain: PathBuf,
    /// The private key of the leaf.
    pub key: PathBuf,
}

impl CertificateFiles {
    /// Names the two files.
    pub fn new(chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        CertificateFiles { chain: chain.into(), key: key.into() }
    }

    /// Loads and checks the pair: the key must sign and must belong to the leaf.
    pub fn load(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let chain = read_chain(&self.chain)?;
        let key = read_key(&self.key)?;
        let bad = |reason, source: rustls::Error| TlsError::BadKey {
            key: self.key.clone(),
            chain: self.chain.clone(),
            reason,
            source: Box::new(source),
        };
        let signing = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| bad("unsupported key type", e))?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) => Ok(Arc::new(certified)),
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(Arc::new(certified))
            }
            Err(e) => Err(bad("it does not match the certificate", e)),
        }
    }
}

/// Reads every certificate of a PEM file.
pub fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let io = |source| TlsError::Io { path: path.to_owned(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate { path: path.to_owned() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_owned() });
    }
    Ok(chain)
}

/// Reads the first private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes =
        std::fs::read(path).map_err(|source| TlsError::Io { path: path.to_owned(), source })?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::NoKey { path: path.to_owned() })
}

/// SHA-256 of a DER certificate (what Postfix calls the certificate fingerprint).
///
/// ```
/// let fp = sealpost_starttls::sha256(b"abc");
/// assert_eq!(sealpost_starttls::hex_colon(&fp[..4]), "BA:78:16:BF");
/// ```
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// SHA-256 of the certificate's SubjectPublicKeyInfo (the "public key fingerprint",
/// stable across renewals with the same key; DANE selector 1).
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(sha256(parsed.subject_public_key_info().as_ref()))
}

/// Upper-case hex with colons, the usual way to print fingerprints.
pub fn hex_colon(bytes: &[u8]) -> String {
    bytes.iter().map(|b| HEXUPPER.encode(std::slice::from_ref(b))).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki").join(name)
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_with_rustls_error_as_the_cause() {
        let files = CertificateFiles::new(pki("server-chain.pem"), pki("client-key.pem"));
        let err = files.load().unwrap_err();
        let TlsError::BadKey { reason, .. } = &err else { panic!("{err:?}") };
        assert_eq!(*reason, "it does not match the certificate");
        let cause = std::error::Error::source(&err).expect("a cause");
        let rustls_error = cause.downcast_ref::<rustls::Error>();
        assert!(matches!(rustls_error, Some(rustls::Error::InconsistentKeys(_))), "{cause:?}");
        assert!(err.to_string().contains("server-chain.pem"), "{err}");
    }
}
