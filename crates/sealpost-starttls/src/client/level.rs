//! The outbound TLS security levels, with Postfix's names and meanings
//! (`smtp_tls_security_level`).

use std::fmt;
use std::str::FromStr;

/// How much TLS a delivery demands of the receiving server.
///
/// The names and meanings are Postfix's, so a policy table written for Postfix reads the
/// same here. The DANE levels depend on DNS answers for each MX host: with the `dane`
/// feature, a [`TlsClient`](crate::client::TlsClient) alone treats `dane` as `may` and
/// cannot be built for `dane-only`; sealpost-client looks the TLSA records up per host
/// (`dane::dane_policy`) and plugs a `dane::DaneVerifier` in through
/// [`TlsPolicy::with_verifier`](crate::client::TlsPolicy::with_verifier).
///
/// The DANE variants exist whether or not the crate has its `dane` feature. The names are
/// Postfix's vocabulary: a configuration that says `dane` in a build without DANE support
/// should hear "this build has no DANE" ([`TlsError::Unsupported`](crate::TlsError), from
/// [`TlsClient::new`](crate::client::TlsClient::new)), not "unknown level", and it must
/// never quietly get `may` instead. Variants behind a `cfg` would also make
/// [`SecurityLevel::ALL`] and every table of levels depend on the features a
/// far-away crate in the build turned on.
///
/// ```
/// use sealpost_starttls::client::SecurityLevel;
///
/// let level: SecurityLevel = "verify".parse().unwrap();
/// assert!(level.requires_tls() && level.authenticates());
/// assert!(!SecurityLevel::May.requires_tls());
/// assert_eq!(SecurityLevel::Secure.to_string(), "secure");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SecurityLevel {
    /// No TLS, even when the server offers STARTTLS.
    None,
    /// Opportunistic TLS: STARTTLS when offered, certificate not checked. When the
    /// handshake fails, the delivery is retried in clear on a new connection.
    #[default]
    May,
    /// TLS required, certificate not checked: protects against passive eavesdropping only.
    Encrypt,
    /// TLS required; the server certificate (or its public key) must match a configured
    /// SHA-256 fingerprint. Chain, names and dates are not checked (the pin is the trust).
    Fingerprint,
    /// TLS required; the chain must lead to a trusted root and the certificate must name
    /// the MX host (or one of the configured names).
    Verify,
    /// TLS required; the chain must lead to a trusted root and the certificate must name
    /// the next-hop domain (or one of the configured names): immune to forged MX records.
    Secure,
    /// DANE (RFC 7672): when the MX host has DNSSEC-validated TLSA records, TLS is required
    /// and the server must match them; when it has none, as `may`. Bogus DNS answers defer.
    Dane,
    /// DANE only: deliver only to MX hosts authenticated by DNSSEC-validated TLSA records.
    DaneOnly,
}

impl SecurityLevel {
    /// Every level, weakest first.
    pub const ALL: [SecurityLevel; 8] = [
        SecurityLevel::None,
        SecurityLevel::May,
        SecurityLevel::Encrypt,
        SecurityLevel::Fingerprint,
        SecurityLevel::Verify,
        SecurityLevel::Secure,
        SecurityLevel::Dane,
        SecurityLevel::DaneOnly,
    ];

    /// The Postfix name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::None => "none",
            SecurityLevel::May => "may",
            SecurityLevel::Encrypt => "encrypt",
            SecurityLevel::Fingerprint => "fingerprint",
            SecurityLevel::Verify => "verify",
            SecurityLevel::Secure => "secure",
            SecurityLevel::Dane => "dane",
            SecurityLevel::DaneOnly => "dane-only",
        }
    }

    /// True when delivery must not happen without TLS (`dane` requires it only for hosts
    /// with TLSA records, decided per host).
    pub const fn requires_tls(self) -> bool {
        !matches!(self, SecurityLevel::None | SecurityLevel::May | SecurityLevel::Dane)
    }

    /// True when the level itself checks the server's certificate (and a session is
    /// "verified"). At the DANE levels the TLSA records of each host decide.
    pub const fn authenticates(self) -> bool {
        matches!(self, SecurityLevel::Fingerprint | SecurityLevel::Verify | SecurityLevel::Secure)
    }

    /// True when STARTTLS is attempted at all.
    pub const fn uses_tls(self) -> bool {
        !matches!(self, SecurityLevel::None)
    }

    /// True for `dane` and `dane-only`, whose checks come from each host's TLSA records.
    pub const fn is_dane(self) -> bool {
        matches!(self, SecurityLevel::Dane | SecurityLevel::DaneOnly)
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A security level name that is not one of [`SecurityLevel::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown TLS security level {0:?}; expected none, may, encrypt, fingerprint, verify, secure, \
     dane or dane-only"
)]
pub struct UnknownLevel(pub String);

impl FromStr for SecurityLevel {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecurityLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for level in SecurityLevel::ALL {
            assert_eq!(level.as_str().parse::<SecurityLevel>(), Ok(level));
        }
        assert_eq!("VERIFY".parse::<SecurityLevel>(), Ok(SecurityLevel::Verify));
        assert_eq!("dane-only".parse::<SecurityLevel>(), Ok(SecurityLevel::DaneOnly));
        assert_eq!("danger".parse::<SecurityLevel>(), Err(UnknownLevel("danger".into())));
        assert_eq!("".parse::<SecurityLevel>(), Err(UnknownLevel(String::new())));
    }

    #[test]
    fn only_the_checking_levels_authenticate() {
        let authenticating: Vec<_> =
            SecurityLevel::ALL.into_iter().filter(|l| l.authenticates()).collect();
        assert_eq!(
            authenticating,
            [SecurityLevel::Fingerprint, SecurityLevel::Verify, SecurityLevel::Secure]
        );
        let optional: Vec<_> =
            SecurityLevel::ALL.into_iter().filter(|l| !l.requires_tls()).collect();
        assert_eq!(optional, [SecurityLevel::None, SecurityLevel::May, SecurityLevel::Dane]);
        let dane: Vec<_> = SecurityLevel::ALL.into_iter().filter(|l| l.is_dane()).collect();
        assert_eq!(dane, [SecurityLevel::Dane, SecurityLevel::DaneOnly]);
    }
}
