//! What the client sends in one transaction, and what came back.

use crate::esmtp::{MailParameters, RcptParameters};
use crate::reply::Reply;
use crate::types::path::{ForwardPath, ReversePath};

/// The envelope of one message: sender, parameters, recipients.
///
/// ```
/// use sealpost_codec::client::Envelope;
/// use sealpost_codec::{ForwardPath, Mailbox, ReversePath};
///
/// let envelope = Envelope::new(ReversePath::Mailbox("a@example.org".parse().unwrap()))
///     .recipient(ForwardPath::Mailbox("b@example.net".parse::<Mailbox>().unwrap()));
/// assert_eq!(envelope.recipients.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// `MAIL FROM:` path.
    pub reverse_path: ReversePath<'static>,
    /// `MAIL FROM:` parameters.
    pub parameters: MailParameters<'static>,
    /// `RCPT TO:` paths with their parameters, in order.
    pub recipients: Vec<(ForwardPath<'static>, RcptParameters<'static>)>,
}

impl Envelope {
    /// An envelope without parameters or recipients.
    pub fn new(reverse_path: ReversePath<'static>) -> Self {
        Envelope { reverse_path, parameters: MailParameters::new(), recipients: Vec::new() }
    }

    /// Sets the MAIL parameters.
    #[must_use]
    pub fn parameters(mut self, parameters: MailParameters<'static>) -> Self {
        self.parameters = parameters;
        self
    }

    /// Adds a recipient without parameters.
    #[must_use]
    pub fn recipient(mut self, path: ForwardPath<'static>) -> Self {
        self.recipients.push((path, RcptParameters::new()));
        self
    }

    /// Adds a recipient with parameters.
    #[must_use]
    pub fn recipient_with(
        mut self,
        path: ForwardPath<'static>,
        parameters: RcptParameters<'static>,
    ) -> Self {
        self.recipients.push((path, parameters));
        self
    }

    /// True when an address needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        !self.reverse_path.is_ascii() || self.recipients.iter().any(|(p, _)| !p.is_ascii())
    }
}

/// The outcome for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientResult {
    /// The recipient.
    pub path: ForwardPath<'static>,
    /// The reply to its RCPT (absent when RCPT was never sent because MAIL failed).
    pub rcpt: Option<Reply<'static>>,
    /// The reply to the message data for this recipient whose RCPT succeeded: in SMTP the
    /// single reply to the end of data; in LMTP this recipient's own (RFC 2033 section
    /// 4.2), or, when the server stopped before it, the server's 421 or a "451 4.4.2" the
    /// session made up. A refused DATA command or BDAT chunk is the reply of each.
    pub data: Option<Reply<'static>>,
}

impl RecipientResult {
    /// True when the message was accepted for this recipient.
    pub fn delivered(&self) -> bool {
        self.rcpt.as_ref().is_some_and(|r| r.code().is_positive())
            && self.data.as_ref().is_some_and(|r| r.code().is_positive())
    }

    /// The reply that decided the outcome: the data reply, else the RCPT reply.
    pub fn final_reply(&self) -> Option<&Reply<'static>> {
        match (&self.rcpt, &self.data) {
            (Some(r), _) if r.code().is_negative() => Some(r),
            (_, Some(d)) => Some(d),
            (r, None) => r.as_ref(),
        }
    }
}

/// Everything the server said about one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionResult {
    /// The reply to MAIL.
    pub mail: Reply<'static>,
    /// Per recipient, in envelope order.
    pub recipients: Vec<RecipientResult>,
    /// The reply to DATA (354 or a refusal), when DATA was used.
    pub data_command: Option<Reply<'static>>,
}

impl TransactionResult {
    /// True when every recipient got the message.
    pub fn all_delivered(&self) -> bool {
        !self.recipients.is_empty() && self.recipients.iter().all(RecipientResult::delivered)
    }

    /// Recipients that got the message.
    pub fn delivered(&self) -> impl Iterator<Item = &RecipientResult> {
        self.recipients.iter().filter(|r| r.delivered())
    }
}
