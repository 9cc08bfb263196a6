//! The fixed replies of the sealpost crates, named by their meaning in RFC 5321 and
//! RFC 3463 (enhanced status codes), so that a reply is written once and found by name.
//!
//! ```
//! use sealpost_codec::replies;
//!
//! assert_eq!(replies::SHUTTING_DOWN.to_reply().to_bytes(), b"421 4.3.2 Shutting down; try again later\r\n");
//! // Without ENHANCEDSTATUSCODES (RFC 2034) the status code is left out.
//! assert_eq!(replies::BYE.reply(false).to_bytes(), b"221 Bye\r\n");
//! ```

use std::borrow::Cow;

use crate::reply::{EnhancedStatusCode, Reply, ReplyCode};
use crate::types::text::Text;

/// A fixed reply: code, enhanced status code (class.subject.detail) and text. The
/// constants of [this module](self) are the ones the sealpost crates send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardReply {
    code: u16,
    status: (u8, u16, u16),
    text: &'static str,
}

impl StandardReply {
    /// Only for the constants below: the code must be 200-559 and the text free of CR
    /// and LF (checked by a test over every constant).
    pub(crate) const fn new(code: u16, status: (u8, u16, u16), text: &'static str) -> Self {
        StandardReply { code, status, text }
    }

    /// The reply code.
    pub fn code(self) -> ReplyCode {
        ReplyCode::unchecked(self.code)
    }

    /// The enhanced status code (RFC 3463).
    pub fn status(self) -> EnhancedStatusCode {
        let (class, subject, detail) = self.status;
        EnhancedStatusCode::new(class, subject, detail)
    }

    /// The text after the status code.
    pub fn text(self) -> &'static str {
        self.text
    }

    /// The reply, with its enhanced status code when `enhanced` (ENHANCEDSTATUSCODES
    /// announced, RFC 2034).
    pub fn reply(self, enhanced: bool) -> Reply<'static> {
        let (c, s, d) = self.status;
        let text = self.text;
        let line =
            if enhanced { Cow::Owned(format!("{c}.{s}.{d} {text}")) } else { Cow::Borrowed(text) };
        Reply::from_parts(self.code(), vec![Text(line)])
    }

    /// The reply with its enhanced status code.
    pub fn to_reply(self) -> Reply<'static> {
        self.reply(true)
    }
}

/// `250 2.0.0 Ok`
pub const OK: StandardReply = StandardReply::new(250, (2, 0, 0), "Ok");

/// `250 2.1.0 Sender ok`
pub const SENDER_OK: StandardReply = StandardReply::new(250, (2, 1, 0), "Sender ok");

/// `250 2.1.5 Recipient ok`
pub const RECIPIENT_OK: StandardReply = StandardReply::new(250, (2, 1, 5), "Recipient ok");

/// `354 2.0.0 End data with <CR><LF>.<CR><LF>`
pub const START_DATA: StandardReply =
    StandardReply::new(354, (2, 0, 0), "End data with <CR><LF>.<CR><LF>");

/// `250 2.0.0 Ok: message accepted`
pub const QUEUED: StandardReply = StandardReply::new(250, (2, 0, 0), "Ok: message accepted");

/// `221 2.0.0 Bye`
pub const BYE: StandardReply = StandardReply::new(221, (2, 0, 0), "Bye");

/// `214 2.0.0 See RFC 5321`
pub const HELP: StandardReply = StandardReply::new(214, (2, 0, 0), "See RFC 5321");

/// `252 2.1.5 Cannot verify the user, but will accept the message`
pub const CANNOT_VRFY: StandardReply =
    StandardReply::new(252, (2, 1, 5), "Cannot verify the user, but will accept the message");

/// `220 2.0.0 Ready to start TLS`
pub const READY_TLS: StandardReply = StandardReply::new(220, (2, 0, 0), "Ready to start TLS");

/// `235 2.7.0 Authentication successful`
pub const AUTH_OK: StandardReply = StandardReply::new(235, (2, 7, 0), "Authentication successful");

/// `500 5.5.2 Command unrecognized`
pub const UNRECOGNIZED: StandardReply = StandardReply::new(500, (5, 5, 2), "Command unrecognized");

/// `500 5.5.2 Bare CR or LF in a command; lines must end with CRLF`
pub const BARE_LINE_ENDING: StandardReply =
    StandardReply::new(500, (5, 5, 2), "Bare CR or LF in a command; lines must end with CRLF");

