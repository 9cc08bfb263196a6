//! Encoding commands: the canonical form, which decodes back to the same value.

use std::fmt;

use crate::command::{Command, InitialResponse};

impl fmt::Display for Command<'_> {
    /// The command line without its CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo(h) => write!(f, "EHLO {h}"),
            Command::Helo(h) => write!(f, "HELO {h}"),
            Command::Lhlo(h) => write!(f, "LHLO {h}"),
            Command::Mail { reverse_path, parameters } => {
                write!(f, "MAIL FROM:{reverse_path}")?;
                parameters.iter().try_for_each(|p| write!(f, " {p}"))
            }
            Command::Rcpt { forward_path, parameters } => {
                write!(f, "RCPT TO:{forward_path}")?;
                parameters.iter().try_for_each(|p| write!(f, " {p}"))
            }
            Command::Data => f.write_str("DATA"),
            Command::Bdat { size, last: true } => write!(f, "BDAT {size} LAST"),
            Command::Bdat { size, last: false } => write!(f, "BDAT {size}"),
            Command::Rset => f.write_str("RSET"),
            Command::Vrfy(t) => write!(f, "VRFY {t}"),
            Command::Expn(t) => write!(f, "EXPN {t}"),
            Command::Help(Some(t)) => write!(f, "HELP {t}"),
            Command::Help(None) => f.write_str("HELP"),
            Command::Noop(Some(t)) => write!(f, "NOOP {t}"),
            Command::Noop(None) => f.write_str("NOOP"),
            Command::Quit => f.write_str("QUIT"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Auth { mechanism, initial_response } => {
                write!(f, "AUTH {mechanism}")?;
                match initial_response {
                    None => Ok(()),
                    Some(InitialResponse::Empty) => f.write_str(" ="),
                    Some(InitialResponse::Base64(text)) => write!(f, " {}", text.expose()),
                }
            }
            Command::Unknown { verb, arguments: Some(args) } => write!(f, "{verb} {args}"),
            Command::Unknown { verb, arguments: None } => write!(f, "{verb}"),
        }
    }
}

impl Command<'_> {
    /// Appends the command line, CRLF included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{self}\r\n");
    }

    /// The command line, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out);
        out
    }
}
