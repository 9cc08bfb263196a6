//! Paths and mailboxes (RFC 5321 section 4.1.2, RFC 6531 section 3.3).
//!
//! ```text
//! Reverse-path   = Path / "<>"
//! Forward-path   = Path                 ; RCPT also takes "<Postmaster>"
//! Path           = "<" [ A-d-l ":" ] Mailbox ">"
//! A-d-l          = At-domain *( "," At-domain )   ; source route, ignored
//! At-domain      = "@" Domain
//! Mailbox        = Local-part "@" ( Domain / address-literal )
//! Local-part     = Dot-string / Quoted-string
//! ```
//!
//! Tokens are read as maximal runs of their character class and then validated. A run
//! that reaches the end of the input is never final on its own: every caller requires a
//! delimiter after it (">", SP, CRLF) through a streaming parser, which answers
//! `Incomplete` when the input stops early.

use std::borrow::Cow;

use super::chars;
use super::{PResult, fail, invalid, tag, tag_no_case, utf8, utf8_in};
use crate::error::ValidationError;
use crate::types::domain::{
    AddressLiteral, Domain, DomainPart, MAX_LABEL_LEN, parse_literal, validate_domain,
};
use crate::types::mailbox::{
    LocalPart, MAX_LOCAL_PART_LEN, Mailbox, validate_dot_string, validate_quoted_content,
};
use crate::types::path::{ForwardPath, MAX_PATH_LEN, ReversePath};

/// The longest prefix whose bytes all satisfy `pred`.
#[inline]
fn run(input: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = input.iter().position(|&b| !pred(b)).unwrap_or(input.len());
    (&input[n..], &input[..n])
}

/// The length of the dot-string token at the start of `input`, and whether it is
/// certainly valid (what [`validate_dot_string`] checks, found in the same pass; when
/// false, that function names the error).
#[inline]
fn scan_dot_string(input: &[u8]) -> (usize, bool) {
    use chars::{DOT, DOT_STRING, class};
    // `prev` starts as if after a dot, so that a leading dot counts as a doubled one;
    // `doubled` collects each class with the one before it (DOT in it means "..").
    let (mut len, mut doubled, mut prev) = (0, 0, DOT);
    while let Some(&b) = input.get(len) {
        let c = class(b);
        if c & DOT_STRING == 0 {
            break;
        }
        (doubled, prev) = (doubled | (c & prev), c);
        len += 1;
    }
    (len, (doubled | prev) & DOT == 0 && len <= MAX_LOCAL_PART_LEN)
}

/// The length of the domain token at the start of `input`, and whether it is valid (what
/// [`validate_domain`] checks).
///
/// The common case, ASCII letters, digits and single inner dots in at most 63 octets
/// (so no label can be too long), is decided in the scanning pass; hyphens, U-labels
/// and longer domains are left to `validate_domain`.
#[inline]
fn scan_domain(input: &[u8]) -> (usize, bool) {
    use chars::{DOMAIN, DOT, HYPHEN, NON_ASCII, class};
    let (mut len, mut seen, mut doubled, mut prev) = (0, 0, 0, DOT);
    while let Some(&b) = input.get(len) {
        let c = class(b);
        if c & DOMAIN == 0 {
            break;
        }
        (seen, doubled, prev) = (seen | c, doubled | (c & prev), c);
        len += 1;
    }
    let plain =
        seen & (HYPHEN | NON_ASCII) == 0 && (doubled | prev) & DOT == 0 && len <= MAX_LABEL_LEN;
    (len, len > 0 && (plain || validate_domain(&input[..len]).is_ok()))
}

/// `Dot-string / Quoted-string`
fn local_part(input: &[u8]) -> PResult<'_, LocalPart<'_>> {
    if let Some(rest) = input.strip_prefix(b"\"") {
        // QcontentSMTP until the closing quote; a backslash escapes the next byte.
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'"' => {
                    let raw = &rest[..i];
                    if let Err(e) = validate_quoted_content(raw) {
                        return invalid(e);
                    }
                    return Ok((
                        &rest[i + 1..],
                        LocalPart::QuotedString(Cow::Borrowed(utf8(raw)?)),
                    ));
                }
                b'\\' => i += 2,
                b'\r' | b'\n' => return fail("unterminated quoted string"),
                _ => i += 1,
            }
        }
        return Err(nom::Err::Incomplete(nom::Needed::Unknown));
    }
    let (len, valid) = scan_dot_string(input);
    let (token, rest) = input.split_at(len);
    if token.is_empty() {
        return fail("expected a local part");
    }
    if !valid && let Err(e) = validate_dot_string(token) {
        return invalid(e);
    }
    debug_assert!(validate_dot_string(token).is_ok());
    Ok((rest, LocalPart::DotString(Cow::Borrowed(utf8(token)?))))
}

