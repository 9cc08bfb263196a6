//! The failure result types of RFC 8460 section 4.3.

use std::fmt;

/// Why a TLS session to a receiving MTA failed, as reported in TLS-RPT (RFC 8460 section
/// 4.3). The [`as_str`](Self::as_str) / [`Display`](fmt::Display) form is the exact string
/// the RFC puts in a report's `result-type` field.
///
/// ```
/// use sealpost_starttls::tlsrpt::ResultType;
///
/// assert_eq!(ResultType::StarttlsNotSupported.to_string(), "starttls-not-supported");
/// assert_eq!(ResultType::parse("tlsa-invalid"), Some(ResultType::TlsaInvalid));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResultType {
    // Negotiation failures (section 4.3.1).
    /// The receiving MX did not offer STARTTLS, or the upgrade failed before TLS began.
    StarttlsNotSupported,
    /// The certificate presented did not match the MX host name.
    CertificateHostMismatch,
    /// The certificate has expired.
    CertificateExpired,
    /// The certificate does not chain to a trusted root.
    CertificateNotTrusted,
    /// Any other failure while validating the certificate or negotiating TLS.
    ValidationFailure,
    // DANE failures (section 4.3.2).
    /// The TLSA records were unusable or none of them matched the certificate.
    TlsaInvalid,
    /// The DNSSEC validation of the TLSA or MX records failed (bogus answers).
    DnssecInvalid,
    /// DANE was required but no usable TLSA records were found.
    DaneRequired,
    // MTA-STS failures (section 4.3.3).
    /// The MTA-STS policy could not be fetched (network error, HTTP status, content type).
    StsPolicyFetchError,
    /// The MTA-STS policy was fetched but did not parse or had invalid values.
    StsPolicyInvalid,
    /// The certificate of the MTA-STS policy host did not validate.
    StsWebpkiInvalid,
}

impl ResultType {
    /// Every result type, in the RFC's order.
    pub const ALL: [ResultType; 11] = [
        ResultType::StarttlsNotSupported,
        ResultType::CertificateHostMismatch,
        ResultType::CertificateExpired,
        ResultType::CertificateNotTrusted,
        ResultType::ValidationFailure,
        ResultType::TlsaInvalid,
        ResultType::DnssecInvalid,
        ResultType::DaneRequired,
        ResultType::StsPolicyFetchError,
        ResultType::StsPolicyInvalid,
        ResultType::StsWebpkiInvalid,
    ];

    /// The RFC 8460 string of this result type.
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::ResultType;
    ///
    /// assert_eq!(ResultType::StsWebpkiInvalid.as_str(), "sts-webpki-invalid");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }

    /// The result type named by an RFC 8460 string, or `None` for an unknown string.
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::ResultType;
    ///
    /// assert_eq!(ResultType::parse("dane-required"), Some(ResultType::DaneRequired));
    /// assert_eq!(ResultType::parse("DANE-REQUIRED"), None);
    /// ```
    pub fn parse(s: &str) -> Option<ResultType> {
        ResultType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ResultType;

    #[test]
    fn strings_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for t in ResultType::ALL {
            assert_eq!(ResultType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
            assert!(seen.insert(t.as_str()), "duplicate string {}", t.as_str());
        }
        assert_eq!(ResultType::parse("no-such-result"), None);
    }
}
