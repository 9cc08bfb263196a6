//! The identity rule: is the signer the originator a reader is shown?
//!
//! RFC 8550 section 3 asks that the certificate name the address in From or Sender. Mail
//! readers show From as the author, so by default only From counts; a Sender match is its
//! own outcome unless the caller accepts it (mailing lists, delegates). Before any address
//! is compared, the originator fields must read one way only: exactly one From field with
//! exactly one mailbox, at most one Sender field of one mailbox, no octets that readers
//! treat differently, and no display name or comment that shows another address.

use super::certificate::same_mailbox;
use super::display_name;
use super::originators::{Address, Mailbox, OriginatorValue, Originators};
use super::outcome::{AddressMatch, FieldDefect, OriginatorField};

/// The identity check of one signer whose certificate names `signer_addresses`.
pub(crate) fn check(
    originators: &Originators,
    signer_addresses: &[String],
    accept_sender: bool,
) -> AddressMatch {
    if originators.absent {
        return AddressMatch::NotChecked;
    }
    let (from, sender) = match shown_originators(originators) {
        Ok(shown) => shown,
        Err(outcome) => return outcome,
    };
    if signer_addresses.is_empty() {
        return AddressMatch::NoSignerAddress;
    }
    let named = |address: &str| signer_addresses.iter().any(|s| same_mailbox(s, address));
    if named(&from.address) {
        return AddressMatch::Matches { field: OriginatorField::From, address: from.address };
    }
    match sender {
        Some(sender) if named(&sender.address) => {
            if accept_sender {
                AddressMatch::Matches { field: OriginatorField::Sender, address: sender.address }
            } else {
                AddressMatch::SenderNotAuthor { sender: sender.address, from: from.address }
            }
        }
        sender => AddressMatch::Mismatch {
            from: std::iter::once(from.address).chain(sender.map(|s| s.address)).collect(),
        },
    }
}

/// The one From mailbox and the optional one Sender mailbox, or the outcome that says why
/// the fields do not show one originator unambiguously.
fn shown_originators(o: &Originators) -> Result<(Mailbox, Option<Mailbox>), AddressMatch> {
    for (field, values) in [(OriginatorField::From, &o.from), (OriginatorField::Sender, &o.sender)]
    {
        if let Some(Err(defect)) = values.iter().map(|v| v.addresses.as_ref()).find(Result::is_err)
        {
            return Err(AddressMatch::Unreadable { field, defect: defect.clone() });
        }
        if values.len() > 1 {
            return Err(AddressMatch::DuplicateField(field));
        }
    }
    let Some(from_value) = o.from.first() else { return Err(AddressMatch::NoFrom) };
    let from = author(from_value)?;
    disguise(OriginatorField::From, &from, &from_value.comments)?;
    let sender = match o.sender.first() {
        None => None,
        Some(value) => {
            let [Address::Mailbox(sender)] = addresses(value) else {
                return Err(AddressMatch::Unreadable {
                    field: OriginatorField::Sender,
                    defect: FieldDefect::NotOneMailbox,
                });
            };
            // Readers show the Sender too ("X on behalf of Y"): its name must not lie either.
            disguise(OriginatorField::Sender, sender, &value.comments)?;
            Some(sender.clone())
        }
    };
    Ok((from, sender))
}

fn addresses(value: &OriginatorValue) -> &[Address] {
    value.addresses.as_deref().unwrap_or_default()
}

/// The single mailbox of the From field.
fn author(value: &OriginatorValue) -> Result<Mailbox, AddressMatch> {
    let list = addresses(value);
    if let Some((name, members)) = list.iter().find_map(|a| match a {
        Address::Group { name, members } => Some((name, members)),
        Address::Mailbox(_) => None,
    }) {
        return Err(AddressMatch::Group { name: name.clone(), members: members.clone() });
    }
    match list {
        [] => Err(AddressMatch::EmptyFrom),
        [Address::Mailbox(m)] => Ok(m.clone()),
        several => Err(AddressMatch::MultipleFrom(
            several
                .iter()
                .filter_map(|a| match a {
                    Address::Mailbox(m) => Some(m.address.clone()),
                    Address::Group { .. } => None,
                })
                .collect(),
        )),
    }
}

