//! The relay worker's loop and one attempt; see the [module documentation](super).

use std::fs;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::dsn::{self, DsnAction, DsnRecipient};
use crate::queue::{ENVELOPE_VERSION, QueueEnvelope, QueuedRecipient};

/// One message for the [`Deliverer`]: the envelope (its `recipients` are the pending
/// ones) and the message bytes to send.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayJob {
    /// The queue entry.
    pub envelope: QueueEnvelope,
    /// The message, as it is to be sent (the queue's `message_offset` already skipped).
    pub message: Vec<u8>,
}

/// What one attempt did for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientOutcome {
    /// The next hop accepted it.
    Delivered {
        /// The host that accepted it.
        remote_mta: Option<String>,
        /// Its reply, such as `250 2.0.0 Ok: queued as 4XyZ`.
        reply: String,
        /// Whether the next hop took the DSN request (NOTIFY, ORCPT) on; when it did not,
        /// a sender who asked for `NOTIFY=SUCCESS` gets a "relayed" notice from here.
        dsn_passed_on: bool,
    },
    /// Not now: a 4xx reply, no route, a TLS policy that could not be met, a timeout.
    Deferred {
        /// The host that answered, if any.
        remote_mta: Option<String>,
        /// The reply or the reason.
        diagnostic: String,
    },
    /// Never: a 5xx reply (or a policy that cannot change by retrying).
    Failed {
        /// The host that answered, if any.
        remote_mta: Option<String>,
        /// The enhanced status code, such as `5.1.1`.
        status: String,
        /// The reply or the reason.
        diagnostic: String,
    },
}

/// Sends queued messages on (sealpost-client in `sealpost serve`; a script in tests).
pub trait Deliverer: Send + Sync + 'static {
    /// One attempt for every recipient of `job`: exactly one outcome per recipient of
    /// `job.envelope.recipients`, in that order (a different count defers them all).
    fn deliver(&self, job: &RelayJob) -> impl Future<Output = Vec<RecipientOutcome>> + Send;
}

/// What a local delivery of a notice did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalOutcome {
    /// Stored in the address's Maildir.
    Delivered,
    /// Not a local address: the notice goes through the relay queue.
    NotLocal,
    /// A local address that takes no mail (for example not in the recipient list).
    Refused(String),
}

/// Delivers notices to local senders directly ([`MtaHandler`](crate::MtaHandler)
/// implements it).
pub trait LocalDelivery: Send + Sync + 'static {
    /// Stores `message` (a complete message, without Return-Path) for `address`, durably,
    /// when `address` is local. Runs on the blocking pool.
    fn deliver_local(&self, address: &str, message: &[u8]) -> io::Result<LocalOutcome>;
}

/// How the worker retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelaySettings {
    /// This server's name, in notices.
    pub hostname: String,
    /// The wait after the first, second, ... failed attempt; the last one repeats.
    pub backoff: Vec<Duration>,
    /// Recipients still deferred when the message is this old fail ("4.4.7").
    pub max_age: Duration,
    /// How often the queue is scanned for due entries.
    pub scan_interval: Duration,
    /// Messages delivered at once.
    pub concurrency: usize,
}

impl RelaySettings {
    /// Retries after 5, 10, 20, 40 minutes and then every hour; gives up after 5 days
    /// (RFC 5321 section 4.5.4.1 asks for at least 30 minutes between tries and 4-5
    /// days before giving up); the queue is scanned every 30 seconds; 4 at once.
    pub fn new(hostname: impl Into<String>) -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RelaySettings {
            hostname: hostname.into(),
            backoff: vec![minutes(5), minutes(10), minutes(20), minutes(40), minutes(60)],
            max_age: Duration::from_secs(5 * 24 * 3600),
            scan_interval: Duration::from_secs(30),
            concurrency: 4,
        }
    }

    /// The wait after `attempts` attempts.
    fn delay(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(300))
    }
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassSummary {
    /// Queue entries attempted.
    pub attempted: usize,
    /// Recipients delivered.
    pub delivered: usize,
    /// Recipients deferred to a later attempt.
    pub deferred: usize,
    /// Recipients given up on.
    pub failed: usize,
    /// Notices sent to senders.
    pub notices: usize,
    /// Entries whose attempt failed in the file system (they stay queued).
    pub errors: usize,
}

