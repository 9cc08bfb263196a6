//! The layering rules of the design, checked on the dependency graph that
//! `cargo metadata` reports.
//!
//! Only normal dependencies count (not dev- or build-dependencies), followed transitively:
//! a test helper may use tokio, a library may not pull it in for its users. Target-specific
//! dependencies count on every target, and the metadata is read with `--all-features`, so an
//! optional dependency behind a feature cannot slip past the rules either.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::metadata::Metadata;

/// One rule: `krate` must not reach any of `forbidden` through normal dependencies.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The package the rule is about.
    pub krate: &'static str,
    /// Packages it must not depend on, directly or not.
    pub forbidden: &'static [&'static str],
    /// Whether the package must exist: a rule about a package that is not there passes
    /// vacuously, which is only acceptable for crates that have not been written yet.
    pub required: bool,
}

/// The rules of the design (see `design.md`, "Crates and layering").
pub const RULES: &[Rule] = &[
    Rule {
        krate: "sealpost-codec",
        forbidden: &["tokio", "rustls", "tokio-rustls", "openssl", "openssl-sys"],
        required: true,
    },
    Rule { krate: "sealpost-starttls", forbidden: &["openssl", "openssl-sys"], required: false },
    // The server only receives: no file system policy, no OpenSSL, no database client.
    // What makes it a mail server (Maildir, the queue, relaying) is sealpost-mta.
    Rule {
        krate: "sealpost-server",
        forbidden: &[
            "openssl",
            "openssl-sys",
            "sealpost-smime",
            "sealpost-mta",
            "sealpost-client",
            "tokio-postgres",
            "postgres-protocol",
            "deadpool-postgres",
        ],
        required: false,
    },
    // The two drivers sit side by side: the client reaches neither the server nor OpenSSL.
    Rule {
        krate: "sealpost-client",
        forbidden: &["openssl", "openssl-sys", "sealpost-server"],
        required: false,
    },
    Rule {
        krate: "sealpost-smime",
        forbidden: &[
            "sealpost-codec",
            "sealpost-starttls",
            "sealpost-server",
            "sealpost-client",
            "sealpost-mta",
        ],
        required: false,
    },
];

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A package that a rule requires is not in the graph.
    Missing {
        /// The package.
        krate: String,
    },
    /// A package reaches a forbidden one; `path` runs from the first to the last.
    Reaches {
        /// The package the rule is about.
        krate: String,
        /// The forbidden package it reaches.
        forbidden: String,
        /// Package names along the shortest path, both ends included.
        path: Vec<String>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Missing { krate } => write!(
                f,
                "{krate} is not in the dependency graph, so its layering cannot be checked"
            ),
            Violation::Reaches { krate, forbidden, path } => {
                write!(f, "{krate} must not depend on {forbidden}, but does: {}", path.join(" -> "))
            }
        }
    }
}

