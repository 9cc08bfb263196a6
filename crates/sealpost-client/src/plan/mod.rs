//! The TLS plan of one host: the configured level, refined by what the destination
//! publishes: DANE TLSA records (RFC 7672) at the `dane` levels, an MTA-STS policy
//! (RFC 8461) for MX deliveries at the opportunistic levels.
//!
//! Precedence follows RFC 8461 section 2: a host authenticated by DNSSEC-validated TLSA
//! records is held to them and MTA-STS does not apply to it; MTA-STS then applies where
//! the configuration is opportunistic (`may`, `encrypt`, or `dane` at a host without TLSA
//! records). Levels chosen locally for a destination (`fingerprint`, `verify`, `secure`,
//! `none`) are the administrator's decision and stay as they are.

#[cfg(feature = "dane")]
mod dane;
#[cfg(feature = "mta-sts")]
mod sts;

use sealpost_starttls::client::{SecurityLevel, TlsClient, TlsPolicy};
use sealpost_starttls::dns::{DnsResolver, Dnssec};
use sealpost_starttls::tlsrpt::{Policy, ResultType};

#[cfg(feature = "dane")]
use self::dane::dane_plan;
#[cfg(feature = "mta-sts")]
use self::sts::sts_plan;
#[cfg(feature = "mta-sts")]
pub(crate) use self::sts::{StsState, sts_report};
use crate::error::DeliveryError;

/// Without the `mta-sts` feature no delivery has an MTA-STS state: the type has no
/// values, so the planning code needs no feature switches of its own.
#[cfg(not(feature = "mta-sts"))]
#[derive(Debug, Clone)]
pub(crate) enum StsState {}

/// What to do after a TLS failure of the first attempt.
#[derive(Debug, Clone)]
pub(crate) enum Fallback {
    /// A new connection in clear (level `may`, or `dane` without TLSA records).
    Clear,
    /// A new connection under this TLS client (MTA-STS testing: the configured level).
    #[cfg_attr(not(feature = "mta-sts"), allow(dead_code))]
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

/// What [`plan`] needs to know about the delivery. The configured plan alone reads only
/// the policy and the transport; the DANE and MTA-STS plans read the rest, so without their
/// features some fields go unread.
#[cfg_attr(not(any(feature = "dane", feature = "mta-sts")), allow(dead_code))]
pub(crate) struct PlanInput<'a> {
    /// The configured policy of the destination (`secure` already holds its names).
    pub(crate) base: &'a TlsPolicy,
    /// The next-hop domain (the recipient domain for MX routes).
    pub(crate) next_hop: &'a str,
    /// The host to connect to, and its port.
    pub(crate) host: &'a str,
    #[cfg_attr(not(feature = "dane"), allow(dead_code))]
    pub(crate) port: u16,
    /// How securely the host was found (the MX answer and the address answer).
    #[cfg_attr(not(feature = "dane"), allow(dead_code))]
    pub(crate) dnssec: Dnssec,
    /// Implicit TLS: no fallback to clear text.
    pub(crate) implicit_tls: bool,
    /// The resolver for TLSA records, if any.
    #[cfg_attr(not(feature = "dane"), allow(dead_code))]
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
    // Without the `dane` feature the DANE levels go on to the configured plan, where
    // TlsClient::new refuses them (TlsError::Unsupported): never a quiet `may`.
    #[cfg(feature = "dane")]
    let opportunistic_dane = if base.level.is_dane() {
        match dane_plan(input, cache, &route_key).await? {
            Some(plan) => return Ok(plan),
            None => true,
        }
    } else {
        false
    };
    #[cfg(not(feature = "dane"))]
    let opportunistic_dane = false;
    let opportunistic =
        opportunistic_dane || matches!(base.level, SecurityLevel::May | SecurityLevel::Encrypt);
    let configured = configured_plan(input, cache, &route_key)?;
    let Some(sts) = input.sts.filter(|_| opportunistic) else { return Ok(configured) };
    sts_plan(input, cache, &route_key, sts, configured)
}

/// Without the `mta-sts` feature there is no MTA-STS state to plan with.
#[cfg(not(feature = "mta-sts"))]
fn sts_plan(
    _input: &PlanInput<'_>,
    _cache: &dyn ClientCache,
    _route_key: &str,
    sts: &StsState,
    _configured: HostPlan,
) -> Result<HostPlan, DeliveryError> {
    match *sts {}
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

#[cfg_attr(not(any(feature = "dane", feature = "mta-sts")), allow(dead_code))]
fn not_met(policy: Policy, result_type: ResultType, reason: String) -> DeliveryError {
    DeliveryError::PolicyNotMet { policy: Box::new(policy), result_type, reason }
}
