//! Line framing on CRLF only, with a length limit that never buffers an overlong line.
//!
//! RFC 5321 section 2.3.8: lines end with CRLF. A bare LF or a bare CR is never a line
//! end here; treating one as such is what SMTP smuggling and STARTTLS command injection
//! exploit in lenient readers.

/// Offset of the first CRLF in `input`.
#[inline]
pub(crate) fn find_crlf(input: &[u8]) -> Option<usize> {
    // Search for LF (memchr is fastest on a single byte), then check the CR before it.
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &input[from..]) {
        let at = from + i;
        if at > 0 && input[at - 1] == b'\r' {
            return Some(at - 1);
        }
        from = at + 1;
    }
    None
}

/// Offset of the first CR, LF or NUL in `input`: where a clean line ends (at the CR of
/// its CRLF), or where it is not clean.
///
/// Command and reply lines are short, too short for `memchr3`'s setup to pay off: the
/// first 32 octets are searched a word at a time (SWAR), the rest with `memchr3`.
#[inline]
pub(crate) fn find_cr_lf_nul(input: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit set in each zero octet of `v`; a false one can only follow a true one, so
    // the lowest set bit is exact.
    let zeros = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut at = 0;
    while at < 32 {
        let Some(word) = input[at..].first_chunk::<8>() else {
            let tail = input[at..].iter().position(|&b| matches!(b, b'\r' | b'\n' | 0));
            return tail.map(|i| at + i);
        };
        let word = u64::from_le_bytes(*word);
        let found = zeros(word ^ (ONES * 0x0d)) | zeros(word ^ (ONES * 0x0a)) | zeros(word);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr3(b'\r', b'\n', 0, &input[at..]).map(|i| at + i)
}

/// What [`LineFramer::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Frame {
    /// `input[..len]` is one complete line, CRLF included.
    Line {
        /// Octets of the line, CRLF included.
        len: usize,
    },
    /// The current line is longer than the limit: drop `len` octets of `input`. When
    /// `ended` is true the overlong line is over (its CRLF was among the dropped octets)
    /// and the peer should get "500 5.5.6 Line too long".
    Overlong {
        /// Octets to drop from the front of the input.
        len: usize,
        /// The overlong line has ended.
        ended: bool,
    },
    /// No complete line yet: keep the input and read more.
    Incomplete,
}

/// Cuts a byte stream into CRLF-terminated lines of at most `limit` octets.
///
/// An overlong line is dropped as it arrives, in pieces, until its CRLF: the framer never
/// holds more than `limit` octets, and resynchronises on the next line.
///
/// ```
/// use sealpost_codec::{Frame, LineFramer};
///
/// let mut framer = LineFramer::new(16);
/// let mut input = b"NOOP\r\n".to_vec();
/// assert_eq!(framer.next_line(&input), Frame::Line { len: 6 });
///
/// input = vec![b'x'; 40];
/// assert_eq!(framer.next_line(&input), Frame::Overlong { len: 40, ended: false });
/// input = b"xx\r\nQUIT\r\n".to_vec();
/// assert_eq!(framer.next_line(&input), Frame::Overlong { len: 4, ended: true });
/// assert_eq!(framer.next_line(&input[4..]), Frame::Line { len: 6 });
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    limit: usize,
    discarding: bool,
}

impl LineFramer {
    /// A framer for lines of at most `limit` octets, CRLF included (at least 3).
    pub fn new(limit: usize) -> Self {
        LineFramer { limit: limit.max(3), discarding: false }
    }

    /// The line limit, CRLF included.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit for the lines that follow.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(3);
    }

    /// True while the rest of an overlong line is being dropped.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Looks for the next line at the start of `input`.
    pub fn next_line(&mut self, input: &[u8]) -> Frame {
        if self.discarding {
            return match find_crlf(input) {
                Some(at) => {
                    self.discarding = false;
                    Frame::Overlong { len: at + 2, ended: true }
                }
                // Keep a trailing CR: its LF may come in the next read.
                None if input.last() == Some(&b'\r') => match input.len() - 1 {
                    0 => Frame::Incomplete,
                    len => Frame::Overlong { len, ended: false },
                },
                None if input.is_empty() => Frame::Incomplete,
                None => Frame::Overlong { len: input.len(), ended: false },
            };
        }
        let window = &input[..input.len().min(self.limit)];
        if let Some(at) = find_crlf(window) {
            return Frame::Line { len: at + 2 };
        }
        if input.len() < self.limit {
            return Frame::Incomplete;
        }
        // Over the limit without a CRLF. The CRLF may straddle the limit ("...\r" at
        // limit-1 and "\n" at the limit): that line is one octet too long as well.
        self.discarding = true;
        self.next_line(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_cr_lf_nul_agrees_with_a_plain_search() {
        // Fillers next to the searched octets in value (0x01 after a NUL, 0x0c/0x0e around
        // CR, high octets) are what a word-at-a-time search could get wrong.
        let fillers = [b'a', 0x01, 0x09, 0x0b, 0x0c, 0x0e, 0x7f, 0x80, 0xff];
        for len in 0..80 {
            for filler in fillers {
                for at in 0..=len {
                    for special in [b'\r', b'\n', 0] {
                        let mut input = vec![filler; len];
                        if at < len {
                            input[at] = special;
                        }
                        // A second special octet later must not change the answer.
                        if at + 3 < len {
                            input[at + 3] = 0;
                        }
                        let expected = input.iter().position(|&b| matches!(b, b'\r' | b'\n' | 0));
                        assert_eq!(find_cr_lf_nul(&input), expected, "{input:?}");
                    }
                }
            }
        }
    }
}
