//! Deliveries: pick the hosts of a route, try them in order, apply the TLS policy of the
//! destination, and fall back to clear text at level `may` when a handshake fails.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sealpost_starttls::client::{SecurityLevel, TlsClient, TlsPolicy};
use sealpost_starttls::dns::{Answer, DnsResolver, Dnssec, weakest};
#[cfg(feature = "mta-sts")]
use sealpost_starttls::mta_sts::{PolicyCache, PolicyFetcher, StsLookup};
use sealpost_starttls::tlsrpt::ResultType;

use crate::config::{DeliveryConfig, Phase};
use crate::connection::Connection;
use crate::error::DeliveryError;
use crate::lmtp::LmtpTarget;
use crate::message::{Delivery, Message};
#[cfg(feature = "mta-sts")]
use crate::plan::sts_report;
use crate::plan::{ClientCache, Fallback, HostPlan, PlanInput, StsState, plan};
use crate::route::{DnsMx, MxError, MxRecord, MxResolver, Route, StaticMx, mx_hosts};
use crate::transport::ServerAddr;

/// Delivers messages under one [`DeliveryConfig`]. Keeps one [`TlsClient`] (and so one
/// TLS session-resumption cache) per destination and policy.
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
    dns: Option<Arc<dyn DnsResolver>>,
    #[cfg(feature = "mta-sts")]
    sts: Option<Sts>,
    tls: Mutex<HashMap<String, TlsClient>>,
}

/// MTA-STS: how policies are fetched, and the ones already known.
#[cfg(feature = "mta-sts")]
struct Sts {
    fetcher: Arc<dyn PolicyFetcher>,
    cache: PolicyCache,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Client");
        debug.field("config", &self.config).field("dns", &self.dns.is_some());
        #[cfg(feature = "mta-sts")]
        debug.field("mta_sts", &self.sts.is_some());
        debug.finish_non_exhaustive()
    }
}

/// One host to try: its name, port, and how securely its name was found (the MX answer).
struct Hop {
    host: String,
    port: u16,
    dnssec: Dnssec,
}

