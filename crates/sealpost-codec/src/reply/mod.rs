//! Server replies (RFC 5321 section 4.2) with enhanced status codes (RFC 3463, RFC 2034).

mod decode;
mod status;

pub use decode::ReplyDecoder;
pub use status::EnhancedStatusCode;

use std::borrow::Cow;
use std::fmt;

use crate::error::ValidationError;
use crate::types::text::Text;

/// A three-digit reply code: first digit 2 to 5, second 0 to 5, third 0 to 9.
///
/// ```
/// use sealpost_codec::{ReplyClass, ReplyCode};
/// let code = ReplyCode::new(451).unwrap();
/// assert_eq!(code.class(), ReplyClass::TransientNegative);
/// assert!(ReplyCode::new(199).is_err());
/// assert!(ReplyCode::new(260).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

/// The first digit of a reply code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyClass {
    /// 2yz: the action was completed.
    PositiveCompletion,
    /// 3yz: send more (354 after DATA, 334 during AUTH).
    PositiveIntermediate,
    /// 4yz: try again later.
    TransientNegative,
    /// 5yz: do not repeat as is.
    PermanentNegative,
}

impl ReplyCode {
    /// 220: service ready.
    pub const SERVICE_READY: ReplyCode = ReplyCode(220);
    /// 250: requested action completed.
    pub const OK: ReplyCode = ReplyCode(250);
    /// 421: service not available, closing the channel.
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode(421);
    /// 451: local error in processing.
    pub const LOCAL_ERROR: ReplyCode = ReplyCode(451);
    /// 550: mailbox unavailable / not permitted.
    pub const MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode(550);
    /// 554: transaction failed.
    pub const TRANSACTION_FAILED: ReplyCode = ReplyCode(554);

