//! Just enough MIME for the S/MIME cases, written here so that the suite does not trust the
//! code under test to take messages apart: the test message, multipart/signed split into
//! its signed entity and signature (RFC 1847, RFC 8551 section 3.5.3), application/pkcs7-mime
//! bodies, base64, and an mbox for s-nail.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memchr::memmem;

/// The sender of every test message (the signer: `smime-alice-*`).
pub(crate) const ALICE: &str = "alice@example.org";
/// The recipient of every test message (the decrypter: `smime-bob-*`).
pub(crate) const BOB: &str = "bob@example.org";

/// A test message: outer headers plus one text/plain body entity, CRLF throughout.
pub(crate) struct Message {
    /// The case's name, in the Subject and Message-Id.
    pub(crate) marker: String,
    /// From, To, Subject, Message-Id, Date and MIME-Version, each line ending in CRLF.
    pub(crate) headers: String,
    /// The body entity: its Content-Type and Content-Transfer-Encoding, an empty line, the
    /// body. This is what a signature covers and what encryption protects.
    pub(crate) entity: Vec<u8>,
}

impl Message {
    /// The message of case `marker` (which goes into the Subject, Message-Id and body, so
    /// every case's output can be told apart).
    pub(crate) fn new(marker: &str) -> Self {
        let headers = format!(
            "From: Alice <{ALICE}>\r\nTo: Bob <{BOB}>\r\nSubject: S/MIME interop {marker}\r\n\
             Message-Id: <{marker}@example.org>\r\nDate: Sun, 29 Nov 2026 12:00:00 +0000\r\n\
             MIME-Version: 1.0\r\n"
        );
        // A signature separator with its trailing space and a dot line: bytes that a
        // careless canonicalisation changes.
        let entity = format!(
            "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\
             \r\nHello Bob,\r\n\r\nthis is the S/MIME interop case {marker}.\r\n.\r\n\
             -- \r\nAlice\r\n"
        );
        Self { marker: marker.to_owned(), headers, entity: entity.into_bytes() }
    }

    /// The whole message: headers, then the entity (whose headers continue the block).
    pub(crate) fn full(&self) -> Vec<u8> {
        [self.headers.as_bytes(), &self.entity].concat()
    }

    /// The body of the entity (after its empty line).
    pub(crate) fn body(&self) -> &[u8] {
        split_head(&self.entity).map_or(&self.entity[..], |(_, body)| body)
    }
}

/// Splits `message` at its first empty line into (header block, body); the header block
/// keeps its last line ending. Accepts CRLF and bare LF.
pub(crate) fn split_head(message: &[u8]) -> Option<(&[u8], &[u8])> {
    if message.starts_with(b"\r\n") {
        return Some((&[], &message[2..]));
    }
    let crlf = memmem::find(message, b"\r\n\r\n").map(|i| (i + 2, i + 4));
    let lf = memmem::find(message, b"\n\n").map(|i| (i + 1, i + 2));
    let (head_end, body_start) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return None,
    };
    Some((&message[..head_end], &message[body_start..]))
}

/// The value of header `name` (case-insensitive) in a header block, unfolded.
pub(crate) fn header(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut found: Option<String> = None;
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = found.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((key, value)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case(name)
        {
            found = Some(value.trim().to_owned());
        }
    }
    found
}

