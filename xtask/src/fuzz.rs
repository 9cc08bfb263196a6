//! Finding and running the cargo-fuzz targets of every crate (`crates/*/fuzz/`).
//!
//! Fuzz crates sit outside the workspace (cargo-fuzz builds them with sanitizer flags that
//! would invalidate the normal build cache), so they build into their own target folder,
//! `target/fuzz`, with `RUSTC_BOOTSTRAP=1` because the sanitizer flags are unstable.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::install::{self, CARGO_FUZZ};
use crate::sh::Sh;

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub(crate) struct FuzzArgs {
    /// Seconds to run each target.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    time: u64,
    /// Targets to run (all of them when none is given).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
}

/// A cargo-fuzz crate and the targets its manifest declares.
#[derive(Debug)]
pub(crate) struct FuzzCrate {
    /// The fuzz folder (`crates/<name>/fuzz`).
    pub(crate) dir: PathBuf,
    /// Its `[[bin]]` targets, in manifest order.
    pub(crate) targets: Vec<String>,
}

/// `cargo xtask fuzz`.
pub(crate) fn run(sh: &mut Sh, args: &FuzzArgs) -> Result<()> {
    let crates = discover(sh.root())?;
    if crates.is_empty() {
        bail!("there is no fuzz crate (no crates/*/fuzz/Cargo.toml) in this workspace");
    }
    let selected = select(&crates, &args.targets)?;
    install::ensure_cargo_tool(sh, CARGO_FUZZ)?;
    run_targets(sh, &selected, args.time)
}

/// Every `crates/*/fuzz/Cargo.toml`, sorted by path, with its targets.
pub(crate) fn discover(root: &Path) -> Result<Vec<FuzzCrate>> {
    let crates_dir = root.join("crates");
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(&crates_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(err).context(format!("reading {}", crates_dir.display())),
    };
    for entry in entries {
        let dir = entry?.path().join("fuzz");
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let targets =
            targets_in_manifest(&text).with_context(|| format!("in {}", manifest.display()))?;
        found.push(FuzzCrate { dir, targets });
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(found)
}

/// The names of the `[[bin]]` entries of a cargo-fuzz manifest.
pub(crate) fn targets_in_manifest(manifest: &str) -> Result<Vec<String>> {
    let doc: toml::Table = manifest.parse().context("not valid TOML")?;
    let Some(bins) = doc.get("bin") else {
        bail!("no [[bin]] entries: a cargo-fuzz crate declares one per target");
    };
    let bins = bins.as_array().context("`bin` is not an array of tables ([[bin]])")?;
    let mut names = Vec::new();
    for bin in bins {
        let name =
            bin.get("name").and_then(toml::Value::as_str).context("a [[bin]] entry has no name")?;
        names.push(name.to_owned());
    }
    if names.is_empty() {
        bail!("no [[bin]] entries: a cargo-fuzz crate declares one per target");
    }
    Ok(names)
}

/// The crates and targets to run: all of them, or the named ones (each must exist).
pub(crate) fn select(crates: &[FuzzCrate], wanted: &[String]) -> Result<Vec<FuzzCrate>> {
    if wanted.is_empty() {
        return Ok(crates
            .iter()
            .map(|c| FuzzCrate { dir: c.dir.clone(), targets: c.targets.clone() })
            .collect());
    }
    let known: Vec<&str> =
        crates.iter().flat_map(|c| c.targets.iter().map(String::as_str)).collect();
    if let Some(unknown) = wanted.iter().find(|w| !known.contains(&w.as_str())) {
        bail!("no fuzz target named `{unknown}`; the targets are: {}", known.join(", "));
    }
    Ok(crates
        .iter()
        .map(|c| FuzzCrate {
            dir: c.dir.clone(),
            targets: c.targets.iter().filter(|t| wanted.contains(t)).cloned().collect(),
        })
        .filter(|c| !c.targets.is_empty())
        .collect())
}

/// Builds each fuzz crate, then runs each of its targets for `seconds`.
pub(crate) fn run_targets(sh: &Sh, crates: &[FuzzCrate], seconds: u64) -> Result<()> {
    let target_dir = sh.root().join("target").join("fuzz");
    for krate in crates {
        let fuzz = |sub: &str| {
            let mut cmd = sh.cmd("cargo");
            cmd.env("RUSTC_BOOTSTRAP", "1")
                .current_dir(krate.dir.parent().unwrap_or(sh.root()))
                .arg("fuzz")
                .arg(sub)
                .arg("--fuzz-dir")
                .arg(&krate.dir)
                .arg("--target-dir")
                .arg(&target_dir);
            cmd
        };
        sh.run(&mut fuzz("build"))
            .with_context(|| format!("building the fuzz targets in {}", krate.dir.display()))?;
        for target in &krate.targets {
            println!("--- fuzz target {target}: {seconds} s");
            sh.run(fuzz("run").arg(target).arg("--").arg(format!("-max_total_time={seconds}")))
                .with_context(|| {
                    format!(
                        "fuzz target `{target}` failed; a crashing input is saved under {}",
                        krate.dir.join("artifacts").join(target).display()
                    )
                })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[package]
name = "demo-fuzz"
version = "0.0.0"
publish = false

[package.metadata]
cargo-fuzz = true

[dependencies]
libfuzzer-sys = "0.4"

[workspace]
members = ["."]

[[bin]]
name = "decode_command"
path = "fuzz_targets/decode_command.rs"
test = false

[[bin]]
name = "server_session"
path = "fuzz_targets/server_session.rs"
"#;

    #[test]
    fn targets_are_the_bin_names_in_order() {
        assert_eq!(targets_in_manifest(MANIFEST).unwrap(), ["decode_command", "server_session"]);
    }

    #[test]
    fn a_manifest_without_targets_is_an_error() {
        let err = targets_in_manifest("[package]\nname = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("no [[bin]]"), "{err}");
        let err = targets_in_manifest("[[bin]]\npath = \"a.rs\"\n").unwrap_err();
        assert!(err.to_string().contains("has no name"), "{err}");
    }

    fn two_crates() -> Vec<FuzzCrate> {
        vec![
            FuzzCrate {
                dir: PathBuf::from("crates/a/fuzz"),
                targets: vec!["a1".into(), "a2".into()],
            },
            FuzzCrate { dir: PathBuf::from("crates/b/fuzz"), targets: vec!["b1".into()] },
        ]
    }

    #[test]
    fn selecting_by_name_keeps_only_those_targets() {
        let picked = select(&two_crates(), &["a2".into()]).unwrap();
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].dir, PathBuf::from("crates/a/fuzz"));
        assert_eq!(picked[0].targets, ["a2"]);
        assert_eq!(select(&two_crates(), &[]).unwrap().len(), 2);
    }

    #[test]
    fn selecting_an_unknown_target_lists_the_known_ones() {
        let err = select(&two_crates(), &["nope".into()]).unwrap_err();
        assert_eq!(err.to_string(), "no fuzz target named `nope`; the targets are: a1, a2, b1");
    }

    #[test]
    fn discovery_finds_fuzz_crates_under_crates() {
        let root = std::env::temp_dir().join(format!("xtask-fuzz-{}", std::process::id()));
        let fuzz = root.join("crates/demo/fuzz");
        std::fs::create_dir_all(&fuzz).unwrap();
        std::fs::create_dir_all(root.join("crates/nofuzz/src")).unwrap();
        std::fs::write(fuzz.join("Cargo.toml"), MANIFEST).unwrap();
        let found = discover(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].dir, fuzz);
        assert_eq!(found[0].targets, ["decode_command", "server_session"]);
    }
}
