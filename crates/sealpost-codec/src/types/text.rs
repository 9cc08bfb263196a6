//! Validated strings: free text, atoms, ESMTP keywords and values.

use std::borrow::Cow;
use std::fmt;

use crate::error::{VResult, ValidationError};
use crate::parse::chars;

/// Declares a validated `Cow<str>` newtype with the usual conversions.
macro_rules! validated_str {
    ($(#[$meta:meta])* $name:ident, $validate:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<'a>(pub(crate) Cow<'a, str>);

        impl<'a> $name<'a> {
            /// Builds the value after checking it against its grammar.
            pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, crate::error::ValidationError> {
                let value = value.into();
                $validate(value.as_bytes())?;
                Ok(Self(value))
            }

            /// Builds the value without checking it. For input that was validated
            /// already (for example by this crate's parsers); invalid content here can put
            /// invalid bytes on the wire.
            pub fn unvalidated(value: impl Into<Cow<'a, str>>) -> Self {
                let value = value.into();
                debug_assert!($validate(value.as_bytes()).is_ok(), "invalid {}", stringify!($name));
                Self(value)
            }

            /// The text as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Detaches the value from the input it borrows from.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name<'_> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = crate::error::ValidationError;
            fn try_from(value: &'a str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = crate::error::ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        #[cfg(feature = "serde")]
        crate::serde_impls::string_form!($name);
    };
}

pub(crate) fn check_class(
    what: &'static str,
    value: &[u8],
    allowed: impl Fn(u8) -> bool,
) -> VResult<()> {
    match value.iter().position(|&b| !allowed(b)) {
        Some(at) => Err(ValidationError::ForbiddenByte { what, byte: value[at], at }),
        None => Ok(()),
    }
}

pub(crate) fn check_non_empty(what: &'static str, value: &[u8]) -> VResult<()> {
    if value.is_empty() { Err(ValidationError::Empty { what }) } else { Ok(()) }
}

fn validate_text(value: &[u8]) -> VResult<()> {
    check_class("text", value, chars::is_text)
}

fn validate_atom(value: &[u8]) -> VResult<()> {
    check_non_empty("atom", value)?;
    check_class("atom", value, chars::is_atext)
}

fn validate_keyword(value: &[u8]) -> VResult<()> {
    check_non_empty("keyword", value)?;
    check_class("keyword", value, chars::is_ldh)?;
    if value[0] == b'-' {
        return Err(ValidationError::Invalid {
            what: "keyword",
            reason: "must start with a letter or digit",
        });
    }
    Ok(())
}

fn validate_esmtp_value(value: &[u8]) -> VResult<()> {
    check_non_empty("parameter value", value)?;
    // RFC 6531 section 3.3 lets a value carry UTF-8 when SMTPUTF8 is in use; the bytes
    // come from a `str`, so they are well-formed UTF-8 already.
    check_class("parameter value", value, |b| {
        chars::is_esmtp_value(b) || chars::is_utf8_non_ascii(b)
    })
}

validated_str!(
    /// Free text: a reply line, or the argument of VRFY, EXPN, HELP, NOOP or an unknown
    /// command. May be empty; never holds CR, LF or NUL.
    ///
    /// ```
    /// use sealpost_codec::Text;
    /// assert!(Text::new("2.0.0 Ok").is_ok());
    /// assert!(Text::new("smuggled\r\nRSET").is_err());
    /// ```
    Text,
    validate_text
);

validated_str!(
    /// An `Atom` of RFC 5321: one or more `atext` characters. Used for command verbs that
    /// this crate does not know and for SASL mechanism names.
    Atom,
    validate_atom
);

validated_str!(
    /// An `esmtp-keyword` or `ehlo-keyword`: a letter or digit, then letters, digits, "-".
    /// Compared case-insensitively by [`Keyword::eq_ignore_case`].
    Keyword,
    validate_keyword
);

validated_str!(
    /// An `esmtp-value`: printable ASCII except "=" and space (UTF-8 allowed, RFC 6531).
    EsmtpValue,
    validate_esmtp_value
);

impl Keyword<'_> {
    /// Case-insensitive comparison, as keywords are compared on the wire.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl Text<'_> {
    /// The empty text.
    pub const EMPTY: Text<'static> = Text(Cow::Borrowed(""));
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use crate::types::arb::arb_string;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for Text<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(Text(Cow::Owned(arb_string(u, 0, 40, |b| (32..127).contains(&b))?)))
        }
    }
    impl<'u> Arbitrary<'u> for Atom<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(Atom(Cow::Owned(arb_string(u, 1, 12, chars::is_atext)?)))
        }
    }
    impl<'u> Arbitrary<'u> for Keyword<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let first = arb_string(u, 1, 1, chars::is_let_dig)?;
            let rest = arb_string(u, 0, 10, chars::is_ldh)?;
            Ok(Keyword(Cow::Owned(first + &rest)))
        }
    }
    impl<'u> Arbitrary<'u> for EsmtpValue<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(EsmtpValue(Cow::Owned(arb_string(u, 1, 20, chars::is_esmtp_value)?)))
        }
    }
}
