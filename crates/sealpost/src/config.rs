//! The TOML configuration file of `sealpost serve --config FILE`, as written on disk.
//!
//! Every key is optional: what the file leaves out comes from the embedded default, and
//! command-line flags win over the file (see [`crate::settings`]). Unknown keys are an
//! error, so a misspelt option never silently does nothing. The format is documented with
//! a complete example in `docs/config.md`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use sealpost_client::Route;
use sealpost_smime::ContentCipher;
use sealpost_starttls::client::{Fingerprint, SecurityLevel};

use crate::values::{
    BareLineEndingPolicy, ByteSize, CertificateName, ClientCertMode, DomainName, HandlerKind,
    ListenAddr, NulPolicy, QueueBackend, SecretSource, StartTlsTrailingPolicy, parsed_list,
    parsed_list_option, parsed_option,
};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// The name in the greeting and EHLO reply.
    #[serde(default, deserialize_with = "parsed_option")]
    pub(crate) hostname: Option<DomainName>,
    /// Where messages, the queue and the generated certificate live.
    pub(crate) data_dir: Option<PathBuf>,
    /// The local domains (mail for them is delivered here).
    #[serde(default, deserialize_with = "parsed_list_option")]
    pub(crate) domains: Option<Vec<DomainName>>,
    /// When set, only these addresses of the local domains are accepted.
    pub(crate) recipients: Option<Vec<String>>,
    /// The users file for AUTH (see `sealpost user add`).
    pub(crate) users: Option<PathBuf>,
    /// SHA-256 fingerprints (of a client certificate or of its public key) whose TLS
    /// sessions may relay without AUTH.
    /// Each 64 hexadecimal digits, with or without colons (the form `sealpost cert
    /// self-signed` and `openssl x509 -fingerprint -sha256` print).
    #[serde(default, deserialize_with = "parsed_list")]
    pub(crate) relay_client_certs: Vec<Fingerprint>,
    /// What happens to accepted messages.
    pub(crate) handler: Option<HandlerKind>,
    /// Server certificates.
    #[serde(default)]
    pub(crate) tls: TlsSection,
    /// The three listeners.
    #[serde(default)]
    pub(crate) listeners: ListenersSection,
    /// Connection, message and AUTH limits.
    #[serde(default)]
    pub(crate) limits: LimitsSection,
    /// Timeouts, in seconds.
    #[serde(default)]
    pub(crate) timeouts: TimeoutsSection,
    /// Protocol policies.
    #[serde(default)]
    pub(crate) protocol: ProtocolSection,
    /// S/MIME at the MTA: verification results and encryption at rest.
    #[serde(default)]
    pub(crate) smime: SmimeSection,
    /// Relaying the queue: retries and the TLS policy per destination.
    #[serde(default)]
    pub(crate) relay: RelaySection,
    /// The async runtime.
    #[serde(default)]
    pub(crate) runtime: RuntimeSection,
    /// Where the queue lives: this data directory, or a shared PostgreSQL database.
    #[serde(default)]
    pub(crate) queue: QueueSection,
    /// Final delivery of local mail: Maildir here, or a mailbox server over LMTP.
    #[serde(default)]
    pub(crate) delivery: DeliverySection,
}

/// `[queue]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueSection {
    /// `file` (DATA_DIR/queue, the default) or `postgres`.
    pub(crate) backend: Option<QueueBackend>,
    /// The database (backend postgres), without a password:
    /// `postgresql://USER@HOST:PORT/DATABASE`, several hosts allowed.
    pub(crate) url: Option<String>,
    /// Where the database password is: `env:VAR` or `file:PATH`.
    pub(crate) password: Option<SecretSource>,
    /// This node's name in leases and logs (default: the host name).
    pub(crate) node: Option<String>,
    /// Database connections this node keeps open (backend postgres).
    pub(crate) pool_size: Option<usize>,
    /// Seconds a worker holds the recipients it claimed before another node may take
    /// them over (renewed while it delivers).
    pub(crate) lease: Option<u64>,
}

/// `[delivery]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliverySection {
    /// Hand local mail to this LMTP server (`HOST:PORT` or `unix:PATH`) instead of
    /// storing it in DATA_DIR/maildir.
    pub(crate) lmtp: Option<sealpost_client::LmtpTarget>,
}

/// `[runtime]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuntimeSection {
    /// Threads that run the sessions (default: one per CPU core).
    pub(crate) worker_threads: Option<usize>,
}

