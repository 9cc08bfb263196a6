//! Each workspace crate's declared `rust-version` against the `rust-version` its
//! dependencies declare, read from `cargo metadata`.
//!
//! A crate cannot build with an older Rust than any package it compiles, so a dependency that
//! asks for a newer Rust than the crate declares makes the declaration a lie. Only normal
//! dependencies count (a user of the crate never builds its dev-dependencies), followed
//! transitively, with every feature on and on every target, like the layering rules in
//! [`crate::layering`]. Workspace crates count as dependencies too: `sealpost-mta` cannot
//! claim less than the `sealpost-codec` it builds.
//!
//! What this cannot see is the crate's own code: a language feature or std API newer than
//! the declared version. Clippy's `incompatible_msrv` lint covers std APIs (it reads the
//! same `rust-version`); language features are the declared value's honesty (see
//! `docs/ARCHITECTURE.md`, "Packages and minimum Rust").

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;

use crate::metadata::Metadata;

/// A Rust release as `rust-version` spells it: `1.88` or `1.71.1` (a missing patch is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RustVersion {
    /// Always 1 in practice.
    pub major: u32,
    /// The release, such as 88 for Rust 1.88.
    pub minor: u32,
    /// The point release.
    pub patch: u32,
}

impl FromStr for RustVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a rust-version (expected `1.88` or `1.71.1`)");
        let mut parts = s.split('.').map(|p| p.parse::<u32>().map_err(|_| bad()));
        let major = parts.next().ok_or_else(bad)??;
        let minor = parts.next().ok_or_else(bad)??;
        let patch = parts.next().transpose()?.unwrap_or(0);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self { major, minor, patch })
    }
}

impl fmt::Display for RustVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

/// A package of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The crate name.
    pub name: String,
    /// Its version, to tell two versions of one crate apart in messages.
    pub version: String,
    /// The `rust-version` it declares, if any.
    pub rust_version: Option<RustVersion>,
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)?;
        if let Some(rv) = self.rust_version {
            write!(f, " (rust {rv})")?;
        }
        Ok(())
    }
}

/// A declaration that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A workspace crate declares no `rust-version` at all.
    Undeclared {
        /// The crate.
        krate: String,
    },
    /// A crate reaches a package that asks for a newer Rust than the crate declares.
    TooNew {
        /// The crate and its declared version.
        krate: String,
        /// What the crate declares.
        declared: RustVersion,
        /// What the dependency asks for.
        needed: RustVersion,
        /// The packages from the crate to the dependency, both ends included.
        path: Vec<Package>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Undeclared { krate } => {
                write!(f, "{krate} declares no rust-version")
            }
            Violation::TooNew { krate, declared, needed, path } => {
                let path: Vec<String> = path.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{krate} declares rust-version {declared}, but a dependency needs {needed}: {}",
                    path.join(" -> ")
                )
            }
        }
    }
}

