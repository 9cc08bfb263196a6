//! Domains, address literals and the argument of EHLO/HELO/LHLO (RFC 5321 section 4.1.3).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{VResult, ValidationError};
use crate::parse::chars;
use crate::types::text::{Text, check_non_empty};

/// RFC 5321 section 4.5.3.1.2: a domain name is at most 255 octets.
pub const MAX_DOMAIN_LEN: usize = 255;
/// RFC 1035 section 2.3.4: a label is at most 63 octets.
pub const MAX_LABEL_LEN: usize = 63;

/// A domain name: `sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]`, or a
/// U-label (RFC 6531) where SMTPUTF8 applies.
///
/// The spelling is kept as received; compare with [`Domain::eq_ignore_ascii_case`].
///
/// ```
/// use sealpost_codec::Domain;
/// assert!(Domain::new("mail.example.org").is_ok());
/// assert!(Domain::new("-bad.example").is_err());
/// assert!(Domain::new("exa mple.org").is_err());
/// assert!(!Domain::new("bücher.example").unwrap().is_ascii());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain<'a>(pub(crate) Cow<'a, str>);

impl<'a> Domain<'a> {
    /// Validates and wraps a domain.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let value = value.into();
        validate_domain(value.as_bytes())?;
        Ok(Self(value))
    }

    /// The domain as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when every label is ASCII (no SMTPUTF8 needed).
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// Case-insensitive comparison of ASCII letters, as DNS compares names.
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Domain<'static> {
        Domain(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Domain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({:?})", self.0)
    }
}

impl fmt::Display for Domain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> TryFrom<&'a str> for Domain<'a> {
    type Error = ValidationError;
    fn try_from(value: &'a str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// Checks the `Domain` rule on bytes that are known to be UTF-8.
pub(crate) fn validate_domain(value: &[u8]) -> VResult<()> {
    const WHAT: &str = "domain";
    check_non_empty(WHAT, value)?;
    if value.len() > MAX_DOMAIN_LEN {
        return Err(ValidationError::TooLong { what: WHAT, len: value.len(), max: MAX_DOMAIN_LEN });
    }
    // One pass over the octets. Each label is judged when its end is reached, by the rules
    // in this order: not empty, not too long, no forbidden octet, no hyphen at an end.
    let mut label_start = 0;
    let mut forbidden = None;
    let mut ascii = true;
    for at in 0..=value.len() {
        let b = value.get(at).copied().unwrap_or(b'.');
        if b != b'.' {
            if b >= 0x80 {
                ascii = false;
            } else if forbidden.is_none() && !chars::is_ldh(b) {
                forbidden = Some((b, at));
            }
            continue;
        }
        let label = &value[label_start..at];
        if label.is_empty() {
            return Err(ValidationError::Invalid { what: WHAT, reason: "empty label" });
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(ValidationError::TooLong {
                what: "domain label",
                len: label.len(),
                max: MAX_LABEL_LEN,
            });
        }
        if let Some((byte, at)) = forbidden {
            return Err(ValidationError::ForbiddenByte { what: WHAT, byte, at });
        }
        // Let-dig at both ends; a U-label (any non-ASCII) is exempt from the hyphen rule
        // here: IDNA validation is the application's business (RFC 6531 section 3.3).
        if ascii && (label[0] == b'-' || label[label.len() - 1] == b'-') {
            return Err(ValidationError::Invalid {
                what: WHAT,
                reason: "a label must start and end with a letter or digit",
            });
        }
        label_start = at + 1;
        ascii = true;
    }
    Ok(())
}

/// The form of an [`AddressLiteral`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressLiteralKind {
    /// `[192.0.2.1]`
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    Ipv6(Ipv6Addr),
    /// `[tag:content]`, a General-address-literal; `tag_len` is the length of the tag.
    General {
        /// Length of the Standardized-tag before the ":".
        tag_len: usize,
    },
}

/// An address literal (RFC 5321 section 4.1.3), kept exactly as written between the
/// brackets, with its parsed form.
///
/// ```
/// use sealpost_codec::AddressLiteral;
/// use std::net::{IpAddr, Ipv6Addr};
///
/// let lit = AddressLiteral::new("IPv6:::1").unwrap();
/// assert_eq!(lit.ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
/// assert_eq!(lit.to_string(), "[IPv6:::1]");
/// assert!(AddressLiteral::new("300.1.1.1").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AddressLiteral<'a> {
    raw: Cow<'a, str>,
    kind: AddressLiteralKind,
}

impl<'a> AddressLiteral<'a> {
    /// Parses the text between the brackets.
    pub fn new(inner: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let raw = inner.into();
        let kind = parse_literal(raw.as_bytes())?;
        Ok(Self { raw, kind })
    }

