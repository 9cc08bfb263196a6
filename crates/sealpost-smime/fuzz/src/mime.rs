//! Checks on what the crate's MIME readers return, written independently of them.

use sealpost_smime::fuzzing::{self, RawField};

/// True when every CR and LF in `bytes` is part of a CRLF pair.
pub fn only_crlf(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'\r' => bytes.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && bytes[i - 1] == b'\r',
        _ => true,
    })
}

/// Whether `text` has a line (at its start or after a CRLF) that RFC 2046 section 5.1.1
/// reads as a delimiter of `boundary`: `--boundary` or `--boundary--`, then only linear
/// white space up to the line end.
pub fn has_delimiter_line(text: &[u8], boundary: &str) -> bool {
    let delimiter = format!("--{boundary}");
    let mut line_start = 0;
    loop {
        let rest = &text[line_start..];
        if let Some(after) = rest.strip_prefix(delimiter.as_bytes()) {
            let after = after.strip_prefix(b"--").unwrap_or(after);
            let line = after.split(|&b| b == b'\n').next().unwrap_or_default();
            if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                return true;
            }
        }
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => line_start += i + 2,
            None => return false,
        }
    }
}

/// `split` of CRLF-canonical input gives fields and a body that put together are the input
/// again (a header without its empty line gets a CRLF added to its last field only).
pub fn check_split(input: &[u8], fields: &[RawField], body: &[u8]) {
    let header: Vec<u8> = fields.iter().flat_map(|(_, raw)| raw.iter().copied()).collect();
    for (name, raw) in fields {
        assert!(raw.ends_with(b"\r\n"), "field {name:?} does not end in CRLF: {raw:?}");
        assert!(
            raw.len() > name.len() && raw[..name.len()] == *name.as_bytes(),
            "field {name:?} does not start with its name: {raw:?}"
        );
    }
    let whole = [&header[..], b"\r\n", body].concat();
    let header_only = body.is_empty()
        && (header == input || (header.ends_with(b"\r\n") && header[..header.len() - 2] == *input));
    assert!(whole == input || header_only, "split lost or added bytes: {input:?}");
}

/// `split_multipart` gives a preamble that starts the body, an epilogue that ends it, and
/// parts in order between them, none of which holds a delimiter line of its own boundary.
pub fn check_multipart(
    body: &[u8],
    boundary: &str,
    preamble: &[u8],
    parts: &[&[u8]],
    epilogue: &[u8],
) {
    let offset = |s: &[u8]| (s.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    assert_eq!(offset(preamble), 0, "the preamble is not at the start");
    assert_eq!(offset(epilogue) + epilogue.len(), body.len(), "the epilogue is not at the end");
    let mut at = preamble.len();
    for part in parts {
        let start = offset(part);
        assert!(
            start >= at && start + part.len() <= body.len(),
            "parts overlap or are out of order"
        );
        assert!(!has_delimiter_line(part, boundary), "a part holds a delimiter line: {part:?}");
        at = start + part.len();
    }
    assert!(offset(epilogue) >= at, "the epilogue overlaps a part");
    assert!(!has_delimiter_line(preamble, boundary), "the preamble holds a delimiter line");
}

/// The header bytes, the detached signature (DER) and the signed entity of a
/// multipart/signed message made by the library.
pub fn detached_parts(signed: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (fields, body) = fuzzing::split(signed).expect("signed message header");
    let (_, boundary, _) = fuzzing::content_type(&fields);
    let boundary = boundary.expect("multipart/signed boundary");
    let (_, parts, _) = fuzzing::split_multipart(body, &boundary).expect("two parts");
    let (sig_fields, sig_body) = fuzzing::split(parts[1]).expect("signature part");
    let (_, _, encoding) = fuzzing::content_type(&sig_fields);
    let der = fuzzing::decode_body(&encoding, sig_body).expect("signature base64");
    let header = fields.into_iter().flat_map(|(_, raw)| raw).collect();
    (header, der, parts[0].to_vec())
}
