//! One line per session: who, how protected, what happened.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sealpost_codec::server::ServerSession;
use sealpost_starttls::TlsOutcome;

use crate::listener::Role;

/// What a session did, for the summary log line and [`crate::Handler::session_ended`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionSummary {
    /// Session id.
    pub id: String,
    /// Client address.
    pub peer: SocketAddr,
    /// The load balancer the client came through (PROXY protocol), if any.
    pub proxy: Option<SocketAddr>,
    /// Listener role.
    pub role: Role,
    /// EHLO/HELO argument.
    pub helo: Option<String>,
    /// TLS session, if any.
    pub tls: Option<TlsOutcome>,
    /// Authenticated user.
    pub user: Option<String>,
    /// Messages accepted (at least one recipient got a 2xx for it).
    pub messages: usize,
    /// Messages refused after their data.
    pub rejected: usize,
    /// How long the session lasted.
    pub duration: Duration,
    /// How it ended.
    pub result: String,
}

impl fmt::Display for SessionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session {} peer={}", self.id, self.peer)?;
        if let Some(proxy) = &self.proxy {
            write!(f, " proxy={proxy}")?;
        }
        write!(f, " role={}", self.role)?;
        if let Some(helo) = &self.helo {
            write!(f, " helo={helo}")?;
        }
        match &self.tls {
            Some(tls) => write!(f, " tls=\"{tls}\"")?,
            None => f.write_str(" tls=none")?,
        }
        if let Some(user) = &self.user {
            write!(f, " user={user}")?;
        }
        write!(
            f,
            " messages={} rejected={} duration={:.3}s result={}",
            self.messages,
            self.rejected,
            self.duration.as_secs_f64(),
            self.result
        )
    }
}

/// A short, unique session id: seconds since the epoch and a counter, in hex.
pub(crate) fn session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs:x}{n:05x}")
}

/// The summary of a session, from what the session knows (HELO, user); the message
/// counts are the driver's.
pub(crate) fn summary(
    origin: &crate::driver::Origin,
    session: Option<&ServerSession>,
    tls: Option<TlsOutcome>,
    started: Instant,
    result: String,
) -> SessionSummary {
    SessionSummary {
        id: origin.id.clone(),
        peer: origin.peer,
        proxy: origin.proxy,
        role: origin.role,
        helo: session.and_then(ServerSession::hello_host).map(ToString::to_string),
        tls,
        user: session.and_then(ServerSession::authenticated_as).map(str::to_owned),
        messages: 0,
        rejected: 0,
        duration: started.elapsed(),
        result,
    }
}
