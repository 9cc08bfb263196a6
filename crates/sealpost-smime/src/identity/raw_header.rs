//! The From and Sender fields as written, before verification makes every line ending
//! CRLF: a NUL, a bare CR or a bare LF inside them is where two readers part ways (one ends
//! the line, one drops the octet, one keeps it), so they are found on the raw bytes.

use memchr::memchr;

use super::outcome::{FieldDefect, OriginatorField};

/// The defect of each From or Sender field of a message's header, in order (a field
/// without a defect is left out).
///
/// The line ending most header lines use sets the convention: CRLF (as on the wire) or LF
/// (a file on disk). In a CRLF message a lone CR or LF inside a field is bare; in an LF
/// message any CR is. (The body does not count: `openssl cms -sign -crlfeol`, for one,
/// writes a CRLF header and base64 lines that end in LF.)
pub(crate) fn originator_defects(message: &[u8]) -> Vec<(OriginatorField, FieldDefect)> {
    // The header ends at the first empty line, whichever its ending.
    let end = memchr::memmem::find_iter(message, b"\n")
        .find(|&i| match message.get(i + 1) {
            Some(b'\n') => true,
            Some(b'\r') => message.get(i + 2) == Some(&b'\n'),
            _ => false,
        })
        .map_or(message.len(), |i| i + 1);
    let header = &message[..end];
    let lf = memchr::memchr_iter(b'\n', header).count();
    let crlf = memchr::memmem::find_iter(header, b"\r\n").count();
    let crlf = crlf * 2 >= lf;
    let mut out = Vec::new();
    for field in fields(message, crlf) {
        let Some(kind) = originator(field) else { continue };
        if let Some(defect) = defect(field, crlf) {
            out.push((kind, defect));
        }
    }
    out
}

/// The defect of a field value handed over as a string (no line endings expected but
/// folding, CRLF followed by white space).
pub(crate) fn value_defect(value: &str) -> Option<FieldDefect> {
    defect(value.as_bytes(), true)
}

/// The header fields (folded lines joined), each with its line endings, up to the empty
/// line. Bounded: each step consumes at least one octet.
fn fields(message: &[u8], crlf: bool) -> Vec<&[u8]> {
    let ending: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut lines = Vec::new();
    let mut pos = 0;
    while pos < message.len() {
        let end = memchr::memmem::find(&message[pos..], ending)
            .map_or(message.len(), |i| pos + i + ending.len());
        let line = &message[pos..end];
        if line == ending {
            break;
        }
        lines.push((pos, end));
        pos = end;
    }
    let mut fields: Vec<(usize, usize)> = Vec::new();
    for (start, end) in lines {
        let continuation = matches!(message[start], b' ' | b'\t');
        match fields.last_mut() {
            Some(last) if continuation => last.1 = end,
            _ => fields.push((start, end)),
        }
    }
    fields.into_iter().map(|(s, e)| &message[s..e]).collect()
}

/// Whether the field is From or Sender (names are case-insensitive, RFC 5322 section
/// 1.2.2; white space before the colon is the obsolete syntax of section 4.5).
fn originator(field: &[u8]) -> Option<OriginatorField> {
    let colon = memchr(b':', field)?;
    let name = field[..colon].trim_ascii_end();
    if name.eq_ignore_ascii_case(b"From") {
        Some(OriginatorField::From)
    } else if name.eq_ignore_ascii_case(b"Sender") {
        Some(OriginatorField::Sender)
    } else {
        None
    }
}

/// The first defect of a field's bytes. Line endings of the convention (those that end
/// the field or fold it) are fine; anything else that ends a line somewhere is not.
fn defect(field: &[u8], crlf: bool) -> Option<FieldDefect> {
    if memchr(0, field).is_some() {
        return Some(FieldDefect::Nul);
    }
    for (i, &b) in field.iter().enumerate() {
        let next = field.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|p| field[p]);
        match b {
            b'\r' if !crlf || next != Some(b'\n') => return Some(FieldDefect::BareCr),
            b'\n' if crlf && prev != Some(b'\r') => return Some(FieldDefect::BareLf),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message and the defects of its originator fields.
    type Row = (&'static [u8], &'static [(OriginatorField, FieldDefect)]);

    #[test]
    fn table() {
        use FieldDefect::*;
        use OriginatorField::{From as F, Sender as S};
        let rows: &[Row] = &[
            (b"From: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n", &[]),
            (b"From: a@example.org\nSender: b@example.org\n\nbody\n", &[]),
            (b"From: A\r\n <a@example.org>\r\n\r\n", &[]),
            (b"From: a@example.org\0\r\n\r\n", &[(F, Nul)]),
            (b"From: a@example.org\r <m@example.net>\r\n\r\n", &[(F, BareCr)]),
            (b"From: a@example.org\n <m@example.net>\r\n\r\n", &[(F, BareLf)]),
            (b"From: a@example.org\r\nsender : b\rc\r\n\r\n", &[(S, BareCr)]),
            (b"Sender: b\rc\r\nFrom: a\n@example.org\r\n\r\n", &[(S, BareCr), (F, BareLf)]),
            (b"From: a@example.org\r\n\r\nSender: b\0\r\n", &[]),
            (b"From: a@example.org\nTo: c\nSender: b\r\n\n", &[(S, BareCr)]),
            // A tie goes to CRLF, the wire's line ending.
            (b"From: a@example.org\nSender: b\r\n\n", &[(F, BareLf)]),
            (b"Subject: x\r\ny\0\r\n", &[]),
            // A CRLF header over a body whose lines end in LF (openssl's base64).
            (b"From: a@example.org\r\nTo: b\r\n\r\nAAAA\nAAAA\nAAAA\nAAAA\n", &[]),
            (b"From: a@example.org\n\n", &[]),
        ];
        for (message, expected) in rows {
            assert_eq!(
                originator_defects(message),
                expected.to_vec(),
                "{:?}",
                String::from_utf8_lossy(message)
            );
        }
        assert_eq!(value_defect("Alice\r\n <a@example.org>"), None);
        assert_eq!(value_defect("a@example.org\n"), Some(BareLf));
    }
}
