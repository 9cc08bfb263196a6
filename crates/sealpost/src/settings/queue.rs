//! `[queue]` and `[delivery]`, checked: where the queue lives and where local mail ends.

use anyhow::bail;
use sealpost_client::LmtpTarget;

use crate::config::FileConfig;
use crate::values::{QueueBackend, SecretSource};

/// Where the queue lives, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuePlan {
    /// File or PostgreSQL.
    pub(crate) backend: QueueBackend,
    /// The database URL (backend postgres), without a password.
    pub(crate) url: Option<String>,
    /// Where the database password is.
    pub(crate) password: Option<SecretSource>,
    /// This node's name in leases, queue records and logs.
    pub(crate) node: String,
    /// Database connections of this node.
    pub(crate) pool_size: Option<usize>,
    /// How long a claim is held (renewed while its attempt runs).
    pub(crate) lease: std::time::Duration,
}

impl QueuePlan {
    /// Whether accepted local mail goes through the queue rather than straight into the
    /// Maildirs: with a shared queue (a node keeps nothing another node needs) and with
    /// LMTP (the mailbox server can refuse, so the worker must be able to retry).
    pub(crate) fn local_mail_queued(&self, lmtp: Option<&LmtpTarget>) -> bool {
        self.backend == QueueBackend::Postgres || lmtp.is_some()
    }
}

/// `[queue]`.
pub(crate) fn plan(file: &FileConfig) -> anyhow::Result<QueuePlan> {
    let section = &file.queue;
    let backend = section.backend.unwrap_or_default();
    match backend {
        QueueBackend::File => {
            if section.url.is_some() || section.password.is_some() || section.pool_size.is_some() {
                bail!(
                    "[queue] url, password and pool_size are for backend = \"postgres\"; the \
                     file queue lives in DATA_DIR/queue"
                );
            }
        }
        QueueBackend::Postgres => {
            let Some(url) = &section.url else {
                bail!(
                    "[queue] backend = \"postgres\" needs url = \
                     \"postgresql://USER@HOST:PORT/DATABASE\" (the password goes in \
                     password = \"env:VAR\" or \"file:PATH\")"
                );
            };
            // The library's own check (the URL parsed by the database client): a password
            // in it, TLS asked for, no host.
            sealpost_mta::queue::PostgresConfig::new(url.clone())
                .check()
                .map_err(|e| anyhow::anyhow!("[queue] url: {e}"))?;
            if section.pool_size == Some(0) {
                bail!("[queue] pool_size must be at least 1");
            }
        }
    }
    let node = match &section.node {
        Some(node) if node.trim().is_empty() || node.chars().any(char::is_control) => {
            bail!("[queue] node must be a name without control characters")
        }
        Some(node) => node.trim().to_owned(),
        None => sealpost_mta::maildir::system_hostname(),
    };
    let lease = match section.lease {
        Some(seconds) if seconds < 10 => bail!("[queue] lease must be at least 10 seconds"),
        Some(seconds) => std::time::Duration::from_secs(seconds),
        None => std::time::Duration::from_secs(600),
    };
    Ok(QueuePlan {
        lease,
        backend,
        url: section.url.clone(),
        password: section.password.clone(),
        node,
        pool_size: section.pool_size,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    fn plan_of(text: &str) -> anyhow::Result<QueuePlan> {
        plan(&FileConfig::parse(text, Path::new("test.toml"))?)
    }

    #[test]
    fn the_default_is_the_file_queue_and_local_mail_in_maildirs() {
        let plan = plan_of("").unwrap();
        assert_eq!(plan.backend, QueueBackend::File);
        assert!(!plan.node.is_empty());
        assert!(!plan.local_mail_queued(None));
        assert!(plan.local_mail_queued(Some(&"127.0.0.1:24".parse().unwrap())));
    }

    #[test]
    fn postgres_needs_a_url_without_a_password() {
        let plan = plan_of(
            "[queue]\nbackend = \"postgres\"\nurl = \"postgresql://sealpost@127.0.0.1:5432/sealpost\"\n\
             password = \"env:PGPASSWORD\"\nnode = \"mx-a\"\n",
        )
        .unwrap();
        assert_eq!(plan.backend, QueueBackend::Postgres);
        assert_eq!(plan.password, Some(SecretSource::Env("PGPASSWORD".into())));
        assert_eq!(plan.node, "mx-a");
        assert!(plan.local_mail_queued(None));
        for (text, expected) in [
            ("backend = \"postgres\"\n", "needs url"),
            (
                "backend = \"postgres\"\nurl = \"postgresql://sealpost:secret@db/sealpost\"\n",
                "carries a password",
            ),
            (
                "backend = \"postgres\"\nurl = \"postgresql://db/sealpost?user=x&password=y\"\n",
                "carries a password",
            ),
            ("url = \"postgresql://db/x\"\n", "for backend = \"postgres\""),
            ("backend = \"postgres\"\nurl = \"postgresql://db/x\"\npool_size = 0\n", "at least 1"),
            ("password = \"hunter2\"\n", "env:VARIABLE or file:PATH"),
            ("backend = \"mysql\"\n", "postgres"),
            ("lease = 2\n", "at least 10 seconds"),
        ] {
            let err = format!("{:#}", plan_of(&format!("[queue]\n{text}")).unwrap_err());
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn delivery_lmtp_is_a_typed_target() {
        let file =
            FileConfig::parse("[delivery]\nlmtp = \"unix:/run/dovecot/lmtp\"\n", Path::new("t"))
                .unwrap();
        assert_eq!(file.delivery.lmtp, Some(LmtpTarget::Unix("/run/dovecot/lmtp".into())));
        let err =
            FileConfig::parse("[delivery]\nlmtp = \"nowhere\"\n", Path::new("t")).unwrap_err();
        assert!(format!("{err:#}").contains("lmtp"), "{err:#}");
    }
}
