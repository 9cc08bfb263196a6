//! Reading and writing the MIME around CMS: header fields kept byte for byte, CRLF
//! canonical form, transfer encodings, boundaries that cannot collide with the content, and
//! header folding. Values of fields (Content-Type parameters, addresses) are parsed with
//! mailparse; the structure (where a field or a part starts and ends) is found here, so that
//! the bytes signed are exactly the bytes sent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memchr::memmem;

use crate::error::{Error, Result};

/// RFC 5322 section 2.1.1: a line is at most 998 octets plus CRLF.
const MAX_LINE: usize = 998;
/// Width of base64 and quoted-printable lines (RFC 2045 section 6.7, 6.8).
const LINE_WIDTH: usize = 76;
/// Multiparts nested deeper than this are refused: real mail nests a few levels, and each
/// level costs a stack frame and a copy of the part.
pub(crate) const MAX_MULTIPART_DEPTH: usize = 32;

/// The bytes with every line ending made CRLF (a lone LF or lone CR becomes CRLF): the
/// canonical form that S/MIME signs (RFC 8551 section 3.1.1).
pub(crate) fn canonicalize(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if is_canonical(input) {
        // Most mail already is: no copy of a large message.
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Whether every CR is followed by LF and every LF preceded by CR.
fn is_canonical(input: &[u8]) -> bool {
    let mut prev = 0u8;
    for (i, &b) in input.iter().enumerate() {
        match b {
            b'\n' if prev != b'\r' => return false,
            b'\r' if input.get(i + 1) != Some(&b'\n') => return false,
            _ => {}
        }
        prev = b;
    }
    true
}

/// One header field, kept as it was written (folding included, CRLF-terminated).
#[derive(Clone, Debug)]
pub(crate) struct Field {
    /// The field name as written.
    pub(crate) name: String,
    /// The whole field: name, colon, value, folding, final CRLF.
    pub(crate) raw: Vec<u8>,
}

impl Field {
    /// A new field from a name and an already folded value.
    pub(crate) fn new(name: &str, value: &str) -> Self {
        Field { name: name.to_owned(), raw: format!("{name}: {value}\r\n").into_bytes() }
    }

    /// Whether the field has this name (case-insensitive).
    pub(crate) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether this is a Content-* field: one that describes the body entity (RFC 2045).
    pub(crate) fn is_content(&self) -> bool {
        self.name.len() > 8 && self.name[..8].eq_ignore_ascii_case("content-")
    }

    /// The unfolded value, as mailparse decodes it.
    pub(crate) fn value(&self) -> String {
        match mailparse::parse_header(&self.raw) {
            Ok((header, _)) => header.get_value(),
            Err(_) => String::new(),
        }
    }
}

/// A message or entity split into its header fields and its body.
#[derive(Debug)]
pub(crate) struct Entity<'a> {
    /// The header fields in order.
    pub(crate) fields: Vec<Field>,
    /// The body (everything after the empty line).
    pub(crate) body: &'a [u8],
}

/// Splits CRLF-canonical bytes into header fields and body. Without an empty line, the
/// whole input is header and the body is empty.
pub(crate) fn split(input: &[u8]) -> Result<Entity<'_>> {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    // Bounded: every iteration consumes one line.
    while pos < input.len() {
        let end = memmem::find(&input[pos..], b"\r\n").map_or(input.len(), |i| pos + i + 2);
        let line = &input[pos..end];
        if line == b"\r\n" {
            return Ok(Entity { fields, body: &input[end..] });
        }
        if line[0] == b' ' || line[0] == b'\t' {
            let Some(last) = fields.last_mut() else {
                return Err(Error::Mime("the header starts with a continuation line".into()));
            };
            last.raw.extend_from_slice(line);
            // The last line of a header without an empty line may lack its CRLF: a field
            // must end with one, or the next field written after it would join it.
            if !last.raw.ends_with(b"\r\n") {
                last.raw.extend_from_slice(b"\r\n");
            }
        } else {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(Error::Mime(format!(
                    "header line without a colon: {:?}",
                    String::from_utf8_lossy(&line[..line.len().min(60)])
                )));
            };
            let name = std::str::from_utf8(&line[..colon])
                .map_err(|_| Error::Mime("a header field name is not ASCII".into()))?
                .trim_end();
            if name.is_empty() || name.bytes().any(|b| !(33..=126).contains(&b)) {
                return Err(Error::Mime(format!("bad header field name {name:?}")));
            }
            let mut raw = line.to_vec();
            if !raw.ends_with(b"\r\n") {
                raw.extend_from_slice(b"\r\n");
            }
            fields.push(Field { name: name.to_owned(), raw });
        }
        pos = end;
    }
    Ok(Entity { fields, body: &input[input.len()..] })
}

