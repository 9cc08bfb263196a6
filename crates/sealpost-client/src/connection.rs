//! One SMTP or LMTP connection: the codec's `ClientSession` driven by the shared loop of
//! `sealpost_starttls::driver` over a plaintext or TLS stream (on TCP, or a Unix-domain
//! socket for LMTP), with the TLS policy applied at STARTTLS. What is left here is the
//! delivery's side of the conversation: which command when, and what its outcome means.

use std::net::SocketAddr;
use std::time::Duration;

use sealpost_codec::client::{ClientError, ClientEvent, ClientSession, TransactionResult};
use sealpost_codec::{
    BodyType, Capability, ClientConfig, EhloResponse, MailParameter, MailParameters, Mechanism,
    SessionPhase,
};
use sealpost_starttls::client::{OutboundTls, SecurityLevel, TlsClient, Trust};
use sealpost_starttls::driver::{Deadlines, DriveError, SessionDriver, Wake};
use sealpost_starttls::tlsrpt::ResultType;
use sealpost_starttls::{MaybeTls, TlsError};

use crate::config::{DeliveryConfig, Phase, Timeouts};
use crate::error::DeliveryError;
use crate::message::Message;
use crate::transport::{ServerAddr, Transport, connect};

/// Content is handed to the session in blocks of this size (one BDAT chunk each).
const BLOCK: usize = 256 * 1024;

/// An open SMTP (or LMTP) session, greeted, under TLS if the policy wanted it,
/// authenticated if credentials were given (SMTP only), and ready for messages.
pub struct Connection {
    io: SessionDriver<ClientSession, Transport, Timeouts>,
    config: DeliveryConfig,
    host: String,
    addr: ServerAddr,
    tls: OutboundTls,
    /// The level of the TLS client in use, and whether it forbids going on in clear.
    level: SecurityLevel,
    requires_tls: bool,
}

/// The step of a delivery a session phase belongs to.
fn phase_of(phase: SessionPhase) -> Phase {
    match phase {
        SessionPhase::Greeting => Phase::Greeting,
        SessionPhase::Envelope => Phase::Envelope,
        SessionPhase::Data => Phase::Data,
        SessionPhase::DataEnd => Phase::DataEnd,
        SessionPhase::TlsHandshake => Phase::Handshake,
        SessionPhase::Quit => Phase::Quit,
        _ => Phase::Command,
    }
}

