//! The shared test corpora: read-only data kept outside the repository (such as the RFC
//! 4134 S/MIME examples), read in place and never copied in.

use std::path::PathBuf;

/// The corpora folder: `$SEALPOST_CORPORA`, else the nearest `shared/corpora` with an
/// `rfc4134` folder beside the workspace root or beside one of its ancestors
/// (`../shared/corpora` in the usual layout).
pub fn corpora_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SEALPOST_CORPORA") {
        return Some(PathBuf::from(dir));
    }
    let root = crate::workspace_root().canonicalize().ok()?;
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join("shared").join("corpora"))
        .find(|dir| dir.join("rfc4134").is_dir())
}

/// Whether the corpus tests run: always, unless the machine has no corpora and the CI
/// script said so explicitly with `SEALPOST_NO_CORPORA=1` (it prints that loudly). A
/// corpus that is merely not found fails the tests.
pub fn corpus_tests_run() -> bool {
    if std::env::var_os("SEALPOST_NO_CORPORA").is_some_and(|v| v == "1") {
        eprintln!("NOT RUN: SEALPOST_NO_CORPORA=1 says this machine has no shared corpora");
        return false;
    }
    true
}

/// A file of a corpus, such as `corpus_file("rfc4134", "4.1.bin")`; a missing corpus
/// fails loudly, saying how to point at it.
pub fn corpus_file(corpus: &str, name: &str) -> Vec<u8> {
    let Some(dir) = corpora_dir() else {
        panic!(
            "the shared corpora were not found beside the workspace or its parent folders: \
             set SEALPOST_CORPORA to the corpora folder"
        )
    };
    let path = dir.join(corpus).join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e} (set SEALPOST_CORPORA to the shared corpora folder)", path.display())
    })
}
