//! The durable relay queue: messages from authenticated users for other domains, stored
//! with their envelope until a relay worker sends them.
//!
//! # Layout
//!
//! Each queued message is two files in `queue/`, named by a unique id (see
//! [`crate::maildir`] for how ids are made):
//!
//! - `<id>.eml` — the message as received: the Received header the server added, then
//!   the client's data, CRLF line ends. When the same message was also delivered
//!   locally, the file is shared with the Maildir copies and starts with their
//!   `Return-Path:` line; `message_offset` in the envelope says how many octets to skip
//!   (a relay must not send Return-Path on, RFC 5321 section 4.4).
//! - `<id>.json` — the envelope, one JSON object ([`QueueEnvelope`]).
//!
//! # Commit order
//!
//! The message file is placed and made durable first (`link()` or copy + fsync, then
//! fsync of `queue/`); the envelope is written to `<id>.json.tmp`, fsynced, and renamed
//! to `<id>.json` — that rename is the commit point — and `queue/` is fsynced again. So
//! after a crash an id either has both files, complete, or has no `.json`: a `.eml`
//! without its `.json`, and any `*.tmp`, are leftovers of an interrupted commit that
//! readers ignore and [`MtaHandler::new`](crate::MtaHandler::new) removes at start.
//!
//! # Envelope format (version 1)
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": "1700000000.M123456P4242Q7R0123456789abcdef",
//!   "arrived": 1700000000,
//!   "session": "6553f1c000001",
//!   "client": "192.0.2.1:50123",
//!   "user": "alice",
//!   "sender": "alice@example.org",
//!   "envid": "QQ314159",
//!   "ret": "HDRS",
//!   "mail_parameters": ["BODY=8BITMIME", "RET=HDRS", "ENVID=QQ314159"],
//!   "message_offset": 0,
//!   "recipients": [
//!     { "address": "bob@example.net", "notify": "SUCCESS,FAILURE",
//!       "orcpt": "rfc822;bob@example.net",
//!       "parameters": ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.net"],
//!       "last_error": "451 4.3.0 try again later" }
//!   ],
//!   "attempts": 1,
//!   "next_attempt": 1700000300
//! }
//! ```
//!
//! `arrived` is in seconds since the Unix epoch; `sender` is empty for the null
//! reverse-path `<>`; `envid` and `orcpt` stay xtext-encoded as received (RFC 3461);
//! `mail_parameters` and `parameters` hold every ESMTP parameter as it would be sent
//! (so BODY, SMTPUTF8 and REQUIRETLS survive); `user` is the AUTH identity, or null.
//! The relay worker ([`crate::relay`]) keeps `recipients` to those still pending and
//! sets `attempts`, `next_attempt` and each `last_error`, rewriting the file the same
//! way (`.json.tmp`, fsync, rename); `attempts`, `next_attempt` and `last_error` may be
//! absent (a message not tried yet).
//! Readers must ignore fields they do not know.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::handler::{Envelope, SessionInfo};