/// `500 5.5.6 Line too long`
pub const LINE_TOO_LONG: StandardReply = StandardReply::new(500, (5, 5, 6), "Line too long");

/// `500 5.5.1 This is LMTP: use LHLO`
pub const USE_LHLO: StandardReply = StandardReply::new(500, (5, 5, 1), "This is LMTP: use LHLO");

/// `501 5.5.4 Syntax error in parameters or arguments`
pub const SYNTAX: StandardReply =
    StandardReply::new(501, (5, 5, 4), "Syntax error in parameters or arguments");

/// `501 5.1.7 Bad sender address syntax`
pub const BAD_SENDER: StandardReply =
    StandardReply::new(501, (5, 1, 7), "Bad sender address syntax");

/// `501 5.1.3 Bad recipient address syntax`
pub const BAD_RECIPIENT: StandardReply =
    StandardReply::new(501, (5, 1, 3), "Bad recipient address syntax");

/// `501 5.7.0 Authentication cancelled`
pub const AUTH_CANCELLED: StandardReply =
    StandardReply::new(501, (5, 7, 0), "Authentication cancelled");

/// `501 5.5.2 Cannot decode the response`
pub const BAD_BASE64: StandardReply =
    StandardReply::new(501, (5, 5, 2), "Cannot decode the response");

/// `502 5.5.1 Command not implemented`
pub const NOT_IMPLEMENTED: StandardReply =
    StandardReply::new(502, (5, 5, 1), "Command not implemented");

/// `503 5.5.1 Send EHLO or HELO first`
pub const NEED_HELLO: StandardReply = StandardReply::new(503, (5, 5, 1), "Send EHLO or HELO first");

/// `503 5.5.1 Nested MAIL command`
pub const NESTED_MAIL: StandardReply = StandardReply::new(503, (5, 5, 1), "Nested MAIL command");

/// `503 5.5.1 Need MAIL command`
pub const NEED_MAIL: StandardReply = StandardReply::new(503, (5, 5, 1), "Need MAIL command");

/// `503 5.5.1 TLS is already active`
pub const ALREADY_TLS: StandardReply = StandardReply::new(503, (5, 5, 1), "TLS is already active");

/// `503 5.5.1 Already authenticated`
pub const ALREADY_AUTH: StandardReply = StandardReply::new(503, (5, 5, 1), "Already authenticated");

/// `503 5.5.1 AUTH is not permitted during a mail transaction`
pub const AUTH_IN_TRANSACTION: StandardReply =
    StandardReply::new(503, (5, 5, 1), "AUTH is not permitted during a mail transaction");

/// `503 5.5.1 DATA and BDAT cannot be mixed`
pub const MIXED_DATA_BDAT: StandardReply =
    StandardReply::new(503, (5, 5, 1), "DATA and BDAT cannot be mixed");

/// `503 5.5.1 BODY=BINARYMIME requires BDAT`
pub const BINARY_NEEDS_BDAT: StandardReply =
    StandardReply::new(503, (5, 5, 1), "BODY=BINARYMIME requires BDAT");

/// `503 5.5.1 No service; send QUIT`
pub const REFUSED_SESSION: StandardReply =
    StandardReply::new(503, (5, 5, 1), "No service; send QUIT");

/// `504 5.5.4 Unrecognized authentication mechanism`
pub const UNKNOWN_MECHANISM: StandardReply =
    StandardReply::new(504, (5, 5, 4), "Unrecognized authentication mechanism");

/// `530 5.7.0 Must issue a STARTTLS command first`
pub const NEED_TLS: StandardReply =
    StandardReply::new(530, (5, 7, 0), "Must issue a STARTTLS command first");

/// `530 5.7.0 Authentication required`
pub const NEED_AUTH: StandardReply = StandardReply::new(530, (5, 7, 0), "Authentication required");

/// `535 5.7.8 Authentication credentials invalid`
pub const AUTH_FAILED: StandardReply =
    StandardReply::new(535, (5, 7, 8), "Authentication credentials invalid");

/// `452 4.5.3 Too many recipients`
pub const TOO_MANY_RECIPIENTS: StandardReply =
    StandardReply::new(452, (4, 5, 3), "Too many recipients");

/// `552 5.3.4 Message size exceeds fixed maximum message size`
pub const TOO_BIG: StandardReply =
    StandardReply::new(552, (5, 3, 4), "Message size exceeds fixed maximum message size");

