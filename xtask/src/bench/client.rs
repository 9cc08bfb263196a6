//! `cargo xtask bench client`: sealpost-client against smtp-source, both sending 5 KiB
//! messages over 10 reused connections to the same smtp-sink, in turns, in one run.
//!
//! sealpost-client runs in this (release-built) process: each of the 10 connections gets
//! its share of the messages in one `Client::deliver` call, which sends them one after
//! the other on that connection (MAIL, RCPT and DATA pipelined when the server offers
//! PIPELINING, as smtp-sink does). smtp-source runs as `smtp-source -s 10 -m N -l 5120 -d`.
//! Every message must be accepted, or the run fails.
//!
//! Then STARTTLS delivery with and without TLS session resumption, against
//! `sealpost serve` and Postfix smtpd ([`super::client_tls`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealpost_client::sealpost_codec::client::Envelope;
use sealpost_client::sealpost_codec::{ForwardPath, Mailbox, ReversePath};
use sealpost_client::sealpost_starttls::client::{SecurityLevel, TlsPolicy};
use sealpost_client::{Client, DeliveryConfig, Message, Route};

use super::client_tls::{self, Servers, Workload};
use super::procs::SmtpSink;
use super::report::{self, Run};
use crate::sh::Sh;

const BEGIN: &str = "<!-- BEGIN cargo xtask bench client: generated, re-run to update -->";
const END: &str = "<!-- END cargo xtask bench client -->";

/// Options of `cargo xtask bench client`.
#[derive(clap::Args)]
pub(crate) struct ClientArgs {
    /// Runs of each contender (taken in turns); the best counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Messages per run.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Messages per STARTTLS run (one connection each).
    #[arg(long, default_value_t = 2_000)]
    tls_messages: usize,
    /// Print the results without writing docs/performance.md.
    #[arg(long)]
    no_write: bool,
}

/// Connections at once, as smtp-source's `-s 10`.
const CONNECTIONS: usize = 10;

/// A 5 KiB message: a few header fields and a body of 72-octet lines, 5120 octets in all.
fn message() -> Vec<u8> {
    let mut out = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: bench\r\n\r\n".to_vec();
    let line = [b'x'; 70];
    while out.len() + 72 <= 5120 {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    while out.len() < 5118 {
        out.push(b'y');
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn envelope() -> Result<Envelope> {
    let from: Mailbox<'static> = "a@x.test".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let to: Mailbox<'static> = "b@y.test".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Envelope::new(ReversePath::Mailbox(from)).recipient(ForwardPath::Mailbox(to)))
}

/// One run: `messages` over [`CONNECTIONS`] connections; the time from the first connect
/// to the last reply.
fn sealpost_client_run(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    messages: usize,
) -> Result<Duration> {
    let content = bytes::Bytes::from(message());
    let envelope = envelope()?;
    let route: Route = addr.to_string().parse().context("the sink's address as a route")?;
    let config = DeliveryConfig::new("bench.test").tls(TlsPolicy::new(SecurityLevel::None));
    let client = Arc::new(Client::new(config));
    let batches: Vec<Vec<Message>> = (0..CONNECTIONS)
        .map(|c| {
            let share = messages / CONNECTIONS + usize::from(c < messages % CONNECTIONS);
            (0..share).map(|_| Message::new(envelope.clone(), content.clone())).collect()
        })
        .collect();
    let started = Instant::now();
    let delivered = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for batch in batches {
            let (client, route) = (client.clone(), route.clone());
            tasks.spawn(async move {
                let delivery = client.deliver(&route, &batch).await?;
                let ok = delivery
                    .results
                    .iter()
                    .filter(|r| r.as_ref().is_ok_and(|t| t.all_delivered()))
                    .count();
                Ok::<usize, sealpost_client::DeliveryError>(ok)
            });
        }
        let mut delivered = 0;
        while let Some(done) = tasks.join_next().await {
            delivered += done.context("a delivery task failed")?.context("a delivery failed")?;
        }
        Ok::<usize, anyhow::Error>(delivered)
    })?;
    let took = started.elapsed();
    if delivered != messages {
        bail!("sealpost-client delivered {delivered} of {messages} messages");
    }
    println!(
        "  sealpost-client, {messages} messages over {CONNECTIONS} connections: {:.2} s",
        took.as_secs_f64()
    );
    Ok(took)
}

