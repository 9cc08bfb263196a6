//! The client side: outbound security levels, their verifiers, implicit TLS and the
//! STARTTLS upgrade that refuses bytes read ahead of the handshake.
//!
//! A [`TlsPolicy`] says what a destination demands; a [`TlsClient`] built from it runs
//! handshakes and keeps the session-resumption cache of that destination (one client per
//! destination and policy: a session resumed under a weaker policy must never satisfy a
//! stronger one, so caches are never shared between policies).
//!
//! ```no_run
//! # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), sealpost_starttls::TlsError> {
//! use sealpost_starttls::client::{SecurityLevel, TlsClient, TlsPolicy};
//!
//! let policy = TlsPolicy::new(SecurityLevel::Verify).match_name("mx1.example.org");
//! let client = TlsClient::new(&policy)?;
//! // After "220 Ready" to STARTTLS, with no byte buffered behind it:
//! let (stream, report) = client.upgrade(tcp, 0, "mx1.example.org").await?;
//! println!("{report}");
//! # drop(stream); Ok(()) }
//! ```

mod level;
mod report;
mod upgrade;
mod verify;

pub use level::{SecurityLevel, UnknownLevel};
pub use report::{OutboundTls, Trust};
#[cfg(feature = "webpki-roots")]
#[cfg_attr(docsrs, doc(cfg(feature = "webpki-roots")))]
pub use upgrade::mozilla_roots;
pub use upgrade::{TlsClient, TlsPolicy};
pub use verify::{BadFingerprint, Fingerprint, result_type_of};
