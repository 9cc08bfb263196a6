//! Command lines (RFC 5321 section 4.1.1, RFC 3030, RFC 3207, RFC 4954, RFC 2033).
//!
//! ```text
//! ehlo      = "EHLO" SP ( Domain / address-literal ) CRLF
//! helo      = "HELO" SP Domain CRLF
//! mail      = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
//! rcpt      = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
//!             [SP Rcpt-parameters] CRLF
//! data      = "DATA" CRLF
//! bdat-cmd  = "BDAT" SP chunk-size [ SP end-marker ] CRLF     ; RFC 3030
//! rset      = "RSET" CRLF
//! vrfy      = "VRFY" SP String CRLF
//! expn      = "EXPN" SP String CRLF
//! help      = "HELP" [ SP String ] CRLF
//! noop      = "NOOP" [ SP String ] CRLF
//! quit      = "QUIT" CRLF
//! starttls  = "STARTTLS" CRLF                                  ; RFC 3207
//! auth      = "AUTH" SP sasl-mech [SP initial-response] CRLF   ; RFC 4954
//! ```
//!
//! Verbs and the `FROM:`/`TO:` keywords are case-insensitive. One space after the colon
//! of `MAIL FROM:` / `RCPT TO:` is tolerated (RFC 5321 section 3.3 notes that clients
//! send it); the canonical encoding has none.

use std::borrow::Cow;

use nom::bytes::streaming::{take_while, take_while1};

use super::{PErr, PResult, fail, harden, params::param_list, path, tag, tag_no_case, utf8};
use crate::command::{Command, InitialResponse, Mechanism, Verb, auth::validate_mechanism};
use crate::error::CommandError;
use crate::esmtp::{MailParameter, MailParameters, RcptParameter, RcptParameters};
use crate::types::domain::Host;
use crate::types::text::{Atom, Text};

const CRLF: &[u8] = b"\r\n";

/// Parses one complete line (CRLF included) into a command.
pub(crate) fn command_line(line: &[u8]) -> Result<Command<'_>, CommandError> {
    super::check_line_bytes(line)?;
    clean_command_line(line)
}

/// [`command_line`] for a line known to hold no CR, LF or NUL before its CRLF.
pub(crate) fn clean_command_line(line: &[u8]) -> Result<Command<'_>, CommandError> {
    // Most verbs are four letters: a known one followed by SP or CR ends there.
    let known4 = match line.first_chunk::<5>() {
        Some(&[a, b, c, d, b' ' | b'\r']) => Some(classify4([a, b, c, d])),
        _ => None,
    };
    let (verb_bytes, rest, verb) = match known4 {
        Some(verb) if verb != Verb::Unknown => (&line[..4], &line[4..], verb),
        _ => {
            let end = line.iter().position(|&b| b == b' ' || b == b'\r').unwrap_or(line.len());
            let (verb_bytes, rest) = line.split_at(end);
            (verb_bytes, rest, classify(verb_bytes))
        }
    };
    let result = match verb {
        Verb::Ehlo | Verb::Helo | Verb::Lhlo => hello(verb, rest),
        Verb::Mail => mail(line),
        Verb::Rcpt => rcpt(line),
        Verb::Data => bare(rest, Command::Data),
        Verb::Rset => bare(rest, Command::Rset),
        Verb::Quit => bare(rest, Command::Quit),
        Verb::StartTls => bare(rest, Command::StartTls),
        Verb::Bdat => bdat(rest),
        Verb::Vrfy => string_arg(rest).map(|(r, t)| (r, Command::Vrfy(t))),
        Verb::Expn => string_arg(rest).map(|(r, t)| (r, Command::Expn(t))),
        Verb::Help => optional_arg(rest).map(|(r, t)| (r, Command::Help(t))),
        Verb::Noop => optional_arg(rest).map(|(r, t)| (r, Command::Noop(t))),
        Verb::Auth => auth(rest),
        Verb::Unknown => return unknown(verb_bytes, rest),
    };
    match result {
        Ok((_, command)) => {
            if let Command::Mail { reverse_path, parameters } = &command
                && !reverse_path.is_ascii()
                && !parameters.smtputf8()
            {
                return Err(CommandError::NonAsciiWithoutSmtpUtf8 { verb });
            }
            Ok(command)
        }
        Err(e) => Err(to_command_error(verb, e)),
    }
}

fn to_command_error(verb: Verb, e: nom::Err<PErr>) -> CommandError {
    match e {
        nom::Err::Incomplete(_) => CommandError::Syntax { verb, reason: "line ends early" },
        nom::Err::Error(p) | nom::Err::Failure(p) => match p {
            PErr::Syntax(reason) => CommandError::Syntax { verb, reason },
            PErr::Invalid(error) => CommandError::Path { verb, error },
            PErr::Utf8 => CommandError::InvalidUtf8,
            PErr::Param(error) => CommandError::Parameter { verb, error },
            PErr::Reply(_) => CommandError::Syntax { verb, reason: "syntax error" },
        },
    }
}

