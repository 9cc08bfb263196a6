//! The command line, as clap sees it. The flags of `serve` override the same options of
//! the configuration file; what neither gives comes from the embedded default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sealpost_client::Route;
use sealpost_codec::{Mailbox, Notify, Ret, ReversePath, XText};
use sealpost_starttls::client::{Fingerprint, SecurityLevel};
use sealpost_starttls::tlsrpt::Day;

use crate::flags;
use crate::values::{ByteSize, CertificateName, DomainName, HandlerKind, ListenAddr, SecretSource};

/// A small, secure SMTP server and its tools.
#[derive(Debug, Parser)]
#[command(name = "sealpost", version, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the mail server. Without options: on loopback, with data in ./sealpost-data.
    Serve(Box<ServeArgs>),
    /// Make certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Manage the users who may log in (AUTH) to send mail.
    #[command(subcommand)]
    User(UserCommand),
    /// Send the message on standard input to a server, under a TLS security level.
    Send(Box<SendArgs>),
    /// S/MIME: sign, verify, encrypt and decrypt messages (stdin to stdout).
    #[command(subcommand)]
    Smime(crate::smime::SmimeCommand),
    /// Look at and act on the queue of `serve` (the file queue or the shared database).
    #[command(subcommand)]
    Queue(QueueCommand),
}

/// `sealpost queue ...`: the habits of Postfix's mailq, postqueue and postsuper.
#[derive(Debug, Subcommand)]
pub(crate) enum QueueCommand {
    /// One line per queued message: id, age, size, sender, and each recipient with its
    /// state and next attempt.
    List(QueueArgs),
    /// A message's envelope, each queued recipient's history, and its header section.
    Show(QueueIdArgs),
    /// Make every queued recipient of a message due now.
    Retry(QueueIdArgs),
    /// Remove a message from the queue, without any notice.
    Delete(QueueIdArgs),
    /// Return a message to its sender now, with a delivery status notice.
    Bounce(QueueIdArgs),
}

