//! Decoding commands from bytes.

use crate::command::Command;
use crate::error::{CommandError, DecodeError};
use crate::framing::{find_cr_lf_nul, find_crlf};

/// RFC 5321 section 4.5.3.1.4: a command line is at most 512 octets, CRLF included.
pub const DEFAULT_MAX_COMMAND_LINE: usize = 512;

/// Decodes commands with a configurable line limit.
///
/// ```
/// use sealpost_codec::{Command, CommandDecoder, CommandError, DecodeError};
///
/// let decoder = CommandDecoder::new().max_line(1000);
/// assert!(matches!(decoder.decode(b"NOOP"), Err(DecodeError::Incomplete)));
/// let (rest, cmd) = decoder.decode(b"NOOP\r\n").unwrap();
/// assert_eq!((rest, cmd), (&b""[..], Command::Noop(None)));
///
/// // A bare LF never ends a line, and a line holding one is refused whole.
/// assert!(matches!(
///     decoder.decode(b"RSET\nQUIT\r\n"),
///     Err(DecodeError::Malformed { consumed: 11, error: CommandError::BareLineEnding })
/// ));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDecoder {
    max_line: usize,
}

impl Default for CommandDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandDecoder {
    /// A decoder with the RFC 5321 limit of 512 octets per line.
    pub const fn new() -> Self {
        CommandDecoder { max_line: DEFAULT_MAX_COMMAND_LINE }
    }

    /// Sets the line limit (CRLF included). Values below 8 are raised to 8.
    #[must_use]
    pub const fn max_line(mut self, limit: usize) -> Self {
        self.max_line = if limit < 8 { 8 } else { limit };
        self
    }

    /// The configured line limit.
    pub const fn line_limit(&self) -> usize {
        self.max_line
    }

    /// Decodes the first command of `input` and returns the rest.
    pub fn decode<'a>(
        &self,
        input: &'a [u8],
    ) -> Result<(&'a [u8], Command<'a>), DecodeError<CommandError>> {
        let window = &input[..input.len().min(self.max_line)];
        // The common case in one scan: the first CR, LF or NUL is the CR of a CRLF, so
        // the line is complete and clean.
        if let Some(at) = find_cr_lf_nul(window)
            && window[at] == b'\r'
            && window.get(at + 1) == Some(&b'\n')
        {
            let (line, rest) = input.split_at(at + 2);
            return match crate::parse::command::clean_command_line(line) {
                Ok(command) => Ok((rest, command)),
                Err(error) => Err(DecodeError::Malformed { consumed: line.len(), error }),
            };
        }
        match find_crlf(window) {
            Some(end) => {
                let (line, rest) = input.split_at(end + 2);
                match Command::decode_line(line) {
                    Ok(command) => Ok((rest, command)),
                    Err(error) => Err(DecodeError::Malformed { consumed: line.len(), error }),
                }
            }
            None if input.len() >= self.max_line => {
                Err(DecodeError::LineTooLong { limit: self.max_line })
            }
            None => Err(DecodeError::Incomplete),
        }
    }
}

impl<'a> Command<'a> {
    /// Decodes the first command of `input` with the default 512-octet line limit.
    pub fn decode(input: &'a [u8]) -> Result<(&'a [u8], Command<'a>), DecodeError<CommandError>> {
        CommandDecoder::new().decode(input)
    }

    /// Decodes exactly one complete line, CRLF included (as cut by
    /// [`crate::LineFramer`]).
    pub fn decode_line(line: &'a [u8]) -> Result<Command<'a>, CommandError> {
        if !line.ends_with(b"\r\n") {
            return Err(CommandError::Syntax {
                verb: crate::command::Verb::Unknown,
                reason: "a command line ends with CRLF",
            });
        }
        crate::parse::command::command_line(line)
    }
}
