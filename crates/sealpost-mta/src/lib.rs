//! # sealpost-mta
//!
//! The mail server made of sealpost's parts. `sealpost-server` receives; this crate
//! decides what happens to what it receives and delivers it:
//!
//! - [`MtaHandler`]: the server's [`Handler`](sealpost_server::Handler): local
//!   recipients ([`Router`]), relaying only for authenticated clients, AUTH against a
//!   [`Users`] file, 250 only once a message is durable: in the Maildirs
//!   ([`MaildirStore`]) and in the queue.
//! - [`queue`]: the durable queue behind the [`QueueStore`] trait, in a local directory
//!   ([`FileQueue`]) or in a PostgreSQL database that many nodes share (feature
//!   `postgres`). Envelopes stay the codec's types from the wire to the wire.
//! - [`Worker`]: claims due recipients by lease and delivers them: other domains through
//!   the relay ([`relay::ClientDeliverer`], sealpost-client under a TLS policy per
//!   destination), local mailboxes by final delivery ([`MaildirDelivery`]); retries with
//!   backoff, gives up with a delivery status notice ([`relay::dsn`], RFC 3464).
//! - [`smime`] (feature `smime`): S/MIME verification results and encryption at rest,
//!   as a [`filter`] on local delivery.
//! - [`tls_journal`]: one line per outbound TLS session, and the TLS-RPT report of a day.
#![forbid(unsafe_code)]

mod clock;
mod delivery;
pub mod filter;
mod fsutil;
mod handler;
pub mod headers;
pub mod maildir;
pub mod queue;
pub mod relay;
mod router;
#[cfg(feature = "smime")]
pub mod smime;
mod store;
pub mod tls_journal;
pub mod users;
mod worker;

pub use delivery::{FinalDelivery, LmtpDelivery, MaildirDelivery};
pub use handler::{LocalMail, MtaConfig, MtaHandler, MtaSink};
pub use queue::{FileQueue, QueueStore};
pub use router::{Destination, Router};
pub use store::MaildirStore;
pub use users::{Users, UsersError};
pub use worker::{PassSummary, Worker, WorkerSettings, bounce};

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
