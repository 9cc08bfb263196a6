//! SMTP commands (RFC 5321 section 4.1.1 and the extensions).

pub(crate) mod auth;
pub(crate) mod decode;
mod encode;

pub use auth::{InitialResponse, Mechanism};
pub use decode::CommandDecoder;

use std::fmt;

use crate::esmtp::{MailParameters, RcptParameters};
use crate::types::domain::Host;
use crate::types::path::{ForwardPath, ReversePath};
use crate::types::text::{Atom, Text};

/// The verb of a command, without arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// `EHLO` (RFC 5321)
    Ehlo,
    /// `HELO` (RFC 5321)
    Helo,
    /// `LHLO` (RFC 2033, LMTP)
    Lhlo,
    /// `MAIL`
    Mail,
    /// `RCPT`
    Rcpt,
    /// `DATA`
    Data,
    /// `BDAT` (RFC 3030)
    Bdat,
    /// `RSET`
    Rset,
    /// `VRFY`
    Vrfy,
    /// `EXPN`
    Expn,
    /// `HELP`
    Help,
    /// `NOOP`
    Noop,
    /// `QUIT`
    Quit,
    /// `STARTTLS` (RFC 3207)
    StartTls,
    /// `AUTH` (RFC 4954)
    Auth,
    /// Any other verb.
    Unknown,
}

