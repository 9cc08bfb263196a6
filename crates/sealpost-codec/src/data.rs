//! The DATA body: dot-unstuffing for servers, dot-stuffing for clients (RFC 5321
//! section 4.5.2), with the end-of-data rules that keep SMTP smuggling out.
//!
//! End of data is exactly CRLF "." CRLF. The CRLF that ended the DATA command counts as
//! the first CRLF, so "." CRLF right after the 354 reply is the empty message and a first
//! line "..x" is unstuffed to ".x". A bare CR or LF never ends a line and never starts
//! the end sequence: `\n.\n`, `\r.\r`, `\r\n.\n` and the other smuggling sequences are
//! body content (or, by default, a reason to reject the whole message).
//!
//! A NUL octet is not text (RFC 5321 section 2.3.8 and 4.5.2: 7BIT and 8BITMIME content
//! is lines of octets other than NUL) and a next hop that drops NULs would see, in
//! `\r\n\0.\r\n` or `\r\n.\0\r\n`, an end of data that we did not see. So a NUL is by
//! default a reason to refuse the whole message, read on to its real end like a bare
//! CR or LF; by option ([`NulOctets::Strip`]) it is dropped from the content. A NUL never
//! ends a line and never starts the end-of-data check; a dropped NUL does not make the
//! octet after it start a line either.

use bytes::{Buf, Bytes, BytesMut};

/// What to do with a CR or LF that is not part of a CRLF pair in message data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BareLineEndings {
    /// Read on to the real end of data, then reject the message (the default). Protects
    /// every downstream reader that would treat a bare LF as a line end.
    #[default]
    Reject,
    /// Replace each bare CR or LF by CRLF in the delivered content. The replacement never
    /// starts a line for unstuffing or for the end-of-data check.
    Normalize,
}

/// What to do with a NUL octet in message data: DATA bodies here, and the BDAT chunks of
/// a 7BIT or 8BITMIME message in [`ServerSession`](crate::ServerSession) and
/// [`ClientSession`](crate::ClientSession) (a BINARYMIME message may hold any octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NulOctets {
    /// Read on to the real end of data, then reject the message (the default): a NUL
    /// is not allowed in a 7BIT or 8BITMIME message (RFC 5321 section 2.3.8), and a next
    /// hop that drops it would see line starts and ends of data where we saw none.
    #[default]
    Reject,
    /// Drop each NUL octet from the delivered content. The octet after a dropped NUL
    /// stays where it was in its line: a "." after CRLF NUL is content, never a stuffing
    /// dot and never the end of data (the `\r\n\0.\r\n` smuggling sequence is stored as
    /// the content `\r\n.\r\n`; the dot-stuffer of the next hop sends that line as
    /// `..`, so no end of data comes of it).
    Strip,
}

/// Why a message body was refused. The body was read to its real end regardless, so the
/// session can continue with the next command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A bare CR or LF was found at this octet offset of the raw body.
    #[error("the message holds a bare CR or LF (offset {offset})")]
    BareLineEnding {
        /// Offset in the body as received, from the first octet after the DATA line.
        offset: u64,
    },
    /// A NUL octet was found at this octet offset of the raw body.
    #[error("the message holds a NUL octet (offset {offset})")]
    Nul {
        /// Offset in the body as received, from the first octet after the DATA line (with
        /// BDAT, in the content of all chunks together).
        offset: u64,
    },
    /// The message is larger than the configured limit.
    #[error("the message is larger than {limit} octets")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// One result of [`DotUnstuffer::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DataStep {
    /// Message content, unstuffed. The concatenation of all chunks is the message.
    Chunk(Bytes),
    /// End of data was consumed. `Ok` holds the message size; `Err` says why the content
    /// (whatever chunks were given out) must be discarded.
    End(Result<u64, DataError>),
}

