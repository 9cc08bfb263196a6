//! RFC transcripts (`tests/transcripts/*.txt`) replayed through the sessions.
//!
//! # File format
//!
//! - `# ...` is a comment; blank lines are ignored.
//! - `C: text` is a line the client sends, `S: text` a line the server sends. The text
//!   starts after the one space that follows the colon (`C:` alone is an empty line), and
//!   **each line gets CRLF appended**; a file therefore never holds a CR or LF of the
//!   protocol itself.
//! - Consecutive lines of one side are **one write** (one `handle_input`); a line of the
//!   other side (or a directive) ends it. A pipelined group is written as consecutive `C:`
//!   lines, its replies as consecutive `S:` lines.
//! - `C: {octets N}` inside a BDAT chunk stands for N octets of generated binary content
//!   (CR, LF, NUL, "." CRLF, 8-bit octets...) with no CRLF appended (BINARYMIME).
//! - `! tls` marks the TLS handshake: both sides call `tls_established()` there.
//! - `! server tls-required` / `! server auth-required`: server options an EHLO reply
//!   cannot show. `! only server`: the transcript runs in direction (a) only (a comment
//!   says why).
//!
//! The sessions are configured from the transcript itself: the server's hostname is the
//! first word after the 220 greeting's code, its extensions are those announced in the
//! transcript's EHLO/LHLO replies (PIPELINING, SIZE [n], 8BITMIME, CHUNKING, BINARYMIME,
//! SMTPUTF8, DSN, ENHANCEDSTATUSCODES, STARTTLS, AUTH ...; any other keyword is announced
//! as is), LHLO means LMTP; the client's name is the argument of the first EHLO/HELO/LHLO
//! and it uses BDAT only when the transcript does.
//!
//! # Directions
//!
//! - (a) [`Transcript::run_server`]: the `C:` writes go to a [`ServerSession`]; after each
//!   group of `S:` lines, everything the server sent so far must match the `S:` replies so
//!   far (so a reply that comes early or late fails too).
//! - (b) [`Transcript::run_client`]: the `S:` writes go to a [`ClientSession`], which must
//!   send the `C:` lines. The runner calls the client API the transcript implies: `MAIL`
//!   (with the `RCPT`s after it; a refused MAIL shown without any gets a `<Postmaster>`
//!   the client never sends) is `send_mail`; the message content is `send_body` when
//!   the client reports `SendBody` (one call for DATA, one per BDAT chunk); `STARTTLS`,
//!   `AUTH PLAIN`/`AUTH LOGIN` (credentials decoded from the transcript), `RSET`, `NOOP`,
//!   `QUIT` are `start_tls`, `authenticate`, `reset`, `noop`, `quit` -- each only when the
//!   client has not sent the line by itself. EHLO/HELO/LHLO, DATA and BDAT lines come from
//!   the client unasked.
//! - (c) [`Transcript::run_pair`]: the client and the server against each other, driven
//!   as in (b); both wires must match the transcript as in (a) and (b).
//!
//! In (a) and (c) the server's application decides as the transcript says: the reply the
//! transcript shows at that point accepts (2xx, 3xx) or rejects (4xx, 5xx, with that
//! reply); VRFY/EXPN and LMTP per-recipient replies are sent as written.
//!
//! # Comparison rule
//!
//! - Server replies: the same number of replies, and for each the same reply code; when
//!   the transcript's reply starts with an enhanced status code (RFC 3463), the same
//!   enhanced status code. Free text is not compared: our texts differ from the RFCs'.
//!   A reply to EHLO/LHLO also has the same domain (first word) and the same set of
//!   extension keywords (AUTH with the same mechanisms; SIZE with the same number when
//!   the transcript gives one).
//! - Client lines: command lines are compared with the transcript's line decoded and
//!   re-encoded by the codec (its canonical form: a source route the RFCs show, which
//!   RFC 5321 appendix C tells clients not to send, compares equal to the bare path);
//!   message content, SASL lines and octets byte for byte.
//! - The message content the server delivered equals the transcript's (unstuffed for
//!   DATA, concatenated chunks for BDAT).

use std::collections::VecDeque;
use std::path::Path;

use sealpost_codec::client::ClientConfig;
use sealpost_codec::server::{AuthConfig, ServerConfig, TlsOffer};
use sealpost_codec::{Capability, Mechanism, Reply};

use super::parse_replies;

mod replay;

#[allow(unused_imports)]
pub use replay::compare_reply;

/// Rounds of a pump before it gives up.
const MAX_ROUNDS: usize = 10_000;

