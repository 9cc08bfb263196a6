//! A loopback harness shared by the server's integration tests: an in-memory handler, a
//! server on free ports with the test PKI, and a scripted client over real sockets.

// Test helpers: a failed unwrap is a failed test; not every test file uses every helper.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sealpost_codec::Host;
use sealpost_codec::sasl::Credentials;
use sealpost_codec::{ForwardPath, Mechanism, RcptParameters, Reply, ReplyDecoder};
use sealpost_server::{
    BoundServer, Envelope, Handler, ListenerConfig, MessageSink, Role, ServerSettings, SessionInfo,
    SessionSummary, Verdict,
};
use sealpost_starttls::rustls::RootCertStore;
use sealpost_starttls::rustls::pki_types::ServerName;
use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, MaybeTls, TlsServer, read_chain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub fn pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki").join(name)
}

/// A message as the handler stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub recipients: usize,
    pub content: Vec<u8>,
}

#[derive(Default)]
pub struct MemoryHandler {
    pub stored: Arc<Mutex<Vec<Stored>>>,
    /// The end-of-data verdict per recipient address (LMTP: one per recipient); the
    /// recipients not in it are accepted.
    pub commit_verdicts: HashMap<String, Verdict>,
    /// What each accepted EHLO/HELO saw of its session.
    pub sessions: Arc<Mutex<Vec<SessionInfo>>>,
    /// The summaries of the sessions that ended.
    pub summaries: Arc<Mutex<Vec<SessionSummary>>>,
}

pub struct MemorySink {
    recipients: usize,
    content: Vec<u8>,
    stored: Arc<Mutex<Vec<Stored>>>,
    verdicts: Vec<Verdict>,
}

impl MessageSink for MemorySink {
    async fn write(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.content.extend_from_slice(&chunk);
        Ok(())
    }
    async fn commit(self) -> Vec<Verdict> {
        self.stored
            .lock()
            .unwrap()
            .push(Stored { recipients: self.recipients, content: self.content });
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
        _info: &SessionInfo,
        envelope: &Envelope,
    ) -> Result<MemorySink, Verdict> {
        let verdict = |path: &ForwardPath<'_>| {
            let address = path.mailbox().map(ToString::to_string).unwrap_or_default();
            self.commit_verdicts.get(&address).cloned().unwrap_or(Verdict::Accept)
        };
        Ok(MemorySink {
            recipients: envelope.recipients.len(),
            content: Vec::new(),
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
}

pub fn tls_server() -> TlsServer {
    let files = CertificateFiles::new(pki("server-chain.pem"), pki("server-key.pem"));
    let store = Arc::new(CertStore::load(files, vec![]).unwrap());
    TlsServer::new(store, ClientAuth::Off).unwrap()
}

pub struct Running {
    pub addrs: Vec<(Role, SocketAddr)>,
    pub stored: Arc<Mutex<Vec<Stored>>>,
    pub sessions: Arc<Mutex<Vec<SessionInfo>>>,
    pub summaries: Arc<Mutex<Vec<SessionSummary>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn addr(&self, role: Role) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| *r == role).unwrap().1
    }
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

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
        ListenerConfig::new(local, Role::Mx, Some(tls_server())),
        ListenerConfig::new(local, Role::Submission, Some(tls_server())),
        ListenerConfig::new(local, Role::Submissions, Some(tls_server())),
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

pub fn settings() -> ServerSettings {
    ServerSettings::new("mail.test")
}

/// A scripted client over a real socket.
pub struct Client {
    pub stream: Option<MaybeTls<TcpStream>>,
    pub input: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        Client { stream: Some(MaybeTls::Plain(tcp)), input: Vec::new() }
    }

    pub async fn connect_tls(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        Client { stream: Some(MaybeTls::from(tls)), input: Vec::new() }
    }

    /// The TLS handshake of an implicit-TLS port, on a connection already open (after a
    /// PROXY header, say).
    pub async fn implicit_tls(&mut self) {
        let tcp = self.stream.take().unwrap().into_plain().unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        self.stream = Some(MaybeTls::from(tls));
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        let stream = self.stream.as_mut().unwrap();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
    }

    /// The next reply, or `None` at end of stream.
    pub async fn reply(&mut self) -> Option<Reply<'static>> {
        loop {
            if let Ok((rest, reply)) = ReplyDecoder::new().decode(&self.input) {
                let reply = reply.into_owned();
                let used = self.input.len() - rest.len();
                self.input.drain(..used);
                return Some(reply);
            }
            let mut buf = [0u8; 4096];
            let read = tokio::time::timeout(
                Duration::from_secs(10),
                self.stream.as_mut().unwrap().read(&mut buf),
            );
            match read.await.expect("reply within 10 s") {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
            }
        }
    }

    pub async fn expect(&mut self, code: u16) -> Reply<'static> {
        let reply =
            self.reply().await.unwrap_or_else(|| panic!("connection closed, expected {code}"));
        assert_eq!(reply.code().get(), code, "{reply}");
        reply
    }

    pub async fn starttls(&mut self) {
        self.send(b"STARTTLS\r\n").await;
        self.expect(220).await;
        self.tls_handshake().await;
    }

    /// The client side of the handshake after a 220 to STARTTLS.
    pub async fn tls_handshake(&mut self) {
        assert!(self.input.is_empty(), "bytes after the 220");
        let tcp = self.stream.take().unwrap().into_plain().unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        self.stream = Some(MaybeTls::from(tls));
    }
}

pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("mail.test").unwrap()
}

pub fn connector() -> sealpost_starttls::tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in read_chain(&pki("ca-bundle.pem")).unwrap() {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(sealpost_starttls::rustls::crypto::ring::default_provider());
    let config = sealpost_starttls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    sealpost_starttls::tokio_rustls::TlsConnector::from(Arc::new(config))
}

pub const MESSAGE: &[u8] = b"Subject: test\r\n\r\nHello\r\n.\r\n";