    /// The literal for an IP address, in its canonical text form.
    pub fn from_ip(ip: IpAddr) -> AddressLiteral<'static> {
        match ip {
            IpAddr::V4(v4) => AddressLiteral {
                raw: Cow::Owned(v4.to_string()),
                kind: AddressLiteralKind::Ipv4(v4),
            },
            IpAddr::V6(v6) => AddressLiteral {
                raw: Cow::Owned(format!("IPv6:{v6}")),
                kind: AddressLiteralKind::Ipv6(v6),
            },
        }
    }

    /// The text between the brackets, as written.
    pub fn inner(&self) -> &str {
        &self.raw
    }

    /// What kind of literal this is.
    pub fn kind(&self) -> AddressLiteralKind {
        self.kind
    }

    /// The IP address, for IPv4 and IPv6 literals.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.kind {
            AddressLiteralKind::Ipv4(v4) => Some(IpAddr::V4(v4)),
            AddressLiteralKind::Ipv6(v6) => Some(IpAddr::V6(v6)),
            AddressLiteralKind::General { .. } => None,
        }
    }

    /// The tag and content of a General-address-literal.
    pub fn general(&self) -> Option<(&str, &str)> {
        match self.kind {
            AddressLiteralKind::General { tag_len } => {
                Some((&self.raw[..tag_len], &self.raw[tag_len + 1..]))
            }
            _ => None,
        }
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> AddressLiteral<'static> {
        AddressLiteral { raw: Cow::Owned(self.raw.into_owned()), kind: self.kind }
    }
}

impl fmt::Debug for AddressLiteral<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddressLiteral({:?})", self.raw)
    }
}

impl fmt::Display for AddressLiteral<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.raw)
    }
}

/// `IPv4-address-literal / IPv6-address-literal / General-address-literal`.
pub(crate) fn parse_literal(inner: &[u8]) -> VResult<AddressLiteralKind> {
    const WHAT: &str = "address literal";
    check_non_empty(WHAT, inner)?;
    if inner[0].is_ascii_digit() && !inner.contains(&b':') {
        return parse_ipv4(inner).map(AddressLiteralKind::Ipv4).ok_or(ValidationError::Invalid {
            what: WHAT,
            reason: "not a dotted-quad IPv4 address",
        });
    }
    let colon = inner.iter().position(|&b| b == b':').ok_or(ValidationError::Invalid {
        what: WHAT,
        reason: "neither an IPv4 address nor tag \":\" content",
    })?;
    let (tag, content) = (&inner[..colon], &inner[colon + 1..]);
    if tag.eq_ignore_ascii_case(b"IPv6") {
        // Std's parser accepts exactly the IPv6-addr forms (full, compressed, with an
        // embedded IPv4 tail) and rejects zone ids, which RFC 5321 does not allow.
        let text = std::str::from_utf8(content).map_err(|_| ValidationError::Invalid {
            what: WHAT,
            reason: "IPv6 address is not ASCII",
        })?;
        return text
            .parse::<Ipv6Addr>()
            .map(AddressLiteralKind::Ipv6)
            .map_err(|_| ValidationError::Invalid { what: WHAT, reason: "invalid IPv6 address" });
    }
    // Standardized-tag = Ldh-str: Let-dig at both ends, letters, digits and "-" between.
    if tag.is_empty()
        || !tag.iter().all(|&b| chars::is_ldh(b))
        || !chars::is_let_dig(tag[0])
        || !chars::is_let_dig(tag[tag.len() - 1])
    {
        return Err(ValidationError::Invalid { what: WHAT, reason: "invalid Standardized-tag" });
    }
    if content.is_empty() || !content.iter().all(|&b| chars::is_dcontent(b)) {
        return Err(ValidationError::Invalid { what: WHAT, reason: "invalid dcontent" });
    }
    Ok(AddressLiteralKind::General { tag_len: colon })
}