/// Streaming reader of a DATA body.
///
/// Feed it the connection's input buffer; it consumes what it has decided on, hands out
/// content as zero-copy [`Bytes`] chunks (scanning with `memchr`, copying nothing) and
/// stops exactly after CRLF "." CRLF, leaving any pipelined commands in the buffer.
///
/// ```
/// use bytes::BytesMut;
/// use sealpost_codec::{DataStep, DotUnstuffer};
///
/// let mut input = BytesMut::from(&b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n"[..]);
/// let mut decoder = DotUnstuffer::new();
/// let mut message = Vec::new();
/// loop {
///     match decoder.decode(&mut input) {
///         Some(DataStep::Chunk(bytes)) => message.extend_from_slice(&bytes),
///         Some(DataStep::End(result)) => {
///             assert_eq!(result, Ok(message.len() as u64));
///             break;
///         }
///         None => unreachable!("the whole body is in the buffer"),
///     }
/// }
/// assert_eq!(message, b"Subject: hi\r\n\r\n.dot\r\n");
/// assert_eq!(&input[..], b"QUIT\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotUnstuffer {
    policy: BareLineEndings,
    nul: NulOctets,
    max_size: Option<u64>,
    at_line_start: bool,
    /// Content octets handed out so far.
    size: u64,
    /// Raw octets consumed so far.
    consumed: u64,
    error: Option<DataError>,
    /// A CRLF to hand out in place of a bare CR or LF (Normalize).
    pending_crlf: bool,
    done: bool,
}

/// Internal outcome of one scan.
enum Scan {
    /// `input[..n]` is content.
    Content(usize),
    /// Drop one octet (a stuffing dot).
    DropDot,
    /// Drop one bare CR/LF and (Normalize) insert CRLF.
    Bare,
    /// Drop one NUL octet.
    Nul,
    /// The three octets "." CRLF end the data.
    End,
    /// Nothing can be decided without more input.
    NeedMore,
}

impl Default for DotUnstuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotUnstuffer {
    /// A reader that rejects bare line endings and NUL octets and has no size limit,
    /// positioned just after the CRLF of the DATA command.
    pub fn new() -> Self {
        DotUnstuffer {
            policy: BareLineEndings::Reject,
            nul: NulOctets::Reject,
            max_size: None,
            at_line_start: true,
            size: 0,
            consumed: 0,
            error: None,
            pending_crlf: false,
            done: false,
        }
    }

    /// Sets the bare CR/LF policy.
    #[must_use]
    pub fn bare_line_endings(mut self, policy: BareLineEndings) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the NUL octet policy.
    #[must_use]
    pub fn nul_octets(mut self, policy: NulOctets) -> Self {
        self.nul = policy;
        self
    }

    /// Sets a size limit: content beyond it is drained, then the message is refused.
    #[must_use]
    pub fn max_size(mut self, limit: Option<u64>) -> Self {
        self.max_size = limit;
        self
    }

    /// True once end of data has been consumed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Content octets handed out so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True when the message is already refused and the rest is being drained.
    pub fn is_draining(&self) -> bool {
        self.error.is_some()
    }

    /// Consumes from `input` and returns the next step, or `None` when more input is
    /// needed (or the end was already reached).
    pub fn decode(&mut self, input: &mut BytesMut) -> Option<DataStep> {
        if self.done {
            return None;
        }
        loop {
            if self.pending_crlf {
                self.pending_crlf = false;
                if let Some(chunk) = self.admit(Bytes::from_static(b"\r\n")) {
                    return Some(chunk);
                }
                continue;
            }
            match self.scan(input) {
                Scan::NeedMore => return None,
                Scan::Content(n) => {
                    self.consumed += n as u64;
                    let chunk = input.split_to(n).freeze();
                    if let Some(step) = self.admit(chunk) {
                        return Some(step);
                    }
                }
                Scan::DropDot => {
                    input.advance(1);
                    self.consumed += 1;
                    self.at_line_start = false;
                }
                Scan::Bare => {
                    if self.error.is_none() && self.policy == BareLineEndings::Reject {
                        self.error = Some(DataError::BareLineEnding { offset: self.consumed });
                    }
                    input.advance(1);
                    self.consumed += 1;
                    self.pending_crlf = self.policy == BareLineEndings::Normalize;
                }
                Scan::Nul => {
                    if self.error.is_none() && self.nul == NulOctets::Reject {
                        self.error = Some(DataError::Nul { offset: self.consumed });
                    }
                    input.advance(1);
                    self.consumed += 1;
                    // Already false (a NUL is no dot); said again because a dropped NUL
                    // must never let the next octet start a line.
                    self.at_line_start = false;
                }
                Scan::End => {
                    input.advance(3);
                    self.consumed += 3;
                    self.done = true;
                    return Some(DataStep::End(match self.error {
                        Some(e) => Err(e),
                        None => Ok(self.size),
                    }));
                }
            }
        }
    }

