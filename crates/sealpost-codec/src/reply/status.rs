//! Enhanced mail system status codes (RFC 3463).

use std::fmt;

/// `class "." subject "." detail`: class 2, 4 or 5; subject and detail 0 to 999.
///
/// ```
/// use sealpost_codec::EnhancedStatusCode;
/// let code = EnhancedStatusCode::new(5, 7, 0);
/// assert_eq!(code.to_string(), "5.7.0");
/// assert_eq!(EnhancedStatusCode::parse("4.3.0"), Some(EnhancedStatusCode::new(4, 3, 0)));
/// assert_eq!(EnhancedStatusCode::parse("3.1.1"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedStatusCode {
    /// Builds a code. The class must be 2, 4 or 5 and subject/detail at most 999; other
    /// values are clamped into range so that the code still encodes validly (use
    /// [`EnhancedStatusCode::parse`] for untrusted input).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        let class = match class {
            2 | 4 | 5 => class,
            _ => 5,
        };
        let subject = if subject > 999 { 999 } else { subject };
        let detail = if detail > 999 { 999 } else { detail };
        EnhancedStatusCode { class, subject, detail }
    }

    /// Reads `x.y.z` (RFC 3463 section 2: class 2/4/5, then 1 to 3 digits twice).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let class = match parts.next()? {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        let number = |p: &str| -> Option<u16> {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let subject = number(parts.next()?)?;
        let detail = number(parts.next()?)?;
        parts.next().is_none().then_some(EnhancedStatusCode { class, subject, detail })
    }

    /// 2, 4 or 5.
    pub const fn class(self) -> u8 {
        self.class
    }

    /// The subject (second number).
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail (third number).
    pub const fn detail(self) -> u16 {
        self.detail
    }
}

impl fmt::Display for EnhancedStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}
