//! The load client for what smtp-source cannot do: STARTTLS sessions at rate, and many
//! idle connections. tokio + rustls; the same client runs against every server.
//!
//! A TLS session is: connect, EHLO, STARTTLS, a full handshake (session resumption is
//! off, so every session pays for one), EHLO, MAIL, RCPT, DATA with a 5 KiB message,
//! QUIT. Commands are sent one at a time, without pipelining, against every server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use memchr::memmem;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Any one step of a session that takes longer than this fails the run.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Client side of TLS: trusts the test CA only, asks for `server_name`, never resumes.
#[derive(Clone)]
pub(crate) struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl Tls {
    pub(crate) fn new(ca: &Path, server_name: &str) -> Result<Tls> {
        Tls::build(ca, server_name, None)
    }

    /// The same, presenting the certificate chain `chain` (PEM, leaf first) with `key` when
    /// the server asks for one.
    pub(crate) fn with_client_cert(
        ca: &Path,
        server_name: &str,
        chain: &Path,
        key: &Path,
    ) -> Result<Tls> {
        Tls::build(ca, server_name, Some((chain, key)))
    }

    fn build(ca: &Path, server_name: &str, client: Option<(&Path, &Path)>) -> Result<Tls> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).with_context(|| ca.display().to_string())? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match client {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let certs = CertificateDer::pem_file_iter(chain)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .with_context(|| chain.display().to_string())?;
                let key =
                    PrivateKeyDer::from_pem_file(key).with_context(|| key.display().to_string())?;
                builder.with_client_auth_cert(certs, key)?
            }
        };
        config.resumption = rustls::client::Resumption::disabled();
        let name = ServerName::try_from(server_name.to_owned())?;
        Ok(Tls { connector: TlsConnector::from(Arc::new(config)), name })
    }
}

/// A runtime for the client: two workers, as many as the machine has cores to share.
pub(crate) fn runtime() -> Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// An SMTP conversation over a plain or TLS stream.
pub(crate) struct Smtp<S> {
    pub(crate) stream: S,
    input: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Smtp<S> {
    fn new(stream: S) -> Self {
        Smtp { stream, input: Vec::with_capacity(512) }
    }

    /// Reads one whole reply and returns its code.
    pub(crate) async fn reply(&mut self) -> Result<u16> {
        loop {
            while let Some(end) = memmem::find(&self.input, b"\r\n") {
                let line: Vec<u8> = self.input.drain(..end + 2).collect();
                if line.get(3) == Some(&b'-') {
                    continue;
                }
                let code = std::str::from_utf8(line.get(..3).unwrap_or_default())
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .with_context(|| {
                        format!("not a reply: {:?}", String::from_utf8_lossy(&line))
                    })?;
                return Ok(code);
            }
            let mut buf = [0u8; 2048];
            let n = tokio::time::timeout(STEP_TIMEOUT, self.stream.read(&mut buf))
                .await
                .context("no reply within 30 s")??;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(self.stream.flush().await?)
    }

    pub(crate) async fn command(&mut self, line: &[u8], expect: u16) -> Result<()> {
        self.send(line).await?;
        let code = self.reply().await?;
        if code != expect {
            bail!("{} got {code}, not {expect}", String::from_utf8_lossy(line).trim_end());
        }
        Ok(())
    }
}

/// Connects, reads the greeting and says EHLO.
pub(crate) async fn greet(addr: SocketAddr) -> Result<Smtp<TcpStream>> {
    let tcp = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr))
        .await
        .context("connect took over 30 s")??;
    tcp.set_nodelay(true)?;
    let mut smtp = Smtp::new(tcp);
    let code = smtp.reply().await?;
    if code != 220 {
        bail!("greeting {code}");
    }
    smtp.command(b"EHLO load.test\r\n", 250).await?;
    Ok(smtp)
}

