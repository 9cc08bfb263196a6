//! An `Arbitrary` tree of MIME entities (multiparts with boundaries, preambles and
//! epilogues; leaves with media types, transfer encodings and content), rendered to the
//! bytes of a message, with what a correct reader must find in it.
//!
//! The encodings are made here with the `base64` and `quoted_printable` crates directly,
//! not with the code under test.

use base64::Engine as _;
use libfuzzer_sys::arbitrary::{self, Arbitrary};

/// A MIME entity.
#[derive(Arbitrary, Debug)]
pub enum Node {
    /// A single part.
    Leaf(Leaf),
    /// A multipart.
    Multipart(Multipart),
}

/// A single-part entity.
#[derive(Arbitrary, Debug)]
pub struct Leaf {
    /// Its Content-Type.
    pub media: Media,
    /// Its Content-Transfer-Encoding.
    pub encoding: Encoding,
    /// The content before encoding (lone CR and LF are made CRLF).
    pub content: Vec<u8>,
    /// A Content-Description field before Content-Type.
    pub description: Option<String>,
}

/// Leaf media types.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Media {
    /// No Content-Type field (text/plain by default).
    Absent,
    /// text/plain with a charset.
    TextPlain,
    /// text/html.
    TextHtml,
    /// application/octet-stream.
    Octets,
    /// message/rfc822 (composite: never re-encoded).
    Message,
}

