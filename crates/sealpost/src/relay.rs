//! Relaying in `sealpost serve`: the relay worker of sealpost-server delivering the queue
//! through sealpost-client, under the `[relay]` policy table of the configuration.
//!
//! Each queued message is split by recipient domain; each domain gets its policy (the
//! `[relay.policy."domain"]` entry, else `[relay.default]`, else level `may`), its route
//! (the policy's `route`, else `[relay] smarthost`, else the domain's MX hosts), and one
//! delivery. Every attempt is logged on one line with its TLS outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sealpost_client::{Client, DeliveryConfig, DeliveryError, Message, Route};
use sealpost_codec::client::{ClientError, Envelope};
use sealpost_codec::{Command, ReversePath};
use sealpost_server::relay::{Deliverer, RecipientOutcome, RelayJob};
use sealpost_starttls::ClientAuth;
use sealpost_starttls::client::{Fingerprint, SecurityLevel, TlsPolicy};
use sealpost_starttls::dns::{DnsResolver, HickoryResolver};
use sealpost_starttls::mta_sts::HttpsPolicyFetcher;

use crate::config::{RelayPolicySection, RelaySection};
use crate::send::one_line;
use crate::tls_journal::{Entry, Journal, unix_now};

/// The policy for one destination, checked, and the client that delivers under it (kept
/// for the life of the server: its TLS session and MTA-STS policy caches live in it).
#[derive(Debug, Clone)]
struct Destination {
    tls: TlsPolicy,
    route: Option<Route>,
    client: Option<Arc<Client>>,
}

/// Delivers queued mail with sealpost-client.
pub(crate) struct ClientDeliverer {
    default: Destination,
    by_domain: BTreeMap<String, Destination>,
    journal: Journal,
}

fn destination(name: &str, section: &RelayPolicySection) -> anyhow::Result<Destination> {
    let level: SecurityLevel = section
        .level
        .as_deref()
        .unwrap_or("may")
        .parse()
        .with_context(|| format!("[relay] policy for {name}: level"))?;
    let mut tls = TlsPolicy::new(level);
    if let Some(ca) = &section.ca {
        let roots = ClientAuth::roots_from_pem(ca)
            .with_context(|| format!("[relay] policy for {name}: ca {}", ca.display()))?;
        tls = tls.roots(roots);
    }
    for name in &section.match_names {
        tls = tls.match_name(name.clone());
    }
    for pin in &section.fingerprints {
        let pin: Fingerprint =
            pin.parse().with_context(|| format!("[relay] policy for {name}: fingerprint"))?;
        tls = tls.fingerprint(pin);
    }
    if level == SecurityLevel::Fingerprint && section.fingerprints.is_empty() {
        bail!("[relay] policy for {name}: level \"fingerprint\" needs `fingerprints`");
    }
    let route = match &section.route {
        Some(route) => Some(
            route.parse::<Route>().with_context(|| format!("[relay] policy for {name}: route"))?,
        ),
        None => None,
    };
    Ok(Destination { tls, route, client: None })
}

/// The validating resolver of `[relay]`: `dns` (with `dns_trust_anchor`), or the
/// nameservers of /etc/resolv.conf.
fn relay_resolver(section: &RelaySection) -> anyhow::Result<HickoryResolver> {
    let timeout = Duration::from_secs(10);
    Ok(match (&section.dns, &section.dns_trust_anchor) {
        (Some(servers), Some(anchors)) => {
            HickoryResolver::with_trust_anchors(servers, timeout, anchors)
                .context("[relay] dns_trust_anchor")?
        }
        (Some(servers), None) => HickoryResolver::new(servers, timeout).context("[relay] dns")?,
        (None, Some(_)) => bail!("[relay] dns_trust_anchor needs `dns` (name servers)"),
        (None, None) => {
            HickoryResolver::from_resolv_conf(std::path::Path::new("/etc/resolv.conf"), timeout)?
        }
    })
}

