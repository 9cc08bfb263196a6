//! Reverse-path (MAIL FROM) and forward-path (RCPT TO), RFC 5321 section 4.1.2.

use std::fmt;

use crate::types::mailbox::Mailbox;

/// RFC 5321 section 4.5.3.1.3: a path, angle brackets included, is at most 256 octets.
pub const MAX_PATH_LEN: usize = 256;

/// The argument of `MAIL FROM:`: the null path `<>` (bounces) or a mailbox.
///
/// A source route (`<@relay:user@example.org>`) is accepted on input and dropped, as
/// RFC 5321 appendix C asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReversePath<'a> {
    /// `<>`
    Null,
    /// `<local@domain>`
    Mailbox(Mailbox<'a>),
}

impl ReversePath<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> ReversePath<'static> {
        match self {
            ReversePath::Null => ReversePath::Null,
            ReversePath::Mailbox(m) => ReversePath::Mailbox(m.into_owned()),
        }
    }

    /// The mailbox, unless this is the null path.
    pub fn mailbox(&self) -> Option<&Mailbox<'_>> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }

    /// True when no SMTPUTF8 is needed.
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }
}

impl fmt::Display for ReversePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// The argument of `RCPT TO:`: `<Postmaster>` (no domain, RFC 5321 section 4.1.1.3) or a
/// mailbox. `<Postmaster>` is its own variant, distinct from any mailbox and from `<>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardPath<'a> {
    /// `<Postmaster>`, matched case-insensitively.
    Postmaster,
    /// `<local@domain>`
    Mailbox(Mailbox<'a>),
}

impl ForwardPath<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> ForwardPath<'static> {
        match self {
            ForwardPath::Postmaster => ForwardPath::Postmaster,
            ForwardPath::Mailbox(m) => ForwardPath::Mailbox(m.into_owned()),
        }
    }

    /// The mailbox, unless this is the bare `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox<'_>> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        }
    }

    /// True when no SMTPUTF8 is needed.
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }
}

impl fmt::Display for ForwardPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'u> Arbitrary<'u> for ReversePath<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(if u.ratio(1, 8)? {
                ReversePath::Null
            } else {
                ReversePath::Mailbox(Mailbox::arbitrary(u)?)
            })
        }
    }

    impl<'u> Arbitrary<'u> for ForwardPath<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(if u.ratio(1, 8)? {
                ForwardPath::Postmaster
            } else {
                ForwardPath::Mailbox(Mailbox::arbitrary(u)?)
            })
        }
    }
}
