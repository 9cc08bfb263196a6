//! `sealpost cert self-signed`: a certificate and key for tests, a lab, or a first run.

use anyhow::{Context, bail};
use sealpost_starttls::{generate_self_signed, hex_colon, read_chain, spki_sha256};

use crate::cli::SelfSignedArgs;
use crate::tls::fingerprint;

/// Writes `cert.pem` and `key.pem` (the key readable by its owner only) and prints where,
/// with the fingerprints a peer would pin.
pub(crate) fn self_signed(args: &SelfSignedArgs) -> anyhow::Result<()> {
    // Each --host was checked as the command line was read (`flags::cert_host`).
    let cert = args.out.join("cert.pem");
    let key = args.out.join("key.pem");
    if !args.force {
        for existing in [&cert, &key] {
            if existing.exists() {
                bail!(
                    "{} already exists; pass --force to replace it, or choose another --out",
                    existing.display()
                );
            }
        }
    }
    let files = generate_self_signed(&args.out, &args.hosts)
        .with_context(|| format!("cannot write the certificate to {}", args.out.display()))?;
    let chain = read_chain(&files.chain)?;
    let spki = chain.first().and_then(spki_sha256).map(|h| hex_colon(&h)).unwrap_or_default();
    println!("certificate: {}", files.chain.display());
    println!("private key: {} (readable by its owner only)", files.key.display());
    println!("names: {}", args.hosts.join(", "));
    println!("SHA-256 fingerprint: {}", fingerprint(&files.chain)?);
    println!("public key SHA-256: {spki}");
    Ok(())
}
