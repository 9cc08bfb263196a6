//! The real `sealpost` program as a process: running its commands, a `sealpost serve`
//! whose start message gives its addresses, a small blocking SMTP client (plaintext or
//! implicit TLS) that writes exactly the bytes it is given, and signals.
//!
//! The binary is a [`Sealpost`]: the sealpost crate's own tests name theirs with
//! `Sealpost::at(env!("CARGO_BIN_EXE_sealpost"))` (Cargo builds it for them); tests in
//! other crates, where Cargo sets no such variable, call [`Sealpost::built`], which asks
//! Cargo to build it (see there).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sealpost_starttls::rustls;

/// How long a start may take on a busy two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a reply may take.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The `sealpost` binary under test.
#[derive(Debug, Clone)]
pub struct Sealpost {
    path: PathBuf,
}

impl Sealpost {
    /// The binary at `path` (in the sealpost crate's tests:
    /// `env!("CARGO_BIN_EXE_sealpost")`).
    pub fn at(path: impl Into<PathBuf>) -> Sealpost {
        Sealpost { path: path.into() }
    }

    /// The binary of this workspace, built for tests outside the sealpost crate.
    ///
    /// Cargo names a package's binaries only to that package's own tests, so this runs
    /// `$CARGO build -p sealpost --bin sealpost --message-format=json` (the same Cargo, so
    /// the same toolchain and configuration as the tests) into `sealpost-tests/` inside
    /// the workspace's target directory (as `cargo metadata` reports it), and takes the
    /// executable's path from Cargo's report. The folder of its own costs one build of the
    /// dependencies the first time; after that the binary is fresh unless the sources
    /// changed. Built once per test process.
    pub fn built() -> Sealpost {
        static BUILT: OnceLock<PathBuf> = OnceLock::new();
        Sealpost::at(BUILT.get_or_init(build_with_cargo))
    }

    /// The path of the binary.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A command for the binary, logging at `info` whatever the caller's environment says.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command.env("SEALPOST_LOG", "info").env_remove("RUST_LOG");
        command
    }

    /// Runs a command to its end in `dir` with `stdin` as standard input.
    pub fn run(&self, dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
        self.run_with_env(dir, args, stdin, &[])
    }

    /// [`run`](Self::run) with these environment variables set (a password for
    /// `--pass env:VAR`, say).
    pub fn run_with_env(
        &self,
        dir: &Path,
        args: &[&str],
        stdin: &[u8],
        env: &[(&str, &str)],
    ) -> Output {
        let mut child = self
            .command()
            .args(args)
            .envs(env.iter().copied())
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

    /// `sealpost user add NAME --users USERS` in `dir` with `password` on standard input,
    /// as a person adds a login; fails the test if the command fails.
    pub fn add_user(&self, dir: &Path, users: &str, name: &str, password: &str) {
        let output = self.run(
            dir,
            &["user", "add", name, "--users", users],
            format!("{password}\n").as_bytes(),
        );
        assert!(output.status.success(), "user add {name}: {}", text(&output.stderr));
    }

    /// Starts `sealpost serve` in `dir` with `args` and waits for its whole start message.
    pub fn serve(&self, dir: &Path, args: &[&str]) -> Server {
        Server::start(self, dir, args)
    }
}

/// A command for the Cargo that runs these tests, in the workspace root.
fn cargo() -> Command {
    // Cargo sets CARGO for the processes it runs (build scripts, tests); a bare `cargo`
    // from PATH is the fallback for a test binary started by hand.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // Cargo describes the package under test to its tests (CARGO_PKG_NAME, OUT_DIR, ...);
    // build scripts that watch those variables (ring's does) would see them change and
    // rebuild everything below sealpost on every run. Cargo sets them itself where needed.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || ["CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    command.current_dir(crate::workspace_root());
    command
}

