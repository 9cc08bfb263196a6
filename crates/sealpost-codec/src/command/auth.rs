//! The arguments of AUTH (RFC 4954 section 4, RFC 4422).

use std::borrow::Cow;
use std::fmt;

use crate::error::ValidationError;
use crate::secret::Secret;

/// A SASL mechanism name: 1 to 20 of `A-Z 0-9 - _` (RFC 4422 section 3.1). Lower case is
/// accepted on input and kept; compare with [`Mechanism::is`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mechanism<'a>(pub(crate) Cow<'a, str>);

impl<'a> Mechanism<'a> {
    /// `PLAIN` (RFC 4616)
    pub const PLAIN: Mechanism<'static> = Mechanism(Cow::Borrowed("PLAIN"));
    /// `LOGIN` (draft-murchison-sasl-login)
    pub const LOGIN: Mechanism<'static> = Mechanism(Cow::Borrowed("LOGIN"));

    /// Validates a mechanism name.
    pub fn new(name: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let name = name.into();
        validate_mechanism(name.as_bytes())?;
        Ok(Mechanism(name))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive comparison with a mechanism name.
    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Mechanism<'static> {
        Mechanism(Cow::Owned(self.0.into_owned()))
    }
}

pub(crate) fn validate_mechanism(name: &[u8]) -> Result<(), ValidationError> {
    const WHAT: &str = "SASL mechanism";
    if name.is_empty() {
        return Err(ValidationError::Empty { what: WHAT });
    }
    if name.len() > 20 {
        return Err(ValidationError::TooLong { what: WHAT, len: name.len(), max: 20 });
    }
    crate::types::text::check_class(WHAT, name, |b| {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
    })
}

impl fmt::Debug for Mechanism<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mechanism({})", self.0)
    }
}

impl fmt::Display for Mechanism<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The initial response of AUTH: `=` for an empty one, or base64 text. Redacted in
/// `Debug`: it usually carries a password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitialResponse<'a> {
    /// `=`: present but empty.
    Empty,
    /// Base64 text as sent.
    Base64(Secret<Cow<'a, str>>),
}

impl<'a> InitialResponse<'a> {
    /// Wraps base64 text after checking its alphabet and padding.
    pub fn base64(text: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let text = text.into();
        validate_base64(text.as_bytes())?;
        Ok(InitialResponse::Base64(Secret::new(text)))
    }

    /// Encodes raw response bytes.
    pub fn from_bytes(bytes: &[u8]) -> InitialResponse<'static> {
        use base64::Engine;
        if bytes.is_empty() {
            InitialResponse::Empty
        } else {
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            InitialResponse::Base64(Secret::new(Cow::Owned(text)))
        }
    }

    /// The decoded bytes.
    pub fn decode(&self) -> Result<Secret<Vec<u8>>, ValidationError> {
        match self {
            InitialResponse::Empty => Ok(Secret::new(Vec::new())),
            InitialResponse::Base64(text) => crate::sasl::decode_base64(text.expose().as_bytes()),
        }
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> InitialResponse<'static> {
        match self {
            InitialResponse::Empty => InitialResponse::Empty,
            InitialResponse::Base64(s) => {
                InitialResponse::Base64(Secret::new(Cow::Owned(s.into_inner().into_owned())))
            }
        }
    }
}

/// The base64 alphabet with "=" padding only at the end, length a multiple of 4.
pub(crate) fn validate_base64(text: &[u8]) -> Result<(), ValidationError> {
    const WHAT: &str = "base64";
    if text.is_empty() {
        return Err(ValidationError::Empty { what: WHAT });
    }
    let body = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    crate::types::text::check_class(WHAT, body, |b| {
        b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
    })?;
    if !text.len().is_multiple_of(4) {
        return Err(ValidationError::Invalid {
            what: WHAT,
            reason: "length is not a multiple of 4",
        });
    }
    Ok(())
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use crate::types::arb::arb_string;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for Mechanism<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let name = arb_string(u, 1, 20, |b| {
                b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
            })?;
            Ok(Mechanism(Cow::Owned(name)))
        }
    }

    impl<'u> Arbitrary<'u> for InitialResponse<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let mut bytes: Vec<u8> = Arbitrary::arbitrary(u)?;
            // RFC 4954 section 4: the AUTH line stays within the 512 octets of RFC 5321
            // 4.5.3.1.4. 360 octets are 480 in base64, which leaves room for
            // "AUTH", a 20-octet mechanism, two spaces and CRLF.
            bytes.truncate(360);
            Ok(InitialResponse::from_bytes(&bytes))
        }
    }
}
