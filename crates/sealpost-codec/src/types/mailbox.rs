//! Mailboxes and local parts (RFC 5321 section 4.1.2, RFC 6531 section 3.3).

use std::borrow::Cow;
use std::fmt;

use crate::error::{VResult, ValidationError};
use crate::parse::chars;
use crate::types::domain::DomainPart;
use crate::types::text::check_non_empty;

/// RFC 5321 section 4.5.3.1.1: a local part is at most 64 octets.
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// The part of a mailbox before "@", in the form it was written.
///
/// ```
/// use sealpost_codec::LocalPart;
///
/// let dot = LocalPart::dot_string("john.smith").unwrap();
/// assert_eq!(dot.to_string(), "john.smith");
///
/// // A quoted string keeps its escapes; `value()` gives the unescaped text.
/// let quoted = LocalPart::quoted_string(r#"john\"smith"#).unwrap();
/// assert_eq!(quoted.to_string(), r#""john\"smith""#);
/// assert_eq!(quoted.value(), r#"john"smith"#);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalPart<'a> {
    /// `Dot-string = Atom *("." Atom)`
    DotString(Cow<'a, str>),
    /// `Quoted-string`: the content between the quotes, escapes (`\x`) kept as written.
    QuotedString(Cow<'a, str>),
}

impl<'a> LocalPart<'a> {
    /// A dot-string local part such as `john.smith`.
    pub fn dot_string(value: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let value = value.into();
        validate_dot_string(value.as_bytes())?;
        Ok(LocalPart::DotString(value))
    }

    /// A quoted-string local part, given as the raw content between the quotes (with
    /// any `\` escapes already in place).
    pub fn quoted_string(raw: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        validate_quoted_content(raw.as_bytes())?;
        Ok(LocalPart::QuotedString(raw))
    }

    /// The local part for an arbitrary value: a dot-string when the value is one, a
    /// quoted string with the needed escapes otherwise.
    pub fn from_value(value: &str) -> Result<LocalPart<'static>, ValidationError> {
        if validate_dot_string(value.as_bytes()).is_ok() {
            return Ok(LocalPart::DotString(Cow::Owned(value.to_owned())));
        }
        let mut raw = String::with_capacity(value.len() + 2);
        for c in value.chars() {
            if c == '"' || c == '\\' {
                raw.push('\\');
            }
            raw.push(c);
        }
        LocalPart::quoted_string(raw).map(LocalPart::into_owned)
    }

    /// The value with quoting and escapes removed (`"a\"b"` gives `a"b`).
    pub fn value(&self) -> Cow<'_, str> {
        match self {
            LocalPart::DotString(s) => Cow::Borrowed(s),
            LocalPart::QuotedString(raw) if !raw.contains('\\') => Cow::Borrowed(raw),
            LocalPart::QuotedString(raw) => {
                let mut out = String::with_capacity(raw.len());
                let mut escaped = false;
                for c in raw.chars() {
                    if escaped || c != '\\' {
                        out.push(c);
                        escaped = false;
                    } else {
                        escaped = true;
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// Octets on the wire, quotes included.
    pub fn wire_len(&self) -> usize {
        match self {
            LocalPart::DotString(s) => s.len(),
            LocalPart::QuotedString(s) => s.len() + 2,
        }
    }

    /// True when no SMTPUTF8 is needed.
    pub fn is_ascii(&self) -> bool {
        match self {
            LocalPart::DotString(s) | LocalPart::QuotedString(s) => s.is_ascii(),
        }
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> LocalPart<'static> {
        match self {
            LocalPart::DotString(s) => LocalPart::DotString(Cow::Owned(s.into_owned())),
            LocalPart::QuotedString(s) => LocalPart::QuotedString(Cow::Owned(s.into_owned())),
        }
    }
}

impl fmt::Debug for LocalPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalPart({self})")
    }
}

impl fmt::Display for LocalPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalPart::DotString(s) => f.write_str(s),
            LocalPart::QuotedString(s) => write!(f, "\"{s}\""),
        }
    }
}

/// `Dot-string = Atom *("." Atom)`, with UTF-8 allowed in atext (RFC 6531).
pub(crate) fn validate_dot_string(value: &[u8]) -> VResult<()> {
    const WHAT: &str = "local part";
    check_non_empty(WHAT, value)?;
    if value.len() > MAX_LOCAL_PART_LEN {
        return Err(ValidationError::TooLong {
            what: WHAT,
            len: value.len(),
            max: MAX_LOCAL_PART_LEN,
        });
    }
    // One pass: the first forbidden octet wins over a misplaced dot, wherever it is.
    let mut misplaced_dot = value[0] == b'.' || value[value.len() - 1] == b'.';
    let mut after_dot = false;
    for (at, &b) in value.iter().enumerate() {
        if b == b'.' {
            misplaced_dot |= after_dot;
            after_dot = true;
        } else if chars::is_atext(b) || chars::is_utf8_non_ascii(b) {
            after_dot = false;
        } else {
            return Err(ValidationError::ForbiddenByte { what: WHAT, byte: b, at });
        }
    }
    if misplaced_dot {
        return Err(ValidationError::Invalid {
            what: WHAT,
            reason: "a dot-string cannot start or end with \".\" or hold \"..\"",
        });
    }
    Ok(())
}

