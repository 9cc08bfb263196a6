//! What `serve` will do: the embedded default, then the configuration file, then the
//! flags, merged and checked into a [`ServePlan`]. Nothing here touches the network or
//! the disk, so every rule can be tested without a server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use sealpost_codec::server::StartTlsTrailing;
use sealpost_codec::{BareLineEndings, DomainPart, Mailbox, NulOctets};
use sealpost_server::ServerSettings;
use sealpost_starttls::CertificateFiles;

use crate::cli::ServeArgs;
use crate::config::FileConfig;
use crate::values::{BareLineEndingPolicy, HandlerKind, NulPolicy, StartTlsTrailingPolicy};

mod listeners;
mod queue;

pub(crate) use listeners::{ClientCerts, ListenerName, ListenerPlan};
pub(crate) use queue::QueuePlan;

/// The data directory of the embedded default, relative to where `serve` starts.
pub(crate) const DEFAULT_DATA_DIR: &str = "./sealpost-data";
/// The host name of the embedded default.
pub(crate) const DEFAULT_HOSTNAME: &str = "localhost";
/// Seconds between checks of the certificate files, unless configured.
const DEFAULT_WATCH_INTERVAL: u64 = 5;

/// The users file and whether someone asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UsersFile {
    /// Given with `--users` or `users =`: it must exist.
    Given(PathBuf),
    /// The default place under the data directory: used when it exists.
    Default(PathBuf),
}

/// Server certificates.
#[derive(Debug, Clone)]
pub(crate) struct Certificates {
    /// The default pair; `None` for the self-signed one under `DATA_DIR/tls`.
    pub(crate) default: Option<CertificateFiles>,
    /// Names for the self-signed certificate, when it has to be made.
    pub(crate) self_signed_names: Vec<String>,
    /// Pairs chosen by SNI.
    pub(crate) sni: Vec<CertificateFiles>,
    /// How often to look for changed files; `None`: only on SIGHUP.
    pub(crate) watch_interval: Option<Duration>,
}

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct ServePlan {
    /// Messages, queue, generated certificate.
    pub(crate) data_dir: PathBuf,
    /// Local domains, lower case, without duplicates.
    pub(crate) domains: Vec<String>,
    /// Accepted recipients, if limited.
    pub(crate) recipients: Option<Vec<String>>,
    /// The users file.
    pub(crate) users: UsersFile,
    /// Client certificate (or SPKI) fingerprints that may relay without AUTH.
    pub(crate) relay_client_certs: Vec<[u8; 32]>,
    /// The S/MIME layer, when `[smime]` asks for it.
    pub(crate) smime: Option<SmimePlan>,
    /// `[relay]` as written (checked when the relay worker is built at start).
    pub(crate) relay: crate::config::RelaySection,
    /// `[queue]`: where the queue lives, and this node's name.
    pub(crate) queue: QueuePlan,
    /// `[delivery] lmtp`: local mail to a mailbox server instead of the Maildirs.
    pub(crate) lmtp: Option<sealpost_client::LmtpTarget>,
    /// `[runtime] worker_threads`; `None`: one per core.
    pub(crate) worker_threads: Option<usize>,
    /// What happens to accepted mail.
    pub(crate) handler: HandlerKind,
    /// TLS.
    pub(crate) certificates: Certificates,
    /// Enabled listeners, in bind order.
    pub(crate) listeners: Vec<ListenerPlan>,
    /// Session template, limits and timeouts (the host name is in `settings.session`).
    pub(crate) settings: ServerSettings,
}

impl ServePlan {
    /// The host name.
    pub(crate) fn hostname(&self) -> &str {
        &self.settings.session.hostname
    }