    /// Checks the digits and wraps the code.
    pub const fn new(code: u16) -> Result<Self, ValidationError> {
        let (x, y) = (code / 100, code / 10 % 10);
        if x >= 2 && x <= 5 && y <= 5 {
            Ok(ReplyCode(code))
        } else {
            Err(ValidationError::Invalid {
                what: "reply code",
                reason: "must be 2xx to 5xx with a middle digit 0 to 5",
            })
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The class of the first digit.
    pub const fn class(self) -> ReplyClass {
        match self.0 / 100 {
            2 => ReplyClass::PositiveCompletion,
            3 => ReplyClass::PositiveIntermediate,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// 2yz
    pub const fn is_positive(self) -> bool {
        self.0 / 100 == 2
    }

    /// 3yz
    pub const fn is_intermediate(self) -> bool {
        self.0 / 100 == 3
    }

    /// 4yz or 5yz
    pub const fn is_negative(self) -> bool {
        self.0 >= 400
    }

    /// 5yz
    pub const fn is_permanent_failure(self) -> bool {
        self.0 >= 500
    }

    pub(crate) const fn unchecked(code: u16) -> Self {
        ReplyCode(code)
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

impl TryFrom<u16> for ReplyCode {
    type Error = ValidationError;
    fn try_from(code: u16) -> Result<Self, Self::Error> {
        ReplyCode::new(code)
    }
}

/// A complete reply: one code and one or more lines of text.
///
/// The text of each line is kept as sent, enhanced status code included;
/// [`Reply::enhanced_status`] reads it from the first line.
///
/// ```
/// use sealpost_codec::{EnhancedStatusCode, Reply};
///
/// let reply = Reply::with_status(550, EnhancedStatusCode::new(5, 7, 1), "Relay denied").unwrap();
/// assert_eq!(reply.to_bytes(), b"550 5.7.1 Relay denied\r\n");
///
/// let (rest, decoded) = Reply::decode(b"250-mail.test\r\n250 PIPELINING\r\n").unwrap();
/// assert!(rest.is_empty());
/// assert_eq!(decoded.code().get(), 250);
/// assert_eq!(decoded.lines().len(), 2);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reply<'a> {
    code: ReplyCode,
    lines: Vec<Text<'a>>,
}

impl<'a> Reply<'a> {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        Ok(Reply { code: ReplyCode::new(code)?, lines: vec![Text::new(text)?] })
    }

    /// A one-line reply that starts with an enhanced status code.
    pub fn with_status(
        code: u16,
        status: EnhancedStatusCode,
        text: &str,
    ) -> Result<Reply<'static>, ValidationError> {
        let line = if text.is_empty() { status.to_string() } else { format!("{status} {text}") };
        Reply::new(code, line).map(Reply::into_owned)
    }

    /// A one-line reply that cannot fail: CR, LF and NUL in `text` become spaces (for
    /// text that comes from elsewhere, such as an error message).
    ///
    /// ```
    /// use sealpost_codec::{EnhancedStatusCode, Reply, ReplyCode};
    /// let reply = Reply::sanitized(
    ///     ReplyCode::LOCAL_ERROR,
    ///     Some(EnhancedStatusCode::new(4, 3, 0)),
    ///     "disk full\r\nRSET",
    /// );
    /// assert_eq!(reply.to_bytes(), b"451 4.3.0 disk full  RSET\r\n");
    /// ```
    pub fn sanitized(
        code: ReplyCode,
        status: Option<EnhancedStatusCode>,
        text: &str,
    ) -> Reply<'static> {
        let clean: String =
            text.chars().map(|c| if matches!(c, '\r' | '\n' | '\0') { ' ' } else { c }).collect();
        let line = match status {
            Some(status) if clean.is_empty() => status.to_string(),
            Some(status) => format!("{status} {clean}"),
            None => clean,
        };
        Reply { code, lines: vec![Text(Cow::Owned(line))] }
    }

    /// A reply of several lines (at least one).
    pub fn multiline(code: u16, lines: Vec<Text<'a>>) -> Result<Self, ValidationError> {
        if lines.is_empty() {
            return Err(ValidationError::Empty { what: "reply" });
        }
        Ok(Reply { code: ReplyCode::new(code)?, lines })
    }

    /// Builds a reply from parts known to be valid (static text in this crate).
    pub(crate) fn from_parts(code: ReplyCode, lines: Vec<Text<'a>>) -> Self {
        debug_assert!(!lines.is_empty());
        Reply { code, lines }
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The text of each line, without code and separator.
    pub fn lines(&self) -> &[Text<'a>] {
        &self.lines
    }

    /// The enhanced status code at the start of the first line, if there is one whose
    /// class matches the reply code (RFC 3463 section 2; RFC 2034 section 4).
    pub fn enhanced_status(&self) -> Option<EnhancedStatusCode> {
        let first = self.lines.first()?.as_str();
        let token = first.split(' ').next()?;
        let status = EnhancedStatusCode::parse(token)?;
        (u16::from(status.class()) == self.code.get() / 100).then_some(status)
    }

    /// The text of the lines joined with "\n", with the enhanced status code of each line
    /// removed when the first line has one. For messages to people and logs.
    pub fn text(&self) -> String {
        let strip = self.enhanced_status().is_some();
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let text = line.as_str();
            let text = match text.split_once(' ') {
                Some((first, rest)) if strip && EnhancedStatusCode::parse(first).is_some() => rest,
                None if strip && EnhancedStatusCode::parse(text).is_some() => "",
                _ => text,
            };
            out.push_str(text);
        }
        out
    }

    /// Detaches the reply from the input it borrows from.
    pub fn into_owned(self) -> Reply<'static> {
        Reply { code: self.code, lines: self.lines.into_iter().map(Text::into_owned).collect() }
    }

    /// Appends the reply, every line ending in CRLF, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let code = self.code.get();
            out.extend_from_slice(&[
                b'0' + (code / 100) as u8,
                b'0' + (code / 10 % 10) as u8,
                b'0' + (code % 10) as u8,
            ]);
            if i < last {
                out.push(b'-');
            } else if !line.as_str().is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(line.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The reply as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.as_str().len() + 6).sum());
        self.encode(&mut out);
        out
    }
}

impl fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").field("code", &self.code.0).field("lines", &self.lines).finish()
    }
}

impl fmt::Display for Reply<'_> {
    /// The reply lines joined with CRLF, without the last CRLF (for logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(String::from_utf8_lossy(&bytes[..bytes.len() - 2]).as_ref())
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for ReplyCode {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let x = u.int_in_range(2u16..=5)?;
            let y = u.int_in_range(0u16..=5)?;
            let z = u.int_in_range(0u16..=9)?;
            Ok(ReplyCode(x * 100 + y * 10 + z))
        }
    }

    impl<'u> Arbitrary<'u> for Reply<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let code = ReplyCode::arbitrary(u)?;
            let n = u.int_in_range(1..=4)?;
            let mut lines = Vec::with_capacity(n);
            for _ in 0..n {
                lines.push(Text::arbitrary(u)?);
            }
            Ok(Reply { code, lines })
        }
    }
}
