//! A handler that accepts everything and keeps nothing, for benchmarks of the server
//! itself (`cargo xtask bench server`): the numbers then show the protocol and transport
//! cost without the file system's.

use bytes::Bytes;
use sealpost_codec::{ForwardPath, RcptParameters};

use crate::handler::{Envelope, Handler, MessageSink, SessionInfo, Verdict};

/// Accepts every recipient and every message, reads the data and drops it. AUTH is
/// refused (the default). Never use it where mail matters: it acknowledges mail it
/// throws away.
///
/// ```
/// use sealpost_server::{BoundServer, DiscardHandler, ListenerConfig, Role, ServerSettings};
///
/// # async fn bench() -> std::io::Result<()> {
/// let listener = ListenerConfig::new("127.0.0.1:0".parse().unwrap(), Role::Mx, None);
/// let server = BoundServer::bind(
///     std::sync::Arc::new(DiscardHandler::default()),
///     ServerSettings::new("bench.test"),
///     vec![listener],
/// )
/// .await?;
/// # drop(server);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DiscardHandler;

impl DiscardHandler {
    /// The handler.
    pub fn new() -> Self {
        DiscardHandler
    }
}

/// The sink of [`DiscardHandler`]: counts the octets, stores nothing.
#[derive(Debug, Default)]
pub struct DiscardSink {
    size: u64,
}

impl DiscardSink {
    /// The octets received so far (the Received header included).
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl MessageSink for DiscardSink {
    async fn write(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.size += chunk.len() as u64;
        Ok(())
    }

    async fn commit(self) -> Vec<Verdict> {
        vec![Verdict::Accept]
    }

    async fn abort(self) {}
}

impl Handler for DiscardHandler {
    type Sink = DiscardSink;

    async fn rcpt(
        &self,
        _info: &SessionInfo,
        _envelope: &Envelope,
        _forward_path: &ForwardPath<'_>,
        _parameters: &RcptParameters<'_>,
    ) -> Verdict {
        Verdict::Accept
    }

    async fn open_message(
        &self,
        _info: &SessionInfo,
        _envelope: &Envelope,
    ) -> Result<DiscardSink, Verdict> {
        Ok(DiscardSink::default())
    }
}