/// The packages, their normal dependencies, and which of them are the workspace's.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    packages: BTreeMap<String, Package>,
    deps: BTreeMap<String, Vec<String>>,
    members: Vec<String>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a package under its unique `id`.
    pub fn add_package(&mut self, id: &str, package: Package) {
        self.packages.insert(id.to_owned(), package);
        self.deps.entry(id.to_owned()).or_default();
    }

    /// Marks a package as a workspace member: its declaration is checked.
    pub fn add_member(&mut self, id: &str) {
        self.members.push(id.to_owned());
    }

    /// Records that package `from` has a normal dependency on package `to`.
    pub fn add_normal_dep(&mut self, from: &str, to: &str) {
        self.deps.entry(from.to_owned()).or_default().push(to.to_owned());
    }

    /// The workspace members' packages.
    pub fn members(&self) -> impl Iterator<Item = &Package> {
        self.members.iter().filter_map(|id| self.packages.get(id))
    }

    /// Builds the graph from the JSON of `cargo metadata --format-version 1`.
    pub fn from_metadata_json(json: &str) -> Result<Self, String> {
        let (metadata, resolve) = Metadata::<MetadataPackage>::parse(json)?;
        let mut graph = Graph::new();
        for package in metadata.packages {
            let rust_version = package.rust_version.as_deref().map(str::parse).transpose()?;
            let entry = Package { name: package.name, version: package.version, rust_version };
            graph.add_package(&package.id, entry);
        }
        for id in &metadata.workspace_members {
            graph.add_member(id);
        }
        for (from, to) in resolve.normal_edges() {
            graph.add_normal_dep(from, to);
        }
        Ok(graph)
    }

    /// Checks every workspace member; every broken declaration is reported (for each crate,
    /// each too-new package once, by its shortest path).
    pub fn check(&self) -> Result<(), Vec<Violation>> {
        let mut violations = Vec::new();
        for id in &self.members {
            let Some(member) = self.packages.get(id) else { continue };
            match member.rust_version {
                None => violations.push(Violation::Undeclared { krate: member.name.clone() }),
                Some(declared) => violations.extend(self.too_new(id, member, declared)),
            }
        }
        if violations.is_empty() { Ok(()) } else { Err(violations) }
    }

    /// A breadth-first walk from `start`: each package it reaches that asks for more than
    /// `declared`, with the shortest path to it.
    fn too_new(&self, start: &str, member: &Package, declared: RustVersion) -> Vec<Violation> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            if let Some(needed) = self.packages.get(id).and_then(|p| p.rust_version)
                && needed > declared
            {
                found.push(Violation::TooNew {
                    krate: member.name.clone(),
                    declared,
                    needed,
                    path: self.path_to(&parent, start, id),
                });
            }
            for next in self.deps.get(id).into_iter().flatten() {
                if next != start && !parent.contains_key(next.as_str()) {
                    parent.insert(next, id);
                    queue.push_back(next);
                }
            }
        }
        found
    }

    fn path_to(&self, parent: &HashMap<&str, &str>, start: &str, end: &str) -> Vec<Package> {
        let mut ids = vec![end];
        let mut at = end;
        while at != start {
            match parent.get(at) {
                Some(previous) => at = previous,
                None => break,
            }
            ids.push(at);
        }
        ids.iter().rev().filter_map(|id| self.packages.get(*id)).cloned().collect()
    }
}

/// The graph of the workspace at `root`, from `cargo metadata --all-features`.
///
/// Uses the cargo that runs the tests (`$CARGO`) when there is one.
pub fn workspace_graph(root: &Path) -> Result<Graph, String> {
    Graph::from_metadata_json(&crate::metadata::workspace_json(root)?)
}

/// What the check needs of a package in `cargo metadata`'s output.
#[derive(Deserialize)]
struct MetadataPackage {
    id: String,
    name: String,
    version: String,
    rust_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rv(s: &str) -> RustVersion {
        s.parse().unwrap()
    }

    #[test]
    fn rust_versions_parse_and_order_like_releases() {
        assert_eq!(rv("1.88"), RustVersion { major: 1, minor: 88, patch: 0 });
        assert_eq!(rv("1.71.1"), RustVersion { major: 1, minor: 71, patch: 1 });
        assert!(rv("1.9") < rv("1.10"), "numeric, not lexical");
        assert!(rv("1.88") < rv("1.88.1"));
        assert_eq!(rv("1.88.0"), rv("1.88"));
        assert_eq!(rv("1.71.1").to_string(), "1.71.1");
        assert_eq!(rv("1.88.0").to_string(), "1.88");
        for bad in ["", "1", "1.x", "1.2.3.4", "1.88-nightly"] {
            assert!(bad.parse::<RustVersion>().is_err(), "{bad:?} parsed");
        }
    }