impl PassSummary {
    fn add(&mut self, other: &PassSummary) {
        self.attempted += other.attempted;
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.failed += other.failed;
        self.notices += other.notices;
        self.errors += other.errors;
    }
}

/// Delivers the relay queue; see the [module documentation](super).
pub struct RelayWorker<D> {
    attempt: Attempt<D>,
}

/// What one attempt needs; cheap to clone into a task.
struct Attempt<D> {
    queue: PathBuf,
    deliverer: Arc<D>,
    local: Option<Arc<dyn LocalDelivery>>,
    settings: Arc<RelaySettings>,
}

impl<D> Clone for Attempt<D> {
    fn clone(&self) -> Self {
        Attempt {
            queue: self.queue.clone(),
            deliverer: self.deliverer.clone(),
            local: self.local.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn join_error(e: tokio::task::JoinError) -> io::Error {
    io::Error::other(format!("relay task failed: {e}"))
}

impl<D: Deliverer> RelayWorker<D> {
    /// A worker for the queue in `queue` (the `queue/` of the data directory).
    pub fn new(queue: impl Into<PathBuf>, deliverer: Arc<D>, settings: RelaySettings) -> Self {
        RelayWorker {
            attempt: Attempt {
                queue: queue.into(),
                deliverer,
                local: None,
                settings: Arc::new(settings),
            },
        }
    }

    /// Notices for local senders go straight into their Maildirs.
    #[must_use]
    pub fn with_local(mut self, local: Arc<dyn LocalDelivery>) -> Self {
        self.attempt.local = Some(local);
        self
    }

    /// The entries due at `now`, oldest first. Unreadable envelopes are logged and left
    /// alone.
    pub fn due(&self, now: u64) -> io::Result<Vec<QueueEnvelope>> {
        due_entries(&self.attempt.queue, now)
    }

    /// One pass: attempts every entry due at `now` (seconds since the Unix epoch),
    /// [`RelaySettings::concurrency`] at a time.
    pub async fn run_once(&self, now: u64) -> io::Result<PassSummary> {
        let queue = self.attempt.queue.clone();
        let due = tokio::task::spawn_blocking(move || due_entries(&queue, now))
            .await
            .map_err(join_error)??;
        let slots = Arc::new(Semaphore::new(self.attempt.settings.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for envelope in due {
            let slot = slots.clone().acquire_owned().await.map_err(io::Error::other)?;
            let attempt = self.attempt.clone();
            tasks.spawn(async move {
                let _slot = slot;
                let id = envelope.id.clone();
                attempt.run(envelope, now).await.unwrap_or_else(|e| {
                    tracing::warn!(queue_id = %id, error = %e, "relay attempt failed; kept");
                    PassSummary { attempted: 1, errors: 1, ..PassSummary::default() }
                })
            });
        }
        let mut summary = PassSummary::default();
        while let Some(done) = tasks.join_next().await {
            summary.add(&done.map_err(join_error)?);
        }
        Ok(summary)
    }

    /// Runs passes every [`RelaySettings::scan_interval`] until `shutdown` completes;
    /// an attempt in progress finishes first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run_once(unix_now()).await {
                Ok(summary) if summary.attempted > 0 => {
                    tracing::info!(?summary, "relay pass");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the relay queue"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.attempt.settings.scan_interval) => {}
            }
        }
    }
}

impl<D: Deliverer> Attempt<D> {
    /// One attempt at one entry.
    async fn run(&self, mut envelope: QueueEnvelope, now: u64) -> io::Result<PassSummary> {
        let eml = self.queue.join(format!("{}.eml", envelope.id));
        let stored = tokio::fs::read(&eml).await?;
        let offset = usize::try_from(envelope.message_offset).unwrap_or(usize::MAX);
        let message = stored.get(offset..).unwrap_or_default().to_vec();
        let job = RelayJob { envelope: envelope.clone(), message };
        let count = envelope.recipients.len();
        let mut outcomes = self.deliverer.deliver(&job).await;
        if outcomes.len() != count {
            let diagnostic = format!(
                "the deliverer answered {} outcomes for {count} recipients",
                outcomes.len()
            );
            outcomes = vec![RecipientOutcome::Deferred { remote_mta: None, diagnostic }; count];
        }
        let expired = now.saturating_sub(envelope.arrived) >= self.settings.max_age.as_secs();
        let mut summary = PassSummary { attempted: 1, ..PassSummary::default() };
        let mut pending = Vec::new();
        let mut notices = Vec::new();
        for (mut recipient, outcome) in
            std::mem::take(&mut envelope.recipients).into_iter().zip(outcomes)
        {
            let id = &envelope.id;
            match outcome {
                RecipientOutcome::Delivered { remote_mta, reply, dsn_passed_on } => {
                    tracing::info!(queue_id = %id, to = %recipient.address, ?remote_mta, %reply, "relayed");
                    summary.delivered += 1;
                    if !dsn_passed_on && dsn::wants_notice(&recipient, &DsnAction::Relayed) {
                        notices.push(DsnRecipient::new(
                            recipient,
                            DsnAction::Relayed,
                            "2.0.0",
                            remote_mta,
                            reply,
                        ));
                    }
                }
                RecipientOutcome::Failed { remote_mta, status, diagnostic } => {
                    tracing::info!(queue_id = %id, to = %recipient.address, ?remote_mta, %diagnostic, "relay failed");
                    summary.failed += 1;
                    if dsn::wants_notice(&recipient, &DsnAction::Failed) {
                        notices.push(DsnRecipient::new(
                            recipient,
                            DsnAction::Failed,
                            status,
                            remote_mta,
                            diagnostic,
                        ));
                    }
                }
                RecipientOutcome::Deferred { remote_mta, diagnostic } if expired => {
                    tracing::info!(queue_id = %id, to = %recipient.address, %diagnostic, "relay expired");
                    summary.failed += 1;
                    if dsn::wants_notice(&recipient, &DsnAction::Failed) {
                        let why = format!("delivery time expired; last error: {diagnostic}");
                        notices.push(DsnRecipient::new(
                            recipient,
                            DsnAction::Failed,
                            "4.4.7",
                            remote_mta,
                            why,
                        ));
                    }
                }
                RecipientOutcome::Deferred { remote_mta, diagnostic } => {
                    tracing::info!(queue_id = %id, to = %recipient.address, ?remote_mta, %diagnostic, "relay deferred");
                    summary.deferred += 1;
                    recipient.last_error = Some(diagnostic);
                    pending.push(recipient);
                }
            }
        }
        if !notices.is_empty() {
            summary.notices += usize::from(self.notify(&envelope, &notices, &job.message).await?);
        }
        envelope.recipients = pending;
        envelope.attempts = envelope.attempts.saturating_add(1);
        envelope.next_attempt =
            now.saturating_add(self.settings.delay(envelope.attempts).as_secs());
        let queue = self.queue.clone();
        tokio::task::spawn_blocking(move || update_entry(&queue, &envelope))
            .await
            .map_err(join_error)??;
        Ok(summary)
    }

    /// Sends one notice about `recipients` to the sender; false when there is nobody to
    /// send it to (the null sender: notices never go to `<>`, RFC 3461 section 6.2).
    async fn notify(
        &self,
        envelope: &QueueEnvelope,
        recipients: &[DsnRecipient],
        message: &[u8],
    ) -> io::Result<bool> {
        if envelope.sender.is_empty() {
            tracing::info!(queue_id = %envelope.id, "no notice for the null sender");
            return Ok(false);
        }
        let now = crate::headers::rfc5322_now();
        let notice =
            dsn::notification(envelope, recipients, message, &self.settings.hostname, &now);
        let sender = envelope.sender.clone();
        let local = self.local.clone();
        let queue = self.queue.clone();
        let id = envelope.id.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(local) = local {
                match local.deliver_local(&sender, &notice)? {
                    LocalOutcome::Delivered => return Ok(true),
                    LocalOutcome::Refused(why) => {
                        tracing::warn!(queue_id = %id, to = %sender, %why, "notice refused locally; dropped");
                        return Ok(false);
                    }
                    LocalOutcome::NotLocal => {}
                }
            }
            enqueue_notice(&queue, &sender, &notice)?;
            Ok(true)
        })
        .await
        .map_err(join_error)?
    }
}

/// The entries of `queue` due at `now`, oldest first.
fn due_entries(queue: &Path, now: u64) -> io::Result<Vec<QueueEnvelope>> {
    let mut due = Vec::new();
    for entry in fs::read_dir(queue)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match fs::read(&path).and_then(|bytes| QueueEnvelope::from_json(&bytes)) {
            Ok(envelope) if envelope.next_attempt <= now => due.push(envelope),
            Ok(_) => {}
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "unreadable queue entry"),
        }
    }
    due.sort_by(|a, b| (a.arrived, &a.id).cmp(&(b.arrived, &b.id)));
    Ok(due)
}

