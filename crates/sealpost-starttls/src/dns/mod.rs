//! DNS lookups for outbound policy: MX, TLSA (DANE) and TXT (MTA-STS, TLS-RPT), through a
//! resolver trait so that policy code can be tested without a network.
//!
//! Every answer says whether it was DNSSEC-validated ([`Dnssec`]). DANE only trusts TLSA
//! records that are [`Dnssec::Secure`], and a [`Dnssec::Bogus`] answer means an attacker
//! (or a broken zone) is in the way: mail is deferred, never sent with less protection.
//!
//! [`StaticResolver`] answers from a table (tests, static routes). `HickoryResolver`
//! (feature `dns`) asks real name servers through hickory-resolver with DNSSEC
//! validation. The trait, the answer types and the static table cost no dependency and
//! are always available, so policy code and its tests need no resolver crate.

#[cfg(feature = "dns")]
mod hickory;
mod static_resolver;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

#[cfg(feature = "dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "dns")))]
pub use hickory::HickoryResolver;
pub use static_resolver::StaticResolver;

use crate::Cause;
use crate::dane::Tlsa;

/// The DNSSEC status of an answer (RFC 4035 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dnssec {
    /// Validated from a trust anchor: the answer (or the proof of its absence) is authentic.
    Secure,
    /// Provably unsigned (or not validated at all): usable, but an attacker could have
    /// forged it.
    Insecure,
    /// Signed, but the signatures did not validate: the answer must not be used.
    Bogus,
}

impl Dnssec {
    /// The lowercase RFC 4035 word for this status.
    ///
    /// ```
    /// assert_eq!(sealpost_starttls::dns::Dnssec::Bogus.as_str(), "bogus");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Dnssec::Secure => "secure",
            Dnssec::Insecure => "insecure",
            Dnssec::Bogus => "bogus",
        }
    }
}

impl fmt::Display for Dnssec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to one query that the name servers did answer. Transport failures and
/// server failures are a [`DnsError`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer<T> {
    /// One or more records of the type asked for.
    Records {
        /// The records (never empty).
        records: Vec<T>,
        /// Whether they were validated.
        dnssec: Dnssec,
    },
    /// The name exists, but has no records of this type (NOERROR/NODATA).
    NoRecords {
        /// Whether the denial was validated.
        dnssec: Dnssec,
    },
    /// The name does not exist (NXDOMAIN).
    NxDomain {
        /// Whether the denial was validated.
        dnssec: Dnssec,
    },
}

impl<T> Answer<T> {
    /// The DNSSEC status of the answer, whatever its kind.
    ///
    /// ```
    /// use sealpost_starttls::dns::{Answer, Dnssec};
    ///
    /// let a: Answer<u8> = Answer::NxDomain { dnssec: Dnssec::Secure };
    /// assert_eq!(a.dnssec(), Dnssec::Secure);
    /// ```
    pub fn dnssec(&self) -> Dnssec {
        match self {
            Answer::Records { dnssec, .. }
            | Answer::NoRecords { dnssec }
            | Answer::NxDomain { dnssec } => *dnssec,
        }
    }

    /// The records, empty for NODATA and NXDOMAIN.
    ///
    /// ```
    /// use sealpost_starttls::dns::{Answer, Dnssec};
    ///
    /// let a = Answer::Records { records: vec![1u8, 2], dnssec: Dnssec::Insecure };
    /// assert_eq!(a.records(), &[1, 2]);
    /// ```
    pub fn records(&self) -> &[T] {
        match self {
            Answer::Records { records, .. } => records,
            Answer::NoRecords { .. } | Answer::NxDomain { .. } => &[],
        }
    }

    /// Builds a [`Answer::Records`], or [`Answer::NoRecords`] when `records` is empty.
    ///
    /// ```
    /// use sealpost_starttls::dns::{Answer, Dnssec};
    ///
    /// assert_eq!(Answer::<u8>::from_records(vec![], Dnssec::Secure),
    ///            Answer::NoRecords { dnssec: Dnssec::Secure });
    /// ```
    pub fn from_records(records: Vec<T>, dnssec: Dnssec) -> Self {
        if records.is_empty() {
            Answer::NoRecords { dnssec }
        } else {
            Answer::Records { records, dnssec }
        }
    }
}