/// `553 5.6.7 Non-ASCII addresses need SMTPUTF8`
pub const NON_ASCII_ADDRESS: StandardReply =
    StandardReply::new(553, (5, 6, 7), "Non-ASCII addresses need SMTPUTF8");

/// `550 5.6.0 Message holds a bare CR or LF; lines must end with CRLF`
pub const BARE_IN_DATA: StandardReply =
    StandardReply::new(550, (5, 6, 0), "Message holds a bare CR or LF; lines must end with CRLF");

/// `550 5.6.0 Message holds a NUL octet`: the DATA body held a NUL
/// ([`crate::DataError::Nul`]). RFC 5321 section 2.3.8 and 4.5.2 do not allow NUL in
/// the lines of a 7BIT or 8BITMIME message (only BINARYMIME, sent by BDAT, may hold it),
/// and a next hop that drops NULs would find line starts and ends of data in it that
/// this server did not see (SMTP smuggling). 5.6.0: other media error (RFC 3463).
pub const NUL_IN_DATA: StandardReply =
    StandardReply::new(550, (5, 6, 0), "Message holds a NUL octet");

/// `554 5.5.1 No valid recipients`
pub const NO_RECIPIENTS: StandardReply = StandardReply::new(554, (5, 5, 1), "No valid recipients");

/// `554 5.5.0 Data after STARTTLS was sent in the clear; closing`
pub const STARTTLS_INJECTION: StandardReply =
    StandardReply::new(554, (5, 5, 0), "Data after STARTTLS was sent in the clear; closing");

/// `554 5.5.0 Improper command pipelining; closing`
pub const IMPROPER_PIPELINING: StandardReply =
    StandardReply::new(554, (5, 5, 0), "Improper command pipelining; closing");

/// `555 5.5.4 Parameter not recognized or not implemented`
pub const UNSUPPORTED_PARAMETER: StandardReply =
    StandardReply::new(555, (5, 5, 4), "Parameter not recognized or not implemented");

/// `421 4.7.0 Too many errors; closing`
pub const TOO_MANY_ERRORS: StandardReply =
    StandardReply::new(421, (4, 7, 0), "Too many errors; closing");

/// "220 2.0.0 Service ready": the greeting when the configured one is not a valid reply.
pub const SERVICE_READY: StandardReply = StandardReply::new(220, (2, 0, 0), "Service ready");
/// "421 4.3.2 Shutting down; try again later": the server stops (RFC 3463 4.3.2, system
/// not accepting network messages).
pub const SHUTTING_DOWN: StandardReply =
    StandardReply::new(421, (4, 3, 2), "Shutting down; try again later");
/// "421 4.4.2 Timeout; closing": the client said nothing in time (RFC 5321 section
/// 4.5.3.2 lets a server close then; RFC 3463 4.4.2, bad connection).
pub const TIMEOUT: StandardReply = StandardReply::new(421, (4, 4, 2), "Timeout; closing");
/// "421 4.7.0 Too many connections, try again later": over a connection limit.
pub const TOO_MANY_CONNECTIONS: StandardReply =
    StandardReply::new(421, (4, 7, 0), "Too many connections, try again later");
/// "421 4.7.0 Too many authentication failures; try again later".
pub const TOO_MANY_AUTH_FAILURES: StandardReply =
    StandardReply::new(421, (4, 7, 0), "Too many authentication failures; try again later");
/// "451 4.3.0 Local error in processing; try again later": the message could not be
/// stored (RFC 5321 451, RFC 3463 4.3.0).
pub const LOCAL_ERROR: StandardReply =
    StandardReply::new(451, (4, 3, 0), "Local error in processing; try again later");
/// "451 4.3.0 No transaction": a reply owed for a transaction the server no longer holds.
pub const NO_TRANSACTION: StandardReply = StandardReply::new(451, (4, 3, 0), "No transaction");
/// "451 4.4.2 The connection ended before the server's reply for this recipient": what a
/// client records for an LMTP recipient whose reply never came.
pub const CONNECTION_LOST: StandardReply = StandardReply::new(
    451,
    (4, 4, 2),
    "The connection ended before the server's reply for this recipient",
);
/// "502 5.5.1 EXPN not available".
pub const EXPN_NOT_AVAILABLE: StandardReply =
    StandardReply::new(502, (5, 5, 1), "EXPN not available");
/// "504 5.5.4 Mechanism not supported": a SASL mechanism the application cannot complete.
pub const MECHANISM_NOT_SUPPORTED: StandardReply =
    StandardReply::new(504, (5, 5, 4), "Mechanism not supported");