/// A piece of message content for `send_body`, and whether it is the last.
type Chunk = (Vec<u8>, bool);

/// What a `C:` line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A command line.
    Command,
    /// A SASL response line (after a 334).
    Sasl,
    /// A line of message content (DATA or BDAT), or the final "." of DATA.
    Content,
    /// `{octets N}`: generated binary content.
    Octets(usize),
}

/// One step of a transcript.
#[derive(Debug, Clone)]
pub enum Item {
    /// A client line (or octets).
    C {
        /// Line number in the file.
        at: usize,
        /// The text after `C: `.
        text: String,
        /// The bytes on the wire.
        bytes: Vec<u8>,
        /// What it is.
        kind: Kind,
    },
    /// A server line (CRLF appended on the wire).
    S {
        /// Line number in the file.
        at: usize,
        /// The text after `S: `.
        text: String,
    },
    /// The TLS handshake.
    Tls,
}

/// A group of items that form one write, one block of replies, or a handshake.
#[derive(Debug, Clone)]
enum Group {
    C(Vec<usize>),
    S { bytes: Vec<u8>, first: usize, replies: usize },
    Tls,
}

/// A parsed transcript.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// The file name.
    pub name: String,
    /// The steps.
    pub items: Vec<Item>,
    groups: Vec<Group>,
    /// All `S:` replies, in order, with the verb each one answers.
    expected: Vec<(Reply<'static>, String)>,
    options: Vec<String>,
    /// `! only server`.
    pub server_only: bool,
}

/// The generated content for `{octets N}`: every octet value a text reader trips on.
pub fn octets(n: usize) -> Vec<u8> {
    const PATTERN: &[u8] = b"\r\n.\r\nMAIL FROM:<smuggled@x>\r\n\0\x80\xff.\r.\n\n.\r\n\r";
    PATTERN.iter().copied().cycle().take(n).collect()
}

