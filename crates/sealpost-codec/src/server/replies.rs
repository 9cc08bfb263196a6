//! The replies the server session writes itself, by RFC 5321 / RFC 3463 meaning.

use std::borrow::Cow;

use crate::reply::{Reply, ReplyCode};
use crate::types::text::Text;

/// A canned reply: code, enhanced status code (class.subject.detail) and text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Canned(pub(crate) u16, pub(crate) (u8, u16, u16), pub(crate) &'static str);

impl Canned {
    pub(crate) fn build(self, enhanced: bool) -> Reply<'static> {
        let Canned(code, (c, s, d), text) = self;
        let line =
            if enhanced { Cow::Owned(format!("{c}.{s}.{d} {text}")) } else { Cow::Borrowed(text) };
        Reply::from_parts(ReplyCode::unchecked(code), vec![Text(line)])
    }
}

pub(crate) const OK: Canned = Canned(250, (2, 0, 0), "Ok");
pub(crate) const SENDER_OK: Canned = Canned(250, (2, 1, 0), "Sender ok");
pub(crate) const RECIPIENT_OK: Canned = Canned(250, (2, 1, 5), "Recipient ok");
pub(crate) const START_DATA: Canned = Canned(354, (2, 0, 0), "End data with <CR><LF>.<CR><LF>");
pub(crate) const QUEUED: Canned = Canned(250, (2, 0, 0), "Ok: message accepted");
pub(crate) const BYE: Canned = Canned(221, (2, 0, 0), "Bye");
pub(crate) const HELP: Canned = Canned(214, (2, 0, 0), "See RFC 5321");
pub(crate) const CANNOT_VRFY: Canned =
    Canned(252, (2, 1, 5), "Cannot verify the user, but will accept the message");
pub(crate) const READY_TLS: Canned = Canned(220, (2, 0, 0), "Ready to start TLS");
pub(crate) const AUTH_OK: Canned = Canned(235, (2, 7, 0), "Authentication successful");

pub(crate) const UNRECOGNIZED: Canned = Canned(500, (5, 5, 2), "Command unrecognized");
pub(crate) const BARE_LINE_ENDING: Canned =
    Canned(500, (5, 5, 2), "Bare CR or LF in a command; lines must end with CRLF");
pub(crate) const LINE_TOO_LONG: Canned = Canned(500, (5, 5, 6), "Line too long");
pub(crate) const USE_LHLO: Canned = Canned(500, (5, 5, 1), "This is LMTP: use LHLO");
pub(crate) const SYNTAX: Canned = Canned(501, (5, 5, 4), "Syntax error in parameters or arguments");
pub(crate) const BAD_SENDER: Canned = Canned(501, (5, 1, 7), "Bad sender address syntax");
pub(crate) const BAD_RECIPIENT: Canned = Canned(501, (5, 1, 3), "Bad recipient address syntax");
pub(crate) const AUTH_CANCELLED: Canned = Canned(501, (5, 7, 0), "Authentication cancelled");
pub(crate) const BAD_BASE64: Canned = Canned(501, (5, 5, 2), "Cannot decode the response");
pub(crate) const NOT_IMPLEMENTED: Canned = Canned(502, (5, 5, 1), "Command not implemented");
pub(crate) const NEED_HELLO: Canned = Canned(503, (5, 5, 1), "Send EHLO or HELO first");
pub(crate) const NESTED_MAIL: Canned = Canned(503, (5, 5, 1), "Nested MAIL command");
pub(crate) const NEED_MAIL: Canned = Canned(503, (5, 5, 1), "Need MAIL command");
pub(crate) const ALREADY_TLS: Canned = Canned(503, (5, 5, 1), "TLS is already active");
pub(crate) const ALREADY_AUTH: Canned = Canned(503, (5, 5, 1), "Already authenticated");
pub(crate) const AUTH_IN_TRANSACTION: Canned =
    Canned(503, (5, 5, 1), "AUTH is not permitted during a mail transaction");
pub(crate) const MIXED_DATA_BDAT: Canned = Canned(503, (5, 5, 1), "DATA and BDAT cannot be mixed");
pub(crate) const BINARY_NEEDS_BDAT: Canned =
    Canned(503, (5, 5, 1), "BODY=BINARYMIME requires BDAT");
pub(crate) const REFUSED_SESSION: Canned = Canned(503, (5, 5, 1), "No service; send QUIT");
pub(crate) const UNKNOWN_MECHANISM: Canned =
    Canned(504, (5, 5, 4), "Unrecognized authentication mechanism");
pub(crate) const NEED_TLS: Canned = Canned(530, (5, 7, 0), "Must issue a STARTTLS command first");
pub(crate) const NEED_AUTH: Canned = Canned(530, (5, 7, 0), "Authentication required");
pub(crate) const AUTH_FAILED: Canned = Canned(535, (5, 7, 8), "Authentication credentials invalid");
pub(crate) const TOO_MANY_RECIPIENTS: Canned = Canned(452, (4, 5, 3), "Too many recipients");
pub(crate) const TOO_BIG: Canned =
    Canned(552, (5, 3, 4), "Message size exceeds fixed maximum message size");
pub(crate) const NON_ASCII_ADDRESS: Canned =
    Canned(553, (5, 6, 7), "Non-ASCII addresses need SMTPUTF8");
pub(crate) const BARE_IN_DATA: Canned =
    Canned(550, (5, 6, 0), "Message holds a bare CR or LF; lines must end with CRLF");
pub(crate) const NO_RECIPIENTS: Canned = Canned(554, (5, 5, 1), "No valid recipients");
pub(crate) const STARTTLS_INJECTION: Canned =
    Canned(554, (5, 5, 0), "Data after STARTTLS was sent in the clear; closing");
pub(crate) const IMPROPER_PIPELINING: Canned =
    Canned(554, (5, 5, 0), "Improper command pipelining; closing");
pub(crate) const UNSUPPORTED_PARAMETER: Canned =
    Canned(555, (5, 5, 4), "Parameter not recognized or not implemented");
pub(crate) const TOO_MANY_ERRORS: Canned = Canned(421, (4, 7, 0), "Too many errors; closing");
