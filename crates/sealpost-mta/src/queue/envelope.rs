//! What the queue stores of a message besides its content: the envelope, in the codec's
//! own types.
//!
//! The reverse path, the forward paths and every MAIL and RCPT parameter (SIZE, BODY,
//! SMTPUTF8, REQUIRETLS, DSN's RET, ENVID, NOTIFY and ORCPT, and any parameter this
//! server does not know) are kept as the `sealpost-codec` values the session parsed, and
//! handed to the client as those values: nothing is turned into text and parsed again.
//! On disk or in the database they are JSON through the codec's `serde` feature, checked
//! by the codec's validating constructors when they are read back.

use std::net::SocketAddr;

use sealpost_codec::{
    DomainPart, ForwardPath, MailParameter, MailParameters, Mailbox, RcptParameter, RcptParameters,
    ReversePath,
};
use serde::{Deserialize, Serialize};

/// The envelope of a queued message.
///
/// ```
/// use sealpost_codec::{Command, ForwardPath};
/// use sealpost_mta::queue::{QueuedEnvelope, QueuedRecipient, RecipientRoute};
///
/// let (_, mail) = Command::decode(b"MAIL FROM:<alice@example.org> RET=HDRS\r\n")?;
/// let Command::Mail { reverse_path, parameters } = mail.into_owned() else { unreachable!() };
/// let bob: ForwardPath<'static> = ForwardPath::Mailbox("bob@example.net".parse()?);
/// let envelope = QueuedEnvelope::new(reverse_path, parameters)
///     .recipient(QueuedRecipient::new(bob, Default::default(), RecipientRoute::Remote));
/// let json = serde_json::to_string(&envelope)?;
/// assert_eq!(serde_json::from_str::<QueuedEnvelope>(&json)?, envelope);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueuedEnvelope {
    /// MAIL FROM.
    pub reverse_path: ReversePath<'static>,
    /// The MAIL parameters, as the client gave them.
    pub mail_parameters: MailParameters<'static>,
    /// Every recipient of the message, in RCPT order; a recipient's index in this list
    /// names it in the queue's per-recipient state.
    pub recipients: Vec<QueuedRecipient>,
    /// Arrival time, seconds since the Unix epoch.
    pub arrived: u64,
    /// The receiving session's id (as in its Received header and logs), or a word that
    /// says where the message came from (`dsn` for notices made here).
    pub session: String,
    /// The client's address (the one a PROXY header named, behind a load balancer);
    /// `None` for messages made here.
    pub client: Option<SocketAddr>,
    /// The AUTH identity of the submitter, if any.
    pub user: Option<String>,
    /// The node that accepted the message.
    pub node: String,
}

impl QueuedEnvelope {
    /// An envelope without recipients, arriving now; add them with
    /// [`QueuedEnvelope::recipient`].
    pub fn new(
        reverse_path: ReversePath<'static>,
        mail_parameters: MailParameters<'static>,
    ) -> Self {
        QueuedEnvelope {
            reverse_path,
            mail_parameters,
            recipients: Vec::new(),
            arrived: crate::clock::unix_now(),
            session: String::new(),
            client: None,
            user: None,
            node: String::new(),
        }
    }

    /// Adds a recipient.
    #[must_use]
    pub fn recipient(mut self, recipient: QueuedRecipient) -> Self {
        self.recipients.push(recipient);
        self
    }

    /// The sender's mailbox; `None` for the null reverse path `<>`.
    pub fn sender(&self) -> Option<&Mailbox<'static>> {
        match &self.reverse_path {
            ReversePath::Mailbox(mailbox) => Some(mailbox),
            _ => None,
        }
    }

    /// The MAIL parameters without DSN's RET and ENVID, for a next hop that does not
    /// offer DSN (RFC 3461 section 4.2: the request is then not passed on).
    pub fn mail_parameters_without_dsn(&self) -> MailParameters<'static> {
        let kept: Vec<MailParameter<'static>> = self
            .mail_parameters
            .iter()
            .filter(|p| !matches!(p, MailParameter::Ret(_) | MailParameter::EnvId(_)))
            .cloned()
            .collect();
        // Removing parameters from a valid list cannot add a duplicate.
        MailParameters::from_vec(kept).unwrap_or_default()
    }
}

/// Where a recipient's mail goes, decided when it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RecipientRoute {
    /// A mailbox of this mail system: final delivery (Maildir or LMTP).
    Local,
    /// Another domain: relayed under the TLS policy of its destination.
    Remote,
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueuedRecipient {
    /// RCPT TO.
    pub forward_path: ForwardPath<'static>,
    /// The RCPT parameters, as the client gave them.
    pub parameters: RcptParameters<'static>,
    /// Local or remote.
    pub route: RecipientRoute,
}

impl QueuedRecipient {
    /// A recipient.
    pub fn new(
        forward_path: ForwardPath<'static>,
        parameters: RcptParameters<'static>,
        route: RecipientRoute,
    ) -> Self {
        QueuedRecipient { forward_path, parameters, route }
    }

    /// The recipient's domain, lower case without a trailing dot (an address literal as
    /// written); empty for `<Postmaster>`.
    pub fn domain(&self) -> String {
        match &self.forward_path {
            ForwardPath::Mailbox(mailbox) => match mailbox.domain() {
                DomainPart::Domain(domain) => {
                    domain.as_str().trim_end_matches('.').to_ascii_lowercase()
                }
                other => other.to_string(),
            },
            _ => String::new(),
        }
    }

    /// The RCPT parameters without DSN's NOTIFY and ORCPT (see
    /// [`QueuedEnvelope::mail_parameters_without_dsn`]).
    pub fn parameters_without_dsn(&self) -> RcptParameters<'static> {
        let kept: Vec<RcptParameter<'static>> = self
            .parameters
            .iter()
            .filter(|p| !matches!(p, RcptParameter::Notify(_) | RcptParameter::Orcpt(_)))
            .cloned()
            .collect();
        RcptParameters::from_vec(kept).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_codec::Command;

    #[test]
    fn dsn_parameters_are_removed_by_type() {
        let Ok((_, Command::Mail { reverse_path, parameters })) = Command::decode(
            b"MAIL FROM:<a@example.org> BODY=8BITMIME RET=FULL ENVID=QQ+2B1 SMTPUTF8\r\n",
        ) else {
            panic!("MAIL")
        };
        let Ok((_, Command::Rcpt { forward_path, parameters: rcpt })) = Command::decode(
            b"RCPT TO:<b@Example.NET> NOTIFY=SUCCESS ORCPT=rfc822;b@example.net X-Y=z\r\n",
        ) else {
            panic!("RCPT")
        };
        let recipient = QueuedRecipient::new(
            forward_path.into_owned(),
            rcpt.into_owned(),
            RecipientRoute::Remote,
        );
        let envelope = QueuedEnvelope::new(reverse_path.into_owned(), parameters.into_owned())
            .recipient(recipient.clone());
        let mail: Vec<String> =
            envelope.mail_parameters_without_dsn().iter().map(ToString::to_string).collect();
        assert_eq!(mail, ["BODY=8BITMIME", "SMTPUTF8"]);
        let rcpt: Vec<String> =
            recipient.parameters_without_dsn().iter().map(ToString::to_string).collect();
        assert_eq!(rcpt, ["X-Y=z"]);
        assert_eq!(recipient.domain(), "example.net");
        assert_eq!(envelope.sender().map(ToString::to_string).as_deref(), Some("a@example.org"));
    }
}
