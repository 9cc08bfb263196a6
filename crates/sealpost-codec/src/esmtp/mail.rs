//! Parameters of `MAIL FROM:`.
//!
//! | keyword | RFC | type |
//! | --- | --- | --- |
//! | SIZE | 1870 | [`MailParameter::Size`] |
//! | BODY | 6152, 3030 | [`BodyType`] |
//! | SMTPUTF8 | 6531 | flag |
//! | RET, ENVID | 3461 | [`Ret`], [`XText`] |
//! | AUTH | 4954 | [`XText`] (a mailbox or `<>`) |
//! | REQUIRETLS | 8689 | flag |
//! | MT-PRIORITY | 6710 | -9 ..= 9 |
//! | HOLDFOR, HOLDUNTIL | 4865 | seconds, RFC 3339 date-time |
//! | BY | 2852 | [`DeliverBy`] |

use std::fmt;

use crate::esmtp::UnknownParameter;
use crate::parse::ParamError;
use crate::types::text::{EsmtpValue, Keyword};
use crate::types::xtext::XText;

/// `BODY=` (RFC 6152 8BITMIME, RFC 3030 BINARYMIME).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum BodyType {
    /// `7BIT`
    SevenBit,
    /// `8BITMIME`
    EightBitMime,
    /// `BINARYMIME` (needs BDAT)
    BinaryMime,
}

impl BodyType {
    /// The keyword value as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
            BodyType::BinaryMime => "BINARYMIME",
        }
    }
}

/// `RET=` of DSN (RFC 3461 section 4.3).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Ret {
    /// `FULL`: return the whole message in a failure DSN.
    Full,
    /// `HDRS`: return only the headers.
    Hdrs,
}

/// The mode of the DELIVERBY extension (RFC 2852 section 4).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum DeliverByMode {
    /// `N`: notify the sender when the deadline passes.
    Notify,
    /// `R`: return the message when the deadline passes.
    Return,
}

/// `BY=<by-time>;<by-mode>[T]` (RFC 2852).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    /// Seconds from now (may be negative with mode `N`), at most 9 digits.
    pub time: i32,
    /// What happens at the deadline.
    pub mode: DeliverByMode,
    /// `T`: trace the delivery.
    pub trace: bool,
}

#[cfg(feature = "arbitrary")]
impl<'u> arbitrary::Arbitrary<'u> for DeliverBy {
    fn arbitrary(u: &mut arbitrary::Unstructured<'u>) -> arbitrary::Result<Self> {
        Ok(DeliverBy {
            time: u.int_in_range(-999_999_999..=999_999_999)?,
            mode: DeliverByMode::arbitrary(u)?,
            trace: bool::arbitrary(u)?,
        })
    }
}

