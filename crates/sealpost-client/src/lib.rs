//! # sealpost-client
//!
//! A thin tokio SMTP and LMTP client: it drives `sealpost-codec`'s sans-IO
//! [`ClientSession`](sealpost_codec::ClientSession) over a `sealpost-starttls` transport,
//! with the loop the server uses too ([`sealpost_starttls::driver`]).
//! The protocol (pipelining, BDAT, SIZE, DSN, SMTPUTF8, STARTTLS response-injection
//! checks) lives in the session; this crate connects, applies the destination's TLS
//! [security level](sealpost_starttls::client::SecurityLevel), authenticates only under
//! TLS, keeps per-phase deadlines, and reports per-recipient results with the TLS outcome.
//!
//! - [`Client::deliver`] takes a [`Route`] (a static host or a domain's MX hosts through an
//!   [`MxResolver`]) and messages, and returns a [`Delivery`].
//! - [`Client::deliver_lmtp`] hands messages to a mailbox server by LMTP (RFC 2033, such as
//!   Dovecot's) at an [`LmtpTarget`]: a TCP port under the configured TLS policy, or a
//!   Unix-domain socket (never under TLS). Each recipient gets its own final reply.
//! - [`Connection`] is one session, for callers that manage connections themselves.
//! - [`DeliveryError::is_permanent`] tells a bounce from a deferral; a TLS mode mismatch
//!   (implicit TLS against a plaintext port, or the reverse) is named as such.
//! - DANE and MTA-STS: with [`Client::with_dns`] (a validating resolver), the `dane` and
//!   `dane-only` levels hold each MX host to its DNSSEC-validated TLSA records (RFC 7672);
//!   with `Client::with_mta_sts` (feature `mta-sts`) the recipient domain's MTA-STS
//!   policy (RFC 8461) applies at the opportunistic levels. The [`Delivery`]'s TLS report names the policy that
//!   applied, and a policy that cannot be met is [`DeliveryError::PolicyNotMet`].
//!
//! ## Cargo features
//!
//! | feature | what it adds | default |
//! | --- | --- | --- |
//! | `dane` | the `dane` and `dane-only` levels (implies `dns`) | yes |
//! | `mta-sts` | `Client::with_mta_sts` (implies `dns`) | yes |
//! | `dns` | the validating `HickoryResolver` of the transport, for [`Client::with_dns`] | through `dane`, `mta-sts` |
//! | `tls-rpt` | the transport's TLS-RPT report (JSON) | yes |
//! | `webpki-roots` | Mozilla's roots as the default trust anchors of `verify` and `secure` | yes |
//!
//! Each turns on the feature of the same name of `sealpost-starttls` (see its features
//! table), and the default is the transport's. With `default-features = false` the client
//! delivers over STARTTLS or implicit TLS at the levels none, may, encrypt, fingerprint,
//! verify (with configured roots) and secure; a `dane` level is then refused with
//! [`TlsError::Unsupported`](sealpost_starttls::TlsError::Unsupported), never quietly
//! weakened to `may`.
//!
//! ```no_run
//! # #[cfg(all(feature = "dns", feature = "mta-sts", feature = "webpki-roots"))]
//! # async fn demo(message: sealpost_client::Message) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sealpost_client::{Client, DeliveryConfig, Route};
//! use sealpost_starttls::client::{SecurityLevel, TlsPolicy};
//! use sealpost_starttls::dns::HickoryResolver;
//! use sealpost_starttls::mta_sts::HttpsPolicyFetcher;
//!
//! let servers = ["127.0.0.1:53".parse()?];
//! let dns = Arc::new(HickoryResolver::new(&servers, Duration::from_secs(5))?);
//! let fetcher = HttpsPolicyFetcher::with_mozilla_roots().with_resolver(dns.clone());
//! let config = DeliveryConfig::new("mx.example.org").tls(TlsPolicy::new(SecurityLevel::Dane));
//! let client = Client::new(config)
//!     .with_dns(dns)
//!     .with_mta_sts(Arc::new(fetcher));
//! let delivery = client.deliver(&Route::Mx { domain: "example.net".into() }, &[message]).await?;
//! println!("{}", delivery.tls); // e.g. "verified TLSv1.3 ... (level dane; policy tlsa)"
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod connection;
mod deliver;
mod error;
mod lmtp;
mod message;
mod plan;
mod route;
mod transport;

pub use config::{Credentials, DeliveryConfig, Phase, Timeouts};
pub use connection::Connection;
pub use deliver::Client;
pub use error::DeliveryError;
pub use lmtp::{BadLmtpTarget, LmtpTarget};
pub use message::{Delivery, Message};
pub use route::{BadRoute, DnsMx, MxError, MxFuture, MxRecord, MxResolver, Route, StaticMx};
pub use transport::ServerAddr;

pub use sealpost_codec;
pub use sealpost_starttls;

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
