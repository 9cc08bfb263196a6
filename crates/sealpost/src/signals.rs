//! Signals while serving: SIGHUP reloads the certificates; SIGTERM and SIGINT start the
//! graceful shutdown, and a second one stops at once.

use std::sync::Arc;

use sealpost_starttls::CertStore;

/// The signal handlers, installed before the listeners are announced: until a handler is
/// installed, SIGHUP's default action ends the process, so someone who reloads right
/// after start must not kill the server.
#[cfg(unix)]
pub(crate) struct Signals {
    hangup: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    /// Installs the handlers (inside the tokio runtime).
    pub(crate) fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Reloads `store` on every SIGHUP from now on; returns the future that completes on
    /// the first SIGTERM or SIGINT.
    pub(crate) fn start(self, store: Arc<CertStore>) -> impl Future<Output = ()> + Send {
        let Signals { mut hangup, mut terminate, mut interrupt } = self;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the TLS certificates");
                if let Err(e) = store.reload() {
                    tracing::warn!(
                        error = %e,
                        "the new TLS certificates were refused; still serving the previous ones"
                    );
                }
            }
        });
        async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!("{name}: stopping; send it again to stop at once");
            tokio::spawn(async move {
                tokio::select! {
                    _ = terminate.recv() => {},
                    _ = interrupt.recv() => {},
                }
                tracing::warn!("second signal: stopping now, without waiting for sessions");
                std::process::exit(1);
            });
        }
    }
}

/// Elsewhere: Ctrl-C stops; there is no SIGHUP (the files are still watched).
#[cfg(not(unix))]
pub(crate) struct Signals;

#[cfg(not(unix))]
impl Signals {
    /// Nothing to install ahead of time.
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Signals)
    }

    /// The future that completes on Ctrl-C.
    pub(crate) fn start(self, store: Arc<CertStore>) -> impl Future<Output = ()> + Send {
        drop(store);
        async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C: stopping");
        }
    }
}
