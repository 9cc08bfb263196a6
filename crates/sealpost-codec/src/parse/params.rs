//! `esmtp-param *(SP esmtp-param)` (RFC 5321 section 4.1.2) and value helpers.
//!
//! ```text
//! Mail-parameters = esmtp-param *(SP esmtp-param)
//! esmtp-param     = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! esmtp-value     = 1*(%d33-60 / %d62-126)   ; RFC 6531 adds UTF8-non-ascii
//! ```

use nom::bytes::streaming::{tag, take_while, take_while1};
use nom::combinator::opt;
use nom::sequence::preceded;

use super::chars;
use nom::Parser;

use super::{PErr, PResult, ParamError, fail, utf8_in};

/// Splits the parameter list into `(keyword, value)` pairs and types each with `make`.
/// Starts after the first SP and stops before the CRLF. Runs of spaces between
/// parameters, and trailing spaces, are accepted (seen from real clients); the canonical
/// encoding uses one space.
///
/// `text` is the checked text of the line, if known (see [`super::utf8_in`]).
pub(crate) fn param_list<'a, P: std::fmt::Display>(
    mut input: &'a [u8],
    text: Option<&'a str>,
    keyword_of: impl Fn(&P) -> &str,
    make: impl Fn(&'a str, Option<&'a str>) -> Result<P, ParamError>,
) -> PResult<'a, Vec<P>> {
    let mut out: Vec<P> = Vec::new();
    loop {
        let (rest, keyword) = take_while1(chars::is_ldh)(input)?;
        if !chars::is_let_dig(keyword[0]) {
            return fail("a parameter keyword starts with a letter or digit");
        }
        let (rest, value) =
            opt(preceded(tag(&b"="[..]), take_while1(|b| chars::is_esmtp_value(b) || b >= 0x80)))
                .parse(rest)?;
        let keyword = utf8_in(text, keyword)?;
        let value = value.map(|v| utf8_in(text, v)).transpose()?;
        let param = make(keyword, value).map_err(|e| nom::Err::Failure(PErr::Param(e)))?;
        if let Some(first) =
            out.iter().find(|p| keyword_of(p).eq_ignore_ascii_case(keyword_of(&param)))
            && !same_parameter(first, &param)
        {
            let keyword = keyword.to_ascii_uppercase();
            return Err(nom::Err::Failure(PErr::Param(ParamError::Duplicate { keyword })));
        }
        out.push(param);
        let (rest, spaces) = take_while(|b| b == b' ')(rest)?;
        input = rest;
        if input.first() == Some(&b'\r') {
            return Ok((input, out));
        }
        if spaces.is_empty() {
            return fail("expected SP between parameters");
        }
    }
}

pub(crate) fn required<'a>(keyword: &str, value: Option<&'a str>) -> Result<&'a str, ParamError> {
    value.ok_or_else(|| ParamError::invalid(keyword, "needs a value"))
}

pub(crate) fn flag(keyword: &str, value: Option<&str>) -> Result<(), ParamError> {
    match value {
        None => Ok(()),
        Some(_) => Err(ParamError::invalid(keyword, "takes no value")),
    }
}

/// `1*max_digits DIGIT` into an unsigned integer.
pub(crate) fn number<T: TryFrom<u64>>(
    keyword: &str,
    value: &str,
    max_digits: usize,
) -> Result<T, ParamError> {
    let err = || ParamError::invalid(keyword, "expected a decimal number");
    if value.is_empty() || value.len() > max_digits || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n = value.parse::<u64>().map_err(|_| err())?;
    T::try_from(n).map_err(|_| err())
}

/// A keyword may appear once (RFC 1869 section 6). An exact repeat, such as Python's
/// smtplib sending `SMTPUTF8 SMTPUTF8`, is harmless and kept (so the command still
/// round-trips); a repeat with another value is ambiguous and refused.
pub(crate) fn check_unique<'p, P: std::fmt::Display + 'p>(
    params: impl Iterator<Item = &'p P>,
    keyword_of: impl Fn(&P) -> &str,
) -> Result<(), ParamError> {
    let params: Vec<&P> = params.collect();
    for (i, p) in params.iter().enumerate() {
        let clash = params[..i]
            .iter()
            .any(|q| keyword_of(q).eq_ignore_ascii_case(keyword_of(p)) && !same_parameter(*q, *p));
        if clash {
            return Err(ParamError::Duplicate { keyword: keyword_of(p).to_ascii_uppercase() });
        }
    }
    Ok(())
}

/// Two parameters with the same keyword that say the same thing (compared in canonical
/// form, keywords case-insensitively).
fn same_parameter<P: std::fmt::Display>(a: &P, b: &P) -> bool {
    a.to_string().eq_ignore_ascii_case(&b.to_string())
}