impl Verb {
    /// The verb as written on the wire (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Lhlo => "LHLO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::Unknown => "unknown command",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SMTP command, borrowing from the input it was decoded from.
///
/// Decode with [`Command::decode`] (or a configured [`CommandDecoder`]); encode with
/// [`Command::encode`]. The two round-trip.
///
/// ```
/// use sealpost_codec::{Command, ReversePath};
///
/// let (rest, cmd) = Command::decode(b"MAIL FROM:<alice@example.org> SIZE=2048\r\nRCPT").unwrap();
/// assert_eq!(rest, b"RCPT");
/// let Command::Mail { reverse_path, parameters } = &cmd else { panic!() };
/// assert_eq!(reverse_path.to_string(), "<alice@example.org>");
/// assert_eq!(parameters.size(), Some(2048));
/// assert_eq!(cmd.to_bytes(), b"MAIL FROM:<alice@example.org> SIZE=2048\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `EHLO host`
    Ehlo(Host<'a>),
    /// `HELO host`
    Helo(Host<'a>),
    /// `LHLO host` (LMTP, RFC 2033)
    Lhlo(Host<'a>),
    /// `MAIL FROM:<reverse-path> [parameters]`
    Mail {
        /// The sender, or `<>`.
        reverse_path: ReversePath<'a>,
        /// ESMTP parameters.
        parameters: MailParameters<'a>,
    },
    /// `RCPT TO:<forward-path> [parameters]`
    Rcpt {
        /// The recipient.
        forward_path: ForwardPath<'a>,
        /// ESMTP parameters.
        parameters: RcptParameters<'a>,
    },
    /// `DATA`
    Data,
    /// `BDAT size [LAST]` (RFC 3030)
    Bdat {
        /// Octets of message data that follow the command line.
        size: u64,
        /// `LAST`: this is the final chunk.
        last: bool,
    },
    /// `RSET`
    Rset,
    /// `VRFY string`
    Vrfy(Text<'a>),
    /// `EXPN string`
    Expn(Text<'a>),
    /// `HELP [string]`
    Help(Option<Text<'a>>),
    /// `NOOP [string]`
    Noop(Option<Text<'a>>),
    /// `QUIT`
    Quit,
    /// `STARTTLS`
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954)
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism<'a>,
        /// The initial response, if given on the command line.
        initial_response: Option<InitialResponse<'a>>,
    },
    /// A command this crate does not know, kept verbatim (answered 500 by a server).
    Unknown {
        /// The verb as written.
        verb: Atom<'a>,
        /// Everything after the first SP, if anything.
        arguments: Option<Text<'a>>,
    },
}

impl Command<'_> {
    /// The verb of this command.
    pub fn verb(&self) -> Verb {
        match self {
            Command::Ehlo(_) => Verb::Ehlo,
            Command::Helo(_) => Verb::Helo,
            Command::Lhlo(_) => Verb::Lhlo,
            Command::Mail { .. } => Verb::Mail,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Data => Verb::Data,
            Command::Bdat { .. } => Verb::Bdat,
            Command::Rset => Verb::Rset,
            Command::Vrfy(_) => Verb::Vrfy,
            Command::Expn(_) => Verb::Expn,
            Command::Help(_) => Verb::Help,
            Command::Noop(_) => Verb::Noop,
            Command::Quit => Verb::Quit,
            Command::StartTls => Verb::StartTls,
            Command::Auth { .. } => Verb::Auth,
            Command::Unknown { .. } => Verb::Unknown,
        }
    }

    /// Detaches the command from the input it borrows from.
    pub fn into_owned(self) -> Command<'static> {
        match self {
            Command::Ehlo(h) => Command::Ehlo(h.into_owned()),
            Command::Helo(h) => Command::Helo(h.into_owned()),
            Command::Lhlo(h) => Command::Lhlo(h.into_owned()),
            Command::Mail { reverse_path, parameters } => Command::Mail {
                reverse_path: reverse_path.into_owned(),
                parameters: parameters.into_owned(),
            },
            Command::Rcpt { forward_path, parameters } => Command::Rcpt {
                forward_path: forward_path.into_owned(),
                parameters: parameters.into_owned(),
            },
            Command::Data => Command::Data,
            Command::Bdat { size, last } => Command::Bdat { size, last },
            Command::Rset => Command::Rset,
            Command::Vrfy(t) => Command::Vrfy(t.into_owned()),
            Command::Expn(t) => Command::Expn(t.into_owned()),
            Command::Help(t) => Command::Help(t.map(Text::into_owned)),
            Command::Noop(t) => Command::Noop(t.map(Text::into_owned)),
            Command::Quit => Command::Quit,
            Command::StartTls => Command::StartTls,
            Command::Auth { mechanism, initial_response } => Command::Auth {
                mechanism: mechanism.into_owned(),
                initial_response: initial_response.map(InitialResponse::into_owned),
            },
            Command::Unknown { verb, arguments } => Command::Unknown {
                verb: verb.into_owned(),
                arguments: arguments.map(Text::into_owned),
            },
        }
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use crate::types::arb::arb_string;
    use arbitrary::{Arbitrary, Result, Unstructured};
    use std::borrow::Cow;

    /// Text that survives as a command argument: no leading/trailing space ambiguity.
    fn arg(u: &mut Unstructured<'_>) -> Result<Text<'static>> {
        let s = arb_string(u, 1, 20, |b| (33..127).contains(&b))?;
        Ok(Text(Cow::Owned(s)))
    }

    impl<'u> Arbitrary<'u> for Command<'_> {
        fn arbitrary(u: &mut Unstructured<'u>) -> Result<Self> {
            Ok(match u.int_in_range(0..=15)? {
                0 => Command::Ehlo(Host::arbitrary(u)?),
                1 => Command::Helo(Host::arbitrary(u)?),
                2 => Command::Lhlo(Host::arbitrary(u)?),
                3 => Command::Mail {
                    reverse_path: ReversePath::arbitrary(u)?,
                    parameters: MailParameters::arbitrary(u)?,
                },
                4 => Command::Rcpt {
                    forward_path: ForwardPath::arbitrary(u)?,
                    parameters: RcptParameters::arbitrary(u)?,
                },
                5 => Command::Data,
                6 => Command::Bdat { size: u64::arbitrary(u)?, last: bool::arbitrary(u)? },
                7 => Command::Rset,
                8 => Command::Vrfy(arg(u)?),
                9 => Command::Expn(arg(u)?),
                10 => Command::Help(if bool::arbitrary(u)? { Some(arg(u)?) } else { None }),
                11 => Command::Noop(if bool::arbitrary(u)? { Some(arg(u)?) } else { None }),
                12 => Command::Quit,
                13 => Command::StartTls,
                14 => Command::Auth {
                    mechanism: Mechanism::arbitrary(u)?,
                    initial_response: Option::arbitrary(u)?,
                },
                _ => Command::Unknown {
                    verb: Atom(Cow::Owned(format!(
                        "X{}",
                        arb_string(u, 1, 8, |b| b.is_ascii_uppercase())?
                    ))),
                    arguments: if bool::arbitrary(u)? { Some(arg(u)?) } else { None },
                },
            })
        }
    }
}
