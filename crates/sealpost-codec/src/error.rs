//! Errors for building values (validation) and for reading bytes (decoding).

/// A value given to a constructor does not fit the RFC grammar of its type.
///
/// Returned by the `TryFrom`/`new` constructors of every wire type, so that a value that
/// reaches the wire is valid by construction (for example, no string can carry CR or LF).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value is empty but the grammar needs at least one character.
    #[error("{what} must not be empty")]
    Empty {
        /// What was being built (for example "domain").
        what: &'static str,
    },
    /// The value holds a byte the grammar does not allow at that place.
    #[error("{what} contains the byte {byte:#04x} at offset {at}, which is not allowed there")]
    ForbiddenByte {
        /// What was being built.
        what: &'static str,
        /// The offending byte.
        byte: u8,
        /// Its offset in the value.
        at: usize,
    },
    /// The value is longer than RFC 5321 section 4.5.3.1 (or the relevant RFC) allows.
    #[error("{what} is {len} octets long; at most {max} are allowed")]
    TooLong {
        /// What was being built.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value breaks a structural rule of its grammar.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being built.
        what: &'static str,
        /// The rule that was broken.
        reason: &'static str,
    },
}

pub(crate) type VResult<T> = Result<T, ValidationError>;

/// An ESMTP parameter of MAIL or RCPT that breaks its extension's grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// The keyword appears twice in one command (RFC 1869 section 6).
    #[error("parameter {keyword} given more than once")]
    Duplicate {
        /// The repeated keyword, upper case.
        keyword: String,
    },
    /// The value does not fit the parameter's grammar.
    #[error("invalid {keyword} parameter: {reason}")]
    Invalid {
        /// The keyword, upper case.
        keyword: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl ParamError {
    pub(crate) fn invalid(keyword: &str, reason: &'static str) -> Self {
        ParamError::Invalid { keyword: keyword.to_ascii_uppercase(), reason }
    }
}

/// Why a complete command line could not be decoded. [`CommandError::reply`] gives the
/// reply RFC 5321 section 4.2 (with the RFC 3463 enhanced code) expects for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A CR or LF inside the line (only CRLF ends a line; a bare one is never accepted,
    /// since lenient readers of it are how STARTTLS and DATA injection work).
    #[error("the line holds a bare CR or LF")]
    BareLineEnding,
    /// A NUL byte in the line.
    #[error("the line holds a NUL byte")]
    Nul,
    /// Bytes above 0x7F that are not well-formed UTF-8.
    #[error("the line is not valid UTF-8")]
    InvalidUtf8,
    /// The verb is known but its arguments break the grammar.
    #[error("{verb}: {reason}")]
    Syntax {
        /// The command.
        verb: crate::command::Verb,
        /// What is wrong.
        reason: &'static str,
    },
    /// A path (mailbox, domain, address literal) is invalid.
    #[error("{verb}: {error}")]
    Path {
        /// MAIL or RCPT.
        verb: crate::command::Verb,
        /// What is wrong with it.
        error: ValidationError,
    },
    /// An ESMTP parameter is invalid.
    #[error("{verb}: {error}")]
    Parameter {
        /// MAIL or RCPT.
        verb: crate::command::Verb,
        /// What is wrong with it.
        error: ParamError,
    },
    /// A non-ASCII address in MAIL without the SMTPUTF8 parameter (RFC 6531 section 3.4).
    #[error("{verb}: a non-ASCII address needs SMTPUTF8")]
    NonAsciiWithoutSmtpUtf8 {
        /// MAIL or RCPT.
        verb: crate::command::Verb,
    },
}

/// Why bytes could not be decoded into a command or reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError<E> {
    /// More input is needed: no complete line yet. Not an error of the peer.
    #[error("more input is needed")]
    Incomplete,
    /// No CRLF within the configured line limit. Use [`crate::LineFramer`] to skip to
    /// the next CRLF without buffering the whole line.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit, CRLF included.
        limit: usize,
    },
    /// A complete line (of `consumed` octets, CRLF included) is malformed; skip it.
    #[error("malformed line: {error}")]
    Malformed {
        /// Octets to skip to get past the bad line.
        consumed: usize,
        /// What is wrong with it.
        error: E,
    },
}

/// Why a reply could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The line does not start with a three-digit code from 200 to 559.
    #[error("invalid reply code")]
    InvalidCode,
    /// A continuation line carries a different code than the first line.
    #[error("continuation line with code {found} in a {expected} reply")]
    CodeMismatch {
        /// The code of the first line.
        expected: u16,
        /// The code of the offending line.
        found: u16,
    },
    /// After the code comes neither SP, "-" nor CRLF.
    #[error("expected SP, \"-\" or CRLF after the reply code")]
    BadSeparator,
    /// Reply text with a bare CR/LF, NUL or invalid UTF-8.
    #[error("invalid reply text")]
    InvalidText,
    /// More lines than the configured limit.
    #[error("reply has more than {limit} lines")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
}

impl CommandError {
    /// The reply a server sends for this error, with its enhanced status code.
    ///
    /// ```
    /// use sealpost_codec::{Command, CommandError};
    ///
    /// let error = Command::decode_line(b"RSET\nQUIT\r\n").unwrap_err();
    /// assert_eq!(error, CommandError::BareLineEnding);
    /// assert!(error.reply().to_bytes().starts_with(b"500 5.5.2 "));
    /// ```
    pub fn reply(&self) -> crate::Reply<'static> {
        self.canned_reply().build(true)
    }

    pub(crate) fn canned_reply(&self) -> crate::server::replies::Canned {
        use crate::command::Verb;
        use crate::server::replies;
        match self {
            CommandError::BareLineEnding | CommandError::Nul => replies::BARE_LINE_ENDING,
            CommandError::NonAsciiWithoutSmtpUtf8 { .. } => replies::NON_ASCII_ADDRESS,
            CommandError::Path { verb: Verb::Mail, .. } => replies::BAD_SENDER,
            CommandError::Path { verb: Verb::Rcpt, .. } => replies::BAD_RECIPIENT,
            CommandError::Syntax { verb: Verb::Unknown, .. } => replies::UNRECOGNIZED,
            _ => replies::SYNTAX,
        }
    }
}
