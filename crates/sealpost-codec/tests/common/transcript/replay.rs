//! Replaying a [`Transcript`] in the three directions, with the comparison rule (see the
//! documentation of the parent module).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use memchr::memmem;
use sealpost_codec::client::{ClientEvent, ClientSession, Envelope};
use sealpost_codec::server::{ServerEvent, ServerSession};
use sealpost_codec::{Command, ForwardPath, Mechanism, Reply};

use super::super::parse_replies;
use super::{Group, Item, Kind, MAX_ROUNDS, Transcript, verb_of};

impl Transcript {
    fn fail(&self, what: String) -> String {
        format!("{}: {what}", self.name)
    }

    /// Checks `actual` against the expected replies `range`, with the comparison rule.
    fn check_replies(&self, actual: &[Reply<'static>], upto: usize) -> Result<(), String> {
        let expected = &self.expected[..upto];
        for (got, (want, answers)) in actual.iter().zip(expected) {
            compare_reply(got, want, answers).map_err(|e| self.fail(e))?;
        }
        if actual.len() != expected.len() {
            return Err(self.fail(format!(
                "the server sent {} replies where the transcript has {}:\n  got {:?}\n  want {:?}",
                actual.len(),
                expected.len(),
                actual.iter().map(ToString::to_string).collect::<Vec<_>>(),
                expected.iter().map(|(r, _)| r.to_string()).collect::<Vec<_>>(),
            )));
        }
        Ok(())
    }

    /// Direction (a): the `C:` writes to a server session.
    pub fn run_server(&self) -> Result<(), String> {
        let mut server = ServerSession::new(self.server_config());
        let mut oracle = Oracle::default();
        oracle.flush(&mut server);
        let mut replies_so_far = 0;
        for group in &self.groups {
            match group {
                Group::C(items) => {
                    let bytes: Vec<u8> =
                        items.iter().flat_map(|&i| self.c_bytes(i).to_vec()).collect();
                    server.handle_input(&bytes);
                    oracle.drive(&mut server, &self.expected)?;
                }
                Group::S { replies, .. } => {
                    replies_so_far += replies;
                    self.check_replies(&parse_replies(&oracle.sent), replies_so_far)?;
                }
                Group::Tls => {
                    if !server.is_awaiting_tls() {
                        return Err(self.fail("the server does not wait for a handshake".into()));
                    }
                    server.tls_established();
                    oracle.drive(&mut server, &self.expected)?;
                }
            }
        }
        self.check_replies(&parse_replies(&oracle.sent), self.expected.len())?;
        self.check_messages(&oracle.messages)
    }

    /// Direction (b): the `S:` writes to a client session.
    pub fn run_client(&self) -> Result<(), String> {
        let mut client = ClientSession::new(self.client_config());
        let mut wire = ClientWire::default();
        let mut tls_pending = false;
        for group in &self.groups {
            match group {
                Group::S { bytes, first, .. } => {
                    client.handle_input(bytes);
                    while let Some(event) = client.poll_event() {
                        match &event {
                            ClientEvent::StartTls => tls_pending = true,
                            ClientEvent::SendBody => self.send_body(&mut client, *first)?,
                            ClientEvent::Closed(Err(e)) => {
                                return Err(self.fail(format!("the client failed: {e}")));
                            }
                            _ => {}
                        }
                        wire.events.push(event);
                    }
                    wire.collect(&mut client);
                }
                Group::C(items) => {
                    for &i in items {
                        if wire.all_matched() {
                            self.act(&mut client, i)?;
                            wire.collect(&mut client);
                        }
                        wire.check(self, i)?;
                    }
                }
                Group::Tls => {
                    if !std::mem::take(&mut tls_pending) {
                        return Err(self.fail("the client did not report StartTls".into()));
                    }
                    client.tls_established();
                    wire.collect(&mut client);
                }
            }
        }
        wire.finish(self, &client)
    }

    /// Direction (c): a client and a server session against each other.
    pub fn run_pair(&self) -> Result<(), String> {
        let mut client = ClientSession::new(self.client_config());
        let mut server = ServerSession::new(self.server_config());
        let mut oracle = Oracle::default();
        let mut wire = ClientWire::default();
        let mut delivered = 0;
        let mut handshakes = 0;
        let mut position = 0;
        let mut pump = |client: &mut ClientSession,
                        server: &mut ServerSession,
                        wire: &mut ClientWire,
                        position: usize|
         -> Result<(), String> {
            for _ in 0..MAX_ROUNDS {
                let mut progress = false;
                oracle.drive(server, &self.expected)?;
                if oracle.sent.len() > delivered {
                    client.handle_input(&oracle.sent[delivered..]);
                    delivered = oracle.sent.len();
                    progress = true;
                }
                while let Some(event) = client.poll_event() {
                    progress = true;
                    match &event {
                        ClientEvent::StartTls if server.is_awaiting_tls() => {
                            server.tls_established();
                            client.tls_established();
                            handshakes += 1;
                        }
                        ClientEvent::SendBody => self.send_body(client, position)?,
                        ClientEvent::Closed(Err(e)) => {
                            return Err(self.fail(format!("the client failed: {e}")));
                        }
                        _ => {}
                    }
                    wire.events.push(event);
                }
                let before = wire.sent.len();
                wire.collect(client);
                if wire.sent.len() > before {
                    server.handle_input(&wire.sent[before..]);
                    progress = true;
                }
                if !progress {
                    return Ok(());
                }
            }
            Err(self.fail("the sessions do not settle".into()))
        };
        pump(&mut client, &mut server, &mut wire, position)?;
        for i in 0..self.items.len() {
            if !matches!(self.items[i], Item::C { .. }) {
                continue;
            }
            if wire.all_matched() {
                position = i;
                self.act(&mut client, i)?;
                pump(&mut client, &mut server, &mut wire, position)?;
            }
            wire.check(self, i)?;
        }
        let expected_handshakes = self.items.iter().filter(|i| matches!(i, Item::Tls)).count();
        if handshakes != expected_handshakes {
            return Err(
                self.fail(format!("{handshakes} handshakes, {expected_handshakes} expected"))
            );
        }
        self.check_replies(&parse_replies(&oracle.sent), self.expected.len())?;
        self.check_messages(&oracle.messages)?;
        wire.finish(self, &client)
    }

    fn c_bytes(&self, i: usize) -> &[u8] {
        match &self.items[i] {
            Item::C { bytes, .. } => bytes,
            _ => &[],
        }
    }

    fn check_messages(&self, got: &[Vec<u8>]) -> Result<(), String> {
        let want = self.messages();
        if got != want {
            return Err(self.fail(format!(
                "the server delivered {:?}, the transcript has {:?}",
                got.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect::<Vec<_>>(),
                want.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect::<Vec<_>>(),
            )));
        }
        Ok(())
    }

    /// Gives the client the body that follows item `pos`.
    fn send_body(&self, client: &mut ClientSession, pos: usize) -> Result<(), String> {
        let (chunks, _) = self
            .body_after(pos)
            .ok_or_else(|| self.fail("SendBody, but no body follows".into()))?;
        for (chunk, last) in chunks {
            client.send_body(&chunk, last).map_err(|e| self.fail(format!("send_body: {e}")))?;
        }
        Ok(())
    }

    /// Calls the client API that makes the client send `C:` item `i`.
    fn act(&self, client: &mut ClientSession, i: usize) -> Result<(), String> {
        let Item::C { at, text, kind, bytes } = &self.items[i] else { return Ok(()) };
        let err =
            |e: sealpost_codec::client::ClientError| self.fail(format!("line {at} ({text}): {e}"));
        if *kind != Kind::Command {
            return Err(self.fail(format!("line {at}: the client did not send {text:?}")));
        }
        match verb_of(text).as_str() {
            "MAIL" => {
                let Ok((_, Command::Mail { reverse_path, parameters })) = Command::decode(bytes)
                else {
                    return Err(self.fail(format!("line {at}: not a MAIL command")));
                };
                let mut envelope =
                    Envelope::new(reverse_path.into_owned()).parameters(parameters.into_owned());
                let rcpts = self.commands().skip_while(|(j, _)| *j <= i);
                for (j, _) in rcpts.take_while(|(_, t)| verb_of(t) == "RCPT") {
                    if let Ok((_, Command::Rcpt { forward_path, parameters })) =
                        Command::decode(self.c_bytes(j))
                    {
                        envelope = envelope
                            .recipient_with(forward_path.into_owned(), parameters.into_owned());
                    }
                }
                if envelope.recipients.is_empty() {
                    // A refused MAIL whose RCPTs the transcript never shows: the client
                    // needs one, and never sends it.
                    envelope = envelope.recipient(ForwardPath::Postmaster);
                }
                client.send_mail(envelope).map_err(err)
            }
            "STARTTLS" => client.start_tls().map_err(err),
            "AUTH" => {
                let (user, pass, mechanism) = self.credentials(i)?;
                client.authenticate(&mechanism, &user, &pass).map_err(err)
            }
            "RSET" => client.reset().map_err(err),
            "NOOP" => client.noop().map_err(err),
            "QUIT" => {
                client.quit();
                Ok(())
            }
            _ => Err(self.fail(format!("line {at}: the client did not send {text:?} by itself"))),
        }
    }

    /// The credentials of the AUTH command at item `i`.
    fn credentials(&self, i: usize) -> Result<(String, String, Mechanism<'static>), String> {
        let Item::C { text, .. } = &self.items[i] else { unreachable!() };
        let words: Vec<&str> = text.split(' ').collect();
        let decode = |b64: &str| -> Result<Vec<u8>, String> {
            STANDARD.decode(b64).map_err(|e| self.fail(format!("bad base64 {b64}: {e}")))
        };
        let utf8 = |b: Vec<u8>| String::from_utf8(b).map_err(|e| self.fail(e.to_string()));
        match (words.get(1).map(|m| m.to_ascii_uppercase()).as_deref(), words.get(2)) {
            (Some("PLAIN"), Some(initial)) => {
                let creds = sealpost_codec::sasl::decode_plain(&decode(initial)?)
                    .map_err(|e| self.fail(e.to_string()))?;
                Ok((creds.username, creds.password.expose().clone(), Mechanism::PLAIN))
            }
            (Some("LOGIN"), None) => {
                let mut sasl = self.items[i..].iter().filter_map(|item| match item {
                    Item::C { text, kind: Kind::Sasl, .. } => Some(text.clone()),
                    _ => None,
                });
                let (Some(user), Some(pass)) = (sasl.next(), sasl.next()) else {
                    return Err(self.fail("AUTH LOGIN without two responses".into()));
                };
                Ok((utf8(decode(&user)?)?, utf8(decode(&pass)?)?, Mechanism::LOGIN))
            }
            _ => Err(self.fail(format!("the client cannot be asked for {text:?}"))),
        }
    }
}

/// Compares one reply with the transcript's (see the module documentation).
pub fn compare_reply(got: &Reply<'_>, want: &Reply<'_>, answers: &str) -> Result<(), String> {
    let context =
        || format!("got {:?}, want {:?} (reply to {answers})", got.to_string(), want.to_string());
    if got.code() != want.code() {
        return Err(format!("reply code differs: {}", context()));
    }
    if let Some(status) = want.enhanced_status()
        && got.enhanced_status() != Some(status)
    {
        return Err(format!("enhanced status code differs: {}", context()));
    }
    if (answers == "EHLO" || answers == "LHLO") && want.code().get() == 250 {
        let domain = |r: &Reply<'_>| verb_of(r.lines()[0].as_str());
        if domain(got) != domain(want) {
            return Err(format!("EHLO domain differs: {}", context()));
        }
        let keywords = |r: &Reply<'_>, sizes: bool| {
            let mut set: Vec<String> = r.lines()[1..]
                .iter()
                .map(|l| {
                    let mut words: Vec<String> =
                        l.as_str().split(' ').map(str::to_ascii_uppercase).collect();
                    match words[0].as_str() {
                        "AUTH" => words[1..].sort(),
                        "SIZE" if sizes => {}
                        _ => words.truncate(1),
                    }
                    words.join(" ")
                })
                .collect();
            set.sort();
            set
        };
        let sizes = want.lines()[1..]
            .iter()
            .any(|l| verb_of(l.as_str()) == "SIZE" && l.as_str().contains(' '));
        if keywords(got, sizes) != keywords(want, sizes) {
            return Err(format!(
                "EHLO extensions differ: got {:?}, want {:?}",
                keywords(got, sizes),
                keywords(want, sizes)
            ));
        }
    }
    Ok(())
}

