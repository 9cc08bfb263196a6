//! Parameters of `RCPT TO:`: NOTIFY and ORCPT (RFC 3461), RRVS (RFC 7293).

use std::fmt;

use crate::esmtp::UnknownParameter;
use crate::parse::ParamError;
use crate::types::text::{Atom, EsmtpValue, Keyword};
use crate::types::xtext::XText;

/// `NOTIFY=` (RFC 3461 section 4.1): `NEVER`, or a non-empty list of conditions.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notify {
    /// `NEVER`: no DSN at all. Exclusive: it cannot be combined with the others.
    Never,
    /// `SUCCESS`, `FAILURE` and/or `DELAY`; at least one is set.
    On {
        /// `SUCCESS`
        success: bool,
        /// `FAILURE`
        failure: bool,
        /// `DELAY`
        delay: bool,
    },
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Notify::Never => f.write_str("NEVER"),
            Notify::On { success, failure, delay } => {
                let names = [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")];
                let mut first = true;
                for (_, name) in names.iter().filter(|(on, _)| *on) {
                    if !first {
                        f.write_str(",")?;
                    }
                    f.write_str(name)?;
                    first = false;
                }
                Ok(())
            }
        }
    }
}

#[cfg(feature = "arbitrary")]
impl<'u> arbitrary::Arbitrary<'u> for Notify {
    fn arbitrary(u: &mut arbitrary::Unstructured<'u>) -> arbitrary::Result<Self> {
        let bits = u.int_in_range(0u8..=7)?;
        Ok(if bits == 0 {
            Notify::Never
        } else {
            Notify::On { success: bits & 1 != 0, failure: bits & 2 != 0, delay: bits & 4 != 0 }
        })
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 section 4.2), the original recipient.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    /// The address type, usually `rfc822`.
    pub addr_type: Atom<'a>,
    /// The address, xtext-encoded.
    pub address: XText<'a>,
}

/// The action of RRVS when the mailbox changed owner (RFC 7293 section 3.1).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum RrvsAction {
    /// `R`: reject.
    Reject,
    /// `C`: continue.
    Continue,
}

/// `RRVS=date-time[;action]` (RFC 7293 section 3.1).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rrvs<'a> {
    /// The RFC 3339 date-time, as written.
    pub time: EsmtpValue<'a>,
    /// The action, if given.
    pub action: Option<RrvsAction>,
}

/// One parameter of `RCPT TO:`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RcptParameter<'a> {
    /// `NOTIFY=`
    Notify(Notify),
    /// `ORCPT=`
    Orcpt(Orcpt<'a>),
    /// `RRVS=`
    Rrvs(Rrvs<'a>),
    /// Any other parameter, kept verbatim.
    Unknown(UnknownParameter<'a>),
}

impl<'a> RcptParameter<'a> {
    /// The keyword.
    pub fn keyword(&self) -> &str {
        match self {
            RcptParameter::Notify(_) => "NOTIFY",
            RcptParameter::Orcpt(_) => "ORCPT",
            RcptParameter::Rrvs(_) => "RRVS",
            RcptParameter::Unknown(p) => p.keyword.as_str(),
        }
    }

    pub(crate) fn from_pair(keyword: &'a str, value: Option<&'a str>) -> Result<Self, ParamError> {
        use crate::parse::params::required;
        Ok(if keyword.eq_ignore_ascii_case("NOTIFY") {
            RcptParameter::Notify(notify(keyword, required(keyword, value)?)?)
        } else if keyword.eq_ignore_ascii_case("ORCPT") {
            let v = required(keyword, value)?;
            let (addr_type, address) = v
                .split_once(';')
                .ok_or_else(|| ParamError::invalid(keyword, "expected addr-type;xtext"))?;
            let addr_type = Atom::new(addr_type)
                .map_err(|_| ParamError::invalid(keyword, "invalid addr-type"))?;
            let address = XText::new(address)
                .map_err(|_| ParamError::invalid(keyword, "address is not xtext"))?;
            RcptParameter::Orcpt(Orcpt { addr_type, address })
        } else if keyword.eq_ignore_ascii_case("RRVS") {
            let v = required(keyword, value)?;
            let (time, action) = match v.split_once(';') {
                Some((t, "R" | "r")) => (t, Some(RrvsAction::Reject)),
                Some((t, "C" | "c")) => (t, Some(RrvsAction::Continue)),
                Some(_) => return Err(ParamError::invalid(keyword, "action must be R or C")),
                None => (v, None),
            };
            let ok = time.bytes().next().is_some_and(|b| b.is_ascii_digit())
                && time.bytes().all(|b| b.is_ascii_digit() || b"-:.+TtZz".contains(&b));
            if !ok {
                return Err(ParamError::invalid(keyword, "expected an RFC 3339 date-time"));
            }
            RcptParameter::Rrvs(Rrvs { time: EsmtpValue::unvalidated(time), action })
        } else {
            RcptParameter::Unknown(UnknownParameter {
                keyword: Keyword::unvalidated(keyword),
                value: value.map(EsmtpValue::unvalidated),
            })
        })
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> RcptParameter<'static> {
        match self {
            RcptParameter::Notify(n) => RcptParameter::Notify(n),
            RcptParameter::Orcpt(o) => RcptParameter::Orcpt(Orcpt {
                addr_type: o.addr_type.into_owned(),
                address: o.address.into_owned(),
            }),
            RcptParameter::Rrvs(r) => {
                RcptParameter::Rrvs(Rrvs { time: r.time.into_owned(), action: r.action })
            }
            RcptParameter::Unknown(p) => RcptParameter::Unknown(p.into_owned()),
        }
    }
}

/// `"NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )`
fn notify(keyword: &str, value: &str) -> Result<Notify, ParamError> {
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for item in value.as_bytes().split(|&b| b == b',') {
        let slot = if item.eq_ignore_ascii_case(b"SUCCESS") {
            &mut success
        } else if item.eq_ignore_ascii_case(b"FAILURE") {
            &mut failure
        } else if item.eq_ignore_ascii_case(b"DELAY") {
            &mut delay
        } else if item.eq_ignore_ascii_case(b"NEVER") {
            return Err(ParamError::invalid(keyword, "NEVER cannot be combined with other values"));
        } else {
            return Err(ParamError::invalid(keyword, "expected NEVER or SUCCESS, FAILURE, DELAY"));
        };
        if *slot {
            return Err(ParamError::invalid(keyword, "a condition is listed twice"));
        }
        *slot = true;
    }
    Ok(Notify::On { success, failure, delay })
}

impl fmt::Display for RcptParameter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RcptParameter::Notify(n) => write!(f, "NOTIFY={n}"),
            RcptParameter::Orcpt(o) => write!(f, "ORCPT={};{}", o.addr_type, o.address),
            RcptParameter::Rrvs(r) => {
                write!(f, "RRVS={}", r.time)?;
                match r.action {
                    Some(RrvsAction::Reject) => f.write_str(";R"),
                    Some(RrvsAction::Continue) => f.write_str(";C"),
                    None => Ok(()),
                }
            }
            RcptParameter::Unknown(p) => p.fmt(f),
        }
    }
}