/// `*QcontentSMTP`, the raw text between the quotes.
pub(crate) fn validate_quoted_content(raw: &[u8]) -> VResult<()> {
    const WHAT: &str = "quoted local part";
    if raw.len() + 2 > MAX_LOCAL_PART_LEN {
        return Err(ValidationError::TooLong {
            what: WHAT,
            len: raw.len() + 2,
            max: MAX_LOCAL_PART_LEN,
        });
    }
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            // quoted-pairSMTP = %d92 %d32-126
            match raw.get(i + 1) {
                Some(32..=126) => i += 2,
                Some(&byte) => {
                    return Err(ValidationError::ForbiddenByte { what: WHAT, byte, at: i + 1 });
                }
                None => {
                    return Err(ValidationError::Invalid {
                        what: WHAT,
                        reason: "ends with a lone \"\\\"",
                    });
                }
            }
        } else if chars::is_qtext_smtp(b) || chars::is_utf8_non_ascii(b) {
            i += 1;
        } else {
            return Err(ValidationError::ForbiddenByte { what: WHAT, byte: b, at: i });
        }
    }
    Ok(())
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
///
/// ```
/// use sealpost_codec::Mailbox;
///
/// let mailbox: Mailbox = "alice@example.org".parse().unwrap();
/// assert_eq!(mailbox.local_part().value(), "alice");
/// assert_eq!(mailbox.to_string(), "alice@example.org");
/// assert!("no-at-sign".parse::<Mailbox>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    local_part: LocalPart<'a>,
    domain: DomainPart<'a>,
}

impl<'a> Mailbox<'a> {
    /// Puts a mailbox together, checking the combined length (RFC 5321 4.5.3.1.3: the
    /// path, with its angle brackets, is at most 256 octets).
    pub fn new(local_part: LocalPart<'a>, domain: DomainPart<'a>) -> Result<Self, ValidationError> {
        let mailbox = Mailbox { local_part, domain };
        let path_len = mailbox.wire_len() + 2;
        if path_len > crate::types::path::MAX_PATH_LEN {
            return Err(ValidationError::TooLong {
                what: "path",
                len: path_len,
                max: crate::types::path::MAX_PATH_LEN,
            });
        }
        Ok(mailbox)
    }

    /// Parses `local@domain` (a dot-string or quoted local part).
    pub fn parse(text: &'a str) -> Result<Self, ValidationError> {
        crate::parse::path::mailbox_from_str(text)
    }

    /// The local part.
    pub fn local_part(&self) -> &LocalPart<'a> {
        &self.local_part
    }

    /// The domain or address literal.
    pub fn domain(&self) -> &DomainPart<'a> {
        &self.domain
    }

    /// Octets on the wire, without angle brackets.
    pub fn wire_len(&self) -> usize {
        self.local_part.wire_len() + 1 + self.domain.wire_len()
    }

    /// True when the mailbox needs no SMTPUTF8.
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Mailbox<'static> {
        Mailbox { local_part: self.local_part.into_owned(), domain: self.domain.into_owned() }
    }

    pub(crate) fn from_parts_unchecked(local_part: LocalPart<'a>, domain: DomainPart<'a>) -> Self {
        Mailbox { local_part, domain }
    }
}

impl fmt::Display for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

impl std::str::FromStr for Mailbox<'static> {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mailbox::parse(s).map(Mailbox::into_owned)
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use crate::types::arb::arb_string;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for LocalPart<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            if bool::arbitrary(u)? {
                let atoms = u.int_in_range(1..=3)?;
                let parts: Result<Vec<String>> =
                    (0..atoms).map(|_| arb_string(u, 1, 8, chars::is_atext)).collect();
                Ok(LocalPart::DotString(Cow::Owned(parts?.join("."))))
            } else {
                let mut raw = String::new();
                for _ in 0..u.int_in_range(0..=12)? {
                    if u.ratio(1, 6)? {
                        raw.push('\\');
                        raw.push_str(&arb_string(u, 1, 1, |b| (32..=126).contains(&b))?);
                    } else {
                        raw.push_str(&arb_string(u, 1, 1, chars::is_qtext_smtp)?);
                    }
                }
                Ok(LocalPart::QuotedString(Cow::Owned(raw)))
            }
        }
    }

    impl<'u> Arbitrary<'u> for Mailbox<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let local_part = LocalPart::arbitrary(u)?;
            let domain = DomainPart::arbitrary(u)?;
            Mailbox::new(local_part, domain).map_err(|_| arbitrary::Error::IncorrectFormat)
        }
    }
}
