//! The contract both sans-IO sessions keep, so that one I/O loop can drive either.
//!
//! The shape follows the sans-IO state machines of QUIC implementations: input goes in
//! with `handle_*` calls, output comes out of `poll_*` calls, and the session never
//! blocks, sleeps or reads a clock. A driver (a tokio loop, a test, a fuzzer) does the
//! rest:
//!
//! 1. hand over what was read ([`Session::handle_input`], or [`Session::handle_eof`] at
//!    the end of the stream);
//! 2. take the events ([`Session::poll_event`]) and answer the ones that ask for a
//!    decision (through the concrete session's own methods);
//! 3. send what [`Session::poll_transmit`] gives, in order;
//! 4. when [`Session::is_awaiting_tls`] says so, run the TLS handshake on the raw stream,
//!    refusing it when [`Session::buffered`] is not zero (those bytes were sent in the
//!    clear before the handshake), then call [`Session::tls_established`];
//! 5. wait for more input until the deadline of [`Session::phase`], and stop once
//!    [`Session::is_closed`].
//!
//! ```
//! use sealpost_codec::server::{ServerConfig, ServerEvent, ServerSession};
//! use sealpost_codec::{Session, SessionPhase};
//!
//! /// Sends every queued output to `wire`; true when there was some.
//! fn flush<S: Session>(session: &mut S, wire: &mut Vec<u8>) -> bool {
//!     let mut sent = false;
//!     while let Some(bytes) = session.poll_transmit() {
//!         wire.extend_from_slice(&bytes);
//!         sent = true;
//!     }
//!     sent
//! }
//!
//! let mut server = ServerSession::new(ServerConfig::new("mx.example.org"));
//! let mut wire = Vec::new();
//! assert!(flush(&mut server, &mut wire));
//! assert_eq!(server.phase(), SessionPhase::Command);
//! server.handle_input(b"QUIT\r\n");
//! assert!(matches!(server.poll_event(), Some(ServerEvent::Closed(_))));
//! flush(&mut server, &mut wire);
//! assert!(server.is_closed());
//! assert!(wire.ends_with(b"221 2.0.0 Bye\r\n"));
//! ```

use bytes::Bytes;

/// What a session waits for now, so that the driver can pick the deadline
/// (RFC 5321 section 4.5.3.2 gives one per step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionPhase {
    /// Client: waiting for the server's 220 greeting.
    Greeting,
    /// Server: waiting for a command (or a SASL response line). Client: waiting for the
    /// reply to EHLO, STARTTLS, AUTH, RSET or NOOP.
    Command,
    /// Client: waiting for the replies to MAIL, RCPT and DATA.
    Envelope,
    /// Message content is on its way (server: reading DATA or a BDAT chunk; client:
    /// sending it). The deadline is per block of data, not for the whole message.
    Data,
    /// Client: waiting for the reply to the end of data (or to a BDAT chunk).
    DataEnd,
    /// The TLS handshake after STARTTLS is due ([`Session::is_awaiting_tls`]).
    TlsHandshake,
    /// Client: QUIT was sent; waiting for its reply.
    Quit,
    /// The session is over.
    Closed,
}

/// A sans-IO SMTP session: [`ServerSession`](crate::ServerSession) or
/// [`ClientSession`](crate::ClientSession). See the [module documentation](self).
pub trait Session {
    /// What the session reports.
    type Event;

    /// Hands over bytes read from the peer. Nothing is processed until
    /// [`Session::poll_event`] is called.
    fn handle_input(&mut self, bytes: &[u8]);

    /// The peer closed its side of the connection (a read returned end of stream). Input
    /// handed over before is still processed first.
    fn handle_eof(&mut self);

    /// Processes input until there is an event, or `None` when more input (or a decision
    /// owed to the session) is needed.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// Bytes to send to the peer, in order.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Bytes>;

    /// True once the session is over: send what [`Session::poll_transmit`] still gives,
    /// then close the connection.
    fn is_closed(&self) -> bool;

    /// What the session waits for now (for the deadline).
    fn phase(&self) -> SessionPhase;

    /// True when the 220 to STARTTLS was exchanged and the TLS handshake must run now on
    /// the raw stream.
    fn is_awaiting_tls(&self) -> bool;

    /// Octets handed over but not processed yet. While [`Session::is_awaiting_tls`], any
    /// such octet came in the clear ahead of the handshake: the upgrade must be refused.
    fn buffered(&self) -> usize;

    /// True when the session runs under TLS.
    fn is_tls(&self) -> bool;

    /// The TLS handshake succeeded: forget what was learned before it (RFC 3207 section
    /// 4.2).
    fn tls_established(&mut self);
}
