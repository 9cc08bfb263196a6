//! SMTP MTA Strict Transport Security (RFC 8461).
//!
//! - [`StsRecord`]: the `_mta-sts.<domain>` TXT record (`v=STSv1; id=...`).
//! - [`StsPolicy`]: the policy file (version, mode, `mx` patterns, `max_age`) and MX
//!   matching with `*.` wildcards.
//! - [`PolicyFetcher`] / [`HttpsPolicyFetcher`]: the HTTPS fetch of
//!   `https://mta-sts.<domain>/.well-known/mta-sts.txt` (no redirects, `text/plain`, size
//!   limit, timeout), failures mapped to TLS-RPT result types.
//! - [`PolicyCache`]: the discovery procedure with a cache keyed by domain and id.

mod cache;
mod fetch;
mod policy;
mod record;

pub use cache::{CachedPolicy, PolicyCache, PolicySource, StsFailure, StsLookup};
pub use fetch::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_POLICY_SIZE, FetchError, FetchFuture, HttpsPolicyFetcher,
    PolicyFetcher, policy_url,
};
pub use policy::{MAX_MAX_AGE, Mode, MxPattern, PolicyError, StsPolicy};
pub use record::{StsRecord, StsRecordError};
