//! `sealpost send`: deliver the message on standard input to one server under a TLS
//! security level, and report each recipient and the TLS outcome.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sealpost_client::{Client, Credentials, DeliveryConfig, Message, Route, Timeouts};
use sealpost_codec::client::{Envelope, TransactionResult};
use sealpost_codec::{ForwardPath, MailParameter, MailParameters, RcptParameter, RcptParameters};
use sealpost_mta::relay::one_line;
use sealpost_starttls::client::{SecurityLevel, TlsPolicy};
use sealpost_starttls::dns::{DnsResolver, HickoryResolver};
use sealpost_starttls::mta_sts::HttpsPolicyFetcher;
use sealpost_starttls::{CertificateFiles, ClientAuth};

use crate::cli::SendArgs;

/// Runs `sealpost send`. Succeeds only when every recipient accepted the message.
pub(crate) fn run(args: &SendArgs) -> anyhow::Result<()> {
    let config = delivery_config(args)?;
    let envelope = envelope(args)?;
    let level = config.tls.level;
    let route = match &args.server {
        Some(server) => server.clone(),
        None => mx_route(&envelope)?,
    };
    // DNS is needed for MX routes, for TLSA records and for MTA-STS.
    let needs_dns = args.server.is_none() || level.is_dane() || args.dns.is_some();
    let resolver = needs_dns.then(|| resolver(args)).transpose()?;
    let mut content = Vec::new();
    std::io::stdin().read_to_end(&mut content).context("cannot read the message from stdin")?;
    if content.is_empty() {
        bail!("no message on standard input");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let message = Message::new(envelope, content);
    let mut client = Client::new(config);
    if let Some(resolver) = &resolver {
        client = client.with_dns(resolver.clone());
    }
    if args.mta_sts {
        let Some(resolver) = resolver else { bail!("--mta-sts needs DNS") };
        client = client.with_mta_sts(Arc::new(policy_fetcher(args)?.with_resolver(resolver)));
    }
    let delivery = runtime
        .block_on(client.deliver(&route, &[message]))
        .with_context(|| format!("delivery to {route} failed"))?;
    println!("server: {} ({})", delivery.host, delivery.addr);
    println!("tls: {}", delivery.tls);
    let Some(result) = delivery.results.into_iter().next() else {
        bail!("the server took no message");
    };
    let result = result.with_context(|| format!("the message was not sent to {route}"))?;
    report(&result)
}

/// The MX route of the recipients' domain (one domain only: one delivery per run).
fn mx_route(envelope: &Envelope) -> anyhow::Result<Route> {
    let mut domains: Vec<String> = envelope
        .recipients
        .iter()
        .filter_map(|(path, _)| path.mailbox().map(|m| m.domain().to_string().to_ascii_lowercase()))
        .collect();
    domains.sort();
    domains.dedup();
    match &domains[..] {
        [domain] => Ok(Route::Mx { domain: domain.clone() }),
        _ => bail!(
            "the recipients are in several domains ({}); send once per domain, or give \
             --server HOST:PORT",
            domains.join(", ")
        ),
    }
}

/// The validating DNS resolver: `--dns` (with `--dns-trust-anchor`), or the nameservers
/// of /etc/resolv.conf.
fn resolver(args: &SendArgs) -> anyhow::Result<Arc<dyn DnsResolver>> {
    let timeout = Duration::from_secs(10);
    let resolver = match (args.dns, &args.dns_trust_anchor) {
        (Some(addr), Some(anchors)) => {
            HickoryResolver::with_trust_anchors(&[addr], timeout, anchors)
        }
        (Some(addr), None) => HickoryResolver::new(&[addr], timeout),
        (None, Some(_)) => bail!("--dns-trust-anchor needs --dns ADDR:PORT"),
        (None, None) => {
            HickoryResolver::from_resolv_conf(Path::new("/etc/resolv.conf"), timeout)
        }
    }
    .context("no DNS resolver (give --dns ADDR:PORT, or --server HOST:PORT at a level that needs no DNS)")?;
    Ok(Arc::new(resolver))
}

/// The MTA-STS policy fetcher: web PKI against `--ca` or the Mozilla roots.
fn policy_fetcher(args: &SendArgs) -> anyhow::Result<HttpsPolicyFetcher> {
    let Some(ca) = &args.ca else { return Ok(HttpsPolicyFetcher::with_mozilla_roots()) };
    let roots = ClientAuth::roots_from_pem(ca)
        .with_context(|| format!("--ca {}: cannot load trust anchors", ca.display()))?;
    Ok(HttpsPolicyFetcher::new(roots.as_ref().clone()))
}

/// Prints one line per recipient; fails unless all were accepted.
fn report(result: &TransactionResult) -> anyhow::Result<()> {
    if !result.mail.code().is_positive() {
        println!("MAIL FROM refused: {}", one_line(&result.mail.to_string()));
    }
    let mut refused = 0;
    for recipient in &result.recipients {
        let reply = recipient.final_reply().map(|r| one_line(&r.to_string()));
        let reply = reply.as_deref().unwrap_or("no reply");
        if recipient.delivered() {
            println!("{}: accepted: {reply}", recipient.path);
        } else {
            refused += 1;
            let kind = match recipient.final_reply() {
                Some(r) if r.code().is_permanent_failure() => "rejected",
                _ => "deferred",
            };
            println!("{}: {kind}: {reply}", recipient.path);
        }
    }
    if refused > 0 {
        bail!("{refused} of {} recipient(s) did not accept the message", result.recipients.len());
    }
    Ok(())
}

fn delivery_config(args: &SendArgs) -> anyhow::Result<DeliveryConfig> {
    let level = args.tls_level;
    let mut policy = TlsPolicy::new(level);
    if let Some(ca) = &args.ca {
        policy =
            policy
                .roots(ClientAuth::roots_from_pem(ca).with_context(|| {
                    format!("--ca {}: cannot load trust anchors", ca.display())
                })?);
    }
    for name in &args.match_names {
        policy = policy.match_name(name.0.clone());
    }
    for pin in &args.fingerprints {
        policy = policy.fingerprint(*pin);
    }
    if level == SecurityLevel::Fingerprint && args.fingerprints.is_empty() {
        bail!("--tls-level fingerprint needs at least one --fingerprint SHA256");
    }
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        policy = policy.client_certificate(CertificateFiles::new(cert, key).load()?);
    }
    let mut timeouts = Timeouts::default();
    if let Some(seconds) = args.timeout {
        timeouts = Timeouts::all(Duration::from_secs(seconds.max(1)));
    }
    let mut config = DeliveryConfig::new(args.helo.clone().unwrap_or_else(|| "localhost".into()))
        .tls(policy)
        .implicit_tls(args.implicit_tls)
        .timeouts(timeouts);
    config.port = args.mx_port;
    if let Some(user) = &args.user {
        let Some(pass) = &args.pass else { bail!("--user needs --pass env:VARIABLE") };
        let password = pass.read().context("--pass")?;
        config = config.credentials(Credentials::new(user.clone(), password));
    }
    Ok(config)
}

fn envelope(args: &SendArgs) -> anyhow::Result<Envelope> {
    let reverse_path = args.from.clone().unwrap_or(sealpost_codec::ReversePath::Null);
    let mut mail = Vec::new();
    if let Some(ret) = args.ret {
        mail.push(MailParameter::Ret(ret));
    }
    if let Some(envid) = &args.envid {
        mail.push(MailParameter::EnvId(envid.clone()));
    }
    if args.require_tls {
        mail.push(MailParameter::RequireTls);
    }
    let parameters = MailParameters::from_vec(mail)?;
    let mut envelope = Envelope::new(reverse_path).parameters(parameters);
    for to in &args.to {
        let path = ForwardPath::Mailbox(to.clone());
        let params = match args.notify {
            Some(n) => RcptParameters::from_vec(vec![RcptParameter::Notify(n)])?,
            None => RcptParameters::default(),
        };
        envelope = envelope.recipient_with(path, params);
    }
    Ok(envelope)
}
