//! The one tokio loop that drives a sans-IO SMTP session (server or client) over a
//! [`MaybeTls`] stream: read into the session, write what it transmits, keep the
//! deadline of the phase it is in, hand the raw stream to a TLS handshake at STARTTLS,
//! and shut the stream down at the end.
//!
//! # Why here
//!
//! The loop needs tokio and this crate's [`MaybeTls`], so it cannot live in
//! `sealpost-codec` (which must stay free of any runtime). It is the same for the
//! receiving and the sending side, so it belongs in neither `sealpost-server` nor
//! `sealpost-client`, and a new crate for one file would only add a name to learn. This
//! crate sits between the two drivers and the codec in the layering, already owns the
//! STARTTLS upgrades whose "no byte read ahead of the handshake" rule the loop enforces
//! ([`SessionDriver::start_tls`]), and depending on the codec is allowed to it.
//!
//! # What stays with each driver
//!
//! Decisions. [`SessionDriver::next_event`] gives the session's events one at a time;
//! the server answers them through its `Handler`, the client through the calls of its
//! delivery. Neither keeps a copy of the session's state: they ask the session
//! ([`SessionDriver::session`]).
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use sealpost_codec::server::{ServerConfig, ServerEvent, ServerSession};
//! use sealpost_codec::SessionPhase;
//! use sealpost_starttls::MaybeTls;
//! use sealpost_starttls::driver::{SessionDriver, Wake};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (server_end, mut client_end) = tokio::io::duplex(1024);
//! let session = ServerSession::new(ServerConfig::new("mx.example.org"));
//! let deadlines = |_: SessionPhase| Duration::from_secs(5);
//! let mut driver = SessionDriver::new(session, MaybeTls::Plain(server_end), deadlines);
//! client_end.write_all(b"QUIT\r\n").await?;
//! loop {
//!     match driver.next_event().await? {
//!         Wake::Event(ServerEvent::Closed(_)) | Wake::Closed => break,
//!         Wake::Event(_) => {}
//!         other => panic!("{other:?}"),
//!     }
//! }
//! driver.flush().await?;
//! driver.shutdown(Duration::from_secs(1)).await;
//! let mut seen = String::new();
//! client_end.read_to_string(&mut seen).await?;
//! assert!(seen.starts_with("220 mx.example.org") && seen.ends_with("221 2.0.0 Bye\r\n"));
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::time::Duration;

use sealpost_codec::{Session, SessionPhase};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::stream::MaybeTls;

/// Read buffer per connection: small, since idle connections must stay cheap.
const READ_BUFFER: usize = 8 * 1024;

/// How long the loop waits in each [`SessionPhase`]. A closure
/// `Fn(SessionPhase) -> Duration` is one (the same deadline for reads and writes).
pub trait Deadlines {
    /// How long to wait for input in `phase`.
    ///
    /// The deadline is for the whole step, not for each read: it starts when the loop
    /// begins to wait and is renewed only when the session made progress (an event, or
    /// something to send), so a peer that trickles a line in an octet at a time (slow
    /// loris) cannot stretch it. In [`SessionPhase::Data`] it is renewed by every read:
    /// RFC 5321 section 4.5.3.2 gives a timeout per data block.
    fn read(&self, phase: SessionPhase) -> Duration;

    /// How long one write (and flush) may take in `phase`.
    fn write(&self, phase: SessionPhase) -> Duration {
        self.read(phase)
    }
}

impl<F: Fn(SessionPhase) -> Duration> Deadlines for F {
    fn read(&self, phase: SessionPhase) -> Duration {
        self(phase)
    }
}

/// What [`SessionDriver::next_event`] woke up for.
#[derive(Debug)]
#[non_exhaustive]
pub enum Wake<E> {
    /// The session reports this.
    Event(E),
    /// The session is over and what it had to send is written. Close the connection.
    Closed,
    /// Nothing came within the deadline of this phase (or before the limit set with
    /// [`SessionDriver::limit_until`]). The session is untouched: close it with the reply
    /// the protocol wants, or give up.
    TimedOut(SessionPhase),
    /// The `interrupt` future of [`SessionDriver::next_event_or`] completed first.
    Interrupted,
}

