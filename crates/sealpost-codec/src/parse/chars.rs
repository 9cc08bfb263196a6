//! Character classes of RFC 5321 section 4.1.2 and RFC 6531 (SMTPUTF8).
//!
//! The classes scanned octet by octet in hot loops (`atext`, `Let-dig`, `Ldh`) are also
//! kept in a 256-entry table built at compile time from the definitions below: one load
//! per octet instead of a chain of range comparisons.

/// Bits of [`CLASSES`].
const ATEXT: u8 = 1;
const LET_DIG: u8 = 2;
const LDH: u8 = 4;
/// An octet of a `Dot-string` token: `atext`, "." or UTF-8 (RFC 6531).
pub(crate) const DOT_STRING: u8 = 8;
/// An octet of a `Domain` token: `Ldh`, "." or UTF-8 (U-labels, RFC 6531).
pub(crate) const DOMAIN: u8 = 16;
/// ".", "-" and octets above 0x7F, which the token scanners watch for.
pub(crate) const DOT: u8 = 32;
pub(crate) const HYPHEN: u8 = 64;
pub(crate) const NON_ASCII: u8 = 128;

/// The class bits of every octet.
static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut bits = 0;
        if atext(b) {
            bits |= ATEXT;
        }
        if b.is_ascii_alphanumeric() {
            bits |= LET_DIG;
        }
        if b.is_ascii_alphanumeric() || b == b'-' {
            bits |= LDH;
        }
        if atext(b) || b == b'.' || b >= 0x80 {
            bits |= DOT_STRING;
        }
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80 {
            bits |= DOMAIN;
        }
        if b == b'.' {
            bits |= DOT;
        }
        if b == b'-' {
            bits |= HYPHEN;
        }
        if b >= 0x80 {
            bits |= NON_ASCII;
        }
        table[i] = bits;
        i += 1;
    }
    table
};

/// The class bits of `b`.
#[inline]
pub(crate) fn class(b: u8) -> u8 {
    CLASSES[usize::from(b)]
}

/// `ALPHA / DIGIT`
#[inline]
pub(crate) fn is_let_dig(b: u8) -> bool {
    class(b) & LET_DIG != 0
}

/// `ALPHA / DIGIT / "-"`
#[inline]
pub(crate) fn is_ldh(b: u8) -> bool {
    class(b) & LDH != 0
}

/// `atext` of RFC 5322 section 3.2.3.
#[inline]
pub(crate) fn is_atext(b: u8) -> bool {
    class(b) & ATEXT != 0
}

/// The definition of `atext` the table is built from.
const fn atext(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
}

/// `qtextSMTP = %d32-33 / %d35-91 / %d93-126`
#[inline]
pub(crate) fn is_qtext_smtp(b: u8) -> bool {
    matches!(b, 32..=33 | 35..=91 | 93..=126)
}

/// `dcontent = %d33-90 / %d94-126`
#[inline]
pub(crate) fn is_dcontent(b: u8) -> bool {
    matches!(b, 33..=90 | 94..=126)
}

/// `esmtp-value = 1*(%d33-60 / %d62-126)`: printable ASCII except "=".
#[inline]
pub(crate) fn is_esmtp_value(b: u8) -> bool {
    matches!(b, 33..=60 | 62..=126)
}

/// `xchar = %d33-42 / %d44-60 / %d62-126` (RFC 3461 section 4): printable except "+" and "=".
#[inline]
pub(crate) fn is_xchar(b: u8) -> bool {
    matches!(b, 33..=42 | 44..=60 | 62..=126)
}

/// `HEXCHAR = %x30-39 / %x41-46` (RFC 3461 section 4): upper-case hex digits only.
#[inline]
pub(crate) fn is_hexchar(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'A'..=b'F')
}

/// Bytes of a UTF-8 sequence outside ASCII (`UTF8-non-ascii` of RFC 6532), checked
/// for well-formedness separately with `std::str::from_utf8`.
#[inline]
pub(crate) fn is_utf8_non_ascii(b: u8) -> bool {
    b >= 0x80
}

/// Printable text of a reply or command argument: anything but CR, LF and NUL.
#[inline]
pub(crate) fn is_text(b: u8) -> bool {
    !matches!(b, b'\r' | b'\n' | 0)
}
