//! Delivery status notifications (RFC 3464 in the form RFC 3461 section 6 asks for):
//! the bounce a relay sends to the sender when it gives up on recipients, and the
//! "relayed" notice for `NOTIFY=SUCCESS` when the next hop could not take the request on.

use std::fmt::Write as _;

use crate::queue::{QueueEnvelope, QueuedRecipient};

/// What happened to one recipient, for its per-recipient fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsnAction {
    /// Given up: `Action: failed`.
    Failed,
    /// Handed to a server that does not pass DSN requests on: `Action: relayed`.
    Relayed,
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
}

/// Whether `recipient` asked to hear about `action` (RFC 3461 section 4.1: without
/// NOTIFY, failures are reported and successes are not; NEVER silences both).
pub fn wants_notice(recipient: &QueuedRecipient, action: &DsnAction) -> bool {
    let notify = recipient.notify.as_deref().unwrap_or("FAILURE").to_ascii_uppercase();
    let wanted = match action {
        DsnAction::Failed => "FAILURE",
        DsnAction::Relayed => "SUCCESS",
    };
    notify.split(',').any(|n| n.trim() == wanted)
}

/// Decodes xtext (RFC 3461 section 4): `+XX` is the octet with that hex value.
fn xtext_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'+', Some(octet)) => {
                out.push(octet);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
        if !content.windows(candidate.len()).any(|w| w == candidate.as_bytes()) {
            return candidate;
        }
        n += 1;
    }
}

/// The header section of `message` (up to and including the empty line, or all of it).
fn header_section(message: &[u8]) -> &[u8] {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => &message[..at + 4],
        None => message,
    }
}

/// Builds the notification for `envelope`'s sender about `recipients`.
///
/// `message` is the queued message (without the queue's offset); it is returned whole
/// unless the sender asked for headers only (`RET=HDRS`). `hostname` is this server;
/// `now` the date for `Date:` and `Last-Attempt-Date:` (RFC 5322 form).
///
/// ```
/// use sealpost_server::queue::QueueEnvelope;
/// use sealpost_server::relay::dsn::{DsnAction, DsnRecipient, notification};
///
/// let json = br#"{"version":1,"id":"q1","arrived":0,"session":"s","client":"192.0.2.1:1",
///   "user":"alice","sender":"alice@example.org","envid":null,"ret":"HDRS",
///   "mail_parameters":[],"message_offset":0,"recipients":[{"address":"bob@example.net",
///   "notify":null,"orcpt":null,"parameters":[]}]}"#;
/// let envelope = QueueEnvelope::from_json(json)?;
/// let failed = DsnRecipient::new(envelope.recipients[0].clone(), DsnAction::Failed,
///     "5.1.1", Some("mx.example.net".into()), "550 5.1.1 User unknown");
/// let dsn = notification(&envelope, &[failed], b"Subject: hi\r\n\r\nbody\r\n",
///     "mx.example.org", "Mon, 30 Nov 2026 10:00:00 +0000");
/// let text = String::from_utf8(dsn).unwrap();
/// assert!(text.contains("Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
/// assert!(text.contains("Content-Type: text/rfc822-headers") && !text.contains("body"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notification(
    envelope: &QueueEnvelope,
    recipients: &[DsnRecipient],
    message: &[u8],
    hostname: &str,
    now: &str,
) -> Vec<u8> {
    let headers_only = envelope.ret.as_deref().is_some_and(|r| r.eq_ignore_ascii_case("HDRS"));
    let returned = if headers_only { header_section(message) } else { message };
    let boundary = boundary_for(returned, &envelope.id);
    let failed = recipients.iter().any(|r| r.action == DsnAction::Failed);
    let subject = if failed {
        "Undelivered Mail Returned to Sender"
    } else {
        "Delivery Status Notification (relayed)"
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
        sender = one_line(&envelope.sender),
        id = envelope.id,
    );
    if failed {
        out.push_str(
            "Your message could not be delivered to the recipients below; this server has \
             given up.\r\n\r\n",
        );
    } else {
        out.push_str(
            "Your message was handed on to the recipients' server below, which does not \
             send delivery notifications itself.\r\n\r\n",
        );
    }
    for r in recipients {
        let _ =
            write!(out, "<{}>: {}\r\n", one_line(&r.recipient.address), one_line(&r.diagnostic));
    }

    let _ = write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {hostname}\r\n"
    );
    if let Some(envid) = &envelope.envid {
        let _ = write!(out, "Original-Envelope-Id: {}\r\n", one_line(&xtext_decode(envid)));
    }
    let _ = write!(out, "Arrival-Date: {}\r\n", arrival_date(envelope.arrived, now));
    for r in recipients {
        out.push_str("\r\n");
        let _ = write!(out, "Final-Recipient: rfc822; {}\r\n", one_line(&r.recipient.address));
        if let Some((kind, address)) = r.recipient.orcpt.as_deref().and_then(|o| o.split_once(';'))
        {
            let _ =
                write!(out, "Original-Recipient: {kind}; {}\r\n", one_line(&xtext_decode(address)));
        }
        let action = match r.action {
            DsnAction::Failed => "failed",
            DsnAction::Relayed => "relayed",
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

    fn recipient(notify: Option<&str>) -> QueuedRecipient {
        QueuedRecipient {
            address: String::from("bob@example.net"),
            notify: notify.map(str::to_owned),
            orcpt: Some(String::from("rfc822;b+2Bob@example.net")),
            parameters: Vec::new(),
            last_error: None,
        }
    }

    #[test]
    fn notify_decides_who_hears_what() {
        for (notify, failed, relayed) in [
            (None, true, false),
            (Some("NEVER"), false, false),
            (Some("SUCCESS"), false, true),
            (Some("success,failure"), true, true),
            (Some("DELAY"), false, false),
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
    fn xtext_and_injection() {
        assert_eq!(xtext_decode("b+2Bob@example.net"), "b+ob@example.net");
        assert_eq!(xtext_decode("+4"), "+4");
        assert_eq!(one_line("a\r\nBcc: x"), "a  Bcc: x");
    }

    #[test]
    fn the_boundary_avoids_the_content() {
        let content = b"--=_dsn_q_0\r\n";
        assert_eq!(boundary_for(content, "q"), "=_dsn_q_1");
    }
}
