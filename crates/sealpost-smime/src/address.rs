//! Who signed, against who the message says sent it: RFC 8550 section 3 (the signer's
//! certificate must name the address in From or Sender).

use openssl::nid::Nid;
use openssl::x509::X509Ref;

use crate::mime::Field;

/// `id-on-SmtpUTF8Mailbox` (RFC 9598): an internationalized address in an otherName.
const SMTP_UTF8_MAILBOX: &str = "1.3.6.1.5.5.7.8.9";

/// How a signer's certificate addresses relate to the message's From and Sender.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressMatch {
    /// The certificate names this From or Sender address.
    Matches(String),
    /// The certificate names none of the From and Sender addresses.
    Mismatch {
        /// The From (and Sender) addresses of the message.
        from: Vec<String>,
    },
    /// The message has no From address to compare with.
    NoFrom,
    /// From holds several addresses (or there are several From fields): which one signed
    /// cannot be shown unambiguously.
    MultipleFrom(Vec<String>),
    /// From's display name looks like an address other than the real one
    /// (`"alice@example.org" <mallory@example.net>`): a reader would be misled.
    DisplayNameLooksLikeAddress {
        /// The display name.
        display_name: String,
        /// The real address.
        address: String,
    },
    /// The certificate names no e-mail address at all.
    NoSignerAddress,
    /// Not checked (a bare CMS structure verified without a message around it).
    NotChecked,
}

impl AddressMatch {
    /// Whether the signer is the sender shown.
    pub fn is_match(&self) -> bool {
        matches!(self, AddressMatch::Matches(_))
    }
}

impl std::fmt::Display for AddressMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressMatch::Matches(a) => write!(f, "matches {a}"),
            AddressMatch::Mismatch { from } => {
                write!(f, "signer address differs from From/Sender ({})", from.join(", "))
            }
            AddressMatch::NoFrom => f.write_str("message has no From address"),
            AddressMatch::MultipleFrom(all) => {
                write!(f, "From has several addresses ({})", all.join(", "))
            }
            AddressMatch::DisplayNameLooksLikeAddress { display_name, address } => write!(
                f,
                "From display name {display_name:?} looks like an address but the address is {address}"
            ),
            AddressMatch::NoSignerAddress => f.write_str("certificate names no e-mail address"),
            AddressMatch::NotChecked => f.write_str("not checked"),
        }
    }
}

/// The originator fields of a message: From (each address with its display name) and
/// Sender.
#[derive(Clone, Debug, Default)]
pub(crate) struct Originators {
    pub(crate) from: Vec<(Option<String>, String)>,
    pub(crate) sender: Option<String>,
    /// The message has no header at all (a bare CMS check).
    pub(crate) absent: bool,
}

impl Originators {
    /// No message around the signature.
    pub(crate) fn absent() -> Self {
        Originators { absent: true, ..Originators::default() }
    }

    /// From and Sender of a message's header fields.
    pub(crate) fn from_fields(fields: &[Field]) -> Self {
        let mut from = Vec::new();
        for f in fields.iter().filter(|f| f.is("From")) {
            from.extend(parse_addresses(&f.value()));
        }
        let sender = fields
            .iter()
            .find(|f| f.is("Sender"))
            .and_then(|f| parse_addresses(&f.value()).into_iter().next())
            .map(|(_, a)| a);
        Originators { from, sender, absent: false }
    }

    /// From (and Sender) addresses, for reports.
    pub(crate) fn addresses(&self) -> Vec<String> {
        self.from.iter().map(|(_, a)| a.clone()).chain(self.sender.clone()).collect()
    }
}

fn parse_addresses(value: &str) -> Vec<(Option<String>, String)> {
    let Ok(list) = mailparse::addrparse(value) else { return Vec::new() };
    let mut out = Vec::new();
    for addr in list.iter() {
        match addr {
            mailparse::MailAddr::Single(s) => out.push((s.display_name.clone(), s.addr.clone())),
            mailparse::MailAddr::Group(g) => {
                out.extend(g.addrs.iter().map(|s| (s.display_name.clone(), s.addr.clone())));
            }
        }
    }
    out
}

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

/// Whether a display name reads like an e-mail address.
fn looks_like_address(display: &str) -> Option<String> {
    let trimmed = display.trim().trim_matches(|c| c == '"' || c == '\'' || c == '<' || c == '>');
    let (local, domain) = trimmed.rsplit_once('@')?;
    let plausible = !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.contains(char::is_whitespace);
    plausible.then(|| trimmed.to_owned())
}

/// The RFC 8550 check of one signer's addresses.
pub(crate) fn check(originators: &Originators, signer_addresses: &[String]) -> AddressMatch {
    if originators.absent {
        return AddressMatch::NotChecked;
    }
    if signer_addresses.is_empty() {
        return AddressMatch::NoSignerAddress;
    }
    match originators.from.as_slice() {
        [] if originators.sender.is_none() => return AddressMatch::NoFrom,
        [] => {}
        [(display, address)] => {
            if let Some(shown) = display.as_deref().and_then(looks_like_address)
                && !same_mailbox(&shown, address)
            {
                return AddressMatch::DisplayNameLooksLikeAddress {
                    display_name: shown,
                    address: address.clone(),
                };
            }
        }
        several => {
            return AddressMatch::MultipleFrom(several.iter().map(|(_, a)| a.clone()).collect());
        }
    }
    for candidate in originators.addresses() {
        if signer_addresses.iter().any(|s| same_mailbox(s, &candidate)) {
            return AddressMatch::Matches(candidate);
        }
    }
    AddressMatch::Mismatch { from: originators.addresses() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(from: &str) -> Originators {
        Originators::from_fields(&[Field::new("From", from)])
    }

    #[test]
    fn table() {
        let alice = vec!["alice@example.org".to_owned()];
        let rows: Vec<(&str, AddressMatch)> = vec![
            ("Alice <alice@example.org>", AddressMatch::Matches("alice@example.org".into())),
            ("alice@EXAMPLE.org", AddressMatch::Matches("alice@EXAMPLE.org".into())),
            (
                "Alice@example.org",
                AddressMatch::Mismatch { from: vec!["Alice@example.org".into()] },
            ),
            (
                "Mallory <mallory@example.net>",
                AddressMatch::Mismatch { from: vec!["mallory@example.net".into()] },
            ),
            (
                "alice@example.org, mallory@example.net",
                AddressMatch::MultipleFrom(vec![
                    "alice@example.org".into(),
                    "mallory@example.net".into(),
                ]),
            ),
            (
                "\"bob@example.org\" <alice@example.org>",
                AddressMatch::DisplayNameLooksLikeAddress {
                    display_name: "bob@example.org".into(),
                    address: "alice@example.org".into(),
                },
            ),
            (
                "\"alice@example.org\" <alice@example.org>",
                AddressMatch::Matches("alice@example.org".into()),
            ),
        ];
        for (from, expected) in rows {
            assert_eq!(check(&origin(from), &alice), expected, "From: {from}");
        }
        assert_eq!(check(&Originators::default(), &alice), AddressMatch::NoFrom);
        assert_eq!(check(&origin("a@b.test"), &[]), AddressMatch::NoSignerAddress);
    }

    #[test]
    fn sender_counts() {
        let fields = [
            Field::new("From", "Boss <boss@example.org>"),
            Field::new("Sender", "alice@example.org"),
        ];
        let o = Originators::from_fields(&fields);
        assert!(check(&o, &["alice@example.org".to_owned()]).is_match());
    }
}