/// The envelope format version this crate writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// The envelope of a queued message (the `<id>.json` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueEnvelope {
    /// Format version, [`ENVELOPE_VERSION`].
    pub version: u32,
    /// The queue id: the file names without extension.
    pub id: String,
    /// Arrival time, seconds since the Unix epoch.
    pub arrived: u64,
    /// The session id, as in the Received header and the logs.
    pub session: String,
    /// The client's address.
    pub client: String,
    /// The authenticated user who submitted the message.
    pub user: Option<String>,
    /// MAIL FROM without angle brackets; empty for `<>`.
    pub sender: String,
    /// DSN `ENVID=` (xtext, as received).
    pub envid: Option<String>,
    /// DSN `RET=`: `FULL` or `HDRS`.
    pub ret: Option<String>,
    /// Every MAIL parameter as it would be sent.
    pub mail_parameters: Vec<String>,
    /// Octets at the start of `<id>.eml` that are not part of the message to relay.
    pub message_offset: u64,
    /// The recipients still to relay to, in RCPT order (the relay worker removes the
    /// ones it delivered or gave up on).
    pub recipients: Vec<QueuedRecipient>,
    /// Delivery attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the next attempt is due, seconds since the Unix epoch; 0 for at once.
    #[serde(default)]
    pub next_attempt: u64,
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueuedRecipient {
    /// The address without angle brackets.
    pub address: String,
    /// DSN `NOTIFY=`, such as `SUCCESS,FAILURE` or `NEVER`.
    pub notify: Option<String>,
    /// DSN `ORCPT=`, `addr-type;xtext`.
    pub orcpt: Option<String>,
    /// Every RCPT parameter as it would be sent.
    pub parameters: Vec<String>,
    /// Why the last attempt did not deliver to this recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl QueueEnvelope {
    /// The envelope of `recipients` (indexes into `envelope.recipients`) of a message
    /// arriving in `info`'s session.
    pub(crate) fn new(
        id: String,
        info: &SessionInfo,
        envelope: &Envelope,
        recipients: &[usize],
        message_offset: u64,
    ) -> QueueEnvelope {
        let params = &envelope.mail_parameters;
        let arrived = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        QueueEnvelope {
            version: ENVELOPE_VERSION,
            id,
            arrived,
            session: info.id.clone(),
            client: info.peer.to_string(),
            user: info.user.clone(),
            sender: envelope.reverse_path.mailbox().map(ToString::to_string).unwrap_or_default(),
            envid: params.envid().map(|x| x.as_str().to_owned()),
            // The value as it would be sent, whatever variants RET grows.
            ret: params
                .iter()
                .find(|p| p.keyword() == "RET")
                .and_then(|p| p.to_string().split_once('=').map(|(_, v)| v.to_owned())),
            mail_parameters: params.iter().map(ToString::to_string).collect(),
            message_offset,
            recipients: recipients
                .iter()
                .filter_map(|&i| envelope.recipients.get(i))
                .map(|(path, rcpt)| QueuedRecipient {
                    address: path.mailbox().map(ToString::to_string).unwrap_or_default(),
                    notify: rcpt.notify().map(|n| n.to_string()),
                    orcpt: rcpt.orcpt().map(|o| format!("{};{}", o.addr_type, o.address)),
                    parameters: rcpt.iter().map(ToString::to_string).collect(),
                    last_error: None,
                })
                .collect(),
            attempts: 0,
            next_attempt: 0,
        }
    }

    /// The JSON form, one line, newline-terminated.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and numbers cannot fail.
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads an envelope, refusing a version this crate does not know.
    pub fn from_json(bytes: &[u8]) -> io::Result<QueueEnvelope> {
        let envelope: QueueEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if envelope.version != ENVELOPE_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("queue envelope version {} is not supported", envelope.version),
            ));
        }
        Ok(envelope)
    }
}

