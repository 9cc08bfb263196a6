//! Logs: tracing to stderr, filtered by `SEALPOST_LOG` (or `RUST_LOG`), `info` by default.
//! Standard output is kept for what the commands print on purpose.

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber.
pub(crate) fn init() -> anyhow::Result<()> {
    let (variable, directives) = match std::env::var("SEALPOST_LOG") {
        Ok(value) => ("SEALPOST_LOG", value),
        Err(_) => ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_default()),
    };
    let directives = if directives.trim().is_empty() { "info".to_owned() } else { directives };
    let filter = EnvFilter::try_new(&directives).with_context(|| {
        format!("{variable}={directives:?} is not a log filter; try info, debug or sealpost_server=debug")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for people: a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
