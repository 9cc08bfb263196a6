//! Reading `cargo metadata`: what the layering rules and the rust-version check share.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The JSON of `cargo metadata --format-version 1 --all-features` for the workspace at
/// `root`, with every target's dependencies (no `--filter-platform`).
///
/// Uses the cargo that runs the tests (`$CARGO`) when there is one.
pub(crate) fn workspace_json(root: &Path) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--all-features", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .output()
        .map_err(|err| format!("could not run {cargo} metadata: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|err| format!("cargo metadata printed something that is not UTF-8: {err}"))
}

/// The parts of a `cargo metadata` document a check needs; `P` is its view of a package.
#[derive(Deserialize)]
pub(crate) struct Metadata<P> {
    pub(crate) packages: Vec<P>,
    #[serde(default)]
    pub(crate) workspace_members: Vec<String>,
    resolve: Option<Resolve>,
}

impl<P: DeserializeOwned> Metadata<P> {
    /// Parses the JSON of `cargo metadata --format-version 1`, and takes out its
    /// dependency graph (which `--no-deps` leaves out: an error, not an empty graph).
    pub(crate) fn parse(json: &str) -> Result<(Self, Resolve), String> {
        let mut metadata: Self = serde_json::from_str(json)
            .map_err(|err| format!("not the JSON of `cargo metadata`: {err}"))?;
        let resolve = metadata
            .resolve
            .take()
            .ok_or("`cargo metadata` was run with --no-deps: there is no dependency graph")?;
        Ok((metadata, resolve))
    }
}

/// The `resolve` section: the dependency graph as cargo resolved it.
#[derive(Deserialize)]
pub(crate) struct Resolve {
    pub(crate) nodes: Vec<Node>,
}

impl Resolve {
    /// Every normal dependency edge, as (from, to) package ids.
    pub(crate) fn normal_edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.nodes.iter().flat_map(|node| {
            node.deps
                .iter()
                .filter(|dep| dep.is_normal())
                .map(move |dep| (node.id.as_str(), dep.pkg.as_str()))
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct Node {
    id: String,
    #[serde(default)]
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    #[serde(default)]
    dep_kinds: Vec<DepKind>,
}

impl NodeDep {
    /// Normal if any of its kinds is normal (`"kind": null`). Cargo before 1.41 gave no
    /// kinds at all: count that as normal, which can only make the checks stricter.
    fn is_normal(&self) -> bool {
        self.dep_kinds.is_empty() || self.dep_kinds.iter().any(|k| k.kind.is_none())
    }
}

#[derive(Deserialize)]
struct DepKind {
    kind: Option<String>,
}
