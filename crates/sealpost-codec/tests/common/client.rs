//! A client session fed scripted server bytes: what it reports and what it sends.

use sealpost_codec::client::{ClientConfig, ClientEvent, ClientSession, TransactionResult};

/// Feeds `bytes`; returns the events and what the client sent.
pub fn feed(client: &mut ClientSession, bytes: &[u8]) -> (Vec<ClientEvent>, Vec<u8>) {
    client.handle_input(bytes);
    let mut events = Vec::new();
    while let Some(event) = client.poll_event() {
        events.push(event);
    }
    (events, sent(client))
}

/// Everything the client has to send.
pub fn sent(client: &mut ClientSession) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// A client of `config` after the greeting and the EHLO (or LHLO) reply `ehlo`.
pub fn client_with_config(config: ClientConfig, ehlo: &[u8]) -> ClientSession {
    let mut client = ClientSession::new(config);
    let (events, out) = feed(&mut client, b"220 mx.test ESMTP\r\n");
    assert!(matches!(events[..], [ClientEvent::Greeting(_)]), "{events:?}");
    assert!(out.starts_with(b"EHLO ") || out.starts_with(b"LHLO "));
    let (events, _) = feed(&mut client, ehlo);
    assert!(matches!(events.last(), Some(ClientEvent::Ready { .. })), "{events:?}");
    assert!(client.is_ready());
    client
}

/// The result of the last event, which must be `TransactionDone`.
pub fn done(events: &[ClientEvent]) -> &TransactionResult {
    match events.last() {
        Some(ClientEvent::TransactionDone(result)) => result,
        _ => panic!("no result: {events:?}"),
    }
}

/// Per recipient: the code of the RCPT reply and of the data reply.
pub fn codes(result: &TransactionResult) -> Vec<(Option<u16>, Option<u16>)> {
    result
        .recipients
        .iter()
        .map(|r| (r.rcpt.as_ref().map(|x| x.code().get()), r.data.as_ref().map(|x| x.code().get())))
        .collect()
}
