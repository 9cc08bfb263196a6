//! # sealpost
//!
//! The command-line program of the sealpost workspace:
//!
//! - `sealpost serve` runs the MTA. With no arguments it listens on loopback, with data in
//!   `./sealpost-data`: `127.0.0.1:2525` (MX, STARTTLS offered), `127.0.0.1:5870`
//!   (submission: STARTTLS, then AUTH) and `127.0.0.1:4650` (implicit TLS, then AUTH),
//!   with a self-signed certificate made on first start. Flags or a TOML file
//!   (`--config FILE`, described in `docs/config.md`) change any of it.
//! - `sealpost cert self-signed --host NAME --out DIR` writes a certificate and key.
//! - `sealpost user add NAME --users FILE` adds a login; the password comes on stdin.
//! - `sealpost send --server HOST:PORT --to ADDR` sends the message on stdin under a TLS
//!   security level and reports each recipient and the TLS outcome.
//! - `sealpost queue list|show|retry|delete|bounce` looks at and acts on the queue.
//!
//! Errors go to stderr with what to change; the exit code is 0 only on success.
#![forbid(unsafe_code)]

mod banner;
mod cert;
mod cli;
mod config;
mod flags;
mod logging;
mod queue;
mod relay;
mod send;
mod serve;
mod settings;
mod signals;
mod smime;
mod tls;
mod user;
mod values;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{CertCommand, Cli, Command, UserCommand};

fn main() -> ExitCode {
    // clap prints its own usage errors and exits with 2.
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Cert(CertCommand::SelfSigned(args)) => cert::self_signed(args),
        Command::User(UserCommand::Add(args)) => user::add(args),
        Command::Send(args) => send::run(args),
        Command::Smime(command) => smime::run(command),
        Command::Queue(command) => queue::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain on one line: what failed, then why.
            eprintln!("sealpost: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