/// `Domain`
pub(crate) fn domain(input: &[u8]) -> PResult<'_, Domain<'_>> {
    let (len, valid) = scan_domain(input);
    let (token, rest) = input.split_at(len);
    if token.is_empty() {
        return fail("expected a domain");
    }
    if !valid && let Err(e) = validate_domain(token) {
        return invalid(e);
    }
    debug_assert!(validate_domain(token).is_ok());
    Ok((rest, Domain(Cow::Borrowed(utf8(token)?))))
}

/// `address-literal = "[" ... "]"`
fn address_literal(input: &[u8]) -> PResult<'_, AddressLiteral<'_>> {
    let (rest, _) = tag(b"[", input)?;
    let (rest, inner) = run(rest, |b| b != b']' && b != b'\r' && b != b'\n' && b != b' ');
    let (rest, _) = tag(b"]", rest)?;
    if let Err(e) = parse_literal(inner) {
        return invalid(e);
    }
    let inner = utf8(inner)?;
    Ok((
        rest,
        AddressLiteral::new(Cow::Borrowed(inner))
            .map_err(|e| nom::Err::Failure(super::PErr::Invalid(e)))?,
    ))
}

/// `Domain / address-literal`
fn domain_part(input: &[u8]) -> PResult<'_, DomainPart<'_>> {
    if input.first() == Some(&b'[') {
        let (rest, lit) = address_literal(input)?;
        Ok((rest, DomainPart::Literal(lit)))
    } else {
        let (rest, d) = domain(input)?;
        Ok((rest, DomainPart::Domain(d)))
    }
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
///
/// `text` is the checked text of the line `input` lies in, if known (see
/// [`super::utf8_in`]).
#[inline(always)]
pub(crate) fn mailbox<'a>(input: &'a [u8], text: Option<&'a str>) -> PResult<'a, Mailbox<'a>> {
    // The common case, a valid dot-string and domain, with one UTF-8 check for both.
    if let (local_len, true) = scan_dot_string(input)
        && local_len > 0
        && input.get(local_len) == Some(&b'@')
        && let (domain_len, true) = scan_domain(&input[local_len + 1..])
        && domain_len > 0
    {
        let (token, rest) = input.split_at(local_len + 1 + domain_len);
        let token = utf8_in(text, token)?;
        let (local, domain) = (&token[..local_len], &token[local_len + 1..]);
        debug_assert!(validate_dot_string(local.as_bytes()).is_ok());
        debug_assert!(validate_domain(domain.as_bytes()).is_ok());
        let local = LocalPart::DotString(Cow::Borrowed(local));
        let domain = DomainPart::Domain(Domain(Cow::Borrowed(domain)));
        return Ok((rest, Mailbox::from_parts_unchecked(local, domain)));
    }
    mailbox_in_parts(input)
}

/// [`mailbox`] token by token: quoted local parts, address literals, and every error.
#[cold]
#[inline(never)]
fn mailbox_in_parts(input: &[u8]) -> PResult<'_, Mailbox<'_>> {
    let (rest, local) = local_part(input)?;
    let (rest, _) = super::harden(tag(b"@", rest), "expected \"@\" after the local part")?;
    let (rest, domain) = domain_part(rest)?;
    Ok((rest, Mailbox::from_parts_unchecked(local, domain)))
}

/// `"<" [ A-d-l ":" ] Mailbox ">"`, with the RFC 5321 4.5.3.1.3 length limit.
#[inline(always)]
fn path<'a>(input: &'a [u8], text: Option<&'a str>) -> PResult<'a, Mailbox<'a>> {
    let (mut rest, _) = super::harden(tag(b"<", input), "expected \"<\"")?;
    if rest.first() == Some(&b'@') {
        // Source route: parsed for syntax and dropped (RFC 5321 appendix C).
        loop {
            let (r, _) = tag(b"@", rest)?;
            let (r, _) = domain(r)?;
            match r.first() {
                Some(b',') => rest = &r[1..],
                Some(b':') => {
                    rest = &r[1..];
                    break;
                }
                Some(_) => return fail("expected \",\" or \":\" in a source route"),
                None => return Err(nom::Err::Incomplete(nom::Needed::new(1))),
            }
        }
    }
    let (rest, mailbox) = mailbox(rest, text)?;
    let (rest, _) = super::harden(tag(b">", rest), "expected \">\" after the mailbox")?;
    let len = mailbox.wire_len() + 2;
    if len > MAX_PATH_LEN {
        return invalid(ValidationError::TooLong { what: "path", len, max: MAX_PATH_LEN });
    }
    Ok((rest, mailbox))
}

