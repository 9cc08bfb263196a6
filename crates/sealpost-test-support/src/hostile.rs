//! Scripted, hostile SMTP (or LMTP) servers for client tests: a server that writes exact
//! bytes (one write per [`Step::Send`], TCP_NODELAY), on TCP or on a Unix-domain socket,
//! reads and records every line the client sends, runs the server side of a TLS
//! handshake where the script says so (with any certificate and key, matching or not),
//! or plays a permissive server until QUIT.

use std::net::SocketAddr;
#[cfg(unix)]
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sealpost_starttls::rustls::server::{ClientHello, ResolvesServerCert};
use sealpost_starttls::rustls::sign::CertifiedKey;
use sealpost_starttls::rustls::{self, ServerConfig};
use sealpost_starttls::{MaybeTls, read_chain, read_key};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
#[cfg(unix)]
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

use crate::pki::{pki, roots};

/// A chain served with a key (which may not belong to it).
pub fn certified(chain: &str, key: &str) -> Arc<CertifiedKey> {
    let chain = read_chain(&pki(chain)).unwrap();
    let key = read_key(&pki(key)).unwrap();
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
    Arc::new(CertifiedKey::new(chain, signing))
}

#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A TLS server configuration presenting `key`.
pub fn server_tls(key: Arc<CertifiedKey>) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(key)));
    Arc::new(config)
}

/// The good certificate, and a client certificate chaining to the test root required.
pub fn tls_requiring_client_cert() -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(), provider.clone())
            .build()
            .unwrap();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(Fixed(certified("server-chain.pem", "server-key.pem"))));
    Arc::new(config)
}

/// The good certificate.
pub fn good_tls() -> Arc<ServerConfig> {
    server_tls(certified("server-chain.pem", "server-key.pem"))
}

