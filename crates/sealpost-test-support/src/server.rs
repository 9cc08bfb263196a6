//! `sealpost-server` in-process: an in-memory [`Handler`] that
//! keeps what it accepts, and a server on free loopback ports (MX, submission,
//! submissions) with the test PKI.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sealpost_codec::sasl::Credentials;
use sealpost_codec::{ForwardPath, Host, Mechanism, RcptParameters};
use sealpost_server::{
    AuthExchange, AuthStep, BoundServer, Envelope, Handler, ListenerConfig, MessageSink, Role,
    ServerSettings, SessionInfo, SessionSummary, Verdict,
};
use sealpost_starttls::ClientAuth;
use tokio::sync::oneshot;

use crate::pki::tls_server;

/// A message as the handler stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its envelope.
    pub envelope: Envelope,
    /// Recipients of the transaction.
    pub recipients: usize,
    /// The message as the driver handed it over.
    pub content: Vec<u8>,
    /// Whether the session was under TLS.
    pub tls: bool,
    /// The session's AUTH identity.
    pub user: Option<String>,
}

/// Accepts mail for `mail.test` (and anything from an authenticated user, alice/secret),
/// keeps every message, and answers the end of data per recipient as told.
#[derive(Default)]
pub struct MemoryHandler {
    /// The messages accepted.
    pub stored: Arc<Mutex<Vec<Stored>>>,
    /// The end-of-data verdict per recipient address (LMTP: one per recipient); the
    /// recipients not in it are accepted.
    pub commit_verdicts: HashMap<String, Verdict>,
    /// What each accepted EHLO/HELO saw of its session.
    pub sessions: Arc<Mutex<Vec<SessionInfo>>>,
    /// The summaries of the sessions that ended.
    pub summaries: Arc<Mutex<Vec<SessionSummary>>>,
    /// Offer and complete [`TWO_STEP`] (user name, then password, each after a
    /// challenge) besides PLAIN and LOGIN.
    pub two_step_auth: bool,
    /// The answer to VRFY; `None` keeps the handler's default.
    pub vrfy: Option<Verdict>,
    /// What becomes of the Received header.
    pub received: ReceivedHeader,
}

/// A SASL mechanism of the tests, in two challenges: "User?" (the response is the user
/// name), "Password?" (the response is the password).
pub const TWO_STEP: &str = "X-TWO-STEP";

/// What [`MemoryHandler`] does with the Received header the server built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceivedHeader {
    /// Keeps it.
    #[default]
    Keep,
    /// Puts this one instead.
    Replace(String),
    /// Adds none.
    Omit,
}

impl MemoryHandler {
    /// A handler whose commit answers `recipient` with `verdict`.
    #[must_use]
    pub fn commit_verdict(mut self, recipient: &str, verdict: Verdict) -> Self {
        self.commit_verdicts.insert(recipient.to_owned(), verdict);
        self
    }
}

/// The sink of [`MemoryHandler`].
pub struct MemorySink {
    message: Stored,
    stored: Arc<Mutex<Vec<Stored>>>,
    verdicts: Vec<Verdict>,
}

impl MessageSink for MemorySink {
    async fn write(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.message.content.extend_from_slice(&chunk);
        Ok(())
    }
    async fn commit(self) -> Vec<Verdict> {
        self.stored.lock().unwrap().push(self.message);
        self.verdicts
    }
    async fn abort(self) {}
}

impl Handler for MemoryHandler {
    type Sink = MemorySink;

    async fn hello(&self, info: &SessionInfo, _host: &Host<'_>) -> Verdict {
        self.sessions.lock().unwrap().push(info.clone());
        Verdict::Accept
    }

    fn session_ended(&self, summary: &SessionSummary) {
        self.summaries.lock().unwrap().push(summary.clone());
    }

    async fn rcpt(
        &self,
        info: &SessionInfo,
        _envelope: &Envelope,
        forward_path: &ForwardPath<'_>,
        _parameters: &RcptParameters<'_>,
    ) -> Verdict {
        let local = forward_path.mailbox().is_some_and(|m| m.domain().to_string() == "mail.test");
        if local || info.user.is_some() {
            Verdict::Accept
        } else {
            Verdict::reject(550, (5, 7, 1), "Relaying denied")
        }
    }

