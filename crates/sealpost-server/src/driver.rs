//! One connection: the shared loop of `sealpost_starttls::driver` around a
//! [`ServerSession`], the [`Handler`] asked for every decision, and graceful shutdown.
//!
//! A loop, not a second state machine: what the session knows (the HELO name, TLS, the
//! authenticated user) is read from it; what happens to a message is in
//! [`message`](self::message), the SASL steps in [`auth`](self::auth).

mod auth;
mod message;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealpost_codec::server::{CloseReason, ServerEvent, ServerSession};
use sealpost_codec::{Verb, replies};
use sealpost_starttls::driver::{DriveError, SessionDriver, Wake};
use sealpost_starttls::{MaybeTls, TlsOutcome};
use tokio::net::TcpStream;

use crate::auth::AuthExchange;
use crate::handler::{Handler, SessionInfo, Verdict};
use crate::listener::{ListenerConfig, Role, Shared, Timeouts};
use crate::summary::{session_id, summary};

use message::Transaction;

/// What the connection knows that the session does not: who and where.
pub(crate) struct Origin {
    pub(crate) id: String,
    pub(crate) peer: SocketAddr,
    pub(crate) proxy: Option<SocketAddr>,
    pub(crate) local: SocketAddr,
    pub(crate) role: Role,
}

/// Everything one connection needs.
struct Connection<H: Handler> {
    shared: Arc<Shared<H>>,
    config: ListenerConfig,
    io: SessionDriver<ServerSession, TcpStream, Timeouts>,
    origin: Origin,
    /// The TLS session of the transport (the session itself only knows that TLS is on).
    tls: Option<TlsOutcome>,
    tx: Option<Transaction<H::Sink>>,
    /// A SASL exchange of [`Handler::auth_step`] in progress.
    auth: Option<AuthExchange>,
    close_reason: Option<CloseReason>,
    messages: usize,
    rejected: usize,
    /// When shutdown started, the moment sessions must be gone.
    leave_by: Option<tokio::time::Instant>,
}

/// Serves one accepted connection to its end and logs the summary line. `peer` is the
/// client (from the PROXY header behind a load balancer), `proxy` the balancer, if any.
pub(crate) async fn serve_connection<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    proxy: Option<SocketAddr>,
    config: ListenerConfig,
    shared: Arc<Shared<H>>,
) {
    let started = Instant::now();
    let local = tcp.local_addr().unwrap_or(peer);
    let origin = Origin { id: session_id(), peer, proxy, local, role: config.role };
    let mechanisms = shared.handler.auth_mechanisms();
    let session_config =
        shared.settings.session_config(config.role, config.tls.is_some(), mechanisms);
    let session = ServerSession::new(session_config);
    let (stream, tls) = match open(tcp, &config, &shared).await {
        Ok(opened) => opened,
        Err(e) => {
            let summary = summary(&origin, None, None, started, format!("error ({e})"));
            tracing::info!("{summary}");
            shared.handler.session_ended(&summary);
            return;
        }
    };
    let timeouts = shared.settings.timeouts;
    let mut conn = Connection {
        shared: shared.clone(),
        config,
        io: SessionDriver::new(session, stream, timeouts),
        origin,
        tls,
        tx: None,
        auth: None,
        close_reason: None,
        messages: 0,
        rejected: 0,
        leave_by: None,
    };
    let result = conn.run().await;
    conn.abort_transaction().await;
    conn.io.shutdown(Duration::from_secs(1)).await;
    let result = match (&result, conn.close_reason) {
        (Err(e), _) => format!("error ({e})"),
        (Ok(()), Some(reason)) => format!("{reason:?}"),
        (Ok(()), None) => String::from("disconnected"),
    };
    let mut summary =
        summary(&conn.origin, Some(conn.io.session()), conn.tls.clone(), started, result);
    (summary.messages, summary.rejected) = (conn.messages, conn.rejected);
    tracing::info!("{summary}");
    shared.handler.session_ended(&summary);
}

/// Implicit TLS for the submissions role; plaintext otherwise.
async fn open<H: Handler>(
    tcp: TcpStream,
    config: &ListenerConfig,
    shared: &Shared<H>,
) -> io::Result<(MaybeTls<TcpStream>, Option<TlsOutcome>)> {
    if config.role != Role::Submissions {
        return Ok((MaybeTls::Plain(tcp), None));
    }
    let tls = tls_server(config, shared)?;
    let (stream, outcome) = tls.accept(tcp).await.map_err(io::Error::other)?;
    Ok((MaybeTls::from(stream), Some(outcome)))
}

fn tls_server<H>(
    config: &ListenerConfig,
    shared: &Shared<H>,
) -> io::Result<sealpost_starttls::TlsServer> {
    let tls = config.tls.clone().ok_or_else(|| io::Error::other("no TLS configured"))?;
    Ok(tls.handshake_timeout(shared.settings.timeouts.handshake))
}

