//! Errors of the client session.

use crate::error::ReplyError;
use crate::reply::Reply;

/// Why the client session refused a call or ended the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Bytes followed the final line of the 220 reply to STARTTLS. A server that is
    /// honest does not send them; a man in the middle does, hoping they are read as
    /// replies after the handshake ("STARTTLS response injection"). The session is over.
    #[error("{trailing} bytes followed the 220 reply to STARTTLS (response injection); aborting")]
    ResponseInjection {
        /// How many bytes.
        trailing: usize,
    },
    /// The first octets from the server are a TLS record, not a greeting: the port
    /// speaks implicit TLS (RFC 8314). Connect with implicit TLS instead.
    #[error("the server speaks TLS before any greeting: it is an implicit-TLS port")]
    TlsBeforeGreeting,
    /// The server sent something that is not a reply.
    #[error("malformed reply from the server: {0}")]
    MalformedReply(ReplyError),
    /// A reply line was longer than the limit.
    #[error("reply line longer than {limit} octets")]
    ReplyTooLong {
        /// The limit.
        limit: usize,
    },
    /// A reply the protocol does not allow here (for example a 554 greeting).
    #[error("unexpected reply to {context}: {reply}")]
    UnexpectedReply {
        /// What the reply answered.
        context: &'static str,
        /// The reply.
        reply: Reply<'static>,
    },
    /// The server closed the connection (end of stream, see
    /// [`ClientSession::handle_eof`](super::ClientSession::handle_eof)) while a reply was
    /// outstanding.
    #[error("the server closed the connection")]
    ConnectionClosed,
    /// The server closed the session (421).
    #[error("the server closed the session: {0}")]
    ServiceClosing(Reply<'static>),
    /// The operation needs an extension the server did not announce.
    #[error("the server does not announce {0}")]
    NotOffered(&'static str),
    /// The message is larger than the server's announced SIZE.
    #[error("message of {size} octets exceeds the server's SIZE limit of {limit}")]
    MessageTooLarge {
        /// The declared size.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// AUTH over a connection without TLS: refused, credentials must not cross in the clear.
    #[error("AUTH refused: the connection is not protected by TLS")]
    AuthWithoutTls,
    /// REQUIRETLS asked for, but the session is not under TLS.
    #[error("REQUIRETLS needs a TLS session")]
    RequireTlsWithoutTls,
    /// The message content holds a NUL octet and is not BINARYMIME
    /// ([`ClientConfig::nul_octets`](super::ClientConfig::nul_octets) is `Reject`).
    /// Nothing of the chunk that held it was sent, and the session is over: DATA cannot
    /// be abandoned, so the connection must be closed without an end of data, and the
    /// server discards what it got.
    #[error("the message holds a NUL octet (offset {offset}); not sent")]
    NulInContent {
        /// Offset in the content as given to `send_body`, from its first octet.
        offset: u64,
    },
    /// The call does not fit the session's state (a programming error of the caller).
    #[error("not possible now: {0}")]
    InvalidState(&'static str),
}
