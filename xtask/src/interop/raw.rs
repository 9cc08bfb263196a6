//! A subset of the server-side attack cases of attacks.md as raw bytes against the real
//! binary: TCP_NODELAY, one `write` per `|` of the list (the whole list runs in process in
//! `crates/sealpost-server/tests/attacks.rs`). Each smuggling case sends its bytes both as
//! one write and split around the end-of-data confusion, and checks the Maildirs of the
//! real and of the smuggled recipient.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use memchr::memmem;

use super::Suite;
use super::sealpost::{PASSWORD, USER};

const PEER: &str = "raw bytes (xtask)";
/// How long a reply may take.
const READ_LIMIT: Duration = Duration::from_secs(15);
/// The longest reply accepted.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The most replies read while waiting for the server to close.
const MAX_REPLIES: usize = 20;

/// One reply: its code and its lines.
struct Reply {
    code: u16,
    text: String,
}

/// A plaintext SMTP client that writes exactly what it is given.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, READ_LIMIT)
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_LIMIT))?;
        Ok(Self { stream, buf: Vec::new() })
    }

    /// One `write` system call with all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let n = self.stream.write(bytes)?;
        if n != bytes.len() {
            bail!("a short write: {n} of {} bytes", bytes.len());
        }
        Ok(())
    }

    /// The next complete reply; None when the server closed the connection.
    fn reply(&mut self) -> Result<Option<Reply>> {
        let started = std::time::Instant::now();
        loop {
            // Bounded also against a server that trickles bytes and never ends a reply.
            if started.elapsed() > READ_LIMIT || self.buf.len() > MAX_REPLY_BYTES {
                bail!("no complete reply: {:?}", String::from_utf8_lossy(&self.buf));
            }
            if let Some(reply) = self.take_reply()? {
                return Ok(Some(reply));
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                // A reset after the server's last reply is a close too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(e).context("reading a reply"),
            }
        }
    }

    /// Takes one complete reply (lines up to one whose fourth byte is a space) off the
    /// buffer.
    fn take_reply(&mut self) -> Result<Option<Reply>> {
        let mut start = 0;
        while let Some(end) = memmem::find(&self.buf[start..], b"\r\n") {
            let line = &self.buf[start..start + end];
            start += end + 2;
            if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
                bail!("not a reply line: {:?}", String::from_utf8_lossy(line));
            }
            if line.get(3) != Some(&b'-') {
                let text = String::from_utf8_lossy(&self.buf[..start]).into_owned();
                let code = text[..3].parse().context("reply code")?;
                self.buf.drain(..start);
                return Ok(Some(Reply { code, text }));
            }
        }
        Ok(None)
    }

    fn expect(&mut self, code: u16) -> Result<Reply> {
        match self.reply()? {
            Some(reply) if reply.code == code => Ok(reply),
            Some(reply) => bail!("expected {code}, got {}", reply.text.trim_end()),
            None => bail!("expected {code}, the server closed the connection"),
        }
    }

    /// Every reply until the server closes the connection.
    fn rest(&mut self) -> Result<Vec<Reply>> {
        let mut replies = Vec::new();
        while let Some(reply) = self.reply()? {
            replies.push(reply);
            if replies.len() > MAX_REPLIES {
                bail!("more than {MAX_REPLIES} replies and still open");
            }
        }
        Ok(replies)
    }
}

fn codes(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.code).collect()
}

/// Base64 (RFC 4648) for the AUTH PLAIN payload: the codec's encoder.
fn base64(data: &[u8]) -> String {
    sealpost_client::sealpost_codec::sasl::encode_base64(data)
}

/// A smuggling case: after the body text, `sequence`, then a complete second transaction
/// for `victim`; then QUIT. Returns the reply codes after the 354.
fn smuggle(
    addr: SocketAddr,
    sequence: &[u8],
    rcpt: &str,
    victim: &str,
    split: bool,
) -> Result<Vec<u16>> {
    let mut c = Raw::connect(addr)?;
    c.expect(220)?;
    c.send(b"EHLO attacker.test\r\n")?;
    c.expect(250)?;
    // PIPELINING was offered: MAIL, RCPT and DATA may go in one write.
    c.send(
        format!("MAIL FROM:<a@attacker.test>\r\nRCPT TO:<{rcpt}@mail.test>\r\nDATA\r\n").as_bytes(),
    )?;
    for code in [250, 250, 354] {
        c.expect(code)?;
    }
    let smuggled = format!(
        "MAIL FROM:<smuggled@x.test>\r\nRCPT TO:<{victim}@mail.test>\r\nDATA\r\n\
         smuggled body\r\n.\r\n"
    );
    let body = b"body text";
    if split {
        c.send(body)?;
        c.send(sequence)?;
        c.send(smuggled.as_bytes())?;
    } else {
        c.send(&[&body[..], sequence, smuggled.as_bytes()].concat())?;
    }
    c.send(b"QUIT\r\n")?;
    Ok(codes(&c.rest()?))
}

