//! From `[relay]` as written to what sealpost-mta's relay and worker take: every value
//! parsed into its type once, at start, with the key named when it is wrong.

use std::time::Duration;

use anyhow::{Context, bail};
use sealpost_client::Route;
use sealpost_mta::WorkerSettings;
use sealpost_mta::relay::{DnsSettings, RelayConfig, RelayPolicy};
use sealpost_starttls::ClientAuth;
use sealpost_starttls::client::{Fingerprint, SecurityLevel, TlsPolicy};

use crate::config::{RelayPolicySection, RelaySection};

fn policy(name: &str, section: &RelayPolicySection) -> anyhow::Result<RelayPolicy> {
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
    let mut policy = RelayPolicy::new(tls);
    if let Some(route) = &section.route {
        policy.route = Some(
            route.parse::<Route>().with_context(|| format!("[relay] policy for {name}: route"))?,
        );
    }
    Ok(policy)
}

/// The relay's configuration.
pub(crate) fn relay_config(section: &RelaySection) -> anyhow::Result<RelayConfig> {
    let mut config = RelayConfig::default();
    if let Some(default) = &section.default {
        config.default = policy("the default", default)?;
    }
    for (domain, section) in &section.policy {
        config.by_domain.insert(domain.clone(), policy(domain, section)?);
    }
    if let Some(smarthost) = &section.smarthost {
        config.smarthost = Some(smarthost.parse::<Route>().context("[relay] smarthost")?);
    }
    if let Some(port) = section.mx_port {
        config.mx_port = port;
    }
    let mut dns = DnsSettings::default();
    dns.servers.clone_from(&section.dns);
    dns.trust_anchor.clone_from(&section.dns_trust_anchor);
    config.dns = dns;
    config.mta_sts = section.mta_sts.unwrap_or(false);
    Ok(config)
}

/// The worker's retries and pace from `[relay]`, its lease from `[queue]`.
pub(crate) fn worker_settings(
    section: &RelaySection,
    queue: &crate::settings::QueuePlan,
    hostname: &str,
) -> anyhow::Result<WorkerSettings> {
    let mut settings = WorkerSettings::new(&queue.node, hostname);
    settings.lease = queue.lease;
    match section.concurrency {
        Some(0) => bail!("[relay] concurrency must be at least 1"),
        Some(n) => settings.concurrency = n,
        None => {}
    }
    if let Some(retry) = &section.retry {
        if retry.is_empty() || retry.contains(&0) {
            bail!("[relay] retry must list waits of at least 1 second");
        }
        settings.backoff = retry.iter().map(|s| Duration::from_secs(*s)).collect();
    }
    if let Some(max_age) = section.max_age {
        settings.max_age = Duration::from_secs(max_age);
    }
    if let Some(every) = section.scan_interval {
        settings.idle_poll = Duration::from_secs(every.max(1));
    }
    Ok(settings)
}
