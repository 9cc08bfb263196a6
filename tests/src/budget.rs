//! The dependency budget of each library crate: how many crates it pulls in for its users,
//! with its minimal features (`--no-default-features`) and with its defaults.
//!
//! The counts come from cargo's own resolution for that package alone:
//! `cargo tree -p CRATE -e normal --target all --prefix none [--no-default-features]`.
//! A crate counts once per name and version (two versions of one crate are two crates to
//! build), the package itself does not count, only normal dependencies count (what a user
//! of the crate compiles; dev- and build-dependencies of the crate are its own business,
//! but build-dependencies of its dependencies are not followed either), and every target
//! platform counts, so a Windows-only dependency cannot hide on a Linux machine.
//!
//! [`BUDGETS`] is the one table of allowed counts. A count over its budget fails (a new
//! dependency is a decision to write down); a count far under it fails too, so that a
//! saving is locked in by lowering the budget.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::process::Command;

/// The feature set a count is taken with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Features {
    /// `--no-default-features`: what a user gets who asks for nothing.
    Minimal,
    /// The crate's default features: what `crate = "0.1"` gets.
    Default,
}

impl Features {
    /// The `cargo tree` flag of this feature set, if any.
    pub const fn flag(self) -> Option<&'static str> {
        match self {
            Features::Minimal => Some("--no-default-features"),
            Features::Default => None,
        }
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Features::Minimal => "--no-default-features",
            Features::Default => "default features",
        })
    }
}

/// The allowed number of distinct crates a library pulls in, per feature set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The package.
    pub krate: &'static str,
    /// With `--no-default-features`.
    pub minimal: usize,
    /// With the default features.
    pub default: usize,
}

impl Budget {
    /// The budget of one feature set.
    pub const fn of(&self, features: Features) -> usize {
        match features {
            Features::Minimal => self.minimal,
            Features::Default => self.default,
        }
    }
}

/// The budgets: today's counts (`cargo test -p sealpost-tests --test budget` prints the
/// measured ones when they differ). Keep `docs/ARCHITECTURE.md`, "Dependency budget", in
/// step with this table.
pub const BUDGETS: &[Budget] = &[
    Budget { krate: "sealpost-codec", minimal: 11, default: 11 },
    Budget { krate: "sealpost-starttls", minimal: 56, default: 154 },
    Budget { krate: "sealpost-smime", minimal: 29, default: 29 },
    Budget { krate: "sealpost-server", minimal: 67, default: 67 },
    Budget { krate: "sealpost-client", minimal: 60, default: 155 },
    Budget { krate: "sealpost-mta", minimal: 165, default: 180 },
];

/// How far under its budget a count may fall before the budget must be lowered. Small
/// drops come and go with dependency updates; a larger one is a saving worth keeping.
pub const SLACK: usize = 5;

/// Crates that must not be in a library's tree with the given features, whatever the
/// count: the heavy parts that the minimal transport and the receiving server leave out.
pub const ABSENT: &[(&str, Features, &[&str])] = &[
    (
        "sealpost-starttls",
        Features::Minimal,
        &["hickory-resolver", "hyper", "http", "rcgen", "serde", "webpki-roots"],
    ),
    // The server takes the bare transport: no resolver, no HTTP client, no certificate
    // generator, and (as the layering rules also say) no OpenSSL and no database client.
    (
        "sealpost-server",
        Features::Default,
        &["hickory-resolver", "hyper", "rcgen", "openssl", "tokio-postgres"],
    ),
    ("sealpost-client", Features::Minimal, &["hickory-resolver", "hyper", "rcgen", "openssl"]),
];

/// One crate of a `cargo tree` listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// The package name.
    pub name: String,
    /// The version, without the leading `v`.
    pub version: String,
}