/// STARTTLS, the handshake and EHLO again.
pub(crate) async fn starttls(
    mut smtp: Smtp<TcpStream>,
    tls: &Tls,
) -> Result<Smtp<TlsStream<TcpStream>>> {
    smtp.command(b"STARTTLS\r\n", 220).await?;
    if !smtp.input.is_empty() {
        bail!("the server sent more after its 220 to STARTTLS");
    }
    let handshake = tls.connector.connect(tls.name.clone(), smtp.stream);
    let stream = tokio::time::timeout(STEP_TIMEOUT, handshake)
        .await
        .context("TLS handshake took over 30 s")??;
    let mut smtp = Smtp::new(stream);
    smtp.command(b"EHLO load.test\r\n", 250).await?;
    Ok(smtp)
}

/// A 5 KiB message (what `smtp-source -l 5120` sends), dot-terminated.
pub(crate) fn message() -> Vec<u8> {
    let mut out = b"From: <a@x.test>\r\nTo: <b@y.test>\r\nSubject: load\r\n\r\n".to_vec();
    while out.len() < 5120 {
        out.extend_from_slice(&[b'x'; 78]);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn tls_session(addr: SocketAddr, tls: &Tls, message: &[u8]) -> Result<()> {
    let mut smtp = starttls(greet(addr).await?, tls).await?;
    smtp.command(b"MAIL FROM:<a@x.test>\r\n", 250).await?;
    smtp.command(b"RCPT TO:<b@y.test>\r\n", 250).await?;
    smtp.command(b"DATA\r\n", 354).await?;
    smtp.command(message, 250).await?;
    smtp.command(b"QUIT\r\n", 221).await?;
    let _ = smtp.stream.shutdown().await;
    Ok(())
}

/// Runs `sessions` TLS sessions, `concurrency` at a time; the wall time they took.
pub(crate) fn tls_sessions(
    addr: SocketAddr,
    tls: &Tls,
    sessions: usize,
    concurrency: usize,
) -> Result<Duration> {
    let rt = runtime()?;
    let message: Arc<[u8]> = message().into();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (tls, message, next) = (tls.clone(), message.clone(), next.clone());
            workers.spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < sessions {
                    tls_session(addr, &tls, &message).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = workers.join_next().await {
            done??;
        }
        anyhow::Ok(())
    })
    .with_context(|| format!("a TLS session to {addr} failed"))?;
    Ok(started.elapsed())
}

/// Connections held open after EHLO (and STARTTLS + EHLO for TLS), until dropped.
pub(crate) struct Idle {
    plain: Vec<Smtp<TcpStream>>,
    tls: Vec<Smtp<TlsStream<TcpStream>>>,
    // Dropped last: the sockets above are registered with its reactor.
    rt: Runtime,
}

impl Idle {
    /// Opens `count` connections to `addr`, 100 at a time.
    pub(crate) fn open(addr: SocketAddr, count: usize, tls: Option<&Tls>) -> Result<Idle> {
        let rt = runtime()?;
        let mut idle = Idle { plain: Vec::new(), tls: Vec::new(), rt };
        let started = Instant::now();
        for batch in (0..count).collect::<Vec<_>>().chunks(100) {
            let tls = tls.cloned();
            let opened = idle.rt.block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                for _ in batch {
                    let tls = tls.clone();
                    set.spawn(async move {
                        let smtp = greet(addr).await?;
                        match &tls {
                            Some(tls) => Ok((None, Some(starttls(smtp, tls).await?))),
                            None => anyhow::Ok((Some(smtp), None)),
                        }
                    });
                }
                let mut opened = Vec::new();
                while let Some(done) = set.join_next().await {
                    opened.push(done??);
                }
                anyhow::Ok(opened)
            });
            let opened = opened.with_context(|| {
                format!("opening idle connection {} of {count}", idle.len() + 1)
            })?;
            for (plain, tls) in opened {
                idle.plain.extend(plain);
                idle.tls.extend(tls);
            }
        }
        println!(
            "opened {} idle {} connections in {:.1} s",
            idle.len(),
            if tls.is_some() { "TLS" } else { "plaintext" },
            started.elapsed().as_secs_f64()
        );
        Ok(idle)
    }

    pub(crate) fn len(&self) -> usize {
        self.plain.len() + self.tls.len()
    }

    /// Closes every connection (the server sees the end of stream).
    pub(crate) fn close(mut self) {
        let _guard = self.rt.enter();
        self.plain.clear();
        self.tls.clear();
    }
}