/// The parameter `name` of a header value such as a Content-Type, unquoted.
pub(crate) fn param(value: &str, name: &str) -> Option<String> {
    for part in value.split(';').skip(1) {
        let Some((key, val)) = part.split_once('=') else { continue };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(val.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The parts of a multipart/signed message.
pub(crate) struct Signed {
    /// The top-level Content-Type.
    pub(crate) content_type: String,
    /// The first part, byte for byte: what the signature covers.
    pub(crate) entity: Vec<u8>,
    /// The second part's Content-Type.
    pub(crate) signature_type: String,
    /// The second part, base64-decoded: the DER SignedData.
    pub(crate) signature: Vec<u8>,
}

/// Takes a multipart/signed message apart.
pub(crate) fn split_signed(message: &[u8]) -> Result<Signed> {
    let (head, body) = split_head(message).context("no empty line after the headers")?;
    let content_type = header(head, "Content-Type").context("no Content-Type header")?;
    if !content_type.to_ascii_lowercase().starts_with("multipart/signed") {
        bail!("Content-Type is `{content_type}`, not multipart/signed");
    }
    let boundary = param(&content_type, "boundary").context("multipart/signed without boundary")?;
    let eol: &[u8] = if memmem::find(body, b"\r\n").is_some() { b"\r\n" } else { b"\n" };
    let dash = [b"--", boundary.as_bytes()].concat();
    let delimiter = [eol, &dash].concat();
    // The first delimiter may open the body; later ones follow a line ending, which belongs
    // to the delimiter and not to the part before it (RFC 2046 section 5.1.1).
    let first = if body.starts_with(&dash) {
        0
    } else {
        memmem::find(body, &delimiter).context("no first boundary")? + eol.len()
    };
    let after_first = first + dash.len();
    let entity_start = after_first
        + memmem::find(&body[after_first..], eol).context("boundary line without end")?
        + eol.len();
    let entity_len =
        memmem::find(&body[entity_start..], &delimiter).context("no second boundary")?;
    let entity = body[entity_start..entity_start + entity_len].to_vec();
    let second = entity_start + entity_len + delimiter.len();
    let sig_start = second
        + memmem::find(&body[second..], eol).context("boundary line without end")?
        + eol.len();
    let sig_len = memmem::find(&body[sig_start..], &delimiter).context("no closing boundary")?;
    let part = &body[sig_start..sig_start + sig_len];
    let (part_head, part_body) = split_head(part).context("signature part without headers")?;
    let signature_type =
        header(part_head, "Content-Type").context("signature part without Content-Type")?;
    let signature = base64_decode(part_body).context("the signature part's base64")?;
    Ok(Signed { content_type, entity, signature_type, signature })
}

/// The Content-Type and the base64-decoded body of an application/pkcs7-mime message.
pub(crate) fn pkcs7_body(message: &[u8]) -> Result<(String, Vec<u8>)> {
    let (head, body) = split_head(message).context("no empty line after the headers")?;
    let content_type = header(head, "Content-Type").context("no Content-Type header")?;
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("application/pkcs7-mime")
        && !lower.starts_with("application/x-pkcs7-mime")
    {
        bail!("Content-Type is `{content_type}`, not application/pkcs7-mime");
    }
    let der = base64_decode(body).context("the pkcs7-mime body's base64")?;
    Ok((content_type, der))
}

/// A full message whose body is the DER `cms` as application/pkcs7-mime with `smime_type`
/// (`enveloped-data`, `signed-data`).
pub(crate) fn wrap_pkcs7(headers: &str, cms: &[u8], smime_type: &str) -> Vec<u8> {
    let mut out = String::from(headers);
    out.push_str(&format!(
        "Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n"
    ));
    out.push_str(&base64_lines(cms));
    out.into_bytes()
}

/// A full multipart/signed message: `headers`, the signed `entity` unchanged, and the DER
/// `signature` as application/pkcs7-signature.
pub(crate) fn wrap_signed(headers: &str, entity: &[u8], signature: &[u8]) -> Vec<u8> {
    let boundary = "----=_interop_signed_7f3a";
    let mut out = format!(
        "{headers}Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; \
         micalg=sha-256;\r\n boundary=\"{boundary}\"\r\n\r\n\
         This is a cryptographically signed message in MIME format.\r\n\r\n--{boundary}\r\n"
    )
    .into_bytes();
    out.extend_from_slice(entity);
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n\
             {}\r\n--{boundary}--\r\n",
            base64_lines(signature)
        )
        .as_bytes(),
    );
    out
}

/// `message` as the only message of an mbox file (LF line endings, a `From ` separator,
/// body lines starting with `From ` quoted with `>`).
pub(crate) fn mbox(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
    let mut out = format!("From {ALICE} Sun Nov 29 12:00:00 2026\n");
    for line in text.lines() {
        if line.starts_with("From ") {
            out.push('>');
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.into_bytes()
}

/// Base64 in lines of 76 characters, each ending in CRLF.
pub(crate) fn base64_lines(data: &[u8]) -> String {
    let encoded = base64_encode(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

/// Base64 (RFC 4648, with padding) in one line.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes base64, skipping line breaks and other white space; anything else that is not
/// base64 is an error.
pub(crate) fn base64_decode(text: &[u8]) -> Result<Vec<u8>> {
    let compact: Vec<u8> = text.iter().copied().filter(|c| !c.is_ascii_whitespace()).collect();
    Ok(STANDARD.decode(compact)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let lines = base64_lines(&data[..len]);
            assert_eq!(base64_decode(lines.as_bytes()).unwrap(), &data[..len]);
        }
        assert!(base64_decode(b"Zm9v!").is_err());
    }

    #[test]
    fn signed_messages_split_into_the_exact_entity_and_signature() {
        let msg = Message::new("split");
        let signed = wrap_signed(&msg.headers, &msg.entity, b"\x30\x03\x02\x01\x01");
        let parts = split_signed(&signed).unwrap();
        assert_eq!(parts.entity, msg.entity);
        assert_eq!(parts.signature, b"\x30\x03\x02\x01\x01");
        assert!(parts.content_type.contains("protocol=\"application/pkcs7-signature\""));
        assert!(parts.signature_type.starts_with("application/pkcs7-signature"));
        assert!(msg.body().starts_with(b"Hello Bob,\r\n"));
        assert!(msg.entity.ends_with(msg.body()));
    }

    #[test]
    fn pkcs7_bodies_and_headers_are_read_back() {
        let msg = Message::new("wrap");
        let wrapped = wrap_pkcs7(&msg.headers, b"\x30\x00", "enveloped-data");
        let (content_type, der) = pkcs7_body(&wrapped).unwrap();
        assert_eq!(der, b"\x30\x00");
        assert_eq!(param(&content_type, "smime-type").as_deref(), Some("enveloped-data"));
        let (head, _) = split_head(&wrapped).unwrap();
        assert_eq!(header(head, "to").as_deref(), Some("Bob <bob@example.org>"));
        assert!(pkcs7_body(&msg.full()).is_err());
    }

    #[test]
    fn mbox_quotes_from_lines_and_uses_lf() {
        let boxed = mbox(b"Subject: x\r\n\r\nFrom here\r\n");
        assert_eq!(
            boxed,
            b"From alice@example.org Sun Nov 29 12:00:00 2026\nSubject: x\n\n>From here\n\n"
        );
    }
}
