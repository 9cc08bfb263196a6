//! [`DnsResolver`] over hickory-resolver, validating DNSSEC itself (ring crypto).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::{
    Answer, DnsError, DnsFuture, DnsResolver, Dnssec, Mx, Txt, normalize, tlsa_name, weakest,
};
use crate::Cause;
use crate::dane::{CertUsage, MatchingType, Selector, Tlsa};

/// A validating stub resolver: asks the configured name servers (recursive resolvers,
/// over UDP with TCP fallback) and checks DNSSEC signatures up to the root trust anchor
/// built into hickory, so an answer is [`Dnssec::Secure`] only when this process
/// validated it, not because an upstream set the AD bit.
///
/// ```
/// use sealpost_starttls::dns::HickoryResolver;
///
/// // Building does not send anything; queries go to the servers given.
/// let r = HickoryResolver::new(&["127.0.0.1:53".parse().unwrap()], std::time::Duration::from_secs(5));
/// assert!(r.is_ok());
/// ```
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
    validate: bool,
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// A validating resolver asking `servers` (e.g. a local unbound at `127.0.0.1:53`),
    /// each query attempted twice with `timeout` per attempt. The hosts file is not
    /// consulted and no search list is applied.
    pub fn new(servers: &[SocketAddr], timeout: Duration) -> Result<HickoryResolver, DnsError> {
        HickoryResolver::build(servers, timeout, true, None)
    }

    /// A validating resolver that trusts the DNSKEY records in the file `anchors` (zone
    /// file syntax, e.g. `. IN DNSKEY 257 3 13 ...`) instead of the IANA root keys built
    /// into hickory: for private DNSSEC deployments and for tests against a locally signed
    /// zone.
    pub fn with_trust_anchors(
        servers: &[SocketAddr],
        timeout: Duration,
        anchors: &Path,
    ) -> Result<HickoryResolver, DnsError> {
        let parsed = TrustAnchors::from_file(anchors).map_err(|e| DnsError::Failure {
            name: String::new(),
            reason: format!("trust anchors {}: {e}", anchors.display()),
            source: Some(Cause::new(e)),
        })?;
        HickoryResolver::build(servers, timeout, true, Some(Arc::new(parsed)))
    }

    /// A validating resolver asking the `nameserver` lines of a resolv.conf file (usually
    /// `/etc/resolv.conf`), port 53. Other lines are ignored; a file without a usable
    /// `nameserver` line is an error.
    ///
    /// ```
    /// use sealpost_starttls::dns::HickoryResolver;
    ///
    /// let dir = std::env::temp_dir().join(format!("resolv-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let file = dir.join("resolv.conf");
    /// std::fs::write(&file, "search example.com\nnameserver 127.0.0.1\n").unwrap();
    /// assert!(HickoryResolver::from_resolv_conf(&file, std::time::Duration::from_secs(5)).is_ok());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn from_resolv_conf(path: &Path, timeout: Duration) -> Result<HickoryResolver, DnsError> {
        let text = std::fs::read_to_string(path).map_err(|e| DnsError::Failure {
            name: String::new(),
            reason: format!("cannot read {}: {e}", path.display()),
            source: Some(Cause::new(e)),
        })?;
        HickoryResolver::new(&name_servers(&text), timeout)
    }

    /// A resolver that does not validate: every answer is [`Dnssec::Insecure`], so DANE
    /// never applies. For networks where DNSSEC cannot be used at all.
    pub fn without_validation(
        servers: &[SocketAddr],
        timeout: Duration,
    ) -> Result<HickoryResolver, DnsError> {
        HickoryResolver::build(servers, timeout, false, None)
    }

    fn build(
        servers: &[SocketAddr],
        timeout: Duration,
        validate: bool,
        anchors: Option<Arc<TrustAnchors>>,
    ) -> Result<HickoryResolver, DnsError> {
        if servers.is_empty() {
            return Err(DnsError::Failure {
                name: String::new(),
                reason: "no name servers configured".into(),
                source: None,
            });
        }
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
        let mut options = ResolverOpts::default();
        options.validate = validate;
        options.timeout = timeout;
        options.attempts = 2;
        options.use_hosts_file = ResolveHosts::Never;
        options.ndots = 0;
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_options(options);
        if let Some(anchors) = anchors {
            builder = builder.with_trust_anchor(anchors);
        }
        let inner = builder.build().map_err(|e| DnsError::Failure {
            name: String::new(),
            reason: e.to_string(),
            source: Some(Cause::new(e)),
        })?;
        Ok(HickoryResolver { inner, validate })
    }

    async fn query(&self, name: &str, rtype: RecordType) -> Result<Answer<RData>, DnsError> {
        let fqdn = format!("{}.", normalize(name));
        let parsed = Name::from_ascii(&fqdn).map_err(|e| DnsError::InvalidName {
            name: name.to_owned(),
            reason: e.to_string(),
            source: Some(Cause::new(e)),
        })?;
        // The lookup runs as a task of its own so that a panic inside the resolver on a
        // hostile or unusual answer becomes a failed lookup, not a crashed delivery
        // (hickory 0.26.3 asserts on NSEC3 records for the root zone, for example).
        let inner = self.inner.clone();
        let task = tokio::spawn(async move { inner.lookup(parsed, rtype).await });
        let result = match task.await {
            Ok(result) => result,
            Err(e) => {
                return Err(DnsError::Failure {
                    name: name.to_owned(),
                    reason: format!("the resolver failed on the answer ({e})"),
                    source: Some(Cause::new(e)),
                });
            }
        };
        match result {
            Ok(lookup) => {
                let answers: Vec<_> =
                    lookup.answers().iter().filter(|r| r.record_type() == rtype).collect();
                // The weakest status among the records; none at all proves nothing.
                let dnssec = answers
                    .iter()
                    .map(|r| self.dnssec(r.proof))
                    .reduce(weakest)
                    .unwrap_or(Dnssec::Insecure);
                let records = answers.into_iter().map(|r| r.data.clone()).collect();
                Ok(Answer::from_records(records, dnssec))
            }
            Err(e) => self.negative(name, e),
        }
    }

    /// Maps hickory's proof. Indeterminate (the validator could not get the DNSSEC records
    /// it needed) is treated as bogus: failing closed keeps an attacker who blocks DNSSEC
    /// records from downgrading DANE. Without validation everything is insecure.
    fn dnssec(&self, proof: Proof) -> Dnssec {
        match proof {
            _ if !self.validate => Dnssec::Insecure,
            Proof::Secure => Dnssec::Secure,
            Proof::Insecure => Dnssec::Insecure,
            _ => Dnssec::Bogus,
        }
    }

    /// Negative answers and failures. hickory withholds records that fail validation; that
    /// is reported as [`Answer::NoRecords`] with [`Dnssec::Bogus`], which callers must treat
    /// as a failure.
    fn negative(&self, name: &str, error: NetError) -> Result<Answer<RData>, DnsError> {
        match error {
            NetError::Dns(HickoryDnsError::NoRecordsFound(no)) => {
                // hickory hands back a validated denial of existence as "no records", with
                // the NSEC/NSEC3 records it checked among the authorities (an unsigned zone
                // takes the same path, without them): secure only with every one secure.
                let mut denials = no
                    .authorities
                    .iter()
                    .flat_map(|records| records.iter())
                    .filter(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3))
                    .peekable();
                let dnssec = if denials.peek().is_none() {
                    Dnssec::Insecure
                } else {
                    denials.map(|r| self.dnssec(r.proof)).fold(Dnssec::Secure, weakest)
                };
                Ok(kind(no.response_code, dnssec))
            }
            NetError::Dns(HickoryDnsError::Nsec { response, proof, .. }) => {
                Ok(kind(response.response_code, self.dnssec(proof)))
            }
            NetError::Dns(HickoryDnsError::DnssecBogus) => {
                Ok(Answer::NoRecords { dnssec: Dnssec::Bogus })
            }
            NetError::Timeout => Err(DnsError::Timeout { name: name.to_owned() }),
            other => Err(DnsError::Failure {
                name: name.to_owned(),
                reason: other.to_string(),
                source: Some(Cause::new(other)),
            }),
        }
    }
}

