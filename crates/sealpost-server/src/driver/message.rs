//! The transaction of a connection: its envelope, and the handler's sink from
//! [`ServerEvent::MessageStart`](sealpost_codec::ServerEvent::MessageStart) (DATA and
//! BDAT alike) to the replies after the end of the data.

use bytes::Bytes;
use sealpost_codec::{ForwardPath, MailParameters, RcptParameters, ReversePath, replies};

use super::Connection;
use crate::handler::{Envelope, Handler, MessageSink, Verdict};

/// The transaction in progress.
pub(super) struct Transaction<S> {
    envelope: Envelope,
    sink: Option<S>,
    /// The data cannot be stored: the verdict to give at its end.
    failure: Option<Verdict>,
}

impl<S> Transaction<S> {
    pub(super) fn new(
        reverse_path: ReversePath<'static>,
        mail_parameters: MailParameters<'static>,
    ) -> Self {
        let envelope = Envelope { reverse_path, mail_parameters, recipients: Vec::new() };
        Transaction { envelope, sink: None, failure: None }
    }
}

fn local_error() -> Verdict {
    Verdict::Reply(replies::LOCAL_ERROR.to_reply())
}

impl<H: Handler> Connection<H> {
    pub(super) async fn rcpt(
        &mut self,
        forward_path: ForwardPath<'static>,
        parameters: RcptParameters<'static>,
    ) {
        let info = self.info();
        let handler = self.shared.handler.clone();
        let Some(tx) = self.tx.as_mut() else {
            self.session().respond(replies::NO_TRANSACTION.to_reply());
            return;
        };
        let verdict = handler.rcpt(&info, &tx.envelope, &forward_path, &parameters).await;
        if verdict.is_accept() {
            tx.envelope.recipients.push((forward_path, parameters));
        }
        self.answer(verdict);
    }

    /// DATA or the first BDAT chunk: open the handler's sink and write the Received
    /// header (the handler's, if it replaces or omits it), then let the data come.
    pub(super) async fn start_message(&mut self, chunking: bool) {
        let info = self.info();
        let handler = self.shared.handler.clone();
        let hostname = &self.shared.settings.session.hostname;
        let lmtp = self.shared.settings.session.lmtp;
        let Some(tx) = self.tx.as_mut() else {
            self.session().respond(replies::NO_TRANSACTION.to_reply());
            return;
        };
        let verdict = match handler.open_message(&info, &tx.envelope).await {
            Ok(mut sink) => {
                let header = crate::headers::received(&info, &tx.envelope, hostname, lmtp);
                let written = match handler.received_header(&info, &tx.envelope, header) {
                    Some(header) => sink.write(Bytes::from(header)).await,
                    None => Ok(()),
                };
                match written {
                    Ok(()) => {
                        tx.sink = Some(sink);
                        Verdict::Accept
                    }
                    Err(_) => {
                        sink.abort().await;
                        local_error()
                    }
                }
            }
            Err(verdict) => verdict,
        };
        if chunking && !verdict.is_accept() {
            // A refused BDAT chunk ends the transaction in the session (RFC 3030).
            self.tx = None;
        }
        self.answer(verdict);
    }

    pub(super) async fn write_chunk(&mut self, bytes: Bytes) {
        let Some(tx) = self.tx.as_mut() else { return };
        let Some(sink) = tx.sink.as_mut() else { return };
        if let Err(e) = sink.write(bytes).await {
            tracing::warn!(session = %self.origin.id, error = %e, "cannot store the message");
            if let Some(sink) = tx.sink.take() {
                sink.abort().await;
            }
            tx.failure = Some(local_error());
        }
    }

    /// The end of the data: commit (or abort) and give one reply per reply owed.
    pub(super) async fn message_end(&mut self, replies: usize) {
        let Some(tx) = self.tx.take() else {
            for _ in 0..replies {
                self.session().respond(replies::NO_TRANSACTION.to_reply());
            }
            return;
        };
        let verdicts = match (tx.failure, tx.sink) {
            (Some(failure), sink) => {
                if let Some(sink) = sink {
                    sink.abort().await;
                }
                vec![failure]
            }
            (None, Some(sink)) => sink.commit().await,
            (None, None) => vec![local_error()],
        };
        if verdicts.iter().any(Verdict::is_accept) {
            self.messages += 1;
        } else {
            self.rejected += 1;
        }
        let fallback = verdicts.last().cloned().unwrap_or_else(local_error);
        let verdicts: Vec<Verdict> =
            (0..replies).map(|i| verdicts.get(i).unwrap_or(&fallback).clone()).collect();
        for (i, verdict) in verdicts.iter().enumerate() {
            match verdict {
                // The session's accept() answers every reply still owed (in LMTP, every
                // recipient left): right only when they all accept.
                Verdict::Accept if verdicts[i..].iter().all(|v| *v == Verdict::Accept) => {
                    self.session().accept();
                    break;
                }
                Verdict::Accept => self.session().respond(replies::QUEUED.to_reply()),
                Verdict::Reply(r) => self.session().respond(r.clone()),
            }
        }
    }

    pub(super) async fn abort_transaction(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Some(sink) = tx.sink
        {
            sink.abort().await;
        }
    }
}
