//! The originator fields of a message (RFC 5322 section 3.6.2), read once: every From and
//! Sender field with its mailboxes, groups, comments and defects.

use super::outcome::{FieldDefect, OriginatorField};
use super::{display_name, raw_header};
use crate::mime::Field;

/// One mailbox of an originator field, with what a reader may show for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mailbox {
    /// The display name, encoded-words decoded (RFC 2047).
    pub(crate) display_name: Option<String>,
    /// The addr-spec.
    pub(crate) address: String,
}

/// What one address of a field is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// A group: its name and members (RFC 5322 section 3.4).
    Group { name: String, members: Vec<String> },
}

/// One From or Sender field, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OriginatorValue {
    /// Its addresses, or why it cannot be read one way only.
    pub(crate) addresses: Result<Vec<Address>, FieldDefect>,
    /// Its comments, decoded: some readers show a comment as the name.
    pub(crate) comments: Vec<String>,
}

/// The originator fields of a message.
#[derive(Clone, Debug, Default)]
pub(crate) struct Originators {
    /// Every From field, in order.
    pub(crate) from: Vec<OriginatorValue>,
    /// Every Sender field, in order.
    pub(crate) sender: Vec<OriginatorValue>,
    /// The message has no header at all (a bare CMS check).
    pub(crate) absent: bool,
}

impl Originators {
    /// No message around the signature.
    pub(crate) fn absent() -> Self {
        Originators { absent: true, ..Originators::default() }
    }

    /// The originators of a message: `raw` is the message as received (where NUL and bare
    /// CR or LF are looked for), `fields` its header fields after CRLF canonicalisation.
    pub(crate) fn from_message(raw: &[u8], fields: &[Field]) -> Self {
        let mut originators = Self::from_fields(fields);
        for (field, defect) in raw_header::originator_defects(raw) {
            let values = match field {
                OriginatorField::From => &mut originators.from,
                OriginatorField::Sender => &mut originators.sender,
            };
            // The raw defect wins over whatever canonicalisation made of the field; one
            // entry marks the field kind as unreadable, which is all the rule needs.
            match values.first_mut() {
                Some(first) => first.addresses = Err(defect),
                None => values.push(OriginatorValue { addresses: Err(defect), comments: vec![] }),
            }
        }
        originators
    }

    /// The originators of header field values handed over as strings.
    pub(crate) fn from_values(from: &str, sender: Option<&str>) -> Self {
        let read = |name: &str, value: &str| match raw_header::value_defect(value) {
            Some(defect) => OriginatorValue { addresses: Err(defect), comments: vec![] },
            None => read_field(&Field::new(name, value)),
        };
        Originators {
            from: vec![read("From", from)],
            sender: sender.map(|s| read("Sender", s)).into_iter().collect(),
            absent: false,
        }
    }

    /// From and Sender of canonical header fields.
    pub(crate) fn from_fields(fields: &[Field]) -> Self {
        let of = |name: &str| fields.iter().filter(|f| f.is(name)).map(read_field).collect();
        Originators { from: of("From"), sender: of("Sender"), absent: false }
    }
}

/// One field's addresses. The value is tokenised by mailparse before encoded-words are
/// decoded (`addrparse_header`), so a decoded comma or `<` cannot change the structure.
fn read_field(field: &Field) -> OriginatorValue {
    let header = match mailparse::parse_header(&field.raw) {
        Ok((header, _)) => header,
        Err(e) => {
            return OriginatorValue {
                addresses: Err(FieldDefect::Unparseable(e.to_string())),
                comments: vec![],
            };
        }
    };
    let comments = display_name::comments(&String::from_utf8_lossy(header.get_value_raw()));
    let addresses = match mailparse::addrparse_header(&header) {
        Ok(list) => Ok(list
            .iter()
            .map(|a| match a {
                mailparse::MailAddr::Single(s) => Address::Mailbox(Mailbox {
                    display_name: s.display_name.clone(),
                    address: s.addr.clone(),
                }),
                mailparse::MailAddr::Group(g) => Address::Group {
                    name: g.group_name.clone(),
                    members: g.addrs.iter().map(|s| s.addr.clone()).collect(),
                },
            })
            .collect()),
        Err(e) => Err(FieldDefect::Unparseable(e.to_string())),
    };
    OriginatorValue { addresses, comments }
}
