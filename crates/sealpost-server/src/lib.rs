//! # sealpost-server
//!
//! A thin tokio SMTP server. Each connection drives a `sealpost-codec`
//! [`ServerSession`](sealpost_codec::ServerSession) over a `sealpost-starttls` transport
//! with the loop the client uses too ([`sealpost_starttls::driver`]); the protocol rules
//! live in the session, the decisions in a [`Handler`] (including SASL mechanisms beyond
//! PLAIN and LOGIN, VRFY/EXPN and the Received header), and this crate only moves bytes,
//! runs TLS handshakes, enforces limits and timeouts, and shuts down gracefully. Behind a TCP load balancer, a listener can require the PROXY protocol
//! (v1 or v2) from trusted networks so that sessions see the real client
//! ([`ProxyPolicy`]).
//!
//! It has no file system, no OpenSSL and no database: what turns it into a mail server
//! (Maildir delivery, the queue, relaying) is `sealpost-mta`, whose `MtaHandler`
//! implements [`Handler`]. [`DiscardHandler`] (accept and drop) is here for benchmarks
//! and tests.
#![forbid(unsafe_code)]

mod auth;
pub mod discard;
mod driver;
mod handler;
pub mod headers;
mod limits;
mod listener;
mod proxy;
mod summary;

pub use auth::{AuthExchange, AuthStep};
pub use discard::DiscardHandler;
pub use handler::{Envelope, Handler, MessageSink, SessionInfo, Verdict};
pub use limits::Limits;
pub use listener::{BoundServer, ListenerConfig, Role, ServerSettings, Timeouts};
pub use proxy::{IpNet, ProxyPolicy};
pub use summary::SessionSummary;

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
