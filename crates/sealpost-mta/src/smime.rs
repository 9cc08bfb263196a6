//! S/MIME at the MTA (feature `smime`, on by default): a [`MessageFilter`] that verifies
//! signed incoming mail and records the result in an `Authentication-Results` field with
//! the `smime` method of RFC 7281, and stores mail encrypted to the certificate of a
//! recipient who asked for it.
//!
//! - Every `Authentication-Results` field that claims this server's authserv-id is removed
//!   first (RFC 8601 section 5): a sender cannot forge our verdict.
//! - One result per signer: `pass` when the signature, the chain to the configured trust
//!   anchors, key usage, EKU and the identity check all hold (the signer is the author in
//!   From, or the Sender when `accept_sender` is set); `fail` when the signature does not
//!   match the content; `policy` when it matches but the certificate or the identity is not
//!   acceptable (untrusted, expired, wrong usage, legacy algorithm, signed by the Sender
//!   and not the author, From ambiguous or disguised); `permerror` when the S/MIME structure
//!   cannot be checked. The field the signer matched is the property `header.from` or
//!   `header.sender`, next to `body.smime-identifier`.
//!   A message without a signature gets `smime=none`; an encrypted one `smime=none` with
//!   a comment (its signature, if any, is inside).
//! - Encryption at rest: for a local recipient with a configured certificate, a message
//!   that is not already encrypted is stored as `application/pkcs7-mime` enveloped to
//!   that certificate (the outer header fields, trace fields included, stay readable).
//!   When that fails the message is refused with 451 rather than stored in clear.
//!
//! The verdict is advice for the reader's software; the message is delivered whatever it
//! says.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use sealpost_smime::openssl::x509::{X509, X509NameRef, X509Ref};
use sealpost_smime::{
    ContentCipher, Recipient, SignerProblem, SignerReport, SmimeKind, Verifier, VerifyOptions,
};

use crate::filter::{Filtered, MessageFilter};
use crate::headers::{insert_trace_header, remove_authentication_results};

/// The S/MIME layer's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SmimeSettings {
    /// The authserv-id in `Authentication-Results` (normally the host name).
    pub authserv_id: String,
    /// Trust anchors for signer certificates; `None` turns verification off (no
    /// `Authentication-Results` is added, forged ones are still removed).
    pub trust_anchors: Option<Vec<X509>>,
    /// Accept SHA-1 and RSA keys under 2048 bits in signatures.
    pub allow_legacy: bool,
    /// Accept a signer that is the Sender but not the author in From (RFC 8550's
    /// From-or-Sender rule; see [`VerifyOptions::accept_sender`]).
    pub accept_sender: bool,
    /// Recipients (`local@domain`, lower case) whose mail is stored encrypted, with the
    /// certificate to encrypt to.
    pub encrypt_at_rest: HashMap<String, X509>,
    /// The cipher for encryption at rest. AES-256-GCM when the mail reader can decrypt
    /// it; AES-256-CBC (the default) for every S/MIME reader.
    pub cipher: ContentCipher,
}

impl SmimeSettings {
    /// Verification against `trust_anchors`, no encryption at rest.
    pub fn new(authserv_id: impl Into<String>, trust_anchors: Option<Vec<X509>>) -> Self {
        SmimeSettings {
            authserv_id: authserv_id.into(),
            trust_anchors,
            allow_legacy: false,
            accept_sender: false,
            encrypt_at_rest: HashMap::new(),
            cipher: ContentCipher::Aes256Cbc,
        }
    }
}

/// The S/MIME [`MessageFilter`]; see the [module documentation](self).
#[derive(Debug)]
pub struct SmimeFilter {
    authserv_id: String,
    verifier: Option<Verifier>,
    at_rest: HashMap<String, X509>,
    cipher: ContentCipher,
}

impl SmimeFilter {
    /// A filter with these settings.
    pub fn new(settings: SmimeSettings) -> Self {
        let verifier = settings.trust_anchors.map(|anchors| {
            Verifier::new(
                VerifyOptions::new(anchors)
                    .allow_legacy(settings.allow_legacy)
                    .accept_sender(settings.accept_sender),
            )
        });
        SmimeFilter {
            authserv_id: settings.authserv_id,
            verifier,
            at_rest: settings.encrypt_at_rest,
            cipher: settings.cipher,
        }
    }

    /// The `Authentication-Results` field for `message`.
    pub fn authentication_results(&self, verifier: &Verifier, message: &[u8]) -> String {
        let results = match sealpost_smime::classify(message) {
            Ok(SmimeKind::Signed) => match verifier.verify_message(message) {
                Ok(verified) => verified.signers().iter().map(signer_result).collect(),
                Err(e) => vec![format!("smime=permerror {}", comment(&e.to_string()))],
            },
            Ok(SmimeKind::Encrypted) => {
                vec![String::from("smime=none (encrypted; a signature would be inside)")]
            }
            Ok(SmimeKind::OtherCms) => {
                vec![String::from("smime=none (application/pkcs7-mime without signed data)")]
            }
            Ok(_) => vec![String::from("smime=none")],
            Err(e) => vec![format!("smime=permerror {}", comment(&e.to_string()))],
        };
        let mut field = format!("Authentication-Results: {}", self.authserv_id);
        for result in results {
            let _ = write!(field, ";\r\n\t{result}");
        }
        field.push_str("\r\n");
        field
    }
}

