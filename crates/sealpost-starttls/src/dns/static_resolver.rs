//! A resolver that answers from a table: for tests and for configurations that pin
//! records.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Answer, DnsError, DnsFuture, DnsResolver, Dnssec, Mx, Txt, normalize, tlsa_name};
use crate::dane::Tlsa;

/// A [`DnsResolver`] with fixed answers. Names not in the table are NXDOMAIN (insecure).
///
/// ```
/// use sealpost_starttls::dns::{Answer, DnsResolver, Dnssec, Mx, StaticResolver};
///
/// let r = StaticResolver::new().with_mx(
///     "example.com",
///     Ok(Answer::Records {
///         records: vec![Mx { preference: 10, exchange: "mx.example.com".into() }],
///         dnssec: Dnssec::Secure,
///     }),
/// );
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let a = r.mx("Example.COM.").await.unwrap();
/// assert_eq!(a.records()[0].exchange, "mx.example.com");
/// assert!(matches!(r.mx("other.example").await.unwrap(), Answer::NxDomain { .. }));
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    mx: HashMap<String, Result<Answer<Mx>, DnsError>>,
    tlsa: HashMap<String, Result<Answer<Tlsa>, DnsError>>,
    txt: HashMap<String, Result<Answer<Txt>, DnsError>>,
    ip: HashMap<String, Result<Answer<IpAddr>, DnsError>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        StaticResolver::default()
    }

    /// Sets the MX answer (or failure) for `domain`.
    pub fn with_mx(mut self, domain: &str, answer: Result<Answer<Mx>, DnsError>) -> Self {
        self.mx.insert(normalize(domain), answer);
        self
    }

    /// Sets the TLSA answer (or failure) for `_<port>._tcp.<host>`.
    pub fn with_tlsa(
        mut self,
        port: u16,
        host: &str,
        answer: Result<Answer<Tlsa>, DnsError>,
    ) -> Self {
        self.tlsa.insert(tlsa_name(port, host), answer);
        self
    }

    /// Sets the address answer (or failure) for `host`.
    pub fn with_ip(mut self, host: &str, answer: Result<Answer<IpAddr>, DnsError>) -> Self {
        self.ip.insert(normalize(host), answer);
        self
    }

    /// Sets the TXT answer (or failure) for `name`.
    pub fn with_txt(mut self, name: &str, answer: Result<Answer<Txt>, DnsError>) -> Self {
        self.txt.insert(normalize(name), answer);
        self
    }
}

fn answer<T: Clone>(
    table: &HashMap<String, Result<Answer<T>, DnsError>>,
    name: &str,
) -> Result<Answer<T>, DnsError> {
    table.get(name).cloned().unwrap_or(Ok(Answer::NxDomain { dnssec: Dnssec::Insecure }))
}

impl DnsResolver for StaticResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, Mx> {
        let result = answer(&self.mx, &normalize(domain));
        Box::pin(async move { result })
    }

    fn tlsa<'a>(&'a self, port: u16, host: &'a str) -> DnsFuture<'a, Tlsa> {
        let result = answer(&self.tlsa, &tlsa_name(port, host));
        Box::pin(async move { result })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Txt> {
        let result = answer(&self.txt, &normalize(name));
        Box::pin(async move { result })
    }

    fn ip<'a>(&'a self, host: &'a str) -> DnsFuture<'a, IpAddr> {
        let result = answer(&self.ip, &normalize(host));
        Box::pin(async move { result })
    }
}