impl ClientDeliverer {
    /// The deliverer `[relay]` describes; `helo` is the server's host name.
    pub(crate) fn new(
        section: &RelaySection,
        helo: &str,
        journal: Journal,
    ) -> anyhow::Result<Self> {
        let mut default = match &section.default {
            Some(policy) => destination("the default", policy)?,
            None => {
                Destination { tls: TlsPolicy::new(SecurityLevel::May), route: None, client: None }
            }
        };
        if let Some(smarthost) = &section.smarthost {
            default.route = Some(smarthost.parse::<Route>().context("[relay] smarthost")?);
        }
        let mut by_domain = BTreeMap::new();
        for (domain, policy) in &section.policy {
            let mut checked = destination(domain, policy)?;
            if checked.route.is_none() {
                checked.route.clone_from(&default.route);
            }
            by_domain.insert(domain.trim_end_matches('.').to_ascii_lowercase(), checked);
        }
        let mta_sts = section.mta_sts.unwrap_or(false);
        // DNS is needed for MX lookups (a destination without a fixed route), for TLSA
        // records (the dane levels) and for MTA-STS.
        let needs_dns = mta_sts
            || std::iter::once(&default)
                .chain(by_domain.values())
                .any(|d| d.route.is_none() || d.tls.level.is_dane());
        let resolver: Option<Arc<dyn DnsResolver>> = if needs_dns {
            match relay_resolver(section) {
                Ok(resolver) => Some(Arc::new(resolver)),
                // A configured resolver that cannot be built is a configuration error.
                Err(e) if section.dns.is_some() || section.dns_trust_anchor.is_some() => {
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no DNS resolver: MX deliveries will be deferred");
                    None
                }
            }
        } else {
            None
        };
        let port = section.mx_port.unwrap_or(25);
        for destination in std::iter::once(&mut default).chain(by_domain.values_mut()) {
            let mut config = DeliveryConfig::new(helo.to_owned()).tls(destination.tls.clone());
            config.port = port;
            let mut client = Client::new(config);
            if let Some(resolver) = &resolver {
                client = client.with_dns(resolver.clone());
                if mta_sts {
                    let fetcher = match &destination.tls.roots {
                        Some(roots) => HttpsPolicyFetcher::new(roots.as_ref().clone()),
                        None => HttpsPolicyFetcher::with_mozilla_roots(),
                    };
                    client = client.with_mta_sts(Arc::new(fetcher.with_resolver(resolver.clone())));
                }
            }
            destination.client = Some(Arc::new(client));
        }
        Ok(ClientDeliverer { default, by_domain, journal })
    }

    fn destination(&self, domain: &str) -> (&Destination, Route) {
        let destination = self.by_domain.get(domain).unwrap_or(&self.default);
        let route = destination.route.clone().unwrap_or(Route::Mx { domain: domain.to_owned() });
        (destination, route)
    }

    /// One delivery of `content` to the recipients `indexes` of `job`, all in `domain`.
    async fn deliver_domain(
        &self,
        job: &RelayJob,
        domain: &str,
        indexes: &[usize],
        content: &bytes::Bytes,
    ) -> Vec<RecipientOutcome> {
        let (destination, route) = self.destination(domain);
        let Some(client) = destination.client.clone() else {
            return vec![deferred(None, "no client for this destination"); indexes.len()];
        };
        let mut dsn_passed_on = true;
        let mut result = None;
        for with_dsn in [true, false] {
            let envelope = match envelope(job, indexes, with_dsn) {
                Ok(envelope) => envelope,
                Err(e) => return vec![failed(None, "5.5.4", &e.to_string()); indexes.len()],
            };
            let message = Message::new(envelope, content.clone());
            let attempt = client.deliver(&route, &[message]).await;
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
            return vec![deferred(None, "no delivery attempt was made"); indexes.len()];
        };
        let id = &job.envelope.id;
        self.outcomes(id, domain, &route, result, indexes.len(), dsn_passed_on)
    }

