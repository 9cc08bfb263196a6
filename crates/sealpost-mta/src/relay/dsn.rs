//! Delivery status notifications (RFC 3464 in the form RFC 3461 section 6 asks for):
//! the bounce a relay sends to the sender when it gives up on recipients, and the
//! "relayed" notice for `NOTIFY=SUCCESS` when the next hop could not take the request on.

use std::fmt::Write as _;

use memchr::memmem;
use sealpost_codec::{Notify, XText};

use crate::queue::{QueueId, QueuedEnvelope, QueuedRecipient};

/// What happened to one recipient, for its per-recipient fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsnAction {
    /// Given up: `Action: failed`.
    Failed,
    /// Handed to a server that does not pass DSN requests on: `Action: relayed`.
    Relayed,
    /// Stored in the recipient's mailbox here: `Action: delivered`.
    Delivered,
}

/// One recipient of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DsnRecipient {
    /// The recipient as queued (address, ORCPT, NOTIFY).
    pub recipient: QueuedRecipient,
    /// Failed or relayed.
    pub action: DsnAction,
    /// The enhanced status code, such as `5.1.1` or `2.0.0`.
    pub status: String,
    /// The host that answered, if one did.
    pub remote_mta: Option<String>,
    /// The reply or the reason, such as `550 5.1.1 User unknown`.
    pub diagnostic: String,
}

impl DsnRecipient {
    /// A recipient with these details.
    pub fn new(
        recipient: QueuedRecipient,
        action: DsnAction,
        status: impl Into<String>,
        remote_mta: Option<String>,
        diagnostic: impl Into<String>,
    ) -> Self {
        DsnRecipient {
            recipient,
            action,
            status: status.into(),
            remote_mta,
            diagnostic: diagnostic.into(),
        }
    }

    /// The recipient's address as the notice names it (`postmaster` for `<Postmaster>`).
    fn address(&self) -> String {
        self.recipient
            .forward_path
            .mailbox()
            .map_or_else(|| String::from("postmaster"), ToString::to_string)
    }
}

/// Whether `recipient` asked to hear about `action` (RFC 3461 section 4.1: without
/// NOTIFY, failures are reported and successes are not; NEVER silences both).
pub fn wants_notice(recipient: &QueuedRecipient, action: &DsnAction) -> bool {
    match (recipient.parameters.notify(), action) {
        (None, DsnAction::Failed) => true,
        (None, DsnAction::Relayed | DsnAction::Delivered) => false,
        (Some(Notify::On { failure, .. }), DsnAction::Failed) => failure,
        (Some(Notify::On { success, .. }), DsnAction::Relayed | DsnAction::Delivered) => success,
        (Some(_), _) => false,
    }
}

/// An xtext value decoded (RFC 3461 section 4), as text for a notice.
fn decoded(xtext: &XText<'_>) -> String {
    String::from_utf8_lossy(&xtext.decode()).into_owned()
}

/// A field value on one line: control characters (CR and LF above all) become spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A MIME boundary that does not occur in `content`.
fn boundary_for(content: &[u8], seed: &str) -> String {
    let mut n = 0u32;
    loop {
        let candidate = format!("=_dsn_{seed}_{n}");
        if memmem::find(content, candidate.as_bytes()).is_none() {
            return candidate;
        }
        n += 1;
    }
}

/// The header section of `message` (up to and including the empty line, or all of it).
fn header_section(message: &[u8]) -> &[u8] {
    match memmem::find(message, b"\r\n\r\n") {
        Some(at) => &message[..at + 4],
        None => message,
    }
}