/// The addresses of the `nameserver` lines of resolv.conf text, in the format of
/// resolv.conf(5): the keyword, white space, an IPv4 or IPv6 address; `#` and `;` start
/// comments. An address with a zone index (`fe80::1%eth0`) is skipped.
fn name_servers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_ascii_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next()).flatten()
        })
        .filter_map(|addr| addr.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

fn kind(code: ResponseCode, dnssec: Dnssec) -> Answer<RData> {
    if code == ResponseCode::NXDomain {
        Answer::NxDomain { dnssec }
    } else {
        Answer::NoRecords { dnssec }
    }
}

/// Converts the records of an answer, keeping its kind and DNSSEC status.
fn convert<T>(answer: Answer<RData>, f: impl Fn(RData) -> Option<T>) -> Answer<T> {
    match answer {
        Answer::Records { records, dnssec } => {
            Answer::from_records(records.into_iter().filter_map(f).collect(), dnssec)
        }
        Answer::NoRecords { dnssec } => Answer::NoRecords { dnssec },
        Answer::NxDomain { dnssec } => Answer::NxDomain { dnssec },
    }
}

impl DnsResolver for HickoryResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, Mx> {
        Box::pin(async move {
            let answer = self.query(domain, RecordType::MX).await?;
            Ok(convert(answer, |rdata| match rdata {
                RData::MX(mx) => Some(Mx {
                    preference: mx.preference,
                    exchange: normalize(&mx.exchange.to_ascii()),
                }),
                _ => None,
            }))
        })
    }

    fn tlsa<'a>(&'a self, port: u16, host: &'a str) -> DnsFuture<'a, Tlsa> {
        Box::pin(async move {
            let answer = self.query(&tlsa_name(port, host), RecordType::TLSA).await?;
            Ok(convert(answer, |rdata| match rdata {
                RData::TLSA(t) => Some(Tlsa::new(
                    CertUsage::from_value(t.cert_usage.into()),
                    Selector::from_value(t.selector.into()),
                    MatchingType::from_value(t.matching.into()),
                    t.cert_data,
                )),
                _ => None,
            }))
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Txt> {
        Box::pin(async move {
            let answer = self.query(name, RecordType::TXT).await?;
            Ok(convert(answer, |rdata| match rdata {
                RData::TXT(txt) => {
                    Some(Txt { strings: txt.txt_data.iter().map(|s| s.to_vec()).collect() })
                }
                _ => None,
            }))
        })
    }

    fn ip<'a>(&'a self, host: &'a str) -> DnsFuture<'a, IpAddr> {
        Box::pin(async move {
            let v4 = self.query(host, RecordType::A).await;
            let v6 = self.query(host, RecordType::AAAA).await;
            let addr = |rdata: RData| match rdata {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            };
            match (v4.map(|a| convert(a, addr)), v6.map(|a| convert(a, addr))) {
                (Ok(a), Ok(b)) => Ok(combine(a, b)),
                // One family failed: the other's addresses are still usable, but a failure
                // is not evidence of anything, so the status is at best insecure.
                (Ok(Answer::Records { records, dnssec }), Err(_))
                | (Err(_), Ok(Answer::Records { records, dnssec })) => {
                    Ok(Answer::Records { records, dnssec: weakest(dnssec, Dnssec::Insecure) })
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        })
    }
}

/// The A and AAAA answers as one.
fn combine(a: Answer<IpAddr>, b: Answer<IpAddr>) -> Answer<IpAddr> {
    let dnssec = weakest(a.dnssec(), b.dnssec());
    match (a, b) {
        (Answer::NxDomain { .. }, Answer::NxDomain { .. }) => Answer::NxDomain { dnssec },
        (a, b) => {
            let mut records = a.records().to_vec();
            records.extend_from_slice(b.records());
            Answer::from_records(records, dnssec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::name_servers;

    #[test]
    fn resolv_conf_name_servers() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.53\n\
                    nameserver\t::1 # local\nnameserver fe80::1%eth0\nnameserver not-an-ip\n\
                    ;nameserver 192.0.2.1\noptions edns0\n  nameserver 192.0.2.2\n";
        let got: Vec<String> = name_servers(text).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["127.0.0.53:53", "[::1]:53", "192.0.2.2:53"]);
        assert!(name_servers("search example.com\n").is_empty());
    }
}
