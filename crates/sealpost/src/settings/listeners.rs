//! The listeners of `serve`: their names, addresses, client certificates and PROXY
//! protocol, from the flags over the file over the default.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use sealpost_server::{ProxyPolicy, Role};

use crate::cli::ServeArgs;
use crate::config::{FileConfig, ListenerSection};
use crate::values::{ClientCertMode, ListenAddr};

/// The three listeners `serve` knows, by the name of their flag and configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListenerName {
    /// `--smtp`, `[listeners.smtp]`: MX.
    Smtp,
    /// `--submission`, `[listeners.submission]`.
    Submission,
    /// `--smtps`, `[listeners.smtps]`.
    Smtps,
}

impl ListenerName {
    /// All of them, in the order they are bound and printed.
    pub(crate) const ALL: [ListenerName; 3] =
        [ListenerName::Smtp, ListenerName::Submission, ListenerName::Smtps];

    /// The name in flags (`--smtp`) and in the file (`[listeners.smtp]`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ListenerName::Smtp => "smtp",
            ListenerName::Submission => "submission",
            ListenerName::Smtps => "smtps",
        }
    }

    /// The server's role for it.
    pub(crate) fn role(self) -> Role {
        match self {
            ListenerName::Smtp => Role::Mx,
            ListenerName::Submission => Role::Submission,
            ListenerName::Smtps => Role::Submissions,
        }
    }

    /// The listener of a role.
    pub(crate) fn of_role(role: Role) -> Option<ListenerName> {
        ListenerName::ALL.into_iter().find(|name| name.role() == role)
    }

    /// What it is for, in a few words.
    pub(crate) fn purpose(self) -> &'static str {
        match self {
            ListenerName::Smtp => "MX for the local domains, STARTTLS offered",
            ListenerName::Submission => "STARTTLS, then AUTH required",
            ListenerName::Smtps => "implicit TLS, then AUTH required",
        }
    }

    fn default_addr(self) -> SocketAddr {
        let port = match self {
            ListenerName::Smtp => 2525,
            ListenerName::Submission => 5870,
            ListenerName::Smtps => 4650,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn flag(self, args: &ServeArgs) -> Option<ListenAddr> {
        match self {
            ListenerName::Smtp => args.smtp,
            ListenerName::Submission => args.submission,
            ListenerName::Smtps => args.smtps,
        }
    }

    fn section(self, file: &FileConfig) -> &ListenerSection {
        match self {
            ListenerName::Smtp => &file.listeners.smtp,
            ListenerName::Submission => &file.listeners.submission,
            ListenerName::Smtps => &file.listeners.smtps,
        }
    }
}

/// Client certificates on one listener, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientCerts {
    /// Not asked for.
    Off,
    /// Asked for, any accepted.
    Optional,
    /// Asked for, any accepted, verified against these CAs.
    OptionalWithCa(PathBuf),
    /// Demanded, chaining to these CAs.
    Required(PathBuf),
}

/// One listener to bind.
#[derive(Debug, Clone)]
pub(crate) struct ListenerPlan {
    /// Which.
    pub(crate) name: ListenerName,
    /// Where (port 0: any free port).
    pub(crate) addr: SocketAddr,
    /// Client certificates.
    pub(crate) client_certs: ClientCerts,
    /// Behind a load balancer: the PROXY protocol, and who may send it.
    pub(crate) proxy: Option<ProxyPolicy>,
}

/// The enabled listeners, in bind order, checked.
pub(super) fn plan(args: &ServeArgs, file: &FileConfig) -> anyhow::Result<Vec<ListenerPlan>> {
    let mut plans: Vec<ListenerPlan> = Vec::new();
    for name in ListenerName::ALL {
        let section = name.section(file);
        let at = name.flag(args).or(section.address).unwrap_or(ListenAddr::At(name.default_addr()));
        let Some(addr) = at.addr() else { continue };
        if addr.port() != 0
            && let Some(other) = plans.iter().find(|p| p.addr == addr)
        {
            bail!(
                "the {} and {} listeners are both on {addr}; give one another address \
                 (--{} ADDR) or `off`",
                other.name.as_str(),
                name.as_str(),
                name.as_str()
            );
        }
        let client_certs = client_certs(name, section)?;
        let proxy = proxy_policy(name, section)?;
        plans.push(ListenerPlan { name, addr, client_certs, proxy });
    }
    if plans.is_empty() {
        bail!("every listener is off; enable at least one, e.g. --smtp 127.0.0.1:2525");
    }
    Ok(plans)
}

/// `proxy_protocol` and `proxy_trusted`: both or neither. A PROXY header names the client,
/// so believing it from anyone would let anyone choose the address that relay, AUTH and
/// connection limits go by: there is no default for the trusted networks.
fn proxy_policy(
    name: ListenerName,
    section: &ListenerSection,
) -> anyhow::Result<Option<ProxyPolicy>> {
    let table = name.as_str();
    match (section.proxy_protocol.unwrap_or(false), &section.proxy_trusted) {
        (true, Some(trusted)) if !trusted.is_empty() => {
            Ok(Some(ProxyPolicy::new(trusted.iter().copied())))
        }
        (true, Some(_)) => bail!(
            "[listeners.{table}] proxy_trusted is empty: list the networks of the load \
             balancers that send the PROXY header, such as proxy_trusted = [\"10.0.0.0/24\"]"
        ),
        (true, None) => bail!(
            "[listeners.{table}] proxy_protocol = true needs proxy_trusted = [\"CIDR\", ...]: \
             the networks of the load balancers that may send the PROXY header (connections \
             from anywhere else are closed)"
        ),
        (false, Some(_)) => bail!(
            "[listeners.{table}] has proxy_trusted but not proxy_protocol = true; set \
             proxy_protocol = true (the listener is behind a load balancer) or remove \
             proxy_trusted"
        ),
        (false, None) => Ok(None),
    }
}

