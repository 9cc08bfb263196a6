//! The policy a session was held to, as RFC 8460 section 4.4 names it. Always available
//! (outbound reports name the policy that applied); its JSON form comes with the `tls-rpt`
//! feature.

use std::fmt;

/// The kind of policy a session was held to (RFC 8460 section 4.4, `policy-type`). With
/// the `tls-rpt` feature it is serde `Serialize`/`Deserialize` as the RFC's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "tls-rpt", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum PolicyType {
    /// A DANE TLSA policy.
    #[cfg_attr(feature = "tls-rpt", serde(rename = "tlsa"))]
    Tlsa,
    /// An MTA-STS policy.
    #[cfg_attr(feature = "tls-rpt", serde(rename = "sts"))]
    Sts,
    /// Neither was found for the domain.
    #[cfg_attr(feature = "tls-rpt", serde(rename = "no-policy-found"))]
    NoPolicyFound,
}

impl PolicyType {
    /// The RFC 8460 name: `tlsa`, `sts` or `no-policy-found`.
    ///
    /// ```
    /// assert_eq!(sealpost_starttls::tlsrpt::PolicyType::Sts.as_str(), "sts");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyType::Tlsa => "tlsa",
            PolicyType::Sts => "sts",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy a group of sessions was held to (RFC 8460 section 4.4, `policy`). With the
/// `tls-rpt` feature it is serde `Serialize`/`Deserialize` as the RFC's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "tls-rpt", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Policy {
    /// The kind of policy.
    #[cfg_attr(feature = "tls-rpt", serde(rename = "policy-type"))]
    pub policy_type: PolicyType,
    /// The policy as text: for MTA-STS one entry per line of the policy file, for DANE one
    /// entry per TLSA record in presentation format. Empty for `no-policy-found`.
    #[cfg_attr(
        feature = "tls-rpt",
        serde(rename = "policy-string", default, skip_serializing_if = "Vec::is_empty")
    )]
    pub policy_strings: Vec<String>,
    /// The domain the policy belongs to (the recipient domain).
    #[cfg_attr(feature = "tls-rpt", serde(rename = "policy-domain"))]
    pub policy_domain: String,
    /// For MTA-STS, the `mx` patterns of the policy.
    #[cfg_attr(
        feature = "tls-rpt",
        serde(rename = "mx-host", default, skip_serializing_if = "Vec::is_empty")
    )]
    pub mx_hosts: Vec<String>,
}

impl Policy {
    /// A policy description with no strings and no MX patterns.
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::{Policy, PolicyType};
    ///
    /// let p = Policy::new(PolicyType::NoPolicyFound, "example.org");
    /// assert_eq!(p.policy_domain, "example.org");
    /// ```
    pub fn new(policy_type: PolicyType, domain: impl Into<String>) -> Policy {
        Policy {
            policy_type,
            policy_strings: Vec::new(),
            policy_domain: domain.into(),
            mx_hosts: Vec::new(),
        }
    }

    /// Sets the policy strings.
    pub fn with_strings(mut self, strings: Vec<String>) -> Policy {
        self.policy_strings = strings;
        self
    }

    /// Sets the MX patterns.
    pub fn with_mx_hosts(mut self, mx_hosts: Vec<String>) -> Policy {
        self.mx_hosts = mx_hosts;
        self
    }
}