/// The deadlines of RFC 5321 section 4.5.3.2, per step of the delivery.
impl Deadlines for Timeouts {
    fn read(&self, phase: SessionPhase) -> Duration {
        self.of(phase_of(phase))
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("ready", &self.io.session().is_ready())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `addr` (the host named `host`), reads the greeting, says EHLO, runs
    /// STARTTLS as `tls` demands and authenticates.
    ///
    /// `starttls` is false only for the `may` retry in clear after a failed handshake.
    pub async fn open(
        addr: SocketAddr,
        host: &str,
        config: &DeliveryConfig,
        tls: &TlsClient,
        starttls: bool,
    ) -> Result<Connection, DeliveryError> {
        Self::open_at(ServerAddr::Tcp(addr), host, config, Some(tls), starttls, false).await
    }

    /// Connects to the LMTP server (RFC 2033) at `addr`, reads the greeting and says LHLO
    /// (a refused LHLO is [`DeliveryError::Refused`]: LMTP has no HELO to fall back to).
    /// `host` names the server in the [`Connection::host`] and, over TCP, is the name its
    /// certificate is checked against.
    ///
    /// Over TCP, `tls` applies as in [`Connection::open`] (STARTTLS when offered at level
    /// `may`, required at the levels that require it; implicit TLS when the configuration
    /// says so); `None` means plaintext. A Unix-domain socket is never under TLS: `tls` is
    /// not used, and the [`Connection::tls`] report says level `none`. No AUTH: the
    /// configured credentials are not used.
    pub async fn open_lmtp(
        addr: &ServerAddr,
        host: &str,
        config: &DeliveryConfig,
        tls: Option<&TlsClient>,
    ) -> Result<Connection, DeliveryError> {
        Self::open_at(addr.clone(), host, config, tls, true, true).await
    }

    /// Connects, greets (EHLO or LHLO), applies `tls` (none on Unix sockets) and, for SMTP,
    /// authenticates.
    pub(crate) async fn open_at(
        addr: ServerAddr,
        host: &str,
        config: &DeliveryConfig,
        tls: Option<&TlsClient>,
        starttls: bool,
        lmtp: bool,
    ) -> Result<Connection, DeliveryError> {
        let timeouts = config.timeouts;
        let transport = match tokio::time::timeout(timeouts.connect, connect(&addr)).await {
            Err(_) => {
                return Err(DeliveryError::Timeout {
                    phase: Phase::Connect,
                    after: timeouts.connect,
                });
            }
            Ok(Err(error)) => {
                return Err(DeliveryError::Connect { addr: addr.to_string(), error });
            }
            Ok(Ok(transport)) => transport,
        };
        // A Unix-domain socket does not leave the machine: TLS has nothing to protect.
        let tls = tls.filter(|_| matches!(addr, ServerAddr::Tcp(_)));
        let mut session_config = ClientConfig::new(config.helo_name.clone());
        session_config.pipelining = config.pipelining;
        session_config.chunking = config.chunking;
        session_config.lmtp = lmtp;
        let level = tls.map_or(SecurityLevel::None, TlsClient::level);
        let (stream, session, report) = match tls {
            Some(tls) if config.implicit_tls => {
                let (stream, report) = tls.connect(transport, host).await.map_err(|e| match e {
                    TlsError::NotTls => DeliveryError::TlsModeMismatch(format!(
                        "{addr} answered in plaintext to implicit TLS: it is not an implicit-TLS \
                         port; connect without implicit TLS (STARTTLS)"
                    )),
                    error => DeliveryError::Tls { host: host.to_owned(), error },
                })?;
                (MaybeTls::from(stream), ClientSession::with_tls(session_config, true), report)
            }
            _ => {
                let detail = match addr {
                    ServerAddr::Unix(_) => "a Unix-domain socket: TLS does not apply",
                    ServerAddr::Tcp(_) => "",
                };
                let report = OutboundTls::plaintext(level, None, detail);
                (MaybeTls::Plain(transport), ClientSession::new(session_config), report)
            }
        };
        let mut conn = Connection {
            io: SessionDriver::new(session, stream, config.timeouts),
            config: config.clone(),
            host: host.to_owned(),
            addr,
            tls: report,
            level,
            requires_tls: tls.is_some_and(TlsClient::requires_tls),
        };
        let ehlo = conn.ready(Phase::Greeting).await?;
        if let Some(tls) = tls {
            let wants_tls = level.uses_tls() || tls.requires_tls();
            if !conn.io.session().is_tls() && wants_tls && starttls {
                conn.starttls(ehlo.as_ref(), tls).await?;
            } else if !conn.io.session().is_tls() && wants_tls {
                conn.tls = OutboundTls::plaintext(
                    level,
                    Some(ResultType::ValidationFailure),
                    "the TLS handshake failed on an earlier connection; delivered in clear",
                );
            }
        }
        if config.credentials.is_some() && !lmtp {
            conn.authenticate().await?;
        }
        Ok(conn)
    }

    /// The TLS of this connection.
    pub fn tls(&self) -> &OutboundTls {
        &self.tls
    }

    /// The host name this connection was made to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server address: TCP, or a Unix-domain socket (LMTP).
    pub fn addr(&self) -> &ServerAddr {
        &self.addr
    }

    /// The capabilities of the last EHLO (under TLS: those announced under TLS).
    pub fn capabilities(&self) -> Option<&EhloResponse<'static>> {
        self.io.session().capabilities()
    }

    /// True when the session takes another message.
    pub fn is_ready(&self) -> bool {
        self.io.session().is_ready()
    }

    async fn starttls(
        &mut self,
        ehlo: Option<&EhloResponse<'static>>,
        tls: &TlsClient,
    ) -> Result<(), DeliveryError> {
        let offered = ehlo.is_some_and(|e| e.has(&Capability::StartTls));
        if !offered {
            let reason = if ehlo.is_none() {
                "the server refused EHLO and took only HELO (no STARTTLS)"
            } else {
                "the server does not offer STARTTLS"
            };
            return self.without_tls(reason.to_owned()).await;
        }
        self.io.session_mut().start_tls()?;
        match self.next_event(Phase::Command).await? {
            ClientEvent::StartTls => {}
            ClientEvent::StartTlsRefused(reply) => {
                return self.without_tls(format!("the server refused STARTTLS: {reply}")).await;
            }
            ClientEvent::Closed(result) => return Err(self.closed(result, Phase::Command)),
            other => return Err(unexpected(other)),
        }
        // The session refused any byte after the 220 (response injection) before it
        // reported StartTls; the loop hands the count of unread bytes (zero) to the
        // upgrade, which would refuse any.
        let host = self.host.clone();
        let upgrade = |plain, buffered| async move { tls.upgrade(plain, buffered, &host).await };
        match self.io.start_tls(upgrade).await {
            Ok(Ok(report)) => self.tls = report,
            Ok(Err(error)) => return Err(DeliveryError::Tls { host: self.host.clone(), error }),
            Err(error) => return Err(self.drive_error(error, Phase::Handshake)),
        }
        // RFC 3207 section 4.2: everything learned before TLS is forgotten; EHLO again.
        self.ready(Phase::Command).await?;
        Ok(())
    }

