//! `cargo xtask ci`: every check, in order, stopping at the first failure.
//!
//! A step is a name and a function; adding one (an interop suite, a benchmark ratio check)
//! is one more entry in [`STEPS`].

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::install::{self, CARGO_DENY, CARGO_FUZZ};
use crate::sh::Sh;
use crate::{certs, fuzz};

/// Options of `cargo xtask ci`. The defaults run everything, as CI does.
#[derive(clap::Args)]
pub(crate) struct CiArgs {
    /// Leave out the fuzz smoke run (for quick local runs; CI never passes this).
    #[arg(long)]
    no_fuzz: bool,
    /// Leave out the interop suite (for quick local runs; CI never passes this).
    #[arg(long)]
    no_interop: bool,
    /// Seconds to run each fuzz target in the smoke run.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    fuzz_time: u64,
}

/// What the steps share.
struct Ci<'a> {
    sh: &'a mut Sh,
    args: &'a CiArgs,
    /// Whether `cargo nextest` is available; if not, the tests run with `cargo test`.
    nextest: bool,
}

/// How a step that did not fail ended.
enum Outcome {
    /// It ran and passed.
    Passed,
    /// There was nothing for it to do yet (said why).
    NothingToDo(&'static str),
    /// It was left out on request (said why); never the case with the defaults.
    NotRun(&'static str),
}

type StepFn = fn(&mut Ci<'_>) -> Result<Outcome>;

/// The steps, in the order they run.
const STEPS: &[(&str, StepFn)] = &[
    ("ensure tools", ensure_tools),
    ("rustfmt", rustfmt),
    ("clippy", clippy),
    ("tests", tests),
    ("doc-tests", doc_tests),
    ("rustdoc", rustdoc),
    ("package", package),
    ("test PKI", test_pki),
    ("interop", interop),
    ("cargo deny", cargo_deny),
    ("fuzz smoke", fuzz_smoke),
];

/// `cargo xtask ci`.
pub(crate) fn run(sh: &mut Sh, args: &CiArgs) -> Result<()> {
    let mut ci = Ci { sh, args, nextest: false };
    let started = Instant::now();
    let mut done: Vec<(&str, Duration, Outcome)> = Vec::new();
    for (index, (name, step)) in STEPS.iter().enumerate() {
        let number = index + 1;
        banner(&format!("[{number}/{}] {name}", STEPS.len()));
        let step_started = Instant::now();
        match step(&mut ci) {
            Ok(outcome) => done.push((name, step_started.elapsed(), outcome)),
            Err(err) => {
                eprintln!();
                eprintln!("ci: FAILED at step {number}/{} ({name}): {err:#}", STEPS.len());
                bail!("ci failed at step `{name}`");
            }
        }
    }
    banner("summary");
    let mut not_run = 0;
    for (name, took, outcome) in &done {
        let secs = took.as_secs_f64();
        match outcome {
            Outcome::Passed => println!("  ok       {name:<14} {secs:>7.1} s"),
            Outcome::NothingToDo(why) => println!("  ok       {name:<14} {secs:>7.1} s  ({why})"),
            Outcome::NotRun(why) => {
                not_run += 1;
                println!("  NOT RUN  {name:<14} {secs:>7.1} s  ({why})");
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if not_run == 0 {
        println!("ci: all {} steps passed in {secs:.1} s", STEPS.len());
    } else {
        println!(
            "ci: {} steps passed, {not_run} NOT RUN on request, in {secs:.1} s",
            STEPS.len() - not_run
        );
    }
    Ok(())
}

fn banner(title: &str) {
    println!();
    println!("==================== {title} ====================");
}

fn ensure_tools(ci: &mut Ci<'_>) -> Result<Outcome> {
    install::ensure_component(ci.sh, "rustfmt", &["fmt", "--version"])?;
    install::ensure_component(ci.sh, "clippy", &["clippy", "--version"])?;
    install::ensure_cargo_tool(ci.sh, CARGO_DENY)?;
    install::ensure_openssl(ci.sh)?;
    install::ensure_postgres(ci.sh)?;
    ci.nextest = install::try_nextest(ci.sh);
    if !ci.nextest {
        println!("cargo nextest could not be installed: the tests will run with `cargo test`");
    }
    if ci.args.no_fuzz {
        println!("cargo fuzz: not needed (--no-fuzz)");
    } else if fuzz::discover(ci.sh.root())?.is_empty() {
        println!("cargo fuzz: not needed yet (no crates/*/fuzz crate)");
    } else {
        install::ensure_cargo_tool(ci.sh, CARGO_FUZZ)?;
    }
    Ok(Outcome::Passed)
}

/// Runs `cargo ARGS...` as a step.
fn cargo(ci: &Ci<'_>, args: &[&str]) -> Result<Outcome> {
    ci.sh.run(ci.sh.cmd("cargo").args(args))?;
    Ok(Outcome::Passed)
}

fn rustfmt(ci: &mut Ci<'_>) -> Result<Outcome> {
    cargo(ci, &["fmt", "--all", "--check"])
}

fn clippy(ci: &mut Ci<'_>) -> Result<Outcome> {
    cargo(ci, &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"])
}

fn tests(ci: &mut Ci<'_>) -> Result<Outcome> {
    if ci.nextest {
        cargo(ci, &["nextest", "run", "--workspace", "--all-features"])
    } else {
        // Doc-tests are the next step in both cases.
        cargo(ci, &["test", "--workspace", "--all-features", "--lib", "--bins", "--tests"])
    }
}

fn doc_tests(ci: &mut Ci<'_>) -> Result<Outcome> {
    cargo(ci, &["test", "--workspace", "--doc", "--all-features"])
}

fn rustdoc(ci: &mut Ci<'_>) -> Result<Outcome> {
    let mut cmd = ci.sh.cmd("cargo");
    cmd.env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--workspace",
        "--no-deps",
        "--all-features",
    ]);
    ci.sh.run(&mut cmd)?;
    Ok(Outcome::Passed)
}

/// `cargo publish --dry-run` of every publishable crate (members with `publish = false` are
/// skipped by cargo itself): the manifests are complete, every dependency has a version,
/// and each packaged crate builds on its own from what it ships, with the workspace
/// crates it needs taken from a local registry of the ones packaged before it. Nothing is
/// uploaded. `--allow-dirty` so that a local run with uncommitted changes checks those.
///
/// Cargo takes a registry's crate as immutable: it unpacks a name and version once (under
/// `$CARGO_HOME/registry/src/-HASH/`) and, once built, never rebuilds it for a change of
/// content. Our crates keep version 0.1.0 between changes, so a second run would verify
/// against the first run's sources and builds. Hence the build goes to a target folder of
/// its own (`target/package-build`, so nothing else shares those fingerprints), and the
/// unpacked copies and the fingerprints of our own crates go first; the dependencies stay
/// built between runs.
fn package(ci: &mut Ci<'_>) -> Result<Outcome> {
    let target = ci.sh.root().join("target").join("package-build");
    forget_unpacked_workspace_crates()?;
    forget_built_workspace_crates(&target.join("debug").join(".fingerprint"))?;
    let target = target.display().to_string();
    cargo(ci, &["publish", "--dry-run", "--workspace", "--allow-dirty", "--target-dir", &target])
}

/// Removes the fingerprints of `sealpost*` units under `dir`, so cargo builds them again.
fn forget_built_workspace_crates(dir: &std::path::Path) -> Result<()> {
    let Ok(units) = std::fs::read_dir(dir) else { return Ok(()) };
    for unit in units.flatten() {
        if unit.file_name().to_string_lossy().starts_with("sealpost") {
            std::fs::remove_dir_all(unit.path())?;
        }
    }
    Ok(())
}

/// Removes `$CARGO_HOME/registry/src/<local registry>/sealpost*` (never crates.io's folders).
fn forget_unpacked_workspace_crates() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else { return Ok(()) };
    let Ok(registries) = std::fs::read_dir(&src) else { return Ok(()) };
    for registry in registries.flatten() {
        // Remote registries are named after their host; local ones only by a hash.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for unpacked in std::fs::read_dir(registry.path())?.flatten() {
            if unpacked.file_name().to_string_lossy().starts_with("sealpost") {
                std::fs::remove_dir_all(unpacked.path())?;
            }
        }
    }
    Ok(())
}

fn test_pki(ci: &mut Ci<'_>) -> Result<Outcome> {
    let dir = ci.sh.root().join(certs::DEFAULT_DIR);
    certs::check(ci.sh, &dir)?;
    Ok(Outcome::Passed)
}

fn interop(ci: &mut Ci<'_>) -> Result<Outcome> {
    if ci.args.no_interop {
        println!("NOT RUN: --no-interop was given (CI runs it)");
        return Ok(Outcome::NotRun("--no-interop"));
    }
    crate::interop::run(ci.sh, &crate::interop::InteropArgs::default())?;
    Ok(Outcome::Passed)
}

fn cargo_deny(ci: &mut Ci<'_>) -> Result<Outcome> {
    cargo(ci, &["deny", "check", "bans", "licenses", "sources"])
}

fn fuzz_smoke(ci: &mut Ci<'_>) -> Result<Outcome> {
    if ci.args.no_fuzz {
        println!("NOT RUN: --no-fuzz was given (CI runs it)");
        return Ok(Outcome::NotRun("--no-fuzz"));
    }
    let crates = fuzz::discover(ci.sh.root())?;
    if crates.is_empty() {
        println!("no fuzz crate yet (no crates/*/fuzz/Cargo.toml): nothing to run");
        return Ok(Outcome::NothingToDo("no fuzz crate yet"));
    }
    for krate in &crates {
        println!("{}: {}", krate.dir.display(), krate.targets.join(", "));
    }
    fuzz::run_targets(
        ci.sh,
        &crates,
        fuzz::Limits::seconds(ci.args.fuzz_time),
        fuzz::Sanitizer::Address,
    )?;
    Ok(Outcome::Passed)
}