/// The first field with this name.
pub(crate) fn field<'f>(fields: &'f [Field], name: &str) -> Option<&'f Field> {
    fields.iter().find(|f| f.is(name))
}

/// The Content-Type: lower-case media type and parameters (RFC 2045 default
/// `text/plain` when absent).
/// Whether a media type is S/MIME's CMS wrapper (RFC 8551 section 3.2; the `x-` form is
/// what older agents write).
pub(crate) fn is_pkcs7_mime(mimetype: &str) -> bool {
    matches!(mimetype, "application/pkcs7-mime" | "application/x-pkcs7-mime")
}

pub(crate) fn content_type(fields: &[Field]) -> mailparse::ParsedContentType {
    match field(fields, "Content-Type") {
        Some(f) => mailparse::parse_content_type(&f.value()),
        None => mailparse::parse_content_type("text/plain; charset=us-ascii"),
    }
}

/// The Content-Transfer-Encoding, lower case (`7bit` when absent).
pub(crate) fn transfer_encoding(fields: &[Field]) -> String {
    field(fields, "Content-Transfer-Encoding")
        .map_or_else(|| "7bit".to_owned(), |f| f.value().trim().to_ascii_lowercase())
}

/// Decodes a body per its transfer encoding.
pub(crate) fn decode_body(encoding: &str, body: &[u8]) -> Result<Vec<u8>> {
    match encoding {
        "base64" => decode_base64(body),
        // Robust mode (RFC 2045 section 6.7's advice to decoders): a malformed escape is
        // kept as written, trailing white space is dropped; it never fails.
        "quoted-printable" => quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
            .map_err(|e| Error::Mime(e.to_string())),
        "7bit" | "8bit" | "binary" | "" => Ok(body.to_vec()),
        other => Err(Error::Mime(format!("unknown Content-Transfer-Encoding {other:?}"))),
    }
}

/// Decodes MIME base64: whitespace and line breaks are skipped; anything else that is not
/// base64 is an error.
pub(crate) fn decode_base64(body: &[u8]) -> Result<Vec<u8>> {
    // Line by line into one buffer: no whitespace-free copy of a large part. From the first
    // line whose length is not a multiple of 4 (unusual wrapping), the rest is collected and
    // decoded in one piece.
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let mut rest: Vec<u8> = Vec::new();
    let mut padded = false;
    for line in body.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let regular = line.len() % 4 == 0 && !line.iter().any(u8::is_ascii_whitespace);
        if rest.is_empty() && regular && !padded {
            STANDARD.decode_vec(line, &mut out).map_err(Error::Base64)?;
            padded = line.ends_with(b"=");
        } else if padded {
            return Err(Error::Base64(base64::DecodeError::InvalidPadding));
        } else {
            rest.extend(line.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        }
    }
    if !rest.is_empty() {
        let tail = STANDARD.decode(&rest).map_err(Error::Base64)?;
        out.extend_from_slice(&tail);
    }
    if out.is_empty() {
        return Err(Error::NotSmime("the S/MIME part is empty".into()));
    }
    Ok(out)
}

/// Encodes as base64 in CRLF-terminated lines of 76 characters.
pub(crate) fn encode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_base64_into(data, &mut out);
    out
}

/// The length of [`encode_base64`]'s output.
pub(crate) fn base64_len(data_len: usize) -> usize {
    let text = data_len.div_ceil(3) * 4;
    text + text.div_ceil(LINE_WIDTH) * 2
}

