//! Listeners, their roles, and the accept loop with limits and graceful shutdown.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sealpost_codec::server::{AuthConfig, ServerConfig, TlsOffer};
use sealpost_codec::{Mechanism, SessionPhase};
use sealpost_starttls::TlsServer;
use sealpost_starttls::driver::Deadlines;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::handler::Handler;
use crate::limits::{AuthFailures, ConnectionCounter, ConnectionGuard, Limits};
use crate::proxy::ProxyPolicy;

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Port 25 style: mail from anyone for our domains; STARTTLS offered; AUTH only after
    /// TLS; relaying only for authenticated users.
    Mx,
    /// Port 587 (RFC 6409): STARTTLS required before AUTH and MAIL, AUTH before MAIL.
    Submission,
    /// Port 465 (RFC 8314): implicit TLS, AUTH before MAIL.
    Submissions,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Mx => "mx",
            Role::Submission => "submission",
            Role::Submissions => "submissions",
        })
    }
}

/// RFC 5321 section 4.5.3.2 timeouts, server side, plus TLS and shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Waiting for the next command (RFC 5321: at least 5 minutes): a deadline for the
    /// whole command line, so a client cannot stretch it by sending an octet at a time.
    pub command: Duration,
    /// Waiting for the next piece of message data (RFC 5321: 3 minutes per data block);
    /// renewed by every read.
    pub data: Duration,
    /// The TLS handshake.
    pub handshake: Duration,
    /// Writing a reply to a client that does not read.
    pub write: Duration,
    /// After shutdown starts: how long sessions inside a transaction may go on.
    pub shutdown_grace: Duration,
    /// On a listener with a [`ProxyPolicy`]: for the whole PROXY protocol header. A load
    /// balancer sends it at once, so a few seconds are plenty, and a connection that
    /// holds back its header must not keep a slot for long.
    pub proxy_header: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(300),
            data: Duration::from_secs(180),
            handshake: Duration::from_secs(30),
            write: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            proxy_header: Duration::from_secs(5),
        }
    }
}

/// RFC 5321 section 4.5.3.2: a deadline per command, one per data block, and one for
/// each write to a client that does not read.
impl Deadlines for Timeouts {
    fn read(&self, phase: SessionPhase) -> Duration {
        match phase {
            SessionPhase::Data => self.data,
            SessionPhase::TlsHandshake => self.handshake,
            _ => self.command,
        }
    }

    fn write(&self, _: SessionPhase) -> Duration {
        self.write
    }
}

/// One listening socket.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// What for.
    pub role: Role,
    /// TLS: needed for STARTTLS (Mx, Submission) and for Submissions.
    pub tls: Option<TlsServer>,
    /// Behind a load balancer: require a PROXY protocol header from a trusted address on
    /// every connection (before the TLS handshake on a Submissions listener). `None`
    /// (the default): the TCP peer is the client.
    pub proxy: Option<ProxyPolicy>,
}

impl ListenerConfig {
    /// A listener, without PROXY protocol.
    pub fn new(addr: SocketAddr, role: Role, tls: Option<TlsServer>) -> Self {
        ListenerConfig { addr, role, tls, proxy: None }
    }

    /// The same listener, requiring a PROXY protocol header; see [`ProxyPolicy`].
    #[must_use]
    pub fn with_proxy(mut self, policy: ProxyPolicy) -> Self {
        self.proxy = Some(policy);
        self
    }
}

/// Settings shared by all listeners.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerSettings {
    /// The session template: host name, sizes, extensions. Each role adjusts TLS and AUTH;
    /// the AUTH mechanisms announced are the handler's
    /// ([`Handler::auth_mechanisms`](crate::Handler::auth_mechanisms)).
    pub session: ServerConfig,
    /// Connection and AUTH limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
}

impl ServerSettings {
    /// Defaults for `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerSettings {
            session: ServerConfig::new(hostname),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }

    /// The session configuration of a role. AUTH announces `mechanisms`: those the
    /// handler can complete ([`Handler::auth_mechanisms`]).
    pub(crate) fn session_config(
        &self,
        role: Role,
        tls_available: bool,
        mechanisms: Vec<Mechanism<'static>>,
    ) -> ServerConfig {
        let mut config = self.session.clone();
        let auth = config.auth.get_or_insert_with(AuthConfig::default);
        auth.mechanisms = mechanisms;
        match role {
            Role::Mx => {
                config.tls = if tls_available { TlsOffer::Offered } else { TlsOffer::None };
                config.implicit_tls = false;
            }
            Role::Submission => {
                config.tls = if tls_available { TlsOffer::Required } else { TlsOffer::None };
                config.implicit_tls = false;
                auth.required = true;
            }
            Role::Submissions => {
                config.tls = TlsOffer::None;
                config.implicit_tls = true;
                auth.required = true;
            }
        }
        config
    }
}

/// State shared by the sessions of a server.
pub(crate) struct Shared<H> {
    pub(crate) handler: Arc<H>,
    pub(crate) settings: ServerSettings,
    pub(crate) auth_failures: Arc<AuthFailures>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// A server with its sockets bound, ready to [`BoundServer::run`].
pub struct BoundServer<H> {
    handler: Arc<H>,
    settings: ServerSettings,
    listeners: Vec<(TcpListener, ListenerConfig)>,
}

impl<H> fmt::Debug for BoundServer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundServer")
            .field("addresses", &self.local_addrs())
            .finish_non_exhaustive()
    }
}

