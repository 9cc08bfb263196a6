//! The binary under test, for the process scaffolding of sealpost-test-support
//! (`sealpost_test_support::process`): Cargo names the binary only to this crate's tests.

#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::Output;

pub(crate) use sealpost_test_support::process::{
    FREE_PORTS, Sealpost, Server, Smtp, deliver, deliver_over, new_messages, text, wait_for,
};

/// The `sealpost` binary Cargo built for these tests.
pub(crate) fn sealpost() -> Sealpost {
    Sealpost::at(env!("CARGO_BIN_EXE_sealpost"))
}

/// Runs a command of the binary to its end in `dir` with `stdin` as standard input.
pub(crate) fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    sealpost().run(dir, args, stdin)
}

/// A file of the test PKI, as a command-line argument.
pub(crate) fn pki(name: &str) -> String {
    sealpost_test_support::pki::pki(name).to_str().unwrap().to_owned()
}
