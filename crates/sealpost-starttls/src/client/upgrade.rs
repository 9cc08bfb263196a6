//! Outbound policies and handshakes: implicit TLS and the STARTTLS upgrade.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::verify::{Check, PolicyVerifier, result_type_of};
use crate::client::{Fingerprint, OutboundTls, SecurityLevel};
use crate::error::TlsError;
use crate::outcome::TlsOutcome;
use crate::server::DEFAULT_HANDSHAKE_TIMEOUT;

/// Sessions kept for resumption per [`TlsClient`] (rustls keys them by server name).
const RESUMPTION_SESSIONS: usize = 256;

/// The root certificates of the Mozilla program (webpki-roots): the trust anchors of
/// `verify` and `secure` when none are configured. Needs the `webpki-roots` feature.
#[cfg(feature = "webpki-roots")]
#[cfg_attr(docsrs, doc(cfg(feature = "webpki-roots")))]
pub fn mozilla_roots() -> Arc<RootCertStore> {
    Arc::new(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
}

/// What one destination demands of TLS: the level and what the level checks against.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct TlsPolicy {
    /// The security level.
    pub level: SecurityLevel,
    /// Names the certificate must carry (any one of them) at `verify` and `secure`. Empty:
    /// the name the connection is made to (the MX host; for `secure`, the caller passes the
    /// next-hop domain here).
    pub match_names: Vec<String>,
    /// Pins for `fingerprint`.
    pub fingerprints: Vec<Fingerprint>,
    /// Trust anchors for `verify` and `secure`; `None` means `mozilla_roots()` (with the
    /// `webpki-roots` feature; without it, `None` is refused by [`TlsClient::new`]).
    pub roots: Option<Arc<RootCertStore>>,
    /// A client certificate to present when the server asks for one.
    pub client_certificate: Option<Arc<CertifiedKey>>,
    /// The handshake deadline.
    pub handshake_timeout: Option<Duration>,
    /// A verifier that replaces the level's own check (DANE plugs in here); sessions it
    /// accepts are reported verified.
    verifier: Option<Arc<dyn ServerCertVerifier>>,
}

impl fmt::Debug for TlsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPolicy")
            .field("level", &self.level)
            .field("match_names", &self.match_names)
            .field("fingerprints", &self.fingerprints)
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("client_certificate", &self.client_certificate.is_some())
            .field("custom_verifier", &self.verifier.is_some())
            .finish()
    }
}

impl TlsPolicy {
    /// A policy of `level` with the default trust anchors and no names or pins.
    pub fn new(level: SecurityLevel) -> Self {
        TlsPolicy { level, ..TlsPolicy::default() }
    }

    /// Adds a name the certificate may carry.
    #[must_use]
    pub fn match_name(mut self, name: impl Into<String>) -> Self {
        self.match_names.push(name.into());
        self
    }

    /// Adds a pin.
    #[must_use]
    pub fn fingerprint(mut self, pin: Fingerprint) -> Self {
        self.fingerprints.push(pin);
        self
    }

    /// Replaces the trust anchors.
    #[must_use]
    pub fn roots(mut self, roots: Arc<RootCertStore>) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Presents this certificate when the server asks for one.
    #[must_use]
    pub fn client_certificate(mut self, key: Arc<CertifiedKey>) -> Self {
        self.client_certificate = Some(key);
        self
    }

