//! `sealpost serve`: put the plan together, bind, announce, serve until a signal.

use std::io;
use std::sync::Arc;

use anyhow::Context;
use sealpost_mta::filter::MessageFilter;
use sealpost_mta::relay::ClientDeliverer;
use sealpost_mta::smime::{SmimeFilter, SmimeSettings};
use sealpost_mta::tls_journal;
use sealpost_mta::{
    FinalDelivery, LmtpDelivery, LocalMail, MaildirDelivery, MtaConfig, MtaHandler, QueueStore,
    Worker,
};
use sealpost_server::{BoundServer, DiscardHandler, Handler, ListenerConfig};

use crate::banner::{self, UsersState};
use crate::cli::ServeArgs;
use crate::config::FileConfig;
use crate::settings::{ListenerPlan, ServePlan, SmimePlan};
use crate::signals::Signals;
use crate::tls::{self, Tls};
use crate::values::HandlerKind;
use crate::{logging, user};

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let plan = ServePlan::resolve(args, &file)?;
    if args.tls_summary {
        return tls_summary(args, &plan);
    }
    logging::init()?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = plan.worker_threads {
        builder.worker_threads(threads);
    }
    let runtime = builder.enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(serve(plan))
}

/// The S/MIME layer from `[smime]`: certificates are read now, so a bad file stops the
/// start with its name.
fn smime_filter(plan: &SmimePlan, hostname: &str) -> anyhow::Result<SmimeFilter> {
    let read = |path: &std::path::Path, what: &str| {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read {what} {} ([smime])", path.display()))?;
        sealpost_smime::load_certificates(&bytes)
            .with_context(|| format!("{what} {} holds no usable certificate", path.display()))
    };
    let trust = if plan.trust.is_empty() {
        None
    } else {
        let mut anchors = Vec::new();
        for path in &plan.trust {
            anchors.extend(read(path, "the CA file")?);
        }
        Some(anchors)
    };
    let mut settings = SmimeSettings::new(hostname, trust);
    settings.allow_legacy = plan.allow_legacy;
    settings.accept_sender = plan.accept_sender;
    settings.cipher = plan.cipher;
    for (address, path) in &plan.encrypt_at_rest {
        let cert = read(path, "the certificate")?.into_iter().next().with_context(|| {
            format!("the certificate {} for {address} is empty", path.display())
        })?;
        settings.encrypt_at_rest.insert(address.clone(), cert);
    }
    Ok(SmimeFilter::new(settings))
}

/// `--tls-summary`: the day's outbound TLS from the journal, and its TLS-RPT report.
fn tls_summary(args: &ServeArgs, plan: &ServePlan) -> anyhow::Result<()> {
    let day = args
        .day
        .unwrap_or_else(|| sealpost_starttls::tlsrpt::Day::from_unix(tls_journal::unix_now()));
    let entries = tls_journal::read_day(&plan.data_dir, day)?;
    print!("{}", tls_journal::summary(day, &entries));
    if let Some(path) = &args.tls_rpt {
        let contact = format!("postmaster@{}", plan.hostname());
        let json = tls_journal::tls_rpt(day, &entries, plan.hostname(), &contact)?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the TLS-RPT report to {}", path.display()))?;
        println!("TLS-RPT report (RFC 8460) written to {}", path.display());
    }
    Ok(())
}

/// The delivery worker of the queue (relay and final delivery), unless `[relay] enabled =
/// false`.
fn worker<Q: QueueStore>(
    plan: &ServePlan,
    handler: &MtaHandler<Q>,
    filter: Option<Arc<dyn MessageFilter>>,
) -> anyhow::Result<Option<Worker<Q, ClientDeliverer, FinalDelivery>>> {
    let section = &plan.relay;
    if section.enabled == Some(false) {
        if handler.local_mail() == LocalMail::Queue {
            tracing::warn!(
                "[relay] enabled = false: this node delivers nothing; local mail waits in the \
                 queue for a node whose worker runs"
            );
        }
        return Ok(None);
    }
    let journal = tls_journal::Journal::new(&plan.data_dir);
    let deliverer =
        ClientDeliverer::new(crate::relay::relay_config(section)?, plan.hostname(), Some(journal))?;
    let settings = crate::relay::worker_settings(section, &plan.queue, plan.hostname())?;
    let local = match &plan.lmtp {
        Some(target) => FinalDelivery::Lmtp(LmtpDelivery::new(
            target.clone(),
            plan.hostname(),
            handler.router(),
            filter,
        )),
        None => FinalDelivery::Maildir(MaildirDelivery::new(handler.store(), handler.router())),
    };
    Ok(Some(Worker::new(
        handler.queue().clone(),
        Arc::new(deliverer),
        Arc::new(local),
        handler.router(),
        settings,
    )))
}