/// A step of a hostile server.
#[derive(Clone)]
pub enum Step {
    /// Write these bytes in one write.
    Send(&'static [u8]),
    /// Read one line from the client (it is recorded) and check its start,
    /// case-insensitively.
    Expect(&'static str),
    /// Run the server side of a TLS handshake.
    Tls(Arc<ServerConfig>),
    /// Answer whatever comes like a permissive server until QUIT or end of stream.
    Serve,
    /// Wait this many milliseconds.
    Sleep(u64),
    /// Close the connection (the client reads the end of the stream).
    Close,
}

/// What the client sent, line by line (message content included), and how the script
/// went.
#[derive(Debug, Default)]
pub struct Transcript {
    /// Every line the client sent, without its CRLF.
    pub lines: Vec<String>,
    /// Where the script went wrong (an unexpected line, bytes before a handshake, a
    /// failed handshake), if it did.
    pub failure: Option<String>,
}

impl Transcript {
    /// True when a line starts with `prefix` (case-insensitive).
    pub fn sent(&self, prefix: &str) -> bool {
        self.lines.iter().any(|l| l.to_ascii_uppercase().starts_with(&prefix.to_ascii_uppercase()))
    }
}

struct Peer<S> {
    stream: Option<MaybeTls<S>>,
    input: Vec<u8>,
    transcript: Transcript,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(at) = memchr::memmem::find(&self.input, b"\r\n") {
                let line: Vec<u8> = self.input.drain(..at + 2).collect();
                let line = String::from_utf8_lossy(&line[..at]).into_owned();
                self.transcript.lines.push(line.clone());
                return Some(line);
            }
            let mut buf = [0u8; 8192];
            let stream = self.stream.as_mut()?;
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.input.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        if let Some(stream) = self.stream.as_mut() {
            let _ = stream.write_all(bytes).await;
            let _ = stream.flush().await;
        }
    }

    /// A permissive server: 250 to everything, 354 to DATA, 235 to AUTH.
    async fn serve(&mut self) {
        let mut bdat_left = 0usize;
        while let Some(line) = self.line().await {
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("QUIT") {
                self.send(b"221 2.0.0 Bye\r\n").await;
                return;
            } else if upper.starts_with("DATA") {
                self.send(b"354 go\r\n").await;
                while let Some(l) = self.line().await {
                    if l == "." {
                        break;
                    }
                }
                self.send(b"250 2.0.0 queued\r\n").await;
            } else if upper.starts_with("BDAT") {
                let size: usize = upper.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
                bdat_left += size;
                while self.input.len() < bdat_left {
                    let mut buf = [0u8; 8192];
                    let Some(stream) = self.stream.as_mut() else { return };
                    match stream.read(&mut buf).await {
                        Ok(n) if n > 0 => self.input.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                self.input.drain(..bdat_left);
                bdat_left = 0;
                self.send(b"250 2.0.0 chunk\r\n").await;
            } else if upper.starts_with("AUTH") {
                self.send(b"235 2.7.0 ok\r\n").await;
            } else {
                self.send(b"250 2.0.0 ok\r\n").await;
            }
        }
    }
}

/// A one-connection hostile server running `steps`; its transcript comes from the handle.
pub async fn hostile(steps: Vec<Step>) -> (SocketAddr, JoinHandle<Transcript>) {
    let (addr, task) = hostile_sessions(vec![steps]).await;
    (addr, tokio::spawn(async move { task.await.unwrap().pop().unwrap() }))
}

/// A hostile server taking one connection per script, in order.
pub async fn hostile_sessions(
    scripts: Vec<Vec<Step>>,
) -> (SocketAddr, JoinHandle<Vec<Transcript>>) {
    hostile_at("127.0.0.1:0".parse().unwrap(), scripts).await
}

/// [`hostile_sessions`] on a given address.
pub async fn hostile_at(
    addr: SocketAddr,
    scripts: Vec<Vec<Step>>,
) -> (SocketAddr, JoinHandle<Vec<Transcript>>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut transcripts = Vec::new();
        for steps in scripts {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            transcripts.push(run_script(tcp, steps).await);
        }
        transcripts
    });
    (addr, task)
}

/// [`hostile_sessions`] on a Unix-domain socket at `path` (created here).
#[cfg(unix)]
pub fn hostile_unix(path: &Path, scripts: Vec<Vec<Step>>) -> JoinHandle<Vec<Transcript>> {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        let mut transcripts = Vec::new();
        for steps in scripts {
            let (stream, _) = listener.accept().await.unwrap();
            transcripts.push(run_script(stream, steps).await);
        }
        transcripts
    })
}

async fn run_script<S: AsyncRead + AsyncWrite + Unpin>(stream: S, steps: Vec<Step>) -> Transcript {
    {
        let mut peer = Peer {
            stream: Some(MaybeTls::Plain(stream)),
            input: Vec::new(),
            transcript: Transcript::default(),
        };
        for step in steps {
            match step {
                Step::Send(bytes) => peer.send(bytes).await,
                Step::Expect(prefix) => match peer.line().await {
                    Some(line) if line.to_ascii_uppercase().starts_with(prefix) => {}
                    other => {
                        peer.transcript.failure = Some(format!("expected {prefix}, got {other:?}"));
                        break;
                    }
                },
                Step::Tls(config) => {
                    if !peer.input.is_empty() {
                        peer.transcript.failure = Some("bytes before the handshake".into());
                        break;
                    }
                    let Ok(plain) = peer.stream.take().unwrap().into_plain() else {
                        panic!("TLS twice")
                    };
                    let acceptor = sealpost_starttls::tokio_rustls::TlsAcceptor::from(config);
                    match acceptor.accept(plain).await {
                        Ok(tls) => peer.stream = Some(MaybeTls::from(tls)),
                        Err(e) => {
                            peer.transcript.failure = Some(format!("handshake: {e}"));
                            return peer.transcript;
                        }
                    }
                }
                Step::Serve => peer.serve().await,
                Step::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Step::Close => {
                    if let Some(mut stream) = peer.stream.take() {
                        let _ = stream.shutdown().await;
                    }
                    return peer.transcript;
                }
            }
        }
        // Record whatever else the client sends before it closes.
        while peer.line().await.is_some() {}
        peer.transcript
    }
}
