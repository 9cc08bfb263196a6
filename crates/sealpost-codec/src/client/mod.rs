//! The client side of an SMTP (or LMTP) session, without I/O.
//!
//! [`ClientSession`] reads the server's replies ([`ClientSession::handle_input`]), sends
//! EHLO (with a HELO fallback) by itself, and reports progress as [`ClientEvent`]s. The
//! application asks for STARTTLS, AUTH and transactions; the session pipelines MAIL, all
//! RCPTs and DATA when the server offers PIPELINING, uses BDAT when it offers CHUNKING,
//! and forgets everything it learned when TLS starts.
//!
//! With [`ClientConfig::lmtp`] the session speaks LMTP (RFC 2033): LHLO instead of EHLO
//! and never a HELO fallback; DATA only once some RCPT was accepted; and after the end
//! of the data (DATA, or BDAT LAST) one reply per accepted recipient, in RCPT order, each
//! kept as that recipient's [`RecipientResult::data`].
//!
//! ```
//! use sealpost_codec::client::{ClientConfig, ClientEvent, ClientSession};
//!
//! let mut client = ClientSession::new(ClientConfig::new("client.example"));
//! client.handle_input(b"220 mx.example.org ESMTP\r\n");
//! assert!(matches!(client.poll_event(), Some(ClientEvent::Greeting(_))));
//! assert_eq!(&client.poll_transmit().unwrap()[..], b"EHLO client.example\r\n");
//! client.handle_input(b"250-mx.example.org\r\n250 PIPELINING\r\n");
//! let Some(ClientEvent::Ready { ehlo: Some(ehlo) }) = client.poll_event() else { panic!() };
//! assert_eq!(ehlo.capabilities.len(), 1);
//! ```

mod envelope;
mod error;
mod transaction;

pub use envelope::{Envelope, RecipientResult, TransactionResult};
pub use error::ClientError;

use transaction::Transaction;

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::command::{Command, InitialResponse, Mechanism};
use crate::data::NulOctets;
use crate::ehlo::{Capability, EhloResponse};
use crate::error::DecodeError;
use crate::reply::{Reply, ReplyDecoder};
use crate::session::{Session, SessionPhase};
use crate::types::domain::Host;

/// Configuration of a [`ClientSession`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The argument of EHLO/HELO/LHLO.
    pub hostname: String,
    /// LMTP (RFC 2033) instead of SMTP:
    ///
    /// - LHLO instead of EHLO, also after STARTTLS. A refused LHLO ends the session
    ///   ([`ClientError::UnexpectedReply`] with the context `"LHLO"`): LMTP has no HELO.
    /// - MAIL and the RCPTs are pipelined when the server offers PIPELINING, but DATA waits
    ///   for the RCPT replies and is sent only when one was accepted (RFC 2033 section 4.2
    ///   makes a server refuse it otherwise; a server that took it anyway would owe zero
    ///   replies to the end of data, which a client cannot wait for).
    /// - After the end of the data (DATA's final "." or BDAT LAST) the server sends one
    ///   reply per accepted recipient, in RCPT order; each becomes that recipient's
    ///   [`RecipientResult::data`]. After a refused BDAT chunk, the one reply to the rest
    ///   stands for every recipient.
    /// - When the server closes the session (421, or end of stream reported with
    ///   [`ClientSession::handle_eof`]) after some of those replies, the replies that came
    ///   are kept: [`ClientEvent::TransactionDone`] reports them (the recipients still
    ///   without one get the 421, or a 451 of the session's own) before
    ///   [`ClientEvent::Closed`]. A recipient that got its 250 is delivered and must not
    ///   be sent the message again.
    pub lmtp: bool,
    /// Pipeline when the server offers PIPELINING.
    pub pipelining: bool,
    /// Use BDAT when the server offers CHUNKING.
    pub chunking: bool,
    /// Allow AUTH without TLS (loopback tests only).
    pub allow_auth_without_tls: bool,
    /// Limits for reading replies.
    pub reply_decoder: ReplyDecoder,
    /// What to do with a NUL octet in the content of a 7BIT or 8BITMIME message (DATA, or
    /// BDAT without BINARYMIME): refuse it (the default; the session ends without an end
    /// of data, so the server discards what it got) or drop it. A next hop that drops NULs
    /// itself would see line starts and ends of data where we sent none (SMTP smuggling);
    /// RFC 5322 allows no NUL in a message. BINARYMIME content goes as is.
    pub nul_octets: NulOctets,
}

