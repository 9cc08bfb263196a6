//! What the `dane` and `dane-only` security levels do for one MX host, given what DNS
//! says (RFC 7672 section 2).

use std::fmt;

use super::tlsa::Tlsa;
use crate::dns::{Answer, DnsError, DnsResolver, Dnssec};
use crate::tlsrpt::ResultType;

/// The DANE security levels (Postfix's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DaneLevel {
    /// `dane`: authenticate with TLSA records when DNSSEC-validated ones exist, otherwise
    /// behave like `may` (opportunistic TLS).
    Dane,
    /// `dane-only`: deliver only to hosts authenticated by DNSSEC-validated TLSA records.
    DaneOnly,
}

impl fmt::Display for DaneLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DaneLevel::Dane => "dane",
            DaneLevel::DaneOnly => "dane-only",
        })
    }
}

/// What to do with one MX host under a DANE level.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaneDecision {
    /// TLS is required and the server must be authenticated by these usable, secure
    /// records (build a [`DaneVerifier`](super::DaneVerifier) from them).
    Authenticate {
        /// The usable records (never empty).
        records: Vec<Tlsa>,
    },
    /// Secure TLSA records exist but none is usable: TLS is required, without
    /// authentication (RFC 7672 section 2.2).
    EncryptOnly,
    /// No secure TLSA records: opportunistic TLS, as the `may` level (only under
    /// [`DaneLevel::Dane`]).
    Opportunistic,
    /// Do not connect now; try later (or another MX host).
    Defer {
        /// The TLS-RPT result type to record.
        result_type: ResultType,
        /// Why, for logs.
        reason: String,
    },
}

/// Decides how to treat `mx_host` (port `port`, usually 25) under `level`.
///
/// `mx_dnssec` is how securely the host was found: the [weakest](crate::dns::weakest) of
/// the DNSSEC status of the MX answer that named `mx_host` (or of the next-hop name itself
/// when there is no MX) and of the host's address answer ([`DnsResolver::ip`]). RFC 7672
/// section 2.2 looks TLSA records up only for hosts found through secure answers.
///
/// Bogus answers and failed TLSA lookups at a securely named host defer the mail
/// (`dnssec-invalid`): an attacker who can break DNS must not be able to turn DANE off.
/// `dane-only` defers (`dane-required`) wherever `dane` would fall back to `may`.
///
/// ```
/// use sealpost_starttls::dane::{DaneDecision, DaneLevel, dane_policy};
/// use sealpost_starttls::dns::{Answer, Dnssec, StaticResolver};
///
/// let resolver = StaticResolver::new()
///     .with_tlsa(25, "mx.example.com", Ok(Answer::NoRecords { dnssec: Dnssec::Secure }));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let d = dane_policy(&resolver, DaneLevel::Dane, "mx.example.com", 25, Dnssec::Secure).await;
/// assert_eq!(d, DaneDecision::Opportunistic);
/// let d = dane_policy(&resolver, DaneLevel::DaneOnly, "mx.example.com", 25, Dnssec::Secure).await;
/// assert!(matches!(d, DaneDecision::Defer { .. }));
/// # });
/// ```
pub async fn dane_policy(
    resolver: &dyn DnsResolver,
    level: DaneLevel,
    mx_host: &str,
    port: u16,
    mx_dnssec: Dnssec,
) -> DaneDecision {
    match mx_dnssec {
        Dnssec::Secure => {}
        Dnssec::Bogus => {
            return defer(
                ResultType::DnssecInvalid,
                format!("the DNS answers that lead to {mx_host} (MX or address) are DNSSEC-bogus"),
            );
        }
        Dnssec::Insecure => {
            return no_dane(
                level,
                format!("the name {mx_host} did not come from a DNSSEC-secure answer"),
            );
        }
    }
    match resolver.tlsa(port, mx_host).await {
        Ok(Answer::Records { dnssec: Dnssec::Secure, records }) => {
            let usable: Vec<Tlsa> = records.into_iter().filter(Tlsa::is_usable).collect();
            if usable.is_empty() {
                DaneDecision::EncryptOnly
            } else {
                DaneDecision::Authenticate { records: usable }
            }
        }
        Ok(answer) if answer.dnssec() == Dnssec::Bogus => defer(
            ResultType::DnssecInvalid,
            format!("the TLSA answer for _{port}._tcp.{mx_host} is bogus"),
        ),
        Ok(Answer::Records { .. }) => no_dane(
            level,
            format!("the TLSA records of _{port}._tcp.{mx_host} are not DNSSEC-signed"),
        ),
        Ok(_) => no_dane(level, format!("_{port}._tcp.{mx_host} has no TLSA records")),
        Err(e @ (DnsError::Timeout { .. } | DnsError::Failure { .. })) => {
            defer(ResultType::DnssecInvalid, format!("TLSA lookup failed: {e}"))
        }
        Err(e) => defer(ResultType::TlsaInvalid, format!("TLSA lookup impossible: {e}")),
    }
}

fn defer(result_type: ResultType, reason: String) -> DaneDecision {
    DaneDecision::Defer { result_type, reason }
}

fn no_dane(level: DaneLevel, reason: String) -> DaneDecision {
    match level {
        DaneLevel::Dane => DaneDecision::Opportunistic,
        DaneLevel::DaneOnly => defer(ResultType::DaneRequired, reason),
    }
}
