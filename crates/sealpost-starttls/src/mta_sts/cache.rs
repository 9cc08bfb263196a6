//! The policy cache and the discovery procedure of RFC 8461 section 5.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::fetch::PolicyFetcher;
use super::policy::StsPolicy;
use super::record::StsRecord;
use crate::dns::{Answer, DnsResolver};
use crate::tlsrpt::ResultType;

/// A policy held in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachedPolicy {
    /// The `id` of the TXT record the policy was fetched under.
    pub id: String,
    /// The policy.
    pub policy: Arc<StsPolicy>,
    /// When the policy stops being valid (fetch time plus `max_age`).
    pub expires: SystemTime,
}

/// Something that went wrong while looking for a policy, for logs and TLS-RPT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StsFailure {
    /// The TLS-RPT result type.
    pub result_type: ResultType,
    /// What happened.
    pub reason: String,
}

/// Where a policy in effect came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicySource {
    /// Fetched during this lookup.
    Fetched,
    /// From the cache, its id still current.
    Cached,
    /// From the cache, because discovery or the fetch failed (RFC 8461 section 5.1: a
    /// non-expired policy stays in effect).
    CachedAfterFailure,
}

/// The result of looking up a domain's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StsLookup {
    /// A policy is in effect.
    Policy {
        /// The policy.
        policy: Arc<StsPolicy>,
        /// Its id.
        id: String,
        /// Where it came from.
        source: PolicySource,
        /// A failure met on the way (fetch failed, cached policy used).
        failure: Option<StsFailure>,
    },
    /// No policy is in effect.
    NoPolicy {
        /// Why, when a policy was announced but could not be obtained.
        failure: Option<StsFailure>,
    },
}

/// MTA-STS policies by recipient domain, refreshed when the `_mta-sts` TXT id changes or
/// the policy expires.
///
/// ```
/// use std::time::SystemTime;
/// use sealpost_starttls::dns::{Answer, Dnssec, StaticResolver, Txt};
/// use sealpost_starttls::mta_sts::{FetchFuture, PolicyCache, PolicyFetcher, StsLookup, StsPolicy};
///
/// struct Fixed;
/// impl PolicyFetcher for Fixed {
///     fn fetch<'a>(&'a self, _domain: &'a str) -> FetchFuture<'a> {
///         Box::pin(async {
///             Ok(StsPolicy::parse(b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n")?)
///         })
///     }
/// }
///
/// let resolver = StaticResolver::new().with_txt(
///     "_mta-sts.example.com",
///     Ok(Answer::Records { records: vec![Txt { strings: vec![b"v=STSv1; id=1".to_vec()] }], dnssec: Dnssec::Insecure }),
/// );
/// let cache = PolicyCache::new();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let found = cache.lookup(&resolver, &Fixed, "example.com", SystemTime::now()).await;
/// assert!(matches!(found, StsLookup::Policy { .. }));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<String, CachedPolicy>>,
}

impl PolicyCache {
    /// An empty cache.
    pub fn new() -> PolicyCache {
        PolicyCache::default()
    }

    /// The cached policy of `domain`, if any (expired or not).
    pub fn get(&self, domain: &str) -> Option<CachedPolicy> {
        self.lock().get(&crate::dns::normalize(domain)).cloned()
    }

    /// Drops expired entries, returning how many were removed.
    pub fn purge(&self, now: SystemTime) -> usize {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, e| e.expires > now);
        before - entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedPolicy>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finds the policy in effect for `domain` at `now` (RFC 8461 section 5.1): reads the
    /// `_mta-sts` TXT record; uses the cached policy when its id is current and it has not
    /// expired; otherwise fetches. A fetch that fails leaves an unexpired cached policy in
    /// effect; a missing or invalid TXT record does too.
    pub async fn lookup(
        &self,
        resolver: &dyn DnsResolver,
        fetcher: &dyn PolicyFetcher,
        domain: &str,
        now: SystemTime,
    ) -> StsLookup {
        let domain = crate::dns::normalize(domain);
        let cached = self.get(&domain).filter(|c| c.expires > now);
        let record = match resolver.txt(&format!("_mta-sts.{domain}")).await {
            Ok(answer @ Answer::Records { .. }) => {
                StsRecord::from_txt(answer.records()).ok().flatten()
            }
            Ok(_) | Err(_) => None,
        };
        let Some(record) = record else {
            return match cached {
                Some(c) => StsLookup::Policy {
                    policy: c.policy,
                    id: c.id,
                    source: PolicySource::CachedAfterFailure,
                    failure: None,
                },
                None => StsLookup::NoPolicy { failure: None },
            };
        };
        if let Some(c) = &cached
            && c.id == record.id
        {
            return StsLookup::Policy {
                policy: c.policy.clone(),
                id: c.id.clone(),
                source: PolicySource::Cached,
                failure: None,
            };
        }
        match fetcher.fetch(&domain).await {
            Ok(policy) => {
                let policy = Arc::new(policy);
                // A clock so far in the future that it overflows keeps the policy for this
                // lookup only.
                let expires =
                    now.checked_add(Duration::from_secs(u64::from(policy.max_age))).unwrap_or(now);
                self.lock().insert(
                    domain,
                    CachedPolicy { id: record.id.clone(), policy: policy.clone(), expires },
                );
                StsLookup::Policy {
                    policy,
                    id: record.id,
                    source: PolicySource::Fetched,
                    failure: None,
                }
            }
            Err(e) => {
                let failure = StsFailure { result_type: e.result_type(), reason: e.to_string() };
                match cached {
                    Some(c) => StsLookup::Policy {
                        policy: c.policy,
                        id: c.id,
                        source: PolicySource::CachedAfterFailure,
                        failure: Some(failure),
                    },
                    None => StsLookup::NoPolicy { failure: Some(failure) },
                }
            }
        }
    }
}
