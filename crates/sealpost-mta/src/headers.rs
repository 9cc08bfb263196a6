//! Header fields the MTA writes or cleans before final delivery: `Return-Path` (RFC 5321
//! section 4.4), trace fields added at the top, and forged `Authentication-Results`
//! removed (RFC 8601 section 5).

use sealpost_codec::ReversePath;

/// `Return-Path: <sender>` for final delivery (RFC 5321 section 4.4).
pub fn return_path(reverse_path: &ReversePath<'_>) -> String {
    format!("Return-Path: {reverse_path}\r\n")
}

/// The length of the header field that starts at `start` (its first line and its folded
/// continuation lines, each with its line ending).
fn field_len(message: &[u8], start: usize) -> usize {
    let mut end = start;
    loop {
        let Some(nl) = find_lf(&message[end..]) else { return message.len() - start };
        end += nl + 1;
        if !matches!(message.get(end), Some(b' ' | b'\t')) {
            return end - start;
        }
    }
}

fn find_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// The header fields of `message`: (start, length) of each, in order, up to the empty
/// line that ends the header section (or the end of the message).
fn fields(message: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < message.len() && !matches!(message[at], b'\r' | b'\n') {
        let len = field_len(message, at);
        out.push((at, len));
        at += len;
    }
    out
}

/// Whether the field at `field` is named `name` (case-insensitive).
fn is_named(field: &[u8], name: &str) -> bool {
    field.len() > name.len()
        && field[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && field[name.len()..].iter().find(|b| !matches!(b, b' ' | b'\t')) == Some(&b':')
}

/// Inserts a complete header field (ending in CRLF) at the top of the message, after a
/// leading `Return-Path:` (which RFC 5321 section 4.4 wants first), so it sits with the
/// trace fields of this hop. A header that starts with continuation lines (white space,
/// and no field before them to continue) keeps them first: put after them, the field
/// cannot be folded into by what the sender wrote.
///
/// ```
/// # use sealpost_mta::headers::insert_trace_header;
/// let message = b"Return-Path: <a@b.example>\r\nReceived: from x\r\n\r\nbody\r\n";
/// let out = insert_trace_header(message, "Authentication-Results: mx.example; none\r\n");
/// assert!(out.starts_with(b"Return-Path: <a@b.example>\r\nAuthentication-Results: "));
/// assert_eq!(insert_trace_header(b"\r\nbody", "X: y\r\n"), b"X: y\r\n\r\nbody");
/// ```
pub fn insert_trace_header(message: &[u8], field: &str) -> Vec<u8> {
    let at = match fields(message).first() {
        Some(&(start, len)) if is_named(&message[start..start + len], "Return-Path") => len,
        Some(&(start, len)) if matches!(message[start], b' ' | b'\t') => len,
        _ => 0,
    };
    let mut out = Vec::with_capacity(message.len() + field.len());
    out.extend_from_slice(&message[..at]);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(&message[at..]);
    out
}

/// The authserv-id of an `Authentication-Results` field value (RFC 8601 section 2.2):
/// the first token after optional whitespace and comments.
fn authserv_id_of(value: &[u8]) -> &[u8] {
    let mut at = 0;
    let mut depth = 0usize;
    while at < value.len() {
        match value[at] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'\\' if depth > 0 => at += 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if depth > 0 => {}
            _ => break,
        }
        at += 1;
    }
    let start = at.min(value.len());
    let end = value[start..]
        .iter()
        .position(|b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b'('))
        .map_or(value.len(), |n| start + n);
    &value[start..end]
}

