//! The mail server's own handler: local delivery to Maildirs (at once, or through the
//! queue), a durable queue for mail that authenticated users send elsewhere, and AUTH
//! against a users file.
//!
//! # Policy
//!
//! - Local recipients are decided by the [`Router`] (local domains, `<Postmaster>`, the
//!   recipient list).
//! - Any other recipient is accepted only in an authenticated session, or from a client
//!   whose TLS certificate is listed in [`MtaConfig::relay_client_certs`] (Postfix's
//!   `relay_clientcerts`), and queued (see [`crate::queue`]); otherwise it gets "550
//!   5.7.1 Relaying denied". This server is never an open relay.
//! - A message is acknowledged only when every destination is durable (see
//!   [`MtaSink`]); anything else is "451 4.3.0".
//!
//! # Local mail
//!
//! [`LocalMail::Maildir`] (one node, the default) stores local copies in the Maildirs at
//! once, before 250. [`LocalMail::Queue`] queues them like remote ones, for a worker to
//! deliver by the configured final delivery (Maildir on the worker's node, or LMTP): a
//! cluster of nodes that share a database queue keeps no mail of its own this way.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use sealpost_codec::sasl::Credentials;
use sealpost_codec::{ForwardPath, Mechanism, RcptParameters, replies};
use sealpost_server::{Envelope, Handler, SessionInfo, Verdict};
use tokio::sync::Semaphore;

use crate::filter::MessageFilter;
use crate::queue::{QueueStore, QueuedEnvelope, QueuedRecipient, RecipientRoute};
use crate::router::{Destination, Router};
pub use crate::store::MtaSink;
use crate::store::{MaildirStore, Plan};
use crate::users::Users;

/// Where mail for local mailboxes goes when it is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LocalMail {
    /// Into the Maildirs at once (one node).
    #[default]
    Maildir,
    /// Into the queue, for final delivery by a worker (cluster mode, LMTP).
    Queue,
}

/// What [`MtaHandler`] needs to know.
///
/// ```
/// use std::sync::Arc;
/// use sealpost_mta::{FileQueue, MtaConfig, MtaHandler};
///
/// let dir = tempfile::tempdir()?;
/// let mut config = MtaConfig::new(dir.path(), vec![String::from("example.org")]);
/// config.recipients = Some(vec![String::from("alice@example.org")]);
/// let queue = Arc::new(FileQueue::open(dir.path().join("queue"))?);
/// let handler = MtaHandler::new(config, queue)?;
/// assert!(dir.path().join("maildir").is_dir() && dir.path().join("queue").is_dir());
/// # drop(handler);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MtaConfig {
    /// The data directory; `maildir/` and `spool/` live below it.
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
    /// This node's name in queue records. Defaults to the host name.
    pub node: String,
    /// SHA-256 fingerprints of client certificates (of the whole certificate or of its
    /// SubjectPublicKeyInfo) whose sessions may relay without AUTH, as Postfix's
    /// `relay_clientcerts`. The listener must ask for client certificates
    /// ([`ClientAuth`](sealpost_starttls::ClientAuth) other than `Off`). A match needs
    /// no CA: the fingerprint is the identity.
    pub relay_client_certs: Vec<[u8; 32]>,
    /// Looks at every message for the Maildirs before it is stored (to add a
    /// verification result, or to store it encrypted); see [`crate::filter`].
    pub filter: Option<Arc<dyn MessageFilter>>,
    /// Local mail into the Maildirs at once, or through the queue.
    pub local_mail: LocalMail,
}

impl MtaConfig {
    /// A configuration with no recipient list (every local part of a local domain has a
    /// Maildir), no users, and local mail stored at once.
    pub fn new(data_dir: impl Into<PathBuf>, local_domains: Vec<String>) -> Self {
        let hostname = crate::maildir::system_hostname();
        MtaConfig {
            data_dir: data_dir.into(),
            local_domains,
            recipients: None,
            users: None,
            node: hostname.clone(),
            hostname,
            relay_client_certs: Vec::new(),
            filter: None,
            local_mail: LocalMail::Maildir,
        }
    }
}

