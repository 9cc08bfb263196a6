//! # sealpost-starttls
//!
//! TLS for SMTP on tokio-rustls: the STARTTLS upgrade (RFC 3207) that refuses plaintext
//! bytes sent ahead of the handshake, implicit TLS (RFC 8314), server certificates chosen
//! by SNI and reloaded while running, client certificates (off, optional, optional with a
//! CA, required) and a [`TlsOutcome`] for logs and Received headers.
//!
//! The SMTP side of STARTTLS lives in `sealpost-codec`'s sessions; this crate only moves
//! bytes and runs handshakes. It never depends on OpenSSL. [`driver`] is the one I/O
//! loop both sides run around a codec session (read, write, deadlines, the STARTTLS
//! hand-off).
//!
//! The outbound side is [`client`]: Postfix's security levels (none, may, encrypt,
//! fingerprint, verify, secure, dane, dane-only) as rustls verifiers that always check handshake
//! signatures, implicit TLS, the STARTTLS upgrade that refuses bytes read ahead of the
//! handshake, and an [`OutboundTls`](client::OutboundTls) report per connection.
//!
//! Outbound policy, for the client's `dane`, `dane-only` and MTA-STS decisions:
//! [`dns`] (a resolver trait whose answers carry their DNSSEC status, a static table and,
//! with `dns`, a validating hickory-resolver), [`dane`] (TLSA records and, with `dane`, a
//! rustls verifier, RFC 7672), `mta_sts` (with `mta-sts`: record, policy, cache and HTTPS
//! fetch, RFC 8461) and [`tlsrpt`] (result types and, with `tls-rpt`, the daily JSON
//! report, RFC 8460).
//!
//! ## Cargo features
//!
//! | feature | what it adds | brings in | default |
//! | --- | --- | --- | --- |
//! | *(none)* | STARTTLS both sides, implicit TLS, certificate loading, SNI and hot reload ([`CertStore`]), client certificates ([`ClientAuth`]), the levels none, may, encrypt, fingerprint, verify and secure, [`TlsOutcome`] / [`OutboundTls`](client::OutboundTls), the [`dns::DnsResolver`] trait with [`dns::StaticResolver`], [`dane::Tlsa`], the TLS-RPT [`ResultType`](tlsrpt::ResultType) | rustls (ring), tokio-rustls, tokio | — |
//! | `dns` | `dns::HickoryResolver`, a DNSSEC-validating resolver | hickory-resolver | yes (through `dane`, `mta-sts`) |
//! | `dane` | the `dane` and `dane-only` levels: `dane::DaneVerifier`, `dane::dane_policy` (RFC 7672) | `dns` | yes |
//! | `mta-sts` | the `mta_sts` module: record, policy, cache, `HttpsPolicyFetcher` (RFC 8461) | `dns`, hyper (HTTP/1.1 client only), http | yes |
//! | `tls-rpt` | `tlsrpt::ReportCollector`, `tlsrpt::Report` as JSON, `tlsrpt::TlsRptRecord` (RFC 8460) | serde, serde_json | yes |
//! | `webpki-roots` | `client::mozilla_roots`: Mozilla's roots as the trust anchors of `verify` and `secure` when none are configured | webpki-roots | yes |
//! | `self-signed` | `generate_self_signed`, `ensure_self_signed` | rcgen | no |
//!
//! Why these defaults: this crate exists for outbound TLS that really checks who is on the
//! other end, and for mail between strangers that means DANE and MTA-STS (with TLS-RPT to
//! hear about failures) and the web PKI's roots. So the common case is one line,
//! `sealpost-starttls = "0.1"`. A receiving server, or a client that only talks to hosts
//! it has pinned or whose CA it knows, takes `default-features = false` and pulls in
//! about a third of the crates (the exact counts are in the workspace's
//! `docs/ARCHITECTURE.md`, "Dependency budget", and held by a test). `self-signed` is off
//! by default: a library user brings certificates; the `sealpost` program turns it on for
//! its first run.
//!
//! Without `dane`, the `dane` and `dane-only` levels still parse (they are Postfix's
//! words, and a configuration that names them deserves "this build has no DANE" rather
//! than "unknown level"), but a [`client::TlsClient`] refuses them with
//! [`TlsError::Unsupported`] unless a verifier is plugged in. Without `webpki-roots`,
//! `verify` and `secure` need trust anchors ([`client::TlsPolicy::roots`]); without them
//! the client is refused the same way.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cause;
mod certs;
pub mod client;
mod client_auth;
pub mod dane;
pub mod dns;
pub mod driver;
mod error;
#[cfg(feature = "mta-sts")]
#[cfg_attr(docsrs, doc(cfg(feature = "mta-sts")))]
pub mod mta_sts;
mod outcome;
mod resolver;
#[cfg(feature = "self-signed")]
mod self_signed;
mod server;
mod signatures;
mod stream;
pub mod tlsrpt;

pub use cause::Cause;
pub use certs::{CertificateFiles, hex_colon, read_chain, read_key, sha256, spki_sha256};
pub use client_auth::ClientAuth;
pub use error::TlsError;
pub use outcome::{PeerCertificate, TlsOutcome};
pub use resolver::CertStore;
#[cfg(feature = "self-signed")]
#[cfg_attr(docsrs, doc(cfg(feature = "self-signed")))]
pub use self_signed::{ensure_self_signed, generate_self_signed};
pub use server::{DEFAULT_HANDSHAKE_TIMEOUT, TlsServer};
pub use stream::MaybeTls;

pub use rustls;
pub use tokio_rustls;

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
