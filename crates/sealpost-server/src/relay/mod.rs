//! The relay worker: delivers what the relay queue ([`crate::queue`]) holds, through a
//! [`Deliverer`] (sealpost-client in `sealpost serve`), with retries, backoff, and a
//! delivery status notification ([`dsn`]) to the sender when it gives up.
//!
//! # One attempt
//!
//! For a queue entry whose `next_attempt` has come: the deliverer gets the message (the
//! queue's offset skipped) and the pending recipients, and answers one
//! [`RecipientOutcome`] per recipient. Delivered recipients leave the entry (with a
//! "relayed" notice when they asked for `NOTIFY=SUCCESS` and the next hop did not take
//! the DSN request on); failed ones leave it with a "failed" notice (unless
//! `NOTIFY=NEVER`); deferred ones stay, with their reason in `last_error`, until the
//! next attempt after the backoff, or until the entry is older than
//! [`RelaySettings::max_age`], when they fail as "4.4.7 delivery time expired".
//!
//! # Crashes and duplicates
//!
//! Notices are stored (in the sender's Maildir, or queued for relay with the null sender
//! `<>`) before the entry is updated, and the entry is updated (its `.json` replaced by
//! rename) only after the attempt. A crash between a remote server's 250 and that update
//! leaves the recipient pending, and it is sent again on the next attempt: delivery is
//! at least once, never at most once, so a message can arrive twice (as with every MTA
//! that does not keep a transaction log with the remote side). No crash loses a queued
//! message: the entry goes only after every recipient is settled.

pub mod dsn;
mod worker;

pub use worker::{
    Deliverer, LocalDelivery, LocalOutcome, PassSummary, RecipientOutcome, RelayJob, RelaySettings,
    RelayWorker,
};