/// Rewrites the entry with its pending recipients, or removes it when none is left
/// (the `.json` first: without it the `.eml` is a leftover that start-up removes).
fn update_entry(queue: &Path, envelope: &QueueEnvelope) -> io::Result<()> {
    let json = queue.join(format!("{}.json", envelope.id));
    if envelope.recipients.is_empty() {
        fs::remove_file(&json)?;
        crate::store::sync_dir(queue)?;
        let eml = queue.join(format!("{}.eml", envelope.id));
        if let Err(e) = fs::remove_file(&eml) {
            tracing::warn!(file = %eml.display(), error = %e, "cannot remove a delivered message");
        }
        return Ok(());
    }
    let tmp = queue.join(format!("{}.json.tmp", envelope.id));
    let _ = fs::remove_file(&tmp);
    let result = crate::queue::write_synced(&tmp, &envelope.to_json())
        .and_then(|()| fs::rename(&tmp, &json));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    crate::store::sync_dir(queue)
}

/// Queues a notice for `to` from the null sender, with the same commit order as the
/// server's queue (message, then envelope by rename).
fn enqueue_notice(queue: &Path, to: &str, notice: &[u8]) -> io::Result<()> {
    let id = crate::maildir::unique_base();
    let eml = queue.join(format!("{id}.eml"));
    crate::queue::write_synced(&eml, notice)?;
    crate::store::sync_dir(queue)?;
    let eight_bit = notice.iter().any(|b| *b >= 0x80);
    let envelope = QueueEnvelope {
        version: ENVELOPE_VERSION,
        id: id.clone(),
        arrived: unix_now(),
        session: String::from("relay"),
        client: String::from("local"),
        user: None,
        sender: String::new(),
        envid: None,
        ret: None,
        mail_parameters: if eight_bit { vec![String::from("BODY=8BITMIME")] } else { Vec::new() },
        message_offset: 0,
        recipients: vec![QueuedRecipient {
            address: to.to_owned(),
            notify: None,
            orcpt: None,
            parameters: Vec::new(),
            last_error: None,
        }],
        attempts: 0,
        next_attempt: 0,
    };
    let tmp = queue.join(format!("{id}.json.tmp"));
    crate::queue::write_synced(&tmp, &envelope.to_json())?;
    fs::rename(&tmp, queue.join(format!("{id}.json")))?;
    crate::store::sync_dir(queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_repeats_its_last_step() {
        let settings = RelaySettings::new("mx.test");
        let minutes: Vec<u64> = (1..=7).map(|n| settings.delay(n).as_secs() / 60).collect();
        assert_eq!(minutes, [5, 10, 20, 40, 60, 60, 60]);
        let empty = RelaySettings { backoff: Vec::new(), ..RelaySettings::new("x") };
        assert_eq!(empty.delay(1), Duration::from_secs(300));
    }
}
