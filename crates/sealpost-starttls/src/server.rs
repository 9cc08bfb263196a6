//! The server side: implicit TLS and the STARTTLS upgrade.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::version::{TLS12, TLS13};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client_auth::ClientAuth;
use crate::error::TlsError;
use crate::outcome::TlsOutcome;
use crate::resolver::CertStore;

/// RFC 5321 section 4.5.3.2 gives no TLS figure; a handshake is a few round trips, so a
/// peer that takes longer than this is stalling a connection slot.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts TLS on a listener: TLS 1.2 and 1.3 only, the certificates of a [`CertStore`]
/// chosen by SNI, client certificates as configured, session resumption (tickets and a
/// session cache), and a handshake deadline.
///
/// ```no_run
/// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), sealpost_starttls::TlsError> {
/// use std::sync::Arc;
/// use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, TlsServer};
///
/// let store = Arc::new(CertStore::load(CertificateFiles::new("chain.pem", "key.pem"), vec![])?);
/// let server = TlsServer::new(store, ClientAuth::Off)?;
/// // Implicit TLS (port 465, RFC 8314):
/// let (stream, outcome) = server.accept(tcp).await?;
/// println!("{}", outcome.received_clause());
/// # drop(stream); Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsServer {
    acceptor: tokio_rustls::TlsAcceptor,
    client_auth: ClientAuth,
    handshake_timeout: Duration,
    store: Arc<CertStore>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("client_auth", &self.client_auth)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsServer {
    /// Builds the rustls configuration.
    pub fn new(store: Arc<CertStore>, client_auth: ClientAuth) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&TLS13, &TLS12])?
            .with_client_cert_verifier(client_auth.verifier()?)
            .with_cert_resolver(store.clone());
        // Resumption: stateless tickets for TLS 1.3 and 1.2, plus the default in-memory
        // session cache for 1.2 clients that do not take tickets.
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Ok(TlsServer { acceptor, client_auth, handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT, store })
    }

    /// Sets the handshake deadline.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The certificates in use.
    pub fn certificates(&self) -> &Arc<CertStore> {
        &self.store
    }

    /// Runs the server handshake on a fresh connection (implicit TLS).
    pub async fn accept<S>(
        &self,
        stream: S,
    ) -> Result<(tokio_rustls::server::TlsStream<S>, TlsOutcome), TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.acceptor.accept(stream);
        let tls = match tokio::time::timeout(self.handshake_timeout, handshake).await {
            Err(_) => return Err(TlsError::HandshakeTimeout(self.handshake_timeout)),
            Ok(Err(e)) => return Err(TlsError::Handshake(e)),
            Ok(Ok(tls)) => tls,
        };
        let outcome = {
            let conn = tls.get_ref().1;
            TlsOutcome::from_connection(
                conn.protocol_version(),
                conn.negotiated_cipher_suite().map(|s| s.suite()),
                conn.server_name(),
                conn.peer_certificates(),
                |chain| self.client_auth.is_verified(chain),
            )
        };
        Ok((tls, outcome))
    }

    /// The STARTTLS upgrade: `buffered` is the number of plaintext bytes already read after
    /// the STARTTLS command line. Any such byte was sent before the handshake and would
    /// otherwise be read as if it came through TLS (CVE-2011-0411), so the upgrade is
    /// refused. Partial lines never cross the boundary: the session that read them is
    /// reset by the caller.
    pub async fn upgrade<S>(
        &self,
        stream: S,
        buffered: usize,
    ) -> Result<(tokio_rustls::server::TlsStream<S>, TlsOutcome), TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if buffered > 0 {
            return Err(TlsError::InjectedBytes(buffered));
        }
        self.accept(stream).await
    }
}
