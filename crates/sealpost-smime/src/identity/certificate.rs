//! The addresses a signer's certificate names (RFC 8550 section 3), and when two
//! addresses are the same mailbox.

use openssl::nid::Nid;
use openssl::x509::X509Ref;

/// `id-on-SmtpUTF8Mailbox` (RFC 9598): an internationalized address in an otherName.
const SMTP_UTF8_MAILBOX: &str = "1.3.6.1.5.5.7.8.9";

/// Every e-mail address a certificate names: rfc822Name and SmtpUTF8Mailbox entries of
/// subjectAltName, then emailAddress attributes of the subject (RFC 8550 section 3).
pub fn certificate_addresses(cert: &X509Ref) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(names) = cert.subject_alt_names() {
        out.extend(names.iter().filter_map(|n| n.email().map(str::to_owned)));
    }
    for (oid, der) in crate::ffi::other_names(cert) {
        if oid == SMTP_UTF8_MAILBOX {
            // The value is [0] EXPLICIT UTF8String inside the otherName; OpenSSL hands us
            // the UTF8String itself.
            if let Some(s) = crate::asn1::string(&der) {
                out.push(s);
            }
        }
    }
    for entry in cert.subject_name().entries_by_nid(Nid::PKCS9_EMAILADDRESS) {
        if let Ok(s) = entry.data().to_string() {
            out.push(s.to_string());
        }
    }
    out.dedup();
    out
}

/// Whether two addresses are the same mailbox: the local part compared exactly, the domain
/// without regard to ASCII case (RFC 5321 section 2.4, RFC 8550 section 3).
pub(crate) fn same_mailbox(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}