/// Places the complete, fsynced spool file as `<id>.eml` and commits `<id>.json`, in the
/// order the [module documentation](self) gives. Every path created is pushed to
/// `created` (envelope last) so that a later failure can take the entry back.
pub(crate) fn commit(
    queue: &Path,
    spool_file: &Path,
    envelope: &QueueEnvelope,
    created: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let message = queue.join(format!("{}.eml", envelope.id));
    crate::store::place(spool_file, &message, &queue.join(format!("{}.eml.tmp", envelope.id)))?;
    created.push(message);
    crate::store::sync_dir(queue)?;

    let tmp = queue.join(format!("{}.json.tmp", envelope.id));
    let result = write_synced(&tmp, &envelope.to_json());
    let committed = queue.join(format!("{}.json", envelope.id));
    let result = result.and_then(|()| fs::rename(&tmp, &committed));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    created.push(committed);
    crate::store::sync_dir(queue)
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = crate::store::create_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes what an interrupted commit left in `queue`: `*.tmp` files and `.eml` files
/// without their `.json`. Only safe while no other process commits into `queue`.
pub(crate) fn remove_leftovers(queue: &Path) -> io::Result<()> {
    for entry in fs::read_dir(queue)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let orphan = match name.strip_suffix(".eml") {
            Some(id) => !queue.join(format!("{id}.json")).exists(),
            None => name.ends_with(".tmp"),
        };
        if orphan {
            tracing::warn!(file = %path.display(), "removing an incomplete queue file");
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_codec::{Command, ForwardPath, ReversePath};

    fn info(user: Option<&str>) -> SessionInfo {
        SessionInfo {
            id: String::from("abc123"),
            peer: "192.0.2.1:50123".parse().unwrap(),
            proxy: None,
            local: "127.0.0.1:25".parse().unwrap(),
            role: crate::Role::Submission,
            helo: None,
            esmtp: true,
            tls: None,
            user: user.map(String::from),
        }
    }

    fn envelope(mail: &str, rcpts: &[&str]) -> Envelope {
        let Ok((_, Command::Mail { reverse_path, parameters })) = Command::decode(mail.as_bytes())
        else {
            panic!("not a MAIL command: {mail}");
        };
        let recipients = rcpts
            .iter()
            .map(|r| match Command::decode(r.as_bytes()) {
                Ok((_, Command::Rcpt { forward_path, parameters })) => {
                    (forward_path.into_owned(), parameters.into_owned())
                }
                other => panic!("not a RCPT command: {other:?}"),
            })
            .collect();
        Envelope {
            reverse_path: reverse_path.into_owned(),
            mail_parameters: parameters.into_owned(),
            recipients,
        }
    }

    #[test]
    fn envelope_round_trips_with_dsn_parameters() {
        let env = envelope(
            "MAIL FROM:<alice@example.org> BODY=8BITMIME RET=HDRS ENVID=QQ+2B314\r\n",
            &[
                "RCPT TO:<local@mail.test>\r\n",
                "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\r\n",
                "RCPT TO:<carol@example.com>\r\n",
            ],
        );
        let queued =
            QueueEnvelope::new(String::from("id1"), &info(Some("alice")), &env, &[1, 2], 7);
        assert_eq!(queued.sender, "alice@example.org");
        assert_eq!(queued.user.as_deref(), Some("alice"));
        assert_eq!(queued.envid.as_deref(), Some("QQ+2B314"));
        assert_eq!(queued.ret.as_deref(), Some("HDRS"));
        assert_eq!(queued.mail_parameters, ["BODY=8BITMIME", "RET=HDRS", "ENVID=QQ+2B314"]);
        assert_eq!(queued.message_offset, 7);
        assert_eq!(queued.client, "192.0.2.1:50123");
        assert_eq!(queued.recipients.len(), 2);
        let bob = &queued.recipients[0];
        assert_eq!(bob.address, "bob@example.net");
        assert_eq!(bob.notify.as_deref(), Some("SUCCESS,FAILURE"));
        assert_eq!(bob.orcpt.as_deref(), Some("rfc822;bob@example.net"));
        assert_eq!(bob.parameters, ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.net"]);
        assert_eq!(queued.recipients[1].notify, None);

        let json = queued.to_json();
        assert!(json.ends_with(b"}\n"));
        assert_eq!(QueueEnvelope::from_json(&json).unwrap(), queued);

        // The stored strings parse back into the codec's types.
        let sender: sealpost_codec::Mailbox<'static> = queued.sender.parse().unwrap();
        assert_eq!(ReversePath::Mailbox(sender), env.reverse_path);
        let rcpt: sealpost_codec::Mailbox<'static> = bob.address.parse().unwrap();
        assert_eq!(ForwardPath::Mailbox(rcpt), env.recipients[1].0);
    }

    #[test]
    fn null_sender_and_unknown_fields_and_versions() {
        let env = envelope("MAIL FROM:<>\r\n", &["RCPT TO:<x@example.net>\r\n"]);
        let queued = QueueEnvelope::new(String::from("id2"), &info(None), &env, &[0], 0);
        assert_eq!(queued.sender, "");
        assert_eq!((queued.envid.as_ref(), queued.ret.as_ref()), (None, None));
        let mut value: serde_json::Value = serde_json::from_slice(&queued.to_json()).unwrap();
        value["added_later"] = serde_json::json!(true);
        let with_extra = serde_json::to_vec(&value).unwrap();
        assert_eq!(QueueEnvelope::from_json(&with_extra).unwrap(), queued);
        value["version"] = serde_json::json!(2);
        assert!(QueueEnvelope::from_json(&serde_json::to_vec(&value).unwrap()).is_err());
        assert!(QueueEnvelope::from_json(b"{\"version\":1}").is_err());
    }
}