/// Maps a verb case-insensitively. Setting bit 5 of every octet lower-cases letters, and
/// since every verb is letters only, no other octet can turn into a match.
fn classify(verb: &[u8]) -> Verb {
    if let Ok(&word) = <&[u8; 8]>::try_from(verb) {
        let lower = u64::from_le_bytes(word) | 0x2020_2020_2020_2020;
        return if lower == u64::from_le_bytes(*b"starttls") {
            Verb::StartTls
        } else {
            Verb::Unknown
        };
    }
    match <&[u8; 4]>::try_from(verb) {
        Ok(&word) => classify4(word),
        Err(_) => Verb::Unknown,
    }
}

/// [`classify`] for the four-letter verbs.
#[inline]
fn classify4(word: [u8; 4]) -> Verb {
    const fn w(verb: &[u8; 4]) -> u32 {
        u32::from_le_bytes(*verb)
    }
    const MAIL: u32 = w(b"mail");
    const RCPT: u32 = w(b"rcpt");
    const RSET: u32 = w(b"rset");
    const DATA: u32 = w(b"data");
    const BDAT: u32 = w(b"bdat");
    const EHLO: u32 = w(b"ehlo");
    const EXPN: u32 = w(b"expn");
    const HELO: u32 = w(b"helo");
    const HELP: u32 = w(b"help");
    const LHLO: u32 = w(b"lhlo");
    const NOOP: u32 = w(b"noop");
    const QUIT: u32 = w(b"quit");
    const VRFY: u32 = w(b"vrfy");
    const AUTH: u32 = w(b"auth");
    match u32::from_le_bytes(word) | 0x2020_2020 {
        MAIL => Verb::Mail,
        RCPT => Verb::Rcpt,
        RSET => Verb::Rset,
        DATA => Verb::Data,
        BDAT => Verb::Bdat,
        EHLO => Verb::Ehlo,
        EXPN => Verb::Expn,
        HELO => Verb::Helo,
        HELP => Verb::Help,
        LHLO => Verb::Lhlo,
        NOOP => Verb::Noop,
        QUIT => Verb::Quit,
        VRFY => Verb::Vrfy,
        AUTH => Verb::Auth,
        _ => Verb::Unknown,
    }
}

/// A verb without arguments: exactly CRLF must follow.
fn bare<'a>(rest: &'a [u8], command: Command<'a>) -> PResult<'a, Command<'a>> {
    let (rest, _) = harden(tag(CRLF, rest), "takes no arguments")?;
    Ok((rest, command))
}

fn sp(input: &[u8]) -> PResult<'_, &[u8]> {
    tag(b" ", input)
}

/// `SP ( Domain / address-literal )` for EHLO and LHLO; HELO is read the same way.
fn hello(verb: Verb, rest: &[u8]) -> PResult<'_, Command<'_>> {
    let (rest, _) = harden(sp(rest), "needs a domain or address literal")?;
    let (rest, host) = take_while1(|b| b != b' ' && b != b'\r')(rest)?;
    let (rest, _) = harden(tag(CRLF, rest), "takes exactly one argument")?;
    let host = Host::new(utf8(host)?).map_err(|e| nom::Err::Failure(PErr::Invalid(e)))?;
    Ok((
        rest,
        match verb {
            Verb::Ehlo => Command::Ehlo(host),
            Verb::Lhlo => Command::Lhlo(host),
            _ => Command::Helo(host),
        },
    ))
}

/// Optional spaces after `FROM:`/`TO:`: at most one is tolerated.
fn colon_space(input: &[u8]) -> &[u8] {
    input.strip_prefix(b" ").unwrap_or(input)
}

/// `"MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF`
fn mail(line: &[u8]) -> PResult<'_, Command<'_>> {
    let (rest, _) = harden(tag_no_case(b"MAIL FROM:", line), "expected MAIL FROM:<address>")?;
    // One UTF-8 check for the line; the tokens are then sliced out of it.
    let text = std::str::from_utf8(line).ok();
    let (rest, reverse_path) = path::reverse_path(colon_space(rest), text)?;
    let (rest, parameters) =
        parameters(rest, text, MailParameter::keyword, MailParameter::from_pair)?;
    Ok((rest, Command::Mail { reverse_path, parameters: MailParameters(parameters) }))
}

/// `"RCPT TO:" ( "<Postmaster>" / Forward-path ) [SP Rcpt-parameters] CRLF`
fn rcpt(line: &[u8]) -> PResult<'_, Command<'_>> {
    let (rest, _) = harden(tag_no_case(b"RCPT TO:", line), "expected RCPT TO:<address>")?;
    let text = std::str::from_utf8(line).ok();
    let (rest, forward_path) = path::forward_path(colon_space(rest), text)?;
    let (rest, parameters) =
        parameters(rest, text, RcptParameter::keyword, RcptParameter::from_pair)?;
    Ok((rest, Command::Rcpt { forward_path, parameters: RcptParameters(parameters) }))
}

