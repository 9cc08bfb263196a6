//! Signed parts inside a message that is not signed as a whole.
//!
//! A signature covers the entity it wraps, nothing around it: text prepended to a signed
//! part, HTML that hides it, or a signed attachment under an unsigned body are not a
//! signed message, and [`Verifier::verify_message`](crate::Verifier::verify_message)
//! refuses them. [`signed_parts`] says where the signed entities are, so that the refusal
//! can name them.

use crate::error::Result;
use crate::mime;

/// How deep [`signed_parts`] looks into nested multiparts.
const MAX_DEPTH: usize = 16;

/// A signed entity found inside a message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedPart {
    /// Its part number, as IMAP writes it (RFC 3501 section 6.4.5): `"2"` is the second
    /// part of the message's multipart, `"1.2"` the second part of the first part.
    pub path: String,
    /// Its media type: multipart/signed or application/pkcs7-mime.
    pub media_type: String,
}

impl std::fmt::Display for SignedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "part {} ({})", self.path, self.media_type)
    }
}

/// The signed entities inside `message`, in order, when the message itself is not one
/// (for a signed message, the list is empty: its whole body is signed), attached
/// messages included. Encrypted application/pkcs7-mime parts are listed too; their
/// smime-type tells.
///
/// ```
/// let message = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
/// --b\r\nContent-Type: text/plain\r\n\r\nI added this.\r\n\
/// --b\r\nContent-Type: multipart/signed; boundary=s; protocol=\"application/pkcs7-signature\"\r\n\r\n\
/// --s\r\n\r\nsigned\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--s--\r\n\
/// --b--\r\n";
/// let parts = sealpost_smime::signed_parts(message)?;
/// assert_eq!(parts[0].path, "2");
/// assert_eq!(parts[0].to_string(), "part 2 (multipart/signed)");
/// # Ok::<(), sealpost_smime::Error>(())
/// ```
pub fn signed_parts(message: &[u8]) -> Result<Vec<SignedPart>> {
    let canonical = mime::canonicalize(message);
    let entity = mime::split(&canonical)?;
    let mut found = Vec::new();
    if !is_signed(&mime::content_type(&entity.fields).mimetype) {
        walk(&entity, "", 0, &mut found)?;
    }
    Ok(found)
}

fn is_signed(media_type: &str) -> bool {
    media_type == "multipart/signed" || mime::is_pkcs7_mime(media_type)
}

/// Adds the signed entities among the parts of `entity` (a multipart) to `found`.
fn walk(
    entity: &mime::Entity<'_>,
    prefix: &str,
    depth: usize,
    found: &mut Vec<SignedPart>,
) -> Result<()> {
    let ct = mime::content_type(&entity.fields);
    let Some(boundary) = ct.params.get("boundary") else { return Ok(()) };
    if !ct.mimetype.starts_with("multipart/") || depth >= MAX_DEPTH {
        return Ok(());
    }
    let parts = mime::split_multipart(entity.body, boundary)?;
    for (i, part) in parts.parts.iter().enumerate() {
        let path = format!("{prefix}{}", i + 1);
        let mut part = mime::split(part)?;
        // An attached message (message/rfc822) is looked into: its header and body are
        // the part's body, and its parts are numbered below the part (RFC 3501).
        if mime::content_type(&part.fields).mimetype == "message/rfc822" {
            part = mime::split(part.body)?;
        }
        let media_type = mime::content_type(&part.fields).mimetype;
        if is_signed(&media_type) {
            found.push(SignedPart { path, media_type });
        } else {
            walk(&part, &format!("{path}."), depth + 1, found)?;
        }
    }
    Ok(())
}
