//! Opening the queue `[queue]` names, for `serve` and for `sealpost queue list|show|retry|
//! delete|bounce`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use memchr::memmem;
use sealpost_mta::queue::{
    AnyQueue, PostgresConfig, PostgresQueue, QueuedMessage, RecipientStatus,
};
use sealpost_mta::{FileQueue, QueueStore, Router, WorkerSettings};

use crate::cli::{QueueArgs, QueueCommand, ServeArgs};
use crate::config::FileConfig;
use crate::settings::ServePlan;
use crate::values::QueueBackend;

/// The queue of the plan: the directory, or the database (connected, its schema created
/// or migrated).
pub(crate) async fn open(plan: &ServePlan) -> anyhow::Result<Arc<AnyQueue>> {
    let queue = &plan.queue;
    Ok(Arc::new(match queue.backend {
        QueueBackend::File => {
            let dir = plan.data_dir.join("queue");
            let queue = FileQueue::open(&dir)
                .with_context(|| format!("cannot open the queue {}", dir.display()))?;
            AnyQueue::File(queue)
        }
        QueueBackend::Postgres => {
            // settings::queue checked that a postgres backend has its url.
            let url = queue.url.clone().unwrap_or_default();
            let mut config = PostgresConfig::new(url);
            if let Some(source) = &queue.password {
                let password = source.read().context("[queue] password")?;
                config.password = Some(sealpost_codec::Secret::new(password));
            }
            if let Some(size) = queue.pool_size {
                config.pool_size = size;
            }
            let connected = PostgresQueue::connect(config).await.with_context(|| {
                format!(
                    "cannot open the queue in the database {}",
                    queue.url.as_deref().unwrap_or("")
                )
            })?;
            AnyQueue::Postgres(connected)
        }
    }))
}

/// The server's plan, as `serve` would make it from the same configuration.
fn plan(args: &QueueArgs) -> anyhow::Result<ServePlan> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let serve = ServeArgs {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        ..ServeArgs::default()
    };
    ServePlan::resolve(&serve, &file)
}

/// `sealpost queue ...`.
pub(crate) fn run(command: &QueueCommand) -> anyhow::Result<()> {
    let args = match command {
        QueueCommand::List(args) => args,
        QueueCommand::Show(id)
        | QueueCommand::Retry(id)
        | QueueCommand::Delete(id)
        | QueueCommand::Bounce(id) => &id.queue,
    };
    let plan = plan(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let queue = open(&plan).await?;
        let out = act(&*queue, &plan, command).await?;
        print!("{out}");
        Ok(())
    })
}

/// Carries out `command` on `queue`; returns what to print.
async fn act<Q: QueueStore>(
    queue: &Q,
    plan: &ServePlan,
    command: &QueueCommand,
) -> anyhow::Result<String> {
    let now = SystemTime::now();
    Ok(match command {
        QueueCommand::List(_) => {
            let list = queue.list().await?;
            let mut out = String::new();
            for message in &list {
                out.push_str(&line(message, now));
                out.push('\n');
            }
            let recipients: usize = list.iter().map(|m| m.pending.len()).sum();
            let _ = writeln!(out, "-- {} message(s), {recipients} recipient(s)", list.len());
            out
        }
        QueueCommand::Show(args) => {
            let message = queue.show(&args.id).await?;
            let body = queue.body(&args.id).await?;
            show(&message, &body, now)
        }
        QueueCommand::Retry(args) => {
            queue.retry(&args.id).await?;
            format!("{}: every queued recipient is due now\n", args.id)
        }
        QueueCommand::Delete(args) => {
            queue.delete(&args.id).await?;
            format!("{}: deleted\n", args.id)
        }
        QueueCommand::Bounce(args) => {
            let router = Router::new(
                &plan.domains,
                plan.recipients.as_deref(),
                &plan.data_dir.join("maildir"),
            )?;
            let mut settings = WorkerSettings::new(
                format!("{} (sealpost queue bounce)", plan.queue.node),
                plan.hostname(),
            );
            settings.lease = plan.queue.lease;
            let reason = "returned to the sender by the postmaster";
            let count = sealpost_mta::bounce(queue, &router, &settings, &args.id, reason).await?;
            format!("{}: returned to the sender ({count} recipient(s))\n", args.id)
        }
    })
}

/// A duration as `3d4h`, `12m`, `40s`.
fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Where a recipient stands, in a few words.
fn state(status: &RecipientStatus, now: SystemTime) -> String {
    if let Some((owner, until)) = &status.leased_to {
        let left = until.duration_since(now).unwrap_or_default();
        return format!("delivering on {owner} (lease {})", human(left));
    }
    let due = match status.next_attempt.duration_since(now) {
        Ok(wait) if wait > Duration::from_secs(1) => format!("next in {}", human(wait)),
        _ => String::from("due now"),
    };
    match &status.last_error {
        Some(error) => format!("{due}, {} attempt(s), last: {error}", status.attempts),
        None => due,
    }
}

fn sender(message: &QueuedMessage) -> String {
    message.envelope.sender().map_or_else(|| String::from("<>"), |s| format!("<{s}>"))
}

fn age(message: &QueuedMessage, now: SystemTime) -> String {
    let arrived = std::time::UNIX_EPOCH + Duration::from_secs(message.envelope.arrived);
    human(now.duration_since(arrived).unwrap_or_default())
}

/// One line of `sealpost queue list`.
fn line(message: &QueuedMessage, now: SystemTime) -> String {
    let recipients: Vec<String> = message
        .pending
        .iter()
        .map(|status| {
            let to = message
                .envelope
                .recipients
                .get(status.index)
                .map_or_else(String::new, |r| r.forward_path.to_string());
            format!("{to} [{}]", state(status, now))
        })
        .collect();
    format!(
        "{} {} {}B from {} to {}",
        message.id,
        age(message, now),
        message.size,
        sender(message),
        recipients.join(", ")
    )
}

/// `sealpost queue show ID`.
fn show(message: &QueuedMessage, body: &[u8], now: SystemTime) -> String {
    let envelope = &message.envelope;
    let mut out = String::new();
    let _ = writeln!(out, "id: {}", message.id);
    let _ = writeln!(out, "arrived: {} ago, on {}", age(message, now), envelope.node);
    let client = envelope.client.map_or_else(|| String::from("-"), |c| c.to_string());
    let _ = writeln!(out, "client: {client} session {}", envelope.session);
    if let Some(user) = &envelope.user {
        let _ = writeln!(out, "user: {user}");
    }
    let parameters: Vec<String> =
        envelope.mail_parameters.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "from: {} {}", sender(message), parameters.join(" "));
    let _ = writeln!(out, "size: {} octets", message.size);
    for status in &message.pending {
        let Some(recipient) = envelope.recipients.get(status.index) else { continue };
        let parameters: Vec<String> =
            recipient.parameters.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "to: {} {} ({:?}) [{}]",
            recipient.forward_path,
            parameters.join(" "),
            recipient.route,
            state(status, now)
        );
    }
    let end = memmem::find(body, b"\r\n\r\n").map_or(body.len(), |at| at + 2);
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&body[..end]));
    out
}
