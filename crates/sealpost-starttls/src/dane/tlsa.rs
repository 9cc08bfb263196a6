//! The TLSA record (RFC 6698 section 2): wire format, presentation format, and matching a
//! certificate against it.

use std::fmt;
use std::str::FromStr;

use data_encoding::{HEXLOWER, HEXLOWER_PERMISSIVE};
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256, Sha512};

/// The certificate usage field (RFC 6698 section 2.1.1, names from RFC 7218).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// IANA registries (RFC 7218): a value that gets a name later becomes a variant.
#[non_exhaustive]
pub enum CertUsage {
    /// 0, PKIX-TA: unusable for SMTP (RFC 7672 section 3.1.3).
    PkixTa,
    /// 1, PKIX-EE: unusable for SMTP (RFC 7672 section 3.1.3).
    PkixEe,
    /// 2, DANE-TA: the record names a trust anchor; the chain must lead to it and the
    /// leaf must carry one of the reference names.
    DaneTa,
    /// 3, DANE-EE: the record names the server's own certificate or key; names and
    /// validity dates are not checked (RFC 7672 section 3.1.1).
    DaneEe,
    /// Any other value: unusable.
    Other(u8),
}

impl CertUsage {
    /// The wire value.
    pub const fn value(self) -> u8 {
        match self {
            CertUsage::PkixTa => 0,
            CertUsage::PkixEe => 1,
            CertUsage::DaneTa => 2,
            CertUsage::DaneEe => 3,
            CertUsage::Other(v) => v,
        }
    }

    /// The usage with wire value `v`.
    pub const fn from_value(v: u8) -> Self {
        match v {
            0 => CertUsage::PkixTa,
            1 => CertUsage::PkixEe,
            2 => CertUsage::DaneTa,
            3 => CertUsage::DaneEe,
            v => CertUsage::Other(v),
        }
    }
}

/// The selector field (RFC 6698 section 2.1.2): which part of the certificate is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// IANA registries (RFC 7218): a value that gets a name later becomes a variant.
#[non_exhaustive]
pub enum Selector {
    /// 0, Cert: the whole DER certificate.
    FullCert,
    /// 1, SPKI: the DER SubjectPublicKeyInfo.
    Spki,
    /// Any other value: unusable.
    Other(u8),
}

impl Selector {
    /// The wire value.
    pub const fn value(self) -> u8 {
        match self {
            Selector::FullCert => 0,
            Selector::Spki => 1,
            Selector::Other(v) => v,
        }
    }

    /// The selector with wire value `v`.
    pub const fn from_value(v: u8) -> Self {
        match v {
            0 => Selector::FullCert,
            1 => Selector::Spki,
            v => Selector::Other(v),
        }
    }
}

/// The matching type field (RFC 6698 section 2.1.3): how the selected bytes are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// IANA registries (RFC 7218): a value that gets a name later becomes a variant.
#[non_exhaustive]
pub enum MatchingType {
    /// 0, Full: the data is the selected bytes themselves.
    Exact,
    /// 1, SHA2-256 of the selected bytes.
    Sha256,
    /// 2, SHA2-512 of the selected bytes.
    Sha512,
    /// Any other value: unusable.
    Other(u8),
}

impl MatchingType {
    /// The wire value.
    pub const fn value(self) -> u8 {
        match self {
            MatchingType::Exact => 0,
            MatchingType::Sha256 => 1,
            MatchingType::Sha512 => 2,
            MatchingType::Other(v) => v,
        }
    }

    /// The matching type with wire value `v`.
    pub const fn from_value(v: u8) -> Self {
        match v {
            0 => MatchingType::Exact,
            1 => MatchingType::Sha256,
            2 => MatchingType::Sha512,
            v => MatchingType::Other(v),
        }
    }
}

/// A TLSA record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsaParseError {
    /// The RDATA is shorter than the three one-byte fields plus one byte of data.
    #[error("TLSA RDATA of {0} bytes is too short (at least 4 needed)")]
    TooShort(usize),
    /// A numeric field is missing or not a number from 0 to 255.
    #[error("TLSA {field} field {value:?} is not a number from 0 to 255")]
    BadField {
        /// Which field.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// The certificate association data is missing.
    #[error("TLSA record has no certificate association data")]
    NoData,
    /// The certificate association data is not hexadecimal.
    #[error("TLSA certificate association data is not an even number of hex digits")]
    BadHex,
}

/// One TLSA record (RFC 6698 section 2.1).
///
/// Parsing accepts any field values, because RFC 7672 section 2.2 asks for records with
/// unknown or unsupported parameters to be treated as *unusable*, not as errors;
/// [`is_usable`](Self::is_usable) tells them apart.
///
/// ```
/// use sealpost_starttls::dane::{CertUsage, MatchingType, Selector, Tlsa};
///
/// let t: Tlsa = "3 1 1 0123456789abcdef0123456789ABCDEF 0123456789abcdef0123456789abcdef"
///     .parse()
///     .unwrap();
/// assert_eq!(t.usage, CertUsage::DaneEe);
/// assert_eq!(t.selector, Selector::Spki);
/// assert_eq!(t.matching, MatchingType::Sha256);
/// assert_eq!(t.data.len(), 32);
/// assert!(t.is_usable());
/// assert_eq!(Tlsa::from_rdata(&t.to_rdata()).unwrap(), t);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlsa {
    /// Certificate usage.
    pub usage: CertUsage,
    /// Selector.
    pub selector: Selector,
    /// Matching type.
    pub matching: MatchingType,
    /// Certificate association data: the selected bytes or their digest.
    pub data: Vec<u8>,
}

impl Tlsa {
    /// A record from its parts.
    pub fn new(
        usage: CertUsage,
        selector: Selector,
        matching: MatchingType,
        data: Vec<u8>,
    ) -> Self {
        Tlsa { usage, selector, matching, data }
    }

