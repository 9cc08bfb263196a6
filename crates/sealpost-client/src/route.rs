//! Where mail goes: a fixed host (smarthost) or the MX hosts of a domain, found through a
//! resolver trait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// The next hop of a delivery.
///
/// ```
/// use sealpost_client::Route;
///
/// let route: Route = "[smtp.example.org]:587".parse().unwrap();
/// assert_eq!(route, Route::Host { host: "smtp.example.org".into(), port: 587 });
/// assert_eq!("127.0.0.1:2525".parse::<Route>().unwrap().to_string(), "127.0.0.1:2525");
/// assert_eq!("[::1]:25".parse::<Route>().unwrap(), Route::Host { host: "::1".into(), port: 25 });
/// assert!("no-port".parse::<Route>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// A static route or smarthost: this host and port, no MX lookup.
    Host {
        /// A DNS name or IP address.
        host: String,
        /// The port.
        port: u16,
    },
    /// The MX hosts of a domain, in preference order (the domain itself when it has none).
    Mx {
        /// The next-hop domain.
        domain: String,
    },
}

impl Route {
    /// The name a `secure` certificate must carry by default: the next-hop domain, or the
    /// host of a static route.
    pub fn next_hop(&self) -> &str {
        match self {
            Route::Host { host, .. } => host,
            Route::Mx { domain } => domain,
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Host { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Route::Host { host, port } => write!(f, "{host}:{port}"),
            Route::Mx { domain } => write!(f, "mx:{domain}"),
        }
    }
}

/// A `HOST:PORT` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid server {0:?}: expected HOST:PORT, [HOST]:PORT or [IPv6]:PORT")]
pub struct BadRoute(pub String);

impl std::str::FromStr for Route {
    type Err = BadRoute;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadRoute(s.to_owned());
        let (host, port) = match s.strip_prefix('[') {
            Some(rest) => {
                let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
                (host, port)
            }
            None => s.rsplit_once(':').ok_or_else(bad)?,
        };
        if host.is_empty()
            || host.contains(['[', ']'])
            || (host.contains(':') && !s.starts_with('['))
        {
            return Err(bad());
        }
        let port = port.parse::<u16>().map_err(|_| bad())?;
        Ok(Route::Host { host: host.to_owned(), port })
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    /// Lower is tried first.
    pub preference: u16,
    /// The exchange host name (`.` is a null MX, RFC 7505).
    pub exchange: String,
}

impl MxRecord {
    /// A record.
    pub fn new(preference: u16, exchange: impl Into<String>) -> Self {
        MxRecord { preference, exchange: exchange.into() }
    }
}

/// Why an MX lookup gave no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MxError {
    /// The domain does not exist (NXDOMAIN): a permanent failure.
    #[error("the domain does not exist")]
    NoSuchDomain,
    /// The lookup failed (for resolvers of your own; timeout, SERVFAIL, a DNSSEC-bogus
    /// answer): try again later.
    #[error("{0}")]
    Failed(String),
    /// The DNS resolver got no answer (timeout, SERVFAIL, an invalid name): try again
    /// later. The resolver's error is kept as it is.
    #[error(transparent)]
    Dns(#[from] sealpost_starttls::dns::DnsError),
    /// The MX answer failed DNSSEC validation (bogus): try again later.
    #[error("the MX answer for {domain} is DNSSEC-bogus")]
    Bogus {
        /// The domain looked up.
        domain: String,
    },
}

/// The future of [`MxResolver::lookup_mx`].
pub type MxFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<MxRecord>, MxError>> + Send + 'a>>;

/// Looks up MX records. An empty answer means "no MX records" (the domain itself is then
/// the host, RFC 5321 section 5.1).
pub trait MxResolver: Send + Sync {
    /// The MX records of `domain`.
    fn lookup_mx<'a>(&'a self, domain: &'a str) -> MxFuture<'a>;
}

/// A resolver with fixed answers, for tests and static setups. Unknown domains have no MX
/// records.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sealpost_client::{MxRecord, MxResolver, StaticMx};
///
/// let mx = StaticMx::new().with("example.org", vec![MxRecord::new(10, "mx1.example.org")]);
/// assert_eq!(mx.lookup_mx("example.org").await.unwrap()[0].exchange, "mx1.example.org");
/// assert!(mx.lookup_mx("example.net").await.unwrap().is_empty());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticMx {
    records: HashMap<String, Vec<MxRecord>>,
}

impl StaticMx {
    /// No records.
    pub fn new() -> Self {
        StaticMx::default()
    }

