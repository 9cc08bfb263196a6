//! Mail transactions of the client session: MAIL, RCPT, DATA or BDAT, the body, and the
//! per-recipient results.

use crate::command::Command;
use crate::data::{DotStuffer, NulOctets};
use crate::ehlo::{Capability, EhloResponse};
use crate::esmtp::{BodyType, MailParameter, RcptParameter};
use crate::reply::Reply;

use super::{
    ClientError, ClientEvent, ClientSession, Envelope, Expect, RecipientResult, State,
    TransactionResult,
};

/// Book-keeping of a transaction.
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) envelope: Envelope,
    pub(super) mail: Option<Reply<'static>>,
    pub(super) rcpts: Vec<Option<Reply<'static>>>,
    pub(super) data_command: Option<Reply<'static>>,
    pub(super) data_replies: Vec<Reply<'static>>,
    /// A failed BDAT chunk reply, which stands for the data reply.
    pub(super) bdat_failure: Option<Reply<'static>>,
    pub(super) bdat: bool,
    pub(super) pipelined: bool,
    /// DATA went out with the RCPTs (SMTP with PIPELINING); else it follows their replies.
    pub(super) data_pipelined: bool,
    /// Recipients not yet sent (without pipelining).
    pub(super) next_rcpt: usize,
    pub(super) body_open: bool,
    pub(super) stuffer: DotStuffer,
    /// Content octets given to `send_body` so far (offsets in errors count from here).
    pub(super) sent: u64,
}

impl Transaction {
    /// How many RCPTs were accepted (so far).
    pub(super) fn accepted(&self) -> usize {
        self.rcpts.iter().filter(|r| r.as_ref().is_some_and(|r| r.code().is_positive())).count()
    }
}

impl ClientSession {
    /// Starts a transaction: MAIL, every RCPT and (for DATA) the DATA command, pipelined
    /// when offered (in LMTP, DATA waits for the RCPT replies: see
    /// [`ClientConfig::lmtp`](super::ClientConfig::lmtp)). Checks SIZE, SMTPUTF8,
    /// 8BITMIME, BINARYMIME, DSN and REQUIRETLS against what the server announced before
    /// sending anything, and adds SMTPUTF8 when an address needs it.
    pub fn send_mail(&mut self, envelope: Envelope) -> Result<(), ClientError> {
        self.ready()?;
        if envelope.recipients.is_empty() {
            return Err(ClientError::InvalidState("an envelope needs at least one recipient"));
        }
        self.check_extensions(&envelope)?;
        let body = envelope.parameters.body();
        let chunking = self.offers(&Capability::Chunking);
        let bdat = chunking && (self.config.chunking || body == Some(BodyType::BinaryMime));
        let pipelined = self.config.pipelining && self.offers(&Capability::Pipelining);
        let data_pipelined = pipelined && !bdat && !self.config.lmtp;
        let mut parameters = envelope.parameters.clone();
        // RFC 6531 section 3.4: a non-ASCII address needs SMTPUTF8 on MAIL, or the server
        // refuses the transaction (553 5.6.7); the check above made sure it is offered.
        if envelope.needs_smtputf8() && !parameters.smtputf8() {
            parameters.0.push(MailParameter::SmtpUtf8);
        }
        let mail = Command::Mail { reverse_path: envelope.reverse_path.clone(), parameters };
        self.send(&mail, Expect::Mail);
        let count = envelope.recipients.len();
        let mut transaction = Transaction {
            envelope,
            mail: None,
            rcpts: vec![None; count],
            data_command: None,
            data_replies: Vec::new(),
            bdat_failure: None,
            bdat,
            pipelined,
            data_pipelined,
            next_rcpt: 0,
            body_open: false,
            stuffer: if bdat { DotStuffer::normalizer() } else { DotStuffer::new() },
            sent: 0,
        };
        if pipelined {
            for i in 0..count {
                self.send_rcpt(&mut transaction, i);
            }
            if data_pipelined {
                self.send(&Command::Data, Expect::Data);
            }
        }
        self.transaction = Some(transaction);
        self.state = State::Transaction;
        Ok(())
    }

    fn send_rcpt(&mut self, transaction: &mut Transaction, index: usize) {
        let (path, parameters) = &transaction.envelope.recipients[index];
        let command = Command::Rcpt { forward_path: path.clone(), parameters: parameters.clone() };
        self.send(&command, Expect::Rcpt(index));
        transaction.next_rcpt = index + 1;
    }

