//! nom parsers. Everything here is crate-private: nom types never reach the public API.
//!
//! The parsers are streaming: on input that ends early they answer `Incomplete`, never a
//! wrong parse. The public decoders first cut a complete line (see `framing`), so
//! `Incomplete` from a parser on a complete line means the line is malformed.

pub(crate) mod chars;
pub(crate) mod command;
pub(crate) mod params;
pub(crate) mod path;
pub(crate) mod reply;

use nom::error::{ErrorKind, ParseError};

pub(crate) use crate::error::ParamError;
use crate::error::{CommandError, ValidationError};

/// The error our parsers carry: what failed, in words a reply can use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PErr {
    /// A grammar rule did not match.
    Syntax(&'static str),
    /// A token matched its character class but failed validation.
    Invalid(ValidationError),
    /// Bytes that are not UTF-8.
    Utf8,
    /// An ESMTP parameter broke its extension's grammar.
    Param(ParamError),
    /// A reply line broke the reply grammar.
    Reply(crate::error::ReplyError),
}

impl<I> ParseError<I> for PErr {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        PErr::Syntax("syntax error")
    }
    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, O> = nom::IResult<&'a [u8], O, PErr>;

/// A hard failure (no backtracking) with a reason.
pub(crate) fn fail<T>(reason: &'static str) -> Result<T, nom::Err<PErr>> {
    Err(nom::Err::Failure(PErr::Syntax(reason)))
}

/// Converts a slice matched by a byte class to `&str`.
///
/// Through `utf8_chunks`, whose plain loop over ASCII octets costs fewer mispredicted
/// branches than `str::from_utf8` on the short tokens of a command line.
#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, nom::Err<PErr>> {
    match bytes.utf8_chunks().next() {
        None => Ok(""),
        Some(chunk) if chunk.invalid().is_empty() => Ok(chunk.valid()),
        Some(_) => Err(nom::Err::Failure(PErr::Utf8)),
    }
}

/// `token` as `&str`: sliced out of `text`, the already checked text of the line the
/// token lies in, when there is one (one UTF-8 check per line instead of one per token);
/// otherwise checked on its own.
#[inline]
pub(crate) fn utf8_in<'a>(
    text: Option<&'a str>,
    token: &'a [u8],
) -> Result<&'a str, nom::Err<PErr>> {
    let sliced = text.and_then(|text| {
        // Where the token starts in the line; anything else fails `get` below.
        let offset = (token.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        text.get(offset..offset.checked_add(token.len())?)
    });
    match sliced {
        Some(s) => {
            debug_assert_eq!(s.as_bytes(), token);
            Ok(s)
        }
        None => utf8(token),
    }
}

/// Lifts a validation error into a parser failure.
pub(crate) fn invalid<T>(e: ValidationError) -> Result<T, nom::Err<PErr>> {
    Err(nom::Err::Failure(PErr::Invalid(e)))
}

/// nom's streaming `tag` (see [`tag_no_case`]), written out for the hot paths.
#[inline]
pub(crate) fn tag<'a>(tag: &'static [u8], input: &'a [u8]) -> PResult<'a, &'a [u8]> {
    let n = tag.len().min(input.len());
    // Folded by hand: a slice comparison calls `memcmp`, costly for tags this short.
    if input[..n].iter().zip(&tag[..n]).fold(0, |acc, (&a, &t)| acc | (a ^ t)) != 0 {
        return Err(nom::Err::Error(PErr::Syntax("syntax error")));
    }
    if input.len() < tag.len() {
        return Err(nom::Err::Incomplete(nom::Needed::new(tag.len() - input.len())));
    }
    Ok((&input[tag.len()..], &input[..tag.len()]))
}

/// `tag_no_case` with nom's streaming semantics (a mismatch is an error, a matching
/// prefix that ends early is `Incomplete`), written out: nom's generic version compares
/// through iterator adapters, which costs more than the plain slice comparison on the
/// hot command path.
#[inline]
pub(crate) fn tag_no_case<'a>(tag: &'static [u8], input: &'a [u8]) -> PResult<'a, &'a [u8]> {
    let n = tag.len().min(input.len());
    // Branch-free: at a letter of the tag, setting bit 5 of both octets compares them
    // case-insensitively (exactly: only the two cases of that letter match); any other
    // octet must be equal.
    let differs = input[..n].iter().zip(&tag[..n]).fold(0u8, |acc, (&a, &t)| {
        let fold = if t.is_ascii_alphabetic() { 0x20 } else { 0 };
        acc | ((a | fold) ^ (t | fold))
    });
    if differs != 0 {
        return Err(nom::Err::Error(PErr::Syntax("syntax error")));
    }
    if input.len() < tag.len() {
        return Err(nom::Err::Incomplete(nom::Needed::new(tag.len() - input.len())));
    }
    Ok((&input[tag.len()..], &input[..tag.len()]))
}

/// Replaces a soft error with a hard one carrying `reason`; keeps Incomplete.
pub(crate) fn harden<'a, O>(result: PResult<'a, O>, reason: &'static str) -> PResult<'a, O> {
    result.map_err(|e| match e {
        nom::Err::Error(PErr::Syntax(_)) => nom::Err::Failure(PErr::Syntax(reason)),
        other => other,
    })
}

/// Scans a complete line (CRLF included) for bytes no command may hold.
pub(crate) fn check_line_bytes(line: &[u8]) -> Result<(), CommandError> {
    let body = &line[..line.len().saturating_sub(2)];
    if let Some(at) = memchr::memchr3(b'\r', b'\n', 0, body) {
        return Err(if body[at] == 0 { CommandError::Nul } else { CommandError::BareLineEnding });
    }
    Ok(())
}
