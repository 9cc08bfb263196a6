//! [`ClientDeliverer`]: relaying queued mail with sealpost-client, under a TLS policy per
//! destination.
//!
//! Each message is split by recipient domain; each domain gets its policy (its own entry
//! in [`RelayConfig::by_domain`], else [`RelayConfig::default`]), its route (the policy's,
//! else [`RelayConfig::smarthost`], else the domain's MX hosts), and one delivery. The
//! envelope goes to the client as the codec's types it was queued as. Every attempt is
//! logged on one line with its TLS outcome and recorded in the TLS journal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sealpost_client::{Client, DeliveryConfig, DeliveryError, Message, Route};
use sealpost_codec::client::{ClientError, Envelope};
use sealpost_starttls::client::{SecurityLevel, TlsPolicy};
use sealpost_starttls::dns::{DnsResolver, HickoryResolver};
use sealpost_starttls::mta_sts::HttpsPolicyFetcher;

use super::{Deliverer, DeliveryJob, RecipientOutcome, one_line};
use crate::tls_journal::{Entry, Journal, unix_now};

/// The TLS policy and route of one destination.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayPolicy {
    /// The TLS security level and what it checks.
    pub tls: TlsPolicy,
    /// A fixed next hop instead of the destination's MX hosts.
    pub route: Option<Route>,
}

impl RelayPolicy {
    /// A policy at `tls`, through the MX hosts (or the smarthost).
    pub fn new(tls: TlsPolicy) -> Self {
        RelayPolicy { tls, route: None }
    }
}

/// The name servers of the relay: MX, TLSA, MTA-STS and address lookups, with DNSSEC
/// validated in this process.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DnsSettings {
    /// Name servers; `None`: those of /etc/resolv.conf.
    pub servers: Option<Vec<SocketAddr>>,
    /// DNSSEC trust anchors (DNSKEY records in zone-file syntax) instead of the IANA root
    /// keys, for a private signed zone. Needs `servers`.
    pub trust_anchor: Option<PathBuf>,
}

/// How mail for other domains is relayed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The policy of destinations without their own entry (level `may` by default).
    pub default: RelayPolicy,
    /// Policies per recipient domain (lower case, no trailing dot).
    pub by_domain: BTreeMap<String, RelayPolicy>,
    /// Everything without a route of its own goes through this host instead of MX.
    pub smarthost: Option<Route>,
    /// The port of MX hosts.
    pub mx_port: u16,
    /// The resolver.
    pub dns: DnsSettings,
    /// Apply recipient domains' MTA-STS policies (RFC 8461) at the levels may, encrypt
    /// and dane.
    pub mta_sts: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            default: RelayPolicy::new(TlsPolicy::new(SecurityLevel::May)),
            by_domain: BTreeMap::new(),
            smarthost: None,
            mx_port: 25,
            dns: DnsSettings::default(),
            mta_sts: false,
        }
    }
}

/// A [`RelayConfig`] that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayConfigError {
    /// The resolver cannot be built from the DNS settings.
    #[error("[relay] {what}: {source}")]
    Dns {
        /// Which setting.
        what: &'static str,
        /// Why.
        #[source]
        source: sealpost_starttls::dns::DnsError,
    },
    /// Trust anchors without name servers.
    #[error("[relay] dns_trust_anchor needs `dns` (name servers)")]
    TrustAnchorWithoutServers,
}

/// One destination's policy and the client that delivers under it (kept for the life of
/// the deliverer: its TLS session and MTA-STS policy caches live in it).
#[derive(Debug, Clone)]
struct Destination {
    policy: RelayPolicy,
    client: Arc<Client>,
}

/// Delivers queued mail with sealpost-client; see the [relay documentation](super).
#[derive(Debug)]
pub struct ClientDeliverer {
    default: Destination,
    by_domain: BTreeMap<String, Destination>,
    journal: Option<Journal>,
}