/// Runs a Cargo command; its standard output, or a failed test.
fn cargo_output(args: &[&str]) -> String {
    let output = cargo()
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo {args:?}: {e}"));
    assert!(output.status.success(), "cargo {args:?} failed ({})", output.status);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn build_with_cargo() -> PathBuf {
    // The workspace's target directory (CARGO_TARGET_DIR and Cargo's configuration
    // included), with a folder of its own for this build: the binary Cargo builds for
    // the sealpost crate's own tests (same path, other features when a whole-workspace
    // run unifies them) is then never replaced under those tests while they run it.
    let metadata = cargo_output(&["metadata", "--format-version", "1", "--no-deps"]);
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    let target = metadata["target_directory"].as_str().expect("cargo metadata: target_directory");
    let target = Path::new(target).join("sealpost-tests");
    let stdout = cargo_output(&[
        "build",
        "--package",
        "sealpost",
        "--bin",
        "sealpost",
        "--target-dir",
        target.to_str().expect("a UTF-8 target directory"),
        "--message-format",
        "json-render-diagnostics",
    ]);
    let executable = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "sealpost")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from));
    let executable = executable.expect("cargo reported no sealpost executable");
    assert!(executable.is_file(), "{} is not there", executable.display());
    executable
}

/// Text of a stream of an output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `serve` flags that put every listener on a free loopback port.
pub const FREE_PORTS: [&str; 6] =
    ["--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--smtps", "127.0.0.1:0"];

/// A running `sealpost serve`.
pub struct Server {
    child: Child,
    /// The start message.
    pub banner: String,
    /// Listener name (`smtp`, `submission`, `smtps`) to bound address.
    pub addrs: HashMap<String, SocketAddr>,
    stderr: Arc<Mutex<String>>,
    lines: Receiver<String>,
}

