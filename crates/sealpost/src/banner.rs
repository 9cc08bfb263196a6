//! What `serve` prints on standard output once its sockets are bound: where it listens
//! (the real addresses, so port 0 works), where mail goes, and a first message to paste.
//!
//! The `listening on ADDR (NAME: ...)` lines are a stable format: scripts and the tests
//! read the bound addresses from them.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use sealpost_mta::maildir::path_component;
use sealpost_server::Role;

use crate::settings::{ListenerName, ServePlan};
use crate::tls::Tls;
use crate::values::{HandlerKind, QueueBackend};

/// Whether logins are possible, for the start message.
#[derive(Debug, Clone)]
pub(crate) struct UsersState {
    /// The users file (read, or where `user add` would write it).
    pub(crate) path: std::path::PathBuf,
    /// How many users it holds, when it was read.
    pub(crate) count: Option<usize>,
}

/// The start message.
pub(crate) fn render(
    plan: &ServePlan,
    bound: &[(Role, SocketAddr)],
    tls: &Tls,
    users: &UsersState,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sealpost {} is running as {}; local domains: {}",
        env!("CARGO_PKG_VERSION"),
        plan.hostname(),
        plan.domains.join(", ")
    );
    for (role, addr) in bound {
        let (name, purpose) = match ListenerName::of_role(*role) {
            Some(name) => (name.as_str(), name.purpose()),
            None => ("other", ""),
        };
        let _ = writeln!(out, "listening on {addr} ({name}: {purpose})");
    }
    for listener in &plan.listeners {
        if let Some(policy) = &listener.proxy {
            let trusted: Vec<String> = policy.trusted.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "{}: PROXY protocol header required (v1 or v2), only from {}",
                listener.name.as_str(),
                trusted.join(", ")
            );
        }
    }
    let data = plan.data_dir.display();
    match plan.handler {
        HandlerKind::Maildir => {
            let queue = match plan.queue.backend {
                QueueBackend::File => format!("{data}/queue"),
                QueueBackend::Postgres => format!(
                    "PostgreSQL {}, shared; this node is {}",
                    plan.queue.url.as_deref().unwrap_or_default(),
                    plan.queue.node
                ),
            };
            let local = match (&plan.lmtp, plan.queue.local_mail_queued(plan.lmtp.as_ref())) {
                (Some(target), _) => format!("local mail goes through the queue to LMTP {target}"),
                (None, true) => format!(
                    "local mail goes through the queue to {data}/maildir/DOMAIN/USER/new/ of \
                     the node that delivers it"
                ),
                (None, false) => format!("mail goes to {data}/maildir/DOMAIN/USER/new/"),
            };
            let _ = writeln!(out, "{local} (queue: {queue})");
        }
        HandlerKind::Discard => {
            let _ = writeln!(out, "mail is accepted and thrown away (--handler discard)");
        }
    }
    let _ = match tls.self_signed {
        Some(made) => writeln!(
            out,
            "TLS certificate: {} (self-signed{}; SHA-256 {})",
            tls.files.chain.display(),
            if made { ", made now" } else { "" },
            tls.fingerprint
        ),
        None => writeln!(
            out,
            "TLS certificate: {} (SHA-256 {})",
            tls.files.chain.display(),
            tls.fingerprint
        ),
    };
    if let Some(count) = users.count {
        let _ = writeln!(out, "logins (AUTH): {count} user(s) in {}", users.path.display());
    } else {
        let _ = writeln!(
            out,
            "logins (AUTH): nobody yet; add one with `sealpost user add NAME --users {}`, \
             then restart",
            users.path.display()
        );
    }
    // Behind a load balancer, a client that connects directly gets no greeting: the
    // first message has to go through the balancer, whose address is not known here.
    let mx_proxied =
        plan.listeners.iter().any(|l| l.name == ListenerName::Smtp && l.proxy.is_some());
    if let Some(addr) = bound.iter().find(|(role, _)| *role == Role::Mx).map(|(_, a)| *a)
        && !mx_proxied
    {
        first_message(&mut out, plan, addr);
    }
    let _ = writeln!(out, "SIGHUP reloads the certificates; Ctrl-C or SIGTERM stops.");
    out
}

/// A ready-to-paste first message to the MX listener.
fn first_message(out: &mut String, plan: &ServePlan, addr: SocketAddr) {
    let domain = plan.domains.first().map_or("localhost", String::as_str);
    let to = match plan.recipients.as_ref().and_then(|list| list.first()) {
        Some(first) => first.clone(),
        None => format!("postmaster@{domain}"),
    };
    // A wildcard listen address is reachable on loopback.
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let port = addr.port();
    let connect = SocketAddr::new(ip, port);
    let _ = writeln!(out);
    let _ = writeln!(out, "Send a first message with swaks:");
    let _ =
        writeln!(out, "  swaks --server {ip} --port {port} --tls --from you@example.org --to {to}");
    // The pauses matter: a client must wait for the EHLO reply and for 354 before it goes
    // on, and the server closes on clients that do not. `-crlf` turns each \n into CRLF.
    let _ = writeln!(out, "or with openssl, over STARTTLS:");
    let _ = writeln!(
        out,
        "  {{ sleep 1; printf 'EHLO me\\n'; sleep 1; \\\n    \
         printf 'MAIL FROM:<you@example.org>\\nRCPT TO:<{to}>\\nDATA\\n'; sleep 1; \\\n    \
         printf 'Subject: hello\\n\\nHi!\\n.\\nQUIT\\n'; }} \\\n    \
         | openssl s_client -starttls smtp -connect {connect} -crlf -quiet"
    );
    if plan.handler == HandlerKind::Maildir
        && let Some((local, domain)) = to.rsplit_once('@')
        && let (Some(local), Some(domain)) = (path_component(local), path_component(domain))
    {
        let dir = plan.data_dir.join("maildir").join(domain).join(local).join("new");
        let _ = match (&plan.lmtp, plan.queue.local_mail_queued(None)) {
            (Some(target), _) => writeln!(out, "It goes to {target} over LMTP"),
            (None, true) => writeln!(
                out,
                "It arrives in {}/ of the node whose worker delivers it",
                dir.display()
            ),
            (None, false) => writeln!(out, "It arrives in {}/", dir.display()),
        };
    }
    let _ = writeln!(out);
}
