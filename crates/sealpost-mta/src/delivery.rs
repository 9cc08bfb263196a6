//! Final delivery of queued local mail: into the Maildirs of the node that delivers
//! ([`MaildirDelivery`]), or to a mailbox server over LMTP ([`LmtpDelivery`], RFC 2033),
//! whichever [`FinalDelivery`] the configuration chose.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use sealpost_client::{Client, DeliveryConfig, LmtpTarget, Message};
use sealpost_codec::client::Envelope;
use sealpost_codec::{ForwardPath, MailParameter, MailParameters, Mailbox};
use sealpost_starttls::client::{SecurityLevel, TlsPolicy};

use crate::filter::MessageFilter;
use crate::relay::{Deliverer, DeliveryJob, RecipientOutcome, one_line};
use crate::router::{Destination, Router};
use crate::store::MaildirStore;

/// Stores queued local mail in the Maildirs (with the S/MIME or other filter of the
/// store), `Return-Path:` first.
#[derive(Debug, Clone)]
pub struct MaildirDelivery {
    store: Arc<MaildirStore>,
    router: Arc<Router>,
}

impl MaildirDelivery {
    /// Delivery into `store`, recipients found by `router`.
    pub fn new(store: Arc<MaildirStore>, router: Arc<Router>) -> Self {
        MaildirDelivery { store, router }
    }
}

impl Deliverer for MaildirDelivery {
    async fn deliver(&self, job: &DeliveryJob) -> Vec<RecipientOutcome> {
        // Per recipient: its Maildir, or why it has none (the configuration changed
        // since the message was accepted).
        let mut routes: Vec<Result<(PathBuf, String), RecipientOutcome>> = Vec::new();
        for &index in &job.recipients {
            let route = match job
                .envelope
                .recipients
                .get(index)
                .map(|r| self.router.route(&r.forward_path))
            {
                Some(Ok(Destination::Local { maildir, address })) => Ok((maildir, address)),
                Some(Ok(_)) => Err(failed("5.1.1", "no longer a local mailbox")),
                Some(Err(verdict)) => Err(failed("5.1.1", &refusal(&verdict))),
                None => Err(RecipientOutcome::deferred("no such recipient in the envelope")),
            };
            routes.push(route);
        }
        let mut mailboxes: Vec<(PathBuf, String)> = Vec::new();
        for (root, address) in routes.iter().flatten() {
            if !mailboxes.iter().any(|(r, _)| r == root) {
                mailboxes.push((root.clone(), address.clone()));
            }
        }
        let mut message = crate::headers::return_path(&job.envelope.reverse_path).into_bytes();
        message.extend_from_slice(&job.message);
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.deliver(&mailboxes, &message))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        routes
            .into_iter()
            .map(|route| match (route, &stored) {
                (Err(outcome), _) => outcome,
                (Ok(_), Ok(())) => RecipientOutcome::Delivered {
                    remote_mta: None,
                    reply: String::from("250 2.0.0 delivered to the Maildir"),
                    dsn_passed_on: false,
                },
                (Ok(_), Err(e)) => RecipientOutcome::deferred(format!("cannot store: {e}")),
            })
            .collect()
    }
}

fn failed(status: &str, diagnostic: &str) -> RecipientOutcome {
    RecipientOutcome::Failed {
        remote_mta: None,
        status: status.to_owned(),
        diagnostic: diagnostic.to_owned(),
    }
}

/// The text of a refusal by the router.
fn refusal(verdict: &sealpost_server::Verdict) -> String {
    match verdict {
        sealpost_server::Verdict::Reply(reply) => one_line(&reply.to_string()),
        other => format!("{other:?}"),
    }
}

/// Hands queued local mail to a mailbox server over LMTP (RFC 2033), by TCP or by a Unix
/// socket, and takes each recipient's own reply as its outcome: 2xx delivered, 4xx
/// deferred (retried through the queue), 5xx failed (a notice to the sender).
///
/// This server is the last hop before the mailbox, so the DSN parameters (NOTIFY, ORCPT,
/// RET, ENVID) and REQUIRETLS are not passed on: the worker answers NOTIFY itself. BODY
/// and SMTPUTF8 are. The store's filter (S/MIME verification results, encryption at
/// rest, removal of forged `Authentication-Results`) applies as it does for Maildirs:
/// recipients who get the same version share one LMTP transaction. The mailbox server
/// adds `Return-Path:` itself.
#[derive(Debug, Clone)]
pub struct LmtpDelivery {
    target: LmtpTarget,
    client: Arc<Client>,
    router: Arc<Router>,
    filter: Option<Arc<dyn MessageFilter>>,
}