async fn serve(plan: ServePlan) -> anyhow::Result<()> {
    std::fs::create_dir_all(&plan.data_dir).with_context(|| {
        format!("cannot create the data directory {}; pass --data-dir DIR", plan.data_dir.display())
    })?;
    let tls = tls::load(&plan)?;
    let listeners = plan
        .listeners
        .iter()
        .map(|l| {
            let config = ListenerConfig::new(
                l.addr,
                l.name.role(),
                Some(tls::server(&tls.store, &l.client_certs)?),
            );
            Ok(match &l.proxy {
                Some(policy) => config.with_proxy(policy.clone()),
                None => config,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (users, users_state) = user::load_for_serve(&plan.users)?;
    match plan.handler {
        HandlerKind::Maildir => {
            let queue = crate::queue::open(&plan).await?;
            mta(queue, users, &plan, listeners, &tls, &users_state).await
        }
        HandlerKind::Discard => {
            start(Arc::new(DiscardHandler::default()), &plan, listeners, &tls, &users_state).await
        }
    }
}

/// The MTA over `queue`: the handler, the delivery worker, the listeners.
async fn mta<Q: QueueStore>(
    queue: Arc<Q>,
    users: Option<Arc<sealpost_mta::Users>>,
    plan: &ServePlan,
    listeners: Vec<ListenerConfig>,
    tls: &Tls,
    users_state: &UsersState,
) -> anyhow::Result<()> {
    let mut config = MtaConfig::new(plan.data_dir.clone(), plan.domains.clone());
    config.recipients = plan.recipients.clone();
    config.users = users;
    config.node.clone_from(&plan.queue.node);
    config.relay_client_certs.clone_from(&plan.relay_client_certs);
    if plan.queue.local_mail_queued(plan.lmtp.as_ref()) {
        config.local_mail = LocalMail::Queue;
    }
    let filter: Option<Arc<dyn MessageFilter>> = match &plan.smime {
        Some(smime) => Some(Arc::new(smime_filter(smime, plan.hostname())?)),
        None => None,
    };
    config.filter.clone_from(&filter);
    let handler =
        Arc::new(MtaHandler::new(config, queue).with_context(|| {
            format!("cannot set up delivery under {}", plan.data_dir.display())
        })?);
    let worker = worker(plan, &handler, filter)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = worker.map(|w| {
        tokio::spawn(w.run(async move {
            let _ = stopped.await;
        }))
    });
    let result = start(handler, plan, listeners, tls, users_state).await;
    // The attempts in progress finish; the queue keeps the rest.
    let _ = stop.send(());
    if let Some(task) = worker {
        let _ = task.await;
    }
    result
}

async fn start<H: Handler>(
    handler: Arc<H>,
    plan: &ServePlan,
    listeners: Vec<ListenerConfig>,
    tls: &Tls,
    users: &UsersState,
) -> anyhow::Result<()> {
    let signals = Signals::install().context("cannot install the signal handlers")?;
    let server = BoundServer::bind(handler, plan.settings.clone(), listeners)
        .await
        .map_err(|e| bind_error(&plan.listeners, &e))?;
    let bound = server.local_addrs();
    print!("{}", banner::render(plan, &bound, tls, users));
    for (role, addr) in &bound {
        tracing::info!(%role, %addr, "listening");
    }
    let _watch = plan.certificates.watch_interval.map(|every| tls.store.watch(every));
    let shutdown = signals.start(tls.store.clone());
    server.run(shutdown).await.context("the server stopped on an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// `BoundServer::bind` does not say which address failed: try each alone to find the one
/// to name, and say what to change.
fn bind_error(listeners: &[ListenerPlan], error: &io::Error) -> anyhow::Error {
    for listener in listeners {
        if let Err(e) = std::net::TcpListener::bind(listener.addr) {
            return anyhow::anyhow!(describe_bind_error(listener, &e));
        }
    }
    let all: Vec<String> = listeners.iter().map(|l| l.addr.to_string()).collect();
    anyhow::anyhow!("cannot bind {}: {error}", all.join(", "))
}

fn describe_bind_error(listener: &ListenerPlan, error: &io::Error) -> String {
    let addr = listener.addr;
    let flag = listener.name.as_str();
    match error.kind() {
        io::ErrorKind::AddrInUse => format!(
            "cannot bind {addr}: address in use; pass --{flag} ADDR (or --{flag} off) or stop \
             the other server"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot bind {addr}: permission denied (ports below 1024 need root or \
             CAP_NET_BIND_SERVICE); pass --{flag} ADDR with a higher port"
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "cannot bind {addr}: no such address on this machine; pass --{flag} ADDR with one \
             of its addresses"
        ),
        _ => format!("cannot bind {addr}: {error}; pass --{flag} ADDR"),
    }
}