/// Removes every `Authentication-Results` field whose authserv-id is `authserv_id`
/// (compared case-insensitively): RFC 8601 section 5 wants a border MTA to delete the
/// results that claim to come from it before it adds its own, or a sender could forge
/// them. Returns the message and how many fields went.
///
/// ```
/// # use sealpost_mta::headers::remove_authentication_results;
/// let message = b"Authentication-Results: (forged) MX.example;\r\n smime=pass\r\n\
///     Authentication-Results: other.example; smime=fail\r\nSubject: x\r\n\r\nbody\r\n";
/// let (out, removed) = remove_authentication_results(message, "mx.example");
/// assert_eq!(removed, 1);
/// assert_eq!(out, b"Authentication-Results: other.example; smime=fail\r\nSubject: x\r\n\r\nbody\r\n");
/// ```
pub fn remove_authentication_results(message: &[u8], authserv_id: &str) -> (Vec<u8>, usize) {
    const NAME: &str = "Authentication-Results";
    let mut out = Vec::with_capacity(message.len());
    let mut copied = 0;
    let mut removed = 0;
    for (start, len) in fields(message) {
        let field = &message[start..start + len];
        if !is_named(field, NAME) {
            continue;
        }
        let colon = field.iter().position(|&b| b == b':').map_or(field.len(), |n| n + 1);
        if authserv_id_of(&field[colon..]).eq_ignore_ascii_case(authserv_id.as_bytes()) {
            out.extend_from_slice(&message[copied..start]);
            copied = start + len;
            removed += 1;
        }
    }
    out.extend_from_slice(&message[copied..]);
    (out, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authserv_ids_skip_comments_and_stop_at_the_version_or_semicolon() {
        for (value, id) in [
            (&b" mx.example; none"[..], &b"mx.example"[..]),
            (b" (a (nested) comment) mx.example 1; none", b"mx.example"),
            (b"\r\n\tmx.example;", b"mx.example"),
            (b" (only a comment)", b""),
            (b"", b""),
        ] {
            assert_eq!(authserv_id_of(value), id, "{:?}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn only_header_fields_are_touched() {
        // A body line that looks like the field is content, not a header.
        let message = b"Subject: x\r\n\r\nAuthentication-Results: mx.example; smime=pass\r\n";
        let (out, removed) = remove_authentication_results(message, "mx.example");
        assert_eq!((out.as_slice(), removed), (&message[..], 0));
        // A field whose name only starts the same is another field.
        let message = b"Authentication-Results-Original: mx.example; x\r\n\r\n";
        assert_eq!(remove_authentication_results(message, "mx.example").1, 0);
        // Folded fields go whole; a name with space before the colon is the same field.
        let message =
            b"Authentication-Results : mx.example;\r\n\tsmime=pass\r\n (c)\r\nA: b\r\n\r\n";
        let (out, removed) = remove_authentication_results(message, "MX.EXAMPLE");
        assert_eq!((out.as_slice(), removed), (&b"A: b\r\n\r\n"[..], 1));
    }

    #[test]
    fn trace_headers_go_after_return_path_only() {
        let field = "X: y\r\n";
        assert_eq!(
            insert_trace_header(b"Subject: s\r\n\r\nb", field),
            b"X: y\r\nSubject: s\r\n\r\nb"
        );
        assert_eq!(
            insert_trace_header(b"Return-Path: <>\r\nSubject: s\r\n\r\nb", field),
            b"Return-Path: <>\r\nX: y\r\nSubject: s\r\n\r\nb"
        );
        assert_eq!(insert_trace_header(b"", field), b"X: y\r\n");
    }

    /// Found by fuzzing: a message that starts with a continuation line folded it into
    /// the inserted field, so a reader saw `X: y\r\n\tforged` as the field's value.
    #[test]
    fn leading_continuation_lines_cannot_fold_into_the_inserted_field() {
        let field = "X: y\r\n";
        assert_eq!(
            insert_trace_header(b"\tforged\r\n more\r\nSubject: s\r\n\r\nb", field),
            b"\tforged\r\n more\r\nX: y\r\nSubject: s\r\n\r\nb"
        );
        assert_eq!(insert_trace_header(b" forged\n\nb", field), b" forged\nX: y\r\n\nb");
    }
}