/// Appends base64 in CRLF-terminated lines of 76 characters (57 input bytes per line), with
/// no intermediate copy of the whole encoding.
pub(crate) fn encode_base64_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(base64_len(data.len()));
    let mut line = [0u8; LINE_WIDTH];
    for chunk in data.chunks(LINE_WIDTH / 4 * 3) {
        let n = STANDARD.encode_slice(chunk, &mut line).unwrap_or(0);
        out.extend_from_slice(&line[..n]);
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether a body needs a 7-bit transfer encoding: 8-bit bytes, NUL, or over-long lines.
fn needs_encoding(body: &[u8]) -> bool {
    body.iter().any(|&b| b >= 0x80 || b == 0)
        || body.split(|&b| b == b'\n').any(|line| line.len() > MAX_LINE + 1)
}

/// The entity with 7-bit transfer encodings wherever a part has 8-bit content (RFC 8551
/// section 3.1.2: relays may re-encode 8-bit data, which would break the signature).
/// Multipart bodies are walked part by part; unchanged parts keep their bytes.
pub(crate) fn seven_bit(fields: Vec<Field>, body: &[u8], depth: usize) -> Result<Vec<u8>> {
    let ct = content_type(&fields);
    let cte = transfer_encoding(&fields);
    if ct.mimetype.starts_with("multipart/")
        && let Some(boundary) = ct.params.get("boundary")
    {
        // Refused rather than left as it is: a part below the limit would keep its 8-bit
        // content, which a relay may re-encode and so break the signature.
        if depth >= MAX_MULTIPART_DEPTH {
            return Err(Error::MultipartTooDeep(MAX_MULTIPART_DEPTH));
        }
        let parts = split_multipart(body, boundary)?;
        let mut rebuilt = Vec::with_capacity(body.len() + 64);
        rebuilt.extend_from_slice(parts.preamble);
        for part in &parts.parts {
            rebuilt.extend_from_slice(b"--");
            rebuilt.extend_from_slice(boundary.as_bytes());
            rebuilt.extend_from_slice(b"\r\n");
            let entity = split(part)?;
            let inner = seven_bit(entity.fields, entity.body, depth + 1)?;
            rebuilt.extend_from_slice(&inner);
            rebuilt.extend_from_slice(b"\r\n");
        }
        rebuilt.extend_from_slice(b"--");
        rebuilt.extend_from_slice(boundary.as_bytes());
        rebuilt.extend_from_slice(b"--");
        rebuilt.extend_from_slice(parts.epilogue);
        return Ok(join(&fields, &rebuilt));
    }
    if ct.mimetype.starts_with("message/") || ct.mimetype.starts_with("multipart/") {
        // RFC 2046: composite types take no base64 / quoted-printable.
        return Ok(join(&fields, body));
    }
    let relabel = matches!(cte.as_str(), "8bit" | "binary");
    if !needs_encoding(body) {
        if relabel {
            let mut fields = without(fields, "Content-Transfer-Encoding");
            fields.push(Field::new("Content-Transfer-Encoding", "7bit"));
            return Ok(join(&fields, body));
        }
        return Ok(join(&fields, body));
    }
    if !matches!(cte.as_str(), "7bit" | "8bit" | "binary") {
        // Already base64 or quoted-printable: 8-bit bytes here are the sender's error;
        // sign what is there rather than guess.
        return Ok(join(&fields, body));
    }
    let (encoding, encoded) = if ct.mimetype.starts_with("text/") {
        // Text mode: CRLF stays a hard line break; lines are soft-broken at 76 characters
        // and white space before a line end is escaped (RFC 2045 section 6.7).
        ("quoted-printable", quoted_printable::encode(body))
    } else {
        ("base64", encode_base64(body))
    };
    let mut fields = without(fields, "Content-Transfer-Encoding");
    fields.push(Field::new("Content-Transfer-Encoding", encoding));
    Ok(join(&fields, &encoded))
}

fn without(fields: Vec<Field>, name: &str) -> Vec<Field> {
    fields.into_iter().filter(|f| !f.is(name)).collect()
}

/// Header fields, the empty line, and the body.
pub(crate) fn join(fields: &[Field], body: &[u8]) -> Vec<u8> {
    let len = fields.iter().map(|f| f.raw.len()).sum::<usize>() + 2 + body.len();
    let mut out = Vec::with_capacity(len);
    for f in fields {
        out.extend_from_slice(&f.raw);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The parts of a multipart body (RFC 2046 section 5.1.1), exactly as written: each part
/// runs from after its delimiter line's CRLF to before the CRLF that precedes the next
/// delimiter.
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    /// Everything before the first delimiter, with the CRLF that belongs to it.
    pub(crate) preamble: &'a [u8],
    /// The parts in order.
    pub(crate) parts: Vec<&'a [u8]>,
    /// Everything after the close delimiter `--boundary--`.
    pub(crate) epilogue: &'a [u8],
}

/// Splits a multipart body at `boundary`.
pub(crate) fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Parts<'a>> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(Error::Mime(format!("bad multipart boundary {boundary:?}")));
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // Positions of delimiter lines: at the start, or after a CRLF.
    let mut starts: Vec<(usize, usize, bool)> = Vec::new(); // (line start, after line, close)
    let mut pos = 0;
    while pos <= body.len() {
        let at_line_start = pos == 0 || body[..pos].ends_with(b"\r\n");
        if at_line_start && body[pos..].starts_with(delimiter) {
            let after = pos + delimiter.len();
            let close = body[after..].starts_with(b"--");
            let line_end =
                memmem::find(&body[after..], b"\r\n").map_or(body.len(), |i| after + i + 2);
            // Only linear white space may follow the boundary on its line.
            let tail = &body[after + if close { 2 } else { 0 }..line_end];
            if tail.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                starts.push((pos, if close { after + 2 } else { line_end }, close));
                if close {
                    break;
                }
                pos = line_end;
                continue;
            }
        }
        match memmem::find(&body[pos..], b"\r\n") {
            Some(i) => pos += i + 2,
            None => break,
        }
    }
    let Some(&(first, _, _)) = starts.first() else {
        return Err(Error::Mime(format!("no part delimited by boundary {boundary:?}")));
    };
    let Some(&(_, after_close, true)) = starts.last() else {
        return Err(Error::Mime(format!(
            "multipart body without its close delimiter --{boundary}-- (truncated?)"
        )));
    };
    let mut parts = Vec::with_capacity(starts.len());
    for pair in starts.windows(2) {
        let (_, content_start, _) = pair[0];
        let (next, _, _) = pair[1];
        // The CRLF before a delimiter belongs to the delimiter.
        let end = next.saturating_sub(2).max(content_start);
        parts.push(&body[content_start..end]);
    }
    Ok(Parts { preamble: &body[..first], parts, epilogue: &body[after_close..] })
}

