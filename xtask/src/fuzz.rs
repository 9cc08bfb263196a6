//! Finding and running the cargo-fuzz targets of every crate (`crates/*/fuzz/`).
//!
//! Fuzz crates sit outside the workspace (cargo-fuzz builds them with sanitizer flags that
//! would invalidate the normal build cache), so they build into their own target folder,
//! `target/fuzz`, with `RUSTC_BOOTSTRAP=1` because the sanitizer flags are unstable. Each
//! run ends with a table of the executions and coverage libFuzzer reported per target;
//! `--cmin` minimises the corpora instead, so that they can be committed. A fuzz folder
//! may hold one libFuzzer dictionary (`*.dict`): its tokens (SMTP verbs, MIME field names)
//! let mutation spell what the parsers look for, so every run of that crate's targets
//! gets it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::install::{self, CARGO_FUZZ};
use crate::sh::Sh;

mod stats;

use stats::{FuzzStats, TargetRun};

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub(crate) struct FuzzArgs {
    /// Seconds to run each target (60 when neither this nor `--runs` is given).
    #[arg(long, value_name = "SECS")]
    time: Option<u64>,
    /// Inputs to execute per target (libFuzzer `-runs`), for a campaign of a fixed size;
    /// with `--time` too, whichever limit comes first ends the run.
    #[arg(long, value_name = "N")]
    runs: Option<u64>,
    /// Minimise each target's corpus (`cargo fuzz cmin`) instead of fuzzing, so that it
    /// can be committed.
    #[arg(long, conflicts_with_all = ["time", "runs"])]
    cmin: bool,
    /// The sanitizer to build with. `none` runs several times faster and suits crates
    /// without `unsafe` code (`#![forbid(unsafe_code)]`), where AddressSanitizer has
    /// nothing of ours to check; keep `address` for crates with FFI.
    #[arg(long, value_enum, default_value_t = Sanitizer::Address)]
    sanitizer: Sanitizer,
    /// Targets to run (all of them when none is given).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
}

/// cargo-fuzz's `--sanitizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Sanitizer {
    /// AddressSanitizer (cargo-fuzz's default).
    #[default]
    Address,
    /// No sanitizer.
    None,
}

impl Sanitizer {
    fn as_arg(self) -> &'static str {
        match self {
            Sanitizer::Address => "address",
            Sanitizer::None => "none",
        }
    }
}

/// How long each target runs: libFuzzer's `-max_total_time` and `-runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Seconds.
    pub(crate) time: Option<u64>,
    /// Executions.
    pub(crate) runs: Option<u64>,
}

impl Limits {
    /// Each target for this many seconds.
    pub(crate) fn seconds(time: u64) -> Self {
        Limits { time: Some(time), runs: None }
    }

    /// The libFuzzer options: the limits given, 60 s when none is, and the final
    /// statistics that the summary reads.
    pub(crate) fn libfuzzer_args(self) -> Vec<String> {
        let time = if self.runs.is_none() { Some(self.time.unwrap_or(60)) } else { self.time };
        let mut args = Vec::new();
        if let Some(time) = time {
            args.push(format!("-max_total_time={time}"));
        }
        if let Some(runs) = self.runs {
            args.push(format!("-runs={runs}"));
        }
        args.push("-print_final_stats=1".to_owned());
        args
    }

    fn describe(self) -> String {
        match (self.time, self.runs) {
            (_, None) => format!("{} s", self.time.unwrap_or(60)),
            (None, Some(runs)) => format!("{runs} executions"),
            (Some(time), Some(runs)) => format!("{runs} executions or {time} s"),
        }
    }
}

/// A cargo-fuzz crate and the targets its manifest declares.
#[derive(Debug)]
pub(crate) struct FuzzCrate {
    /// The fuzz folder (`crates/<name>/fuzz`).
    pub(crate) dir: PathBuf,
    /// Its `[[bin]]` targets, in manifest order.
    pub(crate) targets: Vec<String>,
    /// Its libFuzzer dictionary, when the folder holds one (`*.dict`).
    pub(crate) dict: Option<PathBuf>,
}