/// One parameter of `MAIL FROM:`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailParameter<'a> {
    /// `SIZE=n`, the declared message size in octets (RFC 1870).
    Size(u64),
    /// `BODY=7BIT|8BITMIME|BINARYMIME`
    Body(BodyType),
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `RET=FULL|HDRS` (RFC 3461).
    Ret(Ret),
    /// `ENVID=xtext` (RFC 3461).
    EnvId(XText<'a>),
    /// `AUTH=xtext`: the authenticated submitter, or `<>` (RFC 4954 section 5).
    Auth(XText<'a>),
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// `MT-PRIORITY=n`, -9 ..= 9 (RFC 6710).
    MtPriority(i8),
    /// `HOLDFOR=seconds` (RFC 4865).
    HoldFor(u32),
    /// `HOLDUNTIL=date-time` (RFC 4865), kept as written.
    HoldUntil(EsmtpValue<'a>),
    /// `BY=...` (RFC 2852).
    By(DeliverBy),
    /// Any other parameter, kept verbatim.
    Unknown(UnknownParameter<'a>),
}

impl<'a> MailParameter<'a> {
    /// The keyword, upper case for the typed parameters.
    pub fn keyword(&self) -> &str {
        match self {
            MailParameter::Size(_) => "SIZE",
            MailParameter::Body(_) => "BODY",
            MailParameter::SmtpUtf8 => "SMTPUTF8",
            MailParameter::Ret(_) => "RET",
            MailParameter::EnvId(_) => "ENVID",
            MailParameter::Auth(_) => "AUTH",
            MailParameter::RequireTls => "REQUIRETLS",
            MailParameter::MtPriority(_) => "MT-PRIORITY",
            MailParameter::HoldFor(_) => "HOLDFOR",
            MailParameter::HoldUntil(_) => "HOLDUNTIL",
            MailParameter::By(_) => "BY",
            MailParameter::Unknown(p) => p.keyword.as_str(),
        }
    }

    /// Types a `keyword[=value]` pair. Unknown keywords become [`MailParameter::Unknown`].
    pub(crate) fn from_pair(keyword: &'a str, value: Option<&'a str>) -> Result<Self, ParamError> {
        use crate::parse::params::{flag, number, required};
        let upper = |k: &str| keyword.eq_ignore_ascii_case(k);
        Ok(if upper("SIZE") {
            MailParameter::Size(number(keyword, required(keyword, value)?, 20)?)
        } else if upper("BODY") {
            let v = required(keyword, value)?;
            MailParameter::Body(if v.eq_ignore_ascii_case("7BIT") {
                BodyType::SevenBit
            } else if v.eq_ignore_ascii_case("8BITMIME") {
                BodyType::EightBitMime
            } else if v.eq_ignore_ascii_case("BINARYMIME") {
                BodyType::BinaryMime
            } else {
                return Err(ParamError::invalid(keyword, "expected 7BIT, 8BITMIME or BINARYMIME"));
            })
        } else if upper("SMTPUTF8") {
            flag(keyword, value)?;
            MailParameter::SmtpUtf8
        } else if upper("RET") {
            let v = required(keyword, value)?;
            MailParameter::Ret(if v.eq_ignore_ascii_case("FULL") {
                Ret::Full
            } else if v.eq_ignore_ascii_case("HDRS") {
                Ret::Hdrs
            } else {
                return Err(ParamError::invalid(keyword, "expected FULL or HDRS"));
            })
        } else if upper("ENVID") {
            // RFC 3461 section 4.4: at most 100 characters.
            let v = required(keyword, value)?;
            if v.len() > 100 {
                return Err(ParamError::invalid(keyword, "longer than 100 characters"));
            }
            MailParameter::EnvId(xtext(keyword, v)?)
        } else if upper("AUTH") {
            MailParameter::Auth(xtext(keyword, required(keyword, value)?)?)
        } else if upper("REQUIRETLS") {
            flag(keyword, value)?;
            MailParameter::RequireTls
        } else if upper("MT-PRIORITY") {
            MailParameter::MtPriority(priority(keyword, required(keyword, value)?)?)
        } else if upper("HOLDFOR") {
            MailParameter::HoldFor(number(keyword, required(keyword, value)?, 9)?)
        } else if upper("HOLDUNTIL") {
            let v = required(keyword, value)?;
            let ok = v.bytes().all(|b| b.is_ascii_digit() || b"-:.+TtZz".contains(&b))
                && v.bytes().next().is_some_and(|b| b.is_ascii_digit());
            if !ok {
                return Err(ParamError::invalid(keyword, "expected an RFC 3339 date-time"));
            }
            MailParameter::HoldUntil(EsmtpValue::unvalidated(v))
        } else if upper("BY") {
            MailParameter::By(deliver_by(keyword, required(keyword, value)?)?)
        } else {
            MailParameter::Unknown(UnknownParameter {
                keyword: Keyword::unvalidated(keyword),
                value: value.map(EsmtpValue::unvalidated),
            })
        })
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> MailParameter<'static> {
        match self {
            MailParameter::Size(n) => MailParameter::Size(n),
            MailParameter::Body(b) => MailParameter::Body(b),
            MailParameter::SmtpUtf8 => MailParameter::SmtpUtf8,
            MailParameter::Ret(r) => MailParameter::Ret(r),
            MailParameter::EnvId(x) => MailParameter::EnvId(x.into_owned()),
            MailParameter::Auth(x) => MailParameter::Auth(x.into_owned()),
            MailParameter::RequireTls => MailParameter::RequireTls,
            MailParameter::MtPriority(p) => MailParameter::MtPriority(p),
            MailParameter::HoldFor(s) => MailParameter::HoldFor(s),
            MailParameter::HoldUntil(v) => MailParameter::HoldUntil(v.into_owned()),
            MailParameter::By(b) => MailParameter::By(b),
            MailParameter::Unknown(p) => MailParameter::Unknown(p.into_owned()),
        }
    }
}

fn xtext<'a>(keyword: &str, value: &'a str) -> Result<XText<'a>, ParamError> {
    XText::new(value).map_err(|_| ParamError::invalid(keyword, "not valid xtext"))
}

/// `priority-value`: an optional sign and one digit, -9 ..= 9 (RFC 6710 section 3).
fn priority(keyword: &str, value: &str) -> Result<i8, ParamError> {
    let err = || ParamError::invalid(keyword, "expected a priority from -9 to 9");
    let (negative, digits) = match value.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    match digits {
        [d @ b'0'..=b'9'] => {
            let v = i8::try_from(d - b'0').map_err(|_| err())?;
            Ok(if negative { -v } else { v })
        }
        _ => Err(err()),
    }
}

/// `by-time ";" by-mode [by-trace]`, by-time = ["-" / "+"] 1*9digit.
fn deliver_by(keyword: &str, value: &str) -> Result<DeliverBy, ParamError> {
    let err = || ParamError::invalid(keyword, "expected <seconds>;N|R[T]");
    let (time, mode) = value.split_once(';').ok_or_else(err)?;
    let (negative, digits) = match time.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    let magnitude = digits.iter().fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    let time = if negative { -magnitude } else { magnitude };
    let (mode, trace) = match mode.as_bytes() {
        [m] => (*m, false),
        [m, b'T' | b't'] => (*m, true),
        _ => return Err(err()),
    };
    let mode = match mode {
        b'N' | b'n' => DeliverByMode::Notify,
        b'R' | b'r' => DeliverByMode::Return,
        _ => return Err(err()),
    };
    // RFC 2852 section 4: a zero or negative time only makes sense with mode N.
    if time <= 0 && mode == DeliverByMode::Return {
        return Err(ParamError::invalid(keyword, "by-time must be positive with mode R"));
    }
    Ok(DeliverBy { time, mode, trace })
}

impl fmt::Display for MailParameter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailParameter::Size(n) => write!(f, "SIZE={n}"),
            MailParameter::Body(b) => write!(f, "BODY={}", b.as_str()),
            MailParameter::SmtpUtf8 => f.write_str("SMTPUTF8"),
            MailParameter::Ret(Ret::Full) => f.write_str("RET=FULL"),
            MailParameter::Ret(Ret::Hdrs) => f.write_str("RET=HDRS"),
            MailParameter::EnvId(x) => write!(f, "ENVID={x}"),
            MailParameter::Auth(x) => write!(f, "AUTH={x}"),
            MailParameter::RequireTls => f.write_str("REQUIRETLS"),
            MailParameter::MtPriority(p) => write!(f, "MT-PRIORITY={p}"),
            MailParameter::HoldFor(s) => write!(f, "HOLDFOR={s}"),
            MailParameter::HoldUntil(v) => write!(f, "HOLDUNTIL={v}"),
            MailParameter::By(by) => {
                let mode = match by.mode {
                    DeliverByMode::Notify => 'N',
                    DeliverByMode::Return => 'R',
                };
                write!(f, "BY={};{}{}", by.time, mode, if by.trace { "T" } else { "" })
            }
            MailParameter::Unknown(p) => p.fmt(f),
        }
    }
}

