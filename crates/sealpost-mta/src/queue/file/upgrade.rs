//! Reading queue entries of format version 1 (sealpost 0.1: the envelope as strings).
//!
//! Version 1 kept the sender, the recipients and every ESMTP parameter as the text they
//! would be sent as. This is the one place where such text is parsed again: once, by the
//! codec's own MAIL and RCPT decoders, when a queue written by 0.1 is first opened, so
//! that mail queued before an upgrade is neither lost nor stuck.

use sealpost_codec::{Command, ForwardPath};
use serde::Deserialize;

use super::{Entry, Pending, VERSION};
use crate::queue::{QueueId, QueuedEnvelope, QueuedRecipient, RecipientRoute};

#[derive(Deserialize)]
struct V1 {
    id: QueueId,
    arrived: u64,
    session: String,
    client: String,
    user: Option<String>,
    sender: String,
    mail_parameters: Vec<String>,
    message_offset: u64,
    recipients: Vec<V1Recipient>,
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    next_attempt: u64,
}

#[derive(Deserialize)]
struct V1Recipient {
    address: String,
    parameters: Vec<String>,
    #[serde(default)]
    last_error: Option<String>,
}

fn with_parameters(start: String, parameters: &[String]) -> String {
    let mut line = start;
    for parameter in parameters {
        line.push(' ');
        line.push_str(parameter);
    }
    line.push_str("\r\n");
    line
}

/// The version 2 entry of a version 1 entry (its `size` still to be filled in from the
/// content file).
pub(super) fn from_version_1(value: &serde_json::Value) -> Result<Entry, String> {
    let old = V1::deserialize(value).map_err(|e| format!("version 1 entry: {e}"))?;
    let mail = with_parameters(format!("MAIL FROM:<{}>", old.sender), &old.mail_parameters);
    let (reverse_path, mail_parameters) = match Command::decode(mail.as_bytes()) {
        Ok((_, Command::Mail { reverse_path, parameters })) => {
            (reverse_path.into_owned(), parameters.into_owned())
        }
        _ => return Err(format!("version 1 sender and parameters do not parse: {mail:?}")),
    };
    let mut envelope = QueuedEnvelope::new(reverse_path, mail_parameters);
    envelope.arrived = old.arrived;
    envelope.session = old.session;
    envelope.client = old.client.parse().ok();
    envelope.user = old.user;
    let mut pending = Vec::new();
    for (index, recipient) in old.recipients.into_iter().enumerate() {
        let rcpt =
            with_parameters(format!("RCPT TO:<{}>", recipient.address), &recipient.parameters);
        let (forward_path, parameters): (ForwardPath<'static>, _) =
            match Command::decode(rcpt.as_bytes()) {
                Ok((_, Command::Rcpt { forward_path, parameters })) => {
                    (forward_path.into_owned(), parameters.into_owned())
                }
                _ => return Err(format!("version 1 recipient does not parse: {rcpt:?}")),
            };
        // Version 1 queued only mail for other domains.
        envelope.recipients.push(QueuedRecipient::new(
            forward_path,
            parameters,
            RecipientRoute::Remote,
        ));
        pending.push(Pending {
            index,
            attempts: old.attempts,
            next_attempt_ms: old.next_attempt.saturating_mul(1000),
            last_error: recipient.last_error,
            lease: None,
        });
    }
    Ok(Entry {
        version: VERSION,
        id: old.id,
        size: 0,
        message_offset: old.message_offset,
        envelope,
        pending,
        lease_seq: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_entry_becomes_typed() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"version":1,"id":"1700000000.M1P2Q3R00ff","arrived":1700000000,"session":"s1",
            "client":"192.0.2.1:50123","user":"alice","sender":"alice@example.org",
            "envid":"QQ+2B314","ret":"HDRS",
            "mail_parameters":["BODY=8BITMIME","RET=HDRS","ENVID=QQ+2B314"],
            "message_offset":27,
            "recipients":[{"address":"bob@example.net","notify":"SUCCESS,FAILURE",
              "orcpt":"rfc822;bob@example.net",
              "parameters":["NOTIFY=SUCCESS,FAILURE","ORCPT=rfc822;bob@example.net"],
              "last_error":"451 4.3.0 later"}],
            "attempts":2,"next_attempt":1700000300}"#,
        )
        .unwrap();
        let entry = from_version_1(&value).unwrap();
        assert_eq!(entry.version, VERSION);
        assert_eq!(entry.message_offset, 27);
        let envelope = &entry.envelope;
        assert_eq!(envelope.sender().unwrap().to_string(), "alice@example.org");
        assert_eq!(envelope.mail_parameters.envid().unwrap().as_str(), "QQ+2B314");
        assert_eq!(envelope.client, Some("192.0.2.1:50123".parse().unwrap()));
        let bob = &envelope.recipients[0];
        assert_eq!(bob.forward_path.to_string(), "<bob@example.net>");
        assert_eq!(bob.parameters.orcpt().unwrap().address.as_str(), "bob@example.net");
        assert_eq!(bob.route, RecipientRoute::Remote);
        assert_eq!(entry.pending[0].attempts, 2);
        assert_eq!(entry.pending[0].next_attempt_ms, 1_700_000_300_000);
        assert_eq!(entry.pending[0].last_error.as_deref(), Some("451 4.3.0 later"));

        let mut broken = value.clone();
        broken["sender"] = serde_json::json!("not an address");
        assert!(from_version_1(&broken).unwrap_err().contains("do not parse"));
    }
}
