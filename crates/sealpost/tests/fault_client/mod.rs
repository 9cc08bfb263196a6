//! What the fault tests send: a seeded generator, messages that can be recognized and
//! checked octet for octet from their id alone, and a small blocking SMTP client whose
//! every step can fail (the server may be killed under it) instead of panicking.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memchr::memmem;

/// splitmix64: small, deterministic, good enough to pick sizes and moments.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The header that names a message; the first line of every message sent.
const ID_HEADER: &[u8] = b"X-Fault-Id: ";

/// Message `id` as the Maildir must hold it after the server's own trace headers: 100 to
/// 400 KiB, all derived from the id, with some lines starting with "." so that the
/// dot-stuffing on the wire is undone on the way in.
pub(crate) fn message(id: u64) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -";
    let mut rng = Rng(id);
    let size = 100 * 1024 + rng.below(300 * 1024) as usize;
    let mut out = Vec::with_capacity(size + 80);
    out.extend_from_slice(ID_HEADER);
    out.extend_from_slice(format!("{id:016x}\r\nSubject: fault test\r\n\r\n").as_bytes());
    let mut line = 0u64;
    while out.len() < size {
        if line.is_multiple_of(41) {
            out.push(b'.');
        }
        // Ten characters from each 64-bit draw.
        for _ in 0..8 {
            let mut bits = rng.next_u64();
            for _ in 0..10 {
                out.push(ALPHABET[(bits & 63) as usize]);
                bits >>= 6;
            }
        }
        out.extend_from_slice(b"\r\n");
        line += 1;
    }
    out
}

/// The message as sent inside DATA: dot-stuffed, with the end-of-data line.
pub(crate) fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 1000 + 8);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Splits a stored file into the id and the message after the server's trace headers
/// (`Return-Path:` first, then `Received:`); `None` if it is not one of ours.
pub(crate) fn stored_message(stored: &[u8]) -> Option<(u64, &[u8])> {
    if !stored.starts_with(b"Return-Path: <") {
        return None;
    }
    let at = memmem::find(stored, &[b"\r\n", ID_HEADER].concat())? + 2;
    let trace = &stored[..at];
    memmem::find(trace, b"\r\nReceived: ")?;
    let hex = stored.get(at + ID_HEADER.len()..at + ID_HEADER.len() + 16)?;
    let id = u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    Some((id, &stored[at..]))
}

/// One SMTP connection; every step returns an error instead of panicking.
pub(crate) struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
}

fn broken(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Conn {
    /// Connects to `addr` from the default source address.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Conn> {
        Conn::new(TcpStream::connect(addr)?)
    }

    /// Connects to `addr` from the loopback address `from` (127.0.0.2 and so on), to act
    /// as another client for the per-address limits. The standard library cannot bind
    /// before connecting; tokio's socket builder can, and hands back a std stream.
    pub(crate) fn connect_from(from: IpAddr, addr: SocketAddr) -> io::Result<Conn> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let stream = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(from, 0))?;
            socket.connect(addr).await?.into_std()
        })?;
        stream.set_nonblocking(false)?;
        Conn::new(stream)
    }

    fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, input: Vec::new() })
    }

    /// A second handle on the same connection (for reading while another thread writes).
    pub(crate) fn try_clone(&self) -> io::Result<Conn> {
        Ok(Conn { stream: self.stream.try_clone()?, input: Vec::new() })
    }

    pub(crate) fn set_read_timeout(&mut self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// One whole reply: its code and its lines (CRLF-separated). A read timeout is an
    /// error and keeps what was read so far.
    pub(crate) fn reply(&mut self) -> io::Result<(u16, String)> {
        let mut text = String::new();
        loop {
            let line = self.line()?;
            let code = line.get(..3).and_then(|c| c.parse().ok());
            let Some(code) = code else {
                return Err(broken(format!("not a reply line: {line:?}")));
            };
            text.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text));
            }
            text.push_str("\r\n");
        }
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = memmem::find(&self.input, b"\r\n") {
                let line: Vec<u8> = self.input.drain(..end + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => self.input.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Sends `line` and checks the reply code.
    fn command(&mut self, line: &str, expect: u16) -> io::Result<()> {
        self.send(line.as_bytes())?;
        match self.reply()? {
            (code, _) if code == expect => Ok(()),
            (_, text) => Err(broken(format!("{}: {text}", line.trim_end()))),
        }
    }

    /// Reads the greeting and says EHLO.
    pub(crate) fn hello(&mut self) -> io::Result<()> {
        match self.reply()? {
            (220, _) => self.ehlo(),
            (_, text) => Err(broken(format!("greeting: {text}"))),
        }
    }

    /// Says EHLO (the greeting was read already).
    pub(crate) fn ehlo(&mut self) -> io::Result<()> {
        self.command("EHLO client.test\r\n", 250)
    }

    /// MAIL, RCPT, DATA and message `id`; the reply to the end of data.
    pub(crate) fn transaction_reply(&mut self, to: &str, id: u64) -> io::Result<(u16, String)> {
        self.command("MAIL FROM:<sender@client.test>\r\n", 250)?;
        self.command(&format!("RCPT TO:<{to}>\r\n"), 250)?;
        self.command("DATA\r\n", 354)?;
        self.send(&dot_stuffed(&message(id)))?;
        self.reply()
    }

    /// Like [`Conn::transaction_reply`], counting itself in `in_data` while the data is
    /// on its way (from DATA until the final reply); the final reply code.
    pub(crate) fn transaction(
        &mut self,
        to: &str,
        id: u64,
        in_data: Option<&AtomicUsize>,
    ) -> io::Result<u16> {
        self.command("MAIL FROM:<sender@client.test>\r\n", 250)?;
        self.command(&format!("RCPT TO:<{to}>\r\n"), 250)?;
        let data = dot_stuffed(&message(id));
        self.command("DATA\r\n", 354)?;
        let _sending = in_data.map(InData::enter);
        self.send(&data)?;
        Ok(self.reply()?.0)
    }

    pub(crate) fn quit(&mut self) -> io::Result<()> {
        self.command("QUIT\r\n", 221)
    }

    /// True when the server closes the connection within five seconds (end of stream or
    /// reset); anything it still sends is skipped.
    pub(crate) fn closed(&mut self) -> bool {
        self.set_read_timeout(Duration::from_secs(5));
        let mut buf = [0u8; 1024];
        for _ in 0..1000 {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
        false
    }
}

/// Counts a client in `in_data` while alive.
struct InData<'a>(&'a AtomicUsize);

impl<'a> InData<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        InData(count)
    }
}

impl Drop for InData<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
