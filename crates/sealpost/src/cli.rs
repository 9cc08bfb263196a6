//! The command line, as clap sees it. The flags of `serve` override the same options of
//! the configuration file; what neither gives comes from the embedded default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::values::{ByteSize, HandlerKind, ListenAddr};

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
}

/// `sealpost serve`.
#[derive(Debug, Args)]
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
    pub(crate) hostname: Option<String>,
    /// A local domain: mail for it is delivered here. Repeat for more [default: localhost
    /// and the host name].
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub(crate) domains: Vec<String>,
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
    #[arg(long = "host", value_name = "NAME", required = true)]
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