    /// Counts a chunk against the limit; hands it out unless draining.
    fn admit(&mut self, chunk: Bytes) -> Option<DataStep> {
        if self.error.is_some() {
            return None;
        }
        let size = self.size + chunk.len() as u64;
        if let Some(limit) = self.max_size
            && size > limit
        {
            self.error = Some(DataError::TooLarge { limit });
            return None;
        }
        self.size = size;
        Some(DataStep::Chunk(chunk))
    }

    /// Finds the longest run of plain content at the start of `buf`, or the special
    /// case found there.
    fn scan(&mut self, buf: &[u8]) -> Scan {
        let mut pos = 0;
        loop {
            if self.at_line_start {
                match buf.get(pos) {
                    None => break,
                    Some(b'.') => {
                        if pos > 0 {
                            // Hand out the content before the dot first.
                            return Scan::Content(pos);
                        }
                        return match (buf.get(1), buf.get(2)) {
                            (Some(b'\r'), Some(b'\n')) => Scan::End,
                            (None, _) | (Some(b'\r'), None) => Scan::NeedMore,
                            // RFC 5321 4.5.2: a leading "." with more on the line is
                            // deleted.
                            _ => Scan::DropDot,
                        };
                    }
                    Some(_) => self.at_line_start = false,
                }
            }
            // Skip plain blocks in bulk. `buf[pos]` is not a LF, so whatever precedes it
            // was checked already (a LF there would be bare).
            if buf.get(pos) != Some(&b'\n') {
                let run = plain_run(&buf[pos..]);
                pos += run;
                // A run that ends inside a CRLF (its LF is at `pos`) or right after one
                // ends at a line start; otherwise the search below goes on from `pos`.
                if run > 0 && matches!(buf[pos - 1], b'\r' | b'\n') {
                    pos += usize::from(buf[pos - 1] == b'\r');
                    self.at_line_start = true;
                    continue;
                }
            }
            let Some(i) = memchr::memchr3(b'\r', b'\n', 0, &buf[pos..]) else {
                pos = buf.len();
                break;
            };
            let at = pos + i;
            if buf[at] == 0 {
                return if at > 0 { Scan::Content(at) } else { Scan::Nul };
            }
            if buf[at] == b'\r' {
                match buf.get(at + 1) {
                    Some(b'\n') => {
                        pos = at + 2;
                        self.at_line_start = true;
                        continue;
                    }
                    None => {
                        // Keep the CR until we see what follows it.
                        pos = at;
                        break;
                    }
                    Some(_) => {}
                }
            }
            // A bare CR or LF at `at`.
            return if at > 0 { Scan::Content(at) } else { Scan::Bare };
        }
        if pos == 0 { Scan::NeedMore } else { Scan::Content(pos) }
    }
}

/// Octets checked at a time by [`plain_run`].
const PLAIN_BLOCK: usize = 64;

/// The length, in whole blocks, of the prefix of `buf` that is plain content: every CR in
/// it is followed by LF, every LF after its first octet is preceded by CR, no LF is
/// followed by "." (the octet after the last block is looked at for these rules too) and
/// no octet is NUL.
///
/// Each block is checked without branches, over two overlapping slices (each octet and
/// the one after it), a form the compiler vectorizes: DATA is mostly plain lines, and one
/// test per block is much cheaper than a search per line.
fn plain_run(buf: &[u8]) -> usize {
    let mut n = 0;
    while let Some(window) = buf[n..].first_chunk::<{ PLAIN_BLOCK + 1 }>() {
        let (octets, next) = (&window[..PLAIN_BLOCK], &window[1..]);
        let odd = octets.iter().zip(next).fold(0u8, |odd, (&b, &next)| {
            let unpaired = u8::from(b == b'\r') ^ u8::from(next == b'\n');
            let dot_line = u8::from(b == b'\n') & u8::from(next == b'.');
            odd | unpaired | dot_line | u8::from(b == 0)
        });
        if odd != 0 {
            break;
        }
        n += PLAIN_BLOCK;
    }
    n
}

