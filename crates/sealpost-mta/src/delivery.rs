//! Final delivery of queued local mail: into the Maildirs of the node that delivers
//! ([`MaildirDelivery`]).

use std::path::PathBuf;
use std::sync::Arc;

use crate::relay::{Deliverer, DeliveryJob, RecipientOutcome};
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
                Some(Err(verdict)) => Err(failed("5.1.1", &format!("refused: {verdict:?}"))),
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
