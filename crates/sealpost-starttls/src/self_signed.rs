//! A self-signed certificate for the default run, made once and kept.

use std::path::Path;

use crate::certs::CertificateFiles;
use crate::error::TlsError;

/// Makes a self-signed ECDSA P-256 certificate for `names` (DNS names or IP addresses)
/// and writes it to `dir/cert.pem` and `dir/key.pem` (the key readable by the owner only).
///
/// Needs the `self-signed` feature (rcgen).
pub fn generate_self_signed(dir: &Path, names: &[String]) -> Result<CertificateFiles, TlsError> {
    let err = |e| TlsError::SelfSigned(Box::new(e));
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::SelfSigned(Box::new(e)))?;
    std::fs::create_dir_all(dir).map_err(err)?;
    let files = CertificateFiles::new(dir.join("cert.pem"), dir.join("key.pem"));
    write_private(&files.key, certified.signing_key.serialize_pem().as_bytes()).map_err(err)?;
    std::fs::write(&files.chain, certified.cert.pem()).map_err(err)?;
    Ok(files)
}

/// The self-signed pair in `dir`, made on first use (the certificate of the embedded
/// default configuration). Needs the `self-signed` feature (rcgen).
pub fn ensure_self_signed(dir: &Path, names: &[String]) -> Result<CertificateFiles, TlsError> {
    let files = CertificateFiles::new(dir.join("cert.pem"), dir.join("key.pem"));
    if files.chain.is_file() && files.key.is_file() && files.load().is_ok() {
        return Ok(files);
    }
    generate_self_signed(dir, names)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