/// `Reverse-path = Path / "<>"`
#[inline(always)]
pub(crate) fn reverse_path<'a>(
    input: &'a [u8],
    text: Option<&'a str>,
) -> PResult<'a, ReversePath<'a>> {
    if let Ok((rest, _)) = tag(b"<>", input) {
        return Ok((rest, ReversePath::Null));
    }
    if input.len() < 2 && input.first().is_none_or(|&b| b == b'<') {
        return Err(nom::Err::Incomplete(nom::Needed::Unknown));
    }
    let (rest, mailbox) = path(input, text)?;
    Ok((rest, ReversePath::Mailbox(mailbox)))
}

/// `"<Postmaster>" / Forward-path`
#[inline(always)]
pub(crate) fn forward_path<'a>(
    input: &'a [u8],
    text: Option<&'a str>,
) -> PResult<'a, ForwardPath<'a>> {
    // Most paths are not "<Postmaster>": skip the comparison when the first letter differs.
    if input.get(1).is_none_or(|b| b.eq_ignore_ascii_case(&b'p')) {
        match tag_no_case(b"<Postmaster>", input) {
            Ok((rest, _)) => return Ok((rest, ForwardPath::Postmaster)),
            // "<Postmas" could still become "<Postmaster>" or "<Postmaster@x>".
            Err(nom::Err::Incomplete(n)) => return Err(nom::Err::Incomplete(n)),
            Err(_) => {}
        }
    }
    if input.is_empty() {
        return Err(nom::Err::Incomplete(nom::Needed::new(1)));
    }
    let (rest, mailbox) = path(input, text)?;
    Ok((rest, ForwardPath::Mailbox(mailbox)))
}

/// Parses a whole string as a mailbox (for `Mailbox::parse`).
pub(crate) fn mailbox_from_str(text: &str) -> Result<Mailbox<'_>, ValidationError> {
    let bad = |reason| ValidationError::Invalid { what: "mailbox", reason };
    match mailbox(text.as_bytes(), Some(text)) {
        Ok(([], m)) => Mailbox::new(m.local_part().clone(), m.domain().clone()),
        Ok(_) => Err(bad("unexpected characters after the domain")),
        Err(nom::Err::Failure(super::PErr::Invalid(e))) => Err(e),
        Err(nom::Err::Failure(super::PErr::Syntax(reason))) => Err(bad(reason)),
        Err(_) => Err(bad("expected local-part@domain")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens of the octets that matter to the rules, by a fixed linear congruential walk.
    fn tokens() -> impl Iterator<Item = Vec<u8>> {
        let alphabet = [b'a', b'Z', b'7', b'-', b'.', b'.', b'_', b'+', 0xc3, 0xa9, b'a'];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..20_000).map(move |_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (state >> 58) as usize + usize::from(state & 1 == 0) * 40;
            (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect()
        })
    }

    #[test]
    fn scan_domain_decides_exactly_as_validate_domain() {
        let mut outcomes = [0; 2];
        for token in tokens() {
            let mut input = token.clone();
            input.push(b'>');
            let (len, valid) = scan_domain(&input);
            let run = input.iter().position(|&b| !chars::is_ldh(b) && b != b'.' && b < 0x80);
            assert_eq!(Some(len), run, "{token:?}");
            assert_eq!(valid, len > 0 && validate_domain(&input[..len]).is_ok(), "{token:?}");
            outcomes[usize::from(valid)] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 1000), "{outcomes:?}");
    }

    #[test]
    fn scan_dot_string_decides_exactly_as_validate_dot_string() {
        let mut outcomes = [0; 2];
        for token in tokens() {
            let mut input = token.clone();
            input.push(b'@');
            let (len, valid) = scan_dot_string(&input);
            let run = input.iter().position(|&b| !chars::is_atext(b) && b != b'.' && b < 0x80);
            assert_eq!(Some(len), run, "{token:?}");
            assert_eq!(valid, validate_dot_string(&input[..len]).is_ok(), "{token:?}");
            outcomes[usize::from(valid)] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 1000), "{outcomes:?}");
    }
}