/// `[relay]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelaySection {
    /// Run the relay worker (default: true).
    pub(crate) enabled: Option<bool>,
    /// Send everything through this host (`HOST:PORT`, `[HOST]:PORT`) instead of MX.
    #[serde(default, deserialize_with = "parsed_option")]
    pub(crate) smarthost: Option<Route>,
    /// The port of MX hosts (default 25).
    pub(crate) mx_port: Option<u16>,
    /// Name servers (`ADDR:PORT`) for MX, TLSA, MTA-STS and address lookups; this process
    /// validates DNSSEC itself (default: the nameservers of /etc/resolv.conf).
    pub(crate) dns: Option<Vec<std::net::SocketAddr>>,
    /// DNSSEC trust anchors (DNSKEY records, zone-file syntax) instead of the IANA root
    /// keys, for a private signed zone.
    pub(crate) dns_trust_anchor: Option<PathBuf>,
    /// Apply recipient domains' MTA-STS policies (RFC 8461) to MX deliveries at the levels
    /// may, encrypt and dane (default: false).
    pub(crate) mta_sts: Option<bool>,
    /// Seconds between scans of the queue.
    pub(crate) scan_interval: Option<u64>,
    /// Messages this node delivers at once.
    pub(crate) concurrency: Option<usize>,
    /// Seconds after which undeliverable mail is returned to its sender.
    pub(crate) max_age: Option<u64>,
    /// Seconds to wait after the first, second, ... failed attempt.
    pub(crate) retry: Option<Vec<u64>>,
    /// The policy of destinations without their own entry.
    pub(crate) default: Option<RelayPolicySection>,
    /// Policies per recipient domain (or `[host]:port` of a static route).
    #[serde(default)]
    pub(crate) policy: std::collections::BTreeMap<String, RelayPolicySection>,
}

/// One `[relay.policy."domain"]` (or `[relay.default]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelayPolicySection {
    /// none, may, encrypt, fingerprint, verify, secure, dane, dane-only (Postfix's names).
    #[serde(default, deserialize_with = "parsed_option")]
    pub(crate) level: Option<SecurityLevel>,
    /// Names the certificate must carry (verify, secure).
    #[serde(default, rename = "match", deserialize_with = "parsed_list")]
    pub(crate) match_names: Vec<CertificateName>,
    /// SHA-256 pins of the certificate or its public key (fingerprint).
    #[serde(default, deserialize_with = "parsed_list")]
    pub(crate) fingerprints: Vec<Fingerprint>,
    /// CA certificates (PEM) replacing the Mozilla roots (verify, secure, and MTA-STS: the
    /// policy host and the MX hosts).
    pub(crate) ca: Option<PathBuf>,
    /// A static route for this destination: `HOST:PORT` or `[HOST]:PORT`.
    #[serde(default, deserialize_with = "parsed_option")]
    pub(crate) route: Option<Route>,
}

/// `[smime]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SmimeSection {
    /// CA certificates (PEM files) that signers of incoming mail must chain to; given,
    /// signed mail is verified and gets an Authentication-Results field.
    #[serde(default)]
    pub(crate) trust: Vec<PathBuf>,
    /// Accept SHA-1 and short RSA keys in signatures.
    pub(crate) allow_legacy: Option<bool>,
    /// Accept a signer that is the Sender but not the author in From (RFC 8550's
    /// From-or-Sender rule), for mailing lists and delegates.
    pub(crate) accept_sender: Option<bool>,
    /// Local recipients whose mail is stored encrypted, and the certificate (PEM) for each.
    #[serde(default)]
    pub(crate) encrypt_at_rest: std::collections::BTreeMap<String, PathBuf>,
    /// The cipher for encryption at rest: aes256-cbc (default), aes128-cbc, aes256-gcm,
    /// aes128-gcm.
    #[serde(default, deserialize_with = "at_rest_cipher")]
    pub(crate) cipher: Option<ContentCipher>,
}

/// `[smime] cipher`: a concrete cipher. `auto` (which the command line takes) needs to
/// know what each reader's software reads, which nobody says for encryption at rest.
fn at_rest_cipher<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ContentCipher>, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.parse::<ContentCipher>() {
        Ok(ContentCipher::Auto) | Err(_) => Err(serde::de::Error::custom(format!(
            "cipher = \"{text}\" is not one of aes256-cbc, aes128-cbc, aes256-gcm, aes128-gcm"
        ))),
        Ok(cipher) => Ok(Some(cipher)),
    }
}