/// Why the loop cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// Reading or writing failed. A TLS alert under TLS is an error of this kind whose
    /// inner error is a `rustls::Error`.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The peer did not take what was written in time.
    #[error("writing to the peer timed out after {0:?} ({1:?})")]
    WriteTimeout(Duration, SessionPhase),
    /// The stream was already shut down, or lost in a failed STARTTLS upgrade.
    #[error("the connection is already closed")]
    NoStream,
    /// [`SessionDriver::start_tls`] was called while the session does not wait for a
    /// handshake, or the stream is TLS already.
    #[error("no STARTTLS upgrade is due")]
    NoUpgradeDue,
}

/// A session, the stream it runs over, and the loop between them. See the
/// [module documentation](self).
#[derive(Debug)]
pub struct SessionDriver<S, T, D> {
    session: S,
    stream: Option<MaybeTls<T>>,
    deadlines: D,
    buf: Box<[u8]>,
    /// When the current wait for input ends (see [`Deadlines::read`]).
    deadline: Option<Instant>,
    /// The session made progress since the loop last waited.
    progressed: bool,
    /// An outer limit on every wait (a server's shutdown deadline).
    limit: Option<Instant>,
}

impl<S, T, D> SessionDriver<S, T, D>
where
    S: Session,
    T: AsyncRead + AsyncWrite + Unpin,
    D: Deadlines,
{
    /// Drives `session` over `stream` with `deadlines`.
    pub fn new(session: S, stream: MaybeTls<T>, deadlines: D) -> Self {
        SessionDriver {
            session,
            stream: Some(stream),
            deadlines,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            deadline: None,
            progressed: false,
            limit: None,
        }
    }

    /// The session, to read its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// The session, to answer its events.
    pub fn session_mut(&mut self) -> &mut S {
        &mut self.session
    }

    /// The stream, `None` once shut down or lost.
    pub fn stream(&self) -> Option<&MaybeTls<T>> {
        self.stream.as_ref()
    }

    /// Caps every later wait at `limit` (for example the end of a shutdown grace period);
    /// reaching it gives [`Wake::TimedOut`].
    pub fn limit_until(&mut self, limit: Option<Instant>) {
        self.limit = limit;
    }

    /// Writes everything the session has to send, each write within the deadline of the
    /// current phase. True when there was something.
    pub async fn flush(&mut self) -> Result<bool, DriveError> {
        let mut wrote = false;
        while let Some(bytes) = self.session.poll_transmit() {
            wrote = true;
            self.progressed = true;
            let phase = self.session.phase();
            let timeout = self.deadlines.write(phase);
            let stream = self.stream.as_mut().ok_or(DriveError::NoStream)?;
            let write = async {
                stream.write_all(&bytes).await?;
                stream.flush().await
            };
            match tokio::time::timeout(timeout, write).await {
                Err(_) => return Err(DriveError::WriteTimeout(timeout, phase)),
                Ok(result) => result?,
            }
        }
        Ok(wrote)
    }

    /// The next event of the session, reading as needed. See
    /// [`SessionDriver::next_event_or`].
    pub async fn next_event(&mut self) -> Result<Wake<S::Event>, DriveError> {
        self.next_event_or(std::future::pending()).await
    }

    /// The next event of the session. When the session has none, writes what it has to
    /// send, then reads until the session gives one, the deadline of its phase passes, or
    /// `interrupt` completes (it is dropped otherwise, so it must be cancel-safe, as
    /// `tokio::sync::watch::Receiver::changed` is). The end of the stream is handed to the
    /// session ([`Session::handle_eof`]), which decides what it means.
    pub async fn next_event_or(
        &mut self,
        interrupt: impl Future<Output = ()>,
    ) -> Result<Wake<S::Event>, DriveError> {
        let mut interrupt = std::pin::pin!(interrupt);
        loop {
            if let Some(event) = self.session.poll_event() {
                self.progressed = true;
                return Ok(Wake::Event(event));
            }
            self.flush().await?;
            if self.session.is_closed() {
                return Ok(Wake::Closed);
            }
            let phase = self.session.phase();
            let now = Instant::now();
            if std::mem::take(&mut self.progressed) || phase == SessionPhase::Data {
                self.deadline = None;
            }
            let deadline = *self.deadline.get_or_insert(now + self.deadlines.read(phase));
            let until = self.limit.map_or(deadline, |limit| limit.min(deadline));
            let stream = self.stream.as_mut().ok_or(DriveError::NoStream)?;
            let read = tokio::select! {
                read = tokio::time::timeout_at(until, stream.read(&mut self.buf)) => read,
                () = &mut interrupt => return Ok(Wake::Interrupted),
            };
            match read {
                Err(_) => {
                    self.deadline = None;
                    return Ok(Wake::TimedOut(phase));
                }
                Ok(Ok(0)) => self.session.handle_eof(),
                Ok(Ok(n)) => self.session.handle_input(&self.buf[..n]),
                Ok(Err(error)) => return Err(DriveError::Io(error)),
            }
        }
    }

    /// The STARTTLS hand-off, once the session waits for the handshake
    /// ([`Session::is_awaiting_tls`]): writes the last reply or command, takes the
    /// plaintext stream and gives it to `handshake` together with the number of octets
    /// the session holds unread. Those came in the clear ahead of the handshake and
    /// would be read as if protected (CVE-2011-0411, and its mirror image on the client
    /// side): `handshake` must refuse a non-zero count, as
    /// [`TlsServer::upgrade`](crate::TlsServer::upgrade) and
    /// [`TlsClient::upgrade`](crate::client::TlsClient::upgrade) do.
    ///
    /// On success the stream is TLS, the session is told ([`Session::tls_established`])
    /// and the handshake's report (a [`TlsOutcome`](crate::TlsOutcome) or an
    /// [`OutboundTls`](crate::client::OutboundTls)) comes back. A failed handshake gives
    /// its own error in the inner `Err`; the connection is gone then.
    pub async fn start_tls<F, Fut, X, R, E>(
        &mut self,
        handshake: F,
    ) -> Result<Result<R, E>, DriveError>
    where
        F: FnOnce(T, usize) -> Fut,
        Fut: Future<Output = Result<(X, R), E>>,
        X: Into<MaybeTls<T>>,
    {
        if !self.session.is_awaiting_tls() || self.stream.as_ref().is_some_and(MaybeTls::is_tls) {
            return Err(DriveError::NoUpgradeDue);
        }
        self.flush().await?;
        let plain = match self.stream.take().map(MaybeTls::into_plain) {
            Some(Ok(plain)) => plain,
            Some(Err(tls)) => {
                self.stream = Some(tls);
                return Err(DriveError::NoUpgradeDue);
            }
            None => return Err(DriveError::NoStream),
        };
        let buffered = self.session.buffered();
        let (stream, report) = match handshake(plain, buffered).await {
            Ok(done) => done,
            Err(error) => return Ok(Err(error)),
        };
        self.stream = Some(stream.into());
        self.session.tls_established();
        self.deadline = None;
        Ok(Ok(report))
    }

    /// Shuts the stream down (TLS close_notify, then the TCP FIN), waiting at most
    /// `timeout` for a peer that does not read.
    pub async fn shutdown(&mut self, timeout: Duration) {
        if let Some(mut stream) = self.stream.take() {
            let _ = tokio::time::timeout(timeout, stream.shutdown()).await;
        }
    }

    /// Forgets the stream without a shutdown (the peer is gone).
    pub fn drop_stream(&mut self) {
        self.stream = None;
    }
}
