//! What the application decides: the [`Handler`] trait and the types it sees.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use sealpost_codec::replies;
use sealpost_codec::sasl::Credentials;
use sealpost_codec::{
    EnhancedStatusCode, ForwardPath, Host, MailParameters, Mechanism, RcptParameters, Reply,
    ReplyCode, ReversePath,
};
use sealpost_starttls::TlsOutcome;

use crate::auth::{AuthExchange, AuthStep};
use crate::listener::Role;

/// The answer to one decision: the session's default positive reply, or a reply of the
/// handler's choosing (its code decides the effect).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Accept with the session's default reply.
    Accept,
    /// Answer with this reply.
    Reply(Reply<'static>),
}

impl Verdict {
    /// A refusal with an enhanced status code, such as
    /// `Verdict::reject(550, (5, 7, 1), "Relaying denied")`. A code outside 2xx-5xx is a
    /// programming error and becomes 451.
    pub fn reject(code: u16, status: (u8, u16, u16), text: &str) -> Verdict {
        let (class, subject, detail) = status;
        let code = ReplyCode::new(code).unwrap_or(ReplyCode::LOCAL_ERROR);
        let status = EnhancedStatusCode::new(class, subject, detail);
        Verdict::Reply(Reply::sanitized(code, Some(status), text))
    }

    /// True when this verdict accepts (default, or a 2xx/3xx reply).
    pub fn is_accept(&self) -> bool {
        match self {
            Verdict::Accept => true,
            Verdict::Reply(r) => !r.code().is_negative(),
        }
    }
}

/// One of the codec's named replies: `Verdict::from(replies::RELAYING_DENIED)`.
impl From<replies::StandardReply> for Verdict {
    fn from(reply: replies::StandardReply) -> Self {
        Verdict::Reply(reply.to_reply())
    }
}

/// What is known about the session when a decision is asked for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionInfo {
    /// A short id for logs and Received headers.
    pub id: String,
    /// The client's address. Behind a load balancer that sends the PROXY protocol (see
    /// [`ProxyPolicy`](crate::ProxyPolicy)), the address from its header.
    pub peer: SocketAddr,
    /// The load balancer's address (the TCP peer), when `peer` came from a PROXY header;
    /// `None` when the TCP peer is the client (no PROXY protocol on the listener, or a
    /// header that names no client: v1 `UNKNOWN`, v2 `LOCAL`).
    pub proxy: Option<SocketAddr>,
    /// Our address.
    pub local: SocketAddr,
    /// The listener's role.
    pub role: Role,
    /// The EHLO/HELO argument, once given.
    pub helo: Option<Host<'static>>,
    /// True when the client used EHLO (or LHLO).
    pub esmtp: bool,
    /// The TLS session, once established.
    pub tls: Option<TlsOutcome>,
    /// The authenticated user, after AUTH.
    pub user: Option<String>,
}

/// The envelope of the current transaction.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Envelope {
    /// MAIL FROM.
    pub reverse_path: ReversePath<'static>,
    /// MAIL parameters.
    pub mail_parameters: MailParameters<'static>,
    /// Accepted recipients, in order.
    pub recipients: Vec<(ForwardPath<'static>, RcptParameters<'static>)>,
}

/// Where a message goes while it arrives. Created by [`Handler::open_message`] once the
/// server has decided to read the data; fed the content in order; then committed (the
/// handler must answer only after the message is durable) or aborted.
pub trait MessageSink: Send {
    /// Appends content. An error aborts the transaction with "451 4.3.0".
    fn write(&mut self, chunk: Bytes) -> impl Future<Output = std::io::Result<()>> + Send;

    /// The whole message has arrived: store it durably and answer. In LMTP mode, return
    /// one verdict per accepted recipient, in order; in SMTP mode, one.
    fn commit(self) -> impl Future<Output = Vec<Verdict>> + Send;

    /// The message was refused or the connection ended: remove any partial state.
    fn abort(self) -> impl Future<Output = ()> + Send;
}

