//! MTA-STS (RFC 8461) in the plan of a host: the recipient domain's policy raises the
//! opportunistic levels.

use std::sync::Arc;

use sealpost_starttls::client::{SecurityLevel, TlsPolicy};
use sealpost_starttls::mta_sts::{Mode, StsPolicy};
use sealpost_starttls::tlsrpt::{Policy, PolicyType, ResultType};

use super::{ClientCache, Fallback, HostPlan, PlanInput, not_met};
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

/// The plan of a host under the recipient domain's MTA-STS state (RFC 8461 section 5),
/// starting from the configured plan.
pub(super) fn sts_plan(
    input: &PlanInput<'_>,
    cache: &dyn ClientCache,
    route_key: &str,
    sts: &StsState,
    configured: HostPlan,
) -> Result<HostPlan, DeliveryError> {
    let base = input.base;
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