/// "550 5.7.1 Recipient not accepted": a server that was not told what it receives
/// mail for.
pub const RECIPIENT_NOT_ACCEPTED: StandardReply =
    StandardReply::new(550, (5, 7, 1), "Recipient not accepted");
/// "550 5.7.1 Relaying denied": a recipient outside the local domains, from a client
/// that may not relay (RFC 5321 section 3.6.2, RFC 3463 5.7.1).
pub const RELAYING_DENIED: StandardReply = StandardReply::new(550, (5, 7, 1), "Relaying denied");
/// "550 5.1.1 User unknown": no such mailbox (RFC 3463 5.1.1, bad destination mailbox).
pub const USER_UNKNOWN: StandardReply = StandardReply::new(550, (5, 1, 1), "User unknown");
/// "553 5.1.3 Mailbox name not allowed": a local part that cannot be a mailbox name
/// (RFC 5321 553, RFC 3463 5.1.3, bad destination mailbox address syntax).
pub const MAILBOX_NAME_NOT_ALLOWED: StandardReply =
    StandardReply::new(553, (5, 1, 3), "Mailbox name not allowed");
/// "451 4.3.0 Cannot store the message now; try again later": the storage failed.
pub const CANNOT_STORE: StandardReply =
    StandardReply::new(451, (4, 3, 0), "Cannot store the message now; try again later");

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constant of this module.
    const ALL: &[StandardReply] = &[
        OK,
        SENDER_OK,
        RECIPIENT_OK,
        START_DATA,
        QUEUED,
        BYE,
        HELP,
        CANNOT_VRFY,
        READY_TLS,
        AUTH_OK,
        UNRECOGNIZED,
        BARE_LINE_ENDING,
        LINE_TOO_LONG,
        USE_LHLO,
        SYNTAX,
        BAD_SENDER,
        BAD_RECIPIENT,
        AUTH_CANCELLED,
        BAD_BASE64,
        NOT_IMPLEMENTED,
        NEED_HELLO,
        NESTED_MAIL,
        NEED_MAIL,
        ALREADY_TLS,
        ALREADY_AUTH,
        AUTH_IN_TRANSACTION,
        MIXED_DATA_BDAT,
        BINARY_NEEDS_BDAT,
        REFUSED_SESSION,
        UNKNOWN_MECHANISM,
        NEED_TLS,
        NEED_AUTH,
        AUTH_FAILED,
        TOO_MANY_RECIPIENTS,
        TOO_BIG,
        NON_ASCII_ADDRESS,
        BARE_IN_DATA,
        NUL_IN_DATA,
        NO_RECIPIENTS,
        STARTTLS_INJECTION,
        IMPROPER_PIPELINING,
        UNSUPPORTED_PARAMETER,
        TOO_MANY_ERRORS,
        SERVICE_READY,
        SHUTTING_DOWN,
        TIMEOUT,
        TOO_MANY_CONNECTIONS,
        TOO_MANY_AUTH_FAILURES,
        LOCAL_ERROR,
        NO_TRANSACTION,
        CONNECTION_LOST,
        EXPN_NOT_AVAILABLE,
        MECHANISM_NOT_SUPPORTED,
        RECIPIENT_NOT_ACCEPTED,
        RELAYING_DENIED,
        USER_UNKNOWN,
        MAILBOX_NAME_NOT_ALLOWED,
        CANNOT_STORE,
    ];

    #[test]
    fn every_named_reply_is_a_valid_reply() {
        for named in ALL {
            let code = named.code().get();
            assert!((200..=559).contains(&code), "{named:?}");
            let class = named.status().class();
            // RFC 3463 has no class 3: a 3xx reply carries a 2.x.x status (RFC 2034).
            let expected = if code / 100 == 3 { 2 } else { code / 100 };
            assert_eq!(u16::from(class), expected, "status class of {named:?}");
            for enhanced in [true, false] {
                let bytes = named.reply(enhanced).to_bytes();
                let (rest, decoded) = Reply::decode(&bytes).unwrap();
                assert!(rest.is_empty(), "{named:?}");
                assert_eq!(decoded.code(), named.code());
                if code / 100 != 3 {
                    // A reader takes "2.0.0" after 354 as text, not as a status.
                    assert_eq!(decoded.enhanced_status().is_some(), enhanced, "{named:?}");
                }
            }
        }
    }
}
