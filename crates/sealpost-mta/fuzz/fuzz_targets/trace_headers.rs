//! The header fields the MTA writes or cleans before delivery (`headers.rs`): a trace
//! field inserted at the top (`insert_trace_header`), forged Authentication-Results removed
//! by authserv-id (`remove_authentication_results`), and `Return-Path` (`return_path`), on
//! arbitrary messages.
//!
//! Properties: no panic; the body (from the first empty line on) is unchanged byte for
//! byte; a reader (mailparse) sees the inserted field first (after a leading Return-Path),
//! with the value that was inserted; after the removal a reader sees no
//! Authentication-Results field with our authserv-id; Return-Path is one CRLF line.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_codec::ReversePath;
use sealpost_mta::headers::{insert_trace_header, remove_authentication_results, return_path};

/// Our authserv-id.
const AUTHSERV_ID: &str = "mx.example";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Header lines, joined with the chosen line ending; bytes from 0xf0 up are replaced
    /// by pieces that make interesting headers likely.
    lines: Vec<&'a [u8]>,
    bare_lf: bool,
    body: &'a [u8],
    reverse_path: ReversePath<'a>,
}

/// Expands marker bytes into header-making pieces.
fn expand(line: &[u8], out: &mut Vec<u8>) {
    for &b in line {
        match b {
            0xf0 => out.extend_from_slice(b"Authentication-Results:"),
            0xf1 => out.extend_from_slice(AUTHSERV_ID.as_bytes()),
            0xf2 => out.extend_from_slice(b"MX.Example"),
            0xf3 => out.extend_from_slice(b"Return-Path:"),
            0xf4 => out.extend_from_slice(b" (comment) "),
            0xf5 => out.extend_from_slice(b"; smime=pass"),
            0xf6 => out.extend_from_slice(b"\r\n"),
            0xf7 => out.extend_from_slice(b"\r\n\t"),
            0xf8 => out.push(b'\r'),
            0xf9 => out.push(b'\n'),
            0xfa => out.push(0),
            _ => out.push(b),
        }
    }
}

/// Where the body starts: after the first empty line (CRLF or LF), the empty line
/// included in the header; the message length when there is none.
fn body_start(message: &[u8]) -> usize {
    let mut at = 0;
    loop {
        let rest = &message[at..];
        if rest.starts_with(b"\r\n") {
            return at + 2;
        }
        if rest.starts_with(b"\n") {
            return at + 1;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => at += nl + 1,
            None => return message.len(),
        }
    }
}

/// The authserv-id of an Authentication-Results value as RFC 8601 section 2.2 reads it:
/// after CFWS, the first token up to `;`, white space or a comment.
fn authserv_id(value: &[u8]) -> Vec<u8> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b'\\' if depth > 0 => i += 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if depth > 0 => {}
            _ => break,
        }
        i += 1;
    }
    let value = &value[i.min(value.len())..];
    let end = value.iter().position(|b| b";( \t\r\n".contains(b)).unwrap_or(value.len());
    value[..end].to_vec()
}

fuzz_target!(|input: Input<'_>| {
    let eol: &[u8] = if input.bare_lf { b"\n" } else { b"\r\n" };
    let mut message = Vec::new();
    for line in &input.lines {
        expand(line, &mut message);
        message.extend_from_slice(eol);
    }
    message.extend_from_slice(eol);
    message.extend_from_slice(input.body);
    let body = &message[body_start(&message)..];

    let path = return_path(&input.reverse_path);
    assert!(path.starts_with("Return-Path: <") && path.ends_with(">\r\n"), "{path:?}");
    assert!(!path[..path.len() - 2].contains(['\r', '\n', '\0']), "{path:?}");

    // Removal: whole fields go, the body stays, and a reader sees none of ours.
    let (cleaned, removed) = remove_authentication_results(&message, AUTHSERV_ID);
    assert!(cleaned.ends_with(body), "the body changed");
    assert!(cleaned.len() <= message.len() && (removed == 0) == (cleaned == message));
    if let Ok((headers, _)) = mailparse::parse_headers(&cleaned) {
        for h in &headers {
            if name_is(h, "Authentication-Results") {
                let id = authserv_id(h.get_value_raw());
                assert!(
                    !id.eq_ignore_ascii_case(AUTHSERV_ID.as_bytes()),
                    "a reader still sees our Authentication-Results: {:?}",
                    String::from_utf8_lossy(h.get_value_raw())
                );
            }
        }
    }

    // Insertion: the field goes first (after a leading Return-Path), the body stays.
    let field = format!("Authentication-Results: {AUTHSERV_ID}; smime=pass\r\n");
    let stamped = insert_trace_header(&cleaned, &field);
    assert_eq!(stamped.len(), cleaned.len() + field.len());
    assert!(stamped.ends_with(body), "the body changed");
    if let Ok((headers, _)) = mailparse::parse_headers(&stamped) {
        // Before ours a reader may see a leading Return-Path and lines that are no field
        // (they start with white space: nothing before them to continue).
        let orphan = |h: &&mailparse::MailHeader<'_>| h.get_key_ref().starts_with([' ', '\t']);
        let mut seen = headers.iter().skip_while(orphan);
        let mut next = seen.next();
        if next.is_some_and(|h| name_is(h, "Return-Path")) {
            next = seen.next();
        }
        let ours = next.map(|h| (h.get_key_ref().into_owned(), h.get_value_raw().to_vec()));
        assert_eq!(
            ours,
            Some((
                "Authentication-Results".to_owned(),
                format!("{AUTHSERV_ID}; smime=pass").into_bytes()
            )),
            "a reader does not see the inserted field as inserted: {:?}",
            String::from_utf8_lossy(&stamped)
        );
    }
});

/// Whether the header field `h` is named `name` (white space before the colon allowed).
fn name_is(h: &mailparse::MailHeader<'_>, name: &str) -> bool {
    h.get_key_ref().trim_end_matches([' ', '\t']).eq_ignore_ascii_case(name)
}
