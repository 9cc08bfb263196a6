//! Shared harness of the MtaHandler tests: a server with real sockets over a temporary
//! data directory, and a scripted client (the one of tests/driver.rs).

// Not every test file uses every helper.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sealpost_codec::{Reply, ReplyDecoder};
use sealpost_server::{
    BoundServer, ListenerConfig, MtaConfig, MtaHandler, Role, ServerSettings, Users,
};
use sealpost_starttls::rustls::RootCertStore;
use sealpost_starttls::rustls::pki_types::ServerName;
use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, MaybeTls, TlsServer, read_chain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub(crate) fn pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki").join(name)
}

/// A unique directory under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir()
            .join(format!("sealpost-mta-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files directly in `dir` (none when it does not exist), sorted.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// The one message in `maildir/<domain>/<user>/new`.
pub(crate) fn delivered(data: &Path, domain: &str, user: &str) -> Vec<u8> {
    let new = files(&data.join("maildir").join(domain).join(user).join("new"));
    assert_eq!(new.len(), 1, "{domain}/{user}: {new:?}");
    std::fs::read(&new[0]).unwrap()
}

fn tls_server(client_auth: ClientAuth) -> TlsServer {
    let files = CertificateFiles::new(pki("server-chain.pem"), pki("server-key.pem"));
    let store = Arc::new(CertStore::load(files, vec![]).unwrap());
    TlsServer::new(store, client_auth).unwrap()
}

/// A running server with an MtaHandler over `data`; users alice/secret and bob/hunter2.
pub(crate) struct Running {
    addrs: Vec<(Role, SocketAddr)>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub(crate) fn addr(&self, role: Role) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// The users file of the tests, written once per directory.
pub(crate) fn users(dir: &Path) -> Arc<Users> {
    let path = dir.join("users");
    Users::add(&path, "alice", "secret").unwrap();
    Users::add(&path, "bob", "hunter2").unwrap();
    Arc::new(Users::load(&path).unwrap())
}

/// Starts a server for local domain `mail.test` (and `other.test`), letting the test
/// adjust the configuration first.
pub(crate) async fn start(data: &Path, adjust: impl FnOnce(&mut MtaConfig)) -> Running {
    let domains = vec![String::from("Mail.Test"), String::from("other.test")];
    let mut config = MtaConfig::new(data, domains);
    config.hostname = String::from("mx.mail.test");
    config.users = Some(users(data));
    adjust(&mut config);
    let handler = Arc::new(MtaHandler::new(config).unwrap());
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listeners = vec![
        // The MX listener asks for client certificates (any issuer), as a relay by
        // certificate fingerprint needs.
        ListenerConfig::new(local, Role::Mx, Some(tls_server(ClientAuth::Optional))),
        ListenerConfig::new(local, Role::Submission, Some(tls_server(ClientAuth::Off))),
    ];
    let server =
        BoundServer::bind(handler, ServerSettings::new("mx.mail.test"), listeners).await.unwrap();
    let addrs = server.local_addrs();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running { addrs, stop: Some(tx), task }
}

/// A scripted client over a real socket.
pub(crate) struct Client {
    stream: Option<MaybeTls<TcpStream>>,
    input: Vec<u8>,
}

impl Client {
    /// Connects, reads the greeting and says EHLO.
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut c = Client { stream: Some(MaybeTls::Plain(tcp)), input: Vec::new() };
        c.expect(220).await;
        c.send(b"EHLO client.test\r\n").await;
        c.expect(250).await;
        c
    }

    /// Connects to the submission port, STARTTLS, EHLO, AUTH PLAIN as `user`.
    pub(crate) async fn submission(addr: SocketAddr, user: &str, password: &str) -> Client {
        let mut c = Client::connect(addr).await;
        c.starttls().await;
        c.send(b"EHLO client.test\r\n").await;
        c.expect(250).await;
        let token = sealpost_codec::sasl::encode_base64(format!("\0{user}\0{password}").as_bytes());
        c.send(format!("AUTH PLAIN {token}\r\n").as_bytes()).await;
        c.expect(235).await;
        c
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        let stream = self.stream.as_mut().unwrap();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
    }

    /// The next reply, or `None` at end of stream.
    pub(crate) async fn reply(&mut self) -> Option<Reply<'static>> {
        loop {
            if let Ok((rest, reply)) = ReplyDecoder::new().decode(&self.input) {
                let reply = reply.into_owned();
                let used = self.input.len() - rest.len();
                self.input.drain(..used);
                return Some(reply);
            }
            let mut buf = [0u8; 4096];
            let read = tokio::time::timeout(
                Duration::from_secs(30),
                self.stream.as_mut().unwrap().read(&mut buf),
            );
            match read.await.expect("reply within 30 s") {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
            }
        }
    }

    pub(crate) async fn expect(&mut self, code: u16) -> Reply<'static> {
        let reply =
            self.reply().await.unwrap_or_else(|| panic!("connection closed, expected {code}"));
        assert_eq!(reply.code().get(), code, "{reply}");
        reply
    }

    /// Expects `code` with enhanced status `status`, such as `(550, "5.7.1")`.
    pub(crate) async fn expect_status(&mut self, code: u16, status: &str) -> Reply<'static> {
        let reply = self.expect(code).await;
        assert_eq!(reply.enhanced_status().unwrap().to_string(), status, "{reply}");
        reply
    }

    pub(crate) async fn starttls(&mut self) {
        self.starttls_with(connector()).await;
    }

    /// STARTTLS presenting the test PKI's client certificate (`client-chain.pem`).
    pub(crate) async fn starttls_with_client_cert(&mut self) {
        self.starttls_with(client_cert_connector()).await;
    }

    async fn starttls_with(&mut self, connector: sealpost_starttls::tokio_rustls::TlsConnector) {
        self.send(b"STARTTLS\r\n").await;
        self.expect(220).await;
        assert!(self.input.is_empty());
        let tcp = self.stream.take().unwrap().into_plain().unwrap();
        let tls = connector.connect(server_name(), tcp).await.unwrap();
        self.stream = Some(MaybeTls::from(tls));
    }

    /// MAIL, one RCPT per recipient (each expected to get `250`), DATA, the message; the
    /// reply to the end of data.
    pub(crate) async fn transaction(
        &mut self,
        from: &str,
        to: &[&str],
        body: &[u8],
    ) -> Reply<'static> {
        let mut commands = format!("MAIL FROM:<{from}>\r\n");
        for rcpt in to {
            commands.push_str(&format!("RCPT TO:<{rcpt}>\r\n"));
        }
        commands.push_str("DATA\r\n");
        self.send(commands.as_bytes()).await;
        for _ in 0..=to.len() {
            self.expect(250).await;
        }
        self.expect(354).await;
        self.send(body).await;
        self.reply().await.expect("a reply to the end of data")
    }
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from("mail.test").unwrap()
}

fn client_config() -> sealpost_starttls::rustls::ConfigBuilder<
    sealpost_starttls::rustls::ClientConfig,
    sealpost_starttls::rustls::client::WantsClientCert,
> {
    let mut roots = RootCertStore::empty();
    for cert in read_chain(&pki("ca-bundle.pem")).unwrap() {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(sealpost_starttls::rustls::crypto::ring::default_provider());
    sealpost_starttls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
}

fn connector() -> sealpost_starttls::tokio_rustls::TlsConnector {
    let config = client_config().with_no_client_auth();
    sealpost_starttls::tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn client_cert_connector() -> sealpost_starttls::tokio_rustls::TlsConnector {
    let chain = read_chain(&pki("client-chain.pem")).unwrap();
    let key = sealpost_starttls::read_key(&pki("client-key.pem")).unwrap();
    let config = client_config().with_client_auth_cert(chain, key).unwrap();
    sealpost_starttls::tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A small message, dot-terminated.
pub(crate) const MESSAGE: &[u8] = b"Subject: test\r\n\r\nHello\r\n.\r\n";
