//! A look at every complete message before it goes into the Maildirs.
//!
//! A [`MessageFilter`] sees the message exactly as it would be stored and may answer with
//! a changed message for every local recipient (to prepend a verification result, such as
//! the S/MIME `Authentication-Results` of RFC 7281) and with versions for single
//! recipients (to store a message encrypted to a recipient's certificate). It runs on the
//! blocking thread pool after the message was received whole and before the 250: the
//! client is told "250" only when every version is durable, and "451 4.3.0" when the
//! filter fails (so a recipient who asked for encryption at rest never gets a plaintext
//! copy because encryption failed).
//!
//! Mail for the relay queue is not filtered: it leaves as it came, and its final
//! destination judges it.
//!
//! ```
//! use std::io;
//! use sealpost_mta::filter::{Filtered, MessageFilter};
//! use sealpost_mta::headers::insert_trace_header;
//!
//! /// Marks every message.
//! #[derive(Debug)]
//! struct Stamp;
//!
//! impl MessageFilter for Stamp {
//!     fn filter(&self, message: &[u8], _recipients: &[&str]) -> io::Result<Filtered> {
//!         let stamped = insert_trace_header(message, "X-Stamp: yes\r\n");
//!         Ok(Filtered::replace(stamped))
//!     }
//! }
//!
//! let out = Stamp.filter(b"Return-Path: <a@b.example>\r\nSubject: hi\r\n\r\nbody\r\n", &[])?;
//! assert_eq!(
//!     out.message.as_deref(),
//!     Some(&b"Return-Path: <a@b.example>\r\nX-Stamp: yes\r\nSubject: hi\r\n\r\nbody\r\n"[..])
//! );
//! # Ok::<(), io::Error>(())
//! ```

use std::fmt::Debug;
use std::io;

/// Looks at each complete message bound for local Maildirs; see the
/// [module documentation](self).
pub trait MessageFilter: Send + Sync + Debug + 'static {
    /// `message` is the message as it would be stored: `Return-Path:` first, then this
    /// server's `Received:`, then what the client sent. `recipients` are the local
    /// mailboxes it goes to, as `local@domain` in lower case, each once.
    ///
    /// An error refuses the message with "451 4.3.0": use it only when storing the
    /// message unchanged would be wrong.
    fn filter(&self, message: &[u8], recipients: &[&str]) -> io::Result<Filtered>;
}

/// What a [`MessageFilter`] made of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filtered {
    /// The message for every recipient not in `per_recipient`; `None` keeps it as it is.
    pub message: Option<Vec<u8>>,
    /// Versions for single recipients (`local@domain` as given to the filter), stored
    /// instead of `message` for them.
    pub per_recipient: Vec<(String, Vec<u8>)>,
}

impl Filtered {
    /// Nothing changes.
    pub fn unchanged() -> Self {
        Filtered::default()
    }

    /// Every recipient gets `message`.
    pub fn replace(message: Vec<u8>) -> Self {
        Filtered { message: Some(message), per_recipient: Vec::new() }
    }

    /// Adds a version for one recipient.
    #[must_use]
    pub fn with_recipient(mut self, recipient: impl Into<String>, message: Vec<u8>) -> Self {
        self.per_recipient.push((recipient.into(), message));
        self
    }

    /// The version `recipient` gets: its own, the common one, or `None` for the message
    /// as received.
    pub fn for_recipient(&self, recipient: &str) -> Option<&[u8]> {
        self.per_recipient
            .iter()
            .find(|(r, _)| r == recipient)
            .map(|(_, m)| m.as_slice())
            .or(self.message.as_deref())
    }
}
