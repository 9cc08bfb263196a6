//! The mail server's own handler: local delivery to Maildirs, a durable queue for mail
//! that authenticated users send elsewhere, and AUTH against a users file.
//!
//! # Policy
//!
//! - `RCPT TO:<Postmaster>` is always accepted, and delivered to `postmaster@` the first
//!   local domain; `postmaster@` any local domain is always accepted too (RFC 5321
//!   section 4.5.1), whatever the recipient list says.
//! - A recipient in a local domain (compared case-insensitively) is accepted when there
//!   is no recipient list, or when the list holds it (compared after the folding
//!   described in [`crate::maildir`]); otherwise "550 5.1.1 User unknown". Its mail goes
//!   to `maildir/<domain>/<local>/`, created on first delivery.
//! - Any other recipient is accepted only in an authenticated session, or from a client
//!   whose TLS certificate is listed in [`MtaConfig::relay_client_certs`] (Postfix's
//!   `relay_clientcerts`), and queued in `queue/` (see [`crate::queue`]); otherwise it
//!   gets "550 5.7.1 Relaying denied". This server is never an open relay.
//! - A message is acknowledged only when every destination is durable (see
//!   [`MtaSink`]); anything else is "451 4.3.0".
//!
//! # Data directory
//!
//! `maildir/` (the mailboxes), `queue/` (relay queue), `spool/` (messages while they
//! arrive; empty when idle). One server process per data directory: at start,
//! [`MtaHandler::new`] removes what an interrupted run left in `spool/` and `queue/`.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealpost_codec::sasl::Credentials;
use sealpost_codec::{DomainPart, ForwardPath, Mailbox, Mechanism, RcptParameters};
use tokio::sync::Semaphore;

use crate::filter::MessageFilter;
use crate::handler::{Envelope, Handler, SessionInfo, Verdict};
use crate::maildir::{self, path_component};
use crate::queue::{self, QueueEnvelope};
pub use crate::store::MtaSink;
use crate::store::{Layout, Plan};
use crate::users::Users;

/// What [`MtaHandler`] needs to know.
///
/// ```
/// use sealpost_server::{MtaConfig, MtaHandler};
///
/// let dir = std::env::temp_dir().join(format!("sealpost-doc-{}", std::process::id()));
/// let mut config = MtaConfig::new(&dir, vec![String::from("example.org")]);
/// config.recipients = Some(vec![String::from("alice@example.org")]);
/// let handler = MtaHandler::new(config)?;
/// assert!(dir.join("maildir").is_dir() && dir.join("queue").is_dir());
/// # drop(handler);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MtaConfig {
    /// The data directory; `maildir/`, `queue/` and `spool/` live below it.
    pub data_dir: PathBuf,
    /// The domains delivered here, compared case-insensitively. At least one.
    pub local_domains: Vec<String>,
    /// When set, the only addresses accepted in local domains (besides postmaster);
    /// others get "550 5.1.1 User unknown".
    pub recipients: Option<Vec<String>>,
    /// The AUTH backend; `None` refuses every AUTH ("535 5.7.8").
    pub users: Option<Arc<Users>>,
    /// The host name in Maildir file names. Defaults to this machine's name.
    pub hostname: String,
    /// SHA-256 fingerprints of client certificates (of the whole certificate or of its
    /// SubjectPublicKeyInfo) whose sessions may relay without AUTH, as Postfix's
    /// `relay_clientcerts`. The listener must ask for client certificates
    /// ([`ClientAuth`](sealpost_starttls::ClientAuth) other than `Off`). A match needs
    /// no CA: the fingerprint is the identity.
    pub relay_client_certs: Vec<[u8; 32]>,
    /// Looks at every message for the Maildirs before it is stored (to add a
    /// verification result, or to store it encrypted); see [`crate::filter`].
    pub filter: Option<Arc<dyn MessageFilter>>,
}

impl MtaConfig {
    /// A configuration with no recipient list (every local part of a local domain has a
    /// Maildir) and no users.
    pub fn new(data_dir: impl Into<PathBuf>, local_domains: Vec<String>) -> Self {
        MtaConfig {
            data_dir: data_dir.into(),
            local_domains,
            recipients: None,
            users: None,
            hostname: maildir::system_hostname(),
            relay_client_certs: Vec::new(),
            filter: None,
        }
    }
}