    /// Where the self-signed certificate lives.
    pub(crate) fn self_signed_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    /// Merges the flags over the file over the default.
    pub(crate) fn resolve(args: &ServeArgs, file: &FileConfig) -> anyhow::Result<ServePlan> {
        // Both were checked as they were read (`DomainName`).
        let hostname = args
            .hostname
            .as_ref()
            .or(file.hostname.as_ref())
            .map_or_else(|| DEFAULT_HOSTNAME.to_owned(), |name| name.as_str().to_owned());

        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));

        let domains = local_domains(args, file, &hostname)?;
        let recipients = match &file.recipients {
            Some(list) => Some(checked_recipients(list, &domains)?),
            None => None,
        };

        let users = match args.users.clone().or_else(|| file.users.clone()) {
            Some(path) => UsersFile::Given(path),
            None => UsersFile::Default(data_dir.join("users")),
        };

        let relay_client_certs: Vec<[u8; 32]> =
            file.relay_client_certs.iter().map(|pin| pin.0).collect();
        let smime = smime_plan(file, &domains)?;
        let certificates = certificates(args, file, &hostname)?;
        let listeners = listeners::plan(args, file)?;
        if !relay_client_certs.is_empty()
            && listeners.iter().all(|l| l.client_certs == ClientCerts::Off)
        {
            anyhow::bail!(
                "relay_client_certs is set but no listener asks for client certificates: \
                 set client_certificates = \"optional\" (or another mode) on a listener"
            );
        }
        let settings = server_settings(args, file, hostname)?;

        Ok(ServePlan {
            data_dir,
            domains,
            recipients,
            users,
            relay_client_certs,
            smime,
            relay: file.relay.clone(),
            queue: queue::plan(file)?,
            lmtp: file.delivery.lmtp.clone(),
            worker_threads: match file.runtime.worker_threads {
                Some(0) => bail!("[runtime] worker_threads must be at least 1"),
                n => n,
            },
            handler: args.handler.or(file.handler).unwrap_or_default(),
            certificates,
            listeners,
            settings,
        })
    }
}

/// The `[smime]` section, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmimePlan {
    /// CA certificate files; empty: no verification.
    pub(crate) trust: Vec<PathBuf>,
    /// Accept legacy algorithms in signatures.
    pub(crate) allow_legacy: bool,
    /// Accept a signer that matches Sender but not From.
    pub(crate) accept_sender: bool,
    /// `local@domain` (folded as the server compares recipients) and its certificate.
    pub(crate) encrypt_at_rest: Vec<(String, PathBuf)>,
    /// The cipher for encryption at rest.
    pub(crate) cipher: sealpost_smime::ContentCipher,
}

fn smime_plan(file: &FileConfig, domains: &[String]) -> anyhow::Result<Option<SmimePlan>> {
    use sealpost_smime::ContentCipher;
    let section = &file.smime;
    if section.trust.is_empty() && section.encrypt_at_rest.is_empty() {
        if section.allow_legacy.is_some()
            || section.accept_sender.is_some()
            || section.cipher.is_some()
        {
            bail!(
                "[smime] has settings but neither `trust` (CA files to verify signed mail) \
                 nor `encrypt_at_rest` (recipients and their certificates): add one"
            );
        }
        return Ok(None);
    }
    let cipher = section.cipher.unwrap_or(ContentCipher::Aes256Cbc);
    let mut encrypt_at_rest = Vec::new();
    for (address, cert) in &section.encrypt_at_rest {
        let checked = checked_recipients(std::slice::from_ref(address), domains)
            .with_context(|| format!("in [smime] encrypt_at_rest, for {cert:?}"))?;
        let mailbox = Mailbox::parse(&checked[0]).map_err(|e| anyhow::anyhow!("{e}"))?;
        let folded = format!(
            "{}@{}",
            mailbox.local_part().value().to_lowercase(),
            mailbox.domain().to_string().to_ascii_lowercase()
        );
        encrypt_at_rest.push((folded, cert.clone()));
    }
    Ok(Some(SmimePlan {
        trust: section.trust.clone(),
        allow_legacy: section.allow_legacy.unwrap_or(false),
        accept_sender: section.accept_sender.unwrap_or(false),
        encrypt_at_rest,
        cipher,
    }))
}

