//! The `_smtp._tls` TXT record that says where a domain wants its reports (RFC 8460
//! section 3).

use crate::dns::Txt;

/// Where to send reports: an address or an HTTPS endpoint (RFC 8460 section 3, `rua`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportUri {
    /// `mailto:` followed by this address (as written, percent-encoding kept).
    Mailto(String),
    /// An `https:` URL to POST the report to.
    Https(String),
}

/// A parsed `_smtp._tls` TXT record: `v=TLSRPTv1; rua=<uri>[,<uri>...]`.
///
/// ```
/// use sealpost_starttls::tlsrpt::{ReportUri, TlsRptRecord};
///
/// let r = TlsRptRecord::parse("v=TLSRPTv1;rua=mailto:reports@example.com").unwrap();
/// assert_eq!(r.rua, [ReportUri::Mailto("reports@example.com".into())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TlsRptRecord {
    /// The report destinations with a scheme RFC 8460 defines (`mailto:`, `https:`), in
    /// order; destinations with other schemes are left out.
    pub rua: Vec<ReportUri>,
}

/// Why a TXT record is not a usable `_smtp._tls` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsRptRecordError {
    /// The record does not begin with `v=TLSRPTv1`.
    #[error("the record does not begin with v=TLSRPTv1")]
    NotTlsRpt,
    /// A field is not `name=value`.
    #[error("malformed field {0:?}")]
    BadField(String),
    /// There is no `rua` field, or it names no `mailto:` or `https:` destination.
    #[error("no mailto: or https: report destination")]
    NoRua,
    /// A field appears twice.
    #[error("field {0:?} appears more than once")]
    Duplicate(String),
    /// More than one TXT record begins with `v=TLSRPTv1` (section 3: no reporting then).
    #[error("{0} TXT records begin with v=TLSRPTv1; exactly one is allowed")]
    Multiple(usize),
    /// The record is not ASCII.
    #[error("the record is not ASCII text")]
    NotAscii,
}

impl TlsRptRecord {
    /// Parses one record's text (the character-strings already joined).
    pub fn parse(text: &str) -> Result<TlsRptRecord, TlsRptRecordError> {
        if !text.is_ascii() {
            return Err(TlsRptRecordError::NotAscii);
        }
        let wsp = |c: char| c == ' ' || c == '\t';
        let trimmed = text.trim_matches(wsp);
        let body = trimmed.strip_suffix(';').unwrap_or(trimmed);
        let mut fields = body.split(';').map(|f| f.trim_matches(wsp));
        if fields.next() != Some("v=TLSRPTv1") {
            return Err(TlsRptRecordError::NotTlsRpt);
        }
        let mut rua: Option<Vec<ReportUri>> = None;
        let mut seen: Vec<&str> = Vec::new();
        for field in fields {
            let (name, value) = field
                .split_once('=')
                .filter(|(n, v)| valid_name(n) && !v.is_empty())
                .ok_or_else(|| TlsRptRecordError::BadField(field.to_owned()))?;
            if seen.contains(&name) || name == "v" {
                return Err(TlsRptRecordError::Duplicate(name.to_owned()));
            }
            seen.push(name);
            if name == "rua" {
                let uris = value
                    .split(',')
                    .map(|u| u.trim_matches(wsp))
                    .filter_map(|u| {
                        if let Some(addr) = strip_scheme(u, "mailto:") {
                            Some(ReportUri::Mailto(addr.to_owned()))
                        } else if strip_scheme(u, "https:").is_some() {
                            Some(ReportUri::Https(u.to_owned()))
                        } else {
                            None
                        }
                    })
                    .collect();
                rua = Some(uris);
            } else if !value.bytes().all(|b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e)) {
                return Err(TlsRptRecordError::BadField(field.to_owned()));
            }
        }
        match rua {
            Some(rua) if !rua.is_empty() => Ok(TlsRptRecord { rua }),
            _ => Err(TlsRptRecordError::NoRua),
        }
    }

    /// Picks the TLS-RPT record among the TXT records of `_smtp._tls.<domain>`: records
    /// that do not begin with `v=TLSRPTv1` are ignored; none is `Ok(None)`; several is an
    /// error.
    pub fn from_txt(records: &[Txt]) -> Result<Option<TlsRptRecord>, TlsRptRecordError> {
        let candidates: Vec<Vec<u8>> = records
            .iter()
            .map(Txt::concatenated)
            .filter(|t| t.starts_with(b"v=TLSRPTv1"))
            .collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => {
                let text = std::str::from_utf8(one).map_err(|_| TlsRptRecordError::NotAscii)?;
                TlsRptRecord::parse(text).map(Some)
            }
            many => Err(TlsRptRecordError::Multiple(many.len())),
        }
    }
}

/// The rest of `uri` after `scheme` (compared without regard to case), if non-empty.
fn strip_scheme<'a>(uri: &'a str, scheme: &str) -> Option<&'a str> {
    let head = uri.get(..scheme.len())?;
    let rest = uri.get(scheme.len()..)?;
    (head.eq_ignore_ascii_case(scheme) && !rest.is_empty()).then_some(rest)
}

/// tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}