    /// A trimmed `cargo metadata` document: `app` needs `lib`, which needs `resolver`
    /// (1.88, on unix only); `tool` (1.88) needs `app`; `bench-only` (1.90) is only a
    /// dev-dependency of `app`, `gen` (1.91) only a build-dependency. The declarations of
    /// `app`, `lib` and `old` are filled in by [`metadata`].
    const TEMPLATE: &str = r#"{
      "packages": [
        {"id": "path+file:///w/app#0.1.0", "name": "app", "version": "0.1.0", "rust_version": APP},
        {"id": "path+file:///w/lib#0.1.0", "name": "lib", "version": "0.1.0", "rust_version": LIB},
        {"id": "path+file:///w/tool#0.1.0", "name": "tool", "version": "0.1.0", "rust_version": "1.88"},
        {"id": "path+file:///w/old#0.1.0", "name": "old", "version": "0.1.0", "rust_version": OLD},
        {"id": "registry+x#resolver@0.26.3", "name": "resolver", "version": "0.26.3", "rust_version": "1.88"},
        {"id": "registry+x#bench-only@1.0.0", "name": "bench-only", "version": "1.0.0", "rust_version": "1.90"},
        {"id": "registry+x#gen@1.0.0", "name": "gen", "version": "1.0.0", "rust_version": "1.91"},
        {"id": "registry+x#plain@1.0.0", "name": "plain", "version": "1.0.0"}
      ],
      "workspace_members": ["path+file:///w/app#0.1.0", "path+file:///w/lib#0.1.0",
                            "path+file:///w/tool#0.1.0", "path+file:///w/old#0.1.0"],
      "resolve": {"root": null, "nodes": [
        {"id": "path+file:///w/app#0.1.0", "deps": [
          {"pkg": "path+file:///w/lib#0.1.0", "dep_kinds": [{"kind": null, "target": null}]},
          {"pkg": "registry+x#bench-only@1.0.0", "dep_kinds": [{"kind": "dev", "target": null}]},
          {"pkg": "registry+x#gen@1.0.0", "dep_kinds": [{"kind": "build", "target": null}]}
        ]},
        {"id": "path+file:///w/lib#0.1.0", "deps": [
          {"pkg": "registry+x#resolver@0.26.3", "dep_kinds": [{"kind": null, "target": "cfg(unix)"}]},
          {"pkg": "registry+x#plain@1.0.0", "dep_kinds": [{"kind": null, "target": null}]}
        ]},
        {"id": "path+file:///w/tool#0.1.0", "deps": [
          {"pkg": "path+file:///w/app#0.1.0", "dep_kinds": [{"kind": null, "target": null}]}
        ]},
        {"id": "path+file:///w/old#0.1.0", "deps": []},
        {"id": "registry+x#resolver@0.26.3", "deps": []},
        {"id": "registry+x#bench-only@1.0.0", "deps": []},
        {"id": "registry+x#gen@1.0.0", "deps": []},
        {"id": "registry+x#plain@1.0.0", "deps": []}
      ]}
    }"#;

    /// [`TEMPLATE`] with these declarations (JSON values: `"1.85"` or `null`).
    fn metadata(app: &str, lib: &str, old: &str) -> String {
        TEMPLATE.replace("APP", app).replace("LIB", lib).replace("OLD", old)
    }

    #[test]
    fn too_new_normal_dependencies_are_reported_with_their_path() {
        let graph = Graph::from_metadata_json(&metadata(r#""1.85""#, r#""1.85""#, "null")).unwrap();
        let lines: Vec<String> =
            graph.check().unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                // Through the workspace crate in the middle; neither the dev- nor the
                // build-dependency counts.
                "app declares rust-version 1.85, but a dependency needs 1.88: \
                 app 0.1.0 (rust 1.85) -> lib 0.1.0 (rust 1.85) -> resolver 0.26.3 (rust 1.88)",
                "lib declares rust-version 1.85, but a dependency needs 1.88: \
                 lib 0.1.0 (rust 1.85) -> resolver 0.26.3 (rust 1.88)",
                "old declares no rust-version",
            ]
        );
    }

    #[test]
    fn a_workspace_crate_in_the_middle_counts_like_any_dependency() {
        let json = metadata(r#""1.88""#, r#""1.88.1""#, r#""1.56""#);
        let violations = Graph::from_metadata_json(&json).unwrap().check().unwrap_err();
        assert_eq!(
            violations.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "app declares rust-version 1.88, but a dependency needs 1.88.1: \
                 app 0.1.0 (rust 1.88) -> lib 0.1.0 (rust 1.88.1)",
                "tool declares rust-version 1.88, but a dependency needs 1.88.1: \
                 tool 0.1.0 (rust 1.88) -> app 0.1.0 (rust 1.88) -> lib 0.1.0 (rust 1.88.1)",
            ]
        );
    }

    #[test]
    fn a_graph_whose_declarations_hold_passes() {
        let json = metadata(r#""1.88""#, r#""1.88""#, r#""1.56""#);
        assert_eq!(Graph::from_metadata_json(&json).unwrap().check(), Ok(()));
    }

    #[test]
    fn a_malformed_rust_version_is_an_error_not_a_pass() {
        let bad = metadata(r#""1.88""#, r#""soon""#, "null");
        let err = Graph::from_metadata_json(&bad).unwrap_err();
        assert!(err.contains("\"soon\" is not a rust-version"), "{err}");
    }

    #[test]
    fn metadata_without_a_resolve_section_is_an_error() {
        let json = r#"{"packages": [], "workspace_members": [], "resolve": null}"#;
        let err = Graph::from_metadata_json(json).unwrap_err();
        assert!(err.contains("--no-deps"), "{err}");
    }
}