    /// The outcomes of one delivery, logged and journaled.
    fn outcomes(
        &self,
        id: &str,
        domain: &str,
        route: &Route,
        result: Result<sealpost_client::Delivery, DeliveryError>,
        count: usize,
        dsn_passed_on: bool,
    ) -> Vec<RecipientOutcome> {
        let level = self.destination(domain).0.tls.level.to_string();
        let mut entry = Entry {
            time: unix_now(),
            domain: domain.to_owned(),
            mx: None,
            level,
            trust: String::from("none"),
            tls: None,
            result_type: None,
            delivered: 0,
            deferred: 0,
            failed: 0,
            policy: None,
        };
        if let Err(e) = &result {
            entry.result_type = e.tls_result_type().map(|r| r.as_str().to_owned());
            entry.policy = e.tls_policy().cloned();
        }
        if let Ok(delivery) = &result {
            entry.mx = Some(delivery.host.clone());
            entry.trust = delivery.tls.trust.as_str().to_owned();
            entry.tls =
                delivery.tls.session.as_ref().map(|s| format!("{} {}", s.version, s.cipher));
            entry.result_type = delivery.tls.failure.map(|r| r.as_str().to_owned());
            entry.policy.clone_from(&delivery.tls.policy);
        }
        let outcomes = self.classify(id, domain, route, result, count, dsn_passed_on);
        for outcome in &outcomes {
            match outcome {
                RecipientOutcome::Delivered { .. } => entry.delivered += 1,
                RecipientOutcome::Failed { .. } => entry.failed += 1,
                _ => entry.deferred += 1,
            }
        }
        self.journal.record(&entry);
        outcomes
    }

    fn classify(
        &self,
        id: &str,
        domain: &str,
        route: &Route,
        result: Result<sealpost_client::Delivery, DeliveryError>,
        count: usize,
        dsn_passed_on: bool,
    ) -> Vec<RecipientOutcome> {
        let indexes_len = count;
        match result {
            Err(e) => {
                tracing::info!(queue_id = %id, %domain, %route, error = %e, "relay attempt");
                let outcome = if e.is_permanent() {
                    failed(None, "5.0.0", &e.to_string())
                } else {
                    deferred(None, &e.to_string())
                };
                vec![outcome; indexes_len]
            }
            Ok(delivery) => {
                let host = Some(delivery.host.clone());
                tracing::info!(
                    queue_id = %id, %domain, %route, host = %delivery.host, addr = %delivery.addr,
                    tls = %delivery.tls, "relay attempt"
                );
                match delivery.results.into_iter().next() {
                    None => vec![deferred(host, "the server took no message"); indexes_len],
                    Some(Err(e)) if e.is_permanent() => {
                        vec![failed(host, "5.0.0", &e.to_string()); indexes_len]
                    }
                    Some(Err(e)) => vec![deferred(host, &e.to_string()); indexes_len],
                    Some(Ok(transaction)) => transaction
                        .recipients
                        .iter()
                        .map(|r| match r.final_reply() {
                            _ if r.delivered() => RecipientOutcome::Delivered {
                                remote_mta: host.clone(),
                                reply: one_line(
                                    &r.final_reply().map(ToString::to_string).unwrap_or_default(),
                                ),
                                dsn_passed_on,
                            },
                            Some(reply) if reply.code().is_permanent_failure() => {
                                let status = reply
                                    .enhanced_status()
                                    .map_or_else(|| String::from("5.0.0"), |s| s.to_string());
                                failed(host.clone(), &status, &one_line(&reply.to_string()))
                            }
                            Some(reply) => deferred(host.clone(), &one_line(&reply.to_string())),
                            None => deferred(host.clone(), "no reply for this recipient"),
                        })
                        .collect(),
                }
            }
        }
    }
}

fn failed(remote_mta: Option<String>, status: &str, diagnostic: &str) -> RecipientOutcome {
    RecipientOutcome::Failed {
        remote_mta,
        status: status.to_owned(),
        diagnostic: diagnostic.to_owned(),
    }
}

fn deferred(remote_mta: Option<String>, diagnostic: &str) -> RecipientOutcome {
    RecipientOutcome::Deferred { remote_mta, diagnostic: diagnostic.to_owned() }
}

