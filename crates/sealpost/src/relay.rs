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
use sealpost_client::{Client, DeliveryConfig, DeliveryError, DnsMx, Message, Route};
use sealpost_codec::client::{ClientError, Envelope};
use sealpost_codec::{Command, ReversePath};
use sealpost_server::relay::{Deliverer, RecipientOutcome, RelayJob};
use sealpost_starttls::ClientAuth;
use sealpost_starttls::client::{Fingerprint, SecurityLevel, TlsPolicy};
use sealpost_starttls::dns::{DnsResolver, HickoryResolver};

use crate::config::{RelayPolicySection, RelaySection};
use crate::send::one_line;
use crate::tls_journal::{Entry, Journal, unix_now};

/// The policy for one destination, checked.
#[derive(Debug, Clone)]
struct Destination {
    tls: TlsPolicy,
    route: Option<Route>,
}

/// Delivers queued mail with sealpost-client.
pub(crate) struct ClientDeliverer {
    helo: String,
    default: Destination,
    by_domain: BTreeMap<String, Destination>,
    resolver: Option<Arc<dyn DnsResolver>>,
    port: u16,
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
    Ok(Destination { tls, route })
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
            None => Destination { tls: TlsPolicy::new(SecurityLevel::May), route: None },
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
        // MX lookups need DNS only when some destination has no fixed route.
        let needs_dns = default.route.is_none() || by_domain.values().any(|d| d.route.is_none());
        let resolver: Option<Arc<dyn DnsResolver>> = if needs_dns {
            match HickoryResolver::from_resolv_conf(
                std::path::Path::new("/etc/resolv.conf"),
                Duration::from_secs(10),
            ) {
                Ok(resolver) => Some(Arc::new(resolver)),
                Err(e) => {
                    tracing::warn!(error = %e, "no DNS resolver: MX deliveries will be deferred");
                    None
                }
            }
        } else {
            None
        };
        Ok(ClientDeliverer {
            helo: helo.to_owned(),
            default,
            by_domain,
            resolver,
            port: section.mx_port.unwrap_or(25),
            journal,
        })
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
        let mut config = DeliveryConfig::new(self.helo.clone()).tls(destination.tls.clone());
        config.port = self.port;
        let mut client = Client::new(config);
        if let Some(resolver) = &self.resolver {
            client = client.with_resolver(Arc::new(DnsMx::new(resolver.clone())));
        }
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
        };
        if let Err(e) = &result {
            entry.result_type = e.tls_result_type().map(|r| r.as_str().to_owned());
        }
        if let Ok(delivery) = &result {
            entry.mx = Some(delivery.host.clone());
            entry.trust = delivery.tls.trust.as_str().to_owned();
            entry.tls =
                delivery.tls.session.as_ref().map(|s| format!("{} {}", s.version, s.cipher));
            entry.result_type = delivery.tls.failure.map(|r| r.as_str().to_owned());
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
