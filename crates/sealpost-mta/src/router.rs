//! Which recipients are local, and where their Maildir is.
//!
//! - `<Postmaster>` is local: `postmaster@` the first local domain; `postmaster@` any
//!   local domain is always accepted too (RFC 5321 section 4.5.1), whatever the recipient
//!   list says.
//! - A recipient in a local domain (compared case-insensitively, without a trailing dot)
//!   is accepted when there is no recipient list, or when the list holds it (compared
//!   after the folding described in [`crate::maildir`]); otherwise "550 5.1.1 User
//!   unknown". Its mail goes to `maildir/<domain>/<local>/`.
//! - Any other recipient is remote; whether it may be relayed is the handler's decision.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use sealpost_codec::{DomainPart, ForwardPath, Mailbox, replies};
use sealpost_server::Verdict;

use crate::maildir::path_component;

/// Where a recipient's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// A local mailbox.
    Local {
        /// Its Maildir (`maildir/<domain>/<local>`).
        maildir: PathBuf,
        /// Its address as `local@domain`, folded (the key of the recipient list, and the
        /// address final delivery over LMTP names).
        address: String,
    },
    /// Another domain.
    Remote,
}

/// The local domains and the recipient list; see the [crate documentation](crate).
///
/// ```
/// use sealpost_codec::ForwardPath;
/// use sealpost_mta::{Destination, Router};
///
/// let router = Router::new(&["Example.ORG".into()], Some(&["alice@example.org".into()]), "/srv/mail".as_ref())?;
/// let alice: ForwardPath<'static> = ForwardPath::Mailbox("Alice@example.org".parse()?);
/// assert!(matches!(router.route(&alice), Ok(Destination::Local { address, .. }) if address == "alice@example.org"));
/// let bob: ForwardPath<'static> = ForwardPath::Mailbox("bob@example.org".parse()?);
/// assert!(router.route(&bob).is_err()); // 550 5.1.1 User unknown
/// let carol: ForwardPath<'static> = ForwardPath::Mailbox("carol@example.net".parse()?);
/// assert_eq!(router.route(&carol), Ok(Destination::Remote));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Router {
    /// Lower case, without a trailing dot; the first one receives `<Postmaster>`.
    domains: Vec<String>,
    /// Folded `local@domain` keys of the recipient list.
    recipients: Option<HashSet<String>>,
    /// The directory of the Maildirs.
    maildir: PathBuf,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The key a recipient list entry and a recipient are compared by.
fn fold(local_part: &str, domain: &str) -> String {
    format!("{}@{}", local_part.to_lowercase(), domain.to_ascii_lowercase())
}

impl Router {
    /// A router for `local_domains` (at least one), an optional recipient list, and the
    /// Maildirs under `maildir`.
    pub fn new(
        local_domains: &[String],
        recipients: Option<&[String]>,
        maildir: &Path,
    ) -> io::Result<Router> {
        let domains: Vec<String> = local_domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if domains.is_empty() {
            return Err(invalid(String::from(
                "no local domain: give at least one (mail for <Postmaster> goes to the first)",
            )));
        }
        let recipients = match recipients {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|entry| {
                        let mailbox = Mailbox::parse(entry.trim()).map_err(|e| {
                            invalid(format!("recipient list: {entry:?} is not an address: {e}"))
                        })?;
                        Ok(fold(&mailbox.local_part().value(), &mailbox.domain().to_string()))
                    })
                    .collect::<io::Result<HashSet<String>>>()?,
            ),
        };
        Ok(Router { domains, recipients, maildir: maildir.to_path_buf() })
    }

    /// The first local domain (where `<Postmaster>` goes).
    pub fn first_domain(&self) -> &str {
        self.domains.first().map_or("localhost", String::as_str)
    }

    /// The local domain `domain` is, if any.
    fn local_domain(&self, domain: &DomainPart<'_>) -> Option<&str> {
        let name = match domain {
            DomainPart::Domain(d) => d.as_str().trim_end_matches('.').to_owned(),
            other => other.to_string(),
        };
        self.domains.iter().find(|d| d.eq_ignore_ascii_case(&name)).map(String::as_str)
    }

    /// Where mail for `path` goes, or the refusal for a local address that takes none.
    pub fn route(&self, path: &ForwardPath<'_>) -> Result<Destination, Verdict> {
        let (local, domain) = match path {
            ForwardPath::Mailbox(m) => match self.local_domain(m.domain()) {
                Some(domain) => (m.local_part().value(), domain),
                None => return Ok(Destination::Remote),
            },
            // `<Postmaster>` and any other form without a mailbox.
            _ => (Cow::Borrowed("postmaster"), self.first_domain()),
        };
        let postmaster = local.eq_ignore_ascii_case("postmaster");
        if let Some(list) = &self.recipients
            && !postmaster
            && !list.contains(&fold(&local, domain))
        {
            return Err(Verdict::from(replies::USER_UNKNOWN));
        }
        match (path_component(domain), path_component(&local)) {
            (Some(d), Some(l)) => Ok(Destination::Local {
                maildir: self.maildir.join(d).join(l),
                address: fold(&local, domain),
            }),
            _ => Err(Verdict::from(replies::MAILBOX_NAME_NOT_ALLOWED)),
        }
    }
}