    /// STARTTLS is not possible: abort at levels that require TLS, else go on in clear.
    async fn without_tls(&mut self, reason: String) -> Result<(), DeliveryError> {
        let level = self.level;
        if self.requires_tls {
            self.quit_quietly().await;
            return Err(DeliveryError::TlsRequired {
                level,
                result_type: ResultType::StarttlsNotSupported,
                reason,
            });
        }
        tracing::info!(host = %self.host, %reason, "delivering without TLS (level may)");
        self.tls = OutboundTls::plaintext(level, Some(ResultType::StarttlsNotSupported), reason);
        Ok(())
    }

    async fn authenticate(&mut self) -> Result<(), DeliveryError> {
        let Some(credentials) = self.config.credentials.clone() else { return Ok(()) };
        if !self.io.session().is_tls() {
            self.quit_quietly().await;
            return Err(DeliveryError::AuthUnavailable(
                "the connection is not under TLS and credentials are never sent in clear".into(),
            ));
        }
        let ehlo = self.io.session().capabilities();
        let offers = |name: &str| ehlo.is_some_and(|e| e.auth_mechanisms().any(|m| m.is(name)));
        let (plain, login) = (offers("PLAIN"), offers("LOGIN"));
        let mechanism = if plain {
            Mechanism::PLAIN
        } else if login {
            Mechanism::LOGIN
        } else {
            self.quit_quietly().await;
            return Err(DeliveryError::AuthUnavailable(
                "the server does not offer AUTH PLAIN or LOGIN under TLS".into(),
            ));
        };
        self.io.session_mut().authenticate(
            &mechanism,
            &credentials.username,
            credentials.password.expose(),
        )?;
        match self.next_event(Phase::Command).await? {
            ClientEvent::Authenticated => Ok(()),
            ClientEvent::AuthFailed(reply) => {
                self.quit_quietly().await;
                Err(DeliveryError::AuthFailed(reply))
            }
            ClientEvent::Closed(result) => Err(self.closed(result, Phase::Command)),
            other => Err(unexpected(other)),
        }
    }

    /// Sends one message; the result has a reply per recipient.
    pub async fn send(&mut self, message: &Message) -> Result<TransactionResult, DeliveryError> {
        let envelope = self.prepare(message)?;
        self.io.session_mut().send_mail(envelope)?;
        let mut phase = Phase::Envelope;
        loop {
            match self.next_event(phase).await? {
                ClientEvent::SendBody => {
                    let content = &message.content;
                    let mut blocks = content.chunks(BLOCK).peekable();
                    if blocks.peek().is_none() {
                        self.io.session_mut().send_body(&[], true)?;
                    }
                    while let Some(block) = blocks.next() {
                        self.io.session_mut().send_body(block, blocks.peek().is_none())?;
                        self.flush(Phase::Data).await?;
                    }
                    phase = Phase::DataEnd;
                }
                ClientEvent::TransactionDone(result) => return Ok(result),
                ClientEvent::Closed(result) => return Err(self.closed(result, phase)),
                other => return Err(unexpected(other)),
            }
        }
    }

    /// The envelope as sent: REQUIRETLS checked against the session, SIZE and BODY added.
    fn prepare(
        &self,
        message: &Message,
    ) -> Result<sealpost_codec::client::Envelope, DeliveryError> {
        let mut envelope = message.envelope.clone();
        let params = &envelope.parameters;
        // RFC 8689 section 4.2.1: REQUIRETLS needs TLS with a verified certificate (and the
        // server's REQUIRETLS, which the session checks).
        if params.requiretls() && self.tls.trust != Trust::Verified {
            return Err(DeliveryError::RequireTls(format!(
                "the session is {} (level {}); it needs a verified certificate (level \
                 fingerprint, verify or secure)",
                self.tls.trust, self.tls.level
            )));
        }
        let ehlo = self.io.session().capabilities();
        let offers = |c: &Capability<'_>| ehlo.is_some_and(|e| e.has(c));
        let mut extra = Vec::new();
        let size = message.content.len() as u64;
        if let Some(limit) = ehlo.and_then(EhloResponse::size)
            && limit > 0
            && size > limit
        {
            return Err(ClientError::MessageTooLarge { size, limit }.into());
        }
        if params.size().is_none() && offers(&Capability::Size(None)) {
            extra.push(MailParameter::Size(size));
        }
        // A NUL in a text message would end the session in the middle of its data (see
        // `ClientConfig::nul_octets`): refused here instead, before MAIL, so the
        // connection stays usable for the next message.
        if params.body() != Some(BodyType::BinaryMime)
            && let Some(at) = memchr::memchr(0, &message.content)
        {
            return Err(ClientError::NulInContent { offset: at as u64 }.into());
        }
        let eight_bit = !message.content.is_ascii();
        if eight_bit && params.body().is_none() {
            if offers(&Capability::EightBitMime) {
                extra.push(MailParameter::Body(BodyType::EightBitMime));
            } else {
                return Err(DeliveryError::Content(
                    "it has 8-bit octets and the server does not offer 8BITMIME".into(),
                ));
            }
        }
        if !extra.is_empty() {
            let all: Vec<_> = params.iter().cloned().chain(extra).collect();
            envelope.parameters = MailParameters::from_vec(all)
                .map_err(|e| DeliveryError::Content(format!("MAIL parameters: {e}")))?;
        }
        Ok(envelope)
    }