/// The validating resolver of the DNS settings, or the nameservers of /etc/resolv.conf.
fn resolver(dns: &DnsSettings) -> Result<HickoryResolver, RelayConfigError> {
    let timeout = Duration::from_secs(10);
    let fail = |what| move |source| RelayConfigError::Dns { what, source };
    match (&dns.servers, &dns.trust_anchor) {
        (Some(servers), Some(anchors)) => {
            HickoryResolver::with_trust_anchors(servers, timeout, anchors)
                .map_err(fail("dns_trust_anchor"))
        }
        (Some(servers), None) => HickoryResolver::new(servers, timeout).map_err(fail("dns")),
        (None, Some(_)) => Err(RelayConfigError::TrustAnchorWithoutServers),
        (None, None) => {
            HickoryResolver::from_resolv_conf(std::path::Path::new("/etc/resolv.conf"), timeout)
                .map_err(fail("dns"))
        }
    }
}

impl ClientDeliverer {
    /// The deliverer `config` describes; `helo` is this server's host name; attempts are
    /// recorded in `journal` when there is one.
    pub fn new(
        config: RelayConfig,
        helo: &str,
        journal: Option<Journal>,
    ) -> Result<Self, RelayConfigError> {
        let RelayConfig { default, by_domain, smarthost, mx_port, dns, mta_sts } = config;
        let mut default = default;
        if default.route.is_none() {
            default.route.clone_from(&smarthost);
        }
        let by_domain: BTreeMap<String, RelayPolicy> = by_domain
            .into_iter()
            .map(|(domain, mut policy)| {
                if policy.route.is_none() {
                    policy.route.clone_from(&default.route);
                }
                (domain.trim_end_matches('.').to_ascii_lowercase(), policy)
            })
            .collect();
        // DNS is needed for MX lookups (a destination without a fixed route), for TLSA
        // records (the dane levels) and for MTA-STS.
        let needs_dns = mta_sts
            || std::iter::once(&default)
                .chain(by_domain.values())
                .any(|d| d.route.is_none() || d.tls.level.is_dane());
        let resolver: Option<Arc<dyn DnsResolver>> = if needs_dns {
            match resolver(&dns) {
                Ok(resolver) => Some(Arc::new(resolver)),
                // A configured resolver that cannot be built is a configuration error.
                Err(e) if dns.servers.is_some() || dns.trust_anchor.is_some() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "no DNS resolver: MX deliveries will be deferred");
                    None
                }
            }
        } else {
            None
        };
        let client = |policy: &RelayPolicy| {
            let mut config = DeliveryConfig::new(helo.to_owned()).tls(policy.tls.clone());
            config.port = mx_port;
            let mut client = Client::new(config);
            if let Some(resolver) = &resolver {
                client = client.with_dns(resolver.clone());
                if mta_sts {
                    let fetcher = match &policy.tls.roots {
                        Some(roots) => HttpsPolicyFetcher::new(roots.as_ref().clone()),
                        None => HttpsPolicyFetcher::with_mozilla_roots(),
                    };
                    client = client.with_mta_sts(Arc::new(fetcher.with_resolver(resolver.clone())));
                }
            }
            Arc::new(client)
        };
        let default = Destination { client: client(&default), policy: default };
        let by_domain = by_domain
            .into_iter()
            .map(|(domain, policy)| (domain, Destination { client: client(&policy), policy }))
            .collect();
        Ok(ClientDeliverer { default, by_domain, journal })
    }

    /// The TLS level that applies to `domain`.
    pub fn level_for(&self, domain: &str) -> SecurityLevel {
        self.destination(domain).0.policy.tls.level
    }

    fn destination(&self, domain: &str) -> (&Destination, Route) {
        let destination = self.by_domain.get(domain).unwrap_or(&self.default);
        let route =
            destination.policy.route.clone().unwrap_or(Route::Mx { domain: domain.to_owned() });
        (destination, route)
    }

    /// One delivery of the recipients `indexes` of `job`, all in `domain`.
    async fn deliver_domain(
        &self,
        job: &DeliveryJob,
        domain: &str,
        indexes: &[usize],
    ) -> Vec<RecipientOutcome> {
        let (destination, route) = self.destination(domain);
        let mut dsn_passed_on = true;
        let mut result = None;
        for with_dsn in [true, false] {
            let message = Message::new(envelope(job, indexes, with_dsn), job.message.clone());
            let attempt = destination.client.deliver(&route, &[message]).await;
            // RFC 3461 section 4.2: a next hop without DSN gets the message without the
            // DSN parameters, and this server reports "relayed" where SUCCESS was asked.
            let no_dsn = matches!(&attempt, Ok(d) if matches!(
                d.results.first(),
                Some(Err(DeliveryError::Protocol(ClientError::NotOffered("DSN"))))
            ));
            if with_dsn && no_dsn {
                dsn_passed_on = false;
                continue;
            }
            result = Some(attempt);
            break;
        }
        let Some(result) = result else {
            return vec![RecipientOutcome::deferred("no delivery attempt was made"); indexes.len()];
        };
        self.record(domain, &result, indexes.len(), dsn_passed_on, job, &route)
    }

    /// The outcomes of one delivery, logged and journaled.
    fn record(
        &self,
        domain: &str,
        result: &Result<sealpost_client::Delivery, DeliveryError>,
        count: usize,
        dsn_passed_on: bool,
        job: &DeliveryJob,
        route: &Route,
    ) -> Vec<RecipientOutcome> {
        let id = &job.id;
        match result {
            Err(e) => tracing::info!(queue_id = %id, %domain, %route, error = %e, "relay attempt"),
            Ok(delivery) => tracing::info!(
                queue_id = %id, %domain, %route, host = %delivery.host, addr = %delivery.addr,
                tls = %delivery.tls, "relay attempt"
            ),
        }
        let outcomes = classify(result, count, dsn_passed_on);
        if let Some(journal) = &self.journal {
            journal.record(&self.entry(domain, result, &outcomes));
        }
        outcomes
    }

    fn entry(
        &self,
        domain: &str,
        result: &Result<sealpost_client::Delivery, DeliveryError>,
        outcomes: &[RecipientOutcome],
    ) -> Entry {
        let mut entry = Entry::new(unix_now(), domain, self.level_for(domain).to_string());
        match result {
            Err(e) => {
                entry.result_type = e.tls_result_type().map(|r| r.as_str().to_owned());
                entry.policy = e.tls_policy().cloned();
            }
            Ok(delivery) => {
                entry.mx = Some(delivery.host.clone());
                entry.trust = delivery.tls.trust.as_str().to_owned();
                entry.tls =
                    delivery.tls.session.as_ref().map(|s| format!("{} {}", s.version, s.cipher));
                entry.result_type = delivery.tls.failure.map(|r| r.as_str().to_owned());
                entry.policy.clone_from(&delivery.tls.policy);
            }
        }
        for outcome in outcomes {
            match outcome {
                RecipientOutcome::Delivered { .. } => entry.delivered += 1,
                RecipientOutcome::Failed { .. } => entry.failed += 1,
                RecipientOutcome::Deferred { .. } => entry.deferred += 1,
            }
        }
        entry
    }
}

