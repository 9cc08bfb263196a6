//! `sealpost-server` in-process with an in-memory handler and the test PKI.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sealpost_codec::sasl::Credentials;
use sealpost_codec::{ForwardPath, Mechanism, RcptParameters};
use sealpost_server::{
    BoundServer, Envelope, Handler, ListenerConfig, MessageSink, Role, ServerSettings, SessionInfo,
    Verdict,
};
use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, TlsServer};
use tokio::sync::oneshot;

use super::pki;

/// A message as the handler stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub envelope: Envelope,
    pub content: Vec<u8>,
    pub tls: bool,
    pub user: Option<String>,
}

/// Accepts RCPTs for `mail.test` (and anything once authenticated) and stores messages.
/// `commit_verdicts` answers the end of data per recipient address (LMTP: one verdict per
/// accepted recipient, in order); recipients not in it are accepted.
#[derive(Default)]
pub struct MemoryHandler {
    pub stored: Arc<Mutex<Vec<Stored>>>,
    pub commit_verdicts: HashMap<String, Verdict>,
}

impl MemoryHandler {
    /// A handler whose commit answers `recipient` with `verdict`.
    pub fn commit_verdict(mut self, recipient: &str, verdict: Verdict) -> Self {
        self.commit_verdicts.insert(recipient.to_owned(), verdict);
        self
    }
}

pub struct MemorySink {
    stored: Arc<Mutex<Vec<Stored>>>,
    message: Stored,
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
        let verdicts = envelope
            .recipients
            .iter()
            .map(|(path, _)| {
                let address = path.mailbox().map(ToString::to_string).unwrap_or_default();
                self.commit_verdicts.get(&address).cloned().unwrap_or(Verdict::Accept)
            })
            .collect();
        Ok(MemorySink {
            stored: self.stored.clone(),
            verdicts,
            message: Stored {
                envelope: envelope.clone(),
                content: Vec::new(),
                tls: info.tls.is_some(),
                user: info.user.clone(),
            },
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
}

pub fn tls_server() -> TlsServer {
    let files = CertificateFiles::new(pki("server-chain.pem"), pki("server-key.pem"));
    let store = Arc::new(CertStore::load(files, vec![]).unwrap());
    TlsServer::new(store, ClientAuth::Off).unwrap()
}

pub struct Running {
    pub addrs: Vec<(Role, SocketAddr)>,
    pub stored: Arc<Mutex<Vec<Stored>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn addr(&self, role: Role) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub fn stored(&self) -> Vec<Stored> {
        self.stored.lock().unwrap().clone()
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Starts MX, submission and submissions listeners on free loopback ports.
pub async fn start(settings: ServerSettings) -> Running {
    start_with(settings, MemoryHandler::default()).await
}

/// [`start`] with a handler of the test's own.
pub async fn start_with(settings: ServerSettings, handler: MemoryHandler) -> Running {
    let handler = Arc::new(handler);
    let stored = handler.stored.clone();
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listeners = vec![
        ListenerConfig::new(local, Role::Mx, Some(tls_server())),
        ListenerConfig::new(local, Role::Submission, Some(tls_server())),
        ListenerConfig::new(local, Role::Submissions, Some(tls_server())),
    ];
    let server = BoundServer::bind(handler, settings, listeners).await.unwrap();
    let addrs = server.local_addrs();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running { addrs, stored, stop: Some(tx), task }
}
