//! `cargo xtask`: the workspace's own automation.
//!
//! - `cargo xtask ci`: every check CI runs, in order (the one entry point for people and CI).
//! - `cargo xtask fuzz`: the fuzz targets, for longer than CI's smoke run.
//! - `cargo xtask certs`: (re)generate and check the test PKI in `tests/pki/`.
//! - `cargo xtask interop`: real peers against `sealpost serve` on loopback; writes
//!   `docs/interop.md`.
//! - `cargo xtask bench server`: `sealpost serve` against real peers; docs/performance.md.

#![forbid(unsafe_code)]
// A development tool: a panic here is a bug report with a backtrace, not a crash of a server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bench;
mod certs;
mod ci;
mod fuzz;
mod install;
mod interop;
mod sh;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Workspace automation for sealpost.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every CI check in order: tools, fmt, clippy, tests, docs, PKI, interop, deny,
    /// fuzz smoke.
    Ci(ci::CiArgs),
    /// Run the fuzz targets (all, or the ones named) for a longer time.
    Fuzz(fuzz::FuzzArgs),
    /// Generate the test PKI (certificates, keys, README) and check it with openssl.
    Certs(certs::CertsArgs),
    /// Run real peers (Postfix, swaks, openssl, gnutls-cli, testssl, msmtp, smtplib)
    /// against `sealpost serve` on loopback and write docs/interop.md.
    Interop(interop::InteropArgs),
    /// Benchmarks of whole processes against real peers (not part of CI).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut sh = sh::Sh::new(workspace_root());
    let result = match &cli.command {
        Command::Ci(args) => ci::run(&mut sh, args),
        Command::Fuzz(args) => fuzz::run(&mut sh, args),
        Command::Certs(args) => certs::run(&mut sh, args),
        Command::Interop(args) => interop::run(&mut sh, args),
        Command::Bench(args) => bench::run(&mut sh, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().expect("xtask lives one level below the workspace root").to_path_buf()
}