    /// Sets the handshake deadline.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = Some(timeout);
        self
    }

    /// Replaces the level's certificate check by `verifier` (for example a DANE
    /// verifier). TLS is then required, and a session it accepts is reported verified.
    /// The verifier must check handshake signatures itself.
    #[must_use]
    pub fn with_verifier(mut self, verifier: Arc<dyn ServerCertVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// True when delivery must not go on without TLS.
    pub fn requires_tls(&self) -> bool {
        self.level.requires_tls() || self.verifier.is_some()
    }

    /// True when a session under this policy is authenticated.
    pub fn authenticates(&self) -> bool {
        self.level.authenticates() || self.verifier.is_some()
    }

    fn verifier(&self) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
        if let Some(verifier) = &self.verifier {
            return Ok(verifier.clone());
        }
        let verifier = match self.level {
            SecurityLevel::Fingerprint => {
                if self.fingerprints.is_empty() {
                    return Err(TlsError::Policy(
                        "level fingerprint needs at least one SHA-256 fingerprint".into(),
                    ));
                }
                PolicyVerifier::new(Check::Pins(self.fingerprints.clone()))
            }
            SecurityLevel::Verify | SecurityLevel::Secure => {
                let names = self
                    .match_names
                    .iter()
                    .map(|n| {
                        ServerName::try_from(n.as_str())
                            .map(|s| s.to_owned())
                            .map_err(|_| TlsError::InvalidServerName(n.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let roots = match &self.roots {
                    Some(roots) => roots.clone(),
                    None => default_roots(self.level)?,
                };
                PolicyVerifier::pkix(roots, names).map_err(TlsError::TrustAnchors)?
            }
            // Without DANE support nothing can look the TLSA records up or check them:
            // `dane` would quietly be `may`, weaker than what was configured.
            level if level.is_dane() && !cfg!(feature = "dane") => {
                return Err(TlsError::Unsupported {
                    what: if level == SecurityLevel::Dane {
                        "security level dane"
                    } else {
                        "security level dane-only"
                    },
                    feature: "dane",
                });
            }
            SecurityLevel::DaneOnly => {
                return Err(TlsError::Policy(
                    "level dane-only needs the DNSSEC-validated TLSA records of the MX host: \
                     plug a DaneVerifier in with TlsPolicy::with_verifier (sealpost-client \
                     does this per host)"
                        .into(),
                ));
            }
            _ => PolicyVerifier::new(Check::Nothing),
        };
        Ok(Arc::new(verifier))
    }
}

/// The trust anchors of `verify` and `secure` when the policy names none.
#[cfg(feature = "webpki-roots")]
fn default_roots(_level: SecurityLevel) -> Result<Arc<RootCertStore>, TlsError> {
    Ok(mozilla_roots())
}

/// Without Mozilla's roots built in, a PKIX level needs configured trust anchors: an
/// empty store would refuse every server, which is a configuration error worth naming.
#[cfg(not(feature = "webpki-roots"))]
fn default_roots(level: SecurityLevel) -> Result<Arc<RootCertStore>, TlsError> {
    Err(TlsError::Unsupported {
        what: if level == SecurityLevel::Secure {
            "security level secure without configured trust anchors"
        } else {
            "security level verify without configured trust anchors"
        },
        feature: "webpki-roots",
    })
}

/// Presents one fixed certificate to servers that ask.
#[derive(Debug)]
struct FixedClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedClientCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Runs outbound handshakes under one [`TlsPolicy`]: TLS 1.2 and 1.3, the policy's
/// verifier (which always checks handshake signatures), an optional client certificate,
/// and a session-resumption cache of its own.
#[derive(Clone)]
pub struct TlsClient {
    level: SecurityLevel,
    authenticates: bool,
    requires_tls: bool,
    connector: tokio_rustls::TlsConnector,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("level", &self.level)
            .field("authenticates", &self.authenticates)
            .field("requires_tls", &self.requires_tls)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Builds the rustls configuration of `policy`. Fails on a policy that cannot work
    /// (level fingerprint without pins, a match name that is not a DNS name or address).
    pub fn new(policy: &TlsPolicy) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&TLS13, &TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(policy.verifier()?);
        let mut config = match &policy.client_certificate {
            Some(key) => builder.with_client_cert_resolver(Arc::new(FixedClientCert(key.clone()))),
            None => builder.with_no_client_auth(),
        };
        config.resumption = Resumption::in_memory_sessions(RESUMPTION_SESSIONS);
        Ok(TlsClient {
            level: policy.level,
            authenticates: policy.authenticates(),
            requires_tls: policy.requires_tls(),
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            handshake_timeout: policy.handshake_timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
        })
    }

    /// The level of the policy.
    pub fn level(&self) -> SecurityLevel {
        self.level
    }

    /// True when the policy forbids going on without TLS.
    pub fn requires_tls(&self) -> bool {
        self.requires_tls
    }

    /// True when sessions of this client are authenticated (reported verified).
    pub fn authenticates(&self) -> bool {
        self.authenticates
    }

    /// Implicit TLS (RFC 8314): the handshake on a fresh connection to `server_name` (a
    /// DNS name, sent as SNI, or an IP address). A server that answers in plaintext is
    /// reported as [`TlsError::NotTls`].
    pub async fn connect<S>(
        &self,
        stream: S,
        server_name: &str,
    ) -> Result<(tokio_rustls::client::TlsStream<S>, OutboundTls), TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(server_name)
            .map_err(|_| TlsError::InvalidServerName(server_name.to_owned()))?
            .to_owned();
        // rustls sends SNI only for DNS names, never for addresses (RFC 6066 section 3).
        let sni = matches!(name, ServerName::DnsName(_)).then_some(server_name);
        let handshake = self.connector.connect(name, stream);
        let tls = match tokio::time::timeout(self.handshake_timeout, handshake).await {
            Err(_) => return Err(TlsError::HandshakeTimeout(self.handshake_timeout)),
            Ok(Err(e)) => return Err(handshake_error(e)),
            Ok(Ok(tls)) => tls,
        };
        let authenticates = self.authenticates;
        let (outcome, resumed) = {
            let conn = tls.get_ref().1;
            let outcome = TlsOutcome::from_connection(
                conn.protocol_version(),
                conn.negotiated_cipher_suite().map(|s| s.suite()),
                sni,
                conn.peer_certificates(),
                |_| authenticates,
            );
            (outcome, conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed))
        };
        let mut report = OutboundTls::established(self.level, outcome, authenticates);
        report.resumed = resumed;
        Ok((tls, report))
    }

    /// The STARTTLS upgrade after the server's 220. `buffered` is the number of bytes
    /// read after the final line of that reply: a server (or a man in the middle) that
    /// sends them hopes they are taken as replies received under TLS, so any such byte
    /// aborts the upgrade.
    pub async fn upgrade<S>(
        &self,
        stream: S,
        buffered: usize,
        server_name: &str,
    ) -> Result<(tokio_rustls::client::TlsStream<S>, OutboundTls), TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if buffered > 0 {
            return Err(TlsError::InjectedBytes(buffered));
        }
        self.connect(stream, server_name).await.map_err(|e| match e {
            TlsError::NotTls => TlsError::PlaintextAfterStartTls,
            other => other,
        })
    }
}

