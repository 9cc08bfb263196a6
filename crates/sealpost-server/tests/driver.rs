//! The driver over real loopback sockets: plaintext, STARTTLS, implicit TLS, AUTH, limits,
//! timeouts and shutdown, with an in-memory handler.

// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sealpost_codec::sasl::Credentials;
use sealpost_codec::{ForwardPath, Mechanism, RcptParameters, Reply, ReplyDecoder};
use sealpost_server::{
    BoundServer, Envelope, Handler, ListenerConfig, MessageSink, Role, ServerSettings, SessionInfo,
    Verdict,
};
use sealpost_starttls::rustls::RootCertStore;
use sealpost_starttls::rustls::pki_types::ServerName;
use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, MaybeTls, TlsServer, read_chain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

fn pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki").join(name)
}

/// A message as the handler stored it.
#[derive(Debug, Clone)]
struct Stored {
    recipients: usize,
    content: Vec<u8>,
}

#[derive(Default)]
struct MemoryHandler {
    stored: Arc<Mutex<Vec<Stored>>>,
}

struct MemorySink {
    recipients: usize,
    content: Vec<u8>,
    stored: Arc<Mutex<Vec<Stored>>>,
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
        vec![Verdict::Accept]
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
        _info: &SessionInfo,
        envelope: &Envelope,
    ) -> Result<MemorySink, Verdict> {
        Ok(MemorySink {
            recipients: envelope.recipients.len(),
            content: Vec::new(),
            stored: self.stored.clone(),
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

fn tls_server() -> TlsServer {
    let files = CertificateFiles::new(pki("server-chain.pem"), pki("server-key.pem"));
    let store = Arc::new(CertStore::load(files, vec![]).unwrap());
    TlsServer::new(store, ClientAuth::Off).unwrap()
}

struct Running {
    addrs: Vec<(Role, SocketAddr)>,
    stored: Arc<Mutex<Vec<Stored>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    fn addr(&self, role: Role) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| *r == role).unwrap().1
    }
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn start(settings: ServerSettings) -> Running {
    let handler = Arc::new(MemoryHandler::default());
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

fn settings() -> ServerSettings {
    ServerSettings::new("mail.test")
}

/// A scripted client over a real socket.
struct Client {
    stream: Option<MaybeTls<TcpStream>>,
    input: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        Client { stream: Some(MaybeTls::Plain(tcp)), input: Vec::new() }
    }

    async fn connect_tls(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        Client { stream: Some(MaybeTls::from(tls)), input: Vec::new() }
    }

    async fn send(&mut self, bytes: &[u8]) {
        let stream = self.stream.as_mut().unwrap();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
    }

    /// The next reply, or `None` at end of stream.
    async fn reply(&mut self) -> Option<Reply<'static>> {
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

    async fn expect(&mut self, code: u16) -> Reply<'static> {
        let reply =
            self.reply().await.unwrap_or_else(|| panic!("connection closed, expected {code}"));
        assert_eq!(reply.code().get(), code, "{reply}");
        reply
    }

    async fn starttls(&mut self) {
        self.send(b"STARTTLS\r\n").await;
        self.expect(220).await;
        assert!(self.input.is_empty());
        let tcp = self.stream.take().unwrap().into_plain().unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        self.stream = Some(MaybeTls::from(tls));
    }
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from("mail.test").unwrap()
}

fn connector() -> sealpost_starttls::tokio_rustls::TlsConnector {
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

const MESSAGE: &[u8] = b"Subject: test\r\n\r\nHello\r\n.\r\n";

#[tokio::test]
async fn plaintext_mx_delivery_with_received_header() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await;
    let text = ehlo.to_string();
    assert!(text.contains("STARTTLS"), "{text}");
    assert!(!text.contains("AUTH"), "AUTH must not be offered before TLS: {text}");
    c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mail.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    let relay = c.expect(550).await;
    assert_eq!(relay.enhanced_status().unwrap().to_string(), "5.7.1");
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    assert!(c.reply().await.is_none());
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].recipients, 1);
    let content = String::from_utf8(stored[0].content.clone()).unwrap();
    assert!(
        content.starts_with(
            "Received: from client.test ([127.0.0.1])\r\n\tby mail.test (sealpost) with ESMTP id "
        ),
        "{content}"
    );
    assert!(content.ends_with("\r\nSubject: test\r\n\r\nHello\r\n"), "{content}");
    server.stop().await;
}