impl ClientConfig {
    /// Defaults: SMTP, pipelining and chunking used when offered, AUTH only under TLS.
    pub fn new(hostname: impl Into<String>) -> Self {
        ClientConfig {
            hostname: hostname.into(),
            lmtp: false,
            pipelining: true,
            chunking: true,
            allow_auth_without_tls: false,
            reply_decoder: ReplyDecoder::new(),
            nul_octets: NulOctets::Reject,
        }
    }
}

/// What the client session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server's 220 greeting (EHLO is on its way).
    Greeting(Reply<'static>),
    /// EHLO (or, after a refused EHLO, HELO with `ehlo: None`) succeeded: the session
    /// takes commands. Also after TLS, with the capabilities announced under TLS.
    Ready {
        /// The EHLO reply, `None` after the HELO fallback.
        ehlo: Option<EhloResponse<'static>>,
    },
    /// 220 to STARTTLS with nothing after it: run the handshake on the raw stream now,
    /// then call [`ClientSession::tls_established`].
    StartTls,
    /// STARTTLS was refused; the session is still usable in plaintext.
    StartTlsRefused(Reply<'static>),
    /// AUTH succeeded.
    Authenticated,
    /// AUTH failed; the session is still usable.
    AuthFailed(Reply<'static>),
    /// The server waits for the message: call [`ClientSession::send_body`].
    SendBody,
    /// The transaction is over (sent, or refused before the data).
    TransactionDone(TransactionResult),
    /// A reply to RSET or NOOP.
    Reply(Reply<'static>),
    /// The session is over; close the connection. `Err` says what went wrong.
    Closed(Result<(), ClientError>),
}

/// The reply the session waits for, in the order the commands were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthFinal,
    AuthLoginUser,
    AuthLoginPassword,
    Mail,
    Rcpt(usize),
    Data,
    /// A reply to the end of data (one per accepted recipient in LMTP).
    DataEnd,
    /// The reply to a BDAT chunk that is not the last.
    BdatChunk,
    Rset,
    /// RSET sent by the session itself after a failed transaction.
    SilentRset,
    Noop,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the session is ready (greeting, EHLO).
    Opening,
    /// Idle: commands may be issued.
    Ready,
    /// Waiting for the handshake after STARTTLS.
    AwaitTls,
    /// A command exchange (AUTH, STARTTLS, RSET, NOOP) is in progress.
    Busy,
    /// A mail transaction is in progress.
    Transaction,
    /// Closed.
    Closed,
}

/// A sans-IO SMTP/LMTP client session. See the [module documentation](self).
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    input: BytesMut,
    outbox: Vec<u8>,
    events: VecDeque<ClientEvent>,
    expects: VecDeque<Expect>,
    state: State,
    ehlo: Option<EhloResponse<'static>>,
    tls: bool,
    authenticated: bool,
    transaction: Option<Transaction>,
    login: Option<(String, crate::Secret<String>)>,
    /// A transaction result held back until the RSET after it is answered.
    finished: Option<TransactionResult>,
    /// `quit()` was called while replies were outstanding without PIPELINING.
    quit_requested: bool,
    /// The server closed the connection ([`ClientSession::handle_eof`]).
    eof: bool,
}

impl ClientSession {
    /// A session that waits for the server's greeting.
    pub fn new(config: ClientConfig) -> Self {
        Self::with_tls(config, false)
    }

    /// A session on a connection that is TLS from the start (implicit TLS, RFC 8314).
    pub fn with_tls(config: ClientConfig, tls: bool) -> Self {
        ClientSession {
            config,
            input: BytesMut::with_capacity(1024),
            outbox: Vec::with_capacity(512),
            events: VecDeque::new(),
            expects: VecDeque::from([Expect::Greeting]),
            state: State::Opening,
            ehlo: None,
            tls,
            authenticated: false,
            transaction: None,
            login: None,
            finished: None,
            quit_requested: false,
            eof: false,
        }
    }

    /// Hands over bytes read from the server.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.state != State::Closed {
            self.input.extend_from_slice(bytes);
        }
    }

    /// The server closed the connection (a read returned end of stream). Replies already
    /// handed over are still read first; then the session closes: with `Ok` when only
    /// the reply to QUIT was outstanding, else with [`ClientError::ConnectionClosed`]. In
    /// LMTP, a transaction whose per-recipient replies had begun is reported first (see
    /// [`ClientConfig::lmtp`]).
    pub fn handle_eof(&mut self) {
        if self.state != State::Closed {
            self.eof = true;
        }
    }

    /// Processes replies until there is an event, or `None` when more input is needed.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if !self.progress() {
                return None;
            }
        }
    }

    /// Bytes to send to the server, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.outbox.is_empty() {
            None
        } else {
            Some(Bytes::from(std::mem::take(&mut self.outbox)))
        }
    }

    /// The capabilities of the last EHLO (`None` before EHLO, after HELO, and after TLS
    /// until the new EHLO reply).
    pub fn capabilities(&self) -> Option<&EhloResponse<'static>> {
        self.ehlo.as_ref()
    }

    /// True under TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True after a successful AUTH.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// True when the session takes a new command.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True when the 220 to STARTTLS came (with nothing after it): run the handshake
    /// now, then call [`ClientSession::tls_established`].
    pub fn is_awaiting_tls(&self) -> bool {
        self.state == State::AwaitTls
    }

    /// Octets received but not processed yet.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// What the session waits for now: the reply it expects next, or, while the message
    /// content is being sent, [`SessionPhase::Data`].
    pub fn phase(&self) -> SessionPhase {
        match self.state {
            State::Closed => return SessionPhase::Closed,
            State::AwaitTls => return SessionPhase::TlsHandshake,
            _ if self.transaction.as_ref().is_some_and(|t| t.body_open) => {
                return SessionPhase::Data;
            }
            _ => {}
        }
        match self.expects.front() {
            Some(Expect::Greeting) => SessionPhase::Greeting,
            Some(Expect::Mail | Expect::Rcpt(_) | Expect::Data) => SessionPhase::Envelope,
            Some(Expect::DataEnd | Expect::BdatChunk) => SessionPhase::DataEnd,
            Some(Expect::Quit) => SessionPhase::Quit,
            Some(
                Expect::Ehlo
                | Expect::Helo
                | Expect::StartTls
                | Expect::AuthFinal
                | Expect::AuthLoginUser
                | Expect::AuthLoginPassword
                | Expect::Rset
                | Expect::SilentRset
                | Expect::Noop,
            )
            | None => SessionPhase::Command,
        }
    }

    fn offers(&self, capability: &Capability<'_>) -> bool {
        self.ehlo.as_ref().is_some_and(|e| e.has(capability))
    }

    fn ready(&self) -> Result<(), ClientError> {
        match self.state {
            State::Ready => Ok(()),
            State::Closed => Err(ClientError::InvalidState("the session is closed")),
            _ => Err(ClientError::InvalidState("the session is busy")),
        }
    }

    fn send(&mut self, command: &Command<'_>, expect: Expect) {
        command.encode(&mut self.outbox);
        self.expects.push_back(expect);
    }

    fn hello_command(&self) -> Command<'static> {
        let host = Host::new(self.config.hostname.clone()).unwrap_or_else(|_| {
            Host::new("localhost").unwrap_or(Host::Nonstandard(crate::Text::EMPTY))
        });
        if self.config.lmtp { Command::Lhlo(host) } else { Command::Ehlo(host) }
    }

    /// Asks for STARTTLS. The answer is [`ClientEvent::StartTls`] or
    /// [`ClientEvent::StartTlsRefused`].
    pub fn start_tls(&mut self) -> Result<(), ClientError> {
        self.ready()?;
        if self.tls {
            return Err(ClientError::InvalidState("TLS is already active"));
        }
        self.send(&Command::StartTls, Expect::StartTls);
        self.state = State::Busy;
        Ok(())
    }

    /// The handshake after STARTTLS succeeded: forget the capabilities (RFC 3207 section
    /// 4.2) and send EHLO again.
    pub fn tls_established(&mut self) {
        if self.state != State::AwaitTls {
            return;
        }
        self.tls = true;
        self.ehlo = None;
        self.authenticated = false;
        self.state = State::Opening;
        let hello = self.hello_command();
        self.send(&hello, Expect::Ehlo);
    }

    /// Authenticates with PLAIN or LOGIN. Refused without TLS unless configured otherwise.
    pub fn authenticate(
        &mut self,
        mechanism: &Mechanism<'_>,
        username: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        self.ready()?;
        if !self.tls && !self.config.allow_auth_without_tls {
            return Err(ClientError::AuthWithoutTls);
        }
        let offered = self
            .ehlo
            .as_ref()
            .is_some_and(|e| e.auth_mechanisms().any(|m| m.is(mechanism.as_str())));
        if !offered {
            return Err(ClientError::NotOffered("this AUTH mechanism"));
        }
        if mechanism.is("PLAIN") {
            let message = crate::sasl::encode_plain(None, username, password);
            let command = Command::Auth {
                mechanism: Mechanism::PLAIN,
                initial_response: Some(InitialResponse::from_bytes(message.expose())),
            };
            self.send(&command, Expect::AuthFinal);
        } else if mechanism.is("LOGIN") {
            let command = Command::Auth { mechanism: Mechanism::LOGIN, initial_response: None };
            self.send(&command, Expect::AuthLoginUser);
            self.login = Some((username.to_owned(), crate::Secret::new(password.to_owned())));
        } else {
            return Err(ClientError::NotOffered(
                "a mechanism this session can frame (PLAIN, LOGIN)",
            ));
        }
        self.state = State::Busy;
        Ok(())
    }

    /// Sends RSET; the reply comes as [`ClientEvent::Reply`].
    pub fn reset(&mut self) -> Result<(), ClientError> {
        self.ready()?;
        self.send(&Command::Rset, Expect::Rset);
        self.state = State::Busy;
        Ok(())
    }

    /// Sends NOOP; the reply comes as [`ClientEvent::Reply`].
    pub fn noop(&mut self) -> Result<(), ClientError> {
        self.ready()?;
        self.send(&Command::Noop(None), Expect::Noop);
        self.state = State::Busy;
        Ok(())
    }

    /// Ends the session politely: QUIT, sent at once when the server pipelines or no
    /// reply is outstanding, else as soon as the outstanding replies are in. While the
    /// server reads DATA content (after 354), QUIT would be taken as content, so the
    /// session closes without it.
    pub fn quit(&mut self) {
        if self.state == State::Closed || self.expects.contains(&Expect::Quit) {
            return;
        }
        if self.state == State::AwaitTls || self.in_data_content() {
            self.close(Ok(()));
            return;
        }
        if !self.expects.is_empty() && !self.offers(&Capability::Pipelining) {
            self.quit_requested = true;
            return;
        }
        self.send(&Command::Quit, Expect::Quit);
    }

    /// True while the server takes what we send as DATA content.
    fn in_data_content(&self) -> bool {
        self.transaction.as_ref().is_some_and(|t| !t.bdat && t.body_open)
    }

    fn close(&mut self, result: Result<(), ClientError>) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.input.clear();
        self.expects.clear();
        self.events.push_back(ClientEvent::Closed(result));
    }

    /// Fails the session: QUIT is sent when that is still safe, then it closes.
    fn fail(&mut self, error: ClientError) {
        let safe = !matches!(
            error,
            ClientError::ResponseInjection { .. } | ClientError::ServiceClosing(_)
        );
        if safe && self.state != State::AwaitTls {
            Command::Quit.encode(&mut self.outbox);
        }
        self.close(Err(error));
    }

    /// Reads one reply and acts on it.
    fn progress(&mut self) -> bool {
        if self.state == State::Closed {
            return false;
        }
        if self.input.is_empty() {
            if self.eof {
                self.on_eof();
                return true;
            }
            return false;
        }
        if self.state == State::AwaitTls {
            // Anything before the handshake was not protected: injection.
            let trailing = self.input.len();
            self.fail(ClientError::ResponseInjection { trailing });
            return true;
        }
        if !self.tls
            && self.expects.front() == Some(&Expect::Greeting)
            && matches!(self.input[0], 0x15 | 0x16)
        {
            // A TLS record (alert or handshake) where the "220" belongs: an implicit-TLS
            // port. Nothing SMTP can be said to it, not even QUIT.
            self.close(Err(ClientError::TlsBeforeGreeting));
            return true;
        }
        let (consumed, reply) = match self.config.reply_decoder.decode(&self.input) {
            Ok((rest, reply)) => (self.input.len() - rest.len(), reply.into_owned()),
            Err(DecodeError::Incomplete) if self.eof => {
                // A reply cut off by the end of the stream is no reply.
                self.input.clear();
                self.on_eof();
                return true;
            }
            Err(DecodeError::Incomplete) => return false,
            Err(DecodeError::LineTooLong { limit }) => {
                self.fail(ClientError::ReplyTooLong { limit });
                return true;
            }
            Err(DecodeError::Malformed { error, .. }) => {
                self.fail(ClientError::MalformedReply(error));
                return true;
            }
        };
        self.input.advance(consumed);
        let Some(expect) = self.expects.pop_front() else {
            if reply.code().get() == 421 {
                self.close(Err(ClientError::ServiceClosing(reply)));
            } else {
                self.fail(ClientError::UnexpectedReply {
                    context: "nothing (no command was sent)",
                    reply,
                });
            }
            return true;
        };
        if reply.code().get() == 421 && expect != Expect::Quit {
            if expect == Expect::DataEnd {
                self.end_lmtp_replies(reply.clone());
            }
            self.close(Err(ClientError::ServiceClosing(reply)));
            return true;
        }
        self.on_reply(expect, reply);
        if self.quit_requested && self.expects.is_empty() && self.state != State::Closed {
            self.quit_requested = false;
            self.quit();
        }
        true
    }

    /// The end of the stream, once every complete reply before it was read.
    fn on_eof(&mut self) {
        if self.state == State::AwaitTls {
            // The handshake never started: nothing more to read or say.
            self.close(Err(ClientError::ConnectionClosed));
            return;
        }
        if let Some(result) = self.finished.take() {
            // Only the session's own RSET after it was outstanding: the result is whole.
            self.events.push_back(ClientEvent::TransactionDone(result));
        }
        match self.expects.front() {
            None | Some(Expect::Quit) => self.close(Ok(())),
            Some(Expect::DataEnd) => {
                // RFC 3463: X.4.2, bad connection. Made here: the server never said it.
                let lost = crate::replies::CONNECTION_LOST.to_reply();
                self.end_lmtp_replies(lost);
                self.close(Err(ClientError::ConnectionClosed));
            }
            Some(_) => self.close(Err(ClientError::ConnectionClosed)),
        }
    }

    /// LMTP: the server stops answering after some of the per-recipient replies to the end
    /// of data. Those stand; the recipients still waiting get `rest`, and the transaction
    /// is reported (before the session closes). Nothing happens in SMTP, or when no reply
    /// to the end of data came yet (then nothing is known, and the session's error says
    /// so).
    fn end_lmtp_replies(&mut self, rest: Reply<'static>) {
        if !self.config.lmtp {
            return;
        }
        let Some(mut t) = self.transaction.take() else { return };
        if t.data_replies.is_empty() || t.body_open {
            self.transaction = Some(t);
            return;
        }
        while t.data_replies.len() < t.accepted() {
            t.data_replies.push(rest.clone());
        }
        self.finish_transaction(t);
    }

    fn on_reply(&mut self, expect: Expect, reply: Reply<'static>) {
        let ok = reply.code().is_positive();
        match expect {
            Expect::Greeting => {
                if reply.code().get() == 220 {
                    self.events.push_back(ClientEvent::Greeting(reply));
                    let hello = self.hello_command();
                    self.send(&hello, Expect::Ehlo);
                } else {
                    self.fail(ClientError::UnexpectedReply { context: "the greeting", reply });
                }
            }
            Expect::Ehlo => {
                if ok {
                    match EhloResponse::from_reply(&reply) {
                        Ok(ehlo) => {
                            let ehlo = ehlo.into_owned();
                            self.ehlo = Some(ehlo.clone());
                            self.state = State::Ready;
                            self.events.push_back(ClientEvent::Ready { ehlo: Some(ehlo) });
                        }
                        Err(_) => {
                            let context = if self.config.lmtp { "LHLO" } else { "EHLO" };
                            self.fail(ClientError::UnexpectedReply { context, reply })
                        }
                    }
                } else if reply.code().is_permanent_failure() && !self.config.lmtp {
                    // RFC 5321 section 3.2: fall back to HELO. The caller's TLS policy
                    // decides whether a session without extensions is good enough.
                    let host = match self.hello_command() {
                        Command::Ehlo(h) | Command::Lhlo(h) | Command::Helo(h) => h,
                        _ => return,
                    };
                    self.send(&Command::Helo(host), Expect::Helo);
                } else {
                    let context = if self.config.lmtp { "LHLO" } else { "EHLO" };
                    self.fail(ClientError::UnexpectedReply { context, reply });
                }
            }
            Expect::Helo => {
                if ok {
                    self.ehlo = None;
                    self.state = State::Ready;
                    self.events.push_back(ClientEvent::Ready { ehlo: None });
                } else {
                    self.fail(ClientError::UnexpectedReply { context: "HELO", reply });
                }
            }
            Expect::StartTls => {
                if reply.code().get() == 220 {
                    if !self.input.is_empty() {
                        let trailing = self.input.len();
                        self.fail(ClientError::ResponseInjection { trailing });
                        return;
                    }
                    self.state = State::AwaitTls;
                    self.events.push_back(ClientEvent::StartTls);
                } else {
                    self.state = State::Ready;
                    self.events.push_back(ClientEvent::StartTlsRefused(reply));
                }
            }
            Expect::AuthLoginUser | Expect::AuthLoginPassword if reply.code().get() == 334 => {
                let Some((username, password)) = self.login.as_ref() else {
                    return self.fail(ClientError::InvalidState("LOGIN without credentials"));
                };
                let (text, next) = if expect == Expect::AuthLoginUser {
                    (crate::sasl::encode_base64(username.as_bytes()), Expect::AuthLoginPassword)
                } else {
                    (crate::sasl::encode_base64(password.expose().as_bytes()), Expect::AuthFinal)
                };
                self.outbox.extend_from_slice(text.as_bytes());
                self.outbox.extend_from_slice(b"\r\n");
                self.expects.push_back(next);
            }
            Expect::AuthFinal | Expect::AuthLoginUser | Expect::AuthLoginPassword => {
                self.login = None;
                self.state = State::Ready;
                if ok {
                    self.authenticated = true;
                    self.events.push_back(ClientEvent::Authenticated);
                } else {
                    self.events.push_back(ClientEvent::AuthFailed(reply));
                }
            }
            Expect::SilentRset => {
                self.state = State::Ready;
                if let Some(result) = self.finished.take() {
                    self.events.push_back(ClientEvent::TransactionDone(result));
                }
            }
            Expect::Rset | Expect::Noop => {
                self.state = State::Ready;
                self.events.push_back(ClientEvent::Reply(reply));
            }
            Expect::Quit => self.close(Ok(())),
            Expect::Mail | Expect::Rcpt(_) | Expect::Data | Expect::DataEnd | Expect::BdatChunk => {
                self.on_transaction_reply(expect, reply)
            }
        }
    }
}

impl Session for ClientSession {
    type Event = ClientEvent;

    fn handle_input(&mut self, bytes: &[u8]) {
        ClientSession::handle_input(self, bytes);
    }

    fn handle_eof(&mut self) {
        ClientSession::handle_eof(self);
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        ClientSession::poll_event(self)
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        ClientSession::poll_transmit(self)
    }

    fn is_closed(&self) -> bool {
        ClientSession::is_closed(self)
    }

    fn phase(&self) -> SessionPhase {
        ClientSession::phase(self)
    }

    fn is_awaiting_tls(&self) -> bool {
        ClientSession::is_awaiting_tls(self)
    }

    fn buffered(&self) -> usize {
        ClientSession::buffered(self)
    }

    fn is_tls(&self) -> bool {
        ClientSession::is_tls(self)
    }

    fn tls_established(&mut self) {
        ClientSession::tls_established(self);
    }
}
