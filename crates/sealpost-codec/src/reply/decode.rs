//! Decoding replies from bytes.

use std::borrow::Cow;

use crate::error::{DecodeError, ReplyError};
use crate::framing::{find_cr_lf_nul, find_crlf};
use crate::parse::PErr;
use crate::parse::reply::reply_line;
use crate::reply::{Reply, ReplyCode};
use crate::types::text::Text;

/// Decodes replies with limits on line length and line count.
///
/// RFC 5321 section 4.5.3.1.5 limits a reply line to 512 octets; real servers exceed it,
/// so the default line limit is 2048. The default line count is 128.
///
/// ```
/// use sealpost_codec::{DecodeError, ReplyDecoder, ReplyError};
///
/// let decoder = ReplyDecoder::new();
/// assert!(matches!(decoder.decode(b"250-first\r\n250 sec"), Err(DecodeError::Incomplete)));
/// assert!(matches!(
///     decoder.decode(b"250-first\r\n251 second\r\n"),
///     Err(DecodeError::Malformed { error: ReplyError::CodeMismatch { expected: 250, found: 251 }, .. })
/// ));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyDecoder {
    max_line: usize,
    max_lines: usize,
}

impl Default for ReplyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyDecoder {
    /// Default limits: lines of 2048 octets, 128 lines.
    pub const fn new() -> Self {
        ReplyDecoder { max_line: 2048, max_lines: 128 }
    }

    /// Sets the longest accepted line, CRLF included.
    #[must_use]
    pub const fn max_line(mut self, limit: usize) -> Self {
        self.max_line = if limit < 6 { 6 } else { limit };
        self
    }

    /// Sets the most lines accepted in one reply.
    #[must_use]
    pub const fn max_lines(mut self, limit: usize) -> Self {
        self.max_lines = if limit < 1 { 1 } else { limit };
        self
    }

    /// Decodes the first complete reply of `input` and returns the rest.
    pub fn decode<'a>(
        &self,
        input: &'a [u8],
    ) -> Result<(&'a [u8], Reply<'a>), DecodeError<ReplyError>> {
        match self.decode_plain(input) {
            Some(done) => {
                debug_assert_eq!(Ok(&done), self.decode_by_line(input).as_ref());
                Ok(done)
            }
            None => self.decode_by_line(input),
        }
    }

    /// The common case, a complete and well-formed reply, in two light passes: find its
    /// lines (the first CR, LF or NUL of each is the CR of its CRLF; code and separator
    /// are right), check the UTF-8 of the whole reply at once, then cut the texts out of
    /// that string. `None` for anything else (errors, more input needed), which
    /// [`ReplyDecoder::decode_by_line`] then decodes and names.
    fn decode_plain<'a>(&self, input: &'a [u8]) -> Option<(&'a [u8], Reply<'a>)> {
        let (mut offset, mut count, mut code) = (0, 0, 0);
        // Where each line's CRLF is, for the first lines (a second search for the rest).
        let mut ends = [0usize; 16];
        loop {
            let rest = &input[offset..];
            let window = &rest[..rest.len().min(self.max_line)];
            let end = find_cr_lf_nul(window)?;
            if window[end] != b'\r' || window.get(end + 1) != Some(&b'\n') {
                return None;
            }
            // Reply-code = %x32-35 %x30-35 %x30-39, then SP, "-" or the CRLF.
            let (line_code, last) = match window[..end] {
                [a @ b'2'..=b'5', b @ b'0'..=b'5', c @ b'0'..=b'9', ref after @ ..] => {
                    let digits = [a, b, c].map(|d| u16::from(d - b'0'));
                    let line_code = digits[0] * 100 + digits[1] * 10 + digits[2];
                    match after.first() {
                        None | Some(b' ') => (line_code, true),
                        Some(b'-') => (line_code, false),
                        Some(_) => return None,
                    }
                }
                _ => return None,
            };
            if count > 0 && line_code != code {
                return None;
            }
            debug_assert!(ReplyCode::new(line_code).is_ok());
            if let Some(slot) = ends.get_mut(count) {
                *slot = offset + end;
            }
            (code, count, offset) = (line_code, count + 1, offset + end + 2);
            if last {
                break;
            }
            if count >= self.max_lines {
                return None;
            }
        }
        let text = std::str::from_utf8(&input[..offset]).ok()?;
        let mut lines = Vec::with_capacity(count);
        let mut start = 0;
        for i in 0..count {
            let end = match ends.get(i) {
                Some(&end) => end,
                None => start + memchr::memchr(b'\r', &text.as_bytes()[start..])?,
            };
            // After the code and its separator; "250" alone has neither text nor separator.
            lines.push(Text(Cow::Borrowed(text.get(start + 4..end).unwrap_or(""))));
            start = end + 2;
        }
        Some((&input[offset..], Reply::from_parts(ReplyCode::unchecked(code), lines)))
    }

    /// Decodes line by line with the nom reply-line parser; names every error.
    fn decode_by_line<'a>(
        &self,
        input: &'a [u8],
    ) -> Result<(&'a [u8], Reply<'a>), DecodeError<ReplyError>> {
        // Most replies have one line; a multi-line one (EHLO) is given room at its second.
        let mut lines = Vec::with_capacity(1);
        let mut code = 0u16;
        let mut offset = 0;
        loop {
            let rest = &input[offset..];
            let window = &rest[..rest.len().min(self.max_line)];
            let Some(end) = find_crlf(window) else {
                return Err(if rest.len() >= self.max_line {
                    DecodeError::LineTooLong { limit: self.max_line }
                } else {
                    DecodeError::Incomplete
                });
            };
            let line_len = end + 2;
            let consumed = offset + line_len;
            let malformed = |error| DecodeError::Malformed { consumed, error };
            let line = match reply_line(&rest[..line_len]) {
                Ok((_, line)) => line,
                Err(nom::Err::Failure(PErr::Reply(error))) => return Err(malformed(error)),
                // The three digits did not match: not a reply code.
                Err(nom::Err::Error(_)) => return Err(malformed(ReplyError::InvalidCode)),
                Err(_) => return Err(malformed(ReplyError::InvalidText)),
            };
            if lines.is_empty() {
                code = line.code;
            } else if line.code != code {
                return Err(malformed(ReplyError::CodeMismatch {
                    expected: code,
                    found: line.code,
                }));
            }
            if lines.len() == 1 {
                lines.reserve(15);
            }
            lines.push(line.text);
            offset = consumed;
            if line.last {
                return Ok((
                    &input[offset..],
                    Reply::from_parts(ReplyCode::unchecked(code), lines),
                ));
            }
            if lines.len() >= self.max_lines {
                return Err(malformed(ReplyError::TooManyLines { limit: self.max_lines }));
            }
        }
    }
}

