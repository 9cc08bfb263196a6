//! The `dane` and `dane-only` levels (RFC 7672): the TLSA records of each MX host decide.

use std::sync::Arc;

use sealpost_starttls::client::SecurityLevel;
use sealpost_starttls::dane::{DaneDecision, DaneLevel, DaneVerifier, Tlsa, dane_policy};
use sealpost_starttls::tlsrpt::{Policy, PolicyType, ResultType};

use super::{ClientCache, HostPlan, PlanInput, not_met};
use crate::error::DeliveryError;

/// The plan of a host at the `dane` and `dane-only` levels (RFC 7672): `None` when `dane`
/// finds no TLSA records to hold the host to, and the host is treated as at `may`.
pub(super) async fn dane_plan(
    input: &PlanInput<'_>,
    cache: &dyn ClientCache,
    route_key: &str,
) -> Result<Option<HostPlan>, DeliveryError> {
    let base = input.base;
    let level =
        if base.level == SecurityLevel::DaneOnly { DaneLevel::DaneOnly } else { DaneLevel::Dane };
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
            let provider = Arc::new(sealpost_starttls::rustls::crypto::ring::default_provider());
            // RFC 7672 section 3.2.2: DANE-TA names are the TLSA base domain (the MX
            // host) and the next-hop domain.
            let mut names = vec![input.host.to_owned(), input.next_hop.to_owned()];
            names.dedup();
            let verifier = DaneVerifier::new(records, names, provider)
                .map_err(|f| not_met(report.clone(), f.result_type, f.reason.clone()))?;
            let policy = base.clone().with_verifier(Arc::new(verifier));
            let key =
                format!("{route_key}|tlsa|{}|{}", input.host, report.policy_strings.join(","));
            Ok(Some(HostPlan {
                tls: cache.client(key, &policy)?,
                fallbacks: Vec::new(),
                policy: Some(report),
                enforced: true,
                report_only: None,
            }))
        }
        DaneDecision::EncryptOnly if level == DaneLevel::Dane => {
            // RFC 7672 section 2.2: records exist but none is usable: TLS without
            // authentication, never clear text.
            let mut policy = base.clone();
            policy.level = SecurityLevel::Encrypt;
            Ok(Some(HostPlan {
                tls: cache.client(format!("{route_key}|tlsa-encrypt"), &policy)?,
                fallbacks: Vec::new(),
                policy: Some(tlsa(&[])),
                enforced: true,
                report_only: None,
            }))
        }
        DaneDecision::EncryptOnly => Err(not_met(
            tlsa(&[]),
            ResultType::TlsaInvalid,
            format!("{} has TLSA records but none is usable", input.host),
        )),
        DaneDecision::Defer { result_type, reason } => Err(not_met(tlsa(&[]), result_type, reason)),
        DaneDecision::Opportunistic => Ok(None),
        _ => Err(not_met(
            tlsa(&[]),
            ResultType::ValidationFailure,
            "an unknown DANE decision".into(),
        )),
    }
}