/// The parameters of one `RCPT TO:`, in the order received; a keyword appears once, or
/// repeated with the very same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RcptParameters<'a>(pub(crate) Vec<RcptParameter<'a>>);

impl<'a> RcptParameters<'a> {
    /// No parameters.
    pub const fn new() -> Self {
        RcptParameters(Vec::new())
    }

    /// Builds the list, refusing a keyword given twice with different values.
    pub fn from_vec(params: Vec<RcptParameter<'a>>) -> Result<Self, ParamError> {
        crate::parse::params::check_unique(params.iter(), RcptParameter::keyword)?;
        Ok(RcptParameters(params))
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, RcptParameter<'a>> {
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

    /// `NOTIFY=`
    pub fn notify(&self) -> Option<Notify> {
        self.0.iter().find_map(|p| match p {
            RcptParameter::Notify(n) => Some(*n),
            _ => None,
        })
    }

    /// `ORCPT=`
    pub fn orcpt(&self) -> Option<&Orcpt<'a>> {
        self.0.iter().find_map(|p| match p {
            RcptParameter::Orcpt(o) => Some(o),
            _ => None,
        })
    }

    /// `RRVS=`
    pub fn rrvs(&self) -> Option<&Rrvs<'a>> {
        self.0.iter().find_map(|p| match p {
            RcptParameter::Rrvs(r) => Some(r),
            _ => None,
        })
    }

    /// Parameters without a type in this crate.
    pub fn unknown(&self) -> impl Iterator<Item = &UnknownParameter<'a>> {
        self.0.iter().filter_map(|p| match p {
            RcptParameter::Unknown(u) => Some(u),
            _ => None,
        })
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> RcptParameters<'static> {
        RcptParameters(self.0.into_iter().map(RcptParameter::into_owned).collect())
    }
}

impl<'s, 'a> IntoIterator for &'s RcptParameters<'a> {
    type Item = &'s RcptParameter<'a>;
    type IntoIter = std::slice::Iter<'s, RcptParameter<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for RcptParameter<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(match u.int_in_range(0..=3)? {
                0 => RcptParameter::Notify(Notify::arbitrary(u)?),
                1 => RcptParameter::Orcpt(Orcpt {
                    addr_type: Atom::unvalidated("rfc822"),
                    address: XText::arbitrary(u)?,
                }),
                2 => RcptParameter::Rrvs(Rrvs {
                    time: EsmtpValue::unvalidated("2014-04-03T23:01:00Z"),
                    action: Option::arbitrary(u)?,
                }),
                _ => RcptParameter::Unknown(UnknownParameter::arbitrary(u)?),
            })
        }
    }

    impl<'u> Arbitrary<'u> for RcptParameters<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            let mut out: Vec<RcptParameter<'static>> = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                let p = RcptParameter::arbitrary(u)?;
                if !out.iter().any(|q| q.keyword().eq_ignore_ascii_case(p.keyword())) {
                    out.push(p);
                }
            }
            Ok(RcptParameters(out))
        }
    }
}
