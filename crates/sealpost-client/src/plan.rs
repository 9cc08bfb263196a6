//! The TLS plan of one host: the configured level, refined by what the destination
//! publishes: DANE TLSA records (RFC 7672) at the `dane` levels, an MTA-STS policy
//! (RFC 8461) for MX deliveries at the opportunistic levels.
//!
//! Precedence follows RFC 8461 section 2: a host authenticated by DNSSEC-validated TLSA
//! records is held to them and MTA-STS does not apply to it; MTA-STS then applies where
//! the configuration is opportunistic (`may`, `encrypt`, or `dane` at a host without TLSA
//! records). Levels chosen locally for a destination (`fingerprint`, `verify`, `secure`,
//! `none`) are the administrator's decision and stay as they are.

use std::sync::Arc;

use sealpost_starttls::client::{SecurityLevel, TlsClient, TlsPolicy};
use sealpost_starttls::dane::{DaneDecision, DaneLevel, DaneVerifier, Tlsa, dane_policy};
use sealpost_starttls::dns::{DnsResolver, Dnssec};
use sealpost_starttls::mta_sts::{Mode, StsPolicy};
use sealpost_starttls::tlsrpt::{Policy, PolicyType, ResultType};

use crate::error::DeliveryError;

/// An MTA-STS policy in force for the recipient domain of a delivery (mode `enforce` or
/// `testing`), or the failure to obtain an announced one.
#[derive(Debug, Clone)]
pub(crate) enum StsState {
    /// A policy applies.
    Policy {
        /// The policy.
        policy: Arc<StsPolicy>,
        /// How it is reported (policy-type `sts`, its lines and MX patterns).
        report: Policy,
    },
    /// A policy was announced but could not be fetched, and none was cached: delivery goes
    /// on under the configured level and the failure is reported.
    Unavailable {
        /// How it is reported.
        report: Policy,
        /// The failure.
        failure: (ResultType, String),
    },
}

/// What to do after a TLS failure of the first attempt.
#[derive(Debug, Clone)]
pub(crate) enum Fallback {
    /// A new connection in clear (level `may`, or `dane` without TLSA records).
    Clear,
    /// A new connection under this TLS client (MTA-STS testing: the configured level).
    Tls(TlsClient),
}

/// How one host is to be treated.
#[derive(Debug, Clone)]
pub(crate) struct HostPlan {
    /// The TLS client of the first attempt.
    pub(crate) tls: TlsClient,
    /// Tried in order while attempts fail in their TLS part.
    pub(crate) fallbacks: Vec<Fallback>,
    /// The published policy in force, for reports.
    pub(crate) policy: Option<Policy>,
    /// A TLS failure under this plan breaks a published policy (DANE records, MTA-STS
    /// enforce) and is reported as [`DeliveryError::PolicyNotMet`].
    pub(crate) enforced: bool,
    /// A policy failure to report although delivery goes on (MTA-STS testing, a policy
    /// that could not be fetched).
    pub(crate) report_only: Option<(ResultType, String)>,
}

/// What [`plan`] needs to know about the delivery.
pub(crate) struct PlanInput<'a> {
    /// The configured policy of the destination (`secure` already holds its names).
    pub(crate) base: &'a TlsPolicy,
    /// The next-hop domain (the recipient domain for MX routes).
    pub(crate) next_hop: &'a str,
    /// The host to connect to, and its port.
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// How securely the host was found (the MX answer and the address answer).
    pub(crate) dnssec: Dnssec,
    /// Implicit TLS: no fallback to clear text.
    pub(crate) implicit_tls: bool,
    /// The resolver for TLSA records, if any.
    pub(crate) dns: Option<&'a dyn DnsResolver>,
    /// The MTA-STS state of the recipient domain, if MTA-STS is on and applies.
    pub(crate) sts: Option<&'a StsState>,
}

/// Makes (or reuses) the TLS client of a policy; `key` names the policy in the cache.
pub(crate) trait ClientCache: Sync {
    fn client(&self, key: String, policy: &TlsPolicy) -> Result<TlsClient, DeliveryError>;
}