/// The SMTP envelope of recipients `indexes` of `job`, parsed back from the queue's
/// stored parameters with the codec (so nothing is lost or reinterpreted).
fn envelope(job: &RelayJob, indexes: &[usize], with_dsn: bool) -> anyhow::Result<Envelope> {
    let queued = &job.envelope;
    let dsn_mail = |p: &&String| with_dsn || !(p.starts_with("RET=") || p.starts_with("ENVID="));
    let params: Vec<&String> = queued.mail_parameters.iter().filter(dsn_mail).collect();
    let mail = format!(
        "MAIL FROM:<{}>{}\r\n",
        queued.sender,
        params.iter().map(|p| format!(" {p}")).collect::<String>()
    );
    let (_, command) = Command::decode(mail.as_bytes())
        .map_err(|e| anyhow::anyhow!("the queued sender or parameters do not parse: {e}"))?;
    let Command::Mail { reverse_path, parameters } = command.into_owned() else {
        bail!("the queued sender does not form a MAIL command");
    };
    let reverse_path: ReversePath<'static> = reverse_path;
    let mut envelope = Envelope::new(reverse_path).parameters(parameters);
    for &i in indexes {
        let Some(recipient) = queued.recipients.get(i) else { continue };
        let dsn_rcpt =
            |p: &&String| with_dsn || !(p.starts_with("NOTIFY=") || p.starts_with("ORCPT="));
        let params: Vec<&String> = recipient.parameters.iter().filter(dsn_rcpt).collect();
        let rcpt = format!(
            "RCPT TO:<{}>{}\r\n",
            recipient.address,
            params.iter().map(|p| format!(" {p}")).collect::<String>()
        );
        let (_, command) = Command::decode(rcpt.as_bytes())
            .map_err(|e| anyhow::anyhow!("queued recipient {}: {e}", recipient.address))?;
        let Command::Rcpt { forward_path, parameters } = command.into_owned() else {
            bail!("queued recipient {} does not form a RCPT command", recipient.address);
        };
        envelope = envelope.recipient_with(forward_path, parameters);
    }
    Ok(envelope)
}

impl Deliverer for ClientDeliverer {
    async fn deliver(&self, job: &RelayJob) -> Vec<RecipientOutcome> {
        let count = job.envelope.recipients.len();
        let mut by_domain: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, recipient) in job.envelope.recipients.iter().enumerate() {
            let domain = recipient
                .address
                .rsplit_once('@')
                .map_or(String::new(), |(_, d)| d.trim_end_matches('.').to_ascii_lowercase());
            by_domain.entry(domain).or_default().push(i);
        }
        let content = bytes::Bytes::from(job.message.clone());
        let mut outcomes: Vec<Option<RecipientOutcome>> = vec![None; count];
        for (domain, indexes) in &by_domain {
            let results = self.deliver_domain(job, domain, indexes, &content).await;
            for (&i, outcome) in indexes.iter().zip(results) {
                outcomes[i] = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| deferred(None, "no outcome for this recipient")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RelayPolicySection;

    fn build(section: &RelaySection) -> anyhow::Result<ClientDeliverer> {
        let dir = tempfile::tempdir()?;
        ClientDeliverer::new(section, "mx.example.org", Journal::new(dir.path()))
    }

    fn error(section: &RelaySection) -> String {
        build(section).err().map(|e| format!("{e:#}")).unwrap_or_default()
    }

    #[test]
    fn dane_levels_and_dns_settings_are_checked() {
        let dane = RelayPolicySection { level: Some("dane-only".into()), ..Default::default() };
        let mut section = RelaySection {
            default: Some(dane),
            dns: Some(vec!["127.0.0.1:53".parse().unwrap()]),
            mta_sts: Some(true),
            ..Default::default()
        };
        let built = build(&section).unwrap();
        assert_eq!(built.default.tls.level, SecurityLevel::DaneOnly);
        assert!(built.default.client.is_some(), "a client per destination, made once");

        section.dns_trust_anchor = Some("/nonexistent/anchor.key".into());
        assert!(error(&section).contains("dns_trust_anchor"), "{}", error(&section));
        section.dns = None;
        assert!(error(&section).contains("needs `dns`"), "{}", error(&section));

        let bad = RelayPolicySection { level: Some("danish".into()), ..Default::default() };
        let section = RelaySection { default: Some(bad), ..Default::default() };
        assert!(error(&section).contains("unknown TLS security level"), "{}", error(&section));
    }
}
