//! Server certificates: a default pair plus more chosen by SNI, reloadable at run time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{DnsName, ServerName};

use crate::certs::CertificateFiles;
use crate::error::TlsError;

/// The loaded certificates: the default and the others in configuration order.
#[derive(Debug, Clone)]
struct Loaded {
    default: Arc<CertifiedKey>,
    others: Vec<Arc<CertifiedKey>>,
    stamps: Vec<Option<SystemTime>>,
}

/// A set of server certificates. The one whose names cover the client's SNI is used;
/// otherwise (no SNI, or no match) the mandatory default.
///
/// [`CertStore::reload`] reads the files again and switches atomically; when a file is
/// bad, the last good set stays in use and the error is returned (and logged by
/// [`CertStore::watch`]). Handshakes in progress keep the key they started with.
#[derive(Debug)]
pub struct CertStore {
    default: CertificateFiles,
    others: Vec<CertificateFiles>,
    loaded: ArcSwap<Loaded>,
}

impl CertStore {
    /// Loads the default pair and the SNI alternatives.
    pub fn load(
        default: CertificateFiles,
        others: Vec<CertificateFiles>,
    ) -> Result<Self, TlsError> {
        let loaded = Self::read(&default, &others)?;
        Ok(CertStore { default, others, loaded: ArcSwap::from_pointee(loaded) })
    }

    fn files(default: &CertificateFiles, others: &[CertificateFiles]) -> Vec<PathBuf> {
        std::iter::once(default)
            .chain(others)
            .flat_map(|f| [f.chain.clone(), f.key.clone()])
            .collect()
    }

    fn stamps(default: &CertificateFiles, others: &[CertificateFiles]) -> Vec<Option<SystemTime>> {
        Self::files(default, others)
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    fn read(default: &CertificateFiles, others: &[CertificateFiles]) -> Result<Loaded, TlsError> {
        let stamps = Self::stamps(default, others);
        Ok(Loaded {
            default: default.load()?,
            others: others.iter().map(CertificateFiles::load).collect::<Result<_, _>>()?,
            stamps,
        })
    }

    /// Reads every file again. On error nothing changes.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = Self::read(&self.default, &self.others)?;
        self.loaded.store(Arc::new(loaded));
        tracing::info!(files = self.others.len() + 1, "TLS certificates reloaded");
        Ok(())
    }

    /// True when a file's modification time differs from the loaded set's.
    pub fn changed_on_disk(&self) -> bool {
        Self::stamps(&self.default, &self.others) != self.loaded.load().stamps
    }

    /// Polls the files every `interval` and reloads when one changed. Runs until the
    /// store is dropped by everyone else.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(store) = weak.upgrade() else { return };
                if store.changed_on_disk()
                    && let Err(e) = store.reload()
                {
                    // Keep serving the last good pair; say why the new one was refused.
                    tracing::warn!(error = %e, "new TLS certificate refused; keeping the previous one");
                    // Do not retry the same bad files on every tick.
                    let mut current = Loaded::clone(&store.loaded.load());
                    current.stamps = Self::stamps(&store.default, &store.others);
                    store.loaded.store(Arc::new(current));
                }
            }
        })
    }

    /// The certificate chosen for a server name (or the default).
    pub fn select(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let loaded = self.loaded.load();
        let Some(name) = sni.and_then(|s| DnsName::try_from(s.to_owned()).ok()) else {
            return loaded.default.clone();
        };
        let name = ServerName::DnsName(name);
        for candidate in &loaded.others {
            let covers = candidate
                .end_entity_cert()
                .ok()
                .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
                .is_some_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok());
            if covers {
                return candidate.clone();
            }
        }
        loaded.default.clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.select(client_hello.server_name()))
    }
}
