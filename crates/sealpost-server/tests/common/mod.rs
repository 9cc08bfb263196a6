//! The server's integration tests use the workspace's one test harness
//! (sealpost-test-support): an in-memory handler, a server on free ports with the test
//! PKI, and a scripted client over real sockets.

#![allow(unused_imports, unreachable_pub)]

pub use sealpost_test_support::pki::{connector, pki, server_name};
pub use sealpost_test_support::server::*;
pub use sealpost_test_support::{Client, MESSAGE};