/// A boundary that occurs nowhere in `content` (RFC 2046 section 5.1.1: it must not appear
/// inside the encapsulated parts). Random, checked, and retried a bounded number of times.
pub(crate) fn new_boundary(content: &[u8]) -> Result<String> {
    for _ in 0..16 {
        let mut random = [0u8; 18];
        openssl::rand::rand_bytes(&mut random)?;
        let boundary = format!(
            "=_sealpost_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        if memmem::find(content, boundary.as_bytes()).is_none() {
            return Ok(boundary);
        }
    }
    Err(Error::Mime("could not find a boundary absent from the content".into()))
}

/// A header field with parameters, folded before 78 characters where a parameter would
/// pass it (RFC 5322 section 2.2.3).
pub(crate) fn folded(name: &str, value: &str, params: &[(&str, String)]) -> Field {
    let mut text = format!("{name}: {value}");
    let mut line_len = text.len();
    for (key, val) in params {
        let needs_quotes = val.is_empty()
            || val.bytes().any(|b| b" ()<>@,;:\\\"/[]?=".contains(&b) || !(33..=126).contains(&b));
        let param = if needs_quotes { format!("{key}=\"{val}\"") } else { format!("{key}={val}") };
        if line_len + 2 + param.len() > 78 {
            text.push_str(";\r\n\t");
            line_len = 1 + param.len();
        } else {
            text.push_str("; ");
            line_len += 2 + param.len();
        }
        text.push_str(&param);
    }
    text.push_str("\r\n");
    Field { name: name.to_owned(), raw: text.into_bytes() }
}

/// The message split into the fields that stay outside (From, To, Subject, ...) and the
/// body entity (its Content-* fields and body, 7-bit encoded): what S/MIME signs or
/// encrypts (RFC 8551 section 3.1).
pub(crate) fn body_entity<M: AsRef<[u8]>>(message: M) -> Result<(Vec<Field>, Vec<u8>)> {
    let canonical = canonicalize(message.as_ref());
    let parsed = split(&canonical)?;
    if parsed.fields.is_empty() {
        return Err(Error::Mime("the message has no header fields".into()));
    }
    let (content, outer): (Vec<Field>, Vec<Field>) =
        parsed.fields.into_iter().partition(Field::is_content);
    let outer: Vec<Field> = outer.into_iter().filter(|f| !f.is("MIME-Version")).collect();
    let mut content = content;
    if field(&content, "Content-Type").is_none() {
        content.insert(0, Field::new("Content-Type", "text/plain; charset=us-ascii"));
    }
    let entity = seven_bit(content, parsed.body, 0)?;
    Ok((outer, entity))
}

