//! ESMTP parameters of MAIL and RCPT (RFC 5321 section 4.1.2 `esmtp-param`) and the
//! extensions that define them.

pub(crate) mod mail;
pub(crate) mod rcpt;

use std::fmt;

use crate::types::text::{EsmtpValue, Keyword};

/// A parameter this crate has no type for, kept verbatim so that it round-trips and the
/// application can decide (RFC 5321 section 4.1.1.11: 555 when it is not supported).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownParameter<'a> {
    /// The keyword.
    pub keyword: Keyword<'a>,
    /// The value after "=", if any.
    pub value: Option<EsmtpValue<'a>>,
}

impl UnknownParameter<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> UnknownParameter<'static> {
        UnknownParameter {
            keyword: self.keyword.into_owned(),
            value: self.value.map(EsmtpValue::into_owned),
        }
    }
}

impl fmt::Display for UnknownParameter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.keyword, v),
            None => write!(f, "{}", self.keyword),
        }
    }
}

#[cfg(feature = "arbitrary")]
impl<'u> arbitrary::Arbitrary<'u> for UnknownParameter<'_> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'u>) -> arbitrary::Result<Self> {
        // Prefix "X-" so the keyword is never one of the typed parameters.
        let keyword = Keyword::arbitrary(u)?;
        let keyword = Keyword(std::borrow::Cow::Owned(format!("X-{keyword}")));
        Ok(UnknownParameter { keyword, value: arbitrary::Arbitrary::arbitrary(u)? })
    }
}

pub use mail::{BodyType, DeliverBy, DeliverByMode, MailParameter, MailParameters, Ret};
pub use rcpt::{Notify, Orcpt, RcptParameter, RcptParameters, Rrvs, RrvsAction};