/// Packages and their normal dependencies.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    /// Package id to package name.
    names: BTreeMap<String, String>,
    /// Package id to the ids of its normal dependencies.
    deps: BTreeMap<String, Vec<String>>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a package; `id` is unique, `name` need not be (two versions of one crate).
    pub fn add_package(&mut self, id: &str, name: &str) {
        self.names.insert(id.to_owned(), name.to_owned());
        self.deps.entry(id.to_owned()).or_default();
    }

    /// Records that package `from` has a normal dependency on package `to`.
    pub fn add_normal_dep(&mut self, from: &str, to: &str) {
        self.deps.entry(from.to_owned()).or_default().push(to.to_owned());
    }

    /// Builds the graph from the JSON of `cargo metadata --format-version 1`.
    pub fn from_metadata_json(json: &str) -> Result<Self, String> {
        let (metadata, resolve) = Metadata::<Package>::parse(json)?;
        let mut graph = Graph::new();
        for package in &metadata.packages {
            graph.add_package(&package.id, &package.name);
        }
        for (from, to) in resolve.normal_edges() {
            graph.add_normal_dep(from, to);
        }
        Ok(graph)
    }

    /// Whether some package has this name.
    pub fn contains(&self, name: &str) -> bool {
        self.names.values().any(|n| n == name)
    }

    /// The shortest chain of normal dependencies from the package named `from` to one
    /// named `to`, as package names, if there is one.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let starts = self.ids_named(from);
        let mut parent: HashMap<&str, Option<&str>> = HashMap::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for id in starts {
            parent.insert(id, None);
            queue.push_back(id);
        }
        while let Some(id) = queue.pop_front() {
            if self.name(id) == to {
                return Some(self.walk_back(&parent, id));
            }
            for next in self.deps.get(id).into_iter().flatten() {
                if !parent.contains_key(next.as_str()) {
                    parent.insert(next, Some(id));
                    queue.push_back(next);
                }
            }
        }
        None
    }

    fn ids_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.names.iter().filter(move |(_, n)| *n == name).map(|(id, _)| id.as_str())
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    fn walk_back(&self, parent: &HashMap<&str, Option<&str>>, end: &str) -> Vec<String> {
        let mut path = vec![self.name(end).to_owned()];
        let mut at = end;
        while let Some(Some(previous)) = parent.get(at) {
            path.push(self.name(previous).to_owned());
            at = previous;
        }
        path.reverse();
        path
    }
}

/// The graph of the workspace at `root`, from `cargo metadata --all-features`.
///
/// Uses the cargo that runs the tests (`$CARGO`) when there is one.
pub fn workspace_graph(root: &Path) -> Result<Graph, String> {
    Graph::from_metadata_json(&crate::metadata::workspace_json(root)?)
}