/// The parameters of one `MAIL FROM:`, in the order received. A keyword appears once, or
/// repeated with the very same value (RFC 1869 section 6; see [`MailParameters::from_vec`]).
///
/// ```
/// use sealpost_codec::{BodyType, MailParameter, MailParameters};
///
/// let params = MailParameters::from_vec(vec![
///     MailParameter::Size(1024),
///     MailParameter::Body(BodyType::EightBitMime),
/// ])
/// .unwrap();
/// assert_eq!(params.size(), Some(1024));
/// assert_eq!(params.body(), Some(BodyType::EightBitMime));
/// assert!(!params.smtputf8());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MailParameters<'a>(pub(crate) Vec<MailParameter<'a>>);

impl<'a> MailParameters<'a> {
    /// No parameters.
    pub const fn new() -> Self {
        MailParameters(Vec::new())
    }

    /// Builds the list, refusing a keyword given twice with different values.
    pub fn from_vec(params: Vec<MailParameter<'a>>) -> Result<Self, ParamError> {
        crate::parse::params::check_unique(params.iter(), MailParameter::keyword)?;
        Ok(MailParameters(params))
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, MailParameter<'a>> {
        self.0.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `SIZE=`
    pub fn size(&self) -> Option<u64> {
        self.0.iter().find_map(|p| match p {
            MailParameter::Size(n) => Some(*n),
            _ => None,
        })
    }

    /// `BODY=`
    pub fn body(&self) -> Option<BodyType> {
        self.0.iter().find_map(|p| match p {
            MailParameter::Body(b) => Some(*b),
            _ => None,
        })
    }

    /// `SMTPUTF8` present.
    pub fn smtputf8(&self) -> bool {
        self.0.iter().any(|p| matches!(p, MailParameter::SmtpUtf8))
    }

    /// `REQUIRETLS` present.
    pub fn requiretls(&self) -> bool {
        self.0.iter().any(|p| matches!(p, MailParameter::RequireTls))
    }

    /// `RET=`
    pub fn ret(&self) -> Option<Ret> {
        self.0.iter().find_map(|p| match p {
            MailParameter::Ret(r) => Some(*r),
            _ => None,
        })
    }

    /// `ENVID=`
    pub fn envid(&self) -> Option<&XText<'a>> {
        self.0.iter().find_map(|p| match p {
            MailParameter::EnvId(x) => Some(x),
            _ => None,
        })
    }