    /// Sets the records of a domain.
    #[must_use]
    pub fn with(mut self, domain: &str, records: Vec<MxRecord>) -> Self {
        self.records.insert(domain.to_ascii_lowercase(), records);
        self
    }
}

impl MxResolver for StaticMx {
    fn lookup_mx<'a>(&'a self, domain: &'a str) -> MxFuture<'a> {
        let records = self.records.get(&domain.to_ascii_lowercase()).cloned().unwrap_or_default();
        Box::pin(async move { Ok(records) })
    }
}

/// The hosts to try for a domain's MX records, best first: null MX is `Err`, no records is
/// the domain itself.
pub(crate) fn mx_hosts(domain: &str, mut records: Vec<MxRecord>) -> Result<Vec<String>, ()> {
    if records.len() == 1 && records[0].exchange.trim_end_matches('.').is_empty() {
        return Err(());
    }
    if records.is_empty() {
        return Ok(vec![domain.to_owned()]);
    }
    records.sort_by_key(|r| r.preference);
    Ok(records
        .into_iter()
        .map(|r| r.exchange.trim_end_matches('.').to_owned())
        .filter(|h| !h.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_hosts_sort_by_preference_and_know_null_mx() {
        let records = vec![MxRecord::new(20, "b.example."), MxRecord::new(10, "a.example.")];
        assert_eq!(mx_hosts("example", records), Ok(vec!["a.example".into(), "b.example".into()]));
        assert_eq!(mx_hosts("example", vec![]), Ok(vec!["example".into()]));
        assert_eq!(mx_hosts("example", vec![MxRecord::new(0, ".")]), Err(()));
    }

    #[test]
    fn routes_parse() {
        let table = [
            ("mail.test:25", Some(("mail.test", 25))),
            ("[mail.test]:587", Some(("mail.test", 587))),
            ("[::1]:2525", Some(("::1", 2525))),
            ("::1:25", None),
            ("mail.test", None),
            (":25", None),
            ("mail.test:99999", None),
            ("[mail.test:25", None),
        ];
        for (input, expected) in table {
            let got = input.parse::<Route>().ok();
            let expected = expected.map(|(h, p)| Route::Host { host: h.into(), port: p });
            assert_eq!(got, expected, "{input}");
        }
    }
}

/// MX lookups through a [`DnsResolver`](sealpost_starttls::dns::DnsResolver) of
/// `sealpost-starttls` (the hickory-resolver one for real use, the static one for tests).
/// A DNSSEC-bogus answer is a temporary failure, as RFC 7672 section 2.1.1 asks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sealpost_client::{DnsMx, MxError, MxResolver};
/// use sealpost_starttls::dns::{Answer, Dnssec, Mx, StaticResolver};
///
/// let dns = StaticResolver::new()
///     .with_mx("example.org", Ok(Answer::Records {
///         records: vec![Mx { preference: 10, exchange: "mx.example.org".into() }],
///         dnssec: Dnssec::Insecure,
///     }))
///     .with_mx("gone.example", Ok(Answer::NxDomain { dnssec: Dnssec::Insecure }));
/// let mx = DnsMx::new(Arc::new(dns));
/// assert_eq!(mx.lookup_mx("example.org").await.unwrap()[0].exchange, "mx.example.org");
/// assert_eq!(mx.lookup_mx("gone.example").await, Err(MxError::NoSuchDomain));
/// # });
/// ```
#[derive(Clone)]
pub struct DnsMx(std::sync::Arc<dyn sealpost_starttls::dns::DnsResolver>);

impl std::fmt::Debug for DnsMx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsMx(..)")
    }
}

impl DnsMx {
    /// MX lookups through `resolver`.
    pub fn new(resolver: std::sync::Arc<dyn sealpost_starttls::dns::DnsResolver>) -> Self {
        DnsMx(resolver)
    }
}

impl MxResolver for DnsMx {
    fn lookup_mx<'a>(&'a self, domain: &'a str) -> MxFuture<'a> {
        use sealpost_starttls::dns::{Answer, Dnssec};
        Box::pin(async move {
            match self.0.mx(domain).await {
                Err(e) => Err(MxError::Dns(e)),
                Ok(answer) if answer.dnssec() == Dnssec::Bogus => {
                    Err(MxError::Bogus { domain: domain.to_owned() })
                }
                Ok(Answer::NxDomain { .. }) => Err(MxError::NoSuchDomain),
                Ok(answer) => Ok(answer
                    .records()
                    .iter()
                    .map(|mx| MxRecord::new(mx.preference, mx.exchange.clone()))
                    .collect()),
            }
        })
    }
}
