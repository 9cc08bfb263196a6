//! # sealpost-starttls
//!
//! TLS for SMTP on tokio-rustls: the STARTTLS upgrade (RFC 3207) that refuses plaintext
//! bytes sent ahead of the handshake, implicit TLS (RFC 8314), server certificates chosen
//! by SNI and reloaded while running, client certificates (off, optional, optional with a
//! CA, required) and a [`TlsOutcome`] for logs and Received headers.
//!
//! The SMTP side of STARTTLS lives in `sealpost-codec`'s sessions; this crate only moves
//! bytes and runs handshakes. It never depends on OpenSSL.
//!
//! The outbound side is [`client`]: Postfix's security levels (none, may, encrypt,
//! fingerprint, verify, secure, dane, dane-only) as rustls verifiers that always check handshake
//! signatures, implicit TLS, the STARTTLS upgrade that refuses bytes read ahead of the
//! handshake, and an [`OutboundTls`](client::OutboundTls) report per connection.
//!
//! Outbound policy, for the client's `dane`, `dane-only` and MTA-STS decisions:
//! [`dns`] (a resolver trait whose answers carry their DNSSEC status, a static table and
//! a validating hickory-resolver), [`dane`] (TLSA records and a rustls verifier, RFC 7672),
//! [`mta_sts`] (record, policy, cache and HTTPS fetch, RFC 8461) and [`tlsrpt`] (result
//! types and the daily JSON report, RFC 8460).
#![forbid(unsafe_code)]

mod certs;
pub mod client;
mod client_auth;
pub mod dane;
pub mod dns;
mod error;
pub mod mta_sts;
mod outcome;
mod resolver;
mod self_signed;
mod server;
mod signatures;
mod stream;
pub mod tlsrpt;

pub use certs::{CertificateFiles, hex_colon, read_chain, read_key, sha256, spki_sha256};
pub use client_auth::ClientAuth;
pub use error::TlsError;
pub use outcome::{PeerCertificate, TlsOutcome};
pub use resolver::CertStore;
pub use self_signed::{ensure_self_signed, generate_self_signed};
pub use server::{DEFAULT_HANDSHAKE_TIMEOUT, TlsServer};
pub use stream::MaybeTls;

pub use rustls;
pub use tokio_rustls;

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
