//! EHLO replies and the service extensions they announce (RFC 5321 section 4.1.1.1).
//!
//! ```text
//! ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
//!             / ( "250-" Domain [ SP ehlo-greet ] CRLF
//!                 *( "250-" ehlo-line CRLF )
//!                 "250" SP ehlo-line CRLF )
//! ehlo-line   = ehlo-keyword *( SP ehlo-param )
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::command::Mechanism;
use crate::error::ValidationError;
use crate::reply::Reply;
use crate::types::text::{EsmtpValue, Keyword, Text};

/// The keyword/value pairs of LIMITS (RFC 9422), in the order announced.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Limits<'a>(pub Vec<(Keyword<'a>, EsmtpValue<'a>)>);

impl Limits<'_> {
    fn number(&self, name: &str) -> Option<u32> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_case(name))
            .and_then(|(_, v)| v.as_str().parse().ok())
    }

    /// `MAILMAX`: transactions per session.
    pub fn mailmax(&self) -> Option<u32> {
        self.number("MAILMAX")
    }

    /// `RCPTMAX`: recipients per transaction.
    pub fn rcptmax(&self) -> Option<u32> {
        self.number("RCPTMAX")
    }

    /// `RCPTDOMAINMAX`: recipient domains per transaction.
    pub fn rcptdomainmax(&self) -> Option<u32> {
        self.number("RCPTDOMAINMAX")
    }
}

