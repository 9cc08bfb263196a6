//! Who signed, against who the message says wrote it (RFC 8550 section 3, made strict
//! where mail readers show something else than the rule checks).
//!
//! - [`originators`]: the From and Sender fields read once (mailboxes, groups, comments).
//! - [`raw_header`]: NUL and bare CR or LF in them, found before line endings are made CRLF.
//! - [`display_name`]: display names and comments that show an address in disguise.
//! - [`rule`]: the rule itself, giving one [`AddressMatch`] per signer.
//! - [`certificate`]: the addresses a certificate names.

mod certificate;
mod display_name;
mod originators;
mod outcome;
mod raw_header;
mod rule;

pub use self::certificate::certificate_addresses;
pub use self::outcome::{AddressMatch, FieldDefect, OriginatorField};

pub(crate) use self::originators::Originators;
pub(crate) use self::rule::check;
