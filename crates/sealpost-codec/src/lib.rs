//! # sealpost-codec
//!
//! A lossless, streaming SMTP codec (RFC 5321 and its extensions) with I/O-free client
//! and server sessions. No sockets, no TLS, no async runtime: bytes in, events and bytes
//! out. The tokio drivers live in other crates of the sealpost workspace.
//!
//! - **Types** that cannot hold invalid values: a [`Text`] never carries CR or LF, a
//!   [`Mailbox`] keeps its local part's form (dot-string or quoted), `<Postmaster>` is
//!   not `<>`, address literals are kept as written.
//! - **Decoders** ([`Command::decode`], [`Reply::decode`]) built on streaming nom parsers:
//!   short input is [`DecodeError::Incomplete`], never a wrong parse. **Encoders**
//!   round-trip with them.
//! - **Framing** on CRLF only ([`LineFramer`]), with a line limit that resynchronises
//!   without buffering overlong lines.
//! - **Message data**: [`DotUnstuffer`] ends exactly at CRLF "." CRLF and refuses bare
//!   CR/LF by default (SMTP smuggling); [`DotStuffer`] for clients; [`BdatReader`].
//! - **Sessions**: [`ServerSession`] and [`ClientSession`], sans-IO state machines
//!   (`handle_input`, `poll_event`, `poll_transmit`) that keep one contract, the
//!   [`Session`] trait, so that one I/O loop drives either.
//!
//! ```
//! use sealpost_codec::{Command, Reply};
//!
//! let (rest, command) = Command::decode(b"EHLO client.example\r\n").unwrap();
//! assert!(rest.is_empty());
//! assert_eq!(command.to_bytes(), b"EHLO client.example\r\n");
//!
//! let (_, reply) = Reply::decode(b"250 2.0.0 Ok\r\n").unwrap();
//! assert_eq!(reply.enhanced_status().map(|s| s.to_string()).as_deref(), Some("2.0.0"));
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod command;
mod data;
mod ehlo;
mod error;
mod esmtp;
mod framing;
mod parse;
pub mod replies;
mod reply;
pub mod sasl;
mod secret;
#[cfg(feature = "serde")]
mod serde_impls;
pub mod session;
mod types;

pub mod client;
pub mod server;

pub use client::{ClientConfig, ClientEvent, ClientSession};
pub use command::decode::DEFAULT_MAX_COMMAND_LINE;
pub use command::{Command, CommandDecoder, InitialResponse, Mechanism, Verb};
pub use data::{
    BareLineEndings, BdatReader, DataError, DataStep, DotStuffer, DotUnstuffer, NulOctets,
};
pub use ehlo::{Capability, EhloResponse, Limits};
pub use error::{CommandError, DecodeError, ParamError, ReplyError, ValidationError};
pub use esmtp::{
    BodyType, DeliverBy, DeliverByMode, MailParameter, MailParameters, Notify, Orcpt,
    RcptParameter, RcptParameters, Ret, Rrvs, RrvsAction, UnknownParameter,
};
pub use framing::{Frame, LineFramer};
pub use reply::{EnhancedStatusCode, Reply, ReplyClass, ReplyCode, ReplyDecoder};
pub use secret::Secret;
pub use server::{ServerConfig, ServerEvent, ServerSession};
pub use session::{Session, SessionPhase};
pub use types::domain::{
    AddressLiteral, AddressLiteralKind, Domain, DomainPart, Host, MAX_DOMAIN_LEN, MAX_LABEL_LEN,
};
pub use types::mailbox::{LocalPart, MAX_LOCAL_PART_LEN, Mailbox};
pub use types::path::{ForwardPath, MAX_PATH_LEN, ReversePath};
pub use types::text::{Atom, EsmtpValue, Keyword, Text};
pub use types::xtext::XText;

/// The README's example, compiled and run as a doc-test (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