/// One service extension of an EHLO reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability<'a> {
    /// `SIZE [n]` (RFC 1870); `None` or `Some(0)` means no fixed limit.
    Size(Option<u64>),
    /// `PIPELINING` (RFC 2920)
    Pipelining,
    /// `8BITMIME` (RFC 6152)
    EightBitMime,
    /// `BINARYMIME` (RFC 3030)
    BinaryMime,
    /// `CHUNKING` (RFC 3030)
    Chunking,
    /// `SMTPUTF8` (RFC 6531)
    SmtpUtf8,
    /// `DSN` (RFC 3461)
    Dsn,
    /// `ENHANCEDSTATUSCODES` (RFC 2034)
    EnhancedStatusCodes,
    /// `STARTTLS` (RFC 3207)
    StartTls,
    /// `AUTH mech ...` (RFC 4954)
    Auth(Vec<Mechanism<'a>>),
    /// `REQUIRETLS` (RFC 8689)
    RequireTls,
    /// `MT-PRIORITY [profile]` (RFC 6710)
    MtPriority(Option<Keyword<'a>>),
    /// `DELIVERBY [min-by-time]` (RFC 2852)
    DeliverBy(Option<u32>),
    /// `LIMITS name=value ...` (RFC 9422)
    Limits(Limits<'a>),
    /// Another keyword with its parameters (the text after the first SP), kept verbatim.
    Unknown {
        /// The keyword.
        keyword: Keyword<'a>,
        /// The rest of the line.
        params: Option<Text<'a>>,
    },
    /// A line that is not keyword-shaped at all (such as the old `AUTH=LOGIN`), verbatim.
    Other(Text<'a>),
}

impl<'a> Capability<'a> {
    /// Reads one `ehlo-line`.
    #[inline]
    pub fn parse(line: &'a str) -> Capability<'a> {
        // A plain loop: EHLO lines are too short for a `memchr` call to pay off.
        let (keyword, params) = match line.bytes().position(|b| b == b' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let is = |name: &str| is_keyword(keyword, name);
        let flag = |cap: Capability<'a>| if params.is_none() { Some(cap) } else { None };
        let typed = if is("SIZE") {
            match params {
                None => Some(Capability::Size(None)),
                // 1*DIGIT (RFC 1870 section 4): no sign, unlike `u64::from_str`.
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().ok().map(|n| Capability::Size(Some(n)))
                }
                Some(_) => None,
            }
        } else if is("PIPELINING") {
            flag(Capability::Pipelining)
        } else if is("8BITMIME") {
            flag(Capability::EightBitMime)
        } else if is("BINARYMIME") {
            flag(Capability::BinaryMime)
        } else if is("CHUNKING") {
            flag(Capability::Chunking)
        } else if is("SMTPUTF8") {
            flag(Capability::SmtpUtf8)
        } else if is("DSN") {
            flag(Capability::Dsn)
        } else if is("ENHANCEDSTATUSCODES") {
            flag(Capability::EnhancedStatusCodes)
        } else if is("STARTTLS") {
            flag(Capability::StartTls)
        } else if is("REQUIRETLS") {
            flag(Capability::RequireTls)
        } else if is("AUTH") {
            params.and_then(mechanisms).map(Capability::Auth)
        } else if is("MT-PRIORITY") {
            match params {
                None => Some(Capability::MtPriority(None)),
                Some(p) => Keyword::new(p).ok().map(|k| Capability::MtPriority(Some(k))),
            }
        } else if is("DELIVERBY") {
            match params {
                None => Some(Capability::DeliverBy(None)),
                Some(p) if p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().ok().map(|n| Capability::DeliverBy(Some(n)))
                }
                Some(_) => None,
            }
        } else if is("LIMITS") {
            params.and_then(parse_limits).map(Capability::Limits)
        } else {
            None
        };
        if let Some(typed) = typed {
            return typed;
        }
        // Only now: every keyword matched above is a valid one.
        match Keyword::new(keyword) {
            Ok(keyword) => {
                Capability::Unknown { keyword, params: params.map(|p| Text(Cow::Borrowed(p))) }
            }
            Err(_) => Capability::Other(Text(Cow::Borrowed(line))),
        }
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Capability<'static> {
        match self {
            Capability::Size(n) => Capability::Size(n),
            Capability::Pipelining => Capability::Pipelining,
            Capability::EightBitMime => Capability::EightBitMime,
            Capability::BinaryMime => Capability::BinaryMime,
            Capability::Chunking => Capability::Chunking,
            Capability::SmtpUtf8 => Capability::SmtpUtf8,
            Capability::Dsn => Capability::Dsn,
            Capability::EnhancedStatusCodes => Capability::EnhancedStatusCodes,
            Capability::StartTls => Capability::StartTls,
            Capability::Auth(m) => {
                Capability::Auth(m.into_iter().map(Mechanism::into_owned).collect())
            }
            Capability::RequireTls => Capability::RequireTls,
            Capability::MtPriority(p) => Capability::MtPriority(p.map(Keyword::into_owned)),
            Capability::DeliverBy(n) => Capability::DeliverBy(n),
            Capability::Limits(l) => Capability::Limits(Limits(
                l.0.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
            )),
            Capability::Unknown { keyword, params } => Capability::Unknown {
                keyword: keyword.into_owned(),
                params: params.map(Text::into_owned),
            },
            Capability::Other(t) => Capability::Other(t.into_owned()),
        }
    }
}

/// `keyword.eq_ignore_ascii_case(name)` for an ASCII `name`, without a branch per octet:
/// at a letter of `name`, setting bit 5 of both octets compares them case-insensitively
/// (only the two cases of that letter match); any other octet must be equal.
#[inline]
fn is_keyword(keyword: &str, name: &str) -> bool {
    keyword.len() == name.len()
        && keyword.bytes().zip(name.bytes()).fold(0, |acc, (k, n)| {
            let fold = if n.is_ascii_alphabetic() { 0x20 } else { 0 };
            acc | ((k | fold) ^ (n | fold))
        }) == 0
}

/// The SP-separated SASL mechanisms of an AUTH line; `None` if one is not valid.
fn mechanisms(params: &str) -> Option<Vec<Mechanism<'_>>> {
    let mut mechanisms = Vec::with_capacity(1 + params.bytes().filter(|&b| b == b' ').count());
    for name in params.split(' ') {
        mechanisms.push(Mechanism::new(name).ok()?);
    }
    Some(mechanisms)
}

fn parse_limits(params: &str) -> Option<Limits<'_>> {
    let mut out = Vec::new();
    for pair in params.split(' ') {
        let (k, v) = pair.split_once('=')?;
        out.push((Keyword::new(k).ok()?, EsmtpValue::new(v).ok()?));
    }
    Some(Limits(out))
}

impl fmt::Display for Capability<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Size(None) => f.write_str("SIZE"),
            Capability::Size(Some(n)) => write!(f, "SIZE {n}"),
            Capability::Pipelining => f.write_str("PIPELINING"),
            Capability::EightBitMime => f.write_str("8BITMIME"),
            Capability::BinaryMime => f.write_str("BINARYMIME"),
            Capability::Chunking => f.write_str("CHUNKING"),
            Capability::SmtpUtf8 => f.write_str("SMTPUTF8"),
            Capability::Dsn => f.write_str("DSN"),
            Capability::EnhancedStatusCodes => f.write_str("ENHANCEDSTATUSCODES"),
            Capability::StartTls => f.write_str("STARTTLS"),
            Capability::Auth(mechs) => {
                f.write_str("AUTH")?;
                mechs.iter().try_for_each(|m| write!(f, " {m}"))
            }
            Capability::RequireTls => f.write_str("REQUIRETLS"),
            Capability::MtPriority(None) => f.write_str("MT-PRIORITY"),
            Capability::MtPriority(Some(p)) => write!(f, "MT-PRIORITY {p}"),
            Capability::DeliverBy(None) => f.write_str("DELIVERBY"),
            Capability::DeliverBy(Some(n)) => write!(f, "DELIVERBY {n}"),
            Capability::Limits(l) => {
                f.write_str("LIMITS")?;
                l.0.iter().try_for_each(|(k, v)| write!(f, " {k}={v}"))
            }
            Capability::Unknown { keyword, params: Some(p) } => write!(f, "{keyword} {p}"),
            Capability::Unknown { keyword, params: None } => write!(f, "{keyword}"),
            Capability::Other(t) => f.write_str(t.as_str()),
        }
    }
}

