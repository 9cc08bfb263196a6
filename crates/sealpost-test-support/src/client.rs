//! A scripted SMTP client over a real socket.

use std::net::SocketAddr;
use std::time::Duration;

use sealpost_codec::{Reply, ReplyDecoder};
use sealpost_starttls::MaybeTls;
use sealpost_starttls::tokio_rustls::TlsConnector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pki::{client_cert_connector, connector, server_name};

/// How long a reply may take before the test fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A scripted client: send bytes, expect replies.
pub struct Client {
    /// The connection (taken during a TLS upgrade).
    pub stream: Option<MaybeTls<TcpStream>>,
    /// Bytes read and not yet decoded.
    pub input: Vec<u8>,
}

impl Client {
    /// Connects, nothing more (the greeting is still to be read).
    pub async fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        Client { stream: Some(MaybeTls::Plain(tcp)), input: Vec::new() }
    }

    /// Connects, reads the greeting and says EHLO.
    pub async fn greeted(addr: SocketAddr) -> Client {
        let mut client = Client::connect(addr).await;
        client.expect(220).await;
        client.send(b"EHLO client.test\r\n").await;
        client.expect(250).await;
        client
    }

    /// Connects with implicit TLS (the greeting is still to be read).
    pub async fn connect_tls(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        Client { stream: Some(MaybeTls::from(tls)), input: Vec::new() }
    }

    /// Starts TLS on a plaintext connection at once (implicit TLS after something was
    /// sent in the clear, such as a PROXY protocol header).
    pub async fn implicit_tls(&mut self) {
        let tcp = self.stream.take().unwrap().into_plain().unwrap();
        let tls = connector().connect(server_name(), tcp).await.unwrap();
        self.stream = Some(MaybeTls::from(tls));
    }

    /// Connects to a submission port: greeting, EHLO, STARTTLS, EHLO, AUTH PLAIN.
    pub async fn submission(addr: SocketAddr, user: &str, password: &str) -> Client {
        let mut client = Client::greeted(addr).await;
        client.starttls().await;
        client.send(b"EHLO client.test\r\n").await;
        client.expect(250).await;
        let token = sealpost_codec::sasl::encode_base64(format!("\0{user}\0{password}").as_bytes());
        client.send(format!("AUTH PLAIN {token}\r\n").as_bytes()).await;
        client.expect(235).await;
        client
    }

    /// Writes `bytes` in one write.
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
            let read =
                tokio::time::timeout(REPLY_TIMEOUT, self.stream.as_mut().unwrap().read(&mut buf));
            match read.await.expect("a reply within 30 s") {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// The next reply, which must have `code`.
    pub async fn expect(&mut self, code: u16) -> Reply<'static> {
        let reply =
            self.reply().await.unwrap_or_else(|| panic!("connection closed, expected {code}"));
        assert_eq!(reply.code().get(), code, "{reply}");
        reply
    }

    /// Expects `code` with enhanced status `status`, such as `(550, "5.7.1")`.
    pub async fn expect_status(&mut self, code: u16, status: &str) -> Reply<'static> {
        let reply = self.expect(code).await;
        assert_eq!(reply.enhanced_status().unwrap().to_string(), status, "{reply}");
        reply
    }

    /// STARTTLS, trusting the test CA.
    pub async fn starttls(&mut self) {
        self.starttls_with(connector()).await;
    }

    /// STARTTLS presenting the test PKI's client certificate (`client-chain.pem`).
    pub async fn starttls_with_client_cert(&mut self) {
        self.starttls_with(client_cert_connector()).await;
    }

    async fn starttls_with(&mut self, connector: TlsConnector) {
        self.send(b"STARTTLS\r\n").await;
        self.expect(220).await;
        self.tls_handshake_with(connector).await;
    }

    /// The client side of the handshake after a 220 to STARTTLS.
    pub async fn tls_handshake(&mut self) {
        self.tls_handshake_with(connector()).await;
    }

    async fn tls_handshake_with(&mut self, connector: TlsConnector) {
        assert!(self.input.is_empty(), "bytes after the 220");
        let tcp = self.stream.take().unwrap().into_plain().unwrap();
        let tls = connector.connect(server_name(), tcp).await.unwrap();
        self.stream = Some(MaybeTls::from(tls));
    }

    /// MAIL, one RCPT per recipient (each expected to get `250`), DATA, the message; the
    /// reply to the end of data.
    pub async fn transaction(&mut self, from: &str, to: &[&str], body: &[u8]) -> Reply<'static> {
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
