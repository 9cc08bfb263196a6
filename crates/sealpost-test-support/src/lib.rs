//! Test scaffolding shared by the sealpost crates' tests, so there is one copy of it:
//!
//! - [`attacks`]: the sequences of the attack list, as data.
//! - [`corpora`]: where the shared corpora are (read in place, never copied in).
//! - [`pki`]: files of the committed test PKI (`tests/pki`) and TLS configurations
//!   built from them.
//! - [`Client`]: a scripted SMTP client over a real socket (plaintext, STARTTLS,
//!   implicit TLS, client certificates) that asserts reply codes.
//! - [`server`]: sealpost-server in-process with an in-memory handler.
//! - [`hostile`]: scripted, hostile SMTP/LMTP servers that write exact bytes, for
//!   client tests.
//! - [`mime`]: a message as a body part, and multiparts of parts, from exact bytes.
//! - [`postgres`]: private PostgreSQL clusters ([`PgCluster`]) on loopback.
//! - [`process`]: the real `sealpost` binary ([`process::Sealpost`]): its commands, a
//!   running `sealpost serve`, and a blocking SMTP client that writes exact bytes.
//!
//! Test helpers panic on failure: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod attacks;
mod client;
pub mod corpora;
pub mod hostile;
pub mod mime;
pub mod pki;
pub mod postgres;
pub mod process;
pub mod server;

pub use client::Client;
pub use postgres::PgCluster;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// A small message, dot-terminated.
pub const MESSAGE: &[u8] = b"Subject: test\r\n\r\nHello\r\n.\r\n";