impl Server {
    fn start(binary: &Sealpost, dir: &Path, args: &[&str]) -> Server {
        let mut child = binary
            .command()
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
    pub fn addr(&self, name: &str) -> SocketAddr {
        *self.addrs.get(name).unwrap_or_else(|| panic!("no {name} listener in:\n{}", self.banner))
    }

    /// What the server logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to end; `None` if it is still running after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
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
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
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
    pub fn stop(mut self) -> ExitStatus {
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
pub struct Smtp {
    stream: Box<dyn ReadWrite>,
    input: Vec<u8>,
}

/// A byte stream [`Smtp`] runs over: plain TCP or TLS over it.
pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The most replies [`Smtp::rest`] reads while waiting for the server to close.
const MAX_REPLIES: usize = 20;

impl Smtp {
    /// A plaintext connection, with TCP_NODELAY so that each write leaves as it was made
    /// (the attack cases depend on where one write ends and the next begins).
    pub fn connect(addr: SocketAddr) -> Smtp {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Smtp { stream: Box::new(tcp), input: Vec::new() }
    }

    /// An implicit-TLS connection that trusts only the certificate in `trusted` (PEM) and
    /// asks for `server_name`; the error when the handshake fails.
    pub fn connect_tls(
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
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
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
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    /// Sends bytes as they are in exactly one `write` (one TCP segment on loopback for
    /// small writes, with TCP_NODELAY); a short write fails the test.
    pub fn send_once(&mut self, bytes: &[u8]) {
        let written = self.stream.write(bytes).unwrap();
        assert_eq!(written, bytes.len(), "a short write");
        self.stream.flush().unwrap();
    }

    /// Reads one whole reply: its code and its text (lines ended by `\n`).
    pub fn reply(&mut self) -> (u16, String) {
        self.reply_or_close()
            .unwrap_or_else(|| panic!("connection closed; read so far: {:?}", text(&self.input)))
    }

    /// [`reply`](Self::reply), or `None` when the server closed the connection (or reset
    /// it) before a reply began.
    pub fn reply_or_close(&mut self) -> Option<(u16, String)> {
        let mut text = String::new();
        loop {
            let Some(line) = self.line() else {
                assert!(text.is_empty(), "closed inside a reply: {text}");
                return None;
            };
            assert!(
                line.len() >= 3 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit),
                "not a reply line: {line:?}"
            );
            text.push_str(&line);
            text.push('\n');
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some((line[..3].parse().unwrap(), text));
            }
        }
    }

    /// Every reply until the server closes the connection (at most 20).
    pub fn rest(&mut self) -> Vec<(u16, String)> {
        let mut replies = Vec::new();
        while let Some(reply) = self.reply_or_close() {
            replies.push(reply);
            assert!(replies.len() <= MAX_REPLIES, "still open after {replies:?}");
        }
        replies
    }

    /// True when the server closes the connection without having sent a byte (a read
    /// timeout is not a close).
    pub fn closes_silently(&mut self) -> bool {
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
    pub fn expect(&mut self, code: u16) -> String {
        let (got, text) = self.reply();
        assert_eq!(got, code, "expected {code}, got: {text}");
        text
    }

    /// The next line without its CRLF; `None` at the end of the stream (or a reset, which
    /// is how a server's close after its last reply can arrive).
    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = memchr::memmem::find(&self.input, b"\r\n") {
                let line: Vec<u8> = self.input.drain(..end + 2).collect();
                return Some(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading a reply: {e}; read so far: {:?}", text(&self.input)),
            }
        }
    }
}

/// The reply codes of replies.
pub fn codes(replies: &[(u16, String)]) -> Vec<u16> {
    replies.iter().map(|(code, _)| *code).collect()
}

/// The files of a Maildir `new/` folder.
pub fn new_messages(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Delivers one message over plaintext SMTP, checking each reply.
pub fn deliver(addr: SocketAddr, from: &str, to: &str, body: &str) {
    deliver_over(Smtp::connect(addr), from, to, body);
}

/// [`deliver`] over a connection already open (after a PROXY header, say): from the
/// greeting to QUIT.
pub fn deliver_over(mut c: Smtp, from: &str, to: &str, body: &str) {
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
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `sealpost serve` as the whole-binary attack cases run it: host name and only local
/// domain `mail.test`, the test PKI's certificate for it, every listener on a free
/// loopback port, data in a temporary directory removed on drop; with
/// [`MailTestServer::start_with_user`], one login ([`MailTestServer::USER`]).
pub struct MailTestServer {
    /// The running server.
    pub server: Server,
    dir: tempfile::TempDir,
}

impl MailTestServer {
    /// The login of [`start_with_user`](Self::start_with_user).
    pub const USER: &'static str = "tester";
    /// Its password (a test secret, like the keys in tests/pki).
    pub const PASSWORD: &'static str = "test-Secret-42";

    /// The server, without users.
    pub fn start(binary: &Sealpost) -> MailTestServer {
        Self::start_inner(binary, false)
    }

    /// The server with the users file holding [`USER`](Self::USER) (made with
    /// `sealpost user add`, as a person would).
    pub fn start_with_user(binary: &Sealpost) -> MailTestServer {
        Self::start_inner(binary, true)
    }

    fn start_inner(binary: &Sealpost, user: bool) -> MailTestServer {
        let dir = tempfile::tempdir().unwrap();
        let (chain, key) = (crate::pki::pki("server-chain.pem"), crate::pki::pki("server-key.pem"));
        let mut args: Vec<&str> = FREE_PORTS.to_vec();
        args.extend(["--hostname", "mail.test", "--domain", "mail.test", "--data-dir", "data"]);
        let (chain, key) = (chain.to_str().unwrap(), key.to_str().unwrap());
        args.extend(["--cert", chain, "--key", key]);
        if user {
            binary.add_user(dir.path(), "users", Self::USER, Self::PASSWORD);
            args.extend(["--users", "users"]);
        }
        let server = binary.serve(dir.path(), &args);
        MailTestServer { server, dir }
    }

    /// The MX listener (STARTTLS offered).
    pub fn mx(&self) -> SocketAddr {
        self.server.addr("smtp")
    }

    /// The submission listener (STARTTLS, then AUTH).
    pub fn submission(&self) -> SocketAddr {
        self.server.addr("submission")
    }

    /// The messages delivered to `local@mail.test`, as stored (trace headers included).
    pub fn messages(&self, local: &str) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("data/maildir/mail.test").join(local).join("new");
        new_messages(&new).iter().map(|file| std::fs::read(file).unwrap()).collect()
    }

    /// The AUTH PLAIN payload (RFC 4616) of [`USER`](Self::USER), in base64.
    pub fn auth_plain() -> String {
        let credentials = format!("\0{}\0{}", Self::USER, Self::PASSWORD);
        sealpost_codec::sasl::encode_base64(credentials.as_bytes())
    }
}
