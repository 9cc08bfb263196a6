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
    #[error("{}: the private key cannot be used with {}: {reason} ({source})", key.display(), chain.display())]
    BadKey {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        chain: PathBuf,
        /// Why, in words.
        reason: &'static str,
        /// rustls's error, a [`rustls::Error`] (boxed: it is large, and this path is
        /// cold; as a trait object so that walking the chain reaches the rustls error itself).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The trust anchors for client certificates are unusable (a certificate rustls
    /// refuses as an anchor, or no anchor at all).
    #[error("client certificate trust anchors{}: {source}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    ClientRoots {
        /// The file they came from, when they came from one.
        path: Option<PathBuf>,
        /// rustls's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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
    /// A self-signed certificate could not be made (rcgen's error) or stored (an I/O
    /// error); the cause is kept.
    #[error("self-signed certificate: {0}")]
    SelfSigned(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The server's certificate failed the outbound policy's check.
    #[error("the server's certificate was refused ({result_type}): {reason}")]
    CertificateRejected {
        /// The RFC 8460 result type of the failure.
        result_type: crate::tlsrpt::ResultType,
        /// What rustls found.
        reason: rustls::Error,
    },
    /// Implicit TLS was expected, but the server answered in plaintext: the port is a
    /// plaintext (STARTTLS) port, so connect without implicit TLS.
    #[error(
        "the server answered in plaintext, not TLS: this is not an implicit-TLS port \
         (connect without implicit TLS and use STARTTLS)"
    )]
    NotTls,
    /// After the server's 220 to STARTTLS, the next bytes were not a TLS handshake: either
    /// plaintext injected behind the 220 (arriving in a later segment than the 220) or a
    /// server that does not really start TLS. Nothing was taken as an SMTP reply.
    #[error(
        "the server sent plaintext instead of a TLS handshake after its 220 to STARTTLS \
         (injected or garbled bytes); aborting"
    )]
    PlaintextAfterStartTls,
    /// A name to connect to or to match is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid DNS name or IP address")]
    InvalidServerName(String),
    /// An outbound TLS policy that cannot work.
    #[error("TLS policy: {0}")]
    Policy(String),
    /// The policy asks for something this build of sealpost-starttls was compiled without
    /// (a Cargo feature that is off): turn the feature on, or configure it differently.
    #[error(
        "TLS policy: {what} needs sealpost-starttls's `{feature}` feature, which this build \
         does not have"
    )]
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// The Cargo feature that provides it.
        feature: &'static str,
    },
    /// The trust anchors of an outbound `verify` or `secure` policy cannot build a
    /// verifier (for example an empty set).
    #[error("TLS policy: the trust anchors cannot be used: {0}")]
    TrustAnchors(#[source] rustls::client::VerifierBuilderError),
}

impl TlsError {
    /// The RFC 8460 result type to report for this failure of an outbound session.
    pub fn result_type(&self) -> crate::tlsrpt::ResultType {
        match self {
            TlsError::CertificateRejected { result_type, .. } => *result_type,
            _ => crate::tlsrpt::ResultType::ValidationFailure,
        }
    }
}