/// The MTA's [`Handler`]: see the [crate documentation](crate) for its policy.
#[derive(Debug)]
pub struct MtaHandler<Q> {
    router: Arc<Router>,
    store: Arc<MaildirStore>,
    queue: Arc<Q>,
    local_mail: LocalMail,
    node: String,
    users: Option<Arc<Users>>,
    /// Password checks running at once: each argon2 run takes ~19 MiB and a core, so an
    /// AUTH flood must queue here rather than exhaust memory on the blocking pool.
    auth_slots: Arc<Semaphore>,
    /// Certificate and SPKI fingerprints that may relay.
    relay_certs: HashSet<[u8; 32]>,
}

fn relaying_denied() -> Verdict {
    Verdict::from(replies::RELAYING_DENIED)
}

impl<Q: QueueStore> MtaHandler<Q> {
    /// Checks the configuration, creates the data directory layout and removes what an
    /// interrupted run left in `spool/`. Messages for the queue go to `queue`.
    pub fn new(config: MtaConfig, queue: Arc<Q>) -> io::Result<Self> {
        let store = MaildirStore::open(&config.data_dir, &config.hostname, config.filter)?;
        let router =
            Router::new(&config.local_domains, config.recipients.as_deref(), &store.maildir)?;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Ok(MtaHandler {
            router: Arc::new(router),
            store: Arc::new(store),
            queue,
            local_mail: config.local_mail,
            node: config.node,
            users: config.users,
            auth_slots: Arc::new(Semaphore::new(cores)),
            relay_certs: config.relay_client_certs.into_iter().collect(),
        })
    }

    /// The routing policy (shared with the delivery worker).
    pub fn router(&self) -> Arc<Router> {
        self.router.clone()
    }

    /// The Maildir store (shared with the delivery worker).
    pub fn store(&self) -> Arc<MaildirStore> {
        self.store.clone()
    }

    /// Where local mail goes when it is accepted.
    pub fn local_mail(&self) -> LocalMail {
        self.local_mail
    }

    /// The queue.
    pub fn queue(&self) -> &Arc<Q> {
        &self.queue
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
}

impl<Q: QueueStore> Handler for MtaHandler<Q> {
    type Sink = MtaSink<Q>;

    async fn rcpt(
        &self,
        info: &SessionInfo,
        _envelope: &Envelope,
        forward_path: &ForwardPath<'_>,
        _parameters: &RcptParameters<'_>,
    ) -> Verdict {
        match self.router.route(forward_path) {
            Ok(Destination::Local { .. }) => Verdict::Accept,
            Ok(Destination::Remote) if self.may_relay(info) => Verdict::Accept,
            Ok(Destination::Remote) => relaying_denied(),
            Err(verdict) => verdict,
        }
    }

    async fn open_message(
        &self,
        info: &SessionInfo,
        envelope: &Envelope,
    ) -> Result<MtaSink<Q>, Verdict> {
        let mut plan = Plan {
            return_path: crate::headers::return_path(&envelope.reverse_path),
            ..Plan::default()
        };
        let mut queued =
            QueuedEnvelope::new(envelope.reverse_path.clone(), envelope.mail_parameters.clone());
        queued.session.clone_from(&info.id);
        queued.client = Some(info.peer);
        queued.user.clone_from(&info.user);
        queued.node.clone_from(&self.node);
        for (path, parameters) in &envelope.recipients {
            let route = match self.router.route(path)? {
                Destination::Local { maildir, address }
                    if self.local_mail == LocalMail::Maildir =>
                {
                    if !plan.maildirs.iter().any(|(r, _)| *r == maildir) {
                        plan.maildirs.push((maildir, address));
                    }
                    continue;
                }
                Destination::Local { .. } => RecipientRoute::Local,
                // RCPT checked this; a session cannot lose its user or its certificate
                // within a transaction, but the check costs nothing.
                Destination::Remote if !self.may_relay(info) => return Err(relaying_denied()),
                Destination::Remote => RecipientRoute::Remote,
            };
            queued.recipients.push(QueuedRecipient::new(path.clone(), parameters.clone(), route));
        }
        if !queued.recipients.is_empty() {
            plan.queued = Some(queued);
        }
        MtaSink::open(self.store.clone(), self.queue.clone(), plan).await.map_err(|e| {
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