/// `cargo xtask bench client`.
pub(crate) fn run(sh: &mut Sh, args: &ClientArgs, sealpost: &Path) -> Result<()> {
    super::postfix::ensure_installed(sh)?;
    let sh: &Sh = sh;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let load_before = report::load_average();
    println!("\n== client: sealpost-client vs smtp-source, both to smtp-sink");
    let sink = SmtpSink::start(sh)?;
    let mut ours = Run::new("sealpost-client", args.messages);
    let mut theirs = Run::new("smtp-source -d", args.messages);
    for _ in 0..args.runs {
        ours.times.push(sealpost_client_run(&runtime, sink.addr, args.messages)?);
        theirs.times.push(super::smtp_source(sh, sink.addr, args.messages, true)?);
    }
    sink.process.stop()?;
    let pki = sh.root().join(crate::certs::DEFAULT_DIR);
    let (cert, key, ca) =
        (pki.join("server-chain.pem"), pki.join("server-key.pem"), pki.join("ca-bundle.pem"));
    let workload =
        Workload::new(args.tls_messages, bytes::Bytes::from(message()), envelope()?, &ca)?;
    let servers = Servers {
        sh,
        sealpost,
        scratch: &super::target_dir(sh).join("bench-client"),
        cert: &cert,
        key: &key,
        ca: &ca,
    };
    let tls_rows = servers.measure(&runtime, &workload, args.runs)?;
    let load_after = report::load_average();
    let machine = report::Machine::probe(sh)?;
    let best = |run: &Run| {
        run.times.iter().map(|t| run.items as f64 / t.as_secs_f64()).fold(0.0, f64::max)
    };
    let all = |run: &Run| {
        run.times
            .iter()
            .map(|t| format!("{:.0}", run.items as f64 / t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ratio = best(&ours) / best(&theirs);
    let verdict = if ratio >= 1.0 { "met" } else { "**missed**" };
    let smtp_source = super::smtp_source_args(args.messages, true, "PORT").join(" ");
    let section = format!(
        "{BEGIN}\n\n# Performance of the client (sealpost-client)\n\n\
         `cargo xtask bench client` (`xtask/src/bench/client.rs`) sends {n} messages of 5 KiB \
         to one `smtp-sink -u root 127.0.0.1:PORT 1000` over {CONNECTIONS} connections that \
         are reused for every message, with sealpost-client (in the release-built xtask \
         process: one `Client::deliver` call per connection with its share of the messages, \
         level `none`) and with `smtp-source {smtp_source}`, in turns; the best of {runs} \
         runs counts, and every message must be accepted.\n\n\
         - {machine}\n- Load average before: {load_before}; after: {load_after}.\n\n\
         | workload | sealpost-client | smtp-source | ratio | target |\n\
         | --- | --- | --- | --- | --- |\n\
         | 10 connections, reused, 5 KiB messages | **{ours_best:.0}** msg/s (runs: {ours_all}) | \
         **{theirs_best:.0}** msg/s (runs: {theirs_all}) | {ratio:.2}x | >= 1.0x: {verdict} |\n\n\
         {tls}\n{END}\n",
        n = args.messages,
        runs = args.runs,
        machine = machine.one_line(),
        ours_best = best(&ours),
        ours_all = all(&ours),
        theirs_best = best(&theirs),
        theirs_all = all(&theirs),
        tls = client_tls::render(&tls_rows, args.tls_messages, args.runs),
    );
    println!("\n{section}");
    if args.no_write {
        println!("(not written to docs/performance.md: --no-write)");
        return Ok(());
    }
    let doc = sh.root().join("docs/performance.md");
    report::replace_section(&doc, BEGIN, END, &section)?;
    println!("written to {}", doc.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_5_kib_of_crlf_lines() {
        let m = message();
        assert_eq!(m.len(), 5120);
        assert!(m.ends_with(b"\r\n"));
        assert!(!m.windows(2).any(|w| w[0] == b'\n' && w[1] == b'.'));
    }
}