/// Loads `tests/transcripts/<name>`.
pub fn load(name: &str) -> Transcript {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    Transcript::parse(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn verb_of(text: &str) -> String {
    text.split(' ').next().unwrap_or_default().to_ascii_uppercase()
}

impl Transcript {
    /// Parses a transcript (see the module documentation).
    pub fn parse(name: &str, text: &str) -> Result<Transcript, String> {
        let mut items = Vec::new();
        let mut options = Vec::new();
        let mut server_only = false;
        for (n, raw) in text.lines().enumerate() {
            let at = n + 1;
            let side = |rest: &str| match rest.strip_prefix(' ') {
                Some(text) => Ok(text.to_owned()),
                None if rest.is_empty() => Ok(String::new()),
                None => Err(format!("{name}:{at}: a space must follow the colon")),
            };
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            } else if let Some(rest) = raw.strip_prefix("C:") {
                let text = side(rest)?;
                let bytes = format!("{text}\r\n").into_bytes();
                items.push(Item::C { at, text, bytes, kind: Kind::Command });
            } else if let Some(rest) = raw.strip_prefix("S:") {
                items.push(Item::S { at, text: side(rest)? });
            } else if raw == "! tls" {
                items.push(Item::Tls);
            } else if raw == "! only server" {
                server_only = true;
            } else if let Some(option) = raw.strip_prefix("! server ") {
                options.push(option.to_owned());
            } else {
                return Err(format!("{name}:{at}: not a transcript line: {raw:?}"));
            }
        }
        let mut t = Transcript {
            name: name.to_owned(),
            items,
            groups: Vec::new(),
            expected: Vec::new(),
            options,
            server_only,
        };
        t.classify()?;
        t.group()?;
        Ok(t)
    }

    /// Tells content from commands, and pairs every reply with the command it answers.
    fn classify(&mut self) -> Result<(), String> {
        let name = self.name.clone();
        let lmtp = self.is_lmtp();
        // What the next replies answer, in order; the greeting answers the connection.
        let mut awaiting: VecDeque<String> = VecDeque::from(["(connect)".to_owned()]);
        let (mut in_data, mut sasl_next, mut bdat_left, mut accepted) = (false, false, 0, 0);
        let mut reply_lines: Vec<String> = Vec::new();
        for item in &mut self.items {
            match item {
                Item::C { at, text, bytes, kind } => {
                    if bdat_left > 0 {
                        let n =
                            match text.strip_prefix("{octets ").and_then(|r| r.strip_suffix('}')) {
                                Some(n) => {
                                    let n: usize = n
                                        .parse()
                                        .map_err(|_| format!("{name}:{at}: bad octets"))?;
                                    *bytes = octets(n);
                                    *kind = Kind::Octets(n);
                                    n
                                }
                                None => {
                                    *kind = Kind::Content;
                                    bytes.len()
                                }
                            };
                        bdat_left = usize::checked_sub(bdat_left, n).ok_or_else(|| {
                            format!("{name}:{at}: more octets than the BDAT size")
                        })?;
                    } else if in_data {
                        *kind = Kind::Content;
                        if text == "." {
                            in_data = false;
                            let replies = if lmtp { accepted.max(1) } else { 1 };
                            awaiting
                                .extend(std::iter::repeat_n("(end of data)".to_owned(), replies));
                        }
                    } else if sasl_next {
                        *kind = Kind::Sasl;
                        sasl_next = false;
                        awaiting.push_back("(sasl)".to_owned());
                    } else {
                        let verb = verb_of(text);
                        if verb == "MAIL" {
                            accepted = 0;
                        }
                        if verb == "BDAT" {
                            let mut words = text.split(' ').skip(1);
                            bdat_left = words
                                .next()
                                .and_then(|n| n.parse().ok())
                                .ok_or_else(|| format!("{name}:{at}: BDAT without a size"))?;
                            if words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST")) && lmtp
                            {
                                awaiting
                                    .extend(std::iter::repeat_n(verb.clone(), accepted.max(1) - 1));
                            }
                        }
                        awaiting.push_back(verb);
                    }
                }
                Item::S { at, text } => {
                    let last = text.as_bytes().get(3) != Some(&b'-');
                    reply_lines.push(text.clone());
                    if !last {
                        continue;
                    }
                    let bytes: Vec<u8> = reply_lines
                        .drain(..)
                        .flat_map(|l| format!("{l}\r\n").into_bytes())
                        .collect();
                    let reply = match Reply::decode(&bytes) {
                        Ok((b"", reply)) => reply.into_owned(),
                        _ => return Err(format!("{name}:{at}: not a reply: {bytes:?}")),
                    };
                    let answers = awaiting
                        .pop_front()
                        .ok_or_else(|| format!("{name}:{at}: a reply to no command"))?;
                    let code = reply.code().get();
                    match answers.as_str() {
                        "DATA" => in_data = code == 354,
                        "RCPT" if reply.code().is_positive() => accepted += 1,
                        _ => {}
                    }
                    sasl_next = code == 334;
                    self.expected.push((reply, answers));
                }
                Item::Tls => {}
            }
        }
        if !reply_lines.is_empty() {
            return Err(format!("{name}: the last reply is not complete"));
        }
        Ok(())
    }

    /// Cuts the items into writes, reply blocks and handshakes.
    fn group(&mut self) -> Result<(), String> {
        let mut replies_seen = 0;
        for (i, item) in self.items.iter().enumerate() {
            match (item, self.groups.last_mut()) {
                (Item::C { .. }, Some(Group::C(items))) => items.push(i),
                (Item::C { .. }, _) => self.groups.push(Group::C(vec![i])),
                (Item::S { text, .. }, Some(Group::S { bytes, .. })) => {
                    bytes.extend_from_slice(format!("{text}\r\n").as_bytes())
                }
                (Item::S { text, .. }, _) => self.groups.push(Group::S {
                    bytes: format!("{text}\r\n").into_bytes(),
                    first: i,
                    replies: 0,
                }),
                (Item::Tls, _) => self.groups.push(Group::Tls),
            }
        }
        for group in &mut self.groups {
            if let Group::S { bytes, replies, .. } = group {
                *replies = parse_replies(bytes).len();
                replies_seen += *replies;
            }
        }
        if replies_seen != self.expected.len() {
            return Err(format!("{}: replies do not add up", self.name));
        }
        Ok(())
    }

    fn is_lmtp(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item::C { text, .. } if verb_of(text) == "LHLO"))
    }

    fn commands(&self) -> impl Iterator<Item = (usize, &str)> {
        self.items.iter().enumerate().filter_map(|(i, item)| match item {
            Item::C { text, kind: Kind::Command, .. } => Some((i, text.as_str())),
            _ => None,
        })
    }

    /// The server configuration the transcript implies (see the module documentation).
    pub fn server_config(&self) -> ServerConfig {
        let hostname = self
            .expected
            .first()
            .and_then(|(r, _)| r.lines()[0].as_str().split(' ').next().map(str::to_owned))
            .unwrap_or_default();
        let mut c = ServerConfig::new(hostname);
        c.lmtp = self.is_lmtp();
        c.max_message_size = None;
        (c.pipelining, c.eight_bit_mime, c.chunking, c.binary_mime) = (false, false, false, false);
        (c.smtputf8, c.dsn, c.enhanced_status_codes) = (false, false, false);
        c.auth = None;
        c.tls = TlsOffer::None;
        let ehlo_replies = self.expected.iter().filter(|(_, v)| v == "EHLO" || v == "LHLO");
        for (reply, _) in ehlo_replies.filter(|(r, _)| r.code().get() == 250) {
            for line in &reply.lines()[1..] {
                let line = line.as_str();
                let param = line.split(' ').nth(1);
                match verb_of(line).as_str() {
                    "SIZE" => c.max_message_size = param.and_then(|n| n.parse().ok()),
                    "PIPELINING" => c.pipelining = true,
                    "8BITMIME" => c.eight_bit_mime = true,
                    "CHUNKING" => c.chunking = true,
                    "BINARYMIME" => c.binary_mime = true,
                    "SMTPUTF8" => c.smtputf8 = true,
                    "DSN" => c.dsn = true,
                    "ENHANCEDSTATUSCODES" => c.enhanced_status_codes = true,
                    "STARTTLS" => c.tls = TlsOffer::Offered,
                    "AUTH" => {
                        let mut auth = AuthConfig::default();
                        auth.mechanisms = line
                            .split(' ')
                            .skip(1)
                            .map(|m| Mechanism::new(m.to_owned()).unwrap().into_owned())
                            .collect();
                        c.auth = Some(auth);
                    }
                    _ => {
                        let capability = Capability::parse(line).into_owned();
                        if !c.extra_capabilities.contains(&capability) {
                            c.extra_capabilities.push(capability);
                        }
                    }
                }
            }
        }
        for option in &self.options {
            match option.as_str() {
                "tls-required" => c.tls = TlsOffer::Required,
                "auth-required" => c.auth.as_mut().expect("AUTH announced").required = true,
                other => panic!("{}: unknown server option {other}", self.name),
            }
        }
        c
    }

    /// The client configuration the transcript implies.
    pub fn client_config(&self) -> ClientConfig {
        let hello = self.commands().find(|(_, t)| ["EHLO", "HELO", "LHLO"].contains(&&*verb_of(t)));
        let hostname = hello.and_then(|(_, t)| t.split(' ').nth(1)).unwrap_or("client.test");
        let mut config = ClientConfig::new(hostname);
        config.lmtp = self.is_lmtp();
        config.chunking = self.commands().any(|(_, t)| verb_of(t) == "BDAT");
        config
    }

    /// The chunks of the first message body after item `pos`, and the index of its last
    /// item: DATA content unstuffed as one chunk, or the BDAT chunks.
    fn body_after(&self, pos: usize) -> Option<(Vec<Chunk>, usize)> {
        let start = (pos..self.items.len()).find(|&i| match &self.items[i] {
            Item::C { kind: Kind::Content | Kind::Octets(_), .. } => true,
            Item::C { text, kind: Kind::Command, .. } => verb_of(text) == "BDAT",
            _ => false,
        })?;
        let mut chunks = Vec::new();
        let mut i = start;
        if let Item::C { kind: Kind::Content, .. } = &self.items[start] {
            let mut content = Vec::new();
            loop {
                let Item::C { text, bytes, .. } = &self.items[i] else { unreachable!() };
                if text == "." {
                    return Some((vec![(content, true)], i));
                }
                // RFC 5321 section 4.5.2: the transcript shows the stuffed line.
                content.extend_from_slice(bytes.strip_prefix(b".").unwrap_or(bytes));
                i += 1;
            }
        }
        loop {
            let Item::C { text, .. } = &self.items[i] else {
                i += 1;
                continue;
            };
            let last = text.to_ascii_uppercase().ends_with(" LAST");
            let mut chunk = Vec::new();
            i += 1;
            while let Some(Item::C { kind: Kind::Content | Kind::Octets(_), bytes, .. }) =
                self.items.get(i)
            {
                chunk.extend_from_slice(bytes);
                i += 1;
            }
            chunks.push((chunk, last));
            if last {
                return Some((chunks, i - 1));
            }
        }
    }

    /// Every message body in the transcript, in order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((chunks, end)) = self.body_after(pos) {
            out.push(chunks.into_iter().flat_map(|(c, _)| c).collect());
            pos = end + 1;
        }
        out
    }
}