impl MessageFilter for SmimeFilter {
    fn filter(&self, message: &[u8], recipients: &[&str]) -> io::Result<Filtered> {
        let (cleaned, removed) = remove_authentication_results(message, &self.authserv_id);
        if removed > 0 {
            tracing::info!(removed, "removed Authentication-Results that claimed our name");
        }
        let checked = match &self.verifier {
            Some(verifier) => {
                let field = self.authentication_results(verifier, &cleaned);
                insert_trace_header(&cleaned, &field)
            }
            None => cleaned,
        };
        let mut out = Filtered::replace(checked);
        let sealed: Vec<(&str, &X509)> =
            recipients.iter().filter_map(|r| self.at_rest.get(*r).map(|cert| (*r, cert))).collect();
        if sealed.is_empty() {
            return Ok(out);
        }
        let common = out.message.clone().unwrap_or_default();
        let encrypted = matches!(sealpost_smime::classify(&common), Ok(SmimeKind::Encrypted));
        if encrypted {
            return Ok(out);
        }
        for (recipient, cert) in sealed {
            let to = [Recipient::new(cert.clone())];
            let bytes = sealpost_smime::encrypt_message(&to, &common, self.cipher)
                .map_err(|e| io::Error::other(format!("encrypting for {recipient}: {e}")))?;
            out = out.with_recipient(recipient, bytes);
        }
        Ok(out)
    }
}

/// The RFC 7281 result for one signer, with the certificate's identity as properties.
fn signer_result(signer: &SignerReport) -> String {
    let result =
        if signer.is_valid() {
            String::from("smime=pass")
        } else if signer.problems.iter().any(|p| matches!(p, SignerProblem::BadSignature(_))) {
            String::from("smime=fail")
        } else if signer.problems.iter().any(|p| {
            matches!(p, SignerProblem::CertificateNotFound | SignerProblem::UnusableKey(_))
        }) {
            String::from("smime=permerror")
        } else {
            String::from("smime=policy")
        };
    let mut out = result;
    if !signer.problems.is_empty() {
        let reasons: Vec<String> = signer.problems.iter().map(ToString::to_string).collect();
        let _ = write!(out, " {}", comment(&reasons.join("; ")));
    }
    let matched = signer.address_match.matched();
    let identifier = match matched {
        Some((_, address)) => Some(address),
        None => signer.addresses.first().map(String::as_str),
    };
    if let Some(identifier) = identifier {
        let _ = write!(out, " body.smime-identifier={}", value(identifier));
    }
    // Which originator field the certificate named (RFC 8601 ptype `header`).
    if let Some((field, address)) = matched {
        let _ = write!(out, " header.{}={}", field.name().to_ascii_lowercase(), value(address));
    }
    if let Some(cert) = &signer.certificate {
        if let Some(serial) = serial_hex(cert) {
            let _ = write!(out, " body.smime-serial={serial}");
        }
        let _ = write!(out, " body.smime-issuer={}", quoted(&name(cert.issuer_name())));
    }
    out
}

fn serial_hex(cert: &X509Ref) -> Option<String> {
    cert.serial_number().to_bn().ok()?.to_hex_str().ok().map(|s| s.to_string())
}

fn name(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let key = entry.object().nid().short_name().unwrap_or("?");
            let text = entry
                .data()
                .to_string()
                .unwrap_or_else(|_| String::from_utf8_lossy(entry.data().as_slice()).into_owned());
            format!("{key}={text}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text as a header comment: printable, parentheses and backslashes escaped, no line
/// breaks (the text comes from certificates and from OpenSSL).
fn comment(text: &str) -> String {
    let mut out = String::from("(");
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push(')');
    out
}

/// A property value: as it is when it is a plain token or address, else quoted.
fn value(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_alphanumeric() || "@.-_+=!#$%&'*/?^`{|}~".contains(c));
    if plain { text.to_owned() } else { quoted(text) }
}

/// An RFC 5322 quoted-string, control characters dropped.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_values_cannot_break_the_header() {
        assert_eq!(comment("a (b) \\ c\r\nInjected: x"), "(a \\(b\\) \\\\ c  Injected: x)");
        assert_eq!(value("alice@example.org"), "alice@example.org");
        assert_eq!(value("a b@example.org"), "\"a b@example.org\"");
        assert_eq!(quoted("x\"y\\z\r\n"), "\"x\\\"y\\\\z\"");
    }
}
