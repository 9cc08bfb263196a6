#![allow(unused_imports)]

//! `sealpost-server` in-process with an in-memory handler and the test PKI: the
//! workspace's one copy, in sealpost-test-support.

pub use sealpost_test_support::server::{
    MemoryHandler, Running, start, start_handler as start_with,
};
