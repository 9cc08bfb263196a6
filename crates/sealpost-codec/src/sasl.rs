//! SASL framing for AUTH (RFC 4954): base64 lines, the PLAIN message (RFC 4616) and the
//! LOGIN exchange.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::ValidationError;
use crate::secret::Secret;

/// Credentials carried by PLAIN or LOGIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as (PLAIN's authzid), when it differs from the user.
    pub authzid: Option<String>,
    /// The user name (authcid).
    pub username: String,
    /// The password.
    pub password: Secret<String>,
}

/// Decodes a base64 line of a SASL exchange.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Secret<Vec<u8>>, ValidationError> {
    STANDARD
        .decode(text)
        .map(Secret::new)
        .map_err(|_| ValidationError::Invalid { what: "base64", reason: "cannot be decoded" })
}

/// Encodes bytes for a 334 challenge or a client response.
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// `message = [authzid] UTF8NUL authcid UTF8NUL passwd` (RFC 4616 section 2).
///
/// ```
/// use sealpost_codec::sasl::{decode_plain, encode_plain};
///
/// let creds = decode_plain(b"\0alice\0secret").unwrap();
/// assert_eq!(creds.username, "alice");
/// assert_eq!(creds.password.expose(), "secret");
/// assert_eq!(encode_plain(None, "alice", "secret").expose(), b"\0alice\0secret");
/// assert!(decode_plain(b"alice secret").is_err());
/// ```
pub fn decode_plain(message: &[u8]) -> Result<Credentials, ValidationError> {
    let bad = |reason| ValidationError::Invalid { what: "PLAIN message", reason };
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected authzid NUL authcid NUL password"));
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad("not UTF-8"));
    if authcid.is_empty() || authcid.len() > 255 || passwd.len() > 255 || authzid.len() > 255 {
        return Err(bad("empty user name or a field longer than 255 octets"));
    }
    Ok(Credentials {
        authzid: if authzid.is_empty() { None } else { Some(text(authzid)?) },
        username: text(authcid)?,
        password: Secret::new(text(passwd)?),
    })
}

/// Builds the PLAIN message for a client.
pub fn encode_plain(authzid: Option<&str>, username: &str, password: &str) -> Secret<Vec<u8>> {
    let mut out = Vec::with_capacity(username.len() + password.len() + 2);
    out.extend_from_slice(authzid.unwrap_or_default().as_bytes());
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    Secret::new(out)
}

/// The LOGIN prompt for the user name, `Username:` in base64.
pub const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
/// The LOGIN prompt for the password, `Password:` in base64.
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";