/// Checks `rules` on `graph`; every broken rule is reported, not just the first.
pub fn check(graph: &Graph, rules: &[Rule]) -> Result<(), Vec<Violation>> {
    let mut violations = Vec::new();
    for rule in rules {
        if !graph.contains(rule.krate) {
            if rule.required {
                violations.push(Violation::Missing { krate: rule.krate.to_owned() });
            }
            continue;
        }
        for forbidden in rule.forbidden {
            if let Some(path) = graph.path(rule.krate, forbidden) {
                violations.push(Violation::Reaches {
                    krate: rule.krate.to_owned(),
                    forbidden: (*forbidden).to_owned(),
                    path,
                });
            }
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(violations) }
}

/// What the rules need of a package in `cargo metadata`'s output.
#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut graph = Graph::new();
        for (from, to) in edges {
            graph.add_package(from, from);
            graph.add_package(to, to);
        }
        for (from, to) in edges {
            graph.add_normal_dep(from, to);
        }
        graph
    }

    #[test]
    fn a_transitive_forbidden_dependency_is_reported_with_its_path() {
        let g = graph(&[
            ("sealpost-codec", "nom"),
            ("sealpost-codec", "helper"),
            ("helper", "tokio-util"),
            ("tokio-util", "tokio"),
        ]);
        let violations = check(&g, RULES).unwrap_err();
        assert_eq!(
            violations,
            [Violation::Reaches {
                krate: "sealpost-codec".into(),
                forbidden: "tokio".into(),
                path: vec![
                    "sealpost-codec".into(),
                    "helper".into(),
                    "tokio-util".into(),
                    "tokio".into()
                ],
            }]
        );
        assert_eq!(
            violations[0].to_string(),
            "sealpost-codec must not depend on tokio, but does: \
             sealpost-codec -> helper -> tokio-util -> tokio"
        );
    }

    #[test]
    fn a_clean_graph_passes() {
        let g = graph(&[
            ("sealpost-codec", "nom"),
            ("nom", "memchr"),
            ("sealpost-starttls", "sealpost-codec"),
            ("sealpost-starttls", "tokio-rustls"),
            ("tokio-rustls", "rustls"),
            ("sealpost-smime", "openssl"),
            ("openssl", "openssl-sys"),
        ]);
        assert_eq!(check(&g, RULES), Ok(()));
    }

    #[test]
    fn every_rule_of_every_present_crate_is_checked() {
        let g = graph(&[
            ("sealpost-codec", "nom"),
            ("sealpost-starttls", "native-tls"),
            ("native-tls", "openssl"),
            ("openssl", "openssl-sys"),
            ("sealpost-smime", "sealpost-codec"),
        ]);
        let violations = check(&g, RULES).unwrap_err();
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "sealpost-starttls must not depend on openssl, but does: \
                 sealpost-starttls -> native-tls -> openssl",
                "sealpost-starttls must not depend on openssl-sys, but does: \
                 sealpost-starttls -> native-tls -> openssl -> openssl-sys",
                "sealpost-smime must not depend on sealpost-codec, but does: \
                 sealpost-smime -> sealpost-codec",
            ]
        );
    }

    #[test]
    fn a_missing_codec_fails_instead_of_passing_vacuously() {
        let g = graph(&[("sealpost-starttls", "rustls")]);
        assert_eq!(
            check(&g, RULES),
            Err(vec![Violation::Missing { krate: "sealpost-codec".into() }])
        );
    }

    /// A trimmed `cargo metadata` document: tokio is only a dev-dependency of the codec,
    /// openssl only a build-dependency, and `bytes` both dev and normal.
    const METADATA: &str = r#"{
      "packages": [
        {"id": "path+file:///w/crates/sealpost-codec#0.1.0", "name": "sealpost-codec"},
        {"id": "registry+https://github.com/rust-lang/crates.io-index#tokio@1.0.0", "name": "tokio"},
        {"id": "registry+https://github.com/rust-lang/crates.io-index#openssl@0.10.0", "name": "openssl"},
        {"id": "registry+https://github.com/rust-lang/crates.io-index#bytes@1.0.0", "name": "bytes"}
      ],
      "resolve": {"root": null, "nodes": [
        {"id": "path+file:///w/crates/sealpost-codec#0.1.0", "deps": [
          {"name": "tokio", "pkg": "registry+https://github.com/rust-lang/crates.io-index#tokio@1.0.0",
           "dep_kinds": [{"kind": "dev", "target": null}]},
          {"name": "openssl", "pkg": "registry+https://github.com/rust-lang/crates.io-index#openssl@0.10.0",
           "dep_kinds": [{"kind": "build", "target": null}]},
          {"name": "bytes", "pkg": "registry+https://github.com/rust-lang/crates.io-index#bytes@1.0.0",
           "dep_kinds": [{"kind": "dev", "target": null}, {"kind": null, "target": "cfg(unix)"}]}
        ]},
        {"id": "registry+https://github.com/rust-lang/crates.io-index#bytes@1.0.0", "deps": [
          {"name": "tokio", "pkg": "registry+https://github.com/rust-lang/crates.io-index#tokio@1.0.0",
           "dep_kinds": [{"kind": null, "target": null}]}
        ]},
        {"id": "registry+https://github.com/rust-lang/crates.io-index#tokio@1.0.0", "deps": []},
        {"id": "registry+https://github.com/rust-lang/crates.io-index#openssl@0.10.0", "deps": []}
      ]}
    }"#;

    #[test]
    fn metadata_edges_count_only_when_normal() {
        let g = Graph::from_metadata_json(METADATA).unwrap();
        assert_eq!(g.path("sealpost-codec", "openssl"), None);
        assert_eq!(
            g.path("sealpost-codec", "bytes"),
            Some(vec!["sealpost-codec".into(), "bytes".into()])
        );
        // tokio is reached, but through the normal edge to bytes, not the dev edge.
        assert_eq!(
            g.path("sealpost-codec", "tokio"),
            Some(vec!["sealpost-codec".into(), "bytes".into(), "tokio".into()])
        );
    }

    #[test]
    fn metadata_without_a_resolve_section_is_an_error() {
        let err = Graph::from_metadata_json(r#"{"packages": [], "resolve": null}"#).unwrap_err();
        assert!(err.contains("--no-deps"), "{err}");
    }
}