impl<'a> Reply<'a> {
    /// Decodes the first reply of `input` with the default limits.
    pub fn decode(input: &'a [u8]) -> Result<(&'a [u8], Reply<'a>), DecodeError<ReplyError>> {
        ReplyDecoder::new().decode(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies built from pieces that are valid, or not, at every place of a line.
    fn inputs() -> impl Iterator<Item = Vec<u8>> {
        const CODES: &[&[u8]] = &[b"250", b"250", b"550", b"199", b"260", b"25", b"2x0"];
        const SEPARATORS: &[&[u8]] = &[b"-", b"-", b" ", b"", b"+"];
        const TEXTS: &[&[u8]] = &[
            b"mx.example.org",
            b"",
            b"2.0.0 Ok",
            b"caf\xc3\xa9",
            b"bad \xff utf-8",
            b"bare\nLF",
            b"bare\rCR",
            b"nul\0",
            b"a longer line of text that goes past thirty-two octets",
        ];
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (state >> 33) as usize % n
        };
        (0..20_000).map(move |_| {
            let mut input = Vec::new();
            for _ in 0..1 + next(4) {
                input.extend_from_slice(CODES[next(CODES.len())]);
                input.extend_from_slice(SEPARATORS[next(SEPARATORS.len())]);
                input.extend_from_slice(TEXTS[next(TEXTS.len())]);
                input.extend_from_slice(if next(12) == 0 { b"\n" } else { b"\r\n" });
            }
            input.truncate(input.len() - next(3));
            input
        })
    }

    #[test]
    fn the_fast_path_agrees_with_the_line_parser() {
        let decoders = [ReplyDecoder::new(), ReplyDecoder::new().max_line(12).max_lines(2)];
        let mut fast = 0;
        for input in inputs() {
            for decoder in &decoders {
                let by_line = decoder.decode_by_line(&input);
                if let Some(done) = decoder.decode_plain(&input) {
                    assert_eq!(
                        Ok(&done),
                        by_line.as_ref(),
                        "{:?}",
                        String::from_utf8_lossy(&input)
                    );
                    fast += 1;
                }
                assert_eq!(decoder.decode(&input), by_line);
            }
        }
        // The generated inputs include enough well-formed replies to exercise it.
        assert!(fast > 1000, "{fast}");
    }

    #[test]
    fn common_replies_take_the_fast_path() {
        let decoder = ReplyDecoder::new();
        for input in [
            &b"250 2.0.0 Ok\r\n"[..],
            b"220 mx.example.org ESMTP\r\nEHLO",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
            b"354\r\n",
        ] {
            assert!(decoder.decode_plain(input).is_some(), "{input:?}");
        }
    }
}
