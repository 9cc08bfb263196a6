//! One connection: drive a [`ServerSession`] over the transport, ask the [`Handler`],
//! enforce timeouts and shutdown. Kept thin: protocol rules live in the session.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sealpost_codec::server::{CloseReason, ServerEvent, ServerSession};
use sealpost_codec::{EnhancedStatusCode, Reply, ReplyCode, Verb};
use sealpost_starttls::MaybeTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::handler::{Envelope, Handler, MessageSink, SessionInfo, Verdict};
use crate::listener::{ListenerConfig, Role, Shared};
use crate::summary::SessionSummary;

/// Read buffer per connection: small, since idle connections must stay cheap.
const READ_BUFFER: usize = 8 * 1024;

/// A short, unique session id: seconds since the epoch and a counter, in hex.
fn session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs:x}{n:05x}")
}

fn reply(code: ReplyCode, status: (u8, u16, u16), text: &str) -> Reply<'static> {
    let (class, subject, detail) = status;
    Reply::sanitized(code, Some(EnhancedStatusCode::new(class, subject, detail)), text)
}

/// The transaction in progress.
struct Transaction<S> {
    envelope: Envelope,
    sink: Option<S>,
    /// The data cannot be stored: the verdict to give at its end.
    failure: Option<Verdict>,
}

/// Everything one connection needs.
struct Connection<H: Handler> {
    shared: Arc<Shared<H>>,
    config: ListenerConfig,
    stream: Option<MaybeTls<TcpStream>>,
    session: ServerSession,
    info: SessionInfo,
    tx: Option<Transaction<H::Sink>>,
    close_reason: Option<CloseReason>,
    messages: usize,
    rejected: usize,
    /// When shutdown started, the moment sessions must be gone.
    deadline: Option<tokio::time::Instant>,
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
    let info = SessionInfo {
        id: session_id(),
        peer,
        proxy,
        local,
        role: config.role,
        helo: None,
        esmtp: false,
        tls: None,
        user: None,
    };
    let session_config = shared.settings.session_config(config.role, config.tls.is_some());
    let mut conn = Connection {
        shared: shared.clone(),
        config,
        stream: None,
        session: ServerSession::new(session_config),
        info,
        tx: None,
        close_reason: None,
        messages: 0,
        rejected: 0,
        deadline: None,
    };
    let result = match conn.open(tcp).await {
        Ok(()) => conn.run().await,
        Err(e) => Err(e),
    };
    conn.abort_transaction().await;
    if let Some(stream) = conn.stream.as_mut() {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    }
    let summary = SessionSummary {
        id: conn.info.id.clone(),
        peer,
        proxy,
        role: conn.info.role,
        helo: conn.info.helo.as_ref().map(ToString::to_string),
        tls: conn.info.tls.clone(),
        user: conn.info.user.clone(),
        messages: conn.messages,
        rejected: conn.rejected,
        duration: started.elapsed(),
        result: match (&result, conn.close_reason) {
            (Err(e), _) => format!("error ({e})"),
            (Ok(()), Some(reason)) => format!("{reason:?}"),
            (Ok(()), None) => String::from("disconnected"),
        },
    };
    tracing::info!("{summary}");
    shared.handler.session_ended(&summary);
}

impl<H: Handler> Connection<H> {
    /// Implicit TLS for the submissions role; plaintext otherwise.
    async fn open(&mut self, tcp: TcpStream) -> io::Result<()> {
        if self.config.role != Role::Submissions {
            self.stream = Some(MaybeTls::Plain(tcp));
            return Ok(());
        }
        let tls = self.tls_server()?;
        match tls.accept(tcp).await {
            Ok((stream, outcome)) => {
                self.info.tls = Some(outcome);
                self.stream = Some(MaybeTls::from(stream));
                Ok(())
            }
            Err(e) => Err(io::Error::other(e)),
        }
    }

    fn tls_server(&self) -> io::Result<sealpost_starttls::TlsServer> {
        let tls = self.config.tls.clone().ok_or_else(|| io::Error::other("no TLS configured"))?;
        Ok(tls.handshake_timeout(self.shared.settings.timeouts.handshake))
    }