/// Dot-stuffer for clients: turns message content into a DATA body.
///
/// Stuffs a "." at the start of every line, from the very first octet; turns every bare
/// CR or LF into CRLF so that no bare line ending reaches the wire; and ends with
/// CRLF "." CRLF (adding the CRLF when the content does not end with one).
///
/// ```
/// use sealpost_codec::DotStuffer;
///
/// let mut stuffer = DotStuffer::new();
/// let mut out = Vec::new();
/// stuffer.encode(b".first\nsecond\r", &mut out);
/// stuffer.encode(b"\n.", &mut out);
/// stuffer.finish(&mut out);
/// assert_eq!(out, b"..first\r\nsecond\r\n..\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotStuffer {
    at_line_start: bool,
    pending_cr: bool,
    empty: bool,
    stuffing: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a message.
    pub fn new() -> Self {
        DotStuffer { at_line_start: true, pending_cr: false, empty: true, stuffing: true }
    }

    /// A line-ending normalizer without dot-stuffing and without the end-of-data line:
    /// for BDAT chunks of a text (7BIT or 8BITMIME) message, which must be CRLF lines too.
    /// [`DotStuffer::finish`] then only adds a final CRLF when missing.
    ///
    /// ```
    /// use sealpost_codec::DotStuffer;
    /// let mut normalizer = DotStuffer::normalizer();
    /// let mut out = Vec::new();
    /// normalizer.encode(b".a\nb", &mut out);
    /// normalizer.finish(&mut out);
    /// assert_eq!(out, b".a\r\nb\r\n");
    /// ```
    pub fn normalizer() -> Self {
        DotStuffer { stuffing: false, ..DotStuffer::new() }
    }

    /// Appends the stuffed form of `chunk` to `out`.
    pub fn encode(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        self.empty = false;
        out.reserve(chunk.len() + chunk.len() / 64 + 4);
        if self.pending_cr {
            self.pending_cr = false;
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while !chunk.is_empty() {
            if self.at_line_start {
                if chunk[0] == b'.' && self.stuffing {
                    out.push(b'.');
                }
                self.at_line_start = false;
            }
            let Some(at) = memchr::memchr2(b'\r', b'\n', chunk) else {
                out.extend_from_slice(chunk);
                return;
            };
            out.extend_from_slice(&chunk[..at]);
            let rest = &chunk[at + 1..];
            if chunk[at] == b'\r' {
                if rest.is_empty() {
                    self.pending_cr = true;
                    return;
                }
                chunk = if rest[0] == b'\n' { &rest[1..] } else { rest };
            } else {
                chunk = rest;
            }
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
        }
    }

    /// Appends the end of data (and the final CRLF if the content lacked one).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || (!self.empty && !self.at_line_start) {
            out.extend_from_slice(b"\r\n");
        }
        if self.stuffing {
            out.extend_from_slice(b".\r\n");
        }
        *self = DotStuffer { stuffing: self.stuffing, ..DotStuffer::new() };
    }
}

/// Reads the octets of one BDAT chunk (RFC 3030): exactly `size` octets, no stuffing, no
/// line rules (BINARYMIME content may hold any octet).
///
/// NUL octets are taken as they come here: a chunk has a length, so no octet in it can
/// end the data or start a command, and a BINARYMIME message (RFC 3030) may hold NUL.
/// Whether a NUL is allowed depends on the message's BODY type, which the sessions know:
/// [`ServerSession`](crate::ServerSession) refuses (or strips, see [`NulOctets`]) a NUL
/// in a 7BIT or 8BITMIME message sent by BDAT as it does in DATA.
///
/// ```
/// use bytes::BytesMut;
/// use sealpost_codec::BdatReader;
///
/// let mut input = BytesMut::from(&b"hello\r\nRSET\r\n"[..]);
/// let mut reader = BdatReader::new(7);
/// assert_eq!(&reader.read(&mut input).unwrap()[..], b"hello\r\n");
/// assert!(reader.is_done());
/// assert_eq!(&input[..], b"RSET\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BdatReader {
    remaining: u64,
}

