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
    BodyType, DomainPart, ForwardPath, MailParameter, MailParameters, Mailbox, RcptParameter,
    RcptParameters, ReversePath,
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

    /// The MAIL parameters a relay passes on to the next hop: BODY (when `eight_bit`
    /// content needs it; a 7-bit message needs no BODY=8BITMIME), SMTPUTF8, REQUIRETLS,
    /// and DSN's RET and ENVID when `with_dsn` (RFC 3461 section 4.2: not to a next hop
    /// without DSN). The rest is this hop's business: SIZE is the size of what this server
    /// sends (the client adds it when the next hop offers SIZE), AUTH names the submitter
    /// to this server only, and parameters of extensions this server does not relay
    /// (MT-PRIORITY, FUTURERELEASE, DELIVERBY, unknown ones) would be refused by a next hop
    /// that does not know them.
    pub fn relay_mail_parameters(
        &self,
        with_dsn: bool,
        eight_bit: bool,
    ) -> MailParameters<'static> {
        let kept: Vec<MailParameter<'static>> = self
            .mail_parameters
            .iter()
            .filter(|p| match p {
                MailParameter::Body(BodyType::SevenBit) => false,
                MailParameter::Body(BodyType::EightBitMime) => eight_bit,
                MailParameter::Body(_) | MailParameter::SmtpUtf8 | MailParameter::RequireTls => {
                    true
                }
                MailParameter::Ret(_) | MailParameter::EnvId(_) => with_dsn,
                _ => false,
            })
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

    /// The RCPT parameters a relay passes on: DSN's NOTIFY and ORCPT when `with_dsn`
    /// (see [`QueuedEnvelope::relay_mail_parameters`]), nothing else.
    pub fn relay_parameters(&self, with_dsn: bool) -> RcptParameters<'static> {
        let kept: Vec<RcptParameter<'static>> = self
            .parameters
            .iter()
            .filter(|p| with_dsn && matches!(p, RcptParameter::Notify(_) | RcptParameter::Orcpt(_)))
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
    fn a_relay_passes_on_only_what_the_next_hop_should_see() {
        let Ok((_, Command::Mail { reverse_path, parameters })) = Command::decode(
            b"MAIL FROM:<a@example.org> BODY=8BITMIME RET=FULL ENVID=QQ+2B1 SMTPUTF8 SIZE=99 \
              AUTH=a@example.org MT-PRIORITY=3 X-FOO=bar REQUIRETLS\r\n",
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
        let relayed = |with_dsn, eight_bit| -> Vec<String> {
            let params = envelope.relay_mail_parameters(with_dsn, eight_bit);
            params.iter().map(ToString::to_string).collect()
        };
        assert_eq!(
            relayed(true, true),
            ["BODY=8BITMIME", "RET=FULL", "ENVID=QQ+2B1", "SMTPUTF8", "REQUIRETLS"]
        );
        assert_eq!(relayed(false, false), ["SMTPUTF8", "REQUIRETLS"]);
        let rcpt = |with_dsn| -> Vec<String> {
            recipient.relay_parameters(with_dsn).iter().map(ToString::to_string).collect()
        };
        assert_eq!(rcpt(true), ["NOTIFY=SUCCESS", "ORCPT=rfc822;b@example.net"]);
        assert!(rcpt(false).is_empty());
        assert_eq!(recipient.domain(), "example.net");
        assert_eq!(envelope.sender().map(ToString::to_string).as_deref(), Some("a@example.org"));
    }
}