impl<H> BoundServer<H> {
    /// The bound addresses with their roles.
    pub fn local_addrs(&self) -> Vec<(Role, SocketAddr)> {
        self.listeners.iter().map(|(_, c)| (c.role, c.addr)).collect()
    }
}

impl<H: Handler> BoundServer<H> {
    /// Binds every listener. Port 0 picks a free port; see [`BoundServer::local_addrs`].
    pub async fn bind(
        handler: Arc<H>,
        settings: ServerSettings,
        listeners: Vec<ListenerConfig>,
    ) -> std::io::Result<Self> {
        let mut bound = Vec::with_capacity(listeners.len());
        for mut config in listeners {
            if config.role == Role::Submissions && config.tls.is_none() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("the submissions listener on {} needs a TLS certificate", config.addr),
                ));
            }
            if config.proxy.as_ref().is_some_and(|p| p.trusted.is_empty()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "the {} listener on {} requires a PROXY header but trusts no network \
                         to send one",
                        config.role, config.addr
                    ),
                ));
            }
            let listener = TcpListener::bind(config.addr).await?;
            config.addr = listener.local_addr()?;
            bound.push((listener, config));
        }
        Ok(BoundServer { handler, settings, listeners: bound })
    }

    /// Serves until `shutdown` completes; then stops accepting, lets sessions inside a
    /// transaction finish within the grace period, and sends "421 4.3.2" to the rest.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let limits = self.settings.limits;
        let grace = self.settings.timeouts.shutdown_grace;
        let shared = Arc::new(Shared {
            handler: self.handler,
            settings: self.settings,
            auth_failures: AuthFailures::new(limits),
            shutdown: stop_rx,
        });
        let counter = ConnectionCounter::new(limits);
        let mut accept_loops = JoinSet::new();
        for (listener, config) in self.listeners {
            let shared = shared.clone();
            let counter = counter.clone();
            let mut stop = shared.shutdown.clone();
            accept_loops.spawn(async move {
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = stop.changed() => break,
                    };
                    let (tcp, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    // Behind a load balancer the per-address limit waits for the address
                    // in the PROXY header; the total applies now.
                    let guard = match config.proxy {
                        None => counter.acquire(peer.ip()),
                        Some(_) => counter.acquire_total(),
                    };
                    match guard {
                        Some(guard) => {
                            tokio::spawn(connection(
                                tcp,
                                peer,
                                guard,
                                config.clone(),
                                shared.clone(),
                            ));
                        }
                        None => {
                            tokio::spawn(refuse(tcp, peer, None));
                        }
                    }
                }
            });
        }
        shutdown.await;
        tracing::info!("shutting down: no new connections; sessions get {grace:?} to finish");
        let _ = stop_tx.send(true);
        while accept_loops.join_next().await.is_some() {}
        // Sessions enforce the grace period themselves (421 when it ends); wait for them,
        // with a backstop in case one is stuck in a write.
        let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(5);
        while counter.open() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if counter.open() > 0 {
            tracing::warn!(left = counter.open(), "sessions still open after the grace period");
        }
        Ok(())
    }
}

/// One accepted connection, holding its slot: the PROXY header first when the listener
/// asks for one, then the session.
async fn connection<H: Handler>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    mut guard: ConnectionGuard,
    config: ListenerConfig,
    shared: Arc<Shared<H>>,
) {
    let (client, proxy) = match &config.proxy {
        None => (peer, None),
        Some(policy) => {
            let timeout = shared.settings.timeouts.proxy_header;
            match crate::proxy::accept(&mut tcp, peer, policy, timeout).await {
                Ok(header) => {
                    let client = header.source();
                    tracing::debug!(%peer, client = ?client, version = %header.version, tlvs = header.tlvs, "PROXY header");
                    match client {
                        Some(client) => (client, Some(peer)),
                        // UNKNOWN, LOCAL: the balancer speaks for itself.
                        None => (peer, None),
                    }
                }
                Err(error) if error.is_port_check() => {
                    tracing::debug!(%peer, role = %config.role, reason = %error, "connection closed before the greeting");
                    return;
                }
                Err(error) => {
                    // No greeting: whatever sent this is not a client to talk SMTP with.
                    tracing::warn!(%peer, role = %config.role, reason = %error, "connection closed before the greeting");
                    return;
                }
            }
        }
    };
    if config.proxy.is_some() && !guard.claim_ip(client.ip()) {
        drop(guard);
        refuse(tcp, client, proxy).await;
        return;
    }
    crate::driver::serve_connection(tcp, client, proxy, config, shared).await;
    drop(guard);
}

/// Over a connection limit: say so and close.
async fn refuse(mut tcp: TcpStream, peer: SocketAddr, proxy: Option<SocketAddr>) {
    use tokio::io::AsyncWriteExt;
    match proxy {
        Some(proxy) => {
            tracing::info!(%peer, %proxy, "connection refused: too many connections");
        }
        None => tracing::info!(%peer, "connection refused: too many connections"),
    }
    let reply = sealpost_codec::replies::TOO_MANY_CONNECTIONS.to_reply().to_bytes();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(&reply)).await;
    let _ = tcp.shutdown().await;
}