/// Turns tokio-rustls's I/O error back into what happened.
fn handshake_error(error: std::io::Error) -> TlsError {
    let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return TlsError::Handshake(error);
    };
    match tls {
        rustls::Error::InvalidCertificate(_) => {
            TlsError::CertificateRejected { result_type: result_type_of(tls), reason: tls.clone() }
        }
        // An SMTP greeting ("220 ...") is not a TLS record: the first octet is no content
        // type. That is the plaintext port given where implicit TLS was expected.
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            TlsError::NotTls
        }
        _ => TlsError::Handshake(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(policy: &TlsPolicy) -> Option<(&'static str, &'static str)> {
        match TlsClient::new(policy) {
            Err(TlsError::Unsupported { what, feature }) => Some((what, feature)),
            Err(other) => panic!("expected Unsupported, got {other}"),
            Ok(_) => None,
        }
    }

    #[cfg(not(feature = "dane"))]
    #[test]
    fn without_the_dane_feature_the_dane_levels_are_refused_by_name() {
        let dane = TlsPolicy::new(SecurityLevel::Dane);
        assert_eq!(refusal(&dane), Some(("security level dane", "dane")));
        let only = TlsPolicy::new(SecurityLevel::DaneOnly);
        assert_eq!(refusal(&only), Some(("security level dane-only", "dane")));
        let err = TlsClient::new(&dane).unwrap_err().to_string();
        assert_eq!(
            err,
            "TLS policy: security level dane needs sealpost-starttls's `dane` feature, which \
             this build does not have"
        );
        // A verifier of the caller's own makes the level usable again.
        let plugged = dane.with_verifier(Arc::new(PolicyVerifier::new(Check::Nothing)));
        assert_eq!(refusal(&plugged), None);
    }

    #[cfg(feature = "dane")]
    #[test]
    fn with_the_dane_feature_dane_alone_is_opportunistic_and_dane_only_needs_records() {
        let dane = TlsClient::new(&TlsPolicy::new(SecurityLevel::Dane)).unwrap();
        assert!(!dane.requires_tls() && !dane.authenticates());
        match TlsClient::new(&TlsPolicy::new(SecurityLevel::DaneOnly)) {
            Err(TlsError::Policy(reason)) => assert!(reason.contains("DaneVerifier"), "{reason}"),
            other => panic!("expected a policy error, got {other:?}"),
        }
    }

    /// The committed test PKI's root (`tests/pki/`, see its README).
    #[cfg(not(feature = "webpki-roots"))]
    fn test_roots() -> Arc<RootCertStore> {
        let bundle =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki/ca-bundle.pem");
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(crate::read_chain(&bundle).unwrap());
        assert_eq!(roots.len(), 1);
        Arc::new(roots)
    }

    #[cfg(not(feature = "webpki-roots"))]
    #[test]
    fn without_mozilla_roots_verify_and_secure_need_configured_roots() {
        for (level, what) in [
            (SecurityLevel::Verify, "security level verify without configured trust anchors"),
            (SecurityLevel::Secure, "security level secure without configured trust anchors"),
        ] {
            assert_eq!(refusal(&TlsPolicy::new(level)), Some((what, "webpki-roots")));
            let configured = TlsPolicy::new(level).roots(test_roots());
            assert_eq!(refusal(&configured), None, "{level}");
        }
    }

    #[cfg(feature = "webpki-roots")]
    #[test]
    fn with_mozilla_roots_verify_needs_no_configured_roots() {
        assert!(!mozilla_roots().is_empty());
        let client = TlsClient::new(&TlsPolicy::new(SecurityLevel::Verify)).unwrap();
        assert!(client.requires_tls() && client.authenticates());
    }

    #[test]
    fn the_levels_without_optional_parts_build_in_every_configuration() {
        for level in [SecurityLevel::None, SecurityLevel::May, SecurityLevel::Encrypt] {
            assert_eq!(refusal(&TlsPolicy::new(level)), None, "{level}");
        }
        let pinned = TlsPolicy::new(SecurityLevel::Fingerprint).fingerprint(Fingerprint([7; 32]));
        assert_eq!(refusal(&pinned), None);
    }
}
