//! The delivery worker: claims due recipients from the queue, delivers them (remote ones
//! through the relay [`Deliverer`], local ones through the final delivery), and settles
//! the outcome, with retries, backoff, expiry and delivery status notices.
//!
//! # One attempt
//!
//! A claim holds the due recipients of one message under a lease (see
//! [`crate::queue`]), renewed while the attempt runs. Delivered recipients leave the
//! queue (with a "relayed" notice when they asked for `NOTIFY=SUCCESS` and the next hop
//! did not take the DSN request on, or a "delivered" one for a local mailbox); failed
//! ones leave it with a "failed" notice (unless `NOTIFY=NEVER`); deferred ones are due
//! again after the backoff, until the message is older than [`WorkerSettings::max_age`],
//! when they fail as "4.4.7 delivery time expired". The notices are queued (from `<>`,
//! never to `<>`: RFC 3461 section 6.2) in the same step that settles the attempt.
//!
//! # Crashes and duplicates
//!
//! The outcome is written only after the attempt, and only while the lease is held. A
//! crash (or a stall past the lease) between a next hop's 250 and that write leaves the
//! recipient queued, and it is delivered again when the lease ends: delivery is at least
//! once, never at most once, so a message can arrive twice (as with every MTA that does
//! not keep a transaction log with the next hop). No crash loses a queued message.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sealpost_codec::{BodyType, ForwardPath, MailParameter, MailParameters, ReversePath};
use tokio::task::JoinSet;

use crate::queue::{
    Body, Claim, NewMessage, QueueError, QueueId, QueueStore, QueuedEnvelope, QueuedRecipient,
    RecipientRoute, Settlement,
};
use crate::relay::dsn::{self, DsnAction, DsnRecipient};
use crate::relay::{Deliverer, DeliveryJob, RecipientOutcome};
use crate::router::{Destination, Router};

/// How the worker claims, retries and gives up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerSettings {
    /// This node's name: the owner of its leases, in logs and `sealpost queue list`.
    pub node: String,
    /// This server's name, in notices.
    pub hostname: String,
    /// How long a claim is held before another worker may take it over; renewed every
    /// third of it while an attempt runs.
    pub lease: Duration,
    /// Messages delivered at once.
    pub concurrency: usize,
    /// The wait after the first, second, ... failed attempt; the last one repeats.
    pub backoff: Vec<Duration>,
    /// Recipients still deferred when the message is this old fail ("4.4.7").
    pub max_age: Duration,
    /// The longest idle wait between looks at the queue (a wake-up from an enqueue, on
    /// this node or through the database from another, comes sooner).
    pub idle_poll: Duration,
}

impl WorkerSettings {
    /// Retries after 5, 10, 20, 40 minutes and then every hour; gives up after 5 days
    /// (RFC 5321 section 4.5.4.1 asks for at least 30 minutes between tries and 4-5
    /// days before giving up); leases of 10 minutes; idle polls every 30 seconds; 4
    /// messages at once.
    pub fn new(node: impl Into<String>, hostname: impl Into<String>) -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        WorkerSettings {
            node: node.into(),
            hostname: hostname.into(),
            lease: minutes(10),
            concurrency: 4,
            backoff: vec![minutes(5), minutes(10), minutes(20), minutes(40), minutes(60)],
            max_age: Duration::from_secs(5 * 24 * 3600),
            idle_poll: Duration::from_secs(30),
        }
    }

    /// The wait after `attempts` attempts.
    fn delay(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(300))
    }
}

/// What a worker did (one pass, or since it started).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassSummary {
    /// Claims (messages) attempted.
    pub attempted: usize,
    /// Recipients delivered.
    pub delivered: usize,
    /// Recipients deferred to a later attempt.
    pub deferred: usize,
    /// Recipients given up on.
    pub failed: usize,
    /// Notices queued for senders.
    pub notices: usize,
    /// Attempts whose outcome could not be written because the lease was gone (another
    /// worker has the recipients now).
    pub lost: usize,
    /// Attempts that failed in the queue (their recipients come back after the lease).
    pub errors: usize,
}

impl PassSummary {
    fn add(&mut self, other: &PassSummary) {
        self.attempted += other.attempted;
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.failed += other.failed;
        self.notices += other.notices;
        self.lost += other.lost;
        self.errors += other.errors;
    }
}

/// Delivers the queue; see the [crate documentation](crate).
pub struct Worker<Q, R, L> {
    attempt: Arc<Attempt<Q, R, L>>,
}

