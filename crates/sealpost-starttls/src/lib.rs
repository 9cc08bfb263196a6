//! # sealpost-starttls
//!
//! TLS for SMTP on tokio-rustls: the STARTTLS upgrade (RFC 3207) that refuses plaintext
//! bytes sent ahead of the handshake, implicit TLS (RFC 8314), server certificates chosen
//! by SNI and reloaded while running, client certificates (off, optional, optional with a
//! CA, required) and a [`TlsOutcome`] for logs and Received headers.
//!
//! The SMTP side of STARTTLS lives in `sealpost-codec`'s sessions; this crate only moves
//! bytes and runs handshakes. It never depends on OpenSSL.
#![forbid(unsafe_code)]

mod certs;
mod client_auth;
mod error;
mod outcome;
mod resolver;
mod self_signed;
mod server;
mod stream;

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
