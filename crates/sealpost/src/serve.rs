//! `sealpost serve`: put the plan together, bind, announce, serve until a signal.

use std::io;
use std::sync::Arc;

use anyhow::Context;
use sealpost_server::{
    BoundServer, DiscardHandler, Handler, ListenerConfig, MtaConfig, MtaHandler,
};

use crate::banner::{self, UsersState};
use crate::cli::ServeArgs;
use crate::config::FileConfig;
use crate::settings::{ListenerPlan, ServePlan};
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
    logging::init()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(plan))
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
            Ok(ListenerConfig::new(
                l.addr,
                l.name.role(),
                Some(tls::server(&tls.store, &l.client_certs)?),
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (users, users_state) = user::load_for_serve(&plan.users)?;
    match plan.handler {
        HandlerKind::Maildir => {
            let mut config = MtaConfig::new(plan.data_dir.clone(), plan.domains.clone());
            config.recipients = plan.recipients.clone();
            config.users = users;
            config.relay_client_certs.clone_from(&plan.relay_client_certs);
            let handler = MtaHandler::new(config).with_context(|| {
                format!("cannot set up delivery under {}", plan.data_dir.display())
            })?;
            start(Arc::new(handler), &plan, listeners, &tls, &users_state).await
        }
        HandlerKind::Discard => {
            start(Arc::new(DiscardHandler::default()), &plan, listeners, &tls, &users_state).await
        }
    }
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