/// The application's decisions. Every method has a safe default except the ones a
/// server cannot do without: where messages go ([`Handler::open_message`]).
pub trait Handler: Send + Sync + 'static {
    /// The sink type for message content.
    type Sink: MessageSink;

    /// EHLO/HELO/LHLO. Default: accept.
    fn hello(&self, info: &SessionInfo, host: &Host<'_>) -> impl Future<Output = Verdict> + Send {
        let _ = (info, host);
        async { Verdict::Accept }
    }

    /// MAIL FROM. Default: accept.
    fn mail(
        &self,
        info: &SessionInfo,
        reverse_path: &ReversePath<'_>,
        parameters: &MailParameters<'_>,
    ) -> impl Future<Output = Verdict> + Send {
        let _ = (info, reverse_path, parameters);
        async { Verdict::Accept }
    }

    /// RCPT TO. Default: refuse ("550 5.7.1"): a server must know what it accepts mail for.
    fn rcpt(
        &self,
        info: &SessionInfo,
        envelope: &Envelope,
        forward_path: &ForwardPath<'_>,
        parameters: &RcptParameters<'_>,
    ) -> impl Future<Output = Verdict> + Send {
        let _ = (info, envelope, forward_path, parameters);
        async { Verdict::from(replies::RECIPIENT_NOT_ACCEPTED) }
    }

    /// Opens a sink for the message of `envelope` (after DATA's 354, or the first BDAT).
    /// `Err` refuses the data with that verdict.
    fn open_message(
        &self,
        info: &SessionInfo,
        envelope: &Envelope,
    ) -> impl Future<Output = Result<Self::Sink, Verdict>> + Send;

    /// AUTH credentials (PLAIN or LOGIN). `Some(user)` accepts as that user; `None`
    /// refuses with "535 5.7.8". Default: refuse.
    fn authenticate(
        &self,
        info: &SessionInfo,
        mechanism: &Mechanism<'_>,
        credentials: &Credentials,
    ) -> impl Future<Output = Option<String>> + Send {
        let _ = (info, mechanism, credentials);
        async { None }
    }

    /// The SASL mechanisms this handler can complete, announced in EHLO (under TLS) in
    /// this order. PLAIN and LOGIN go to [`Handler::authenticate`]; any other to
    /// [`Handler::auth_step`]. Default: PLAIN and LOGIN.
    fn auth_mechanisms(&self) -> Vec<Mechanism<'static>> {
        vec![Mechanism::PLAIN, Mechanism::LOGIN]
    }

    /// One step of a mechanism other than PLAIN and LOGIN (XOAUTH2, SCRAM-SHA-256, ...):
    /// `response` is the client's decoded response (`None` when AUTH came without an
    /// initial response); `exchange` says which mechanism and step, and keeps the
    /// handler's state between steps. Answer with a challenge, a success (the identity)
    /// or a failure. Default: failure.
    fn auth_step(
        &self,
        info: &SessionInfo,
        exchange: &mut AuthExchange,
        response: Option<&[u8]>,
    ) -> impl Future<Output = AuthStep> + Send {
        let _ = (info, exchange, response);
        async { AuthStep::Failure }
    }

    /// VRFY. Default: the session's "252 2.1.5 Cannot verify".
    fn vrfy(&self, info: &SessionInfo, argument: &str) -> impl Future<Output = Verdict> + Send {
        let _ = (info, argument);
        async { Verdict::Accept }
    }

    /// EXPN, when the session configuration enables it (`disable_expn: false`).
    /// [`Verdict::Accept`] answers "252 2.1.5". Default: "502 5.5.1 EXPN not available"
    /// (lists of addresses are for spammers to harvest).
    fn expn(&self, info: &SessionInfo, argument: &str) -> impl Future<Output = Verdict> + Send {
        let _ = (info, argument);
        async { Verdict::Reply(replies::EXPN_NOT_AVAILABLE.to_reply()) }
    }

    /// The Received header (RFC 5321 section 4.4) put before the message: `header` is
    /// the one the server built ([`headers::received`](crate::headers::received), CRLF
    /// ended and folded). Return it, another (it must be a CRLF-ended header field), or
    /// `None` to add none. Default: `header`.
    fn received_header(
        &self,
        info: &SessionInfo,
        envelope: &Envelope,
        header: String,
    ) -> Option<String> {
        let _ = (info, envelope);
        Some(header)
    }

    /// Called once when a session ends, with its summary (for logs and metrics).
    fn session_ended(&self, summary: &crate::summary::SessionSummary) {
        let _ = summary;
    }
}
