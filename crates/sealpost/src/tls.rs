//! Server certificates for `serve`: the configured pair or the self-signed one of the
//! embedded default, the SNI alternatives, and one TLS acceptor per listener.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sealpost_starttls::{
    CertStore, CertificateFiles, ClientAuth, TlsServer, ensure_self_signed, hex_colon, read_chain,
    sha256,
};

use crate::settings::{ClientCerts, ServePlan};

/// The certificates in use.
#[derive(Debug)]
pub(crate) struct Tls {
    /// Shared by every listener; reloaded on SIGHUP and when the files change.
    pub(crate) store: Arc<CertStore>,
    /// The default pair.
    pub(crate) files: CertificateFiles,
    /// `Some(true)` when the self-signed certificate was made by this start, `Some(false)`
    /// when an earlier one was reused, `None` for a configured certificate.
    pub(crate) self_signed: Option<bool>,
    /// SHA-256 of the default leaf certificate, for the start message.
    pub(crate) fingerprint: String,
}

/// SHA-256 of the first certificate of a PEM file, upper-case hex with colons.
pub(crate) fn fingerprint(chain: &Path) -> anyhow::Result<String> {
    let chain = read_chain(chain)?;
    let leaf = chain.first().context("no certificate")?;
    Ok(hex_colon(&sha256(leaf.as_ref())))
}

/// Loads (or, for the default, first makes) the certificates of a plan.
pub(crate) fn load(plan: &ServePlan) -> anyhow::Result<Tls> {
    let (files, self_signed) = match &plan.certificates.default {
        Some(files) => (files.clone(), None),
        None => {
            let dir = plan.self_signed_dir();
            let before = fingerprint(&dir.join("cert.pem")).ok();
            let files = ensure_self_signed(&dir, &plan.certificates.self_signed_names)
                .with_context(|| {
                    format!(
                        "cannot make the self-signed certificate in {}; fix that directory's \
                         permissions, choose another --data-dir, or pass --cert PEM --key PEM",
                        dir.display()
                    )
                })?;
            let after = fingerprint(&files.chain).ok();
            (files, Some(before.is_none() || before != after))
        }
    };
    let store = CertStore::load(files.clone(), plan.certificates.sni.clone()).with_context(|| {
        if self_signed.is_some() {
            format!(
                "cannot load the self-signed certificate {}; delete {} to have a new one made",
                files.chain.display(),
                plan.self_signed_dir().display()
            )
        } else {
            "cannot load the TLS certificates; pass --cert PEM --key PEM (or [tls] cert/key and \
             [[tls.sni]]) naming a certificate chain and its own private key"
                .to_owned()
        }
    })?;
    let fingerprint = fingerprint(&files.chain)?;
    if self_signed == Some(true) {
        tracing::info!(
            cert = %files.chain.display(),
            names = ?plan.certificates.self_signed_names,
            "made a self-signed certificate"
        );
    }
    Ok(Tls { store: Arc::new(store), files, self_signed, fingerprint })
}

/// The TLS acceptor of one listener, with its client-certificate mode.
pub(crate) fn server(
    store: &Arc<CertStore>,
    client_certs: &ClientCerts,
) -> anyhow::Result<TlsServer> {
    let roots = |ca: &Path| {
        ClientAuth::roots_from_pem(ca)
            .with_context(|| format!("cannot use {} as client_ca", ca.display()))
    };
    let client_auth = match client_certs {
        ClientCerts::Off => ClientAuth::Off,
        ClientCerts::Optional => ClientAuth::Optional,
        ClientCerts::OptionalWithCa(ca) => ClientAuth::OptionalWithCa(roots(ca)?),
        ClientCerts::Required(ca) => ClientAuth::Required(roots(ca)?),
    };
    TlsServer::new(store.clone(), client_auth).context("cannot set up TLS")
}
