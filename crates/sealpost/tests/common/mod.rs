//! Running the real `sealpost` binary: a server process whose start message gives its
//! addresses, a small blocking SMTP client (plaintext or implicit TLS), and signals.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memchr::memmem;
use sealpost_starttls::rustls;

/// How long a start may take on a busy two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test.
pub(crate) fn sealpost() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sealpost"));
    command.env("SEALPOST_LOG", "info").env_remove("RUST_LOG");
    command
}

/// Runs a command to its end with `stdin` as standard input.
pub(crate) fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = sealpost()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before it reads its input closes the pipe: not an error here.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// Text of a stream of an output.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `serve` flags that put every listener on a free loopback port.
pub(crate) const FREE_PORTS: [&str; 6] =
    ["--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--smtps", "127.0.0.1:0"];

/// A running `sealpost serve`.
pub(crate) struct Server {
    child: Child,
    /// The start message.
    pub(crate) banner: String,
    /// Listener name (`smtp`, `submission`, `smtps`) to bound address.
    pub(crate) addrs: HashMap<String, SocketAddr>,
    stderr: Arc<Mutex<String>>,
    lines: Receiver<String>,
}

impl Server {
    /// Starts `serve` in `dir` and waits for the whole start message.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = sealpost()
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server =
            Server { child, banner: String::new(), addrs: HashMap::new(), stderr, lines };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("listening on ") {
                        let (addr, name) = rest.split_once(" (").unwrap();
                        let name = name.split(':').next().unwrap().to_owned();
                        server.addrs.insert(name, addr.parse().unwrap());
                    }
                    server.banner.push_str(&line);
                    server.banner.push('\n');
                    if line.starts_with("SIGHUP reloads") {
                        return server;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = server.wait(Duration::from_secs(10));
                    panic!(
                        "serve ended before it started ({status:?})\nstdout:\n{}\nstderr:\n{}",
                        server.banner,
                        server.stderr()
                    );
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "serve did not start\nstdout:\n{}\nstderr:\n{}",
                        server.banner,
                        server.stderr()
                    )
                }
            }
        }
    }

    /// The address of a listener.
    pub(crate) fn addr(&self, name: &str) -> SocketAddr {
        *self.addrs.get(name).unwrap_or_else(|| panic!("no {name} listener in:\n{}", self.banner))
    }

    /// What the server logged so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`) with kill(1).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to end; `None` if it is still running after `timeout`.
    pub(crate) fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log contains `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// SIGTERM, then the exit status (which must come within a few seconds).
    pub(crate) fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        match self.wait(Duration::from_secs(10)) {
            Some(status) => status,
            None => panic!("serve still runs 10 s after SIGTERM\nstderr:\n{}", self.stderr()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A blocking SMTP client over plaintext or TLS.
pub(crate) struct Smtp {
    stream: Box<dyn ReadWrite>,
    input: Vec<u8>,
}

pub(crate) trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl Smtp {
    /// A plaintext connection.
    pub(crate) fn connect(addr: SocketAddr) -> Smtp {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Smtp { stream: Box::new(tcp), input: Vec::new() }
    }

    /// An implicit-TLS connection that trusts only the certificate in `trusted` (PEM) and
    /// asks for `server_name`; the error when the handshake fails.
    pub(crate) fn connect_tls(
        addr: SocketAddr,
        trusted: &Path,
        server_name: &str,
    ) -> Result<Smtp, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in sealpost_starttls::read_chain(trusted).unwrap() {
            roots.add(cert).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                return Err(e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .cloned()
                    .unwrap_or(rustls::Error::General(e.to_string())));
            }
        }
        Ok(Smtp { stream: Box::new(rustls::StreamOwned::new(conn, tcp)), input: Vec::new() })
    }

    /// Sends bytes as they are.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    /// Reads one whole reply: its code and its text.
    pub(crate) fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let line = self.line();
            text.push_str(&line);
            text.push('\n');
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().unwrap(), text);
            }
        }
    }

    /// True when the server closes the connection without having sent a byte (a read
    /// timeout is not a close).
    pub(crate) fn closes_silently(&mut self) -> bool {
        let mut buf = [0u8; 512];
        match self.stream.read(&mut buf) {
            Ok(0) => self.input.is_empty(),
            Ok(_) => false,
            Err(e) => {
                !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
                    && self.input.is_empty()
            }
        }
    }

    /// Reads a reply and checks its code.
    pub(crate) fn expect(&mut self, code: u16) -> String {
        let (got, text) = self.reply();
        assert_eq!(got, code, "expected {code}, got: {text}");
        text
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(end) = memmem::find(&self.input, b"\r\n") {
                let line: Vec<u8> = self.input.drain(..end + 2).collect();
                return String::from_utf8_lossy(&line[..end]).into_owned();
            }
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed; read so far: {:?}", text(&self.input));
            self.input.extend_from_slice(&buf[..n]);
        }
    }
}

/// The files of a Maildir `new/` folder.
pub(crate) fn new_messages(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Delivers one message over plaintext SMTP, checking each reply.
pub(crate) fn deliver(addr: SocketAddr, from: &str, to: &str, body: &str) {
    deliver_over(Smtp::connect(addr), from, to, body);
}

/// [`deliver`] over a connection already open (after a PROXY header, say): from the
/// greeting to QUIT.
pub(crate) fn deliver_over(mut c: Smtp, from: &str, to: &str, body: &str) {
    c.expect(220);
    c.send(b"EHLO client.example\r\n");
    c.expect(250);
    c.send(format!("MAIL FROM:<{from}>\r\n").as_bytes());
    c.expect(250);
    c.send(format!("RCPT TO:<{to}>\r\n").as_bytes());
    c.expect(250);
    c.send(b"DATA\r\n");
    c.expect(354);
    c.send(format!("Subject: first\r\n\r\n{body}\r\n.\r\n").as_bytes());
    c.expect(250);
    c.send(b"QUIT\r\n");
    c.expect(221);
}

/// Waits at most `limit` until `done` says so; fails the test naming `what` otherwise.
pub(crate) fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