    /// `AUTH=`
    pub fn auth(&self) -> Option<&XText<'a>> {
        self.0.iter().find_map(|p| match p {
            MailParameter::Auth(x) => Some(x),
            _ => None,
        })
    }

    /// `MT-PRIORITY=`
    pub fn mt_priority(&self) -> Option<i8> {
        self.0.iter().find_map(|p| match p {
            MailParameter::MtPriority(v) => Some(*v),
            _ => None,
        })
    }

    /// `BY=`
    pub fn deliver_by(&self) -> Option<DeliverBy> {
        self.0.iter().find_map(|p| match p {
            MailParameter::By(b) => Some(*b),
            _ => None,
        })
    }

    /// Parameters without a type in this crate.
    pub fn unknown(&self) -> impl Iterator<Item = &UnknownParameter<'a>> {
        self.0.iter().filter_map(|p| match p {
            MailParameter::Unknown(u) => Some(u),
            _ => None,
        })
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> MailParameters<'static> {
        MailParameters(self.0.into_iter().map(MailParameter::into_owned).collect())
    }
}

impl<'s, 'a> IntoIterator for &'s MailParameters<'a> {
    type Item = &'s MailParameter<'a>;
    type IntoIter = std::slice::Iter<'s, MailParameter<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for MailParameter<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(match u.int_in_range(0..=11)? {
                0 => MailParameter::Size(u64::arbitrary(u)?),
                1 => MailParameter::Body(BodyType::arbitrary(u)?),
                2 => MailParameter::SmtpUtf8,
                3 => MailParameter::Ret(Ret::arbitrary(u)?),
                4 => MailParameter::EnvId(XText::arbitrary(u)?),
                5 => MailParameter::Auth(XText::arbitrary(u)?),
                6 => MailParameter::RequireTls,
                7 => MailParameter::MtPriority(u.int_in_range(-9..=9)?),
                8 => MailParameter::HoldFor(u.int_in_range(0..=999_999_999)?),
                9 => MailParameter::HoldUntil(EsmtpValue::unvalidated("2026-11-29T10:00:00Z")),
                10 => {
                    let mut by = DeliverBy::arbitrary(u)?;
                    if by.mode == DeliverByMode::Return && by.time <= 0 {
                        by.time = 1;
                    }
                    MailParameter::By(by)
                }
                _ => MailParameter::Unknown(UnknownParameter::arbitrary(u)?),
            })
        }
    }

    impl<'u> Arbitrary<'u> for MailParameters<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let mut out: Vec<MailParameter<'static>> = Vec::new();
            for _ in 0..u.int_in_range(0..=5)? {
                let p = MailParameter::arbitrary(u)?;
                if !out.iter().any(|q| q.keyword().eq_ignore_ascii_case(p.keyword())) {
                    out.push(p);
                }
            }
            Ok(MailParameters(out))
        }
    }
}
