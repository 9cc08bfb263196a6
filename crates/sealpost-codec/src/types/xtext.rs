//! xtext (RFC 3461 section 4): the encoding of ENVID, ORCPT and AUTH= values.

use std::borrow::Cow;
use std::fmt;

use data_encoding::HEXUPPER;

use crate::error::{VResult, ValidationError};
use crate::parse::chars;

/// A value in xtext form, kept as written: `xchar` characters and `"+" HEXCHAR HEXCHAR`
/// escapes (upper-case hex, as RFC 3461 requires).
///
/// ```
/// use sealpost_codec::XText;
///
/// let envid = XText::encode(b"id=1 2").unwrap();
/// assert_eq!(envid.as_str(), "id+3D1+202");
/// assert_eq!(envid.decode(), b"id=1 2");
/// assert!(XText::new("bad+zz").is_err());
/// assert!(XText::encode(b"").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct XText<'a>(pub(crate) Cow<'a, str>);

impl<'a> XText<'a> {
    /// Wraps text that is already in xtext form, after checking it.
    pub fn new(encoded: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let encoded = encoded.into();
        validate_xtext(encoded.as_bytes())?;
        Ok(XText(encoded))
    }

    /// Encodes bytes: printable ASCII except "+" and "=" stays, the rest becomes `+XX`.
    /// Fails on empty input, which no parameter using xtext allows (RFC 3461 section 4).
    pub fn encode(value: &[u8]) -> Result<XText<'static>, ValidationError> {
        if value.is_empty() {
            return Err(ValidationError::Empty { what: "xtext" });
        }
        let mut out = String::with_capacity(value.len());
        for &b in value {
            if chars::is_xchar(b) {
                out.push(char::from(b));
            } else {
                out.push('+');
                HEXUPPER.encode_append(&[b], &mut out);
            }
        }
        Ok(XText(Cow::Owned(out)))
    }

    /// The decoded bytes.
    pub fn decode(&self) -> Vec<u8> {
        let raw = self.0.as_bytes();
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            // Validated on construction: "+" is always followed by two upper-case hex digits.
            let mut byte = [0u8; 1];
            let escape = (raw[i] == b'+')
                .then(|| raw.get(i + 1..i + 3))
                .flatten()
                .and_then(|hex| HEXUPPER.decode_mut(hex, &mut byte).ok());
            match escape {
                Some(_) => {
                    out.push(byte[0]);
                    i += 3;
                }
                None => {
                    out.push(raw[i]);
                    i += 1;
                }
            }
        }
        out
    }

    /// The encoded form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> XText<'static> {
        XText(Cow::Owned(self.0.into_owned()))
    }
}

pub(crate) fn validate_xtext(raw: &[u8]) -> VResult<()> {
    const WHAT: &str = "xtext";
    if raw.is_empty() {
        return Err(ValidationError::Empty { what: WHAT });
    }
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                for at in [i + 1, i + 2] {
                    match raw.get(at) {
                        Some(&b) if chars::is_hexchar(b) => {}
                        Some(&byte) => {
                            return Err(ValidationError::ForbiddenByte { what: WHAT, byte, at });
                        }
                        None => {
                            return Err(ValidationError::Invalid {
                                what: WHAT,
                                reason: "\"+\" must be followed by two upper-case hex digits",
                            });
                        }
                    }
                }
                i += 3;
            }
            b if chars::is_xchar(b) => i += 1,
            byte => {
                return Err(ValidationError::ForbiddenByte { what: WHAT, byte, at: i });
            }
        }
    }
    Ok(())
}

impl fmt::Debug for XText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XText({:?})", self.0)
    }
}

impl fmt::Display for XText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "arbitrary")]
impl<'u> arbitrary::Arbitrary<'u> for XText<'_> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'u>) -> arbitrary::Result<Self> {
        let len = u.int_in_range(1..=16)?;
        let bytes: Vec<u8> =
            (0..len).map(|_| u8::arbitrary(u)).collect::<arbitrary::Result<_>>()?;
        XText::encode(&bytes).map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}