/// Refuses a display name or comment of the field that shows another address.
fn disguise(
    field: OriginatorField,
    mailbox: &Mailbox,
    comments: &[String],
) -> Result<(), AddressMatch> {
    let name = mailbox.display_name.iter().map(|n| (n.clone(), n.as_str()));
    let comments = comments.iter().map(|c| (format!("({c})"), c.as_str()));
    for (shown, text) in name.chain(comments) {
        if let Some(token) = display_name::disguised_address(text, &mailbox.address) {
            return Err(AddressMatch::DisplayNameLooksLikeAddress {
                field,
                shown,
                token,
                address: mailbox.address.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::Field;

    fn check_fields(fields: &[(&str, &str)], accept_sender: bool) -> AddressMatch {
        let fields: Vec<Field> = fields.iter().map(|(n, v)| Field::new(n, v)).collect();
        check(&Originators::from_fields(&fields), &["alice@example.org".to_owned()], accept_sender)
    }

    /// Alice's mailbox in `field`, showing Bob's address in `shown`.
    fn shows_bob(field: OriginatorField, shown: &str) -> AddressMatch {
        AddressMatch::DisplayNameLooksLikeAddress {
            field,
            shown: shown.into(),
            token: "bob@example.org".into(),
            address: "alice@example.org".into(),
        }
    }

    fn matches(field: OriginatorField, address: &str) -> AddressMatch {
        AddressMatch::Matches { field, address: address.into() }
    }

    /// Header fields, whether Sender is accepted, and the outcome.
    type Row = (Vec<(&'static str, &'static str)>, bool, AddressMatch);

    #[test]
    fn table() {
        use OriginatorField::{From, Sender};
        let alice = "alice@example.org";
        let rows: Vec<Row> = vec![
            (vec![("From", "Alice <alice@example.org>")], false, matches(From, alice)),
            (vec![("From", "alice@EXAMPLE.org")], false, matches(From, "alice@EXAMPLE.org")),
            (
                vec![("From", "Alice@example.org")],
                false,
                AddressMatch::Mismatch { from: vec!["Alice@example.org".into()] },
            ),
            (
                vec![("From", "Boss <boss@example.org>"), ("Sender", alice)],
                false,
                AddressMatch::SenderNotAuthor {
                    sender: alice.into(),
                    from: "boss@example.org".into(),
                },
            ),
            (
                vec![("From", "Boss <boss@example.org>"), ("Sender", alice)],
                true,
                matches(Sender, alice),
            ),
            (vec![("From", alice), ("Sender", "list@example.org")], false, matches(From, alice)),
            (vec![("Sender", alice)], true, AddressMatch::NoFrom),
            (vec![("From", "")], false, AddressMatch::EmptyFrom),
            (vec![("From", "(nobody)")], false, AddressMatch::EmptyFrom),
            (
                vec![("From", "Team: alice@example.org;")],
                false,
                AddressMatch::Group { name: "Team".into(), members: vec![alice.into()] },
            ),
            (
                vec![("From", "alice@example.org, mallory@example.net")],
                false,
                AddressMatch::MultipleFrom(vec![alice.into(), "mallory@example.net".into()]),
            ),
            (vec![("From", alice), ("From", alice)], false, AddressMatch::DuplicateField(From)),
            (
                vec![("From", alice), ("Sender", alice), ("Sender", alice)],
                true,
                AddressMatch::DuplicateField(Sender),
            ),
            (
                vec![("From", alice), ("Sender", "a@example.org, b@example.org")],
                true,
                AddressMatch::Unreadable { field: Sender, defect: FieldDefect::NotOneMailbox },
            ),
            (
                vec![("From", "\"bob@example.org\" <alice@example.org>")],
                false,
                shows_bob(From, "bob@example.org"),
            ),
            (
                vec![("From", "alice@example.org (bob@example.org)")],
                false,
                shows_bob(From, "(bob@example.org)"),
            ),
            (
                vec![("From", "=?utf-8?q?bob=40example=2Eorg?= <alice@example.org>")],
                false,
                shows_bob(From, "bob@example.org"),
            ),
            (
                vec![
                    ("From", "boss@example.org"),
                    ("Sender", "\"bob@example.org\" <alice@example.org>"),
                ],
                true,
                shows_bob(Sender, "bob@example.org"),
            ),
            (
                vec![("From", "\"alice@example.org\" <alice@example.org>")],
                false,
                matches(From, alice),
            ),
        ];
        for (fields, accept_sender, expected) in rows {
            assert_eq!(check_fields(&fields, accept_sender), expected, "{fields:?}");
        }
        assert!(matches!(
            check_fields(&[("From", "<unterminated@example.org")], false),
            AddressMatch::Unreadable { field: From, defect: FieldDefect::Unparseable(_) }
        ));
        let none: Vec<String> = vec![];
        let o = Originators::from_fields(&[Field::new("From", "a@b.test")]);
        assert_eq!(check(&o, &none, false), AddressMatch::NoSignerAddress);
        assert_eq!(check(&Originators::absent(), &none, false), AddressMatch::NotChecked);
    }
}
