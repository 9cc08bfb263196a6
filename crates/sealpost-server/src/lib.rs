//! # sealpost-server
//!
//! A thin tokio SMTP server. Each connection drives a `sealpost-codec`
//! [`ServerSession`](sealpost_codec::ServerSession) over a `sealpost-starttls` transport;
//! the protocol rules live in the session, the decisions in a [`Handler`], and this crate
//! only moves bytes, runs TLS handshakes, enforces limits and timeouts, and shuts down
//! gracefully.
#![forbid(unsafe_code)]

mod driver;
mod handler;
pub mod headers;
mod limits;
mod listener;
mod summary;

pub use handler::{Envelope, Handler, MessageSink, SessionInfo, Verdict};
pub use limits::Limits;
pub use listener::{BoundServer, ListenerConfig, Role, ServerSettings, Timeouts};
pub use summary::SessionSummary;