/// The MTA's [`Handler`]: see the [module documentation](self) for its policy.
#[derive(Debug)]
pub struct MtaHandler {
    layout: Arc<Layout>,
    /// Lower case, without a trailing dot; the first one receives `<Postmaster>`.
    domains: Vec<String>,
    /// Folded `local@domain` keys of the recipient list.
    recipients: Option<HashSet<String>>,
    users: Option<Arc<Users>>,
    /// Password checks running at once: each argon2 run takes ~19 MiB and a core, so an
    /// AUTH flood must queue here rather than exhaust memory on the blocking pool.
    auth_slots: Arc<Semaphore>,
    /// Certificate and SPKI fingerprints that may relay.
    relay_certs: HashSet<[u8; 32]>,
}

/// Where a recipient's mail goes.
enum Route {
    /// A Maildir root, and the address it belongs to (folded).
    Local(PathBuf, String),
    /// The relay queue.
    Relay,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The key a recipient list entry and a recipient are compared by.
fn fold(local_part: &str, domain: &str) -> String {
    format!("{}@{}", local_part.to_lowercase(), domain.to_ascii_lowercase())
}

impl MtaHandler {
    /// Checks the configuration, creates the data directory layout and removes what an
    /// interrupted run left in `spool/` and `queue/`.
    pub fn new(config: MtaConfig) -> io::Result<Self> {
        let domains: Vec<String> = config
            .local_domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if domains.is_empty() {
            return Err(invalid(String::from(
                "no local domain: give at least one (mail for <Postmaster> goes to the first)",
            )));
        }
        let recipients = match &config.recipients {
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
        let layout = Layout {
            maildir: config.data_dir.join("maildir"),
            queue: config.data_dir.join("queue"),
            spool: config.data_dir.join("spool"),
            host: maildir::safe_host(&config.hostname),
            filter: config.filter,
        };
        for dir in [&layout.maildir, &layout.queue, &layout.spool] {
            crate::store::create_private_dir(dir)?;
        }
        for entry in fs::read_dir(&layout.spool)? {
            let path = entry?.path();
            tracing::warn!(file = %path.display(), "removing a message left from an interrupted run");
            fs::remove_file(&path)?;
        }
        queue::remove_leftovers(&layout.queue)?;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Ok(MtaHandler {
            layout: Arc::new(layout),
            domains,
            recipients,
            users: config.users,
            auth_slots: Arc::new(Semaphore::new(cores)),
            relay_certs: config.relay_client_certs.into_iter().collect(),
        })
    }

    /// The directory holding the Maildirs.
    pub fn maildir_dir(&self) -> &Path {
        &self.layout.maildir
    }

    /// The directory of the relay queue.
    pub fn queue_dir(&self) -> &Path {
        &self.layout.queue
    }

    /// The local domain `domain` is, if any.
    fn local_domain(&self, domain: &DomainPart<'_>) -> Option<&str> {
        let name = match domain {
            DomainPart::Domain(d) => d.as_str().trim_end_matches('.').to_owned(),
            other => other.to_string(),
        };
        self.domains.iter().find(|d| d.eq_ignore_ascii_case(&name)).map(String::as_str)
    }

    /// Whether this session may send mail to other domains: it authenticated, or its
    /// client certificate (or that certificate's key) is listed.
    fn may_relay(&self, info: &SessionInfo) -> bool {
        if info.user.is_some() {
            return true;
        }
        let Some(peer) = info.tls.as_ref().and_then(|tls| tls.peer.as_ref()) else {
            return false;
        };
        self.relay_certs.contains(&peer.cert_sha256)
            || peer.spki_sha256.is_some_and(|spki| self.relay_certs.contains(&spki))
    }

    /// Where mail for `path` goes, or why it is refused (relaying is decided by the
    /// caller).
    fn route(&self, path: &ForwardPath<'_>) -> Result<Route, Verdict> {
        let (local, domain) = match path {
            ForwardPath::Mailbox(m) => match self.local_domain(m.domain()) {
                Some(domain) => (m.local_part().value(), domain),
                None => return Ok(Route::Relay),
            },
            // `<Postmaster>` and any other form without a mailbox.
            _ => {
                let first = self.domains.first().map_or("localhost", String::as_str);
                (std::borrow::Cow::Borrowed("postmaster"), first)
            }
        };
        let postmaster = local.eq_ignore_ascii_case("postmaster");
        if let Some(list) = &self.recipients
            && !postmaster
            && !list.contains(&fold(&local, domain))
        {
            return Err(Verdict::reject(550, (5, 1, 1), "User unknown"));
        }
        match (path_component(domain), path_component(&local)) {
            (Some(d), Some(l)) => {
                Ok(Route::Local(self.layout.maildir.join(d).join(l), fold(&local, domain)))
            }
            _ => Err(Verdict::reject(553, (5, 1, 3), "Mailbox name not allowed")),
        }
    }
}

impl crate::relay::LocalDelivery for MtaHandler {
    /// Delivery status notices for local senders: the same routing as RCPT (recipient
    /// list included), the same durable storage, with `Return-Path: <>`.
    fn deliver_local(
        &self,
        address: &str,
        message: &[u8],
    ) -> io::Result<crate::relay::LocalOutcome> {
        use crate::relay::LocalOutcome;
        let Ok(mailbox) = Mailbox::parse(address) else { return Ok(LocalOutcome::NotLocal) };
        match self.route(&ForwardPath::Mailbox(mailbox)) {
            Ok(Route::Relay) => Ok(LocalOutcome::NotLocal),
            Err(verdict) => Ok(LocalOutcome::Refused(format!("{verdict:?}"))),
            Ok(Route::Local(root, _)) => {
                let mut bytes = Vec::with_capacity(message.len() + 20);
                bytes.extend_from_slice(b"Return-Path: <>\r\n");
                bytes.extend_from_slice(message);
                crate::store::deliver_bytes(&self.layout, &root, &bytes)?;
                Ok(LocalOutcome::Delivered)
            }
        }
    }
}

fn relaying_denied() -> Verdict {
    Verdict::reject(550, (5, 7, 1), "Relaying denied")
}

impl Handler for MtaHandler {
    type Sink = MtaSink;