/// `[tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    /// The default certificate chain (PEM, leaf first).
    pub(crate) cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub(crate) key: Option<PathBuf>,
    /// Seconds between checks of the certificate files for changes; 0 turns it off.
    pub(crate) watch_interval: Option<u64>,
    /// More certificates, chosen when the client's SNI matches one of their names.
    #[serde(default)]
    pub(crate) sni: Vec<CertPair>,
}

/// One `[[tls.sni]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertPair {
    /// The chain (PEM, leaf first).
    pub(crate) cert: PathBuf,
    /// Its private key (PEM).
    pub(crate) key: PathBuf,
}

/// `[listeners]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenersSection {
    /// `[listeners.smtp]`: MX, STARTTLS offered.
    #[serde(default)]
    pub(crate) smtp: ListenerSection,
    /// `[listeners.submission]`: STARTTLS then AUTH required.
    #[serde(default)]
    pub(crate) submission: ListenerSection,
    /// `[listeners.smtps]`: implicit TLS, AUTH required.
    #[serde(default)]
    pub(crate) smtps: ListenerSection,
}

/// One listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenerSection {
    /// `IP:PORT`, or `"off"`.
    pub(crate) address: Option<ListenAddr>,
    /// Whether to ask for client certificates.
    pub(crate) client_certificates: Option<ClientCertMode>,
    /// The CA certificates (PEM) for `optional-with-ca` and `required`.
    pub(crate) client_ca: Option<PathBuf>,
    /// Require a PROXY protocol header (v1 or v2) on every connection: the listener is
    /// behind a TCP load balancer.
    pub(crate) proxy_protocol: Option<bool>,
    /// The networks (CIDR) that may send that header: the load balancers.
    pub(crate) proxy_trusted: Option<Vec<ipnet::IpNet>>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    /// Connections open at once, all listeners together.
    pub(crate) max_connections: Option<usize>,
    /// Connections open at once from one client address.
    pub(crate) max_connections_per_ip: Option<usize>,
    /// Largest message, in bytes or with a unit ("25M").
    pub(crate) max_message_size: Option<ByteSize>,
    /// Recipients per message.
    pub(crate) max_recipients: Option<usize>,
    /// Protocol errors before the session is closed.
    pub(crate) max_errors: Option<usize>,
    /// Failed AUTH attempts from one address within `auth_failure_window`.
    pub(crate) max_auth_failures: Option<usize>,
    /// Seconds over which AUTH failures are counted.
    pub(crate) auth_failure_window: Option<u64>,
}

/// `[timeouts]`, all in seconds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeoutsSection {
    /// Waiting for a command.
    pub(crate) command: Option<u64>,
    /// Waiting for message data.
    pub(crate) data: Option<u64>,
    /// The TLS handshake.
    pub(crate) handshake: Option<u64>,
    /// Writing a reply.
    pub(crate) write: Option<u64>,
    /// How long sessions in a transaction may go on after shutdown starts.
    pub(crate) shutdown_grace: Option<u64>,
    /// The whole PROXY protocol header, on listeners with `proxy_protocol = true`.
    pub(crate) proxy_header: Option<u64>,
}

/// `[protocol]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProtocolSection {
    /// Bare CR or LF in message data: `reject` or `normalize`.
    pub(crate) bare_line_endings: Option<BareLineEndingPolicy>,
    /// A NUL octet in message data: `reject` or `strip`.
    pub(crate) nul: Option<NulPolicy>,
    /// Bytes after STARTTLS before the handshake: `reject` or `discard`.
    pub(crate) starttls_trailing: Option<StartTlsTrailingPolicy>,
}