    fn stream(&mut self) -> io::Result<&mut MaybeTls<TcpStream>> {
        self.stream.as_mut().ok_or_else(|| io::Error::other("connection already closed"))
    }

    /// Writes every queued reply; true when there was one.
    async fn flush(&mut self) -> io::Result<bool> {
        let timeout = self.shared.settings.timeouts.write;
        let mut wrote = false;
        while let Some(out) = self.session.poll_transmit() {
            wrote = true;
            let stream = self.stream()?;
            match tokio::time::timeout(timeout, async {
                stream.write_all(&out).await?;
                stream.flush().await
            })
            .await
            {
                Ok(result) => result?,
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
            }
        }
        Ok(wrote)
    }

    /// The read loop.
    ///
    /// The command timeout is a deadline for a whole command, not for each read: a client
    /// that trickles a line in an octet at a time (slow loris) must not keep its session,
    /// and RFC 5321 section 4.5.3.2 gives the timeouts per command. The deadline starts
    /// when the server waits for a command and is renewed only when one was handled (an
    /// event or a reply). Inside DATA the timeout stays per read, as the RFC's "data
    /// block" timeout is.
    async fn run(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; READ_BUFFER];
        let mut shutdown = self.shared.shutdown.clone();
        let mut command_deadline = None;
        loop {
            let mut progressed = false;
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.on_event(event).await?;
            }
            progressed |= self.flush().await?;
            if self.session.is_closed() {
                return Ok(());
            }
            if self.deadline.is_some() && self.should_leave_now() {
                self.session.close(reply(
                    ReplyCode::SERVICE_NOT_AVAILABLE,
                    (4, 3, 2),
                    "Shutting down; try again later",
                ));
                continue;
            }
            let in_data = self.tx.as_ref().is_some_and(|t| t.sink.is_some() || t.failure.is_some());
            let timeouts = self.shared.settings.timeouts;
            let now = tokio::time::Instant::now();
            if in_data || progressed {
                command_deadline = None;
            }
            let wait = if in_data {
                now + timeouts.data
            } else {
                *command_deadline.get_or_insert(now + timeouts.command)
            };
            let wait_until = match self.deadline {
                Some(deadline) => deadline.min(wait),
                None => wait,
            };
            let watching = self.deadline.is_none();
            let stream = self.stream()?;
            let read = tokio::select! {
                read = tokio::time::timeout_at(wait_until, stream.read(&mut buf)) => Some(read),
                // A closed channel means the server is gone: that is shutdown too.
                _ = shutdown.changed(), if watching => None,
            };
            if read.is_none() {
                self.deadline = Some(tokio::time::Instant::now() + timeouts.shutdown_grace);
            }
            match read {
                None => continue,
                // The shutdown deadline passed: the check above closes with 4.3.2.
                Some(Err(_)) if self.deadline.is_some_and(|d| tokio::time::Instant::now() >= d) => {
                    continue;
                }
                Some(Err(_)) => {
                    // RFC 5321 4.5.3.2: a server may close after its timeout, with 421.
                    self.session.close(reply(
                        ReplyCode::SERVICE_NOT_AVAILABLE,
                        (4, 4, 2),
                        "Timeout; closing",
                    ));
                }
                Some(Ok(Ok(0))) => return Ok(()),
                Some(Ok(Ok(n))) => self.session.handle_input(&buf[..n]),
                Some(Ok(Err(e))) => return Err(e),
            }
        }
    }

    /// During shutdown: idle sessions leave at once, busy ones at the deadline.
    fn should_leave_now(&self) -> bool {
        let idle = self.tx.is_none() && !self.session.is_pending();
        idle || self.deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
    }

    fn answer(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Accept => self.session.accept(),
            Verdict::Reply(reply) => self.session.respond(reply),
        }
    }

    async fn on_event(&mut self, event: ServerEvent) -> io::Result<()> {
        let handler = self.shared.handler.clone();
        match event {
            ServerEvent::Hello { verb, host } => {
                let verdict = handler.hello(&self.info, &host).await;
                if verdict.is_accept() {
                    self.info.helo = Some(host);
                    self.info.esmtp = verb != Verb::Helo;
                }
                self.answer(verdict);
            }
            ServerEvent::Mail { reverse_path, parameters } => {
                let verdict = handler.mail(&self.info, &reverse_path, &parameters).await;
                if verdict.is_accept() {
                    let envelope = Envelope {
                        reverse_path,
                        mail_parameters: parameters,
                        recipients: Vec::new(),
                    };
                    self.tx = Some(Transaction { envelope, sink: None, failure: None });
                }
                self.answer(verdict);
            }
            ServerEvent::Rcpt { forward_path, parameters } => {
                let Some(tx) = self.tx.as_mut() else {
                    self.session.respond(reply(
                        ReplyCode::LOCAL_ERROR,
                        (4, 3, 0),
                        "No transaction",
                    ));
                    return Ok(());
                };
                let verdict =
                    handler.rcpt(&self.info, &tx.envelope, &forward_path, &parameters).await;
                if verdict.is_accept() {
                    tx.envelope.recipients.push((forward_path, parameters));
                }
                self.answer(verdict);
            }
            ServerEvent::DataStart => match self.open_sink().await {
                None => self.session.accept(),
                Some(verdict) => self.answer(verdict),
            },
            ServerEvent::MessageChunk(bytes) => {
                // BDAT has no DataStart: the first chunk opens the sink.
                if self.tx.as_ref().is_some_and(|t| t.sink.is_none() && t.failure.is_none())
                    && let Some(verdict) = self.open_sink().await
                    && let Some(tx) = self.tx.as_mut()
                {
                    tx.failure = Some(verdict);
                }
                self.write_chunk(bytes).await;
            }
            ServerEvent::MessageEnd { replies, .. } => self.message_end(replies).await,
            ServerEvent::MessageRejected(error) => {
                tracing::info!(session = %self.info.id, %error, "message refused");
                self.rejected += 1;
                self.abort_transaction().await;
            }
            ServerEvent::Auth { mechanism, credentials } => {
                let ip = self.info.peer.ip();
                if self.shared.auth_failures.blocked(ip) {
                    self.session.close(reply(
                        ReplyCode::SERVICE_NOT_AVAILABLE,
                        (4, 7, 0),
                        "Too many authentication failures; try again later",
                    ));
                    return Ok(());
                }
                match handler.authenticate(&self.info, &mechanism, &credentials).await {
                    Some(user) => {
                        tracing::info!(session = %self.info.id, %user, "authenticated");
                        self.info.user = Some(user);
                        self.session.accept();
                    }
                    None => {
                        tracing::info!(session = %self.info.id, user = %credentials.username, "authentication failed");
                        self.shared.auth_failures.record(ip);
                        self.session.reject_auth();
                    }
                }
            }
            ServerEvent::AuthStep { .. } => {
                let refusal = reply(
                    ReplyCode::new(504).unwrap_or(ReplyCode::LOCAL_ERROR),
                    (5, 5, 4),
                    "Mechanism not supported",
                );
                self.session.respond(refusal);
            }
            ServerEvent::StartTls { discarded } => self.start_tls(discarded).await?,
            ServerEvent::Vrfy(text) => {
                let verdict = handler.vrfy(&self.info, text.as_str()).await;
                self.answer(verdict);
            }
            ServerEvent::Expn(_) => {
                let refusal = reply(
                    ReplyCode::new(502).unwrap_or(ReplyCode::LOCAL_ERROR),
                    (5, 5, 1),
                    "EXPN not available",
                );
                self.session.respond(refusal);
            }
            ServerEvent::Reset => self.abort_transaction().await,
            ServerEvent::Closed(reason) => self.close_reason = Some(reason),
            _ => {}
        }
        Ok(())
    }

    /// Opens the handler's sink and writes the Received header into it. `Some(verdict)`
    /// when the handler refused.
    async fn open_sink(&mut self) -> Option<Verdict> {
        let handler = self.shared.handler.clone();
        let hostname = self.shared.settings.session.hostname.clone();
        let lmtp = self.shared.settings.session.lmtp;
        let tx = self.tx.as_mut()?;
        match handler.open_message(&self.info, &tx.envelope).await {
            Ok(mut sink) => {
                let header = crate::headers::received(&self.info, &tx.envelope, &hostname, lmtp);
                if sink.write(Bytes::from(header)).await.is_err() {
                    sink.abort().await;
                    return Some(local_error());
                }
                tx.sink = Some(sink);
                None
            }
            Err(verdict) => Some(verdict),
        }
    }

    async fn write_chunk(&mut self, bytes: Bytes) {
        let Some(tx) = self.tx.as_mut() else { return };
        let Some(sink) = tx.sink.as_mut() else { return };
        if let Err(e) = sink.write(bytes).await {
            tracing::warn!(session = %self.info.id, error = %e, "cannot store the message");
            if let Some(sink) = tx.sink.take() {
                sink.abort().await;
            }
            tx.failure = Some(local_error());
        }
    }

    async fn message_end(&mut self, replies: usize) {
        if self.tx.as_ref().is_some_and(|t| t.sink.is_none() && t.failure.is_none())
            && let Some(verdict) = self.open_sink().await
            && let Some(tx) = self.tx.as_mut()
        {
            tx.failure = Some(verdict);
        }
        let Some(tx) = self.tx.take() else {
            for _ in 0..replies {
                self.session.respond(reply(ReplyCode::LOCAL_ERROR, (4, 3, 0), "No transaction"));
            }
            return;
        };
        let verdicts = match (tx.failure, tx.sink) {
            (Some(failure), sink) => {
                if let Some(sink) = sink {
                    sink.abort().await;
                }
                vec![failure]
            }
            (None, Some(sink)) => sink.commit().await,
            (None, None) => vec![local_error()],
        };
        let accepted = verdicts.iter().any(Verdict::is_accept);
        if accepted {
            self.messages += 1;
        } else {
            self.rejected += 1;
        }
        let fallback = verdicts.last().cloned().unwrap_or_else(local_error);
        let verdicts: Vec<Verdict> =
            (0..replies).map(|i| verdicts.get(i).unwrap_or(&fallback).clone()).collect();
        for (i, verdict) in verdicts.iter().enumerate() {
            match verdict {
                // The session's accept() answers every reply still owed (in LMTP, every
                // recipient left): right only when they all accept.
                Verdict::Accept if verdicts[i..].iter().all(|v| *v == Verdict::Accept) => {
                    self.session.accept();
                    break;
                }
                Verdict::Accept => {
                    self.session.respond(reply(ReplyCode::OK, (2, 0, 0), "Ok: message accepted"));
                }
                Verdict::Reply(r) => self.session.respond(r.clone()),
            }
        }
    }

    async fn abort_transaction(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Some(sink) = tx.sink
        {
            sink.abort().await;
        }
    }

    /// After the 220 to STARTTLS: hand the raw stream to the TLS server.
    async fn start_tls(&mut self, discarded: usize) -> io::Result<()> {
        if discarded > 0 {
            tracing::warn!(session = %self.info.id, discarded, "plaintext bytes after STARTTLS dropped");
        }
        self.flush().await?;
        let tls = self.tls_server()?;
        let plain = match self.stream.take().map(MaybeTls::into_plain) {
            Some(Ok(plain)) => plain,
            Some(Err(tls_stream)) => {
                self.stream = Some(tls_stream);
                return Err(io::Error::other("STARTTLS under TLS"));
            }
            None => return Err(io::Error::other("connection already closed")),
        };
        // The session already refused (or dropped) bytes that followed STARTTLS.
        let (stream, outcome) = tls.upgrade(plain, 0).await.map_err(io::Error::other)?;
        self.stream = Some(MaybeTls::from(stream));
        self.abort_transaction().await;
        self.info.tls = Some(outcome);
        self.info.helo = None;
        self.info.esmtp = false;
        self.info.user = None;
        self.session.tls_established();
        Ok(())
    }
}

fn local_error() -> Verdict {
    Verdict::reject(451, (4, 3, 0), "Local error in processing; try again later")
}
