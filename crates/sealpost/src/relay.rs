//! From `[relay]` as read to what sealpost-mta's relay and worker take. The values are
//! already their types (levels, pins and routes are parsed as the file is read, in
//! `config.rs`); here the combinations are checked, with the policy named when one is wrong.

use std::time::Duration;

use anyhow::{Context, bail};
use sealpost_mta::WorkerSettings;
use sealpost_mta::relay::{DnsSettings, RelayConfig, RelayPolicy};
use sealpost_starttls::ClientAuth;
use sealpost_starttls::client::{SecurityLevel, TlsPolicy};

use crate::config::{RelayPolicySection, RelaySection};

fn policy(name: &str, section: &RelayPolicySection) -> anyhow::Result<RelayPolicy> {
    let level = section.level.unwrap_or(SecurityLevel::May);
    let mut tls = TlsPolicy::new(level);
    if let Some(ca) = &section.ca {
        let roots = ClientAuth::roots_from_pem(ca)
            .with_context(|| format!("[relay] policy for {name}: ca {}", ca.display()))?;
        tls = tls.roots(roots);
    }
    for name in &section.match_names {
        tls = tls.match_name(name.0.clone());
    }
    for pin in &section.fingerprints {
        tls = tls.fingerprint(*pin);
    }
    if level == SecurityLevel::Fingerprint && section.fingerprints.is_empty() {
        bail!("[relay] policy for {name}: level \"fingerprint\" needs `fingerprints`");
    }
    let mut policy = RelayPolicy::new(tls);
    policy.route.clone_from(&section.route);
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
    config.smarthost.clone_from(&section.smarthost);
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