/// `cargo xtask fuzz`.
pub(crate) fn run(sh: &mut Sh, args: &FuzzArgs) -> Result<()> {
    let crates = discover(sh.root())?;
    if crates.is_empty() {
        bail!("there is no fuzz crate (no crates/*/fuzz/Cargo.toml) in this workspace");
    }
    let selected = select(&crates, &args.targets)?;
    install::ensure_cargo_tool(sh, CARGO_FUZZ)?;
    if args.cmin {
        return minimise(sh, &selected, args.sanitizer);
    }
    run_targets(sh, &selected, Limits { time: args.time, runs: args.runs }, args.sanitizer)
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
        let dict = dictionary(&dir)?;
        found.push(FuzzCrate { dir, targets, dict });
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(found)
}

/// The one `*.dict` file of a fuzz folder, if any (libFuzzer takes one dictionary).
fn dictionary(dir: &Path) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "dict") && path.is_file())
        .collect();
    found.sort();
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => bail!("{} holds several dictionaries (*.dict); libFuzzer takes one", dir.display()),
    }
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
            .map(|c| FuzzCrate {
                dir: c.dir.clone(),
                targets: c.targets.clone(),
                dict: c.dict.clone(),
            })
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
            dict: c.dict.clone(),
        })
        .filter(|c| !c.targets.is_empty())
        .collect())
}

/// `cargo fuzz SUB --sanitizer S --fuzz-dir DIR --target-dir target/fuzz[-S]`, run from
/// the fuzzed crate. Each sanitizer builds into its own folder, so switching does not
/// rebuild.
fn cargo_fuzz(
    sh: &Sh,
    krate: &FuzzCrate,
    sub: &str,
    sanitizer: Sanitizer,
) -> std::process::Command {
    let folder = match sanitizer {
        Sanitizer::Address => "fuzz".to_owned(),
        other => format!("fuzz-{}", other.as_arg()),
    };
    let mut cmd = sh.cmd("cargo");
    cmd.env("RUSTC_BOOTSTRAP", "1")
        .current_dir(krate.dir.parent().unwrap_or(sh.root()))
        .arg("fuzz")
        .arg(sub)
        .arg("--sanitizer")
        .arg(sanitizer.as_arg())
        .arg("--fuzz-dir")
        .arg(&krate.dir)
        .arg("--target-dir")
        .arg(sh.root().join("target").join(folder));
    cmd
}

fn build(sh: &Sh, krate: &FuzzCrate, sanitizer: Sanitizer) -> Result<()> {
    sh.run(&mut cargo_fuzz(sh, krate, "build", sanitizer))
        .with_context(|| format!("building the fuzz targets in {}", krate.dir.display()))
}

/// Builds each fuzz crate, then runs each of its targets within `limits`; every target
/// runs even when one fails. Prints a table of executions and coverage at the end.
pub(crate) fn run_targets(
    sh: &Sh,
    crates: &[FuzzCrate],
    limits: Limits,
    sanitizer: Sanitizer,
) -> Result<()> {
    let mut runs = Vec::new();
    for krate in crates {
        build(sh, krate, sanitizer)?;
        for target in &krate.targets {
            println!("--- fuzz target {target}: {}", limits.describe());
            let mut cmd = cargo_fuzz(sh, krate, "run", sanitizer);
            cmd.arg(target).arg("--").args(limits.libfuzzer_args());
            if let Some(dict) = &krate.dict {
                cmd.arg(format!("-dict={}", dict.display()));
            }
            let (status, stderr) = sh.run_keeping_stderr(&mut cmd)?;
            let failure = (!status.success()).then(|| {
                format!(
                    "FAILED ({status}); input in {}",
                    krate.dir.join("artifacts").join(target).display()
                )
            });
            runs.push(TargetRun {
                target: target.clone(),
                stats: FuzzStats::parse(&stderr),
                failure,
            });
        }
    }
    println!("\n{}", stats::table(&runs));
    let failed: Vec<&str> =
        runs.iter().filter(|r| r.failure.is_some()).map(|r| r.target.as_str()).collect();
    if !failed.is_empty() {
        bail!("fuzz targets failed: {}", failed.join(", "));
    }
    Ok(())
}

