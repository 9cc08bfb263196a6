//! The server side of an SMTP (or LMTP) session, without I/O.
//!
//! [`ServerSession`] takes the bytes the client sent ([`ServerSession::handle_input`]),
//! answers every pure-protocol matter itself (500, 501, 502, 503, 504, 530, 554, 555,
//! 421) and reports what needs the application's judgement as [`ServerEvent`]s
//! ([`ServerSession::poll_event`]). The bytes to send come from
//! [`ServerSession::poll_transmit`].
//!
//! ```
//! use sealpost_codec::server::{ServerConfig, ServerEvent, ServerSession};
//!
//! let mut session = ServerSession::new(ServerConfig::new("mx.example.org"));
//! assert!(session.poll_transmit().unwrap().starts_with(b"220 mx.example.org"));
//!
//! session.handle_input(b"EHLO client.example\r\n");
//! assert!(matches!(session.poll_event(), Some(ServerEvent::Hello { .. })));
//! session.accept();
//! assert!(session.poll_transmit().unwrap().starts_with(b"250-mx.example.org\r\n"));
//!
//! // PIPELINING is negotiated now: commands may come in groups (RFC 2920).
//! session.handle_input(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@mx.example.org>\r\n");
//! assert!(matches!(session.poll_event(), Some(ServerEvent::Mail { .. })));
//! session.accept();
//! assert!(matches!(session.poll_event(), Some(ServerEvent::Rcpt { .. })));
//! session.accept();
//! let out = session.poll_transmit().unwrap();
//! assert_eq!(&out[..], b"250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n");
//! ```

mod commands;
mod config;
mod event;
pub(crate) mod replies;

pub use config::{AuthConfig, ServerConfig, StartTlsTrailing, TlsOffer};
pub use event::{CloseReason, ServerEvent};

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::command::{Mechanism, Verb};
use crate::data::{BdatReader, DataError, DataStep, DotUnstuffer, NulOctets};
use crate::esmtp::BodyType;
use crate::framing::{Frame, LineFramer};
use crate::reply::Reply;
use crate::session::{Session, SessionPhase};
use crate::types::domain::Host;
use replies::Canned;

/// RFC 4954 section 4: a server accepts SASL response lines of at least 12288 octets.
const SASL_LINE_LIMIT: usize = 12288;

/// A sans-IO SMTP/LMTP server session. See the [module documentation](self).
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    input: BytesMut,
    framer: LineFramer,
    outbox: Vec<u8>,
    events: VecDeque<ServerEvent>,
    phase: Phase,
    pending: Option<Pending>,
    hello: Option<Verb>,
    /// The argument of the accepted EHLO, HELO or LHLO.
    hello_host: Option<Host<'static>>,
    tls: bool,
    authenticated: bool,
    /// Who the client is after a successful AUTH; while AUTH waits for its decision,
    /// who it will be when accepted.
    identity: Option<String>,
    transaction: Option<Transaction>,
    errors: usize,
    closed: bool,
    /// The greeting was negative: only QUIT is served (RFC 5321 section 3.1).
    refused: bool,
    /// The client closed its side of the connection.
    eof: bool,
}

/// The current mail transaction.
#[derive(Debug, Clone, Default)]
struct Transaction {
    smtputf8: bool,
    body: Option<BodyType>,
    accepted_rcpts: usize,
    /// BDAT chunks were received (DATA may no longer be used).
    bdat: bool,
    /// Octets received over all BDAT chunks.
    bdat_size: u64,
    /// Where the first NUL octet of a 7BIT or 8BITMIME message sent by BDAT was (the
    /// message is refused after its last chunk, as in DATA).
    bdat_nul: Option<u64>,
}

/// What the session is reading.
#[derive(Debug)]
enum Phase {
    /// Command lines.
    Command,
    /// A DATA body.
    Data(DotUnstuffer),
    /// A BDAT chunk. `refusal` is set when the chunk is drained and then refused.
    Bdat { reader: BdatReader, last: bool, refusal: Option<Refusal> },
    /// SASL response lines.
    Auth(SaslState),
    /// 220 to STARTTLS sent; waiting for the handshake.
    StartTls,
}