/// Builds the notification to the sender of message `id` about `recipients`.
///
/// `message` is the queued content; it is returned whole unless the sender asked for
/// headers only (`RET=HDRS`). `hostname` is this server; `now` the date for `Date:` and
/// `Last-Attempt-Date:` (RFC 5322 form).
///
/// ```
/// use sealpost_codec::{Command, ForwardPath};
/// use sealpost_mta::queue::{QueueId, QueuedEnvelope, QueuedRecipient, RecipientRoute};
/// use sealpost_mta::relay::dsn::{DsnAction, DsnRecipient, notification};
///
/// let (_, mail) = Command::decode(b"MAIL FROM:<alice@example.org> RET=HDRS\r\n")?;
/// let Command::Mail { reverse_path, parameters } = mail.into_owned() else { unreachable!() };
/// let bob = QueuedRecipient::new(
///     ForwardPath::Mailbox("bob@example.net".parse()?), Default::default(), RecipientRoute::Remote);
/// let envelope = QueuedEnvelope::new(reverse_path, parameters).recipient(bob.clone());
/// let failed = DsnRecipient::new(bob, DsnAction::Failed, "5.1.1",
///     Some("mx.example.net".into()), "550 5.1.1 User unknown");
/// let id: QueueId = "q1".parse()?;
/// let dsn = notification(&id, &envelope, &[failed], b"Subject: hi\r\n\r\nbody\r\n",
///     "mx.example.org", "Mon, 30 Nov 2026 10:00:00 +0000");
/// let text = String::from_utf8(dsn)?;
/// assert!(text.contains("Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
/// assert!(text.contains("Content-Type: text/rfc822-headers") && !text.contains("body"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn notification(
    id: &QueueId,
    envelope: &QueuedEnvelope,
    recipients: &[DsnRecipient],
    message: &[u8],
    hostname: &str,
    now: &str,
) -> Vec<u8> {
    let headers_only = envelope.mail_parameters.ret() == Some(sealpost_codec::Ret::Hdrs);
    let returned = if headers_only { header_section(message) } else { message };
    let boundary = boundary_for(returned, id.as_str());
    let failed = recipients.iter().any(|r| r.action == DsnAction::Failed);
    let relayed = recipients.iter().any(|r| r.action == DsnAction::Relayed);
    let subject = if failed {
        "Undelivered Mail Returned to Sender"
    } else if relayed {
        "Delivery Status Notification (relayed)"
    } else {
        "Delivery Status Notification (delivered)"
    };

    let mut out = String::new();
    let _ = write!(
        out,
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{sender}>\r\n\
         Subject: {subject}\r\n\
         Date: {now}\r\n\
         Message-ID: <{id}.dsn@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a delivery status notification (RFC 3464).\r\n\
         \r\n--{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
        sender = one_line(&envelope.sender().map(ToString::to_string).unwrap_or_default()),
    );
    if failed {
        out.push_str(
            "Your message could not be delivered to the recipients below; this server has \
             given up.\r\n\r\n",
        );
    } else if relayed {
        out.push_str(
            "Your message was handed on to the recipients' server below, which does not \
             send delivery notifications itself.\r\n\r\n",
        );
    } else {
        out.push_str("Your message was delivered to the mailboxes below.\r\n\r\n");
    }
    for r in recipients {
        let _ = write!(out, "<{}>: {}\r\n", one_line(&r.address()), one_line(&r.diagnostic));
    }

    let _ = write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {hostname}\r\n"
    );
    if let Some(envid) = envelope.mail_parameters.envid() {
        let _ = write!(out, "Original-Envelope-Id: {}\r\n", one_line(&decoded(envid)));
    }
    let _ = write!(out, "Arrival-Date: {}\r\n", arrival_date(envelope.arrived, now));
    for r in recipients {
        out.push_str("\r\n");
        let _ = write!(out, "Final-Recipient: rfc822; {}\r\n", one_line(&r.address()));
        if let Some(orcpt) = r.recipient.parameters.orcpt() {
            let (kind, address) = (orcpt.addr_type.as_str(), decoded(&orcpt.address));
            let _ = write!(out, "Original-Recipient: {kind}; {}\r\n", one_line(&address));
        }
        let action = match r.action {
            DsnAction::Failed => "failed",
            DsnAction::Relayed => "relayed",
            DsnAction::Delivered => "delivered",
        };
        let _ = write!(out, "Action: {action}\r\nStatus: {}\r\n", one_line(&r.status));
        if let Some(mta) = &r.remote_mta {
            let _ = write!(out, "Remote-MTA: dns; {}\r\n", one_line(mta));
        }
        let _ = write!(out, "Diagnostic-Code: smtp; {}\r\n", one_line(&r.diagnostic));
        let _ = write!(out, "Last-Attempt-Date: {now}\r\n");
    }
    let part = if headers_only { "text/rfc822-headers" } else { "message/rfc822" };
    let _ = write!(out, "\r\n--{boundary}\r\nContent-Type: {part}\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(returned);
    if !returned.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    bytes
}

/// `Arrival-Date:` in RFC 5322 form, or `now` when the arrival time cannot be shown.
fn arrival_date(arrived: u64, now: &str) -> String {
    let Ok(seconds) = i64::try_from(arrived) else { return now.to_owned() };
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc2822).ok())
        .unwrap_or_else(|| now.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::RecipientRoute;
    use sealpost_codec::Command;

    fn recipient(params: &str) -> QueuedRecipient {
        let line = format!("RCPT TO:<bob@example.net>{params}\r\n");
        let Ok((_, Command::Rcpt { forward_path, parameters })) = Command::decode(line.as_bytes())
        else {
            panic!("{line}")
        };
        QueuedRecipient::new(
            forward_path.into_owned(),
            parameters.into_owned(),
            RecipientRoute::Remote,
        )
    }

    #[test]
    fn notify_decides_who_hears_what() {
        for (notify, failed, relayed) in [
            ("", true, false),
            (" NOTIFY=NEVER", false, false),
            (" NOTIFY=SUCCESS", false, true),
            (" NOTIFY=success,failure", true, true),
            (" NOTIFY=DELAY", false, false),
        ] {
            assert_eq!(wants_notice(&recipient(notify), &DsnAction::Failed), failed, "{notify:?}");
            assert_eq!(
                wants_notice(&recipient(notify), &DsnAction::Relayed),
                relayed,
                "{notify:?}"
            );
        }
    }

    #[test]
    fn orcpt_is_decoded_and_fields_stay_on_one_line() {
        let bob = recipient(" ORCPT=rfc822;b+2Bob@example.net");
        let envelope = QueuedEnvelope::new(sealpost_codec::ReversePath::Null, Default::default())
            .recipient(bob.clone());
        let failed = DsnRecipient::new(bob, DsnAction::Failed, "5.0.0", None, "550 no\r\nBcc: x");
        let id: QueueId = "q".parse().unwrap();
        let text = String::from_utf8(notification(
            &id,
            &envelope,
            &[failed],
            b"S: x\r\n\r\n",
            "mx",
            "now",
        ))
        .unwrap();
        assert!(text.contains("Original-Recipient: rfc822; b+ob@example.net\r\n"), "{text}");
        assert!(text.contains("Diagnostic-Code: smtp; 550 no  Bcc: x\r\n"), "{text}");
        assert_eq!(one_line("a\r\nBcc: x"), "a  Bcc: x");
    }

    #[test]
    fn the_boundary_avoids_the_content() {
        let content = b"--=_dsn_q_0\r\n";
        assert_eq!(boundary_for(content, "q"), "=_dsn_q_1");
    }
}