impl BdatReader {
    /// A reader for a chunk of `size` octets.
    pub fn new(size: u64) -> Self {
        BdatReader { remaining: size }
    }

    /// Octets still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// True when the whole chunk was read.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// Takes up to the rest of the chunk from `input`; `None` when `input` is empty or the
    /// chunk is complete.
    pub fn read(&mut self, input: &mut BytesMut) -> Option<Bytes> {
        if self.remaining == 0 || input.is_empty() {
            return None;
        }
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(input.len());
        self.remaining -= n as u64;
        Some(input.split_to(n).freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules of the module documentation, octet by octet: the end result (content, or
    /// the first bare CR/LF or NUL) and the octets consumed, or `None` without an end of
    /// data.
    fn reference(
        body: &[u8],
        normalize: bool,
        strip: bool,
    ) -> Option<(Result<Vec<u8>, DataError>, usize)> {
        let (mut out, mut error, mut at_line_start, mut i) = (Vec::new(), None, true, 0);
        while i < body.len() {
            let rest = &body[i..];
            if at_line_start && rest.starts_with(b".\r\n") {
                return Some((error.map_or(Ok(out), Err), i + 3));
            }
            if at_line_start && rest[0] == b'.' {
                if rest.len() < 2 || rest == b".\r" {
                    return None;
                }
                at_line_start = false;
                i += 1;
                continue;
            }
            at_line_start = false;
            match rest {
                [b'\r', b'\n', ..] => {
                    out.extend_from_slice(b"\r\n");
                    at_line_start = true;
                    i += 2;
                    continue;
                }
                [b'\r'] => return None,
                [b'\r' | b'\n', ..] if normalize => out.extend_from_slice(b"\r\n"),
                [b'\r' | b'\n', ..] => {
                    error = error.or(Some(DataError::BareLineEnding { offset: i as u64 }));
                }
                [0, ..] if strip => {}
                [0, ..] => error = error.or(Some(DataError::Nul { offset: i as u64 })),
                [b, ..] => out.push(*b),
                [] => unreachable!(),
            }
            i += 1;
        }
        None
    }

    /// Bodies of lines of plain text, with stuffed dots, bare CRs and LFs, NULs and ends
    /// of data sprinkled in, some lines long enough for the block-wise scan.
    fn bodies() -> impl Iterator<Item = Vec<u8>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        (0..3000).map(move |_| {
            let mut body = Vec::new();
            for _ in 0..next(12) {
                match next(14) {
                    0 => body.push(b'.'),
                    1 => body.extend_from_slice(b".."),
                    2 => body.push(0),
                    3 => body.extend_from_slice(b"\0."),
                    _ => {}
                }
                for _ in 0..next(140) {
                    body.push(match next(200) {
                        0 => b'\r',
                        1 => b'\n',
                        2 => 0,
                        3..=9 => b'.',
                        _ => b'a',
                    });
                }
                body.extend_from_slice(if next(30) == 0 { b"\n" } else { b"\r\n" });
            }
            if next(4) != 0 {
                body.extend_from_slice(b".\r\nQUIT\r\n");
            }
            body
        })
    }

    /// Decodes the whole of `body`: the end result with its content, and the octets
    /// consumed; `None` without an end of data.
    fn decode_whole(
        mut decoder: DotUnstuffer,
        body: &[u8],
    ) -> Option<(Result<Vec<u8>, DataError>, usize)> {
        let mut input = BytesMut::from(body);
        let (mut content, mut end) = (Vec::new(), None);
        while let Some(step) = decoder.decode(&mut input) {
            match step {
                DataStep::Chunk(chunk) => content.extend_from_slice(&chunk),
                DataStep::End(result) => end = Some(result),
            }
        }
        let consumed = body.len() - input.len();
        end.map(|result| match result {
            Ok(size) => {
                assert_eq!(size, content.len() as u64);
                (Ok(content), consumed)
            }
            Err(e) => (Err(e), consumed),
        })
    }

    #[test]
    fn unstuffing_follows_the_octet_by_octet_rules() {
        let mut ends = [0; 2];
        let mut nul_refusals = 0;
        for body in bodies() {
            for (normalize, strip) in [(false, false), (true, false), (false, true), (true, true)] {
                let policy =
                    if normalize { BareLineEndings::Normalize } else { BareLineEndings::Reject };
                let nul = if strip { NulOctets::Strip } else { NulOctets::Reject };
                let decoder = DotUnstuffer::new().bare_line_endings(policy).nul_octets(nul);
                let got = decode_whole(decoder, &body);
                let expected = reference(&body, normalize, strip);
                if expected.is_some() {
                    assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(&body));
                } else {
                    assert!(got.is_none(), "{:?}", String::from_utf8_lossy(&body));
                }
                ends[usize::from(matches!(expected, Some((Ok(_), _))))] += 1;
                nul_refusals +=
                    usize::from(matches!(expected, Some((Err(DataError::Nul { .. }), _))));
            }
        }
        assert!(ends.iter().all(|&n| n > 500), "{ends:?}");
        assert!(nul_refusals > 300, "{nul_refusals}");
    }

    /// (body, offset of its first NUL, result with NULs stripped).
    type NulCase = (&'static [u8], u64, Result<&'static [u8], DataError>);

    #[test]
    fn a_nul_is_refused_or_stripped_and_never_starts_a_line() {
        let bare_cr = Err(DataError::BareLineEnding { offset: 2 });
        let cases: [NulCase; 5] = [
            // The smuggling sequences: no end of data at the NUL, with either policy.
            (b"a\r\n\0.\r\nb\r\n.\r\n", 3, Ok(b"a\r\n.\r\nb\r\n")),
            // ".\0" is a line with more after the dot: the dot is a stuffing dot.
            (b"a\r\n.\0\r\nb\r\n.\r\n", 4, Ok(b"a\r\n\r\nb\r\n")),
            (b"\0..x\r\n.\r\n", 0, Ok(b"..x\r\n")),
            (b"ab\0\0c\r\n.\r\n", 2, Ok(b"abc\r\n")),
            // Stripping does not join a CR and a LF into a line end.
            (b"x\0\r\0\n.\r\n.\r\n", 1, bare_cr),
        ];
        for (body, offset, stripped) in cases {
            let input = [body, b"QUIT\r\n"].concat();
            let refused = decode_whole(DotUnstuffer::new(), &input);
            assert_eq!(refused, Some((Err(DataError::Nul { offset }), body.len())), "{body:?}");
            let decoder = DotUnstuffer::new().nul_octets(NulOctets::Strip);
            let kept = decode_whole(decoder, &input);
            assert_eq!(kept, Some((stripped.map(<[u8]>::to_vec), body.len())), "{body:?}");
        }
    }

    #[test]
    fn plain_run_stops_at_the_first_block_with_a_rule_to_apply() {
        let line = [&[b'a'; 78][..], b"\r\n"].concat();
        let body: Vec<u8> = line.iter().copied().cycle().take(80 * 20).collect();
        assert_eq!(plain_run(&body), (body.len() - 1) / PLAIN_BLOCK * PLAIN_BLOCK);
        for (at, special) in
            [(300, &b"\r\n."[..]), (301, b"\n"), (702, b"\r"), (64, b"a\n"), (500, b"\0")]
        {
            let mut body = body.clone();
            body[at..at + special.len()].copy_from_slice(special);
            let run = plain_run(&body);
            // The run ends at the block (with the octet after it) that holds the octet.
            assert!(run <= at && at <= run + PLAIN_BLOCK + 2, "{at} {run}");
            assert_eq!(run % PLAIN_BLOCK, 0);
        }
    }
}