/// Transfer encodings as labelled.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Encoding {
    /// No Content-Transfer-Encoding field.
    Absent,
    /// `7bit`.
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`.
    Binary,
    /// `base64`.
    Base64,
    /// `Quoted-Printable` (mixed case on purpose).
    QuotedPrintable,
}

/// A multipart entity.
#[derive(Arbitrary, Debug)]
pub struct Multipart {
    /// mixed, alternative, related, ...
    pub subtype: Subtype,
    /// The fuzzer's part of the boundary (filtered to RFC 2046 bchars without `=`); a
    /// unique `.N.` is appended, so that no boundary is another one with `--` or white
    /// space after it.
    pub boundary: String,
    /// Quote the boundary parameter even when it needs no quotes.
    pub quoted: bool,
    /// White space after each delimiter (allowed by RFC 2046, dropped by readers).
    pub padding: bool,
    /// Text before the first delimiter.
    pub preamble: Vec<u8>,
    /// Text after the close delimiter.
    pub epilogue: Vec<u8>,
    /// The parts.
    pub parts: Vec<Node>,
}

/// Multipart subtypes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Subtype {
    /// multipart/mixed.
    Mixed,
    /// multipart/alternative.
    Alternative,
    /// multipart/related.
    Related,
    /// multipart/signed (without being S/MIME).
    Signed,
}

/// What a reader must find: the same shape, and each leaf's content after decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// A leaf and its decoded content.
    Leaf(Vec<u8>),
    /// A multipart and its parts.
    Multipart(Vec<Expected>),
}

impl Expected {
    /// How many multipart levels deep the entity is (0 for a leaf).
    pub fn levels(&self) -> usize {
        match self {
            Expected::Leaf(_) => 0,
            Expected::Multipart(parts) => 1 + parts.iter().map(Expected::levels).max().unwrap_or(0),
        }
    }
}

/// A rendered entity: its bytes, what a reader must find, and whether the rendering is
/// unambiguous (no content happened to hold a delimiter line of an enclosing boundary).
pub struct Rendered {
    /// Header fields, empty line, body.
    pub bytes: Vec<u8>,
    /// What a reader must find.
    pub expected: Expected,
    /// False when some content holds a delimiter line: the expectation does not apply.
    pub unambiguous: bool,
}

/// Lone CR and LF made CRLF (what S/MIME canonicalises to anyway).
pub fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn header_text(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(60).collect()
}

/// Renders `node`; `counter` numbers the boundaries.
pub fn render(node: &Node, counter: &mut usize) -> Rendered {
    match node {
        Node::Leaf(leaf) => render_leaf(leaf),
        Node::Multipart(multi) => render_multipart(multi, counter),
    }
}

fn render_leaf(leaf: &Leaf) -> Rendered {
    let content = crlf(&leaf.content);
    let mut head = String::new();
    if let Some(d) = &leaf.description {
        head.push_str(&format!("Content-Description: {}\r\n", header_text(d)));
    }
    match leaf.media {
        Media::Absent => {}
        Media::TextPlain => head.push_str("Content-Type: text/plain; charset=utf-8\r\n"),
        Media::TextHtml => head.push_str("Content-Type: text/html\r\n"),
        Media::Octets => head.push_str("Content-Type: application/octet-stream\r\n"),
        Media::Message => head.push_str("Content-Type: message/rfc822\r\n"),
    }
    let (label, body) = match leaf.encoding {
        Encoding::Absent => (None, content.clone()),
        Encoding::SevenBit => (Some("7bit"), content.clone()),
        Encoding::EightBit => (Some("8bit"), content.clone()),
        Encoding::Binary => (Some("binary"), content.clone()),
        Encoding::Base64 => (Some("base64"), base64_lines(&content)),
        Encoding::QuotedPrintable => (Some("Quoted-Printable"), quoted_printable::encode(&content)),
    };
    if let Some(label) = label {
        head.push_str(&format!("Content-Transfer-Encoding: {label}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    Rendered { bytes, expected: Expected::Leaf(content), unambiguous: true }
}

fn base64_lines(data: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38);
    for line in text.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn render_multipart(multi: &Multipart, counter: &mut usize) -> Rendered {
    *counter += 1;
    let own: String = multi
        .boundary
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "'()+_,-./:?".contains(*c))
        .take(50)
        .collect();
    let boundary = format!("{own}.{counter}.");
    let subtype = match multi.subtype {
        Subtype::Mixed => "mixed",
        Subtype::Alternative => "alternative",
        Subtype::Related => "related",
        Subtype::Signed => "signed",
    };
    let needs_quotes = boundary.contains(|c: char| "()<>@,;:\\\"/[]?=".contains(c));
    let param =
        if multi.quoted || needs_quotes { format!("\"{boundary}\"") } else { boundary.clone() };
    let mut bytes =
        format!("Content-Type: multipart/{subtype}; boundary={param}\r\n\r\n").into_bytes();
    let pad: &[u8] = if multi.padding { b" \t" } else { b"" };
    let preamble = crlf(&multi.preamble);
    let mut unambiguous = !crate::mime::has_delimiter_line(&preamble, &boundary);
    bytes.extend_from_slice(&preamble);
    if !preamble.is_empty() && !preamble.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    let mut expected = Vec::with_capacity(multi.parts.len());
    for (i, part) in multi.parts.iter().enumerate() {
        let inner = render(part, counter);
        unambiguous &=
            inner.unambiguous && !crate::mime::has_delimiter_line(&inner.bytes, &boundary);
        if i > 0 {
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(format!("--{boundary}").as_bytes());
        bytes.extend_from_slice(pad);
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&inner.bytes);
        expected.push(inner.expected);
    }
    if !multi.parts.is_empty() {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--").as_bytes());
    bytes.extend_from_slice(pad);
    let epilogue = crlf(&multi.epilogue);
    if !epilogue.is_empty() {
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&epilogue);
    }
    Rendered { bytes, expected: Expected::Multipart(expected), unambiguous }
}

/// What the crate's own readers find in an entity: its shape and decoded leaves, or why
/// they could not read it.
pub fn read(entity: &[u8], depth: usize) -> Result<Expected, String> {
    use sealpost_smime::fuzzing;
    if depth > 64 {
        return Err("deeper than 64".into());
    }
    let (fields, body) = fuzzing::split(entity).map_err(|e| e.to_string())?;
    let (media, boundary, encoding) = fuzzing::content_type(&fields);
    if media.starts_with("multipart/") {
        let boundary = boundary.ok_or("multipart without boundary")?;
        let (_, parts, _) = fuzzing::split_multipart(body, &boundary).map_err(|e| e.to_string())?;
        let parts = parts.iter().map(|p| read(p, depth + 1)).collect::<Result<_, _>>()?;
        return Ok(Expected::Multipart(parts));
    }
    if body.is_empty() {
        // decode_body refuses an empty base64 body (an empty S/MIME part is an error).
        return Ok(Expected::Leaf(Vec::new()));
    }
    fuzzing::decode_body(&encoding, body).map(Expected::Leaf).map_err(|e| e.to_string())
}