    async fn open_message(
        &self,
        info: &SessionInfo,
        envelope: &Envelope,
    ) -> Result<MemorySink, Verdict> {
        let verdict = |path: &ForwardPath<'_>| {
            let address = path.mailbox().map(ToString::to_string).unwrap_or_default();
            self.commit_verdicts.get(&address).cloned().unwrap_or(Verdict::Accept)
        };
        Ok(MemorySink {
            message: Stored {
                envelope: envelope.clone(),
                recipients: envelope.recipients.len(),
                content: Vec::new(),
                tls: info.tls.is_some(),
                user: info.user.clone(),
            },
            stored: self.stored.clone(),
            verdicts: envelope.recipients.iter().map(|(path, _)| verdict(path)).collect(),
        })
    }

    async fn authenticate(
        &self,
        _info: &SessionInfo,
        _m: &Mechanism<'_>,
        c: &Credentials,
    ) -> Option<String> {
        (c.username == "alice" && c.password.expose() == "secret").then(|| c.username.clone())
    }

    fn auth_mechanisms(&self) -> Vec<Mechanism<'static>> {
        let mut mechanisms = vec![Mechanism::PLAIN, Mechanism::LOGIN];
        if self.two_step_auth {
            mechanisms.extend(Mechanism::new(TWO_STEP).ok());
        }
        mechanisms
    }

    async fn auth_step(
        &self,
        _info: &SessionInfo,
        exchange: &mut AuthExchange,
        response: Option<&[u8]>,
    ) -> AuthStep {
        if !self.two_step_auth || !exchange.mechanism().is(TWO_STEP) {
            return AuthStep::Failure;
        }
        let text = response.map(|r| String::from_utf8_lossy(r).into_owned());
        match (exchange.step(), text) {
            (0, _) => AuthStep::Challenge(b"User?".to_vec()),
            (1, Some(user)) => {
                exchange.set_state(user);
                AuthStep::Challenge(b"Password?".to_vec())
            }
            (2, Some(password)) => match exchange.state::<String>() {
                Some(user) if user == "alice" && password == "secret" => {
                    AuthStep::Success(format!("{user}@two-step"))
                }
                _ => AuthStep::Failure,
            },
            _ => AuthStep::Failure,
        }
    }

    async fn vrfy(&self, _info: &SessionInfo, _argument: &str) -> Verdict {
        self.vrfy.clone().unwrap_or(Verdict::Accept)
    }

    fn received_header(
        &self,
        _info: &SessionInfo,
        _envelope: &Envelope,
        header: String,
    ) -> Option<String> {
        match &self.received {
            ReceivedHeader::Keep => Some(header),
            ReceivedHeader::Replace(other) => Some(other.clone()),
            ReceivedHeader::Omit => None,
        }
    }
}

/// A server started by [`start`] and its kind.
pub struct Running {
    /// The bound addresses.
    pub addrs: Vec<(Role, SocketAddr)>,
    /// What the handler stored.
    pub stored: Arc<Mutex<Vec<Stored>>>,
    /// What each EHLO saw of its session.
    pub sessions: Arc<Mutex<Vec<SessionInfo>>>,
    /// The summaries of ended sessions.
    pub summaries: Arc<Mutex<Vec<SessionSummary>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// What the handler stored so far.
    pub fn stored(&self) -> Vec<Stored> {
        self.stored.lock().unwrap().clone()
    }

    /// The address of the listener of `role`.
    pub fn addr(&self, role: Role) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| *r == role).unwrap().1
    }
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// A server with a [`MemoryHandler`] on all three roles.
pub async fn start(settings: ServerSettings) -> Running {
    start_full(settings, MemoryHandler::default(), |listener| listener).await
}

/// Like [`start`], with this handler (its commit verdicts, say).
pub async fn start_handler(settings: ServerSettings, handler: MemoryHandler) -> Running {
    start_full(settings, handler, |listener| listener).await
}

/// Like [`start`], with each listener adjusted first (a PROXY policy, say).
pub async fn start_with(
    settings: ServerSettings,
    adjust: impl Fn(ListenerConfig) -> ListenerConfig,
) -> Running {
    start_full(settings, MemoryHandler::default(), adjust).await
}

async fn start_full(
    settings: ServerSettings,
    handler: MemoryHandler,
    adjust: impl Fn(ListenerConfig) -> ListenerConfig,
) -> Running {
    let handler = Arc::new(handler);
    let stored = handler.stored.clone();
    let sessions = handler.sessions.clone();
    let summaries = handler.summaries.clone();
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listeners = vec![
        ListenerConfig::new(local, Role::Mx, Some(tls_server(ClientAuth::Off))),
        ListenerConfig::new(local, Role::Submission, Some(tls_server(ClientAuth::Off))),
        ListenerConfig::new(local, Role::Submissions, Some(tls_server(ClientAuth::Off))),
    ];
    let listeners = listeners.into_iter().map(adjust).collect();
    let server = BoundServer::bind(handler, settings, listeners).await.unwrap();
    let addrs = server.local_addrs();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running { addrs, stored, sessions, summaries, stop: Some(tx), task }
}

/// The server settings of the tests: host name `mail.test`.
pub fn settings() -> ServerSettings {
    ServerSettings::new("mail.test")
}
