//! # sealpost-server
//!
//! A thin tokio SMTP server. Each connection drives a `sealpost-codec`
//! [`ServerSession`](sealpost_codec::ServerSession) over a `sealpost-starttls` transport;
//! the protocol rules live in the session, the decisions in a [`Handler`], and this crate
//! only moves bytes, runs TLS handshakes, enforces limits and timeouts, and shuts down
//! gracefully. Behind a TCP load balancer, a listener can require the PROXY protocol
//! (v1 or v2) from trusted networks so that sessions see the real client
//! ([`ProxyPolicy`]).
//!
//! It also ships ready handlers: [`MtaHandler`] (Maildir delivery, a durable relay queue
//! and AUTH against a [`Users`] file; see [`mta`]) and [`DiscardHandler`] for
//! benchmarks.
#![forbid(unsafe_code)]

pub mod discard;
mod driver;
pub mod filter;
mod handler;
pub mod headers;
mod limits;
mod listener;
pub mod maildir;
pub mod mta;
mod proxy;
pub mod queue;
pub mod relay;
#[cfg(feature = "smime")]
pub mod smime;
mod store;
mod summary;
pub mod users;

pub use discard::DiscardHandler;
pub use handler::{Envelope, Handler, MessageSink, SessionInfo, Verdict};
pub use limits::Limits;
pub use listener::{BoundServer, ListenerConfig, Role, ServerSettings, Timeouts};
pub use mta::{MtaConfig, MtaHandler, MtaSink};
pub use proxy::{IpNet, ProxyPolicy};
pub use summary::SessionSummary;
pub use users::{Users, UsersError};
