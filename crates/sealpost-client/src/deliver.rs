//! Deliveries: pick the hosts of a route, try them in order, apply the TLS policy of the
//! destination, and fall back to clear text at level `may` when a handshake fails.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sealpost_starttls::client::{SecurityLevel, TlsClient};

use crate::config::{DeliveryConfig, Phase};
use crate::connection::Connection;
use crate::error::DeliveryError;
use crate::message::{Delivery, Message};
use crate::route::{MxError, MxResolver, Route, StaticMx, mx_hosts};

/// Delivers messages under one [`DeliveryConfig`]. Keeps one [`TlsClient`] (and so one
/// TLS session-resumption cache) per destination.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sealpost_client::{Client, DeliveryConfig, Message, Route};
/// use sealpost_codec::client::Envelope;
/// use sealpost_codec::{ForwardPath, ReversePath};
///
/// let client = Client::new(DeliveryConfig::new("client.example.org"));
/// let envelope = Envelope::new(ReversePath::Mailbox("alice@example.org".parse()?))
///     .recipient(ForwardPath::Mailbox("bob@example.net".parse()?));
/// let message = Message::new(envelope, &b"Subject: hi\r\n\r\nHello\r\n"[..]);
/// let route: Route = "smtp.example.net:25".parse()?;
/// let delivery = client.deliver(&route, &[message]).await?;
/// println!("{} via {}: {}", delivery.host, delivery.addr, delivery.tls);
/// # Ok(()) }
/// ```
pub struct Client {
    config: DeliveryConfig,
    resolver: Arc<dyn MxResolver>,
    tls: Mutex<HashMap<String, TlsClient>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Client {
    /// A client. Without [`Client::with_resolver`], MX routes see no MX records and go to
    /// the domain itself.
    pub fn new(config: DeliveryConfig) -> Self {
        Client { config, resolver: Arc::new(StaticMx::new()), tls: Mutex::new(HashMap::new()) }
    }

    /// Uses `resolver` for MX lookups.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn MxResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// The TLS client of a destination, made on first use.
    fn tls_client(&self, route: &Route) -> Result<TlsClient, DeliveryError> {
        let key = route.to_string();
        let mut cache = self.tls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let mut policy = self.config.tls.clone();
        // `secure` matches the next-hop domain, not the (DNS-supplied) MX host name, unless
        // names are configured.
        if policy.level == SecurityLevel::Secure && policy.match_names.is_empty() {
            policy.match_names.push(route.next_hop().to_owned());
        }
        let client = TlsClient::new(&policy)
            .map_err(|error| DeliveryError::Tls { host: route.next_hop().to_owned(), error })?;
        cache.insert(key, client.clone());
        Ok(client)
    }

    /// The hosts and ports to try, best first.
    async fn hosts(&self, route: &Route) -> Result<Vec<(String, u16)>, DeliveryError> {
        match route {
            Route::Host { host, port } => Ok(vec![(host.clone(), *port)]),
            Route::Mx { domain } => {
                let deadline = self.config.timeouts.resolve;
                let records =
                    match tokio::time::timeout(deadline, self.resolver.lookup_mx(domain)).await {
                        Err(_) => {
                            return Err(DeliveryError::Timeout {
                                phase: Phase::Resolve,
                                after: deadline,
                            });
                        }
                        Ok(Err(MxError::NoSuchDomain)) => {
                            return Err(DeliveryError::NoSuchDomain(domain.clone()));
                        }
                        Ok(Err(e)) => {
                            return Err(DeliveryError::Resolve {
                                name: domain.clone(),
                                reason: e.to_string(),
                            });
                        }
                        Ok(Ok(records)) => records,
                    };
                let hosts = mx_hosts(domain, records)
                    .map_err(|()| DeliveryError::NullMx(domain.clone()))?;
                Ok(hosts.into_iter().map(|h| (h, self.config.port)).collect())
            }
        }
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, DeliveryError> {
        let deadline = self.config.timeouts.resolve;
        let lookup = tokio::net::lookup_host((host, port));
        match tokio::time::timeout(deadline, lookup).await {
            Err(_) => Err(DeliveryError::Timeout { phase: Phase::Resolve, after: deadline }),
            Ok(Err(e)) => {
                Err(DeliveryError::Resolve { name: host.to_owned(), reason: e.to_string() })
            }
            Ok(Ok(addrs)) => Ok(addrs.collect()),
        }
    }

    /// Delivers `messages` over one connection to the first host of `route` that takes
    /// them. Hosts are tried in order while failures are temporary and no message has been
    /// answered yet; once one has, the results stand (a message is never sent twice by
    /// this call).
    ///
    /// At level `may`, a failed TLS handshake is followed by a new connection in clear to
    /// the same address.
    pub async fn deliver(
        &self,
        route: &Route,
        messages: &[Message],
    ) -> Result<Delivery, DeliveryError> {
        let tls = self.tls_client(route)?;
        let mut last = None;
        for (host, port) in self.hosts(route).await? {
            let addrs = match self.addresses(&host, port).await {
                Ok(addrs) => addrs,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            for addr in addrs {
                let attempt = match self.attempt(addr, &host, &tls, messages, true).await {
                    Err(DeliveryError::Tls { host: _, error })
                        if self.config.tls.level == SecurityLevel::May
                            && !self.config.tls.requires_tls()
                            && !self.config.implicit_tls =>
                    {
                        tracing::info!(%host, %addr, %error, "TLS failed at level may; retrying in clear");
                        self.attempt(addr, &host, &tls, messages, false).await
                    }
                    other => other,
                };
                match attempt {
                    Ok(delivery) => return Ok(delivery),
                    // A host that refuses the session (554 greeting, EHLO and HELO refused)
                    // says nothing about the others: RFC 5321 section 5.1 tries the next.
                    Err(e) if e.is_permanent() && !matches!(e, DeliveryError::Refused { .. }) => {
                        return Err(e);
                    }
                    Err(e) => {
                        tracing::info!(%host, %addr, error = %e, "delivery attempt failed");
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| DeliveryError::Resolve {
            name: route.to_string(),
            reason: "no address to connect to".into(),
        }))
    }

    async fn attempt(
        &self,
        addr: SocketAddr,
        host: &str,
        tls: &TlsClient,
        messages: &[Message],
        starttls: bool,
    ) -> Result<Delivery, DeliveryError> {
        let mut conn = Connection::open(addr, host, &self.config, tls, starttls).await?;
        let mut results = Vec::with_capacity(messages.len());
        let mut answered = false;
        for message in messages {
            if !conn.is_ready() {
                results.push(Err(DeliveryError::NotAttempted));
                continue;
            }
            match conn.send(message).await {
                Ok(result) => {
                    answered = true;
                    results.push(Ok(result));
                }
                // Nothing was answered and the connection broke: another host may do.
                Err(e) if !answered && !conn.is_ready() && !e.is_permanent() => return Err(e),
                Err(e) => results.push(Err(e)),
            }
        }
        let tls = conn.tls().clone();
        let host = conn.host().to_owned();
        conn.quit().await;
        Ok(Delivery { host, addr, tls, results })
    }
}
