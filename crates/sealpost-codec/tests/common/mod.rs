//! Harness shared by the session tests: a scripted server application ([`ServerApp`]), a
//! server driven by it one write at a time ([`Server`]), a client session fed scripted
//! server bytes ([`client`]), a client and a server pumped against each other in memory
//! ([`Pair`]), reply helpers, and the transcript runner ([`transcript`]).
//!
//! Every test binary uses a different part of it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app;
pub mod client;
pub mod pair;
pub mod transcript;

#[allow(unused_imports)]
pub use app::{Server, ServerApp};
#[allow(unused_imports)]
pub use pair::Pair;

use sealpost_codec::client::Envelope;
use sealpost_codec::server::{AuthConfig, ServerConfig, TlsOffer};
use sealpost_codec::{ForwardPath, Mailbox, Reply, ReversePath};

/// A reply from its text, for example `reply("550 5.1.1 No such user")`.
pub fn reply(text: &str) -> Reply<'static> {
    let bytes = format!("{text}\r\n");
    let (rest, reply) = Reply::decode(bytes.as_bytes()).expect("a valid reply");
    assert!(rest.is_empty());
    reply.into_owned()
}

/// Every reply in `bytes`, which must hold complete replies only.
pub fn parse_replies(bytes: &[u8]) -> Vec<Reply<'static>> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        match Reply::decode(rest) {
            Ok((tail, reply)) => {
                out.push(reply.into_owned());
                rest = tail;
            }
            Err(e) => panic!("not a reply ({e:?}): {:?}", String::from_utf8_lossy(rest)),
        }
    }
    out
}

/// "code" or "code enhanced-code" of a reply: what the tests compare.
pub fn summary(reply: &Reply<'_>) -> String {
    match reply.enhanced_status() {
        Some(status) => format!("{} {status}", reply.code()),
        None => reply.code().to_string(),
    }
}

/// [`summary`] of every reply in `bytes`.
pub fn summaries(bytes: &[u8]) -> Vec<String> {
    parse_replies(bytes).iter().map(summary).collect()
}

/// A mailbox from `local@domain`.
pub fn mailbox(s: &str) -> Mailbox<'static> {
    Mailbox::parse(s).expect("a valid mailbox").into_owned()
}

/// `<s>` as a reverse-path.
pub fn from(s: &str) -> ReversePath<'static> {
    ReversePath::Mailbox(mailbox(s))
}

/// `<s>` as a forward-path.
pub fn to(s: &str) -> ForwardPath<'static> {
    ForwardPath::Mailbox(mailbox(s))
}

/// An envelope without parameters.
pub fn envelope(sender: &str, recipients: &[&str]) -> Envelope {
    recipients.iter().fold(Envelope::new(from(sender)), |e, r| e.recipient(to(r)))
}

/// The default MX configuration with STARTTLS offered.
pub fn mx_config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.test");
    config.tls = TlsOffer::Offered;
    config
}

/// Submission (RFC 6409 with RFC 3207 and RFC 4954): STARTTLS, then AUTH, then MAIL.
pub fn submission_config() -> ServerConfig {
    let mut config = ServerConfig::new("submit.test");
    config.tls = TlsOffer::Required;
    let mut auth = AuthConfig::default();
    auth.required = true;
    config.auth = Some(auth);
    config
}

/// The lines of `bytes` (split after each CRLF), lossily as text, for messages.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim_end_matches("\r\n").to_owned())
        .collect()
}