/// Why a drained BDAT chunk is refused.
#[derive(Debug, Clone)]
struct Refusal {
    reply: Reply<'static>,
    error: Option<DataError>,
    protocol_error: bool,
}

/// Where a SASL exchange stands.
#[derive(Debug)]
enum SaslState {
    /// PLAIN after an empty 334: the message comes next.
    Plain,
    /// LOGIN: user name next.
    LoginUser,
    /// LOGIN: password next.
    LoginPassword { username: String },
    /// Another mechanism, driven by the application.
    Other { mechanism: Mechanism<'static> },
}

/// The decision the application owes.
#[derive(Debug)]
enum Pending {
    Hello(Verb, Host<'static>),
    Mail {
        smtputf8: bool,
        body: Option<BodyType>,
    },
    Rcpt,
    /// DATA (`bdat: None`), or the first BDAT chunk (its size and LAST flag) of the
    /// transaction.
    MessageStart {
        bdat: Option<(u64, bool)>,
        trailing: bool,
    },
    MessageEnd {
        remaining: usize,
        trailing: bool,
    },
    Auth,
    AuthStep {
        mechanism: Mechanism<'static>,
    },
    Vrfy,
}

impl ServerSession {
    /// Starts a session and queues the "220" greeting.
    pub fn new(config: ServerConfig) -> Self {
        let greeting = format!("{} {}", config.hostname, config.banner);
        let code = 220;
        let greeting = Reply::new(code, greeting.trim_end().to_owned())
            .unwrap_or_else(|_| replies::SERVICE_READY.build(false));
        Self::with_greeting(config, greeting)
    }

    /// Starts a session with a given greeting. A negative greeting (554) keeps the
    /// session open but serves only QUIT, as RFC 5321 section 3.1 asks.
    pub fn with_greeting(config: ServerConfig, greeting: Reply<'static>) -> Self {
        let framer = LineFramer::new(config.max_line);
        let tls = config.implicit_tls;
        let mut session = ServerSession {
            config,
            input: BytesMut::with_capacity(4096),
            framer,
            outbox: Vec::with_capacity(512),
            events: VecDeque::new(),
            phase: Phase::Command,
            pending: None,
            hello: None,
            hello_host: None,
            tls,
            authenticated: false,
            identity: None,
            transaction: None,
            errors: 0,
            closed: false,
            refused: greeting.code().is_negative(),
            eof: false,
        };
        greeting.encode(&mut session.outbox);
        session
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Hands over bytes read from the client. Nothing is processed until
    /// [`ServerSession::poll_event`] is called.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if !self.closed {
            self.input.extend_from_slice(bytes);
        }
    }