/// Where the queue is: the server's configuration.
#[derive(Debug, Args)]
pub(crate) struct QueueArgs {
    /// The configuration file of `serve` (its `[queue]` and `data_dir`).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The data directory of `serve`, when it was given with --data-dir.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

/// A message of the queue.
#[derive(Debug, Args)]
pub(crate) struct QueueIdArgs {
    /// The queue id, as `sealpost queue list` prints it.
    #[arg(value_name = "ID")]
    pub(crate) id: sealpost_mta::queue::QueueId,
    #[command(flatten)]
    pub(crate) queue: QueueArgs,
}

/// `sealpost serve`.
#[derive(Debug, Default, Args)]
#[command(after_help = "\
Listeners default to 127.0.0.1:2525 (MX, STARTTLS offered), 127.0.0.1:5870 (submission: \
STARTTLS, then AUTH) and 127.0.0.1:4650 (implicit TLS, then AUTH). Port 0 picks a free port; \
the real addresses are printed at start. SIGHUP reloads the certificates; SIGTERM or SIGINT \
stops after the sessions in progress finish. Logs go to stderr; set SEALPOST_LOG (or \
RUST_LOG), e.g. SEALPOST_LOG=debug.")]
pub(crate) struct ServeArgs {
    /// A TOML configuration file; the flags below override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The MX listener (STARTTLS offered), or `off`.
    #[arg(long, value_name = "ADDR")]
    pub(crate) smtp: Option<ListenAddr>,
    /// The submission listener (STARTTLS, then AUTH required), or `off`.
    #[arg(long, value_name = "ADDR")]
    pub(crate) submission: Option<ListenAddr>,
    /// The implicit-TLS submission listener (AUTH required), or `off`.
    #[arg(long, value_name = "ADDR")]
    pub(crate) smtps: Option<ListenAddr>,
    /// Where messages, the queue and the generated certificate live.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// The server's name in its greeting [default: localhost].
    #[arg(long, value_name = "NAME")]
    pub(crate) hostname: Option<DomainName>,
    /// A local domain: mail for it is delivered here. Repeat for more [default: localhost
    /// and the host name].
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub(crate) domains: Vec<DomainName>,
    /// The TLS certificate chain (PEM, leaf first) [default: a self-signed one, made on
    /// first start under DATA_DIR/tls].
    #[arg(long, value_name = "PEM", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// The users file for AUTH [default: DATA_DIR/users, if it exists].
    #[arg(long, value_name = "FILE")]
    pub(crate) users: Option<PathBuf>,
    /// What to do with accepted mail: deliver to the Maildir, or discard (benchmarks).
    #[arg(long, value_name = "HANDLER")]
    pub(crate) handler: Option<HandlerKind>,
    /// The largest message accepted, in bytes or with a unit: 10M, 512k [default: 25M].
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_message_size: Option<ByteSize>,
    /// Print how much of a day's outbound mail went encrypted and verified (from the TLS
    /// journal in DATA_DIR/tls-report/) and exit, instead of serving.
    #[arg(long)]
    pub(crate) tls_summary: bool,
    /// The day for --tls-summary, YYYY-MM-DD (UTC) [default: today].
    #[arg(long, value_name = "DAY", requires = "tls_summary", value_parser = flags::day)]
    pub(crate) day: Option<Day>,
    /// With --tls-summary: also write that day's RFC 8460 TLS-RPT report (JSON) here.
    #[arg(long, value_name = "FILE", requires = "tls_summary")]
    pub(crate) tls_rpt: Option<PathBuf>,
}

/// `sealpost send`.
#[derive(Debug, Args)]
#[command(after_help = "\
Reads the message (header and body) from standard input and prints one line per recipient \
and the TLS outcome (verified, untrusted or none). The exit code is 0 only if every \
recipient accepted the message. TLS levels (Postfix's names): none, may (STARTTLS when \
offered, certificate not checked; in clear if the handshake fails), encrypt (TLS required), \
fingerprint (--fingerprint pins), verify (a trusted chain naming the host or a --match name), \
secure (a trusted chain naming a --match name, or else the next hop: the recipients' \
domain, or the --server host), dane (the host's DNSSEC-validated TLSA records when it has \
some, else may), dane-only (TLSA records required). --mta-sts applies the recipient domain's \
MTA-STS policy (RFC 8461) at may and encrypt. Example:\n  \
sealpost send --server 127.0.0.1:2525 --tls-level verify --ca ca.pem --match localhost \\\n    \
--from me@example.org --to postmaster@localhost < message.eml")]
pub(crate) struct SendArgs {
    /// The server: HOST:PORT, or an IPv6 address in brackets and :PORT [default: the MX hosts of the
    /// recipients' domain, port 25].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) server: Option<Route>,
    /// The DNS server for MX, TLSA, MTA-STS and address lookups; this process validates
    /// DNSSEC itself [default: the nameservers of /etc/resolv.conf].
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) dns: Option<std::net::SocketAddr>,
    /// DNSSEC trust anchors (DNSKEY records in zone-file syntax) instead of the IANA root
    /// keys, for a private signed zone.
    #[arg(long, value_name = "FILE")]
    pub(crate) dns_trust_anchor: Option<PathBuf>,
    /// Apply the recipient domain's MTA-STS policy (RFC 8461; MX deliveries at may,
    /// encrypt or dane). The policy host is checked against --ca or the Mozilla roots.
    #[arg(long, conflicts_with = "server")]
    pub(crate) mta_sts: bool,
    /// The port of the MX hosts (without --server).
    #[arg(long, value_name = "PORT", default_value_t = 25, conflicts_with = "server")]
    pub(crate) mx_port: u16,
    /// TLS from the first byte (port 465), instead of STARTTLS.
    #[arg(long)]
    pub(crate) implicit_tls: bool,
    /// The TLS security level: none, may, encrypt, fingerprint, verify, secure, dane,
    /// dane-only.
    #[arg(long, value_name = "LEVEL", default_value = "may")]
    pub(crate) tls_level: SecurityLevel,
    /// Trust anchors (PEM) for verify, secure and MTA-STS, instead of the Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// A name the server certificate must carry (verify, secure). Repeat for more.
    #[arg(long = "match", value_name = "NAME")]
    pub(crate) match_names: Vec<CertificateName>,
    /// SHA-256 of the server certificate or its public key (fingerprint). Repeat for more.
    #[arg(long = "fingerprint", value_name = "SHA256")]
    pub(crate) fingerprints: Vec<Fingerprint>,
    /// The envelope sender, or <> [default: the null sender].
    #[arg(long, value_name = "ADDR", value_parser = flags::reverse_path)]
    pub(crate) from: Option<ReversePath<'static>>,
    /// A recipient. Repeat for more.
    #[arg(long = "to", value_name = "ADDR", required = true, value_parser = flags::mailbox)]
    pub(crate) to: Vec<Mailbox<'static>>,
    /// Log in (AUTH PLAIN or LOGIN, only under TLS) as this user.
    #[arg(long, value_name = "USER", requires = "pass")]
    pub(crate) user: Option<String>,
    /// Where the password is: env:VARIABLE.
    #[arg(long, value_name = "env:VAR", requires = "user", value_parser = flags::env_secret)]
    pub(crate) pass: Option<SecretSource>,
    /// A client certificate (PEM chain) to present when the server asks.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub(crate) client_cert: Option<PathBuf>,
    /// The private key of --client-cert.
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub(crate) client_key: Option<PathBuf>,
    /// The EHLO name [default: localhost].
    #[arg(long, value_name = "NAME")]
    pub(crate) helo: Option<String>,
    /// Ask for REQUIRETLS (RFC 8689): refuse to send unless TLS is verified end to end.
    #[arg(long)]
    pub(crate) require_tls: bool,
    /// DSN: NEVER, or a list of SUCCESS, FAILURE, DELAY (for every recipient).
    #[arg(long, value_name = "LIST", value_parser = flags::notify)]
    pub(crate) notify: Option<Notify>,
    /// DSN: return FULL message or HDRS only in a bounce.
    #[arg(long, value_name = "FULL|HDRS", value_parser = flags::ret)]
    pub(crate) ret: Option<Ret>,
    /// DSN: an envelope identifier.
    #[arg(long, value_name = "ID", value_parser = flags::envid)]
    pub(crate) envid: Option<XText<'static>>,
    /// One deadline, in seconds, for every step [default: RFC 5321's per-step minimums].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
}

/// `sealpost cert ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// Write a new self-signed certificate and key (cert.pem, key.pem) to a directory.
    SelfSigned(SelfSignedArgs),
}