/// `[SP params] CRLF` after a path.
fn parameters<'a, P: std::fmt::Display>(
    rest: &'a [u8],
    text: Option<&'a str>,
    keyword_of: impl Fn(&P) -> &str,
    make: impl Fn(&'a str, Option<&'a str>) -> Result<P, super::ParamError>,
) -> PResult<'a, Vec<P>> {
    let (rest, spaces) = take_while(|b| b == b' ')(rest)?;
    if rest.first() == Some(&b'\r') || spaces.is_empty() {
        let (rest, _) = harden(tag(CRLF, rest), "expected SP or CRLF after the address")?;
        return Ok((rest, Vec::new()));
    }
    let (rest, params) = param_list(rest, text, keyword_of, make)?;
    let (rest, _) = harden(tag(CRLF, rest), "expected CRLF after the parameters")?;
    Ok((rest, params))
}

/// `SP chunk-size [ SP end-marker ] CRLF`
fn bdat(rest: &[u8]) -> PResult<'_, Command<'_>> {
    let (rest, _) = harden(sp(rest), "needs a chunk size")?;
    let (rest, digits) =
        harden(take_while1(|b: u8| b.is_ascii_digit())(rest), "chunk size must be a number")?;
    // 20 digits overflow u64 only above u64::MAX; anything that large is a protocol error.
    let size = utf8(digits)?.parse::<u64>().or_else(|_| fail("chunk size out of range"))?;
    let (rest, last) = match rest.first() {
        Some(b' ') => {
            let (r, _) = harden(tag_no_case(b" LAST", rest), "expected LAST after the size")?;
            (r, true)
        }
        _ => (rest, false),
    };
    let (rest, _) = harden(tag(CRLF, rest), "expected CRLF")?;
    Ok((rest, Command::Bdat { size, last }))
}

/// `SP String CRLF`, kept as raw text.
fn string_arg(rest: &[u8]) -> PResult<'_, Text<'_>> {
    let (rest, _) = harden(sp(rest), "needs an argument")?;
    let (rest, text) = take_while1(|b| b != b'\r')(rest)?;
    let (rest, _) = tag(CRLF, rest)?;
    Ok((rest, Text(Cow::Borrowed(utf8(text)?))))
}

/// `[SP String] CRLF`
fn optional_arg(rest: &[u8]) -> PResult<'_, Option<Text<'_>>> {
    if rest.first() == Some(&b' ') {
        let (rest, text) = string_arg(rest)?;
        Ok((rest, Some(text)))
    } else {
        let (rest, _) = harden(tag(CRLF, rest), "expected SP or CRLF")?;
        Ok((rest, None))
    }
}

/// `SP sasl-mech [SP initial-response] CRLF`
fn auth(rest: &[u8]) -> PResult<'_, Command<'_>> {
    let (rest, _) = harden(sp(rest), "needs a mechanism")?;
    let (rest, name) = take_while1(|b| b != b' ' && b != b'\r')(rest)?;
    if validate_mechanism(name).is_err() {
        return fail("invalid SASL mechanism name");
    }
    let mechanism = Mechanism(Cow::Borrowed(utf8(name)?));
    let (rest, initial_response) = if rest.first() == Some(&b' ') {
        let (r, text) = take_while1(|b| b != b'\r')(&rest[1..])?;
        let response = if text == b"=" {
            InitialResponse::Empty
        } else {
            InitialResponse::base64(utf8(text)?)
                .or_else(|_| fail("initial response is not base64"))?
        };
        (r, Some(response))
    } else {
        (rest, None)
    };
    let (rest, _) = harden(tag(CRLF, rest), "expected CRLF")?;
    Ok((rest, Command::Auth { mechanism, initial_response }))
}

/// Any other verb: kept verbatim when it is an atom; otherwise a syntax error.
fn unknown<'a>(verb: &'a [u8], rest: &'a [u8]) -> Result<Command<'a>, CommandError> {
    let bad = CommandError::Syntax { verb: Verb::Unknown, reason: "not a command" };
    if verb.is_empty() || !verb.iter().all(|&b| super::chars::is_atext(b)) {
        return Err(bad);
    }
    let verb =
        Atom(Cow::Borrowed(std::str::from_utf8(verb).map_err(|_| CommandError::InvalidUtf8)?));
    let body = &rest[..rest.len().saturating_sub(2)];
    let arguments = match body.split_first() {
        None => None,
        Some((b' ', args)) => Some(Text(Cow::Borrowed(
            std::str::from_utf8(args).map_err(|_| CommandError::InvalidUtf8)?,
        ))),
        Some(_) => return Err(bad),
    };
    Ok(Command::Unknown { verb, arguments })
}