/// The end-of-data confusions of attacks.md that contain a bare CR or LF: the default
/// (`Reject`) drains to the real end and refuses the whole transfer.
const BARE: [(&str, &[u8]); 10] = [
    ("lf", b"\n.\n"),
    ("cr", b"\r.\r"),
    ("cr-lf", b"\r.\n"),
    ("lf-cr", b"\n.\r"),
    ("lf-crlf", b"\n.\r\n"),
    ("crlf-lf", b"\r\n.\n"),
    ("cr-crlf", b"\r.\r\n"),
    ("crlf-cr", b"\r\n.\r"),
    ("crlf-cr-crlf", b"\r\n.\r\r\n"),
    ("cr-crlf-cr-crlf", b"\r\r\n.\r\r\n"),
];

/// The confusions without a bare line ending: the dot line is not the end of data (a NUL
/// is in it), so the text after it is content, and the message ends at the real end.
const NUL: [(&str, &[u8]); 2] = [("nul-dot", b"\r\n\x00.\r\n"), ("dot-nul", b"\r\n.\x00\r\n")];

fn shown(sequence: &[u8]) -> String {
    String::from_utf8_lossy(sequence).replace('\n', "\\n").replace('\r', "\\r").replace('\0', "\\0")
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    for (name, sequence) in BARE {
        let case = format!(
            "SMTP smuggling: body `{}` + a second transaction, one write and three",
            shown(sequence)
        );
        suite.case(
            PEER,
            &case,
            "one 550 for the whole transfer (bare CR/LF), then 221: the smuggled \
             MAIL/RCPT/DATA never answered; neither recipient's Maildir gets a file",
            |ctx| {
                let (rcpt, victim) = (format!("raw-{name}"), format!("raw-{name}-victim"));
                for split in [false, true] {
                    let got = smuggle(ctx.server.mx, sequence, &rcpt, &victim, split)?;
                    if got != [550, 221] {
                        bail!("replies {got:?} (split={split}), expected [550, 221]");
                    }
                }
                for local in [&rcpt, &victim] {
                    let count = ctx.server.mailbox(local).count();
                    if count != 0 {
                        bail!("{count} file(s) stored for {local}@mail.test");
                    }
                }
                Ok(String::from("[550, 221] both ways; nothing stored"))
            },
        );
    }

    for (name, sequence) in NUL {
        let case =
            format!("control: body `{}` + a second transaction (no bare CR/LF)", shown(sequence));
        suite.case(
            PEER,
            &case,
            "250 then 221; exactly one message per send, holding the smuggled commands as \
             text; nothing for the smuggled recipient",
            |ctx| {
                let (rcpt, victim) = (format!("raw-{name}"), format!("raw-{name}-victim"));
                for split in [false, true] {
                    let got = smuggle(ctx.server.mx, sequence, &rcpt, &victim, split)?;
                    if got != [250, 221] {
                        bail!("replies {got:?} (split={split}), expected [250, 221]");
                    }
                }
                let stored =
                    ctx.server.mailbox(&rcpt).with_marker("MAIL FROM:<smuggled@x.test>\r\n")?;
                let all = ctx.server.mailbox(&rcpt).count();
                let victim = ctx.server.mailbox(&victim).count();
                if stored.len() != 2 || all != 2 || victim != 0 {
                    bail!(
                        "{} message(s) with the smuggled text ({all} in all), {victim} for \
                         the victim",
                        stored.len()
                    );
                }
                Ok(String::from(
                    "[250, 221] both ways; 2 messages with the smuggled text as content; \
                     victim: none",
                ))
            },
        );
    }

    suite.case(
        PEER,
        "STARTTLS injection: `EHLO a` | `STARTTLS\\r\\nRSET\\r\\n`",
        "554 and close, no 220 and no reply to RSET",
        |ctx| {
            let mut c = Raw::connect(ctx.server.mx)?;
            c.expect(220)?;
            c.send(b"EHLO a\r\n")?;
            c.expect(250)?;
            c.send(b"STARTTLS\r\nRSET\r\n")?;
            let rest = c.rest()?;
            if codes(&rest) != [554] {
                bail!("replies {:?}, expected [554] then close", codes(&rest));
            }
            Ok(format!("{}, then closed", rest[0].text.trim_end()))
        },
    );

    suite.case(
        PEER,
        "STARTTLS injection: `EHLO a` | `STARTTLS` + AUTH PLAIN + MAIL + RCPT in one write",
        "554 and close: none of the injected commands executed",
        |ctx| {
            let mut c = Raw::connect(ctx.server.mx)?;
            c.expect(220)?;
            c.send(b"EHLO a\r\n")?;
            c.expect(250)?;
            let payload = base64(format!("\0{USER}\0{PASSWORD}").as_bytes());
            c.send(
                format!(
                    "STARTTLS\r\nAUTH PLAIN {payload}\r\nMAIL FROM:<x@y.test>\r\n\
                     RCPT TO:<raw-inject@mail.test>\r\n"
                )
                .as_bytes(),
            )?;
            let rest = c.rest()?;
            if codes(&rest) != [554] {
                bail!("replies {:?}, expected [554] then close", codes(&rest));
            }
            Ok(format!("{}, then closed", rest[0].text.trim_end()))
        },
    );

    suite.case(
        PEER,
        "STARTTLS with bare LFs: `EHLO a` | `STARTTLS\\nRSET\\n` | `NOOP\\r\\n` | `QUIT\\r\\n`",
        "a bare LF ends no line: `STARTTLS\\nRSET\\nNOOP` is one line, answered by one \
         500 5.5.2 (no 220, no 250 for RSET or NOOP); then QUIT gets 221",
        |ctx| {
            let mut c = Raw::connect(ctx.server.mx)?;
            c.expect(220)?;
            c.send(b"EHLO a\r\n")?;
            c.expect(250)?;
            c.send(b"STARTTLS\nRSET\n")?;
            std::thread::sleep(Duration::from_millis(100));
            c.send(b"NOOP\r\n")?;
            let refused = c.expect(500)?;
            if !refused.text.starts_with("500 5.5.2 ") {
                bail!("expected 500 5.5.2: {}", refused.text.trim_end());
            }
            c.send(b"QUIT\r\n")?;
            let rest = c.rest()?;
            if codes(&rest) != [221] {
                bail!("after the refused line: replies {:?}, expected [221]", codes(&rest));
            }
            Ok(format!("{}; then 221", refused.text.trim_end()))
        },
    );

    suite.case(
        PEER,
        "end of data: `.` CRLF straight after 354, then a message whose first line is `..x`",
        "the empty message (only the added headers) and a message whose body is `.x`",
        |ctx| {
            let mut c = Raw::connect(ctx.server.mx)?;
            c.expect(220)?;
            c.send(b"EHLO a\r\n")?;
            c.expect(250)?;
            for body in [&b".\r\n"[..], b"..x\r\n.\r\n"] {
                c.send(b"MAIL FROM:<a@attacker.test>\r\nRCPT TO:<raw-dots@mail.test>\r\nDATA\r\n")?;
                for code in [250, 250, 354] {
                    c.expect(code)?;
                }
                c.send(body)?;
                c.expect(250)?;
            }
            c.send(b"QUIT\r\n")?;
            c.expect(221)?;
            let stored = ctx.server.mailbox("raw-dots").messages()?;
            let texts: Vec<String> = stored.iter().map(|m| m.text()).collect();
            // The empty message is nothing but the trace headers the server adds.
            let only_trace = |t: &str| {
                t.split_terminator("\r\n").all(|line| {
                    line.starts_with("Return-Path: ")
                        || line.starts_with("Received: ")
                        || line.starts_with([' ', '\t'])
                })
            };
            let empty = texts.iter().filter(|t| only_trace(t)).count();
            let dot =
                texts.iter().filter(|t| t.ends_with("\r\n.x\r\n") && !t.contains("..x")).count();
            if texts.len() != 2 || empty != 1 || dot != 1 {
                bail!("stored {texts:?}: expected one empty message and one ending in `.x`");
            }
            Ok(String::from("2 messages: one with only the trace headers, one ending in `.x`"))
        },
    );

    suite.case(
        PEER,
        "submission port: AUTH PLAIN before STARTTLS (valid credentials)",
        "EHLO offers STARTTLS and no AUTH; AUTH answered 530 5.7.0; MAIL refused too",
        |ctx| {
            let mut c = Raw::connect(ctx.server.submission)?;
            c.expect(220)?;
            c.send(b"EHLO a\r\n")?;
            let ehlo = c.expect(250)?.text;
            if !ehlo.contains("STARTTLS") || ehlo.contains("AUTH") {
                bail!("EHLO before TLS: {ehlo}");
            }
            let payload = base64(format!("\0{USER}\0{PASSWORD}").as_bytes());
            c.send(format!("AUTH PLAIN {payload}\r\n").as_bytes())?;
            let refused = c.expect(530)?.text;
            if !refused.starts_with("530 5.7.0 ") {
                bail!("expected 530 5.7.0: {refused}");
            }
            c.send(b"MAIL FROM:<tester@mail.test>\r\n")?;
            let mail = c.reply()?.context("closed after AUTH")?;
            if mail.code / 100 != 5 {
                bail!("MAIL without TLS and AUTH: {}", mail.text.trim_end());
            }
            c.send(b"QUIT\r\n")?;
            c.expect(221)?;
            Ok(format!("{}; MAIL: {}", refused.trim_end(), mail.text.trim_end()))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, output) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(input.as_bytes()), output);
        }
        assert_eq!(base64(b"\0tester\0secret-pw"), "AHRlc3RlcgBzZWNyZXQtcHc=");
    }
}
