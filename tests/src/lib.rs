//! Cross-crate end-to-end tests for the sealpost workspace.
//!
//! This crate is never published. Its integration tests (`tests/tests/*.rs`) exercise several
//! sealpost crates together, or the workspace as a whole; the library holds the helpers they
//! share: where the test PKI and the shared corpora are, the layering rules of the design
//! checked against `cargo metadata`, and the dependency budget checked with `cargo tree`.

#![forbid(unsafe_code)]

pub mod budget;
pub mod layering;
mod metadata;
pub mod msrv;
pub mod readme;

use std::path::PathBuf;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let tests_crate = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    tests_crate.parent().map_or_else(|| tests_crate.clone(), PathBuf::from)
}

/// The committed test PKI, `tests/pki/` (see its README; regenerate with `cargo xtask certs`).
pub fn pki_dir() -> PathBuf {
    workspace_root().join("tests").join("pki")
}

/// A file of the test PKI, such as `pki_file("server-chain.pem")`.
pub fn pki_file(name: &str) -> PathBuf {
    pki_dir().join(name)
}

/// The shared test corpora (read-only data such as the RFC 4134 S/MIME examples; never
/// copied into the repository): `$SEALPOST_CORPORA` when set, else `../shared/corpora/`
/// next to the workspace root.
pub fn corpora_dir() -> PathBuf {
    match std::env::var_os("SEALPOST_CORPORA") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("..").join("shared").join("corpora"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{manifest}");
    }

    #[test]
    fn the_pki_folder_has_the_trust_anchor() {
        let bundle = std::fs::read_to_string(pki_file("ca-bundle.pem")).unwrap();
        assert!(bundle.starts_with("-----BEGIN CERTIFICATE-----\n"), "{bundle}");
        assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 1);
    }
}