fn local_domains(
    args: &ServeArgs,
    file: &FileConfig,
    hostname: &str,
) -> anyhow::Result<Vec<String>> {
    // Each name was checked and lower-cased as it was read (`DomainName`).
    let given: Vec<String> = if !args.domains.is_empty() {
        args.domains.iter().map(|d| d.as_str().to_owned()).collect()
    } else if let Some(domains) = &file.domains {
        if domains.is_empty() {
            bail!("`domains` is empty: list at least one local domain, or leave the key out");
        }
        domains.iter().map(|d| d.as_str().to_owned()).collect()
    } else {
        vec![DEFAULT_HOSTNAME.to_owned(), hostname.to_owned()]
    };
    let mut domains = Vec::with_capacity(given.len());
    for domain in given {
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(domains)
}

fn checked_recipients(list: &[String], domains: &[String]) -> anyhow::Result<Vec<String>> {
    let mut recipients = Vec::with_capacity(list.len());
    for address in list {
        let mailbox = Mailbox::parse(address)
            .map_err(|e| anyhow::anyhow!("invalid recipient `{address}` in recipients: {e}"))?;
        let in_local_domain = match mailbox.domain() {
            DomainPart::Domain(d) => domains.iter().any(|l| d.eq_ignore_ascii_case(l)),
            _ => false,
        };
        if !in_local_domain {
            bail!(
                "recipient `{address}` is not in a local domain ({}); add its domain to \
                 `domains` or remove it from `recipients`",
                domains.join(", ")
            );
        }
        recipients.push(address.clone());
    }
    Ok(recipients)
}

fn certificates(
    args: &ServeArgs,
    file: &FileConfig,
    hostname: &str,
) -> anyhow::Result<Certificates> {
    // clap already insists on both flags or neither; the file gets the same rule here.
    let default = match (&args.cert, &args.key, &file.tls.cert, &file.tls.key) {
        (Some(cert), Some(key), _, _) => Some(CertificateFiles::new(cert, key)),
        (None, None, Some(cert), Some(key)) => Some(CertificateFiles::new(cert, key)),
        (None, None, None, None) => None,
        (None, None, Some(_), None) => bail!("[tls] has `cert` but no `key`: give both or neither"),
        (None, None, None, Some(_)) => bail!("[tls] has `key` but no `cert`: give both or neither"),
        _ => bail!("--cert and --key go together: give both or neither"),
    };
    let mut self_signed_names: Vec<String> =
        ["localhost", "127.0.0.1", "::1"].iter().map(|s| (*s).to_owned()).collect();
    if !self_signed_names.iter().any(|n| n == hostname) {
        self_signed_names.push(hostname.to_owned());
    }
    let sni = file.tls.sni.iter().map(|p| CertificateFiles::new(&p.cert, &p.key)).collect();
    let watch_interval = match file.tls.watch_interval.unwrap_or(DEFAULT_WATCH_INTERVAL) {
        0 => None,
        secs => Some(Duration::from_secs(secs)),
    };
    Ok(Certificates { default, self_signed_names, sni, watch_interval })
}

fn server_settings(
    args: &ServeArgs,
    file: &FileConfig,
    hostname: String,
) -> anyhow::Result<ServerSettings> {
    let mut settings = ServerSettings::new(hostname);
    let limits = &file.limits;
    let positive = |value: Option<usize>, key: &str| -> anyhow::Result<Option<usize>> {
        match value {
            Some(0) => bail!("[limits] {key} must be at least 1"),
            other => Ok(other),
        }
    };
    if let Some(n) = positive(limits.max_connections, "max_connections")? {
        settings.limits.max_connections = n;
    }
    if let Some(n) = positive(limits.max_connections_per_ip, "max_connections_per_ip")? {
        settings.limits.max_connections_per_ip = n;
    }
    if let Some(n) = positive(limits.max_auth_failures, "max_auth_failures")? {
        settings.limits.max_auth_failures = n;
    }
    if let Some(secs) = limits.auth_failure_window {
        settings.limits.auth_failure_window = Duration::from_secs(secs);
    }
    if let Some(n) = positive(limits.max_recipients, "max_recipients")? {
        settings.session.max_recipients = n;
    }
    if let Some(n) = positive(limits.max_errors, "max_errors")? {
        settings.session.max_errors = n;
    }
    if let Some(size) = args.max_message_size.or(limits.max_message_size) {
        if size.0 == 0 {
            bail!(
                "the largest message size (--max-message-size or max_message_size) must be above 0"
            );
        }
        settings.session.max_message_size = Some(size.0);
    }

    let timeouts = &file.timeouts;
    let seconds =
        |value: Option<u64>, key: &str, zero_ok: bool| -> anyhow::Result<Option<Duration>> {
            match value {
                Some(0) if !zero_ok => bail!("[timeouts] {key} must be at least 1 second"),
                other => Ok(other.map(Duration::from_secs)),
            }
        };
    if let Some(d) = seconds(timeouts.command, "command", false)? {
        settings.timeouts.command = d;
    }
    if let Some(d) = seconds(timeouts.data, "data", false)? {
        settings.timeouts.data = d;
    }
    if let Some(d) = seconds(timeouts.handshake, "handshake", false)? {
        settings.timeouts.handshake = d;
    }
    if let Some(d) = seconds(timeouts.write, "write", false)? {
        settings.timeouts.write = d;
    }
    if let Some(d) = seconds(timeouts.shutdown_grace, "shutdown_grace", true)? {
        settings.timeouts.shutdown_grace = d;
    }
    if let Some(d) = seconds(timeouts.proxy_header, "proxy_header", false)? {
        settings.timeouts.proxy_header = d;
    }

    if let Some(policy) = file.protocol.bare_line_endings {
        settings.session.bare_line_endings = match policy {
            BareLineEndingPolicy::Reject => BareLineEndings::Reject,
            BareLineEndingPolicy::Normalize => BareLineEndings::Normalize,
        };
    }
    if let Some(policy) = file.protocol.nul {
        settings.session.nul_octets = match policy {
            NulPolicy::Reject => NulOctets::Reject,
            NulPolicy::Strip => NulOctets::Strip,
        };
    }
    if let Some(policy) = file.protocol.starttls_trailing {
        settings.session.starttls_trailing = match policy {
            StartTlsTrailingPolicy::Reject => StartTlsTrailing::Reject,
            StartTlsTrailingPolicy::Discard => StartTlsTrailing::Discard,
        };
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::Parser;

    use std::path::Path;

    use super::*;
    use sealpost_server::Role;

    use crate::cli::{Cli, Command};

    pub(super) fn args(flags: &[&str]) -> ServeArgs {
        let argv = ["sealpost", "serve"].iter().chain(flags).copied();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => *args,
            _ => unreachable!("serve"),
        }
    }

    pub(super) fn file(text: &str) -> FileConfig {
        FileConfig::parse(text, Path::new("test.toml")).unwrap()
    }

    pub(super) fn resolve(flags: &[&str], text: &str) -> anyhow::Result<ServePlan> {
        ServePlan::resolve(&args(flags), &file(text))
    }

    pub(super) fn error(flags: &[&str], text: &str) -> String {
        format!("{:#}", resolve(flags, text).unwrap_err())
    }

    #[test]
    fn the_embedded_default() {
        let plan = resolve(&[], "").unwrap();
        assert_eq!(plan.hostname(), "localhost");
        assert_eq!(plan.domains, ["localhost"]);
        assert_eq!(plan.data_dir, Path::new("./sealpost-data"));
        assert_eq!(plan.users, UsersFile::Default(PathBuf::from("./sealpost-data/users")));
        assert_eq!(plan.handler, HandlerKind::Maildir);
        assert!(plan.recipients.is_none());
        let listeners: Vec<_> =
            plan.listeners.iter().map(|l| (l.name.role(), l.addr.to_string())).collect();
        assert_eq!(
            listeners,
            [
                (Role::Mx, "127.0.0.1:2525".to_owned()),
                (Role::Submission, "127.0.0.1:5870".to_owned()),
                (Role::Submissions, "127.0.0.1:4650".to_owned()),
            ]
        );
        assert!(plan.listeners.iter().all(|l| l.client_certs == ClientCerts::Off));
        assert!(plan.certificates.default.is_none());
        assert_eq!(plan.certificates.self_signed_names, ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(plan.certificates.watch_interval, Some(Duration::from_secs(5)));
        assert_eq!(plan.self_signed_dir(), Path::new("./sealpost-data/tls"));
        assert_eq!(plan.settings.session.max_message_size, Some(25 * 1024 * 1024));
    }

    #[test]
    fn the_host_name_joins_the_domains_and_the_certificate() {
        let plan = resolve(&["--hostname", "MX.Example.org"], "").unwrap();
        assert_eq!(plan.hostname(), "mx.example.org");
        assert_eq!(plan.domains, ["localhost", "mx.example.org"]);
        assert_eq!(plan.certificates.self_signed_names.last().unwrap(), "mx.example.org");
    }

    #[test]
    fn flags_override_the_file() {
        let text = "hostname = \"file.example\"\ndomains = [\"file.example\"]\n\
                    data_dir = \"/srv/file\"\nhandler = \"discard\"\n\
                    [listeners.smtp]\naddress = \"127.0.0.1:25\"\n\
                    [limits]\nmax_message_size = 1000\n";
        let from_file = resolve(&[], text).unwrap();
        assert_eq!(from_file.hostname(), "file.example");
        assert_eq!(from_file.domains, ["file.example"]);
        assert_eq!(from_file.handler, HandlerKind::Discard);
        assert_eq!(from_file.listeners[0].addr.port(), 25);
        assert_eq!(from_file.settings.session.max_message_size, Some(1000));

        let flags = [
            "--hostname",
            "flag.example",
            "--domain",
            "a.example",
            "--domain",
            "b.example",
            "--data-dir",
            "/srv/flag",
            "--handler",
            "maildir",
            "--smtp",
            "127.0.0.1:0",
            "--submission",
            "off",
            "--max-message-size",
            "1M",
        ];
        let plan = resolve(&flags, text).unwrap();
        assert_eq!(plan.hostname(), "flag.example");
        assert_eq!(plan.domains, ["a.example", "b.example"]);
        assert_eq!(plan.data_dir, Path::new("/srv/flag"));
        assert_eq!(plan.handler, HandlerKind::Maildir);
        let names: Vec<_> = plan.listeners.iter().map(|l| l.name).collect();
        assert_eq!(names, [ListenerName::Smtp, ListenerName::Smtps]);
        assert_eq!(plan.listeners[0].addr.port(), 0);
        assert_eq!(plan.settings.session.max_message_size, Some(1 << 20));
    }

    #[test]
    fn certificates_come_in_pairs() {
        let plan = resolve(&["--cert", "c.pem", "--key", "k.pem"], "").unwrap();
        assert_eq!(plan.certificates.default, Some(CertificateFiles::new("c.pem", "k.pem")));
        assert!(error(&[], "[tls]\ncert = \"c.pem\"\n").contains("no `key`"));
        assert!(error(&[], "[tls]\nkey = \"k.pem\"\n").contains("no `cert`"));
        // The flags replace the file's pair as a whole.
        let plan =
            resolve(&["--cert", "c.pem", "--key", "k.pem"], "[tls]\ncert = \"x\"\n").unwrap();
        assert_eq!(plan.certificates.default, Some(CertificateFiles::new("c.pem", "k.pem")));
        let plan = resolve(&[], "[tls]\nwatch_interval = 0\n").unwrap();
        assert_eq!(plan.certificates.watch_interval, None);
    }

    #[test]
    fn relay_client_certs_take_both_fingerprint_forms_and_need_a_listener_that_asks() {
        let colons = "AB:".repeat(31) + "AB";
        let plain = "0123456789abcdef".repeat(4);
        let plan = resolve(
            &[],
            &format!(
                "relay_client_certs = [\"{colons}\", \"{plain}\"]\n\
                 [listeners.smtp]\nclient_certificates = \"optional\"\n"
            ),
        )
        .unwrap();
        assert_eq!(plan.relay_client_certs[0], [0xab; 32]);
        assert_eq!(
            plan.relay_client_certs[1][..8],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
        assert!(resolve(&[], "").unwrap().relay_client_certs.is_empty());
        let err = error(&[], &format!("relay_client_certs = [\"{plain}\"]\n"));
        assert!(err.contains("no listener asks for client certificates"), "{err}");
        // Each pin is typed as the file is read: toml names the line and the key.
        for bad in ["abcd", &"g".repeat(64), &format!("{plain}00")] {
            let text = format!("relay_client_certs = [\"{bad}\"]\n");
            let err = FileConfig::parse(&text, Path::new("test.toml")).unwrap_err().to_string();
            assert!(err.contains("line 1") && err.contains("relay_client_certs"), "{err}");
            assert!(err.contains("invalid SHA-256 fingerprint") && err.contains("64 hex"), "{err}");
        }
    }

    #[test]
    fn worker_threads_are_at_least_one() {
        assert_eq!(resolve(&[], "").unwrap().worker_threads, None);
        assert_eq!(
            resolve(&[], "[runtime]\nworker_threads = 1\n").unwrap().worker_threads,
            Some(1)
        );
        let err = error(&[], "[runtime]\nworker_threads = 0\n");
        assert!(err.contains("worker_threads must be at least 1"), "{err}");
    }

    #[test]
    fn the_smime_section_is_checked() {
        assert!(resolve(&[], "").unwrap().smime.is_none());
        let plan = resolve(
            &[],
            "[smime]\nencrypt_at_rest = { \"Alice@LOCALHOST\" = \"a.pem\" }\ncipher = \"aes128-gcm\"\n",
        )
        .unwrap();
        let smime = plan.smime.unwrap();
        assert!(smime.trust.is_empty() && !smime.allow_legacy && !smime.accept_sender);
        assert_eq!(smime.encrypt_at_rest, [(String::from("alice@localhost"), "a.pem".into())]);
        assert_eq!(smime.cipher, sealpost_smime::ContentCipher::Aes128Gcm);
        for (text, expected) in [
            ("[smime]\nallow_legacy = true\n", "neither `trust`"),
            ("[smime]\naccept_sender = true\n", "neither `trust`"),
            (
                "[smime]\nencrypt_at_rest = { \"a@elsewhere.example\" = \"a.pem\" }\n",
                "encrypt_at_rest",
            ),
        ] {
            let err = error(&[], text);
            assert!(err.contains(expected), "{text}: {err}");
        }
        // The cipher is typed as the file is read: toml names the line and the key.
        for cipher in ["des", "auto"] {
            let text = format!("[smime]\ntrust = [\"ca.pem\"]\ncipher = \"{cipher}\"\n");
            let err = FileConfig::parse(&text, Path::new("test.toml")).unwrap_err().to_string();
            assert!(err.contains("line 3") && err.contains("is not one of aes256-cbc"), "{err}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_what_to_fix() {
        let table: &[(&[&str], &str, &str)] = &[
            (&[], "domains = []\n", "list at least one local domain"),
            (
                &["--smtp", "off", "--submission", "off", "--smtps", "off"],
                "",
                "every listener is off",
            ),
            (
                &["--smtp", "127.0.0.1:2600", "--submission", "127.0.0.1:2600"],
                "",
                "the smtp and submission listeners are both on 127.0.0.1:2600",
            ),
            (&[], "recipients = [\"a@elsewhere.example\"]\n", "not in a local domain"),
            (&[], "recipients = [\"not an address\"]\n", "invalid recipient"),
            (&[], "[limits]\nmax_connections = 0\n", "max_connections must be at least 1"),
            (&["--max-message-size", "0"], "", "must be above 0"),
            (&[], "[timeouts]\ncommand = 0\n", "command must be at least 1 second"),
        ];
        for (flags, text, expected) in table {
            let err = error(flags, text);
            assert!(err.contains(expected), "{flags:?} {text:?}: {err}");
        }
        // Host names and domains are typed as they are read: on the command line (clap's
        // usage error names the flag) and in the file (toml names the line and the key).
        for (flag, value) in
            [("--hostname", "bad host"), ("--hostname", "a\r\nb"), ("--domain", "x..y")]
        {
            let err = Cli::try_parse_from(["sealpost", "serve", flag, value]).unwrap_err();
            let err = err.to_string();
            assert!(err.contains(flag) && err.contains("is not a domain name"), "{err}");
        }
        for text in ["hostname = \"bad host\"\n", "domains = [\"x..y\"]\n"] {
            let err = FileConfig::parse(text, Path::new("test.toml")).unwrap_err().to_string();
            assert!(
                err.contains("line 1") && err.contains("is not a domain name"),
                "{text}: {err}"
            );
        }
    }

    /// The TOML blocks of `docs/config.md`, in order.
    fn documented_examples() -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md");
        let text = std::fs::read_to_string(&path).expect("docs/config.md");
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            match (&mut current, line.trim_end()) {
                (None, "```toml") => current = Some(String::new()),
                (Some(block), "```") => {
                    blocks.push(std::mem::take(block));
                    current = None;
                }
                (Some(block), line) => {
                    block.push_str(line);
                    block.push('\n');
                }
                (None, _) => {}
            }
        }
        blocks
    }

    #[test]
    fn the_documented_examples_parse_and_mean_what_they_say() {
        let blocks = documented_examples();
        assert_eq!(
            blocks.len(),
            4,
            "docs/config.md: complete, load balancer, many nodes and small examples"
        );
        let complete = resolve(&[], &blocks[0]).unwrap();
        assert_eq!(complete.hostname(), "mx.example.org");
        assert_eq!(complete.domains, ["example.org", "mx.example.org"]);
        assert_eq!(complete.recipients.as_ref().map(Vec::len), Some(3));
        assert_eq!(complete.users, UsersFile::Given("/etc/sealpost/users".into()));
        assert_eq!(complete.relay_client_certs.len(), 1);
        assert_eq!(complete.relay_client_certs[0][..2], [0x3a, 0x6c]);
        assert_eq!(complete.worker_threads, Some(4));
        let smime = complete.smime.as_ref().unwrap();
        assert_eq!(smime.trust, [PathBuf::from("/etc/sealpost/smime/ca.pem")]);
        assert_eq!(
            smime.encrypt_at_rest,
            [(String::from("alice@example.org"), PathBuf::from("/etc/sealpost/smime/alice.pem"))]
        );
        assert_eq!(smime.cipher, sealpost_smime::ContentCipher::Aes256Cbc);
        assert_eq!(complete.certificates.sni.len(), 1);
        let addrs: Vec<_> = complete.listeners.iter().map(|l| l.addr.to_string()).collect();
        assert_eq!(addrs, ["0.0.0.0:25", "0.0.0.0:587", "0.0.0.0:465"]);
        assert_eq!(
            complete.listeners[2].client_certs,
            ClientCerts::OptionalWithCa("/etc/sealpost/tls/clients-ca.pem".into())
        );
        // The complete example spells out the defaults of every number.
        let default = resolve(&[], "").unwrap().settings;
        let s = &complete.settings;
        assert_eq!(s.limits, default.limits);
        assert_eq!(s.timeouts, default.timeouts);
        assert_eq!(s.session.max_message_size, default.session.max_message_size);
        assert_eq!(s.session.max_recipients, default.session.max_recipients);
        assert_eq!(s.session.max_errors, default.session.max_errors);
        assert_eq!(s.session.bare_line_endings, default.session.bare_line_endings);
        assert_eq!(s.session.nul_octets, default.session.nul_octets);
        assert_eq!(s.session.nul_octets, NulOctets::Reject);
        assert_eq!(s.session.starttls_trailing, default.session.starttls_trailing);

        assert_eq!(complete.relay.mta_sts, Some(true));
        let default_level = complete.relay.default.as_ref().and_then(|d| d.level);
        assert_eq!(default_level, Some(sealpost_starttls::client::SecurityLevel::Dane));

        assert!(complete.listeners.iter().all(|l| l.proxy.is_none()));

        let balanced = resolve(&[], &blocks[1]).unwrap();
        let proxied: Vec<_> = balanced
            .listeners
            .iter()
            .map(|l| (l.name, l.proxy.as_ref().map(|p| p.trusted.len())))
            .collect();
        assert_eq!(
            proxied,
            [
                (ListenerName::Smtp, Some(2)),
                (ListenerName::Submission, None),
                (ListenerName::Smtps, Some(2))
            ]
        );

        assert_eq!(complete.queue.node, "mx-a");
        assert_eq!(complete.queue.lease, resolve(&[], "").unwrap().queue.lease);
        assert_eq!(complete.lmtp, None);

        let cluster = resolve(&[], &blocks[2]).unwrap();
        assert_eq!(cluster.queue.backend, crate::values::QueueBackend::Postgres);
        assert!(cluster.queue.url.as_deref().unwrap().contains(",10.0.0.22:5432/"));
        assert_eq!(cluster.queue.node, "mx-a");
        assert_eq!(cluster.lmtp.as_ref().map(ToString::to_string).as_deref(), Some("10.0.0.30:24"));
        assert!(cluster.queue.local_mail_queued(cluster.lmtp.as_ref()));

        let small = resolve(&[], &blocks[3]).unwrap();
        let names: Vec<_> = small.listeners.iter().map(|l| l.name).collect();
        assert_eq!(names, [ListenerName::Smtp, ListenerName::Submission]);
    }

    #[test]
    fn limits_timeouts_and_policies_reach_the_server_settings() {
        let plan = resolve(
            &[],
            "recipients = [\"alice@localhost\"]\n\
             [limits]\nmax_connections = 7\nmax_connections_per_ip = 3\nmax_recipients = 9\n\
             max_errors = 4\nmax_auth_failures = 2\nauth_failure_window = 60\n\
             [timeouts]\ncommand = 11\ndata = 12\nhandshake = 13\nwrite = 14\nshutdown_grace = 0\n\
             [protocol]\nbare_line_endings = \"normalize\"\nnul = \"strip\"\n\
             starttls_trailing = \"discard\"\n",
        )
        .unwrap();
        assert_eq!(plan.recipients.as_deref(), Some(&["alice@localhost".to_owned()][..]));
        let s = &plan.settings;
        assert_eq!((s.limits.max_connections, s.limits.max_connections_per_ip), (7, 3));
        assert_eq!((s.limits.max_auth_failures, s.limits.auth_failure_window.as_secs()), (2, 60));
        assert_eq!((s.session.max_recipients, s.session.max_errors), (9, 4));
        let t = &s.timeouts;
        assert_eq!(
            [t.command, t.data, t.handshake, t.write, t.shutdown_grace].map(|d| d.as_secs()),
            [11, 12, 13, 14, 0]
        );
        assert_eq!(s.session.bare_line_endings, BareLineEndings::Normalize);
        assert_eq!(s.session.nul_octets, NulOctets::Strip);
        assert_eq!(s.session.starttls_trailing, StartTlsTrailing::Discard);
    }
}