struct Attempt<Q, R, L> {
    queue: Arc<Q>,
    remote: Arc<R>,
    local: Arc<L>,
    router: Arc<Router>,
    settings: WorkerSettings,
}

impl<Q: QueueStore, R: Deliverer, L: Deliverer> Worker<Q, R, L> {
    /// A worker for `queue`: remote recipients go to `remote`, local ones to `local`;
    /// notices are routed by `router`.
    pub fn new(
        queue: Arc<Q>,
        remote: Arc<R>,
        local: Arc<L>,
        router: Arc<Router>,
        settings: WorkerSettings,
    ) -> Self {
        Worker { attempt: Arc::new(Attempt { queue, remote, local, router, settings }) }
    }

    /// One pass: claims up to [`WorkerSettings::concurrency`] due messages and attempts
    /// them all.
    pub async fn run_once(&self) -> Result<PassSummary, QueueError> {
        let settings = &self.attempt.settings;
        let claims = self
            .attempt
            .queue
            .claim(&settings.node, settings.lease, settings.concurrency.max(1))
            .await?;
        let mut tasks = JoinSet::new();
        for claim in claims {
            let attempt = self.attempt.clone();
            tasks.spawn(async move { attempt.run(claim).await });
        }
        let mut summary = PassSummary::default();
        while let Some(done) = tasks.join_next().await {
            summary
                .add(&done.unwrap_or_else(|_| PassSummary { errors: 1, ..PassSummary::default() }));
        }
        Ok(summary)
    }

    /// Delivers until `shutdown` completes, up to [`WorkerSettings::concurrency`]
    /// messages at once, claiming more as attempts finish; attempts in progress finish
    /// first. Returns what it did.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> PassSummary {
        tokio::pin!(shutdown);
        let slots = self.attempt.settings.concurrency.max(1);
        let mut tasks: JoinSet<PassSummary> = JoinSet::new();
        let mut total = PassSummary::default();
        let mut errors_in_a_row = 0u32;
        loop {
            while let Some(done) = tasks.try_join_next() {
                total.add(&done.unwrap_or_default());
            }
            let free = slots - tasks.len();
            let claimed = if free > 0 {
                let settings = &self.attempt.settings;
                match self.attempt.queue.claim(&settings.node, settings.lease, free).await {
                    Ok(claims) => {
                        errors_in_a_row = 0;
                        claims
                    }
                    Err(e) => {
                        errors_in_a_row = errors_in_a_row.saturating_add(1);
                        tracing::warn!(error = %e, "cannot claim from the queue");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let any = !claimed.is_empty();
            for claim in claimed {
                let attempt = self.attempt.clone();
                tasks.spawn(async move { attempt.run(claim).await });
            }
            if any && tasks.len() < slots {
                continue;
            }
            let wait = if errors_in_a_row > 0 {
                // The queue's storage is failing: back off (1, 2, 4 ... 30 seconds).
                Duration::from_secs(1u64 << errors_in_a_row.min(5)).min(Duration::from_secs(30))
            } else {
                self.idle_wait().await
            };
            tokio::select! {
                () = &mut shutdown => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    total.add(&done.unwrap_or_default());
                }
                () = self.attempt.queue.wait_for_work(wait), if tasks.len() < slots => {}
            }
        }
        while let Some(done) = tasks.join_next().await {
            total.add(&done.unwrap_or_default());
        }
        tracing::info!(?total, "delivery worker stopped");
        total
    }

    /// How long to wait when nothing is due: until the next recipient is, within
    /// [`WorkerSettings::idle_poll`].
    async fn idle_wait(&self) -> Duration {
        let poll = self.attempt.settings.idle_poll;
        match self.attempt.queue.next_due().await {
            Ok(Some(due)) => due
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(10))
                .min(poll),
            _ => poll,
        }
    }
}

impl<Q: QueueStore, R: Deliverer, L: Deliverer> Attempt<Q, R, L> {
    /// One attempt at one claim, logged; never fails (what went wrong is in the summary).
    async fn run(self: Arc<Self>, claim: Claim) -> PassSummary {
        let id = claim.lease.id.clone();
        match self.attempt(claim).await {
            Ok(summary) => summary,
            Err(QueueError::LeaseLost { .. }) => {
                tracing::warn!(queue_id = %id, "lease lost during the attempt; another worker has it");
                PassSummary { attempted: 1, lost: 1, ..PassSummary::default() }
            }
            Err(e) => {
                tracing::warn!(queue_id = %id, error = %e, "delivery attempt failed; kept");
                PassSummary { attempted: 1, errors: 1, ..PassSummary::default() }
            }
        }
    }