/// An MX record (RFC 5321 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mx {
    /// Lower preference values are tried first.
    pub preference: u16,
    /// The mail exchanger's host name, lowercase, without the trailing dot. `""` is the
    /// "null MX" of RFC 7505 (the domain accepts no mail).
    pub exchange: String,
}

/// A TXT record: its character-strings, in order (RFC 1035 section 3.3.14).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Txt {
    /// The character-strings, each up to 255 bytes.
    pub strings: Vec<Vec<u8>>,
}

impl Txt {
    /// The character-strings joined without separators, as RFC 8461 section 3.1 and RFC
    /// 8460 section 3 read a record split into several strings.
    ///
    /// ```
    /// use sealpost_starttls::dns::Txt;
    ///
    /// let t = Txt { strings: vec![b"v=STSv1; ".to_vec(), b"id=1".to_vec()] };
    /// assert_eq!(t.concatenated(), b"v=STSv1; id=1");
    /// ```
    pub fn concatenated(&self) -> Vec<u8> {
        self.strings.concat()
    }
}

/// A lookup that got no answer: the name servers failed, timed out, or the name is not a
/// valid domain name. Callers treat these as temporary (defer the mail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name cannot be looked up (empty label, label over 63 bytes, bad characters).
    #[error("{name:?} is not a valid domain name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why.
        reason: String,
        /// The resolver's own error, when it refused the name.
        #[source]
        source: Option<Cause>,
    },
    /// No name server answered in time.
    #[error("DNS lookup of {name} timed out")]
    Timeout {
        /// The name queried.
        name: String,
    },
    /// The name servers answered with a failure (SERVFAIL, REFUSED, ...) or could not be
    /// reached.
    #[error("DNS lookup of {name} failed: {reason}")]
    Failure {
        /// The name queried.
        name: String,
        /// Why, in words (also what a TLS-RPT report or a log line shows).
        reason: String,
        /// The resolver's (or the operating system's) own error, for callers that match
        /// on it; `None` when the failure has no error value behind it (a static
        /// resolver's answer, a configuration without name servers).
        #[source]
        source: Option<Cause>,
    },
}

/// A boxed future returned by [`DnsResolver`] methods (the trait is used as `dyn`).
pub type DnsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<Answer<T>, DnsError>> + Send + 'a>>;

/// Looks up the records that outbound policy needs.
///
/// Names are domain names without a trailing dot; implementations treat them as fully
/// qualified (no search list).
pub trait DnsResolver: Send + Sync {
    /// MX records of `domain`.
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, Mx>;
    /// TLSA records of `_<port>._tcp.<host>` (RFC 6698 section 3, RFC 7672 section 2.2).
    fn tlsa<'a>(&'a self, port: u16, host: &'a str) -> DnsFuture<'a, Tlsa>;
    /// TXT records of `name` (e.g. `_mta-sts.example.com`).
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Txt>;
    /// The addresses of `host`: its A and AAAA records together. The DNSSEC status is the
    /// weakest of the two answers (RFC 7672 section 2.2.2 uses TLSA records only for hosts
    /// whose addresses are secure).
    fn ip<'a>(&'a self, host: &'a str) -> DnsFuture<'a, IpAddr>;
}

/// The weaker of two DNSSEC statuses: bogus, then insecure, then secure.
///
/// ```
/// use sealpost_starttls::dns::{Dnssec, weakest};
///
/// assert_eq!(weakest(Dnssec::Secure, Dnssec::Insecure), Dnssec::Insecure);
/// assert_eq!(weakest(Dnssec::Bogus, Dnssec::Insecure), Dnssec::Bogus);
/// ```
pub fn weakest(a: Dnssec, b: Dnssec) -> Dnssec {
    match (a, b) {
        (Dnssec::Bogus, _) | (_, Dnssec::Bogus) => Dnssec::Bogus,
        (Dnssec::Insecure, _) | (_, Dnssec::Insecure) => Dnssec::Insecure,
        _ => Dnssec::Secure,
    }
}

/// The owner name of the TLSA records of a service: `_<port>._tcp.<host>`.
///
/// ```
/// assert_eq!(sealpost_starttls::dns::tlsa_name(25, "MX.Example.COM."), "_25._tcp.mx.example.com");
/// ```
pub fn tlsa_name(port: u16, host: &str) -> String {
    format!("_{port}._tcp.{}", normalize(host))
}

/// A name in the form lookups compare: ASCII lowercase, no trailing dot.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