impl FileConfig {
    /// Parses the text of a file; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &Path) -> anyhow::Result<Self> {
        // toml's message already names the key, the line and the column; the file name is
        // what it cannot know.
        toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "invalid configuration file {}: {}",
                origin.display(),
                e.to_string().trim_end()
            )
        })
    }

    /// Reads and parses a file.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read the configuration file {} (--config)", path.display())
        })?;
        let mut config = Self::parse(&text, path)?;
        config.anchor_paths(path.parent().unwrap_or(Path::new("")));
        Ok(config)
    }

    /// Relative paths in a file are relative to the file's directory, so a configuration
    /// works the same whatever directory the server is started from.
    fn anchor_paths(&mut self, base: &Path) {
        let anchor = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let optional = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                anchor(p);
            }
        };
        optional(&mut self.data_dir);
        optional(&mut self.users);
        optional(&mut self.tls.cert);
        optional(&mut self.tls.key);
        for pair in &mut self.tls.sni {
            anchor(&mut pair.cert);
            anchor(&mut pair.key);
        }
        for listener in
            [&mut self.listeners.smtp, &mut self.listeners.submission, &mut self.listeners.smtps]
        {
            optional(&mut listener.client_ca);
        }
        for path in &mut self.smime.trust {
            anchor(path);
        }
        for path in self.smime.encrypt_at_rest.values_mut() {
            anchor(path);
        }
        for policy in self.relay.policy.values_mut().chain(self.relay.default.as_mut()) {
            optional(&mut policy.ca);
        }
        if let Some(SecretSource::File(path)) = &mut self.queue.password {
            anchor(path);
        }
        if let Some(sealpost_client::LmtpTarget::Unix(path)) = &mut self.delivery.lmtp {
            anchor(path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(text: &str) -> anyhow::Result<FileConfig> {
        FileConfig::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn an_empty_file_is_the_default() {
        let config = parse("").unwrap();
        assert!(config.hostname.is_none() && config.listeners.smtp.address.is_none());
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key_and_the_file() {
        for (text, key) in [
            ("hostnmae = \"x\"\n", "hostnmae"),
            ("[limits]\nmax_conections = 3\n", "max_conections"),
            ("[listeners.smtp]\nadress = \"off\"\n", "adress"),
            ("[listeners.mx]\naddress = \"off\"\n", "mx"),
            ("[[tls.sni]]\ncert = \"a\"\nkey = \"b\"\nchain = \"c\"\n", "chain"),
        ] {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(err.contains(key) && err.contains("test.toml"), "{text:?}: {err}");
        }
    }

    #[test]
    fn values_are_checked() {
        let err =
            format!("{:#}", parse("[listeners.smtp]\naddress = \"localhost\"\n").unwrap_err());
        assert!(err.contains("expected IP:PORT"), "{err}");
        let err = format!("{:#}", parse("[protocol]\nbare_line_endings = \"fix\"\n").unwrap_err());
        assert!(err.contains("normalize"), "{err}");
        let err = format!("{:#}", parse("[protocol]\nnul = \"keep\"\n").unwrap_err());
        assert!(err.contains("strip"), "{err}");
        let err = format!("{:#}", parse("[limits]\nmax_message_size = \"lots\"\n").unwrap_err());
        assert!(err.contains("not a size"), "{err}");
        let sizes = parse("[limits]\nmax_message_size = \"10M\"\n").unwrap();
        assert_eq!(sizes.limits.max_message_size, Some(ByteSize(10 << 20)));
    }

    #[test]
    fn proxy_keys_are_typed_when_read() {
        let config = parse(
            "[listeners.smtp]\nproxy_protocol = true\n\
             proxy_trusted = [\"127.0.0.0/8\", \"::1/128\", \"10.1.2.3/32\"]\n\
             [timeouts]\nproxy_header = 3\n",
        )
        .unwrap();
        let smtp = &config.listeners.smtp;
        assert_eq!(smtp.proxy_protocol, Some(true));
        let trusted: Vec<String> =
            smtp.proxy_trusted.iter().flatten().map(ToString::to_string).collect();
        assert_eq!(trusted, ["127.0.0.0/8", "::1/128", "10.1.2.3/32"]);
        assert_eq!(config.timeouts.proxy_header, Some(3));
        assert!(config.listeners.submission.proxy_trusted.is_none());
        for bad in ["\"127.0.0.1\"", "\"10.0.0.0/33\"", "\"lb.example\"", "\"\""] {
            let text = format!("[listeners.smtps]\nproxy_trusted = [{bad}]\n");
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains("proxy_trusted") && err.contains("invalid IP"), "{bad}: {err}");
        }
        let err =
            format!("{:#}", parse("[listeners.smtp]\nproxy_protocol = \"v2\"\n").unwrap_err());
        assert!(err.contains("proxy_protocol"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let mut config = parse(
            "data_dir = \"data\"\nusers = \"/etc/users\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
             [listeners.smtps]\nclient_certificates = \"required\"\nclient_ca = \"ca.pem\"\n",
        )
        .unwrap();
        config.anchor_paths(Path::new("/etc/sealpost"));
        assert_eq!(config.data_dir.unwrap(), Path::new("/etc/sealpost/data"));
        assert_eq!(config.users.unwrap(), Path::new("/etc/users"));
        assert_eq!(config.tls.cert.unwrap(), Path::new("/etc/sealpost/c.pem"));
        assert_eq!(config.listeners.smtps.client_ca.unwrap(), Path::new("/etc/sealpost/ca.pem"));
        assert_eq!(config.listeners.smtps.client_certificates, Some(ClientCertMode::Required));
    }
}
