//! What the identity check says about one signer: typed outcomes, one Display text each,
//! used alike by the library's report, the command line and the MTA's
//! Authentication-Results.

use std::fmt;

/// An originator header field (RFC 5322 section 3.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OriginatorField {
    /// `From`: the author, the one every mail reader shows.
    From,
    /// `Sender`: the agent who sent the message on the author's behalf.
    Sender,
}

impl OriginatorField {
    /// The field name as RFC 5322 writes it.
    pub fn name(self) -> &'static str {
        match self {
            OriginatorField::From => "From",
            OriginatorField::Sender => "Sender",
        }
    }
}

impl fmt::Display for OriginatorField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an originator field cannot be read one way only: two readers could take different
/// addresses from it, so no signature can vouch for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldDefect {
    /// A NUL octet (RFC 5322 allows none): readers drop it, stop at it or keep it.
    Nul,
    /// A CR not followed by LF: some readers end the line there, others do not.
    BareCr,
    /// A LF not preceded by CR in a message whose lines end in CRLF.
    BareLf,
    /// The value is not an address list (RFC 5322 section 3.4); the parser's words.
    Unparseable(String),
    /// Sender holds something other than exactly one mailbox (RFC 5322 section 3.6.2).
    NotOneMailbox,
}

impl fmt::Display for FieldDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldDefect::Nul => f.write_str("contains a NUL octet"),
            FieldDefect::BareCr => f.write_str("contains a bare CR"),
            FieldDefect::BareLf => f.write_str("contains a bare LF"),
            FieldDefect::Unparseable(why) => write!(f, "is not an address list ({why})"),
            FieldDefect::NotOneMailbox => f.write_str("is not exactly one mailbox"),
        }
    }
}

/// How a signer's certificate addresses relate to the message's From and Sender: the
/// identity rule of RFC 8550 section 3, made strict where mail readers show something other
/// than what the rule checks.
///
/// Only [`AddressMatch::Matches`] makes a signer valid. By default that needs the From
/// address (the author every reader shows); with
/// [`VerifyOptions::accept_sender`](crate::VerifyOptions::accept_sender) a Sender match is
/// accepted too and reported as one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressMatch {
    /// The certificate names the address in this field.
    Matches {
        /// Which field matched: From, or Sender when the From-or-Sender rule is accepted.
        field: OriginatorField,
        /// The matching address, as the message writes it.
        address: String,
    },
    /// The certificate names the Sender, not the author in From: a reader would see a
    /// signed message from someone who did not sign it.
    SenderNotAuthor {
        /// The Sender address (the signer's).
        sender: String,
        /// The From address (the author shown).
        from: String,
    },
    /// The certificate names none of the From and Sender addresses.
    Mismatch {
        /// The From (and Sender) addresses of the message.
        from: Vec<String>,
    },
    /// The message has no From field.
    NoFrom,
    /// The From field holds no address.
    EmptyFrom,
    /// From holds several addresses: which one signed cannot be shown unambiguously.
    MultipleFrom(Vec<String>),
    /// From is a group (RFC 5322 section 3.4), even of one member: readers show the group
    /// name, not an author.
    Group {
        /// The group's display name.
        name: String,
        /// Its members' addresses.
        members: Vec<String>,
    },
    /// The field occurs more than once (RFC 5322 section 3.6 allows one): readers pick
    /// different ones.
    DuplicateField(OriginatorField),
    /// The field could be read differently by different readers.
    Unreadable {
        /// The field.
        field: OriginatorField,
        /// What is wrong with it.
        defect: FieldDefect,
    },
    /// The display name (or a comment) of the field shows an address other than the real
    /// one (`"bob@example.org  ." <mallory@example.net>`): a reader would be misled.
    DisplayNameLooksLikeAddress {
        /// The field.
        field: OriginatorField,
        /// The text a reader sees: the decoded display name, or a comment in parentheses.
        shown: String,
        /// The address-like token found in it, normalised (NFKC, lower case, edges
        /// trimmed).
        token: String,
        /// The real address of the field.
        address: String,
    },
    /// The certificate names no e-mail address at all.
    NoSignerAddress,
    /// Not checked (a bare CMS structure verified without a message around it).
    NotChecked,
}

impl AddressMatch {
    /// Whether the signer is the originator shown (a valid identity).
    pub fn is_match(&self) -> bool {
        matches!(self, AddressMatch::Matches { .. })
    }

    /// The field and address the signer's certificate matched, whether or not that makes
    /// it valid: From or Sender for [`AddressMatch::Matches`], Sender for
    /// [`AddressMatch::SenderNotAuthor`].
    pub fn matched(&self) -> Option<(OriginatorField, &str)> {
        match self {
            AddressMatch::Matches { field, address } => Some((*field, address)),
            AddressMatch::SenderNotAuthor { sender, .. } => Some((OriginatorField::Sender, sender)),
            _ => None,
        }
    }
}

impl fmt::Display for AddressMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressMatch::Matches { field, address } => write!(f, "matches {field} {address}"),
            AddressMatch::SenderNotAuthor { sender, from } => {
                write!(f, "signed by the Sender {sender}, not by the author {from} in From")
            }
            AddressMatch::Mismatch { from } => {
                write!(f, "signer address differs from From/Sender ({})", from.join(", "))
            }
            AddressMatch::NoFrom => f.write_str("message has no From field"),
            AddressMatch::EmptyFrom => f.write_str("From holds no address"),
            AddressMatch::MultipleFrom(all) => {
                write!(f, "From has several addresses ({})", all.join(", "))
            }
            AddressMatch::Group { name, members } => {
                write!(f, "From is the group {name:?} ({})", members.join(", "))
            }
            AddressMatch::DuplicateField(field) => write!(f, "several {field} fields"),
            AddressMatch::Unreadable { field, defect } => write!(f, "{field} {defect}"),
            AddressMatch::DisplayNameLooksLikeAddress { field, shown, token, address } => write!(
                f,
                "{field} shows {shown:?}, which looks like the address {token}, \
                 but the address is {address}"
            ),
            AddressMatch::NoSignerAddress => f.write_str("certificate names no e-mail address"),
            AddressMatch::NotChecked => f.write_str("not checked"),
        }
    }
}
