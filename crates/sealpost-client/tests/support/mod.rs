//! The client's test settings and a connection to a hostile server; the hostile servers
//! themselves and the test PKI are the workspace's one copy, in sealpost-test-support.

// Test helpers: a failed unwrap is a failed test; not every test file uses every helper.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub,
    unused_imports
)]

use std::time::Duration;

use sealpost_client::{Connection, DeliveryConfig, DeliveryError, Timeouts};
use sealpost_starttls::client::{Fingerprint, OutboundTls, SecurityLevel, TlsClient, TlsPolicy};

pub mod server;

pub use sealpost_test_support::hostile::Step::*;
pub use sealpost_test_support::hostile::*;
pub use sealpost_test_support::pki::{leaf_sha256, pki, roots};

/// A policy of `level` trusting the test root, pinning nothing.
pub fn policy(level: SecurityLevel) -> TlsPolicy {
    TlsPolicy::new(level).roots(roots())
}

/// The SHA-256 pin of the first certificate of a PEM file.
pub fn pin(file: &str) -> Fingerprint {
    Fingerprint(leaf_sha256(file))
}

/// Client settings with short deadlines.
pub fn config(policy: TlsPolicy) -> DeliveryConfig {
    DeliveryConfig::new("client.test").tls(policy).timeouts(Timeouts::all(Duration::from_secs(5)))
}

/// Opens a connection to a hostile server as `mail.test` and quits; returns the TLS
/// report (or the error) and the server's transcript.
pub async fn open(
    steps: Vec<Step>,
    config: &DeliveryConfig,
) -> (Result<OutboundTls, DeliveryError>, Transcript) {
    let (addr, task) = hostile(steps).await;
    let tls = TlsClient::new(&config.tls).unwrap();
    let result = match Connection::open(addr, "mail.test", config, &tls, true).await {
        Ok(conn) => {
            let report = conn.tls().clone();
            conn.quit().await;
            Ok(report)
        }
        Err(e) => Err(e),
    };
    (result, task.await.unwrap())
}