/// The distinct packages of `cargo tree --prefix none` output, the root `krate` left out.
///
/// Each line is `name vVERSION`, optionally followed by `(path)`, `(proc-macro)` or `(*)`
/// (a subtree printed before). A line that is not of that form is an error rather than
/// skipped, so a change in cargo's format cannot shrink the count; so is a listing that
/// does not contain `krate` (the wrong package, or nothing at all).
pub fn packages(tree: &str, krate: &str) -> Result<BTreeSet<Package>, String> {
    let mut found = BTreeSet::new();
    let mut root_seen = false;
    for line in tree.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            return Err(format!("not a `cargo tree --prefix none` line: {line:?}"));
        };
        let Some(version) =
            version.strip_prefix('v').filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        else {
            return Err(format!("no version in the `cargo tree` line {line:?}"));
        };
        if name == krate {
            root_seen = true;
            continue;
        }
        found.insert(Package { name: name.to_owned(), version: version.to_owned() });
    }
    if !root_seen {
        return Err(format!("{krate} is not in the `cargo tree` output"));
    }
    Ok(found)
}

/// Runs `cargo tree` for `krate` alone with `features` in the workspace at `root`.
///
/// Uses the cargo that runs the tests (`$CARGO`) when there is one.
pub fn tree(root: &Path, krate: &str, features: Features) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command.args(["tree", "-p", krate, "-e", "normal", "--target", "all", "--prefix", "none"]);
    command.args(features.flag());
    command.arg("--manifest-path").arg(root.join("Cargo.toml"));
    let out = command.output().map_err(|err| format!("could not run {cargo} tree: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree -p {krate} ({features}) failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|err| format!("cargo tree printed something that is not UTF-8: {err}"))
}

/// A count that breaks its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// More crates than the budget allows.
    Over {
        /// The package.
        krate: String,
        /// The feature set.
        features: Features,
        /// The count.
        count: usize,
        /// The budget.
        budget: usize,
    },
    /// So far under the budget that the budget should come down.
    FarUnder {
        /// The package.
        krate: String,
        /// The feature set.
        features: Features,
        /// The count.
        count: usize,
        /// The budget.
        budget: usize,
    },
    /// A crate that must stay out of the tree is in it.
    Present {
        /// The package.
        krate: String,
        /// The feature set.
        features: Features,
        /// The crate that should not be there.
        unwanted: String,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Over { krate, features, count, budget } => write!(
                f,
                "{krate} ({features}) pulls in {count} crates, {} over its budget of {budget}: \
                 see which with `cargo tree -p {krate} -e normal --target all{}`; remove them, \
                 put them behind a feature, or if they are worth it raise the budget in \
                 tests/src/budget.rs and docs/ARCHITECTURE.md",
                count - budget,
                flag_text(*features),
            ),
            Breach::FarUnder { krate, features, count, budget } => write!(
                f,
                "{krate} ({features}) pulls in {count} crates, {} under its budget of \
                 {budget}: lower the budget to {count} in tests/src/budget.rs and \
                 docs/ARCHITECTURE.md so the saving is kept",
                budget - count,
            ),
            Breach::Present { krate, features, unwanted } => write!(
                f,
                "{krate} ({features}) must not pull in {unwanted}, but does: see why with \
                 `cargo tree -p {krate} -e normal --target all{} -i {unwanted}`",
                flag_text(*features),
            ),
        }
    }
}

fn flag_text(features: Features) -> String {
    features.flag().map(|f| format!(" {f}")).unwrap_or_default()
}

/// Checks one count against its budget.
pub fn check_count(
    krate: &str,
    features: Features,
    count: usize,
    budget: usize,
) -> Result<(), Breach> {
    let krate = krate.to_owned();
    if count > budget {
        Err(Breach::Over { krate, features, count, budget })
    } else if count + SLACK < budget {
        Err(Breach::FarUnder { krate, features, count, budget })
    } else {
        Ok(())
    }
}

