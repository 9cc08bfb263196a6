//! Reply lines (RFC 5321 section 4.2).
//!
//! ```text
//! Reply-line  = *( Reply-code "-" [ textstring ] CRLF )
//!               Reply-code [ SP textstring ] CRLF
//! Reply-code  = %x32-35 %x30-35 %x30-39
//! textstring  = 1*(%d09 / %d32-126)   ; RFC 6531 also allows UTF-8
//! ```

use std::borrow::Cow;

use nom::Parser;
use nom::bytes::streaming::take_while_m_n;

use super::{PErr, PResult};
use crate::error::ReplyError;
use crate::reply::ReplyCode;
use crate::types::text::Text;

/// One reply line: its code, whether it is the last line, and its text.
pub(crate) struct ReplyLine<'a> {
    pub(crate) code: u16,
    pub(crate) last: bool,
    pub(crate) text: Text<'a>,
}

/// Parses one complete line, CRLF included.
pub(crate) fn reply_line(line: &[u8]) -> PResult<'_, ReplyLine<'_>> {
    let (rest, digits) = take_while_m_n(3, 3, |b: u8| b.is_ascii_digit()).parse(line)?;
    let code = digits.iter().fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    if ReplyCode::new(code).is_err() {
        return Err(nom::Err::Failure(PErr::Reply(ReplyError::InvalidCode)));
    }
    let (rest, last) = match rest.first() {
        Some(b'-') => (&rest[1..], false),
        Some(b' ') => (&rest[1..], true),
        Some(b'\r') => (rest, true),
        Some(_) => return Err(nom::Err::Failure(PErr::Reply(ReplyError::BadSeparator))),
        None => return Err(nom::Err::Incomplete(nom::Needed::new(1))),
    };
    let Some(end) = memchr::memchr3(b'\r', b'\n', 0, rest) else {
        return Err(nom::Err::Incomplete(nom::Needed::Unknown));
    };
    let (text, rest) = rest.split_at(end);
    let (rest, _) = super::tag(b"\r\n", rest).map_err(|e| match e {
        nom::Err::Incomplete(n) => nom::Err::Incomplete(n),
        _ => nom::Err::Failure(PErr::Reply(ReplyError::InvalidText)),
    })?;
    let text =
        super::utf8(text).map_err(|_| nom::Err::Failure(PErr::Reply(ReplyError::InvalidText)))?;
    Ok((rest, ReplyLine { code, last, text: Text(Cow::Borrowed(text)) }))
}