/// A successful EHLO reply: the server's name, an optional greeting and its extensions.
///
/// ```
/// use sealpost_codec::{Capability, EhloResponse, Reply};
///
/// let (_, reply) = Reply::decode(
///     b"250-mail.test greets you\r\n250-SIZE 10240000\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n",
/// )
/// .unwrap();
/// let ehlo = EhloResponse::from_reply(&reply).unwrap();
/// assert_eq!(ehlo.domain.as_str(), "mail.test");
/// assert_eq!(ehlo.size(), Some(10_240_000));
/// assert!(ehlo.has(&Capability::Pipelining));
/// assert!(ehlo.auth_mechanisms().any(|m| m.is("PLAIN")));
/// assert_eq!(ehlo.to_reply().to_bytes(), reply.to_bytes());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhloResponse<'a> {
    /// The server's name (first word of the first line).
    pub domain: Text<'a>,
    /// The rest of the first line.
    pub greeting: Option<Text<'a>>,
    /// The extensions, in the order announced.
    pub capabilities: Vec<Capability<'a>>,
}

impl<'a> EhloResponse<'a> {
    /// Reads a 250 reply to EHLO (or LHLO).
    pub fn from_reply(reply: &Reply<'a>) -> Result<EhloResponse<'a>, ValidationError> {
        if reply.code().get() != 250 {
            return Err(ValidationError::Invalid { what: "EHLO reply", reason: "code is not 250" });
        }
        let mut lines = reply.lines().iter();
        let first = lines.next().cloned().unwrap_or(Text::EMPTY);
        let (domain, greeting) = split_first(first);
        let capabilities = lines.map(|l| capability_from_text(l.clone())).collect();
        Ok(EhloResponse { domain, greeting, capabilities })
    }

    /// Builds the 250 reply that announces this response.
    pub fn to_reply(&self) -> Reply<'static> {
        let mut lines = Vec::with_capacity(self.capabilities.len() + 1);
        let first = match &self.greeting {
            Some(g) => format!("{} {}", self.domain, g),
            None => self.domain.to_string(),
        };
        lines.push(Text(Cow::Owned(first)));
        lines.extend(self.capabilities.iter().map(|c| Text(Cow::Owned(c.to_string()))));
        Reply::from_parts(crate::reply::ReplyCode::unchecked(250), lines)
    }

    /// True when the capability is announced (parameters compared too, except for SIZE
    /// and AUTH where any announcement counts).
    pub fn has(&self, capability: &Capability<'_>) -> bool {
        self.capabilities.iter().any(|c| match (c, capability) {
            (Capability::Size(_), Capability::Size(_))
            | (Capability::Auth(_), Capability::Auth(_)) => true,
            (a, b) => a.to_string().eq_ignore_ascii_case(&b.to_string()),
        })
    }

    /// The SIZE limit, if one is announced (0 means none).
    pub fn size(&self) -> Option<u64> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Size(n) => *n,
            _ => None,
        })
    }

    /// The announced SASL mechanisms.
    pub fn auth_mechanisms(&self) -> impl Iterator<Item = &Mechanism<'a>> {
        self.capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::Auth(m) => Some(m.iter()),
                _ => None,
            })
            .flatten()
    }

    /// The LIMITS announcement, if any.
    pub fn limits(&self) -> Option<&Limits<'a>> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Limits(l) => Some(l),
            _ => None,
        })
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> EhloResponse<'static> {
        EhloResponse {
            domain: self.domain.into_owned(),
            greeting: self.greeting.map(Text::into_owned),
            capabilities: self.capabilities.into_iter().map(Capability::into_owned).collect(),
        }
    }
}

/// Splits the first EHLO line into domain and greeting without copying borrowed text.
fn split_first(text: Text<'_>) -> (Text<'_>, Option<Text<'_>>) {
    let Some(space) = text.as_str().bytes().position(|b| b == b' ') else {
        return (text, None);
    };
    match text.0 {
        Cow::Borrowed(s) => {
            (Text(Cow::Borrowed(&s[..space])), Some(Text(Cow::Borrowed(&s[space + 1..]))))
        }
        Cow::Owned(s) => (
            Text(Cow::Owned(s[..space].to_owned())),
            Some(Text(Cow::Owned(s[space + 1..].to_owned()))),
        ),
    }
}

fn capability_from_text(text: Text<'_>) -> Capability<'_> {
    match text.0 {
        Cow::Borrowed(s) => Capability::parse(s),
        Cow::Owned(s) => Capability::parse(&s).into_owned(),
    }
}