    fn check_extensions(&self, envelope: &Envelope) -> Result<(), ClientError> {
        let params = &envelope.parameters;
        let esmtp = self.ehlo.is_some();
        if let Some(size) = params.size() {
            if !self.offers(&Capability::Size(None)) {
                return Err(ClientError::NotOffered("SIZE"));
            }
            if let Some(limit) = self.ehlo.as_ref().and_then(EhloResponse::size)
                && limit > 0
                && size > limit
            {
                return Err(ClientError::MessageTooLarge { size, limit });
            }
        }
        if (envelope.needs_smtputf8() || params.smtputf8()) && !self.offers(&Capability::SmtpUtf8) {
            return Err(ClientError::NotOffered("SMTPUTF8"));
        }
        match params.body() {
            Some(BodyType::EightBitMime) if !self.offers(&Capability::EightBitMime) => {
                return Err(ClientError::NotOffered("8BITMIME"));
            }
            Some(BodyType::BinaryMime)
                if !(self.offers(&Capability::BinaryMime)
                    && self.offers(&Capability::Chunking)) =>
            {
                return Err(ClientError::NotOffered("BINARYMIME with CHUNKING"));
            }
            _ => {}
        }
        if params.requiretls() {
            if !self.tls {
                return Err(ClientError::RequireTlsWithoutTls);
            }
            if !self.offers(&Capability::RequireTls) {
                return Err(ClientError::NotOffered("REQUIRETLS"));
            }
        }
        let dsn = params
            .iter()
            .any(|p| matches!(p, MailParameter::Ret(_) | MailParameter::EnvId(_)))
            || envelope.recipients.iter().any(|(_, r)| {
                r.iter().any(|p| matches!(p, RcptParameter::Notify(_) | RcptParameter::Orcpt(_)))
            });
        if dsn && !self.offers(&Capability::Dsn) {
            return Err(ClientError::NotOffered("DSN"));
        }
        if !esmtp && (!params.is_empty() || envelope.recipients.iter().any(|(_, r)| !r.is_empty()))
        {
            return Err(ClientError::NotOffered("ESMTP parameters (the server only took HELO)"));
        }
        Ok(())
    }

    /// Sends message content after [`ClientEvent::SendBody`]; `last` ends the message.
    /// With DATA the content is dot-stuffed (and bare CR/LF become CRLF); with BDAT each
    /// call is one chunk.
    pub fn send_body(&mut self, chunk: &[u8], last: bool) -> Result<(), ClientError> {
        let Some(mut transaction) = self.transaction.take() else {
            return Err(ClientError::InvalidState("no transaction"));
        };
        if !transaction.body_open {
            self.transaction = Some(transaction);
            return Err(ClientError::InvalidState("the server does not wait for the body"));
        }
        if transaction.bdat && transaction.bdat_failure.is_some() {
            self.transaction = Some(transaction);
            return Err(ClientError::InvalidState("the server refused a BDAT chunk"));
        }
        // BINARYMIME goes as is; a text message is CRLF lines without NUL, with BDAT too.
        let binary = transaction.envelope.parameters.body() == Some(BodyType::BinaryMime);
        let stripped: Vec<u8>;
        let offset = transaction.sent;
        transaction.sent += chunk.len() as u64;
        let chunk = match memchr::memchr(0, chunk) {
            Some(at) if !binary => match self.config.nul_octets {
                NulOctets::Reject => {
                    // Nothing of this chunk goes out, and the transaction cannot end
                    // without an end of data the server would take: the session ends.
                    let error = ClientError::NulInContent { offset: offset + at as u64 };
                    self.close(Err(error.clone()));
                    return Err(error);
                }
                NulOctets::Strip => {
                    stripped = chunk.iter().copied().filter(|&b| b != 0).collect();
                    &stripped[..]
                }
            },
            _ => chunk,
        };
        if transaction.bdat {
            let mut normalized = Vec::new();
            let content = if binary {
                chunk
            } else {
                transaction.stuffer.encode(chunk, &mut normalized);
                if last {
                    transaction.stuffer.finish(&mut normalized);
                }
                &normalized[..]
            };
            if !content.is_empty() || last {
                let command = Command::Bdat { size: content.len() as u64, last };
                command.encode(&mut self.outbox);
                self.outbox.extend_from_slice(content);
                self.expects.push_back(if last { Expect::DataEnd } else { Expect::BdatChunk });
            }
        } else {
            transaction.stuffer.encode(chunk, &mut self.outbox);
            if last {
                transaction.stuffer.finish(&mut self.outbox);
                self.expects.push_back(Expect::DataEnd);
            }
        }
        if last {
            transaction.body_open = false;
        }
        self.transaction = Some(transaction);
        Ok(())
    }