impl<H: Handler> Connection<H> {
    /// What the handler is told about the session: read from the session each time, so
    /// that it cannot fall out of step (after TLS, the session forgot HELO and AUTH).
    fn info(&self) -> SessionInfo {
        let session = self.io.session();
        SessionInfo {
            id: self.origin.id.clone(),
            peer: self.origin.peer,
            proxy: self.origin.proxy,
            local: self.origin.local,
            role: self.origin.role,
            helo: session.hello_host().cloned(),
            esmtp: matches!(session.hello(), Some(Verb::Ehlo | Verb::Lhlo)),
            tls: self.tls.clone(),
            user: session.authenticated_as().map(str::to_owned),
        }
    }

    fn session(&mut self) -> &mut ServerSession {
        self.io.session_mut()
    }

    /// The loop: events to the handler until the session closes, a timeout or shutdown.
    async fn run(&mut self) -> Result<(), DriveError> {
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            if self.leave_by.is_some() && self.should_leave_now() {
                self.session().close(replies::SHUTTING_DOWN.to_reply());
            }
            let watching = self.leave_by.is_none();
            let interrupt = async {
                if watching {
                    // A closed channel means the server is gone: that is shutdown too.
                    let _ = shutdown.changed().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            match self.io.next_event_or(interrupt).await? {
                Wake::Event(event) => self.on_event(event).await?,
                Wake::Closed => return Ok(()),
                Wake::Interrupted => {
                    let leave_by =
                        tokio::time::Instant::now() + self.shared.settings.timeouts.shutdown_grace;
                    self.leave_by = Some(leave_by);
                    self.io.limit_until(Some(leave_by));
                }
                // The shutdown deadline passed: the check above closes with 4.3.2.
                Wake::TimedOut(_)
                    if self.leave_by.is_some_and(|d| tokio::time::Instant::now() >= d) => {}
                // RFC 5321 4.5.3.2: a server may close after its timeout, with 421.
                Wake::TimedOut(_) => self.session().close(replies::TIMEOUT.to_reply()),
                _ => {}
            }
        }
    }

    /// During shutdown: idle sessions leave at once, busy ones at the deadline.
    fn should_leave_now(&self) -> bool {
        let idle = self.tx.is_none() && !self.io.session().is_pending();
        idle || self.leave_by.is_some_and(|d| tokio::time::Instant::now() >= d)
    }

    fn answer(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Accept => self.session().accept(),
            Verdict::Reply(reply) => self.session().respond(reply),
        }
    }

    async fn on_event(&mut self, event: ServerEvent) -> Result<(), DriveError> {
        let handler = self.shared.handler.clone();
        match event {
            ServerEvent::Hello { host, .. } => {
                let verdict = handler.hello(&self.info(), &host).await;
                self.answer(verdict);
            }
            ServerEvent::Mail { reverse_path, parameters } => {
                let verdict = handler.mail(&self.info(), &reverse_path, &parameters).await;
                if verdict.is_accept() {
                    self.tx = Some(Transaction::new(reverse_path, parameters));
                }
                self.answer(verdict);
            }
            ServerEvent::Rcpt { forward_path, parameters } => {
                self.rcpt(forward_path, parameters).await;
            }
            ServerEvent::MessageStart { chunking } => self.start_message(chunking).await,
            ServerEvent::MessageChunk(bytes) => self.write_chunk(bytes).await,
            ServerEvent::MessageEnd { replies, .. } => self.message_end(replies).await,
            ServerEvent::MessageRejected(error) => {
                tracing::info!(session = %self.origin.id, %error, "message refused");
                self.rejected += 1;
                self.abort_transaction().await;
            }
            ServerEvent::Auth { mechanism, credentials } => {
                self.authenticate(&mechanism, &credentials).await;
            }
            ServerEvent::AuthStep { mechanism, response, initial } => {
                let response = response.as_ref().map(|r| r.expose().as_slice());
                self.auth_step(mechanism, response, initial).await;
            }
            ServerEvent::StartTls { discarded } => self.start_tls(discarded).await?,
            ServerEvent::Vrfy(text) => {
                let verdict = handler.vrfy(&self.info(), text.as_str()).await;
                self.answer(verdict);
            }
            ServerEvent::Expn(text) => {
                let verdict = handler.expn(&self.info(), text.as_str()).await;
                self.answer(verdict);
            }
            ServerEvent::Reset => self.abort_transaction().await,
            ServerEvent::Closed(reason) => self.close_reason = Some(reason),
            _ => {}
        }
        Ok(())
    }

    /// After the 220 to STARTTLS: the shared loop hands the raw stream to the TLS server
    /// (which refuses any byte read ahead of the handshake) and resets the session.
    async fn start_tls(&mut self, discarded: usize) -> Result<(), DriveError> {
        if discarded > 0 {
            tracing::warn!(session = %self.origin.id, discarded, "plaintext bytes after STARTTLS dropped");
        }
        let tls = tls_server(&self.config, &self.shared)?;
        let upgrade = |plain, buffered| async move { tls.upgrade(plain, buffered).await };
        match self.io.start_tls(upgrade).await? {
            Ok(outcome) => {
                self.tls = Some(outcome);
                self.auth = None;
                self.abort_transaction().await;
                Ok(())
            }
            Err(e) => Err(DriveError::Io(io::Error::other(e))),
        }
    }
}