    /// Processes input until there is an event to report, a decision is owed, or more
    /// input is needed (then `None`).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if !self.progress() {
                if self.eof && !self.closed && self.pending.is_none() {
                    // Nothing more will come: what is left is a partial line or data.
                    self.closed = true;
                    self.input.clear();
                }
                return None;
            }
        }
    }

    /// The client closed its side of the connection. Complete commands handed over
    /// before are still served; then the session is closed (without a reply: nobody
    /// reads it).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// What the session waits for now.
    pub fn phase(&self) -> SessionPhase {
        match self.phase {
            _ if self.closed => SessionPhase::Closed,
            Phase::Command | Phase::Auth(_) => SessionPhase::Command,
            Phase::Data(_) | Phase::Bdat { .. } => SessionPhase::Data,
            Phase::StartTls => SessionPhase::TlsHandshake,
        }
    }

    /// Bytes to send to the client, if any. Call after handling events; RFC 2920 lets a
    /// server send the replies to a pipelined group together.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.outbox.is_empty() {
            None
        } else {
            Some(Bytes::from(std::mem::take(&mut self.outbox)))
        }
    }

    /// True once the session is over: flush [`ServerSession::poll_transmit`] and close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True while the session waits for the TLS handshake after STARTTLS.
    pub fn is_awaiting_tls(&self) -> bool {
        matches!(self.phase, Phase::StartTls) && !self.closed
    }

    /// True when the session runs under TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True after a successful AUTH.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The accepted greeting command (EHLO, HELO or LHLO), if any.
    pub fn hello(&self) -> Option<Verb> {
        self.hello
    }

    /// The argument of the accepted EHLO, HELO or LHLO, if any (forgotten after TLS).
    pub fn hello_host(&self) -> Option<&Host<'static>> {
        self.hello.and(self.hello_host.as_ref())
    }

    /// The authenticated identity after a successful AUTH: the user name of PLAIN or
    /// LOGIN, or what [`ServerSession::accept_auth`] gave.
    pub fn authenticated_as(&self) -> Option<&str> {
        if self.authenticated { self.identity.as_deref() } else { None }
    }

    /// True while a decision is owed.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Octets received but not processed yet.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// The TLS handshake after STARTTLS succeeded: everything learned before it is
    /// forgotten (RFC 3207 section 4.2) and the client must send EHLO again.
    pub fn tls_established(&mut self) {
        if !matches!(self.phase, Phase::StartTls) || self.closed {
            return;
        }
        self.phase = Phase::Command;
        self.tls = true;
        self.hello = None;
        self.hello_host = None;
        self.authenticated = false;
        self.identity = None;
        self.errors = 0;
        self.framer = LineFramer::new(self.config.max_line);
        self.reset_transaction();
    }

    /// Answers the owed decision positively, with the session's default reply.
    pub fn accept(&mut self) {
        let enhanced = self.config.enhanced_status_codes;
        let reply = match &self.pending {
            None => return,
            Some(Pending::Hello(verb, _)) => self.hello_reply(*verb),
            Some(Pending::Mail { .. }) => replies::SENDER_OK.build(enhanced),
            Some(Pending::Rcpt) => replies::RECIPIENT_OK.build(enhanced),
            Some(Pending::MessageStart { bdat: None, .. }) => replies::START_DATA.build(enhanced),
            // Nothing is said before a BDAT chunk is read: this reply is not sent.
            Some(Pending::MessageStart { bdat: Some(_), .. }) => replies::OK.build(enhanced),
            Some(Pending::MessageEnd { remaining, .. }) => {
                let reply = replies::QUEUED.build(enhanced);
                for _ in 1..*remaining {
                    reply.encode(&mut self.outbox);
                }
                reply
            }
            Some(Pending::Auth | Pending::AuthStep { .. }) => replies::AUTH_OK.build(enhanced),
            Some(Pending::Vrfy) => replies::CANNOT_VRFY.build(enhanced),
        };
        if let Some(Pending::MessageEnd { remaining, .. }) = &mut self.pending {
            *remaining = 1;
        }
        self.respond(reply);
    }

    /// Answers the owed decision negatively. `reply` should be 4xx or 5xx.
    pub fn reject(&mut self, reply: Reply<'static>) {
        debug_assert!(reply.code().is_negative(), "reject() with a positive reply");
        self.respond(reply);
    }

    /// Accepts the owed AUTH ([`ServerEvent::Auth`] or [`ServerEvent::AuthStep`]) as
    /// `identity` ("235 2.7.0"); [`ServerSession::authenticated_as`] tells it from now
    /// on. Does nothing when no AUTH decision is owed.
    pub fn accept_auth(&mut self, identity: impl Into<String>) {
        if matches!(self.pending, Some(Pending::Auth | Pending::AuthStep { .. })) {
            self.identity = Some(identity.into());
            self.accept();
        }
    }

    /// Refuses the owed AUTH with "535 5.7.8 Authentication credentials invalid".
    pub fn reject_auth(&mut self) {
        let reply = self.canned(replies::AUTH_FAILED);
        self.reject(reply);
    }

    /// Answers the owed decision with `reply`; its code decides the effect (2xx accepts,
    /// 354 starts the data for [`ServerEvent::MessageStart`] of DATA, 4xx/5xx refuse).
    ///
    /// For the [`ServerEvent::MessageStart`] of a BDAT chunk, a positive reply is not
    /// sent (the chunk is read and answered as usual); a refusal is sent once the chunk
    /// has been read to its end, and ends the transaction (RFC 3030 section 2).
    pub fn respond(&mut self, reply: Reply<'static>) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let positive = reply.code().is_positive();
        if let Pending::MessageStart { bdat: Some((size, last)), .. } = pending {
            let refusal = if positive {
                None
            } else {
                self.reset_transaction_quietly();
                Some(Refusal { reply, error: None, protocol_error: false })
            };
            self.phase = Phase::Bdat { reader: BdatReader::new(size), last, refusal };
            return;
        }
        reply.encode(&mut self.outbox);
        match pending {
            Pending::Hello(verb, host) => {
                if positive {
                    self.hello = Some(verb);
                    self.hello_host = Some(host);
                    self.reset_transaction();
                }
            }
            Pending::Mail { smtputf8, body } => {
                if positive {
                    self.transaction =
                        Some(Transaction { smtputf8, body, ..Transaction::default() });
                }
            }
            Pending::Rcpt => {
                if positive && let Some(t) = &mut self.transaction {
                    t.accepted_rcpts += 1;
                }
            }
            Pending::MessageStart { trailing, .. } => {
                if reply.code().is_intermediate() {
                    let unstuffer = DotUnstuffer::new()
                        .bare_line_endings(self.config.bare_line_endings)
                        .nul_octets(self.config.nul_octets)
                        .max_size(self.config.max_message_size);
                    self.phase = Phase::Data(unstuffer);
                } else if trailing && self.config.reject_improper_pipelining {
                    // The client sent on without waiting for 354: what follows is meant
                    // as message data and must not be read as commands.
                    self.close_with(replies::IMPROPER_PIPELINING, CloseReason::ImproperPipelining);
                }
            }
            Pending::MessageEnd { remaining, trailing } => {
                if remaining > 1 {
                    self.pending = Some(Pending::MessageEnd { remaining: remaining - 1, trailing });
                    return;
                }
                self.reset_transaction_quietly();
                if trailing && self.config.reject_improper_pipelining {
                    self.close_with(replies::IMPROPER_PIPELINING, CloseReason::ImproperPipelining);
                }
            }
            Pending::Auth | Pending::AuthStep { .. } => {
                self.phase = Phase::Command;
                self.authenticated = positive;
                if !positive {
                    self.identity = None;
                }
            }
            Pending::Vrfy => {}
        }
    }

    /// Sends a SASL challenge (334) for the owed [`ServerEvent::AuthStep`].
    pub fn auth_challenge(&mut self, challenge: &[u8]) {
        let Some(Pending::AuthStep { mechanism }) = self.pending.take() else {
            return;
        };
        self.outbox.extend_from_slice(b"334 ");
        self.outbox.extend_from_slice(crate::sasl::encode_base64(challenge).as_bytes());
        self.outbox.extend_from_slice(b"\r\n");
        self.phase = Phase::Auth(SaslState::Other { mechanism });
    }

    /// Ends the session with `reply` (for example "421 4.3.2 Shutting down"), whatever
    /// state it is in.
    pub fn close(&mut self, reply: Reply<'static>) {
        if self.closed {
            return;
        }
        self.pending = None;
        reply.encode(&mut self.outbox);
        self.closed = true;
        self.input.clear();
        self.events.push_back(ServerEvent::Closed(CloseReason::Application));
    }

    /// True when PIPELINING was announced and the client greeted with EHLO/LHLO.
    fn pipelining_negotiated(&self) -> bool {
        self.config.pipelining && matches!(self.hello, Some(Verb::Ehlo | Verb::Lhlo))
    }

    fn canned(&self, canned: Canned) -> Reply<'static> {
        canned.build(self.config.enhanced_status_codes)
    }

    fn send(&mut self, canned: Canned) {
        self.canned(canned).encode(&mut self.outbox);
    }

    /// A reply to a protocol error; too many of them close the session.
    fn protocol_error(&mut self, canned: Canned) {
        self.send(canned);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close_with(replies::TOO_MANY_ERRORS, CloseReason::TooManyErrors);
        }
    }

    fn close_with(&mut self, canned: Canned, reason: CloseReason) {
        self.send(canned);
        self.closed = true;
        self.pending = None;
        self.input.clear();
        self.events.push_back(ServerEvent::Closed(reason));
    }

    /// Forgets the transaction and tells the application.
    fn reset_transaction(&mut self) {
        if self.transaction.take().is_some() {
            self.events.push_back(ServerEvent::Reset);
        }
    }

    /// Forgets a finished transaction (the application knows it ended).
    fn reset_transaction_quietly(&mut self) {
        self.transaction = None;
    }

    /// One step of work. False when nothing can be done now.
    fn progress(&mut self) -> bool {
        if self.closed || self.pending.is_some() {
            return false;
        }
        match &mut self.phase {
            Phase::Command => self.read_command(),
            Phase::Data(unstuffer) => match unstuffer.decode(&mut self.input) {
                None => false,
                Some(DataStep::Chunk(bytes)) => {
                    self.events.push_back(ServerEvent::MessageChunk(bytes));
                    true
                }
                Some(DataStep::End(result)) => {
                    self.phase = Phase::Command;
                    self.message_end(result);
                    true
                }
            },
            Phase::Bdat { .. } => self.read_bdat(),
            Phase::Auth(_) => self.read_sasl_line(),
            Phase::StartTls => {
                if self.input.is_empty() {
                    return false;
                }
                // Plaintext arrived where the handshake should be.
                let trailing = self.input.len();
                self.close_with(
                    replies::STARTTLS_INJECTION,
                    CloseReason::StartTlsInjection { trailing },
                );
                true
            }
        }
    }

    /// End of a DATA body or of the last BDAT chunk.
    fn message_end(&mut self, result: Result<u64, DataError>) {
        // Bytes already here after the end of data were sent without waiting for the
        // reply: fine with PIPELINING, improper without.
        let trailing = !self.input.is_empty() && !self.pipelining_negotiated();
        match result {
            Ok(size) => {
                let replies = if self.config.lmtp {
                    self.transaction.as_ref().map_or(1, |t| t.accepted_rcpts.max(1))
                } else {
                    1
                };
                self.pending = Some(Pending::MessageEnd { remaining: replies, trailing });
                self.events.push_back(ServerEvent::MessageEnd { size, replies });
            }
            Err(error) => {
                let canned = match error {
                    DataError::TooLarge { .. } => replies::TOO_BIG,
                    DataError::Nul { .. } => replies::NUL_IN_DATA,
                    _ => replies::BARE_IN_DATA,
                };
                let count = if self.config.lmtp {
                    self.transaction.as_ref().map_or(1, |t| t.accepted_rcpts.max(1))
                } else {
                    1
                };
                for _ in 0..count {
                    self.send(canned);
                }
                self.reset_transaction_quietly();
                self.events.push_back(ServerEvent::MessageRejected(error));
                if trailing && self.config.reject_improper_pipelining {
                    self.close_with(replies::IMPROPER_PIPELINING, CloseReason::ImproperPipelining);
                }
            }
        }
    }

    /// Reads BDAT chunk octets.
    fn read_bdat(&mut self) -> bool {
        let Phase::Bdat { reader, last, refusal } = &mut self.phase else {
            return false;
        };
        if let Some(mut bytes) = reader.read(&mut self.input) {
            if refusal.is_none() {
                if let Some(t) = &mut self.transaction {
                    // A text message is the same whether it came by DATA or by BDAT: no
                    // NUL (RFC 5321 section 2.3.8), else a next hop that drops NULs could
                    // see what we never saw. BINARYMIME may hold any octet.
                    if t.body != Some(BodyType::BinaryMime)
                        && let Some(at) = memchr::memchr(0, &bytes)
                    {
                        match self.config.nul_octets {
                            NulOctets::Reject => {
                                t.bdat_nul = t.bdat_nul.or(Some(t.bdat_size + at as u64));
                            }
                            NulOctets::Strip => {
                                bytes = bytes.iter().copied().filter(|&b| b != 0).collect();
                            }
                        }
                    }
                    t.bdat_size += bytes.len() as u64;
                }
                // A chunk of nothing but stripped NULs adds no content (and a
                // `MessageChunk` is never empty).
                if !bytes.is_empty() {
                    self.events.push_back(ServerEvent::MessageChunk(bytes));
                }
            }
            return true;
        }
        if !reader.is_done() {
            return false;
        }
        let (last, refusal) = (*last, refusal.take());
        self.phase = Phase::Command;
        match refusal {
            Some(Refusal { reply, error, protocol_error }) => {
                reply.encode(&mut self.outbox);
                if let Some(error) = error {
                    self.reset_transaction_quietly();
                    self.events.push_back(ServerEvent::MessageRejected(error));
                }
                if protocol_error {
                    self.errors += 1;
                    if self.errors >= self.config.max_errors {
                        self.close_with(replies::TOO_MANY_ERRORS, CloseReason::TooManyErrors);
                    }
                }
            }
            None if last => {
                let (size, nul) =
                    self.transaction.as_ref().map_or((0, None), |t| (t.bdat_size, t.bdat_nul));
                match nul {
                    Some(offset) => self.message_end(Err(DataError::Nul { offset })),
                    None => self.message_end(Ok(size)),
                }
            }
            None => {
                let size = self.transaction.as_ref().map_or(0, |t| t.bdat_size);
                let text = format!("{size} octets received");
                let reply =
                    if self.config.enhanced_status_codes { format!("2.0.0 {text}") } else { text };
                if let Ok(reply) = Reply::new(250, reply) {
                    reply.encode(&mut self.outbox);
                }
            }
        }
        true
    }

    /// Cuts the next line off the input: `Some(Ok(line))`, `Some(Err(()))` after an
    /// overlong line was dropped, `None` when more input is needed.
    fn next_line(&mut self) -> Option<Result<Bytes, ()>> {
        loop {
            match self.framer.next_line(&self.input) {
                Frame::Line { len } => return Some(Ok(self.input.split_to(len).freeze())),
                Frame::Overlong { len, ended } => {
                    self.input.advance(len);
                    if ended {
                        return Some(Err(()));
                    }
                }
                Frame::Incomplete => return None,
            }
        }
    }

    /// Reads and handles one SASL response line.
    fn read_sasl_line(&mut self) -> bool {
        self.framer.set_limit(SASL_LINE_LIMIT);
        let line = self.next_line();
        self.framer.set_limit(self.config.max_line);
        let Some(line) = line else {
            return false;
        };
        let Phase::Auth(state) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return false;
        };
        let Ok(line) = line else {
            self.protocol_error(replies::LINE_TOO_LONG);
            return true;
        };
        let text = &line[..line.len() - 2];
        if text == b"*" {
            self.protocol_error(replies::AUTH_CANCELLED);
            return true;
        }
        let Ok(decoded) = crate::sasl::decode_base64(text) else {
            self.protocol_error(replies::BAD_BASE64);
            return true;
        };
        self.sasl_response(state, decoded);
        true
    }
}

impl Session for ServerSession {
    type Event = ServerEvent;

    fn handle_input(&mut self, bytes: &[u8]) {
        ServerSession::handle_input(self, bytes);
    }

    fn handle_eof(&mut self) {
        ServerSession::handle_eof(self);
    }

    fn poll_event(&mut self) -> Option<ServerEvent> {
        ServerSession::poll_event(self)
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        ServerSession::poll_transmit(self)
    }

    fn is_closed(&self) -> bool {
        ServerSession::is_closed(self)
    }

    fn phase(&self) -> SessionPhase {
        ServerSession::phase(self)
    }

    fn is_awaiting_tls(&self) -> bool {
        ServerSession::is_awaiting_tls(self)
    }

    fn buffered(&self) -> usize {
        ServerSession::buffered(self)
    }

    fn is_tls(&self) -> bool {
        ServerSession::is_tls(self)
    }

    fn tls_established(&mut self) {
        ServerSession::tls_established(self);
    }
}