/// One outcome per recipient of a delivery's result.
fn classify(
    result: &Result<sealpost_client::Delivery, DeliveryError>,
    count: usize,
    dsn_passed_on: bool,
) -> Vec<RecipientOutcome> {
    let delivery = match result {
        Err(e) if e.is_permanent() => return vec![failed(None, "5.0.0", &e.to_string()); count],
        Err(e) => return vec![RecipientOutcome::deferred(e.to_string()); count],
        Ok(delivery) => delivery,
    };
    let host = Some(delivery.host.clone());
    let deferred = |why: &str| RecipientOutcome::Deferred {
        remote_mta: host.clone(),
        diagnostic: why.to_owned(),
    };
    match delivery.results.first() {
        None => vec![deferred("the server took no message"); count],
        Some(Err(e)) if e.is_permanent() => {
            vec![failed(host.clone(), "5.0.0", &e.to_string()); count]
        }
        Some(Err(e)) => vec![deferred(&e.to_string()); count],
        Some(Ok(transaction)) => transaction
            .recipients
            .iter()
            .map(|r| match r.final_reply() {
                _ if r.delivered() => RecipientOutcome::Delivered {
                    remote_mta: host.clone(),
                    reply: one_line(&r.final_reply().map(ToString::to_string).unwrap_or_default()),
                    dsn_passed_on,
                },
                Some(reply) if reply.code().is_permanent_failure() => {
                    let status = reply
                        .enhanced_status()
                        .map_or_else(|| String::from("5.0.0"), |s| s.to_string());
                    failed(host.clone(), &status, &one_line(&reply.to_string()))
                }
                Some(reply) => deferred(&one_line(&reply.to_string())),
                None => deferred("no reply for this recipient"),
            })
            .collect(),
    }
}