/// `cargo fuzz cmin` for each target: its corpus reduced to the inputs that keep its
/// coverage.
fn minimise(sh: &Sh, crates: &[FuzzCrate], sanitizer: Sanitizer) -> Result<()> {
    for krate in crates {
        build(sh, krate, sanitizer)?;
        for target in &krate.targets {
            if !krate.dir.join("corpus").join(target).is_dir() {
                println!("--- {target}: no corpus yet, nothing to minimise");
                continue;
            }
            println!("--- minimising the corpus of {target}");
            sh.run(cargo_fuzz(sh, krate, "cmin", sanitizer).arg(target))
                .with_context(|| format!("minimising the corpus of `{target}`"))?;
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
                dict: Some(PathBuf::from("crates/a/fuzz/a.dict")),
            },
            FuzzCrate {
                dir: PathBuf::from("crates/b/fuzz"),
                targets: vec!["b1".into()],
                dict: None,
            },
        ]
    }

    #[test]
    fn selecting_by_name_keeps_only_those_targets() {
        let picked = select(&two_crates(), &["a2".into()]).unwrap();
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].dir, PathBuf::from("crates/a/fuzz"));
        assert_eq!(picked[0].targets, ["a2"]);
        assert_eq!(picked[0].dict, Some(PathBuf::from("crates/a/fuzz/a.dict")), "kept");
        assert_eq!(select(&two_crates(), &[]).unwrap().len(), 2);
    }

    #[test]
    fn selecting_an_unknown_target_lists_the_known_ones() {
        let err = select(&two_crates(), &["nope".into()]).unwrap_err();
        assert_eq!(err.to_string(), "no fuzz target named `nope`; the targets are: a1, a2, b1");
    }

    #[test]
    fn limits_become_libfuzzer_options() {
        let args = |time, runs| Limits { time, runs }.libfuzzer_args();
        assert_eq!(args(None, None), ["-max_total_time=60", "-print_final_stats=1"]);
        assert_eq!(args(Some(5), None), ["-max_total_time=5", "-print_final_stats=1"]);
        assert_eq!(args(None, Some(10_000_000)), ["-runs=10000000", "-print_final_stats=1"]);
        assert_eq!(
            args(Some(3600), Some(10_000_000)),
            ["-max_total_time=3600", "-runs=10000000", "-print_final_stats=1"]
        );
        assert_eq!(Limits::seconds(5), Limits { time: Some(5), runs: None });
    }

    #[test]
    fn discovery_finds_fuzz_crates_under_crates() {
        let root = std::env::temp_dir().join(format!("xtask-fuzz-{}", std::process::id()));
        let fuzz = root.join("crates/demo/fuzz");
        std::fs::create_dir_all(&fuzz).unwrap();
        std::fs::create_dir_all(root.join("crates/nofuzz/src")).unwrap();
        std::fs::write(fuzz.join("Cargo.toml"), MANIFEST).unwrap();
        let without = discover(&root).unwrap();
        std::fs::write(fuzz.join("smtp.dict"), "verb=\"MAIL\"\n").unwrap();
        let with = discover(&root).unwrap();
        std::fs::write(fuzz.join("other.dict"), "verb=\"RCPT\"\n").unwrap();
        let several = discover(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(without.len(), 1);
        assert_eq!(without[0].dir, fuzz);
        assert_eq!(without[0].targets, ["decode_command", "server_session"]);
        assert_eq!(without[0].dict, None);
        assert_eq!(with[0].dict, Some(fuzz.join("smtp.dict")));
        assert!(several.to_string().contains("several dictionaries"), "{several}");
    }
}
