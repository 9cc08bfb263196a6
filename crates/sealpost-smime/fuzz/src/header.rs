//! Arbitrary originator header fields (From, Sender, duplicates, display names,
//! encoded-words, comments, NUL and bare CR/LF) around a fixed signed body, and what a
//! mail reader takes from them.

use libfuzzer_sys::arbitrary::{self, Arbitrary};

use crate::fixtures::SIGNER_ADDRESS;

/// One header field.
#[derive(Arbitrary, Debug)]
pub struct Field {
    /// Its name.
    pub name: Name,
    /// Its value, piece by piece.
    pub value: Vec<Piece>,
}

/// Field names, with the spellings readers treat alike.
#[derive(Arbitrary, Debug)]
pub enum Name {
    /// `From`.
    From,
    /// `from` (names are case-insensitive).
    FromLower,
    /// `From ` before the colon (obsolete syntax, RFC 5322 section 4.5).
    FromSpace,
    /// `Sender`.
    Sender,
    /// `Reply-To`.
    ReplyTo,
    /// `Subject`.
    Subject,
    /// Anything else (filtered to field-name characters).
    Other(String),
}

/// A piece of a field value.
#[derive(Arbitrary, Debug)]
pub enum Piece {
    /// The signer's certificate address.
    SignerAddress,
    /// The signer's address in angle brackets.
    SignerAngle,
    /// The signer's address with a changed letter case.
    SignerUpper,
    /// Another address.
    OtherAddress,
    /// Another address in angle brackets.
    OtherAngle,
    /// A look-alike of the signer's address (Cyrillic `а` for `a`).
    Lookalike,
    /// Text (printable ASCII and UTF-8).
    Text(String),
    /// `"..."`.
    Quoted(String),
    /// `(...)`.
    Comment(String),
    /// `=?utf-8?B?...?=` of the text.
    EncodedB(String),
    /// `=?utf-8?Q?...?=` of the text.
    EncodedQ(String),
    /// An encoded-word of the signer's address.
    EncodedSigner,
    /// Punctuation that separates addresses or groups.
    Punct(Punct),
    /// Folding: CRLF and a space.
    Fold,
    /// A bare CR.
    Cr,
    /// A bare LF.
    Lf,
    /// CRLF without folding (ends the field, may start another).
    Crlf,
    /// NUL.
    Nul,
    /// Runs of spaces.
    Spaces(u8),
}

/// Address-list punctuation.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Punct {
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `;`
    Semicolon,
    /// `.`
    Dot,
    /// `@`
    At,
    /// `<`
    Open,
    /// `>`
    Close,
    /// `\`
    Backslash,
}

fn render_piece(piece: &Piece, out: &mut Vec<u8>) {
    use base64::Engine as _;
    match piece {
        Piece::SignerAddress => out.extend_from_slice(SIGNER_ADDRESS.as_bytes()),
        Piece::SignerAngle => out.extend_from_slice(format!("<{SIGNER_ADDRESS}>").as_bytes()),
        Piece::SignerUpper => out.extend_from_slice(SIGNER_ADDRESS.to_uppercase().as_bytes()),
        Piece::OtherAddress => out.extend_from_slice(b"mallory@example.net"),
        Piece::OtherAngle => out.extend_from_slice(b"<mallory@example.net>"),
        Piece::Lookalike => out.extend_from_slice("\u{430}lice@ex\u{430}mple.org".as_bytes()),
        Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
        Piece::Quoted(t) => out.extend_from_slice(format!("\"{t}\"").as_bytes()),
        Piece::Comment(t) => out.extend_from_slice(format!("({t})").as_bytes()),
        Piece::EncodedB(t) => {
            let b = base64::engine::general_purpose::STANDARD.encode(t);
            out.extend_from_slice(format!("=?utf-8?B?{b}?=").as_bytes());
        }
        Piece::EncodedQ(t) => {
            out.extend_from_slice(b"=?utf-8?Q?");
            for &b in t.as_bytes() {
                if b.is_ascii_alphanumeric() {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("={b:02X}").as_bytes());
                }
            }
            out.extend_from_slice(b"?=");
        }
        Piece::EncodedSigner => {
            let b = base64::engine::general_purpose::STANDARD.encode(SIGNER_ADDRESS);
            out.extend_from_slice(format!("=?us-ascii?B?{b}?=").as_bytes());
        }
        Piece::Punct(p) => out.push(match p {
            Punct::Comma => b',',
            Punct::Colon => b':',
            Punct::Semicolon => b';',
            Punct::Dot => b'.',
            Punct::At => b'@',
            Punct::Open => b'<',
            Punct::Close => b'>',
            Punct::Backslash => b'\\',
        }),
        Piece::Fold => out.extend_from_slice(b"\r\n "),
        Piece::Cr => out.push(b'\r'),
        Piece::Lf => out.push(b'\n'),
        Piece::Crlf => out.extend_from_slice(b"\r\n"),
        Piece::Nul => out.push(0),
        Piece::Spaces(n) => out.extend(std::iter::repeat_n(b' ', usize::from(*n % 16) + 1)),
    }
}

/// The header fields, each ended with CRLF.
pub fn render(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        let name = match &field.name {
            Name::From => "From".to_owned(),
            Name::FromLower => "from".to_owned(),
            Name::FromSpace => "From ".to_owned(),
            Name::Sender => "Sender".to_owned(),
            Name::ReplyTo => "Reply-To".to_owned(),
            Name::Subject => "Subject".to_owned(),
            Name::Other(n) => {
                let n: String =
                    n.chars().filter(|c| c.is_ascii_graphic() && *c != ':').take(20).collect();
                if n.is_empty() { "X-Other".to_owned() } else { n }
            }
        };
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        for piece in &field.value {
            render_piece(piece, &mut out);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What a mail reader shows as the author: the From fields as mailparse (a reader's
/// parser, not the crate's field splitter) finds them in the raw message, each with its
/// parsed address list. `None` when the header does not parse at all.
pub fn reader_from_fields(message: &[u8]) -> Option<Vec<Result<mailparse::MailAddrList, String>>> {
    let (headers, _) = mailparse::parse_headers(message).ok()?;
    Some(
        headers
            .iter()
            .filter(|h| h.get_key_ref().trim().eq_ignore_ascii_case("From"))
            .map(|h| mailparse::addrparse_header(h).map_err(|e| e.to_string()))
            .collect(),
    )
}