fn failed(remote_mta: Option<String>, status: &str, diagnostic: &str) -> RecipientOutcome {
    RecipientOutcome::Failed {
        remote_mta,
        status: status.to_owned(),
        diagnostic: diagnostic.to_owned(),
    }
}

/// The SMTP envelope of recipients `indexes` of `job`, from the queued types, with the
/// parameters a relay passes on (see [`crate::queue::QueuedEnvelope::relay_mail_parameters`]); without
/// the DSN parameters when `with_dsn` is false.
fn envelope(job: &DeliveryJob, indexes: &[usize], with_dsn: bool) -> Envelope {
    let queued = &job.envelope;
    let eight_bit = !job.message.is_ascii();
    let parameters = queued.relay_mail_parameters(with_dsn, eight_bit);
    let mut envelope = Envelope::new(queued.reverse_path.clone()).parameters(parameters);
    for recipient in indexes.iter().filter_map(|&i| queued.recipients.get(i)) {
        let parameters = recipient.relay_parameters(with_dsn);
        envelope = envelope.recipient_with(recipient.forward_path.clone(), parameters);
    }
    envelope
}

impl Deliverer for ClientDeliverer {
    async fn deliver(&self, job: &DeliveryJob) -> Vec<RecipientOutcome> {
        let mut by_domain: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &index in &job.recipients {
            let domain = job.envelope.recipients.get(index).map(|r| r.domain()).unwrap_or_default();
            by_domain.entry(domain).or_default().push(index);
        }
        let mut outcomes: BTreeMap<usize, RecipientOutcome> = BTreeMap::new();
        for (domain, indexes) in &by_domain {
            let results = self.deliver_domain(job, domain, indexes).await;
            outcomes.extend(indexes.iter().copied().zip(results));
        }
        job.recipients
            .iter()
            .map(|i| {
                outcomes
                    .remove(i)
                    .unwrap_or_else(|| RecipientOutcome::deferred("no outcome for this recipient"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dane_levels_and_dns_settings_are_checked() {
        let mut config = RelayConfig {
            default: RelayPolicy::new(TlsPolicy::new(SecurityLevel::DaneOnly)),
            dns: DnsSettings {
                servers: Some(vec!["127.0.0.1:53".parse().unwrap()]),
                trust_anchor: None,
            },
            mta_sts: true,
            ..RelayConfig::default()
        };
        let built = ClientDeliverer::new(config.clone(), "mx.example.org", None).unwrap();
        assert_eq!(built.level_for("example.net"), SecurityLevel::DaneOnly);

        config.dns.trust_anchor = Some("/nonexistent/anchor.key".into());
        let err = ClientDeliverer::new(config.clone(), "mx", None).unwrap_err().to_string();
        assert!(err.contains("dns_trust_anchor"), "{err}");
        config.dns.servers = None;
        let err = ClientDeliverer::new(config, "mx", None).unwrap_err().to_string();
        assert!(err.contains("needs `dns`"), "{err}");
    }

    #[test]
    fn domains_get_their_policy_and_the_smarthost_fills_missing_routes() {
        let mut by_domain = BTreeMap::new();
        by_domain.insert(
            String::from("Secure.Example."),
            RelayPolicy::new(TlsPolicy::new(SecurityLevel::Secure)),
        );
        let config = RelayConfig {
            by_domain,
            smarthost: Some("[127.0.0.1]:2525".parse().unwrap()),
            ..RelayConfig::default()
        };
        let built = ClientDeliverer::new(config, "mx", None).unwrap();
        assert_eq!(built.level_for("secure.example"), SecurityLevel::Secure);
        assert_eq!(built.level_for("other.example"), SecurityLevel::May);
        let (_, route) = built.destination("secure.example");
        assert_eq!(route.to_string(), "127.0.0.1:2525");
    }
}
