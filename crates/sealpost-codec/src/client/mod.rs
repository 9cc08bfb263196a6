//! The client side of an SMTP (or LMTP) session, without I/O.
//!
//! [`ClientSession`] reads the server's replies ([`ClientSession::handle_input`]), sends
//! EHLO (with a HELO fallback) by itself, and reports progress as [`ClientEvent`]s. The
//! application asks for STARTTLS, AUTH and transactions; the session pipelines MAIL, all
//! RCPTs and DATA when the server offers PIPELINING, uses BDAT when it offers CHUNKING,
//! and forgets everything it learned when TLS starts.
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

pub use envelope::{Envelope, RecipientResult, TransactionResult};
pub use error::ClientError;

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::command::{Command, InitialResponse, Mechanism};
use crate::data::DotStuffer;
use crate::ehlo::{Capability, EhloResponse};
use crate::error::DecodeError;
use crate::esmtp::{BodyType, MailParameter, RcptParameter};
use crate::reply::{Reply, ReplyDecoder};
use crate::types::domain::Host;

/// Configuration of a [`ClientSession`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The argument of EHLO/HELO/LHLO.
    pub hostname: String,
    /// LMTP: LHLO, and one reply per recipient after the data.
    pub lmtp: bool,
    /// Pipeline when the server offers PIPELINING.
    pub pipelining: bool,
    /// Use BDAT when the server offers CHUNKING.
    pub chunking: bool,
    /// Allow AUTH without TLS (loopback tests only).
    pub allow_auth_without_tls: bool,
    /// Limits for reading replies.
    pub reply_decoder: ReplyDecoder,
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

/// Book-keeping of a transaction.
#[derive(Debug)]
struct Transaction {
    envelope: Envelope,
    mail: Option<Reply<'static>>,
    rcpts: Vec<Option<Reply<'static>>>,
    data_command: Option<Reply<'static>>,
    data_replies: Vec<Reply<'static>>,
    /// A failed BDAT chunk reply, which stands for the data reply.
    bdat_failure: Option<Reply<'static>>,
    bdat: bool,
    pipelined: bool,
    /// Recipients not yet sent (without pipelining).
    next_rcpt: usize,
    body_open: bool,
    stuffer: DotStuffer,
}