    async fn attempt(&self, claim: Claim) -> Result<PassSummary, QueueError> {
        let Claim { lease, envelope, recipients, .. } = claim;
        let message = self.queue.body(&lease.id).await?;
        let envelope = Arc::new(envelope);
        let (local, remote): (Vec<usize>, Vec<usize>) =
            recipients.iter().map(|r| r.index).partition(|&i| {
                envelope.recipients.get(i).is_some_and(|r| r.route == RecipientRoute::Local)
            });
        let job = |indexes: Vec<usize>| {
            DeliveryJob::new(lease.id.clone(), envelope.clone(), indexes, message.clone())
        };
        let (local_job, remote_job) = (job(local), job(remote));

        // Keep the lease while the deliveries run.
        let renewing = {
            let (queue, lease, every) = (self.queue.clone(), lease.clone(), self.settings.lease);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every / 3).await;
                    if let Err(e) = queue.renew(&lease, every).await {
                        tracing::warn!(queue_id = %lease.id, error = %e, "cannot renew the lease");
                    }
                }
            })
        };
        let (local_outcomes, remote_outcomes) =
            tokio::join!(deliver(&*self.local, &local_job), deliver(&*self.remote, &remote_job));
        renewing.abort();

        let expired = crate::clock::unix_now().saturating_sub(envelope.arrived)
            >= self.settings.max_age.as_secs();
        let mut summary = PassSummary { attempted: 1, ..PassSummary::default() };
        let mut settlements = Vec::new();
        let mut notices = Vec::new();
        let indexes = local_job.recipients.iter().chain(&remote_job.recipients);
        for (&index, outcome) in indexes.zip(local_outcomes.into_iter().chain(remote_outcomes)) {
            let Some(recipient) = envelope.recipients.get(index) else { continue };
            let attempts = recipients.iter().find(|r| r.index == index).map_or(0, |r| r.attempts);
            let to = recipient.forward_path.to_string();
            let id = &lease.id;
            let (settlement, notice) = match outcome {
                RecipientOutcome::Delivered { remote_mta, reply, dsn_passed_on } => {
                    tracing::info!(queue_id = %id, %to, ?remote_mta, %reply, "delivered");
                    summary.delivered += 1;
                    let action = match recipient.route {
                        RecipientRoute::Local => Some(DsnAction::Delivered),
                        _ if !dsn_passed_on => Some(DsnAction::Relayed),
                        _ => None,
                    };
                    let notice = action.filter(|a| dsn::wants_notice(recipient, a)).map(|a| {
                        DsnRecipient::new(recipient.clone(), a, "2.0.0", remote_mta, reply)
                    });
                    (Settlement::Delivered, notice)
                }
                RecipientOutcome::Failed { remote_mta, status, diagnostic } => {
                    tracing::info!(queue_id = %id, %to, ?remote_mta, %diagnostic, "delivery failed");
                    summary.failed += 1;
                    let notice = dsn::wants_notice(recipient, &DsnAction::Failed).then(|| {
                        DsnRecipient::new(
                            recipient.clone(),
                            DsnAction::Failed,
                            status,
                            remote_mta,
                            diagnostic,
                        )
                    });
                    (Settlement::Failed, notice)
                }
                RecipientOutcome::Deferred { remote_mta, diagnostic } if expired => {
                    tracing::info!(queue_id = %id, %to, %diagnostic, "delivery time expired");
                    summary.failed += 1;
                    let why = format!("delivery time expired; last error: {diagnostic}");
                    let notice = dsn::wants_notice(recipient, &DsnAction::Failed).then(|| {
                        DsnRecipient::new(
                            recipient.clone(),
                            DsnAction::Failed,
                            "4.4.7",
                            remote_mta,
                            why,
                        )
                    });
                    (Settlement::Failed, notice)
                }
                RecipientOutcome::Deferred { remote_mta, diagnostic } => {
                    tracing::info!(queue_id = %id, %to, ?remote_mta, %diagnostic, "delivery deferred");
                    summary.deferred += 1;
                    let retry_after = self.settings.delay(attempts.saturating_add(1));
                    (Settlement::Deferred { retry_after, error: diagnostic }, None)
                }
            };
            settlements.push((index, settlement));
            notices.extend(notice);
        }
        let notices: Vec<NewMessage> =
            notice(&self.router, &self.settings, &lease.id, &envelope, &notices, &message)
                .into_iter()
                .collect();
        let notice_count = notices.len();
        self.queue.settle(&lease, &settlements, notices).await?;
        summary.notices += notice_count;
        Ok(summary)
    }
}

