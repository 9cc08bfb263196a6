//! What a [`super::ServerSession`] reports to the application.

use bytes::Bytes;

use crate::command::{Mechanism, Verb};
use crate::data::DataError;
use crate::esmtp::{MailParameters, RcptParameters};
use crate::sasl::Credentials;
use crate::secret::Secret;
use crate::types::domain::Host;
use crate::types::path::{ForwardPath, ReversePath};
use crate::types::text::Text;

/// An event of the server session. Events marked *decision* block the session until the
/// application answers with [`super::ServerSession::accept`],
/// [`super::ServerSession::reject`] or [`super::ServerSession::respond`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// *Decision.* EHLO, HELO or LHLO. Accepting sends the EHLO reply the session builds
    /// from its configuration and state.
    Hello {
        /// Which greeting command.
        verb: Verb,
        /// Its argument.
        host: Host<'static>,
    },
    /// *Decision.* `MAIL FROM:`, already checked against the announced extensions.
    Mail {
        /// The sender.
        reverse_path: ReversePath<'static>,
        /// Its parameters.
        parameters: MailParameters<'static>,
    },
    /// *Decision.* `RCPT TO:`, already checked against the recipient limit.
    Rcpt {
        /// The recipient.
        forward_path: ForwardPath<'static>,
        /// Its parameters.
        parameters: RcptParameters<'static>,
    },
    /// *Decision.* The message content is about to come, for DATA and BDAT alike: open
    /// where it goes here. For DATA (with at least one accepted recipient) accepting
    /// sends 354. For the first BDAT chunk of the transaction accepting reads the chunk;
    /// refusing reads it to its end, answers with the refusal and ends the transaction.
    MessageStart {
        /// True for BDAT (RFC 3030), false for DATA.
        chunking: bool,
    },
    /// Message content (DATA, unstuffed; or BDAT), in order, after
    /// [`ServerEvent::MessageStart`].
    MessageChunk(Bytes),
    /// *Decision.* The whole message has arrived (end of data, or BDAT LAST). Accepting
    /// means it is stored: answer only after it is durable. In LMTP mode answer once per
    /// accepted recipient, in order.
    MessageEnd {
        /// Message size in octets.
        size: u64,
        /// The number of replies expected (accepted recipients in LMTP, else 1).
        replies: usize,
    },
    /// The message was refused by the session (bare CR/LF, size) after reading it to its
    /// real end; the reply is already queued. Drop any chunks received.
    MessageRejected(DataError),
    /// *Decision.* AUTH PLAIN or LOGIN credentials to check. Accepting (with
    /// [`super::ServerSession::accept`]) authenticates as the user name;
    /// [`super::ServerSession::accept_auth`] names another identity.
    Auth {
        /// The mechanism used.
        mechanism: Mechanism<'static>,
        /// The decoded credentials.
        credentials: Credentials,
    },
    /// *Decision.* One step of another SASL mechanism: answer with
    /// [`super::ServerSession::auth_challenge`], or accept
    /// ([`super::ServerSession::accept_auth`]) or reject.
    AuthStep {
        /// The mechanism.
        mechanism: Mechanism<'static>,
        /// The client's response (`None` for AUTH without an initial response).
        response: Option<Secret<Vec<u8>>>,
        /// True for the AUTH command itself (a new exchange begins), false for a response
        /// to a challenge of [`super::ServerSession::auth_challenge`].
        initial: bool,
    },
    /// The 220 to STARTTLS is queued: flush it, run the TLS handshake on the raw stream,
    /// then call [`super::ServerSession::tls_established`]. `discarded` counts bytes that
    /// followed STARTTLS and were dropped (only with [`super::StartTlsTrailing::Discard`]).
    StartTls {
        /// Plaintext bytes dropped after STARTTLS.
        discarded: usize,
    },
    /// *Decision.* VRFY; accepting answers "252 2.1.5" (cannot verify, will try).
    Vrfy(Text<'static>),
    /// *Decision.* EXPN (only when enabled in the configuration).
    Expn(Text<'static>),
    /// The transaction was reset (RSET, a new EHLO, or TLS): forget its state.
    Reset,
    /// The session is over: flush the queued output, then close the connection.
    Closed(CloseReason),
}

/// Why the session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent QUIT.
    Quit,
    /// Too many protocol errors (421 sent).
    TooManyErrors,
    /// Bytes followed STARTTLS before the handshake (554 sent).
    StartTlsInjection {
        /// How many.
        trailing: usize,
    },
    /// Commands sent ahead without PIPELINING, or after a rejected DATA (554 sent).
    ImproperPipelining,
    /// The application closed the session (its reply was sent).
    Application,
}
