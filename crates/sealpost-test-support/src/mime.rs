//! Building MIME structures from exact bytes, for tests that wrap a signed message inside
//! an unsigned one (a signed part is not a signed message).

use memchr::memmem;

/// A whole message as a body part: its Content-* header fields (folded lines included)
/// and its body, so that a signed message can be put inside a multipart unchanged.
pub fn entity_of(message: &[u8]) -> Vec<u8> {
    let at = memmem::find(message, b"\r\n\r\n").expect("a header that ends in an empty line");
    let mut entity = Vec::with_capacity(message.len());
    let mut content = false;
    for line in message[..at + 2].split_inclusive(|&b| b == b'\n') {
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            content = line.len() > 8 && line[..8].eq_ignore_ascii_case(b"content-");
        }
        if content {
            entity.extend_from_slice(line);
        }
    }
    entity.extend_from_slice(&message[at + 2..]);
    entity
}

/// A body part of these header fields (each ending in CRLF) and body.
pub fn part(fields: &str, body: &[u8]) -> Vec<u8> {
    [fields.as_bytes(), b"\r\n", body].concat()
}

/// A multipart/`subtype` entity (RFC 2046 section 5.1.1) of these parts, with its
/// Content-Type field.
pub fn multipart(subtype: &str, boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out =
        format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    for p in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_a_part_and_parts_a_multipart() {
        let message = b"From: a@example.org\r\nContent-Type: multipart/signed;\r\n boundary=x\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(
            entity_of(message),
            b"Content-Type: multipart/signed;\r\n boundary=x\r\n\r\nbody\r\n"
        );
        let mixed = multipart("mixed", "b", &[part("Content-Type: text/plain\r\n", b"hi")]);
        assert_eq!(
            mixed,
            b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"
        );
    }
}
