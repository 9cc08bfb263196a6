//! # sealpost-client
//!
//! A thin tokio SMTP client: it drives `sealpost-codec`'s sans-IO
//! [`ClientSession`](sealpost_codec::ClientSession) over a `sealpost-starttls` transport.
//! The protocol (pipelining, BDAT, SIZE, DSN, SMTPUTF8, STARTTLS response-injection
//! checks) lives in the session; this crate connects, applies the destination's TLS
//! [security level](sealpost_starttls::client::SecurityLevel), authenticates only under
//! TLS, keeps per-phase deadlines, and reports per-recipient results with the TLS outcome.
//!
//! - [`Client::deliver`] takes a [`Route`] (a static host or a domain's MX hosts through an
//!   [`MxResolver`]) and messages, and returns a [`Delivery`].
//! - [`Connection`] is one session, for callers that manage connections themselves.
//! - [`DeliveryError::is_permanent`] tells a bounce from a deferral; a TLS mode mismatch
//!   (implicit TLS against a plaintext port, or the reverse) is named as such.
#![forbid(unsafe_code)]

mod config;
mod connection;
mod deliver;
mod error;
mod message;
mod plan;
mod route;

pub use config::{Credentials, DeliveryConfig, Phase, Timeouts};
pub use connection::Connection;
pub use deliver::Client;
pub use error::DeliveryError;
pub use message::{Delivery, Message};
pub use route::{BadRoute, DnsMx, MxError, MxFuture, MxRecord, MxResolver, Route, StaticMx};

pub use sealpost_codec;
pub use sealpost_starttls;