fn client_certs(name: ListenerName, section: &ListenerSection) -> anyhow::Result<ClientCerts> {
    let table = name.as_str();
    let mode = section.client_certificates.unwrap_or_default();
    match (mode, &section.client_ca) {
        (ClientCertMode::Off, None) => Ok(ClientCerts::Off),
        (ClientCertMode::Optional, None) => Ok(ClientCerts::Optional),
        (ClientCertMode::OptionalWithCa, Some(ca)) => Ok(ClientCerts::OptionalWithCa(ca.clone())),
        (ClientCertMode::Required, Some(ca)) => Ok(ClientCerts::Required(ca.clone())),
        (ClientCertMode::OptionalWithCa | ClientCertMode::Required, None) => bail!(
            "[listeners.{table}] client_certificates = \"{}\" needs client_ca = \"FILE\" \
             (the PEM certificates of the CAs that client certificates must chain to)",
            if mode == ClientCertMode::Required { "required" } else { "optional-with-ca" }
        ),
        (ClientCertMode::Off | ClientCertMode::Optional, Some(_)) => bail!(
            "[listeners.{table}] has client_ca but client_certificates is not \
             \"optional-with-ca\" or \"required\"; set one of those or remove client_ca"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::*;
    use crate::settings::tests::{error, resolve};

    #[test]
    fn client_certificate_modes() {
        let plan = resolve(
            &[],
            "[listeners.smtp]\nclient_certificates = \"optional\"\n\
             [listeners.submission]\nclient_certificates = \"optional-with-ca\"\nclient_ca = \"ca.pem\"\n\
             [listeners.smtps]\nclient_certificates = \"required\"\nclient_ca = \"ca.pem\"\n",
        )
        .unwrap();
        let modes: Vec<_> = plan.listeners.iter().map(|l| l.client_certs.clone()).collect();
        assert_eq!(
            modes,
            [
                ClientCerts::Optional,
                ClientCerts::OptionalWithCa("ca.pem".into()),
                ClientCerts::Required("ca.pem".into())
            ]
        );
        let err = error(&[], "[listeners.smtps]\nclient_certificates = \"required\"\n");
        assert!(err.contains("needs client_ca"), "{err}");
        let err = error(&[], "[listeners.smtp]\nclient_ca = \"ca.pem\"\n");
        assert!(err.contains("[listeners.smtp] has client_ca"), "{err}");
    }

    #[test]
    fn proxy_protocol_needs_the_trusted_networks() {
        let plan = resolve(
            &[],
            "[listeners.smtp]\nproxy_protocol = true\nproxy_trusted = [\"127.0.0.0/8\", \"::1/128\"]\n\
             [listeners.smtps]\nproxy_protocol = true\nproxy_trusted = [\"10.0.0.0/24\"]\n\
             [listeners.submission]\nproxy_protocol = false\n\
             [timeouts]\nproxy_header = 2\n",
        )
        .unwrap();
        let smtp = plan.listeners[0].proxy.as_ref().unwrap();
        assert!(smtp.trusts("127.0.0.1".parse().unwrap()) && smtp.trusts("::1".parse().unwrap()));
        assert!(!smtp.trusts("10.0.0.1".parse().unwrap()));
        assert!(plan.listeners[1].proxy.is_none());
        let smtps = plan.listeners[2].proxy.as_ref().unwrap();
        assert!(smtps.trusts("10.0.0.200".parse().unwrap()));
        assert!(!smtps.trusts("127.0.0.1".parse().unwrap()));
        assert_eq!(plan.settings.timeouts.proxy_header, Duration::from_secs(2));
        assert!(resolve(&[], "").unwrap().listeners.iter().all(|l| l.proxy.is_none()));
        assert_eq!(resolve(&[], "").unwrap().settings.timeouts.proxy_header.as_secs(), 5);

        for (text, expected) in [
            (
                "[listeners.smtp]\nproxy_protocol = true\n",
                "[listeners.smtp] proxy_protocol = true needs proxy_trusted",
            ),
            (
                "[listeners.submission]\nproxy_protocol = true\nproxy_trusted = []\n",
                "[listeners.submission] proxy_trusted is empty",
            ),
            (
                "[listeners.smtps]\nproxy_trusted = [\"10.0.0.0/8\"]\n",
                "[listeners.smtps] has proxy_trusted but not proxy_protocol = true",
            ),
            (
                "[listeners.smtp]\nproxy_protocol = false\nproxy_trusted = [\"10.0.0.0/8\"]\n",
                "has proxy_trusted but not proxy_protocol = true",
            ),
            ("[timeouts]\nproxy_header = 0\n", "proxy_header must be at least 1 second"),
        ] {
            let err = error(&[], text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