    async fn rcpt(
        &self,
        info: &SessionInfo,
        _envelope: &Envelope,
        forward_path: &ForwardPath<'_>,
        _parameters: &RcptParameters<'_>,
    ) -> Verdict {
        match self.route(forward_path) {
            Ok(Route::Local(..)) => Verdict::Accept,
            Ok(Route::Relay) if self.may_relay(info) => Verdict::Accept,
            Ok(Route::Relay) => relaying_denied(),
            Err(verdict) => verdict,
        }
    }

    async fn open_message(
        &self,
        info: &SessionInfo,
        envelope: &Envelope,
    ) -> Result<MtaSink, Verdict> {
        let mut plan = Plan {
            return_path: crate::headers::return_path(&envelope.reverse_path),
            ..Plan::default()
        };
        let mut relayed = Vec::new();
        for (i, (path, _)) in envelope.recipients.iter().enumerate() {
            match self.route(path)? {
                Route::Local(root, address) => {
                    if !plan.maildirs.iter().any(|(r, _)| *r == root) {
                        plan.maildirs.push((root, address));
                    }
                }
                // RCPT checked this; a session cannot lose its user or its certificate
                // within a transaction, but the check costs nothing.
                Route::Relay if !self.may_relay(info) => return Err(relaying_denied()),
                Route::Relay => relayed.push(i),
            }
        }
        if !relayed.is_empty() {
            // The sink fills in the id and the offset.
            plan.queue = Some(QueueEnvelope::new(String::new(), info, envelope, &relayed, 0));
        }
        MtaSink::open(self.layout.clone(), plan).await.map_err(|e| {
            tracing::warn!(session = %info.id, error = %e, "cannot open the spool");
            crate::store::storage_failure()
        })
    }

    async fn authenticate(
        &self,
        _info: &SessionInfo,
        _mechanism: &Mechanism<'_>,
        credentials: &Credentials,
    ) -> Option<String> {
        let users = self.users.clone()?;
        // No proxy authorization: an authzid other than the user itself is refused.
        if credentials.authzid.as_ref().is_some_and(|a| !a.is_empty() && *a != credentials.username)
        {
            return None;
        }
        let user = credentials.username.clone();
        let password = credentials.password.clone();
        let slot = self.auth_slots.clone().acquire_owned().await.ok()?;
        // Argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            users.verify(&user, password.expose()).then_some(user)
        })
        .await
        .ok()
        .flatten()
    }
}