/// `Snum 3("." Snum)`, `Snum = 1*3DIGIT` with a value of at most 255. Leading zeros are
/// allowed by the grammar (unlike `Ipv4Addr::from_str`).
fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = part.iter().fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// The argument of EHLO, HELO or LHLO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host<'a> {
    /// A domain name, as RFC 5321 asks for.
    Domain(Domain<'a>),
    /// An address literal such as `[192.0.2.1]`.
    Literal(AddressLiteral<'a>),
    /// Anything else without spaces (bare IP addresses, names with "_", ...). Real clients
    /// send these; RFC 5321 section 4.1.4 lets a server accept them. Kept verbatim.
    Nonstandard(Text<'a>),
}

impl<'a> Host<'a> {
    /// Interprets an EHLO argument: a domain, an address literal in brackets, or a
    /// nonstandard token (no spaces, no controls).
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let value = value.into();
        let bytes = value.as_bytes();
        check_non_empty("host", bytes)?;
        if let Some(inner) = bytes.strip_prefix(b"[").and_then(|b| b.strip_suffix(b"]")) {
            let kind = parse_literal(inner)?;
            let raw = match value {
                Cow::Borrowed(s) => Cow::Borrowed(&s[1..s.len() - 1]),
                Cow::Owned(s) => Cow::Owned(s[1..s.len() - 1].to_owned()),
            };
            return Ok(Host::Literal(AddressLiteral { raw, kind }));
        }
        if validate_domain(bytes).is_ok() {
            return Ok(Host::Domain(Domain(value)));
        }
        // Brackets only ever enclose an address literal: "[1.2.3.4" is an error, not a
        // nonstandard name.
        if let Some(at) =
            bytes.iter().position(|&b| b <= b' ' || b == 0x7f || b == b'[' || b == b']')
        {
            return Err(ValidationError::ForbiddenByte { what: "host", byte: bytes[at], at });
        }
        Ok(Host::Nonstandard(Text(value)))
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Host<'static> {
        match self {
            Host::Domain(d) => Host::Domain(d.into_owned()),
            Host::Literal(l) => Host::Literal(l.into_owned()),
            Host::Nonstandard(t) => Host::Nonstandard(t.into_owned()),
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => d.fmt(f),
            Host::Literal(l) => l.fmt(f),
            Host::Nonstandard(t) => t.fmt(f),
        }
    }
}

impl<'a> From<Domain<'a>> for Host<'a> {
    fn from(value: Domain<'a>) -> Self {
        Host::Domain(value)
    }
}

impl<'a> From<AddressLiteral<'a>> for Host<'a> {
    fn from(value: AddressLiteral<'a>) -> Self {
        Host::Literal(value)
    }
}

/// The part of a mailbox after "@": a domain or an address literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DomainPart<'a> {
    /// `user@example.org`
    Domain(Domain<'a>),
    /// `user@[192.0.2.1]`
    Literal(AddressLiteral<'a>),
}

impl DomainPart<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> DomainPart<'static> {
        match self {
            DomainPart::Domain(d) => DomainPart::Domain(d.into_owned()),
            DomainPart::Literal(l) => DomainPart::Literal(l.into_owned()),
        }
    }

    /// Octets on the wire (with brackets for a literal).
    pub fn wire_len(&self) -> usize {
        match self {
            DomainPart::Domain(d) => d.0.len(),
            DomainPart::Literal(l) => l.raw.len() + 2,
        }
    }

    /// True when no SMTPUTF8 is needed.
    pub fn is_ascii(&self) -> bool {
        match self {
            DomainPart::Domain(d) => d.is_ascii(),
            DomainPart::Literal(_) => true,
        }
    }
}

impl fmt::Display for DomainPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainPart::Domain(d) => d.fmt(f),
            DomainPart::Literal(l) => l.fmt(f),
        }
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use crate::types::arb::arb_string;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for Domain<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let labels = u.int_in_range(1..=4)?;
            let mut out = String::new();
            for i in 0..labels {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(&arb_string(u, 1, 1, chars::is_let_dig)?);
                let mid = arb_string(u, 0, 8, chars::is_ldh)?;
                if !mid.is_empty() {
                    out.push_str(&mid);
                    out.push_str(&arb_string(u, 1, 1, chars::is_let_dig)?);
                }
            }
            Ok(Domain(Cow::Owned(out)))
        }
    }

    impl<'u> Arbitrary<'u> for AddressLiteral<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(match u.int_in_range(0..=2)? {
                0 => AddressLiteral::from_ip(IpAddr::V4(Ipv4Addr::from(u32::arbitrary(u)?))),
                1 => AddressLiteral::from_ip(IpAddr::V6(Ipv6Addr::from(u128::arbitrary(u)?))),
                _ => {
                    let tag = format!("x{}", arb_string(u, 0, 5, chars::is_let_dig)?);
                    let content = arb_string(u, 1, 10, chars::is_dcontent)?;
                    let tag_len = tag.len();
                    AddressLiteral {
                        raw: Cow::Owned(format!("{tag}:{content}")),
                        kind: AddressLiteralKind::General { tag_len },
                    }
                }
            })
        }
    }

    impl<'u> Arbitrary<'u> for Host<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(if bool::arbitrary(u)? {
                Host::Domain(Domain::arbitrary(u)?)
            } else {
                Host::Literal(AddressLiteral::arbitrary(u)?)
            })
        }
    }

    impl<'u> Arbitrary<'u> for DomainPart<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(if u.ratio(4, 5)? {
                DomainPart::Domain(Domain::arbitrary(u)?)
            } else {
                DomainPart::Literal(AddressLiteral::arbitrary(u)?)
            })
        }
    }
}