/// The server's application in directions (a) and (c): decides as the transcript says.
#[derive(Default)]
struct Oracle {
    /// Everything the server sent.
    sent: Vec<u8>,
    messages: Vec<Vec<u8>>,
    current: Vec<u8>,
}

impl Oracle {
    fn flush(&mut self, server: &mut ServerSession) {
        while let Some(bytes) = server.poll_transmit() {
            self.sent.extend_from_slice(&bytes);
        }
    }

    fn drive(
        &mut self,
        server: &mut ServerSession,
        expected: &[(Reply<'static>, String)],
    ) -> Result<(), String> {
        for _ in 0..1_000_000 {
            let Some(event) = server.poll_event() else {
                self.flush(server);
                return Ok(());
            };
            match &event {
                ServerEvent::MessageChunk(bytes) => {
                    self.current.extend_from_slice(bytes);
                    continue;
                }
                ServerEvent::MessageEnd { .. } => {
                    self.messages.push(std::mem::take(&mut self.current))
                }
                ServerEvent::MessageRejected(_) | ServerEvent::Reset => {
                    self.current.clear();
                    continue;
                }
                _ => {}
            }
            // The replies queued before this decision go first on the wire.
            self.flush(server);
            let k = parse_replies(&self.sent).len();
            let next = |n: usize| {
                expected.get(k + n).map(|(r, _)| r.clone()).ok_or_else(|| {
                    format!("the server owes a reply the transcript lacks ({event:?})")
                })
            };
            let decide = |server: &mut ServerSession, reply: Reply<'static>| {
                if reply.code().is_negative() { server.reject(reply) } else { server.accept() }
            };
            match &event {
                ServerEvent::Vrfy(_) | ServerEvent::Expn(_) => server.respond(next(0)?),
                ServerEvent::MessageEnd { replies, .. } if *replies > 1 => {
                    for n in 0..*replies {
                        server.respond(next(n)?);
                    }
                }
                ServerEvent::Hello { .. }
                | ServerEvent::Mail { .. }
                | ServerEvent::Rcpt { .. }
                | ServerEvent::MessageStart { .. }
                | ServerEvent::MessageEnd { .. }
                | ServerEvent::Auth { .. }
                | ServerEvent::AuthStep { .. } => decide(server, next(0)?),
                _ => {}
            }
        }
        Err("the server does not settle".into())
    }
}

/// What a client sent, matched item by item against the transcript.
#[derive(Default)]
struct ClientWire {
    sent: Vec<u8>,
    matched: usize,
    events: Vec<ClientEvent>,
}

impl ClientWire {
    fn collect(&mut self, client: &mut ClientSession) {
        while let Some(bytes) = client.poll_transmit() {
            self.sent.extend_from_slice(&bytes);
        }
    }