/// `sealpost cert self-signed`.
#[derive(Debug, Args)]
pub(crate) struct SelfSignedArgs {
    /// A DNS name or IP address the certificate is for. Repeat for more.
    #[arg(long = "host", value_name = "NAME", required = true, value_parser = flags::cert_host)]
    pub(crate) hosts: Vec<String>,
    /// The directory to write cert.pem and key.pem to (made if needed).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Replace cert.pem and key.pem if they exist.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `sealpost user ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user, or set a new password; the password is read from standard input.
    Add(UserAddArgs),
}

/// `sealpost user add`.
#[derive(Debug, Args)]
#[command(after_help = "\
The password is the first line of standard input, e.g.\n  \
printf '%s\\n' \"$PASSWORD\" | sealpost user add alice --users ./sealpost-data/users\n\
It is never taken as an argument, where other users of the machine could see it.")]
pub(crate) struct UserAddArgs {
    /// The login name.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The users file (made if needed); `serve` reads it with --users.
    #[arg(long, value_name = "FILE")]
    pub(crate) users: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cert_and_key_go_together() {
        assert!(Cli::try_parse_from(["sealpost", "serve", "--cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["sealpost", "serve", "--key", "k.pem"]).is_err());
        assert!(
            Cli::try_parse_from(["sealpost", "serve", "--cert", "c.pem", "--key", "k.pem"]).is_ok()
        );
    }

    #[test]
    fn serve_without_arguments_parses() {
        let Ok(cli) = Cli::try_parse_from(["sealpost", "serve"]) else {
            unreachable!("`sealpost serve` must parse");
        };
        let Command::Serve(args) = cli.command else { unreachable!("not serve") };
        assert!(args.smtp.is_none() && args.domains.is_empty() && args.config.is_none());
    }
}