/// Decides how to treat one host. An `Err` defers this host (another may do).
pub(crate) async fn plan(
    input: &PlanInput<'_>,
    cache: &dyn ClientCache,
) -> Result<HostPlan, DeliveryError> {
    let base = input.base;
    let route_key = format!("{}|{}", input.next_hop, base.level);
    let mut opportunistic_dane = false;
    if base.level.is_dane() {
        let level = if base.level == SecurityLevel::DaneOnly {
            DaneLevel::DaneOnly
        } else {
            DaneLevel::Dane
        };
        let decision = match input.dns {
            Some(dns) => dane_policy(dns, level, input.host, input.port, input.dnssec).await,
            None if level == DaneLevel::Dane => DaneDecision::Opportunistic,
            None => DaneDecision::Defer {
                result_type: ResultType::DaneRequired,
                reason: "no DNSSEC-validating resolver is configured".into(),
            },
        };
        let tlsa = |records: &[Tlsa]| {
            Policy::new(PolicyType::Tlsa, input.next_hop)
                .with_strings(records.iter().map(ToString::to_string).collect())
        };
        match decision {
            DaneDecision::Authenticate { records } => {
                let report = tlsa(&records);
                let provider =
                    Arc::new(sealpost_starttls::rustls::crypto::ring::default_provider());
                // RFC 7672 section 3.2.2: DANE-TA names are the TLSA base domain (the MX
                // host) and the next-hop domain.
                let mut names = vec![input.host.to_owned(), input.next_hop.to_owned()];
                names.dedup();
                let verifier = DaneVerifier::new(records, names, provider)
                    .map_err(|f| not_met(report.clone(), f.result_type, f.reason.clone()))?;
                let policy = base.clone().with_verifier(Arc::new(verifier));
                let key =
                    format!("{route_key}|tlsa|{}|{}", input.host, report.policy_strings.join(","));
                return Ok(HostPlan {
                    tls: cache.client(key, &policy)?,
                    fallbacks: Vec::new(),
                    policy: Some(report),
                    enforced: true,
                    report_only: None,
                });
            }
            DaneDecision::EncryptOnly if level == DaneLevel::Dane => {
                // RFC 7672 section 2.2: records exist but none is usable: TLS without
                // authentication, never clear text.
                let mut policy = base.clone();
                policy.level = SecurityLevel::Encrypt;
                return Ok(HostPlan {
                    tls: cache.client(format!("{route_key}|tlsa-encrypt"), &policy)?,
                    fallbacks: Vec::new(),
                    policy: Some(tlsa(&[])),
                    enforced: true,
                    report_only: None,
                });
            }
            DaneDecision::EncryptOnly => {
                return Err(not_met(
                    tlsa(&[]),
                    ResultType::TlsaInvalid,
                    format!("{} has TLSA records but none is usable", input.host),
                ));
            }
            DaneDecision::Defer { result_type, reason } => {
                return Err(not_met(tlsa(&[]), result_type, reason));
            }
            DaneDecision::Opportunistic => opportunistic_dane = true,
            _ => {
                return Err(not_met(
                    tlsa(&[]),
                    ResultType::ValidationFailure,
                    "an unknown DANE decision".into(),
                ));
            }
        }
    }
    let opportunistic =
        opportunistic_dane || matches!(base.level, SecurityLevel::May | SecurityLevel::Encrypt);
    let configured = configured_plan(input, cache, &route_key)?;
    let Some(sts) = input.sts.filter(|_| opportunistic) else { return Ok(configured) };
    let (policy, report) = match sts {
        StsState::Unavailable { report, failure } => {
            return Ok(HostPlan {
                policy: Some(report.clone()),
                report_only: Some(failure.clone()),
                ..configured
            });
        }
        StsState::Policy { policy, report } => (policy, report),
    };
    let listed = policy.matches_mx(input.host);
    let unlisted = || {
        format!(
            "the MX host {} is not listed in the MTA-STS policy of {} (mx: {})",
            input.host,
            input.next_hop,
            report.mx_hosts.join(", ")
        )
    };
    // RFC 8461 section 4.2: TLS 1.2 or later (always so here), a certificate chain to a
    // trusted root, and a name matching the MX host.
    let mut strict = TlsPolicy::new(SecurityLevel::Verify);
    strict.roots.clone_from(&base.roots);
    strict.client_certificate.clone_from(&base.client_certificate);
    strict.handshake_timeout = base.handshake_timeout;
    let strict_key = format!("{route_key}|sts");
    match policy.mode {
        Mode::Enforce if !listed => {
            Err(not_met(report.clone(), ResultType::ValidationFailure, unlisted()))
        }
        Mode::Enforce => Ok(HostPlan {
            tls: cache.client(strict_key, &strict)?,
            fallbacks: Vec::new(),
            policy: Some(report.clone()),
            enforced: true,
            report_only: None,
        }),
        Mode::Testing if !listed => Ok(HostPlan {
            policy: Some(report.clone()),
            report_only: Some((ResultType::ValidationFailure, format!("{} (testing)", unlisted()))),
            ..configured
        }),
        Mode::Testing => {
            // Try as enforce would; on a TLS failure, deliver under the configured level
            // and report the failure (section 5: testing mode never blocks delivery).
            let mut fallbacks = vec![Fallback::Tls(configured.tls.clone())];
            fallbacks.extend(configured.fallbacks);
            Ok(HostPlan {
                tls: cache.client(strict_key, &strict)?,
                fallbacks,
                policy: Some(report.clone()),
                enforced: false,
                report_only: None,
            })
        }
        _ => Ok(configured),
    }
}

/// The plan of the configured level alone.
fn configured_plan(
    input: &PlanInput<'_>,
    cache: &dyn ClientCache,
    route_key: &str,
) -> Result<HostPlan, DeliveryError> {
    let tls = cache.client(route_key.to_owned(), input.base)?;
    let clear_fallback = tls.level().uses_tls() && !tls.requires_tls() && !input.implicit_tls;
    Ok(HostPlan {
        tls,
        fallbacks: if clear_fallback { vec![Fallback::Clear] } else { Vec::new() },
        policy: None,
        enforced: false,
        report_only: None,
    })
}

fn not_met(policy: Policy, result_type: ResultType, reason: String) -> DeliveryError {
    DeliveryError::PolicyNotMet { policy: Box::new(policy), result_type, reason }
}

/// The MTA-STS policy of a recipient domain as it will be reported.
pub(crate) fn sts_report(domain: &str, policy: Option<&StsPolicy>) -> Policy {
    let report = Policy::new(PolicyType::Sts, domain);
    match policy {
        Some(p) => report
            .with_strings(p.policy_strings())
            .with_mx_hosts(p.mx.iter().map(ToString::to_string).collect()),
        None => report,
    }
}