#[tokio::test]
async fn starttls_then_auth_then_relay_and_tls_in_received() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Submission)).await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    assert_eq!(c.expect(530).await.enhanced_status().unwrap().to_string(), "5.7.0");
    c.send(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").await;
    c.expect(530).await;
    c.starttls().await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"), "{ehlo}");
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    c.expect(530).await;
    c.send(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n").await;
    assert_eq!(c.expect(535).await.enhanced_status().unwrap().to_string(), "5.7.8");
    c.send(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").await;
    c.expect(235).await;
    c.send(b"MAIL FROM:<alice@mail.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    let stored = server.stored.lock().unwrap().clone();
    let content = String::from_utf8(stored[0].content.clone()).unwrap();
    assert!(content.contains("with ESMTPSA id"), "{content}");
    assert!(content.contains("(using TLSv1.3 with cipher TLS_"), "{content}");
    server.stop().await;
}

#[tokio::test]
async fn bytes_after_starttls_get_554_and_close() {
    let server = start(settings()).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    c.send(b"EHLO a\r\n").await;
    c.expect(250).await;
    c.send(b"STARTTLS\r\nRSET\r\n").await;
    let refusal = c.expect(554).await;
    assert_eq!(refusal.enhanced_status().unwrap().to_string(), "5.5.0");
    assert!(c.reply().await.is_none(), "the connection must close, RSET never answered");
    server.stop().await;
}

#[tokio::test]
async fn implicit_tls_submission_needs_auth() {
    let server = start(settings()).await;
    let mut c = Client::connect_tls(server.addr(Role::Submissions)).await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    let ehlo = c.expect(250).await.to_string();
    assert!(ehlo.contains("AUTH") && !ehlo.contains("STARTTLS"), "{ehlo}");
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    c.expect(530).await;
    c.send(b"AUTH LOGIN\r\n").await;
    c.expect(334).await;
    c.send(b"YWxpY2U=\r\n").await;
    c.expect(334).await;
    c.send(b"c2VjcmV0\r\n").await;
    c.expect(235).await;
    c.send(b"MAIL FROM:<a@client.test>\r\n").await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    server.stop().await;
}

#[tokio::test]
async fn connection_limit_per_address_gets_421() {
    let mut settings = settings();
    settings.limits.max_connections_per_ip = 2;
    let server = start(settings).await;
    let mut first = Client::connect(server.addr(Role::Mx)).await;
    first.expect(220).await;
    let mut second = Client::connect(server.addr(Role::Mx)).await;
    second.expect(220).await;
    let mut third = Client::connect(server.addr(Role::Mx)).await;
    let refused = third.expect(421).await;
    assert_eq!(refused.enhanced_status().unwrap().to_string(), "4.7.0");
    drop(first);
    // The slot comes back once the server sees the close.
    let mut ok = None;
    for _ in 0..50 {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        if c.reply().await.is_some_and(|r| r.code().get() == 220) {
            ok = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok.is_some(), "the freed slot was never given back");
    drop(second);
    server.stop().await;
}

#[tokio::test]
async fn idle_client_times_out_with_421() {
    let mut settings = settings();
    settings.timeouts.command = Duration::from_millis(300);
    let server = start(settings).await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.expect(220).await;
    let timeout = c.expect(421).await;
    assert_eq!(timeout.enhanced_status().unwrap().to_string(), "4.4.2");
    assert!(c.reply().await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_421_to_idle_sessions_and_lets_transactions_finish() {
    let mut settings = settings();
    settings.timeouts.shutdown_grace = Duration::from_secs(5);
    let server = start(settings).await;
    let mut idle = Client::connect(server.addr(Role::Mx)).await;
    idle.expect(220).await;
    let mut busy = Client::connect(server.addr(Role::Mx)).await;
    busy.expect(220).await;
    busy.send(b"EHLO c\r\n").await;
    busy.expect(250).await;
    busy.send(b"MAIL FROM:<a@c>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
    for code in [250, 250, 354] {
        busy.expect(code).await;
    }
    let stored = server.stored.clone();
    let stopping = tokio::spawn(server.stop());
    let closing = idle.expect(421).await;
    assert_eq!(closing.enhanced_status().unwrap().to_string(), "4.3.2");
    busy.send(MESSAGE).await;
    busy.expect(250).await;
    busy.expect(421).await;
    stopping.await.unwrap();
    assert_eq!(stored.lock().unwrap().len(), 1);
}
