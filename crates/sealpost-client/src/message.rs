//! A message to deliver, and what came of it.

use bytes::Bytes;
use sealpost_codec::client::{Envelope, TransactionResult};
use sealpost_starttls::client::OutboundTls;

use crate::error::DeliveryError;
use crate::transport::ServerAddr;

/// One message: its envelope (sender, recipients and ESMTP parameters: BODY, SMTPUTF8,
/// RET/ENVID, NOTIFY/ORCPT, REQUIRETLS) and its content, header and body, lines ending in
/// CRLF (bare CR or LF are sent as CRLF; dot-stuffing is done on the way out).
///
/// SIZE is added when the server offers it, and BODY=8BITMIME when the content has 8-bit
/// octets and the server offers 8BITMIME.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The envelope.
    pub envelope: Envelope,
    /// The content.
    pub content: Bytes,
}

impl Message {
    /// A message.
    pub fn new(envelope: Envelope, content: impl Into<Bytes>) -> Self {
        Message { envelope, content: content.into() }
    }
}

/// What happened to the messages given to [`Client::deliver`](crate::Client::deliver)
/// or [`Client::deliver_lmtp`](crate::Client::deliver_lmtp).
#[derive(Debug)]
#[non_exhaustive]
pub struct Delivery {
    /// The host that took the connection (for a Unix-domain socket, its path).
    pub host: String,
    /// Its address: TCP, or the Unix-domain socket of an LMTP server.
    pub addr: ServerAddr,
    /// The TLS of the connection that carried the messages.
    pub tls: OutboundTls,
    /// Per message, in order: the server's replies (per recipient), or why it was not
    /// sent.
    pub results: Vec<Result<TransactionResult, DeliveryError>>,
}

impl Delivery {
    /// True when every recipient of every message got it.
    pub fn all_delivered(&self) -> bool {
        self.results.iter().all(|r| r.as_ref().is_ok_and(TransactionResult::all_delivered))
    }
}