/// The outer fields, `MIME-Version: 1.0`, the new Content-* fields and the empty line,
/// in a buffer with room for `body_len` more bytes.
pub(crate) fn wrap_header(outer: &[Field], content: &[Field], body_len: usize) -> Vec<u8> {
    let version = Field::new("MIME-Version", "1.0");
    let fields: Vec<&Field> = outer.iter().chain([&version]).chain(content).collect();
    let len = fields.iter().map(|f| f.raw.len()).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(len + body_len);
    for f in fields {
        out.extend_from_slice(&f.raw);
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_has_only_crlf() {
        assert_eq!(&canonicalize(b"a\nb\r\nc\rd")[..], b"a\r\nb\r\nc\r\nd");
        assert_eq!(&canonicalize(b"\r\r\n")[..], b"\r\n\r\n");
        assert!(matches!(canonicalize(b"a\r\nb\r\n"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(canonicalize(b"a\r"), std::borrow::Cow::Owned(_)));
    }

    #[test]
    fn splits_fields_and_body_keeping_folding() {
        let msg = b"From: a@b.test\r\nSubject: x\r\n y\r\n\r\nbody\r\n";
        let e = split(msg).unwrap();
        assert_eq!(e.fields.len(), 2);
        assert_eq!(e.fields[1].raw, b"Subject: x\r\n y\r\n");
        assert_eq!(e.fields[1].value(), "x y");
        assert_eq!(e.body, b"body\r\n");
        assert!(matches!(split(b" bad\r\n\r\n"), Err(Error::Mime(_))));
        // A header that ends inside a folded field without CRLF (found by fuzzing): the
        // field still ends with CRLF, so that a field written after it stays separate.
        let e = split(b"Subject: a\r\n\tb").unwrap();
        assert_eq!(e.fields[0].raw, b"Subject: a\r\n\tb\r\n");
        let (outer, _) = body_entity(b"Subject: a\r\n\tb").unwrap();
        assert_eq!(outer[0].raw, b"Subject: a\r\n\tb\r\n");
        assert!(matches!(split(b"nocolon\r\n\r\n"), Err(Error::Mime(_))));
    }

    #[test]
    fn multipart_parts_are_exact() {
        let body = b"pre\r\n--b\r\npart1\r\n\r\n--b \r\npart2\r\n--b--\r\nepi";
        let p = split_multipart(body, "b").unwrap();
        assert_eq!(p.parts, vec![&b"part1\r\n"[..], &b"part2"[..]]);
        assert_eq!(p.preamble, b"pre\r\n");
        assert_eq!(p.epilogue, b"\r\nepi");
        assert!(split_multipart(b"--b\r\nx\r\n", "b").is_err());
        assert!(split_multipart(b"x\r\n", "b").is_err());
        // "--bb" is not the delimiter "--b".
        let p = split_multipart(b"--b\r\n--bb\r\n--b--", "b").unwrap();
        assert_eq!(p.parts, vec![&b"--bb"[..]]);
    }

    #[test]
    fn eight_bit_text_becomes_quoted_printable() {
        let fields = vec![Field::new("Content-Type", "text/plain; charset=utf-8")];
        let out = seven_bit(fields, "caf\u{e9} = ok \r\n".as_bytes(), 0).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Transfer-Encoding: quoted-printable\r\n"), "{text}");
        assert!(text.ends_with("caf=C3=A9 =3D ok=20\r\n"), "{text}");
        assert_eq!(
            decode_body("quoted-printable", b"caf=C3=A9 =3D ok=20\r\n").unwrap(),
            "caf\u{e9} = ok \r\n".as_bytes()
        );
    }

    #[test]
    fn base64_lines_are_76_wide_and_the_length_is_predicted() {
        for len in [0, 1, 56, 57, 58, 114, 1000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let out = encode_base64(&data);
            assert_eq!(out.len(), base64_len(len), "{len}");
            assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= 77));
            assert_eq!(decode_base64(&out).unwrap_or_default(), data);
        }
    }

    #[test]
    fn base64_decodes_any_line_wrapping() {
        let data: Vec<u8> = (0..200u8).collect();
        let wrapped = encode_base64(&data);
        assert_eq!(decode_base64(&wrapped).unwrap_or_default(), data);
        let text = STANDARD.encode(&data);
        let odd: Vec<u8> = text.as_bytes().chunks(7).flat_map(|c| [c, b"\r\n"].concat()).collect();
        assert_eq!(decode_base64(&odd).unwrap_or_default(), data);
        assert_eq!(decode_base64(text.as_bytes()).unwrap_or_default(), data);
        assert!(decode_base64(b"QQ==\r\nQUFB\r\n").is_err());
        assert!(decode_base64(b"QUFB\r\n!!!!\r\n").is_err());
        assert!(decode_base64(b" \r\n").is_err());
    }

    #[test]
    fn long_lines_are_soft_broken() {
        let line = vec![b'x'; 200];
        let out = quoted_printable::encode(&line);
        assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert_eq!(decode_body("quoted-printable", &out).unwrap(), line);
    }

    /// Known answers for what the quoted_printable crate does at the edges: where the soft
    /// breaks fall, an escape that would straddle the limit, a tab before CRLF, and how a
    /// broken escape decodes.
    #[test]
    fn quoted_printable_known_answers() {
        let x = |n: usize| "x".repeat(n);
        let encode = |text: &str| String::from_utf8(quoted_printable::encode(text)).unwrap();
        // 75 characters and a soft break "=" make the 76 allowed.
        assert_eq!(encode(&x(80)), format!("{}=\r\n{}", x(75), x(5)));
        assert_eq!(encode(&x(76)), x(76));
        // An escape is never split across a soft break.
        assert_eq!(encode(&format!("{}\u{e9}", x(74))), format!("{}=\r\n=C3=A9", x(74)));
        // White space before a hard break is escaped, elsewhere it stays.
        assert_eq!(encode("a \tb\t\r\nc "), "a \tb=09\r\nc=20");
        let decode = |qp: &[u8]| decode_body("quoted-printable", qp).unwrap();
        assert_eq!(decode(b"soft=\r\nbreak\r\n"), b"softbreak\r\n");
        assert_eq!(decode(b"a=3d=ZZ=\r\n"), b"a==ZZ");
        assert_eq!(decode(b"trailing   \r\nend"), b"trailing\r\nend");
    }

    #[test]
    fn multiparts_nested_too_deep_are_refused() {
        let nest = |levels: usize| {
            let mut body = b"Content-Type: text/plain\r\n\r\nx".to_vec();
            for level in 0..levels {
                let b = format!("b{level}");
                body =
                    [format!("--{b}\r\n").as_bytes(), &body, format!("\r\n--{b}--\r\n").as_bytes()]
                        .concat();
                if level + 1 < levels {
                    body = [
                        format!("Content-Type: multipart/mixed; boundary={b}\r\n\r\n").as_bytes(),
                        &body,
                    ]
                    .concat();
                }
            }
            let boundary = format!("b{}", levels - 1);
            seven_bit(
                vec![Field::new("Content-Type", &format!("multipart/mixed; boundary={boundary}"))],
                &body,
                0,
            )
        };
        assert!(nest(MAX_MULTIPART_DEPTH).is_ok());
        assert!(matches!(
            nest(MAX_MULTIPART_DEPTH + 1),
            Err(Error::MultipartTooDeep(MAX_MULTIPART_DEPTH))
        ));
    }

    #[test]
    fn boundaries_avoid_the_content() {
        let b = new_boundary(b"hello").unwrap();
        assert!(b.starts_with("=_sealpost_") && b.len() < 70);
    }

    #[test]
    fn folding_keeps_lines_short() {
        let f = folded(
            "Content-Type",
            "multipart/signed",
            &[
                ("protocol", "application/pkcs7-signature".into()),
                ("micalg", "sha-256".into()),
                ("boundary", "=_sealpost_0123456789abcdefghijklmnop".into()),
            ],
        );
        let text = String::from_utf8(f.raw).unwrap();
        assert!(text.lines().all(|l| l.len() <= 78), "{text}");
        let parsed = mailparse::parse_content_type(
            &Field { name: "x".into(), raw: text.clone().into_bytes() }.value(),
        );
        assert_eq!(
            parsed.params.get("boundary").map(String::as_str),
            Some("=_sealpost_0123456789abcdefghijklmnop")
        );
        assert_eq!(parsed.params.get("micalg").map(String::as_str), Some("sha-256"));
    }
}