/// The crates of `unwanted` that are in `found`, as breaches.
pub fn check_absent(
    krate: &str,
    features: Features,
    found: &BTreeSet<Package>,
    unwanted: &[&str],
) -> Vec<Breach> {
    unwanted
        .iter()
        .filter(|name| found.iter().any(|p| p.name == **name))
        .map(|name| Breach::Present {
            krate: krate.to_owned(),
            features,
            unwanted: (*name).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trimmed `cargo tree -e normal --prefix none` listing: the root with its path,
    /// a proc-macro, subtrees printed before (`(*)`), and two versions of one crate.
    const TREE: &str = "\
sealpost-demo v0.1.0 (/w/crates/sealpost-demo)
tokio v1.54.1
bytes v1.12.2
pin-project-lite v0.2.18
tokio-macros v2.7.2 (proc-macro)
syn v2.0.119
proc-macro2 v1.0.107
unicode-ident v1.0.27
thiserror v2.0.21
thiserror-impl v2.0.21 (proc-macro)
syn v2.0.119 (*)
thiserror v1.0.69
bytes v1.12.2 (*)
";

    #[test]
    fn distinct_name_and_version_without_the_root() {
        let found = packages(TREE, "sealpost-demo").unwrap();
        let names: Vec<String> =
            found.iter().map(|p| format!("{} {}", p.name, p.version)).collect();
        assert_eq!(
            names,
            [
                "bytes 1.12.2",
                "pin-project-lite 0.2.18",
                "proc-macro2 1.0.107",
                "syn 2.0.119",
                "thiserror 1.0.69",
                "thiserror 2.0.21",
                "thiserror-impl 2.0.21",
                "tokio 1.54.1",
                "tokio-macros 2.7.2",
                "unicode-ident 1.0.27",
            ]
        );
    }

    #[test]
    fn a_listing_of_another_package_or_an_odd_line_is_an_error() {
        assert_eq!(
            packages(TREE, "sealpost-other"),
            Err("sealpost-other is not in the `cargo tree` output".to_owned())
        );
        assert_eq!(
            packages("", "sealpost-demo").map(|p| p.len()),
            Err("sealpost-demo is not in the `cargo tree` output".to_owned())
        );
        let odd = format!("{TREE}├── serde v1.0.0\n");
        assert_eq!(
            packages(&odd, "sealpost-demo"),
            Err("no version in the `cargo tree` line \"├── serde v1.0.0\"".to_owned())
        );
        assert!(packages("sealpost-demo\n", "sealpost-demo").is_err());
    }

    #[test]
    fn counts_over_or_far_under_the_budget_fail() {
        let m = Features::Minimal;
        assert_eq!(check_count("c", m, 40, 40), Ok(()));
        assert_eq!(check_count("c", m, 40 - SLACK, 40), Ok(()));
        assert_eq!(
            check_count("c", m, 41, 40),
            Err(Breach::Over { krate: "c".into(), features: m, count: 41, budget: 40 })
        );
        assert_eq!(
            check_count("c", m, 40 - SLACK - 1, 40),
            Err(Breach::FarUnder {
                krate: "c".into(),
                features: m,
                count: 40 - SLACK - 1,
                budget: 40
            })
        );
        let over = check_count("sealpost-demo", m, 45, 40).unwrap_err().to_string();
        assert!(
            over.starts_with(
                "sealpost-demo (--no-default-features) pulls in 45 crates, 5 over its budget of 40"
            ),
            "{over}"
        );
        let under =
            check_count("sealpost-demo", Features::Default, 20, 40).unwrap_err().to_string();
        assert!(under.contains("20 under its budget of 40: lower the budget to 20"), "{under}");
    }

    #[test]
    fn unwanted_crates_are_named() {
        let found = packages(TREE, "sealpost-demo").unwrap();
        let breaches =
            check_absent("sealpost-demo", Features::Default, &found, &["hyper", "tokio-macros"]);
        assert_eq!(
            breaches,
            [Breach::Present {
                krate: "sealpost-demo".into(),
                features: Features::Default,
                unwanted: "tokio-macros".into()
            }]
        );
        assert_eq!(
            breaches[0].to_string(),
            "sealpost-demo (default features) must not pull in tokio-macros, but does: see \
             why with `cargo tree -p sealpost-demo -e normal --target all -i tokio-macros`"
        );
    }

    #[test]
    fn every_library_has_one_budget() {
        let mut names: Vec<&str> = BUDGETS.iter().map(|b| b.krate).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BUDGETS.len(), "a crate has two budgets");
        for krate in [
            "sealpost-codec",
            "sealpost-starttls",
            "sealpost-smime",
            "sealpost-server",
            "sealpost-client",
            "sealpost-mta",
        ] {
            assert!(names.contains(&krate), "{krate} has no budget");
        }
    }
}