    /// A record of the given kind that matches `cert`: computes the association data.
    /// Returns `None` when the selector or matching type is unsupported, or the selector
    /// is SPKI and the certificate cannot be parsed.
    ///
    /// ```
    /// use sealpost_starttls::dane::{CertUsage, MatchingType, Selector, Tlsa};
    /// use sealpost_starttls::rustls::pki_types::CertificateDer;
    ///
    /// let cert = CertificateDer::from(vec![0x30, 0x00]);
    /// let t = Tlsa::for_certificate(CertUsage::DaneEe, Selector::FullCert, MatchingType::Exact, &cert)
    ///     .unwrap();
    /// assert_eq!(t.data, vec![0x30, 0x00]);
    /// ```
    pub fn for_certificate(
        usage: CertUsage,
        selector: Selector,
        matching: MatchingType,
        cert: &CertificateDer<'_>,
    ) -> Option<Tlsa> {
        let selected = select(selector, cert)?;
        let data = digest(matching, &selected)?;
        Some(Tlsa { usage, selector, matching, data })
    }

    /// Parses the RDATA of a TLSA resource record (RFC 6698 section 2.1).
    ///
    /// ```
    /// use sealpost_starttls::dane::{CertUsage, Tlsa, TlsaParseError};
    ///
    /// let t = Tlsa::from_rdata(&[2, 0, 1, 0xab]).unwrap();
    /// assert_eq!(t.usage, CertUsage::DaneTa);
    /// assert_eq!(Tlsa::from_rdata(&[3, 1, 1]), Err(TlsaParseError::TooShort(3)));
    /// ```
    pub fn from_rdata(rdata: &[u8]) -> Result<Tlsa, TlsaParseError> {
        match rdata {
            [usage, selector, matching, data @ ..] if !data.is_empty() => Ok(Tlsa {
                usage: CertUsage::from_value(*usage),
                selector: Selector::from_value(*selector),
                matching: MatchingType::from_value(*matching),
                data: data.to_vec(),
            }),
            _ => Err(TlsaParseError::TooShort(rdata.len())),
        }
    }

    /// The RDATA of this record.
    pub fn to_rdata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.data.len());
        out.extend_from_slice(&[self.usage.value(), self.selector.value(), self.matching.value()]);
        out.extend_from_slice(&self.data);
        out
    }

    /// Whether RFC 7672 lets an SMTP client use this record: usage DANE-TA or DANE-EE,
    /// selector Cert or SPKI, matching type Full, SHA2-256 or SHA2-512 with the digest
    /// length that type implies.
    pub fn is_usable(&self) -> bool {
        let usage = matches!(self.usage, CertUsage::DaneTa | CertUsage::DaneEe);
        let selector = matches!(self.selector, Selector::FullCert | Selector::Spki);
        let length = match self.matching {
            MatchingType::Exact => !self.data.is_empty(),
            MatchingType::Sha256 => self.data.len() == 32,
            MatchingType::Sha512 => self.data.len() == 64,
            MatchingType::Other(_) => false,
        };
        usage && selector && length
    }

    /// Whether `cert` matches this record's selector, matching type and data (the usage is
    /// not considered here). Unsupported selectors or matching types never match.
    pub fn matches(&self, cert: &CertificateDer<'_>) -> bool {
        select(self.selector, cert)
            .and_then(|selected| digest(self.matching, &selected))
            .is_some_and(|computed| computed == self.data)
    }
}

/// The bytes a selector picks from a certificate.
fn select(selector: Selector, cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    match selector {
        Selector::FullCert => Some(cert.as_ref().to_vec()),
        Selector::Spki => {
            let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
            Some(parsed.subject_public_key_info().as_ref().to_vec())
        }
        Selector::Other(_) => None,
    }
}

/// The association data of selected bytes under a matching type.
fn digest(matching: MatchingType, selected: &[u8]) -> Option<Vec<u8>> {
    match matching {
        MatchingType::Exact => Some(selected.to_vec()),
        MatchingType::Sha256 => Some(Sha256::digest(selected).to_vec()),
        MatchingType::Sha512 => Some(Sha512::digest(selected).to_vec()),
        MatchingType::Other(_) => None,
    }
}

impl FromStr for Tlsa {
    type Err = TlsaParseError;

    /// Parses the presentation format of RFC 6698 section 2.2: three decimal fields, then
    /// the data as hex, which may be split by white space.
    fn from_str(s: &str) -> Result<Tlsa, TlsaParseError> {
        let mut words = s.split_ascii_whitespace();
        let mut field = |name: &'static str| -> Result<u8, TlsaParseError> {
            let word = words.next().unwrap_or("");
            // Decimal digits only: `u8::from_str` would also take a leading "+".
            word.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| word.parse::<u8>().ok())
                .flatten()
                .ok_or_else(|| TlsaParseError::BadField { field: name, value: word.to_owned() })
        };
        let usage = field("usage")?;
        let selector = field("selector")?;
        let matching = field("matching type")?;
        let hex: String = words.collect();
        if hex.is_empty() {
            return Err(TlsaParseError::NoData);
        }
        let data =
            HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).map_err(|_| TlsaParseError::BadHex)?;
        Ok(Tlsa {
            usage: CertUsage::from_value(usage),
            selector: Selector::from_value(selector),
            matching: MatchingType::from_value(matching),
            data,
        })
    }
}

impl fmt::Display for Tlsa {
    /// The presentation format, data in lowercase hex without spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (usage, selector, matching) =
            (self.usage.value(), self.selector.value(), self.matching.value());
        write!(f, "{usage} {selector} {matching} {}", HEXLOWER.encode_display(&self.data))
    }
}