    pub(super) fn on_transaction_reply(&mut self, expect: Expect, reply: Reply<'static>) {
        let Some(mut t) = self.transaction.take() else {
            return self.fail(ClientError::UnexpectedReply { context: "no transaction", reply });
        };
        let ok = reply.code().is_positive();
        match expect {
            Expect::Mail => {
                t.mail = Some(reply);
                if !ok && !t.pipelined {
                    return self.finish_transaction(t);
                }
                if !t.pipelined && t.next_rcpt < t.rcpts.len() {
                    let next = t.next_rcpt;
                    self.send_rcpt(&mut t, next);
                }
            }
            Expect::Rcpt(i) => {
                t.rcpts[i] = Some(reply);
                let all_answered = i + 1 == t.rcpts.len();
                if !t.pipelined && !all_answered {
                    self.send_rcpt(&mut t, i + 1);
                } else if all_answered {
                    let mail_ok = t.mail.as_ref().is_some_and(|m| m.code().is_positive());
                    if t.bdat {
                        if mail_ok && t.accepted() > 0 {
                            t.body_open = true;
                            self.events.push_back(ClientEvent::SendBody);
                        } else {
                            return self.finish_transaction(t);
                        }
                    } else if !t.data_pipelined {
                        if mail_ok && t.accepted() > 0 {
                            self.send(&Command::Data, Expect::Data);
                        } else {
                            return self.finish_transaction(t);
                        }
                    }
                }
            }
            Expect::Data => {
                let go = reply.code().is_intermediate();
                t.data_command = Some(reply);
                if go && t.accepted() > 0 {
                    t.body_open = true;
                    self.events.push_back(ClientEvent::SendBody);
                } else if go {
                    // RFC 2920 section 3.1: a 354 although every RCPT failed; end the
                    // (empty) data at once and report the refusal.
                    t.stuffer.finish(&mut self.outbox);
                    self.expects.push_back(Expect::DataEnd);
                    self.transaction = Some(t);
                    return;
                } else {
                    return self.finish_transaction(t);
                }
            }
            Expect::BdatChunk => {
                if !ok && t.bdat_failure.is_none() {
                    t.bdat_failure = Some(reply);
                }
                // RFC 3030 section 2: after a refused chunk no more chunks are sent; once
                // no reply is outstanding, the transaction is over.
                let outstanding =
                    self.expects.iter().any(|e| matches!(e, Expect::BdatChunk | Expect::DataEnd));
                if t.bdat_failure.is_some() && !outstanding {
                    t.body_open = false;
                    return self.finish_transaction(t);
                }
            }
            Expect::DataEnd => {
                t.data_replies.push(reply);
                // RFC 2033 section 4.2: one reply per accepted recipient. After a refused
                // chunk the server has no transaction left and answers BDAT LAST once.
                let expected = if self.config.lmtp && t.bdat_failure.is_none() {
                    t.accepted().max(1)
                } else {
                    1
                };
                if t.data_replies.len() >= expected {
                    return self.finish_transaction(t);
                }
                // LMTP: more replies follow.
                self.expects.push_front(Expect::DataEnd);
            }
            _ => {}
        }
        self.transaction = Some(t);
    }

    pub(super) fn finish_transaction(&mut self, t: Transaction) {
        let lmtp = self.config.lmtp;
        let body_finished = !t.data_replies.is_empty();
        let data_failed_all = t.accepted() == 0;
        let mut data_replies = t.data_replies.into_iter();
        // One reply for every accepted recipient: a refused BDAT chunk, or in SMTP the
        // reply to the end of data; in LMTP each recipient has its own.
        let shared = match t.bdat_failure {
            Some(failure) => Some(failure),
            None if lmtp => None,
            None => data_replies.next(),
        };
        let per_recipient = lmtp && shared.is_none();
        let refused_data = t.data_command.clone().filter(|d| d.code().is_negative());
        let recipients = t
            .envelope
            .recipients
            .into_iter()
            .zip(t.rcpts)
            .map(|((path, _), rcpt)| {
                let accepted = rcpt.as_ref().is_some_and(|r| r.code().is_positive());
                let data = if !accepted || data_failed_all {
                    None
                } else if per_recipient {
                    data_replies.next().or_else(|| refused_data.clone())
                } else {
                    shared.clone().or_else(|| refused_data.clone())
                };
                RecipientResult { path, rcpt, data }
            })
            .collect();
        let mail = t.mail.unwrap_or_else(|| {
            Reply::from_parts(crate::ReplyCode::unchecked(451), vec![crate::Text::EMPTY])
        });
        let result = TransactionResult { mail, recipients, data_command: t.data_command };
        // A transaction that ended before its data leaves the server inside it: reset it
        // (RFC 5321 section 4.1.1.5) before anything else is sent.
        // The result is reported once the RSET is answered, so that the session is
        // ready for the next transaction when the application hears of it.
        if result.mail.code().is_positive() && !body_finished {
            self.send(&Command::Rset, Expect::SilentRset);
            self.state = State::Busy;
            self.finished = Some(result);
        } else {
            self.state = State::Ready;
            self.events.push_back(ClientEvent::TransactionDone(result));
        }
    }
}