/// The notice to the sender about `recipients`, as a message to queue; `None` when there
/// is nothing to say or nobody to say it to (the null sender, or a local sender whose
/// mailbox takes no mail).
fn notice(
    router: &Router,
    settings: &WorkerSettings,
    id: &QueueId,
    envelope: &QueuedEnvelope,
    recipients: &[DsnRecipient],
    message: &Bytes,
) -> Option<NewMessage> {
    if recipients.is_empty() {
        return None;
    }
    let Some(sender) = envelope.sender() else {
        tracing::info!(queue_id = %id, "no notice for the null sender");
        return None;
    };
    let to = ForwardPath::Mailbox(sender.clone());
    let route = match router.route(&to) {
        Ok(Destination::Local { .. }) => RecipientRoute::Local,
        Ok(Destination::Remote) => RecipientRoute::Remote,
        Err(verdict) => {
            tracing::warn!(queue_id = %id, to = %to, ?verdict, "the sender takes no mail here; notice dropped");
            return None;
        }
    };
    let now = sealpost_server::headers::rfc5322_now();
    let notice = dsn::notification(id, envelope, recipients, message, &settings.hostname, &now);
    let mut parameters = Vec::new();
    if notice.iter().any(|b| *b >= 0x80) {
        parameters.push(MailParameter::Body(BodyType::EightBitMime));
    }
    let mut queued = QueuedEnvelope::new(
        ReversePath::Null,
        MailParameters::from_vec(parameters).unwrap_or_default(),
    )
    .recipient(QueuedRecipient::new(to, Default::default(), route));
    queued.session = String::from("dsn");
    queued.node.clone_from(&settings.node);
    Some(NewMessage::new(queued, Body::Memory(Bytes::from(notice))))
}

/// Returns message `id` to its sender now, as an administrator asks (`sealpost queue
/// bounce`): every queued recipient fails with `reason` and the sender gets one notice
/// (unless a recipient said `NOTIFY=NEVER`, or the sender is `<>`), in one step. Refused
/// with [`QueueError::Busy`] while a worker is delivering it. Returns how many recipients
/// were returned.
pub async fn bounce<Q: QueueStore>(
    queue: &Q,
    router: &Router,
    settings: &WorkerSettings,
    id: &QueueId,
    reason: &str,
) -> Result<usize, QueueError> {
    let claim = queue.claim_message(id, &settings.node, settings.lease).await?;
    let message = queue.body(id).await?;
    let mut outcomes = Vec::new();
    let mut returned = Vec::new();
    for claimed in &claim.recipients {
        let Some(recipient) = claim.envelope.recipients.get(claimed.index) else { continue };
        outcomes.push((claimed.index, Settlement::Failed));
        if dsn::wants_notice(recipient, &DsnAction::Failed) {
            let why = match &claimed.last_error {
                Some(last) => format!("{reason}; last error: {last}"),
                None => reason.to_owned(),
            };
            returned.push(DsnRecipient::new(
                recipient.clone(),
                DsnAction::Failed,
                "5.0.0",
                None,
                why,
            ));
        }
    }
    let notices = notice(router, settings, id, &claim.envelope, &returned, &message);
    queue.settle(&claim.lease, &outcomes, notices.into_iter().collect()).await?;
    tracing::info!(queue_id = %id, recipients = outcomes.len(), "returned to the sender by the administrator");
    Ok(outcomes.len())
}

/// Runs `deliverer` on `job` unless it has no recipients; one outcome per recipient
/// (a deliverer that answers another count defers them all).
async fn deliver<D: Deliverer>(deliverer: &D, job: &DeliveryJob) -> Vec<RecipientOutcome> {
    if job.recipients.is_empty() {
        return Vec::new();
    }
    let count = job.recipients.len();
    let outcomes = deliverer.deliver(job).await;
    if outcomes.len() == count {
        return outcomes;
    }
    let why = format!("the deliverer answered {} outcomes for {count} recipients", outcomes.len());
    vec![RecipientOutcome::deferred(why); count]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_repeats_its_last_step() {
        let settings = WorkerSettings::new("node", "mx.test");
        let minutes: Vec<u64> = (1..=7).map(|n| settings.delay(n).as_secs() / 60).collect();
        assert_eq!(minutes, [5, 10, 20, 40, 60, 60, 60]);
        let empty = WorkerSettings { backoff: Vec::new(), ..WorkerSettings::new("n", "x") };
        assert_eq!(empty.delay(1), Duration::from_secs(300));
    }
}
