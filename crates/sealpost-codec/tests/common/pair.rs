//! A client and a server session connected in memory.

use sealpost_codec::client::{
    ClientConfig, ClientEvent, ClientSession, Envelope, TransactionResult,
};
use sealpost_codec::server::{ServerConfig, ServerSession};

use super::ServerApp;

/// Rounds of the pump before it gives up: far more than any test needs.
const MAX_ROUNDS: usize = 10_000;

/// A [`ClientSession`] and a [`ServerSession`] (with its [`ServerApp`]) talking to each
/// other. Each `poll_transmit` of one side is one `handle_input` (one write) of the other.
pub struct Pair {
    /// The client.
    pub client: ClientSession,
    /// The server.
    pub server: ServerSession,
    /// The server's application.
    pub app: ServerApp,
    /// Every client event, in order.
    pub events: Vec<ClientEvent>,
    /// Every write of the client, in order.
    pub client_writes: Vec<Vec<u8>>,
    /// Everything the server sent.
    pub server_sent: Vec<u8>,
    /// Run the TLS handshake (`tls_established` on both sides) when the client reports
    /// [`ClientEvent::StartTls`] and the server waits for it.
    pub simulate_tls: bool,
    /// Handshakes run so far.
    pub handshakes: usize,
}

impl Pair {
    /// Two fresh sessions, not yet pumped.
    pub fn new(client: ClientConfig, server: ServerConfig, app: ServerApp) -> Self {
        Pair {
            client: ClientSession::new(client),
            server: ServerSession::new(server),
            app,
            events: Vec::new(),
            client_writes: Vec::new(),
            server_sent: Vec::new(),
            simulate_tls: true,
            handshakes: 0,
        }
    }

    /// Two sessions pumped until the client is ready (greeting and EHLO done).
    pub fn ready(client: ClientConfig, server: ServerConfig, app: ServerApp) -> Self {
        let mut pair = Pair::new(client, server, app);
        let events = pair.pump();
        assert!(
            matches!(events.last(), Some(ClientEvent::Ready { .. })),
            "the client is not ready: {events:?}"
        );
        pair
    }

    /// Everything the client sent.
    pub fn client_sent(&self) -> Vec<u8> {
        self.client_writes.concat()
    }

    /// Moves bytes both ways until neither side has anything to do; returns the client
    /// events of this call.
    pub fn pump(&mut self) -> Vec<ClientEvent> {
        let start = self.events.len();
        for _ in 0..MAX_ROUNDS {
            let mut progress = false;
            self.app.drive(&mut self.server);
            while let Some(bytes) = self.server.poll_transmit() {
                progress = true;
                self.server_sent.extend_from_slice(&bytes);
                self.client.handle_input(&bytes);
            }
            while let Some(event) = self.client.poll_event() {
                progress = true;
                let start_tls = event == ClientEvent::StartTls;
                self.events.push(event);
                if start_tls && self.simulate_tls && self.server.is_awaiting_tls() {
                    // Both ends have their 220: the handshake runs here.
                    self.server.tls_established();
                    self.client.tls_established();
                    self.handshakes += 1;
                }
            }
            if let Some(bytes) = self.client.poll_transmit() {
                progress = true;
                self.server.handle_input(&bytes);
                self.client_writes.push(bytes.to_vec());
            }
            if !progress {
                return self.events[start..].to_vec();
            }
        }
        panic!("the sessions do not settle");
    }

    /// Sends one message: `send_mail`, then each chunk with `send_body` (the last one with
    /// `last`) once the client asks for the body. Returns the transaction's result.
    pub fn deliver(&mut self, envelope: Envelope, chunks: &[&[u8]]) -> TransactionResult {
        self.client.send_mail(envelope).expect("send_mail");
        let mut events = self.pump();
        if events.contains(&ClientEvent::SendBody) {
            let count = chunks.len().max(1);
            for i in 0..count {
                let chunk = chunks.get(i).copied().unwrap_or_default();
                self.client.send_body(chunk, i + 1 == count).expect("send_body");
            }
            events = self.pump();
        }
        match events.into_iter().find_map(|e| match e {
            ClientEvent::TransactionDone(result) => Some(result),
            _ => None,
        }) {
            Some(result) => result,
            None => panic!("no TransactionDone; events: {:?}", self.events),
        }
    }

    /// QUIT, and checks that both sides closed cleanly.
    pub fn quit(&mut self) {
        self.client.quit();
        let events = self.pump();
        assert_eq!(events.last(), Some(&ClientEvent::Closed(Ok(()))), "{events:?}");
        assert!(self.server.is_closed());
        assert!(self.client.is_closed());
    }
}