    /// QUIT, waiting briefly for the reply.
    pub async fn quit(mut self) {
        self.quit_quietly().await;
    }

    async fn quit_quietly(&mut self) {
        self.io.session_mut().quit();
        let deadline = self.config.timeouts.quit;
        let _ = tokio::time::timeout(deadline, async {
            while !matches!(self.next_event(Phase::Quit).await, Ok(ClientEvent::Closed(_)) | Err(_))
            {
            }
        })
        .await;
        self.io.shutdown(Duration::from_secs(1)).await;
    }

    /// What a failure of the loop means for the delivery. `phase` is the step the caller
    /// was in.
    fn drive_error(&self, error: DriveError, phase: Phase) -> DeliveryError {
        match error {
            DriveError::WriteTimeout(after, phase) => {
                DeliveryError::Timeout { phase: phase_of(phase), after }
            }
            // A TLS alert after the handshake (TLS 1.3 servers refuse a client
            // certificate only then) is a TLS failure, not a network one.
            DriveError::Io(error)
                if error.get_ref().is_some_and(|e| e.is::<sealpost_starttls::rustls::Error>()) =>
            {
                DeliveryError::Tls { host: self.host.clone(), error: TlsError::Handshake(error) }
            }
            DriveError::Io(error) => DeliveryError::Io { phase, error },
            _ => DeliveryError::Closed(phase),
        }
    }

    /// Writes what the session has to send.
    async fn flush(&mut self, phase: Phase) -> Result<(), DeliveryError> {
        match self.io.flush().await {
            Ok(_) => Ok(()),
            Err(error) => Err(self.drive_error(error, phase)),
        }
    }

    /// The next event of the session, reading as needed within the deadline of the
    /// session's phase. `phase` names the caller's step in errors.
    async fn next_event(&mut self, phase: Phase) -> Result<ClientEvent, DeliveryError> {
        loop {
            let wake = match self.io.next_event().await {
                Ok(wake) => wake,
                Err(error) => return Err(self.drive_error(error, phase)),
            };
            match wake {
                Wake::Event(event) => {
                    self.flush(phase).await?;
                    return Ok(event);
                }
                Wake::TimedOut(SessionPhase::Greeting) if !self.io.session().is_tls() => {
                    return Err(DeliveryError::NoGreeting(self.config.timeouts.greeting));
                }
                Wake::TimedOut(waited) => {
                    let waited = phase_of(waited);
                    let after = self.config.timeouts.of(waited);
                    return Err(DeliveryError::Timeout { phase: waited, after });
                }
                Wake::Closed => return Err(DeliveryError::Closed(phase)),
                // Nothing interrupts a client's wait.
                _ => {}
            }
        }
    }

    /// Waits for the session to be ready (after the greeting and EHLO/HELO).
    async fn ready(
        &mut self,
        first: Phase,
    ) -> Result<Option<EhloResponse<'static>>, DeliveryError> {
        let mut phase = first;
        loop {
            match self.next_event(phase).await? {
                ClientEvent::Greeting(_) => phase = Phase::Command,
                ClientEvent::Ready { ehlo } => return Ok(ehlo),
                ClientEvent::Closed(result) => return Err(self.closed(result, phase)),
                other => return Err(unexpected(other)),
            }
        }
    }

    fn closed(&mut self, result: Result<(), ClientError>, phase: Phase) -> DeliveryError {
        self.io.drop_stream();
        match result {
            Ok(()) | Err(ClientError::ConnectionClosed) => DeliveryError::Closed(phase),
            Err(ClientError::UnexpectedReply { context, reply }) => {
                DeliveryError::Refused { context, reply }
            }
            Err(ClientError::TlsBeforeGreeting) => DeliveryError::TlsModeMismatch(format!(
                "{} speaks TLS before any greeting: it is an implicit-TLS port; connect with \
                 implicit TLS",
                self.addr
            )),
            Err(e) => DeliveryError::Protocol(e),
        }
    }
}

fn unexpected(event: ClientEvent) -> DeliveryError {
    DeliveryError::Protocol(ClientError::InvalidState(match event {
        ClientEvent::Reply(_) => "an unexpected RSET/NOOP reply",
        _ => "an unexpected session event",
    }))
}