impl Transaction {
    fn accepted(&self) -> usize {
        self.rcpts.iter().filter(|r| r.as_ref().is_some_and(|r| r.code().is_positive())).count()
    }
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
        }
    }

    /// Hands over bytes read from the server.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.state != State::Closed {
            self.input.extend_from_slice(bytes);
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

    /// Starts a transaction: MAIL, every RCPT and (for DATA) the DATA command, pipelined
    /// when offered. Checks SIZE, SMTPUTF8, 8BITMIME, BINARYMIME, DSN and REQUIRETLS
    /// against what the server announced before sending anything, and adds SMTPUTF8 when
    /// an address needs it.
    pub fn send_mail(&mut self, envelope: Envelope) -> Result<(), ClientError> {
        self.ready()?;
        if envelope.recipients.is_empty() {
            return Err(ClientError::InvalidState("an envelope needs at least one recipient"));
        }
        self.check_extensions(&envelope)?;
        let body = envelope.parameters.body();
        let chunking = self.offers(&Capability::Chunking);
        let bdat = chunking && (self.config.chunking || body == Some(BodyType::BinaryMime));
        let pipelined = self.config.pipelining && self.offers(&Capability::Pipelining);
        let mut parameters = envelope.parameters.clone();
        // RFC 6531 section 3.4: a non-ASCII address needs SMTPUTF8 on MAIL, or the server
        // refuses the transaction (553 5.6.7); the check above made sure it is offered.
        if envelope.needs_smtputf8() && !parameters.smtputf8() {
            parameters.0.push(MailParameter::SmtpUtf8);
        }
        let mail = Command::Mail { reverse_path: envelope.reverse_path.clone(), parameters };
        self.send(&mail, Expect::Mail);
        let count = envelope.recipients.len();
        let mut transaction = Transaction {
            envelope,
            mail: None,
            rcpts: vec![None; count],
            data_command: None,
            data_replies: Vec::new(),
            bdat_failure: None,
            bdat,
            pipelined,
            next_rcpt: 0,
            body_open: false,
            stuffer: if bdat { DotStuffer::normalizer() } else { DotStuffer::new() },
        };
        if pipelined {
            for i in 0..count {
                self.send_rcpt(&mut transaction, i);
            }
            if !bdat {
                self.send(&Command::Data, Expect::Data);
            }
        }
        self.transaction = Some(transaction);
        self.state = State::Transaction;
        Ok(())
    }

    fn send_rcpt(&mut self, transaction: &mut Transaction, index: usize) {
        let (path, parameters) = &transaction.envelope.recipients[index];
        let command = Command::Rcpt { forward_path: path.clone(), parameters: parameters.clone() };
        self.send(&command, Expect::Rcpt(index));
        transaction.next_rcpt = index + 1;
    }

    fn check_extensions(&self, envelope: &Envelope) -> Result<(), ClientError> {
        let params = &envelope.parameters;
        let esmtp = self.ehlo.is_some();
        if let Some(size) = params.size() {
            if !self.offers(&Capability::Size(None)) {
                return Err(ClientError::NotOffered("SIZE"));
            }
            if let Some(limit) = self.ehlo.as_ref().and_then(EhloResponse::size)
                && limit > 0
                && size > limit
            {
                return Err(ClientError::MessageTooLarge { size, limit });
            }
        }
        if (envelope.needs_smtputf8() || params.smtputf8()) && !self.offers(&Capability::SmtpUtf8) {
            return Err(ClientError::NotOffered("SMTPUTF8"));
        }
        match params.body() {
            Some(BodyType::EightBitMime) if !self.offers(&Capability::EightBitMime) => {
                return Err(ClientError::NotOffered("8BITMIME"));
            }
            Some(BodyType::BinaryMime)
                if !(self.offers(&Capability::BinaryMime)
                    && self.offers(&Capability::Chunking)) =>
            {
                return Err(ClientError::NotOffered("BINARYMIME with CHUNKING"));
            }
            _ => {}
        }
        if params.requiretls() {
            if !self.tls {
                return Err(ClientError::RequireTlsWithoutTls);
            }
            if !self.offers(&Capability::RequireTls) {
                return Err(ClientError::NotOffered("REQUIRETLS"));
            }
        }
        let dsn = params
            .iter()
            .any(|p| matches!(p, MailParameter::Ret(_) | MailParameter::EnvId(_)))
            || envelope.recipients.iter().any(|(_, r)| {
                r.iter().any(|p| matches!(p, RcptParameter::Notify(_) | RcptParameter::Orcpt(_)))
            });
        if dsn && !self.offers(&Capability::Dsn) {
            return Err(ClientError::NotOffered("DSN"));
        }
        if !esmtp && (!params.is_empty() || envelope.recipients.iter().any(|(_, r)| !r.is_empty()))
        {
            return Err(ClientError::NotOffered("ESMTP parameters (the server only took HELO)"));
        }
        Ok(())
    }

    /// Sends message content after [`ClientEvent::SendBody`]; `last` ends the message.
    /// With DATA the content is dot-stuffed (and bare CR/LF become CRLF); with BDAT each
    /// call is one chunk.
    pub fn send_body(&mut self, chunk: &[u8], last: bool) -> Result<(), ClientError> {
        let Some(mut transaction) = self.transaction.take() else {
            return Err(ClientError::InvalidState("no transaction"));
        };
        if !transaction.body_open {
            self.transaction = Some(transaction);
            return Err(ClientError::InvalidState("the server does not wait for the body"));
        }
        if transaction.bdat && transaction.bdat_failure.is_some() {
            self.transaction = Some(transaction);
            return Err(ClientError::InvalidState("the server refused a BDAT chunk"));
        }
        if transaction.bdat {
            // BINARYMIME goes as is; a text message is CRLF lines with BDAT too.
            let binary = transaction.envelope.parameters.body() == Some(BodyType::BinaryMime);
            let mut normalized = Vec::new();
            let content = if binary {
                chunk
            } else {
                transaction.stuffer.encode(chunk, &mut normalized);
                if last {
                    transaction.stuffer.finish(&mut normalized);
                }
                &normalized[..]
            };
            if !content.is_empty() || last {
                let command = Command::Bdat { size: content.len() as u64, last };
                command.encode(&mut self.outbox);
                self.outbox.extend_from_slice(content);
                self.expects.push_back(if last { Expect::DataEnd } else { Expect::BdatChunk });
            }
        } else {
            transaction.stuffer.encode(chunk, &mut self.outbox);
            if last {
                transaction.stuffer.finish(&mut self.outbox);
                self.expects.push_back(Expect::DataEnd);
            }
        }
        if last {
            transaction.body_open = false;
        }
        self.transaction = Some(transaction);
        Ok(())
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
        if self.state == State::Closed || self.input.is_empty() {
            return false;
        }
        if self.state == State::AwaitTls {
            // Anything before the handshake was not protected: injection.
            let trailing = self.input.len();
            self.fail(ClientError::ResponseInjection { trailing });
            return true;
        }
        let (consumed, reply) = match self.config.reply_decoder.decode(&self.input) {
            Ok((rest, reply)) => (self.input.len() - rest.len(), reply.into_owned()),
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
                            self.fail(ClientError::UnexpectedReply { context: "EHLO", reply })
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
                    self.fail(ClientError::UnexpectedReply { context: "EHLO", reply });
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

    fn on_transaction_reply(&mut self, expect: Expect, reply: Reply<'static>) {
        let Some(mut t) = self.transaction.take() else {
            return self.fail(ClientError::UnexpectedReply { context: "no transaction", reply });
        };
        let ok = reply.code().is_positive();
        match expect {
            Expect::Mail => {
                t.mail = Some(reply);
                if !ok && !t.pipelined {
                    return self.finish_transaction(t);
                }
                if !t.pipelined && t.next_rcpt < t.rcpts.len() {
                    let next = t.next_rcpt;
                    self.send_rcpt(&mut t, next);
                }
            }
            Expect::Rcpt(i) => {
                t.rcpts[i] = Some(reply);
                let all_answered = i + 1 == t.rcpts.len();
                if !t.pipelined && !all_answered {
                    self.send_rcpt(&mut t, i + 1);
                } else if all_answered {
                    let mail_ok = t.mail.as_ref().is_some_and(|m| m.code().is_positive());
                    if t.bdat {
                        if mail_ok && t.accepted() > 0 {
                            t.body_open = true;
                            self.events.push_back(ClientEvent::SendBody);
                        } else {
                            return self.finish_transaction(t);
                        }
                    } else if !t.pipelined {
                        if mail_ok && t.accepted() > 0 {
                            self.send(&Command::Data, Expect::Data);
                        } else {
                            return self.finish_transaction(t);
                        }
                    }
                }
            }
            Expect::Data => {
                let go = reply.code().is_intermediate();
                t.data_command = Some(reply);
                if go && t.accepted() > 0 {
                    t.body_open = true;
                    self.events.push_back(ClientEvent::SendBody);
                } else if go {
                    // RFC 2920 section 3.1: a 354 although every RCPT failed; end the
                    // (empty) data at once and report the refusal.
                    t.stuffer.finish(&mut self.outbox);
                    self.expects.push_back(Expect::DataEnd);
                    self.transaction = Some(t);
                    return;
                } else {
                    return self.finish_transaction(t);
                }
            }
            Expect::BdatChunk => {
                if !ok && t.bdat_failure.is_none() {
                    t.bdat_failure = Some(reply);
                }
                // RFC 3030 section 2: after a refused chunk no more chunks are sent; once
                // no reply is outstanding, the transaction is over.
                let outstanding =
                    self.expects.iter().any(|e| matches!(e, Expect::BdatChunk | Expect::DataEnd));
                if t.bdat_failure.is_some() && !outstanding {
                    t.body_open = false;
                    return self.finish_transaction(t);
                }
            }
            Expect::DataEnd => {
                t.data_replies.push(reply);
                let expected = if self.config.lmtp { t.accepted().max(1) } else { 1 };
                if t.data_replies.len() >= expected {
                    return self.finish_transaction(t);
                }
                // LMTP: more replies follow.
                self.expects.push_front(Expect::DataEnd);
            }
            _ => {}
        }
        self.transaction = Some(t);
    }

    fn finish_transaction(&mut self, t: Transaction) {
        let lmtp = self.config.lmtp;
        let body_finished = !t.data_replies.is_empty();
        let data_failed_all = t.accepted() == 0;
        let mut data_replies = t.data_replies.into_iter();
        let shared = if lmtp { None } else { data_replies.next() };
        let shared = match (t.bdat_failure, shared) {
            (Some(failure), _) => Some(failure),
            (None, shared) => shared,
        };
        let recipients = t
            .envelope
            .recipients
            .into_iter()
            .zip(t.rcpts)
            .map(|((path, _), rcpt)| {
                let accepted = rcpt.as_ref().is_some_and(|r| r.code().is_positive());
                let data = if !accepted || data_failed_all {
                    None
                } else if lmtp {
                    data_replies.next()
                } else {
                    shared
                        .clone()
                        .or_else(|| t.data_command.clone().filter(|d| d.code().is_negative()))
                };
                RecipientResult { path, rcpt, data }
            })
            .collect();
        let mail = t.mail.unwrap_or_else(|| {
            Reply::from_parts(crate::ReplyCode::unchecked(451), vec![crate::Text::EMPTY])
        });
        let result = TransactionResult { mail, recipients, data_command: t.data_command };
        // A transaction that ended before its data leaves the server inside it: reset it
        // (RFC 5321 section 4.1.1.5) before anything else is sent.
        // The result is reported once the RSET is answered, so that the session is
        // ready for the next transaction when the application hears of it.
        if result.mail.code().is_positive() && !body_finished {
            self.send(&Command::Rset, Expect::SilentRset);
            self.state = State::Busy;
            self.finished = Some(result);
        } else {
            self.state = State::Ready;
            self.events.push_back(ClientEvent::TransactionDone(result));
        }
    }
}