impl LmtpDelivery {
    /// Delivery to `target`, saying LHLO as `hostname`; recipients named by `router`
    /// (`<Postmaster>` becomes `postmaster@` its first domain). LMTP over TCP uses
    /// STARTTLS when offered (level `may`); over a Unix socket there is no TLS.
    pub fn new(
        target: LmtpTarget,
        hostname: &str,
        router: Arc<Router>,
        filter: Option<Arc<dyn MessageFilter>>,
    ) -> Self {
        let config =
            DeliveryConfig::new(hostname.to_owned()).tls(TlsPolicy::new(SecurityLevel::May));
        LmtpDelivery { target, client: Arc::new(Client::new(config)), router, filter }
    }

    /// The target.
    pub fn target(&self) -> &LmtpTarget {
        &self.target
    }

    /// The mailbox LMTP names for `path`.
    fn mailbox(&self, path: &ForwardPath<'static>) -> Option<Mailbox<'static>> {
        match path {
            ForwardPath::Mailbox(mailbox) => Some(mailbox.clone()),
            _ => format!("postmaster@{}", self.router.first_domain()).parse().ok(),
        }
    }

    /// One LMTP transaction of `content` for the recipients `indexes` of `job`.
    async fn transaction(
        &self,
        job: &DeliveryJob,
        indexes: &[usize],
        content: Bytes,
    ) -> Vec<RecipientOutcome> {
        let envelope = &job.envelope;
        // Only what a mailbox server needs of the MAIL parameters.
        let kept: Vec<MailParameter<'static>> = envelope
            .mail_parameters
            .iter()
            .filter(|p| matches!(p, MailParameter::Body(_) | MailParameter::SmtpUtf8))
            .cloned()
            .collect();
        let mut lmtp = Envelope::new(envelope.reverse_path.clone())
            .parameters(MailParameters::from_vec(kept).unwrap_or_default());
        for &index in indexes {
            let mailbox =
                envelope.recipients.get(index).and_then(|r| self.mailbox(&r.forward_path));
            if let Some(mailbox) = mailbox {
                lmtp = lmtp.recipient(ForwardPath::Mailbox(mailbox));
            }
        }
        let result = self.client.deliver_lmtp(&self.target, &[Message::new(lmtp, content)]).await;
        let host = Some(self.target.to_string());
        let transaction = match result.map(|mut d| d.results.pop()) {
            Ok(Some(Ok(transaction))) => transaction,
            Ok(Some(Err(e))) | Err(e) if e.is_permanent() => {
                return vec![failed_at(&host, "5.0.0", &e.to_string()); indexes.len()];
            }
            Ok(Some(Err(e))) | Err(e) => {
                tracing::info!(queue_id = %job.id, target = %self.target, error = %e, "LMTP delivery deferred");
                return vec![deferred_at(&host, &e.to_string()); indexes.len()];
            }
            Ok(None) => {
                return vec![deferred_at(&host, "the LMTP server took no message"); indexes.len()];
            }
        };
        if transaction.recipients.len() != indexes.len() {
            let why = "the LMTP server answered for other recipients than were sent";
            return vec![deferred_at(&host, why); indexes.len()];
        }
        transaction
            .recipients
            .iter()
            .map(|r| {
                let reply = r.final_reply().map(|reply| {
                    (reply.code(), reply.enhanced_status(), one_line(&reply.to_string()))
                });
                match reply {
                    Some((_, _, text)) if r.delivered() => RecipientOutcome::Delivered {
                        remote_mta: host.clone(),
                        reply: text,
                        dsn_passed_on: false,
                    },
                    Some((code, status, text)) if code.is_permanent_failure() => {
                        let status =
                            status.map_or_else(|| String::from("5.0.0"), |s| s.to_string());
                        failed_at(&host, &status, &text)
                    }
                    Some((_, _, text)) => deferred_at(&host, &text),
                    None => deferred_at(&host, "no reply for this recipient"),
                }
            })
            .collect()
    }
}

fn failed_at(host: &Option<String>, status: &str, diagnostic: &str) -> RecipientOutcome {
    RecipientOutcome::Failed {
        remote_mta: host.clone(),
        status: status.to_owned(),
        diagnostic: diagnostic.to_owned(),
    }
}

fn deferred_at(host: &Option<String>, diagnostic: &str) -> RecipientOutcome {
    RecipientOutcome::Deferred { remote_mta: host.clone(), diagnostic: diagnostic.to_owned() }
}

impl LmtpDelivery {
    /// The recipients of `job` grouped by the version of the message each gets: one
    /// group (the message as queued) without a filter; with one, what the filter made for
    /// each (its own version, the common one, or the message unchanged), each distinct
    /// version copied once. `Err` when the filter failed.
    async fn versions(
        &self,
        job: &DeliveryJob,
        filter: &Arc<dyn MessageFilter>,
    ) -> std::io::Result<Vec<(Bytes, Vec<usize>)>> {
        let addresses: Vec<(usize, String)> = job
            .recipients
            .iter()
            .filter_map(|&i| {
                let recipient = job.envelope.recipients.get(i)?;
                match self.router.route(&recipient.forward_path) {
                    Ok(Destination::Local { address, .. }) => Some((i, address)),
                    _ => None,
                }
            })
            .collect();
        // The filter sees the message with the Return-Path the mailbox will show.
        let mut message = crate::headers::return_path(&job.envelope.reverse_path).into_bytes();
        let skip = message.len();
        message.extend_from_slice(&job.message);
        let (filter, names) = (filter.clone(), addresses.clone());
        let (filtered, message) = tokio::task::spawn_blocking(move || {
            let names: Vec<&str> = names.iter().map(|(_, a)| a.as_str()).collect();
            filter.filter(&message, &names).map(|f| (f, message))
        })
        .await
        .map_err(std::io::Error::other)??;
        let mut groups: Vec<(Bytes, Vec<usize>)> = Vec::new();
        for &index in &job.recipients {
            let own = addresses
                .iter()
                .find(|(i, _)| *i == index)
                .and_then(|(_, address)| filtered.for_recipient(address));
            // Every version starts with the Return-Path line it was given.
            let version = own.unwrap_or(&message).get(skip..).unwrap_or_default();
            match groups.iter_mut().find(|(bytes, _)| bytes[..] == *version) {
                Some((_, indexes)) => indexes.push(index),
                None => groups.push((Bytes::copy_from_slice(version), vec![index])),
            }
        }
        Ok(groups)
    }
}

impl Deliverer for LmtpDelivery {
    async fn deliver(&self, job: &DeliveryJob) -> Vec<RecipientOutcome> {
        // Recipients with the same version share a transaction.
        let groups = match &self.filter {
            None => vec![(job.message.clone(), job.recipients.clone())],
            Some(filter) => match self.versions(job, filter).await {
                Ok(groups) => groups,
                Err(e) => {
                    let why = format!("the message filter failed: {e}");
                    return vec![RecipientOutcome::deferred(why); job.recipients.len()];
                }
            },
        };
        let mut outcomes: BTreeMap<usize, RecipientOutcome> = BTreeMap::new();
        for (content, indexes) in groups {
            let results = self.transaction(job, &indexes, content).await;
            outcomes.extend(indexes.into_iter().zip(results));
        }
        job.recipients
            .iter()
            .map(|i| outcomes.remove(i).unwrap_or_else(|| RecipientOutcome::deferred("no outcome")))
            .collect()
    }
}

/// Where queued local mail goes: the Maildirs of this node, or a mailbox server over
/// LMTP.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FinalDelivery {
    /// [`MaildirDelivery`].
    Maildir(MaildirDelivery),
    /// [`LmtpDelivery`].
    Lmtp(LmtpDelivery),
}

impl Deliverer for FinalDelivery {
    async fn deliver(&self, job: &DeliveryJob) -> Vec<RecipientOutcome> {
        match self {
            FinalDelivery::Maildir(maildir) => maildir.deliver(job).await,
            FinalDelivery::Lmtp(lmtp) => lmtp.deliver(job).await,
        }
    }
}