impl ClientCache for Client {
    fn client(&self, key: String, policy: &TlsPolicy) -> Result<TlsClient, DeliveryError> {
        let mut cache = self.tls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = TlsClient::new(policy).map_err(|error| DeliveryError::Tls {
            host: key.split('|').next().unwrap_or_default().to_owned(),
            error,
        })?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

impl Client {
    /// A client. Without [`Client::with_resolver`] or [`Client::with_dns`], MX routes see
    /// no MX records and go to the domain itself.
    pub fn new(config: DeliveryConfig) -> Self {
        Client {
            config,
            resolver: Arc::new(StaticMx::new()),
            dns: None,
            #[cfg(feature = "mta-sts")]
            sts: None,
            tls: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `resolver` for MX lookups.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn MxResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Uses `dns` for everything DNS: MX lookups (with their DNSSEC status), the addresses
    /// and TLSA records of MX hosts at the `dane` levels, and the `_mta-sts` TXT records.
    /// Give it a validating resolver (`sealpost_starttls::dns::HickoryResolver`, feature
    /// `dns`) for DANE to apply.
    #[must_use]
    pub fn with_dns(mut self, dns: Arc<dyn DnsResolver>) -> Self {
        self.resolver = Arc::new(DnsMx::new(dns.clone()));
        self.dns = Some(dns);
        self
    }

    /// Applies MTA-STS (RFC 8461) to MX deliveries at the levels `may`, `encrypt` and
    /// `dane` (where no TLSA records apply), fetching policies with `fetcher` and keeping
    /// them in a cache of this client. Needs [`Client::with_dns`] for the TXT records.
    ///
    /// In mode `enforce`, only the MX hosts the policy lists are tried, and only under TLS
    /// with a certificate that chains to the configured roots (or the Mozilla roots) and
    /// names the MX host; failures defer ([`DeliveryError::PolicyNotMet`]). In mode
    /// `testing`, the same checks run, failures are reported in
    /// [`OutboundTls::failure`](sealpost_starttls::client::OutboundTls::failure), and the
    /// message goes out under the configured level.
    ///
    /// Needs the `mta-sts` feature.
    #[cfg(feature = "mta-sts")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mta-sts")))]
    #[must_use]
    pub fn with_mta_sts(mut self, fetcher: Arc<dyn PolicyFetcher>) -> Self {
        self.sts = Some(Sts { fetcher, cache: PolicyCache::new() });
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// The configured policy of a destination: `secure` matches the next-hop domain, not
    /// the (DNS-supplied) MX host name, unless names are configured.
    fn base_policy(&self, route: &Route) -> TlsPolicy {
        let mut policy = self.config.tls.clone();
        if policy.level == SecurityLevel::Secure && policy.match_names.is_empty() {
            policy.match_names.push(route.next_hop().to_owned());
        }
        policy
    }

    /// The hosts to try, best first.
    async fn hosts(&self, route: &Route) -> Result<Vec<Hop>, DeliveryError> {
        let domain = match route {
            // A configured host: no MX answer to distrust.
            Route::Host { host, port } => {
                return Ok(vec![Hop { host: host.clone(), port: *port, dnssec: Dnssec::Secure }]);
            }
            Route::Mx { domain } => domain,
        };
        let deadline = self.config.timeouts.resolve;
        let lookup = async {
            match &self.dns {
                Some(dns) => match dns.mx(domain).await {
                    Err(e) => Err(MxError::Dns(e)),
                    Ok(answer) if answer.dnssec() == Dnssec::Bogus => {
                        Err(MxError::Bogus { domain: domain.clone() })
                    }
                    Ok(Answer::NxDomain { .. }) => Err(MxError::NoSuchDomain),
                    Ok(answer) => Ok((
                        answer
                            .records()
                            .iter()
                            .map(|mx| MxRecord::new(mx.preference, mx.exchange.clone()))
                            .collect(),
                        answer.dnssec(),
                    )),
                },
                None => self.resolver.lookup_mx(domain).await.map(|r| (r, Dnssec::Insecure)),
            }
        };
        let (records, dnssec) = match tokio::time::timeout(deadline, lookup).await {
            Err(_) => {
                return Err(DeliveryError::Timeout { phase: Phase::Resolve, after: deadline });
            }
            Ok(Err(MxError::NoSuchDomain)) => {
                return Err(DeliveryError::NoSuchDomain(domain.clone()));
            }
            Ok(Err(e)) => {
                return Err(DeliveryError::Resolve { name: domain.clone(), source: Box::new(e) });
            }
            Ok(Ok(found)) => found,
        };
        let hosts =
            mx_hosts(domain, records).map_err(|()| DeliveryError::NullMx(domain.clone()))?;
        Ok(hosts.into_iter().map(|host| Hop { host, port: self.config.port, dnssec }).collect())
    }

    /// The addresses of a host, and how securely they were found (for DANE the address
    /// answer must be secure too, RFC 7672 section 2.2.2). The configured DNS resolver
    /// answers when there is one; the system's resolver when not, for `localhost` names
    /// (RFC 6761 section 6.3: answered locally, never by DNS), or when DNS says the name
    /// has no address (a name from the hosts file). A failed DNS lookup is a failure, not a
    /// reason to ask a less trustworthy source.
    async fn addresses(
        &self,
        host: &str,
        port: u16,
    ) -> Result<(Vec<SocketAddr>, Dnssec), DeliveryError> {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok((vec![SocketAddr::new(ip, port)], Dnssec::Insecure));
        }
        let deadline = self.config.timeouts.resolve;
        let timeout = DeliveryError::Timeout { phase: Phase::Resolve, after: deadline };
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        let local = name == "localhost" || name.ends_with(".localhost");
        if let Some(dns) = self.dns.as_ref().filter(|_| !local) {
            match tokio::time::timeout(deadline, dns.ip(host)).await {
                Err(_) => return Err(timeout),
                Ok(Err(e)) => {
                    return Err(DeliveryError::Resolve {
                        name: host.to_owned(),
                        source: Box::new(e),
                    });
                }
                Ok(Ok(answer)) if answer.dnssec() == Dnssec::Bogus => {
                    return Ok((Vec::new(), Dnssec::Bogus));
                }
                Ok(Ok(answer)) if !answer.records().is_empty() => {
                    let addrs = answer.records().iter().map(|ip| SocketAddr::new(*ip, port));
                    return Ok((addrs.collect(), answer.dnssec()));
                }
                Ok(Ok(_)) => {}
            }
        }
        let lookup = tokio::net::lookup_host((host, port));
        match tokio::time::timeout(deadline, lookup).await {
            Err(_) => Err(timeout),
            Ok(Err(e)) => {
                Err(DeliveryError::Resolve { name: host.to_owned(), source: Box::new(e) })
            }
            Ok(Ok(addrs)) => Ok((addrs.collect(), Dnssec::Insecure)),
        }
    }

    /// The MTA-STS state of an MX route's domain, when MTA-STS is on and the configured
    /// level is one it can raise.
    #[cfg(feature = "mta-sts")]
    async fn sts_state(&self, route: &Route) -> Option<StsState> {
        let (Some(sts), Some(dns), Route::Mx { domain }) = (&self.sts, &self.dns, route) else {
            return None;
        };
        let level = self.config.tls.level;
        if !matches!(level, SecurityLevel::May | SecurityLevel::Encrypt | SecurityLevel::Dane) {
            return None;
        }
        let now = std::time::SystemTime::now();
        let deadline = self.config.timeouts.resolve;
        let lookup = sts.cache.lookup(dns.as_ref(), sts.fetcher.as_ref(), domain, now);
        let Ok(found) = tokio::time::timeout(deadline, lookup).await else {
            return Some(StsState::Unavailable {
                report: sts_report(domain, None),
                failure: (
                    ResultType::StsPolicyFetchError,
                    format!("looking for the policy took more than {deadline:?}"),
                ),
            });
        };
        match found {
            StsLookup::Policy { policy, failure, .. } => {
                // Sessions under the cached policy are what TLS-RPT counts; the failed
                // refresh is for the log (RFC 8461 section 5.1: the cached policy stays).
                if let Some(f) = failure {
                    tracing::warn!(
                        %domain, result_type = %f.result_type, reason = %f.reason,
                        "MTA-STS policy refresh failed; the cached policy stays in force"
                    );
                }
                Some(StsState::Policy { report: sts_report(domain, Some(&policy)), policy })
            }
            StsLookup::NoPolicy { failure: Some(f) } => Some(StsState::Unavailable {
                report: sts_report(domain, None),
                failure: (f.result_type, f.reason),
            }),
            _ => None,
        }
    }

    /// Without the `mta-sts` feature no route has an MTA-STS state.
    #[cfg(not(feature = "mta-sts"))]
    async fn sts_state(&self, _route: &Route) -> Option<StsState> {
        None
    }

    /// Delivers `messages` over one connection to the first host of `route` that takes
    /// them. Hosts are tried in order while failures are temporary and no message has been
    /// answered yet; once one has, the results stand (a message is never sent twice by
    /// this call).
    ///
    /// At level `may` (and `dane` at a host without TLSA records), a failed TLS handshake
    /// is followed by a new connection in clear to the same address. At the DANE levels
    /// and under MTA-STS, each host gets the TLS policy its published records call for
    /// (see [`Client::with_dns`] and `Client::with_mta_sts`); the
    /// [`OutboundTls::policy`](sealpost_starttls::client::OutboundTls::policy) of the
    /// delivery names it.
    pub async fn deliver(
        &self,
        route: &Route,
        messages: &[Message],
    ) -> Result<Delivery, DeliveryError> {
        self.deliver_route(route, messages, false).await
    }

    /// Delivers `messages` by LMTP (RFC 2033) to a mailbox server, such as Dovecot's LMTP
    /// service, over one connection: LHLO, then per message MAIL, the RCPTs and the data,
    /// with one reply per accepted recipient after the data. Each recipient's
    /// [`RecipientResult`](sealpost_codec::client::RecipientResult) holds its own final
    /// reply (saved, over quota, refused by a filter...); `delivered()` tells which ones
    /// got the message. A recipient that got its 250 has it, even when the server stopped
    /// before answering for the others: those get a 4xx reply, to try again later.
    ///
    /// - [`LmtpTarget::Tcp`]: the host's addresses are tried in order, under the
    ///   configured TLS policy as for a static [`Route::Host`] (at level `may`, STARTTLS
    ///   when the server offers it, and clear text after a failed handshake).
    /// - [`LmtpTarget::Unix`]: a Unix-domain socket, never under TLS whatever the
    ///   configured level (it does not leave the machine); the [`Delivery`] names the path
    ///   as its host and as a [`ServerAddr::Unix`] address, and its TLS report says level
    ///   `none`.
    ///
    /// No AUTH: the configured credentials are not used. A server that cannot be reached
    /// (connection refused, no socket at the path) is a temporary
    /// [`DeliveryError::Connect`] that names the address or path; a refused LHLO is
    /// [`DeliveryError::Refused`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sealpost_client::{Client, DeliveryConfig, LmtpTarget, Message};
    /// use sealpost_codec::client::Envelope;
    /// use sealpost_codec::{ForwardPath, ReversePath};
    ///
    /// let client = Client::new(DeliveryConfig::new("mx.example.org"));
    /// let envelope = Envelope::new(ReversePath::Mailbox("alice@example.net".parse()?))
    ///     .recipient(ForwardPath::Mailbox("bob@example.org".parse()?))
    ///     .recipient(ForwardPath::Mailbox("carol@example.org".parse()?));
    /// let message = Message::new(envelope, &b"Subject: hi\r\n\r\nHello\r\n"[..]);
    /// let target: LmtpTarget = "unix:/run/dovecot/lmtp".parse()?;
    /// let delivery = client.deliver_lmtp(&target, &[message]).await?;
    /// for result in &delivery.results {
    ///     let Ok(transaction) = result else { continue };
    ///     for recipient in &transaction.recipients {
    ///         // "250 2.0.0 <bob@example.org> Saved", "452 4.2.2 ... Quota exceeded", ...
    ///         let reply = recipient.final_reply().map(ToString::to_string);
    ///         println!("{}: {} ({reply:?})", recipient.path, recipient.delivered());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn deliver_lmtp(
        &self,
        target: &LmtpTarget,
        messages: &[Message],
    ) -> Result<Delivery, DeliveryError> {
        match target {
            LmtpTarget::Tcp { host, port } => {
                let route = Route::Host { host: host.clone(), port: *port };
                self.deliver_route(&route, messages, true).await
            }
            LmtpTarget::Unix(path) => {
                let addr = ServerAddr::Unix(path.clone());
                let host = path.display().to_string();
                self.attempt(&addr, &host, None, messages, true, true).await
            }
        }
    }

    /// [`Client::deliver`], in SMTP or in LMTP.
    async fn deliver_route(
        &self,
        route: &Route,
        messages: &[Message],
        lmtp: bool,
    ) -> Result<Delivery, DeliveryError> {
        let base = self.base_policy(route);
        let sts = self.sts_state(route).await;
        let mut last = None;
        for hop in self.hosts(route).await? {
            let (addrs, address_dnssec) = match self.addresses(&hop.host, hop.port).await {
                Ok(found) => found,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let input = PlanInput {
                base: &base,
                next_hop: route.next_hop(),
                host: &hop.host,
                port: hop.port,
                dnssec: weakest(hop.dnssec, address_dnssec),
                implicit_tls: self.config.implicit_tls,
                dns: self.dns.as_deref(),
                sts: sts.as_ref(),
            };
            let plan = match plan(&input, self).await {
                Ok(plan) => plan,
                Err(e) => {
                    tracing::info!(host = %hop.host, error = %e, "host skipped");
                    last = Some(e);
                    continue;
                }
            };
            for addr in addrs {
                match self.attempt_with_plan(addr, &hop.host, &plan, messages, lmtp).await {
                    Ok(delivery) => return Ok(delivery),
                    // A host that refuses the session (554 greeting, EHLO and HELO refused)
                    // says nothing about the others: RFC 5321 section 5.1 tries the next.
                    Err(e) if e.is_permanent() && !matches!(e, DeliveryError::Refused { .. }) => {
                        return Err(e);
                    }
                    Err(e) => {
                        tracing::info!(host = %hop.host, %addr, error = %e, "delivery attempt failed");
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| DeliveryError::Resolve {
            name: route.to_string(),
            source: "no address to connect to".into(),
        }))
    }

    /// One address under a host's plan: the first attempt, then its fallbacks while the
    /// TLS part fails.
    async fn attempt_with_plan(
        &self,
        addr: SocketAddr,
        host: &str,
        plan: &HostPlan,
        messages: &[Message],
        lmtp: bool,
    ) -> Result<Delivery, DeliveryError> {
        let addr = ServerAddr::Tcp(addr);
        let mut attempt = self.attempt(&addr, host, Some(&plan.tls), messages, true, lmtp).await;
        let mut first_failure = None;
        for fallback in &plan.fallbacks {
            // A failed handshake, or (under MTA-STS testing, whose first attempt requires
            // TLS) a server without STARTTLS: the next way the plan allows.
            let error = match &attempt {
                Err(error @ (DeliveryError::Tls { .. } | DeliveryError::TlsRequired { .. })) => {
                    error
                }
                _ => break,
            };
            tracing::info!(%host, %addr, %error, "TLS failed; trying again as the level allows");
            first_failure.get_or_insert_with(|| {
                (
                    error.tls_result_type().unwrap_or(ResultType::ValidationFailure),
                    error.to_string(),
                )
            });
            attempt = match fallback {
                Fallback::Clear => {
                    self.attempt(&addr, host, Some(&plan.tls), messages, false, lmtp).await
                }
                Fallback::Tls(client) => {
                    self.attempt(&addr, host, Some(client), messages, true, lmtp).await
                }
            };
        }
        match attempt {
            Ok(mut delivery) => {
                delivery.tls.policy.clone_from(&plan.policy);
                if delivery.tls.failure.is_none()
                    && let Some((result_type, detail)) =
                        first_failure.or_else(|| plan.report_only.clone())
                {
                    delivery.tls.failure = Some(result_type);
                    delivery.tls.detail = Some(detail);
                }
                Ok(delivery)
            }
            Err(e) if plan.enforced => match (e.tls_result_type(), &plan.policy) {
                (Some(result_type), Some(policy)) => Err(DeliveryError::PolicyNotMet {
                    policy: Box::new(policy.clone()),
                    result_type,
                    reason: format!("{host}: {}", policy_failure(&e)),
                }),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// One connection: `tls` is `None` for a Unix-domain socket.
    async fn attempt(
        &self,
        addr: &ServerAddr,
        host: &str,
        tls: Option<&TlsClient>,
        messages: &[Message],
        starttls: bool,
        lmtp: bool,
    ) -> Result<Delivery, DeliveryError> {
        let mut conn =
            Connection::open_at(addr.clone(), host, &self.config, tls, starttls, lmtp).await?;
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
        Ok(Delivery { host, addr: addr.clone(), tls, results })
    }
}

/// Why a delivery failed under a published policy, in the policy's terms: a DANE
/// verifier's own reason rather than the rustls error that wraps it.
fn policy_failure(error: &DeliveryError) -> String {
    if let DeliveryError::Tls {
        error: sealpost_starttls::TlsError::CertificateRejected { reason, .. },
        ..
    } = error
        && let Some(reason) = dane_reason(reason)
    {
        return format!("TLSA authentication failed: {reason}");
    }
    error.to_string()
}

/// The reason a DANE verifier gave, when it refused the certificate.
#[cfg(feature = "dane")]
fn dane_reason(error: &sealpost_starttls::rustls::Error) -> Option<&str> {
    sealpost_starttls::dane::DaneFailure::from_rustls(error).map(|f| f.reason.as_str())
}

/// Without the `dane` feature no DANE verifier runs.
#[cfg(not(feature = "dane"))]
fn dane_reason(_error: &sealpost_starttls::rustls::Error) -> Option<&str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queue runners spawn deliveries on multi-threaded runtimes: the future must be Send.
    #[test]
    fn deliveries_are_send() {
        fn send<T: Send>(_: &T) {}
        let client = Client::new(DeliveryConfig::new("client.test"));
        let route = Route::Mx { domain: "example.org".into() };
        let future = client.deliver(&route, &[]);
        send(&future);
    }

    /// A build without DANE support asked for `dane` says so before connecting anywhere,
    /// rather than delivering as at `may`.
    #[cfg(not(feature = "dane"))]
    #[tokio::test]
    async fn without_the_dane_feature_a_dane_level_is_refused_not_weakened() {
        use sealpost_starttls::TlsError;
        for level in [SecurityLevel::Dane, SecurityLevel::DaneOnly] {
            let config = DeliveryConfig::new("client.test").tls(TlsPolicy::new(level));
            // Port 9 (discard) on loopback: the plan fails before any connection is tried.
            let route: Route = "127.0.0.1:9".parse().unwrap();
            let err = Client::new(config).deliver(&route, &[]).await.unwrap_err();
            assert!(
                matches!(
                    &err,
                    DeliveryError::Tls { error: TlsError::Unsupported { feature: "dane", .. }, .. }
                ),
                "{level}: {err}"
            );
        }
    }
}
