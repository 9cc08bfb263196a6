//! Errors of the TLS transport.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while setting up or running TLS. Every variant says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: io::Error,
    },
    /// The file holds no PEM certificate.
    #[error("{}: no certificate found; expected PEM \"CERTIFICATE\" blocks, leaf first", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no usable private key.
    #[error("{}: no private key found; expected a PEM PKCS#8, PKCS#1 (RSA) or SEC1 (EC) key", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key could not be used for signing, or does not belong to the certificate.
    #[error("{}: the private key cannot be used with {}: {reason}", key.display(), chain.display())]
    BadKey {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        chain: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The trust anchors for client certificates are unusable.
    #[error("client certificate trust anchors: {0}")]
    ClientRoots(String),
    /// Plaintext bytes arrived after STARTTLS, before the handshake (RFC 3207 section 5:
    /// they must not be read as if they came through TLS).
    #[error("{0} plaintext bytes arrived after STARTTLS, before the TLS handshake")]
    InjectedBytes(usize),
    /// The peer did not finish the handshake in time.
    #[error("TLS handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake failed (bad certificate, no shared version or cipher, garbage).
    #[error("TLS handshake failed: {0}")]
    Handshake(io::Error),
    /// A self-signed certificate could not be made or stored.
    #[error("self-signed certificate: {0}")]
    SelfSigned(String),
}
