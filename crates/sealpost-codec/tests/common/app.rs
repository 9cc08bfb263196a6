//! A scripted server application: it answers every decision of a [`ServerSession`]
//! (accepting by default), collects message content and records every event.

use std::collections::VecDeque;

use sealpost_codec::server::{CloseReason, ServerConfig, ServerEvent, ServerSession};
use sealpost_codec::{DataError, Reply};

use super::summaries;

/// A hook that may answer a decision event with a reply of its own (`None`: go on with
/// the rules).
pub type Hook = Box<dyn FnMut(&ServerEvent) -> Option<Reply<'static>>>;

/// The application behind a server session in the tests.
///
/// Decisions, in this order: the [`ServerApp::hook`], then the rules
/// ([`ServerApp::reject_mail`], [`ServerApp::reject_rcpt`], [`ServerApp::users`],
/// [`ServerApp::data_replies`]), then accept.
#[derive(Default)]
pub struct ServerApp {
    /// Answers decisions before the rules.
    pub hook: Option<Hook>,
    /// Leave decisions unanswered (the test answers them).
    pub hold: bool,
    /// `(sender, reply)`: MAIL from this sender gets this reply.
    pub mail_rules: Vec<(String, Reply<'static>)>,
    /// `(recipient, reply)`: RCPT to this recipient gets this reply.
    pub rcpt_rules: Vec<(String, Reply<'static>)>,
    /// Accepted `(user, password)` pairs; `None` accepts every credential.
    pub users: Option<Vec<(String, String)>>,
    /// Replies to the end of data, one per expected reply (LMTP: per recipient), in
    /// order; accept when empty.
    pub data_replies: VecDeque<Reply<'static>>,
    /// Every event, in order.
    pub events: Vec<ServerEvent>,
    /// The content of every message that reached its end of data.
    pub messages: Vec<Vec<u8>>,
    /// Messages the session refused after reading them to their end.
    pub rejected: Vec<DataError>,
    current: Vec<u8>,
}

impl ServerApp {
    /// An application that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// MAIL from `sender` gets `reply`.
    #[must_use]
    pub fn reject_mail(mut self, sender: &str, reply: Reply<'static>) -> Self {
        self.mail_rules.push((sender.to_ascii_lowercase(), reply));
        self
    }

    /// RCPT to `recipient` gets `reply`.
    #[must_use]
    pub fn reject_rcpt(mut self, recipient: &str, reply: Reply<'static>) -> Self {
        self.rcpt_rules.push((recipient.to_ascii_lowercase(), reply));
        self
    }

    /// Only these credentials are accepted.
    #[must_use]
    pub fn users(mut self, users: &[(&str, &str)]) -> Self {
        self.users = Some(users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect());
        self
    }

    /// Replies to the end of data, in order.
    #[must_use]
    pub fn data_replies(mut self, replies: Vec<Reply<'static>>) -> Self {
        self.data_replies = replies.into();
        self
    }

    /// Answers with a closure first.
    #[must_use]
    pub fn with_hook(
        mut self,
        hook: impl FnMut(&ServerEvent) -> Option<Reply<'static>> + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Handles events until the session needs more input (or a held decision).
    pub fn drive(&mut self, server: &mut ServerSession) {
        for _ in 0..1_000_000 {
            let Some(event) = server.poll_event() else {
                return;
            };
            self.handle(server, event);
        }
        panic!("the server session does not settle");
    }

    /// Events of one kind, for assertions.
    pub fn count(&self, pred: impl Fn(&ServerEvent) -> bool) -> usize {
        self.events.iter().filter(|e| pred(e)).count()
    }

    fn handle(&mut self, server: &mut ServerSession, event: ServerEvent) {
        self.events.push(event.clone());
        match &event {
            ServerEvent::MessageChunk(bytes) => return self.current.extend_from_slice(bytes),
            ServerEvent::Reset => return self.current.clear(),
            ServerEvent::MessageRejected(error) => {
                self.current.clear();
                return self.rejected.push(*error);
            }
            ServerEvent::MessageEnd { .. } => self.messages.push(std::mem::take(&mut self.current)),
            _ => {}
        }
        if self.hold {
            return;
        }
        if let Some(hook) = &mut self.hook
            && let Some(reply) = hook(&event)
        {
            return server.respond(reply);
        }
        let rule = |rules: &[(String, Reply<'static>)], path: String| {
            let path = path.trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();
            rules.iter().find(|(p, _)| *p == path).map(|(_, r)| r.clone())
        };
        match event {
            ServerEvent::Mail { reverse_path, .. } => {
                match rule(&self.mail_rules, reverse_path.to_string()) {
                    Some(reply) => server.reject(reply),
                    None => server.accept(),
                }
            }
            ServerEvent::Rcpt { forward_path, .. } => {
                match rule(&self.rcpt_rules, forward_path.to_string()) {
                    Some(reply) => server.reject(reply),
                    None => server.accept(),
                }
            }
            ServerEvent::MessageEnd { replies, .. } => {
                for _ in 0..replies {
                    match self.data_replies.pop_front() {
                        Some(reply) => server.respond(reply),
                        None => server.accept(),
                    }
                }
            }
            ServerEvent::Auth { credentials, .. } => {
                let ok = self.users.as_ref().is_none_or(|users| {
                    users.iter().any(|(u, p)| {
                        *u == credentials.username && p == credentials.password.expose()
                    })
                });
                if ok { server.accept() } else { server.reject_auth() }
            }
            ServerEvent::AuthStep { .. } => server.reject_auth(),
            ServerEvent::Hello { .. }
            | ServerEvent::MessageStart { .. }
            | ServerEvent::Vrfy(_)
            | ServerEvent::Expn(_) => server.accept(),
            _ => {}
        }
    }
}

/// A server session with its application, fed one write at a time.
pub struct Server {
    /// The session.
    pub session: ServerSession,
    /// Its application.
    pub app: ServerApp,
    /// Everything the server sent, greeting included.
    pub sent: Vec<u8>,
}

impl Server {
    /// Why the session closed, from its `Closed` event (`None` while it is open).
    pub fn closed_by(&self) -> Option<CloseReason> {
        self.app.events.iter().find_map(|e| match e {
            ServerEvent::Closed(reason) => Some(*reason),
            _ => None,
        })
    }

    /// A session with an accept-everything application; the greeting is in `sent`.
    pub fn new(config: ServerConfig) -> Self {
        Self::with_app(config, ServerApp::new())
    }

    /// A session with the given application.
    pub fn with_app(config: ServerConfig, app: ServerApp) -> Self {
        let mut server = Server { session: ServerSession::new(config), app, sent: Vec::new() };
        server.flush();
        server
    }

    /// One write from the client: hands it over, lets the application decide, and
    /// returns what the server sends back.
    pub fn write(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.session.handle_input(bytes);
        self.app.drive(&mut self.session);
        self.flush()
    }

    /// [`Server::write`], then the [`summaries`] of the replies.
    pub fn send(&mut self, bytes: &[u8]) -> Vec<String> {
        summaries(&self.write(bytes))
    }

    /// Several writes, one after the other; the summaries of all replies.
    pub fn send_writes(&mut self, writes: &[&[u8]]) -> Vec<String> {
        writes.iter().flat_map(|w| self.send(w)).collect()
    }

    /// EHLO, accepted; returns the EHLO reply's lines.
    pub fn ehlo(&mut self) -> Vec<String> {
        let out = self.write(b"EHLO client.test\r\n");
        let replies = super::parse_replies(&out);
        assert_eq!(replies.len(), 1, "{}", String::from_utf8_lossy(&out));
        assert_eq!(replies[0].code().get(), 250);
        replies[0].lines().iter().map(|l| l.as_str().to_owned()).collect()
    }

    /// The simulated TLS handshake after a 220 to STARTTLS.
    pub fn handshake(&mut self) {
        assert!(self.session.is_awaiting_tls(), "no STARTTLS pending");
        self.session.tls_established();
        assert!(self.session.is_tls());
        self.app.drive(&mut self.session);
        assert!(self.flush().is_empty(), "nothing is sent after the handshake");
    }

    /// What the session queued since the last call.
    pub fn flush(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.session.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        self.sent.extend_from_slice(&out);
        out
    }
}
