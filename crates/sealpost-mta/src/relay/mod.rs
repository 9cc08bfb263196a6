//! Sending queued mail on: the [`Deliverer`] contract, the outcome of one attempt per
//! recipient, delivery status notices ([`dsn`]), and [`ClientDeliverer`], which relays
//! through sealpost-client under a TLS policy per destination.
//!
//! The [`Worker`](crate::Worker) claims due recipients from the queue and hands each
//! message to a deliverer: [`ClientDeliverer`] for other domains, a
//! [`MaildirDelivery`](crate::MaildirDelivery) or [`LmtpDelivery`](crate::LmtpDelivery)
//! for local mailboxes.

mod deliverer;
pub mod dsn;

pub use deliverer::{ClientDeliverer, DnsSettings, RelayConfig, RelayConfigError, RelayPolicy};

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use crate::queue::{QueueId, QueuedEnvelope};

/// One message for a [`Deliverer`]: the envelope, which of its recipients to deliver
/// to, and the content.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryJob {
    /// The queue id (for logs and notices).
    pub id: QueueId,
    /// The envelope (all recipients of the message).
    pub envelope: Arc<QueuedEnvelope>,
    /// The recipients of this attempt: indexes into `envelope.recipients`.
    pub recipients: Vec<usize>,
    /// The content, as it is to be sent.
    pub message: Bytes,
}

impl DeliveryJob {
    /// A job for `recipients` of `envelope`.
    pub fn new(
        id: QueueId,
        envelope: Arc<QueuedEnvelope>,
        recipients: Vec<usize>,
        message: Bytes,
    ) -> Self {
        DeliveryJob { id, envelope, recipients, message }
    }
}

/// What one attempt did for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientOutcome {
    /// The next hop (or the mailbox) accepted it.
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

impl RecipientOutcome {
    /// A deferral without a host.
    pub fn deferred(diagnostic: impl Into<String>) -> Self {
        RecipientOutcome::Deferred { remote_mta: None, diagnostic: diagnostic.into() }
    }
}

/// Delivers queued messages: relays them ([`ClientDeliverer`]) or stores them in
/// mailboxes; a script in tests.
pub trait Deliverer: Send + Sync + 'static {
    /// One attempt for the recipients of `job`: exactly one outcome per entry of
    /// `job.recipients`, in that order (a different count defers them all).
    fn deliver(&self, job: &DeliveryJob) -> impl Future<Output = Vec<RecipientOutcome>> + Send;
}

/// Flattens a multi-line reply onto one line (for logs, queue listings and notices):
/// `"250-a\r\n250 b\r\n"` becomes `"250-a / 250 b"`.
pub fn one_line(text: &str) -> String {
    text.split("\r\n").filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ")
}
