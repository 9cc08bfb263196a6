//! The committed test PKI (`tests/pki`, made by `cargo xtask certs`): a root and an
//! intermediate CA, a server certificate for `mail.test`, a client certificate.

use std::path::PathBuf;
use std::sync::Arc;

use sealpost_starttls::rustls::pki_types::ServerName;
use sealpost_starttls::rustls::{ClientConfig, RootCertStore};
use sealpost_starttls::tokio_rustls::TlsConnector;
use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, TlsServer, read_chain};

/// A file of the test PKI.
pub fn pki(name: &str) -> PathBuf {
    crate::workspace_root().join("tests").join("pki").join(name)
}

/// The bytes of a file of the test PKI.
pub fn pki_bytes(name: &str) -> Vec<u8> {
    let path = pki(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The test trust anchor (`ca-bundle.pem`, the root CA) as a root store.
pub fn roots() -> Arc<RootCertStore> {
    ClientAuth::roots_from_pem(&pki("ca-bundle.pem")).unwrap()
}

/// The SHA-256 fingerprint of the first certificate of a PEM file of the test PKI.
pub fn leaf_sha256(name: &str) -> [u8; 32] {
    sealpost_starttls::sha256(read_chain(&pki(name)).unwrap()[0].as_ref())
}

/// The server side: `server-chain.pem` for `mail.test`, asking for client certificates
/// as `client_auth` says.
pub fn tls_server(client_auth: ClientAuth) -> TlsServer {
    let files = CertificateFiles::new(pki("server-chain.pem"), pki("server-key.pem"));
    let store = Arc::new(CertStore::load(files, vec![]).unwrap());
    TlsServer::new(store, client_auth).unwrap()
}

/// The name the server certificate carries.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("mail.test").unwrap()
}

fn client_config() -> sealpost_starttls::rustls::ConfigBuilder<
    ClientConfig,
    sealpost_starttls::rustls::client::WantsClientCert,
> {
    let mut roots = RootCertStore::empty();
    for cert in read_chain(&pki("ca-bundle.pem")).unwrap() {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(sealpost_starttls::rustls::crypto::ring::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
}

/// A client that trusts the test CA and presents no certificate.
pub fn connector() -> TlsConnector {
    TlsConnector::from(Arc::new(client_config().with_no_client_auth()))
}

/// A client that trusts the test CA and presents `client-chain.pem`.
pub fn client_cert_connector() -> TlsConnector {
    let chain = read_chain(&pki("client-chain.pem")).unwrap();
    let key = sealpost_starttls::read_key(&pki("client-key.pem")).unwrap();
    TlsConnector::from(Arc::new(client_config().with_client_auth_cert(chain, key).unwrap()))
}