    fn all_matched(&self) -> bool {
        self.matched == self.sent.len()
    }

    /// Matches `C:` item `i` at the current position.
    fn check(&mut self, t: &Transcript, i: usize) -> Result<(), String> {
        let Item::C { at, text, bytes, kind } = &t.items[i] else { return Ok(()) };
        let rest = &self.sent[self.matched..];
        let (want, len) = match kind {
            Kind::Command => {
                let want = match Command::decode_line(bytes) {
                    Ok(command) => command.to_bytes(),
                    Err(_) => bytes.clone(),
                };
                let len = memmem::find(rest, b"\r\n").map_or(rest.len(), |p| p + 2);
                (want, len)
            }
            _ => (bytes.clone(), bytes.len().min(rest.len())),
        };
        if rest[..len] != want[..] {
            return Err(t.fail(format!(
                "line {at}: the client sent {:?}, the transcript has {text:?}",
                String::from_utf8_lossy(&rest[..len])
            )));
        }
        self.matched += len;
        Ok(())
    }

    fn finish(&self, t: &Transcript, client: &ClientSession) -> Result<(), String> {
        if !self.all_matched() {
            return Err(t.fail(format!(
                "the client sent more: {:?}",
                String::from_utf8_lossy(&self.sent[self.matched..])
            )));
        }
        let quits = t.commands().last().is_some_and(|(_, c)| verb_of(c) == "QUIT");
        if quits && self.events.last() != Some(&ClientEvent::Closed(Ok(()))) {
            return Err(t.fail(format!("the client did not close cleanly: {:?}", self.events)));
        }
        if !quits && client.is_closed() {
            return Err(t.fail("the client closed".into()));
        }
        Ok(())
    }
}
