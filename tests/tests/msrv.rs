//! Every workspace crate's `rust-version` holds for its dependency graph as `cargo metadata`
//! reports it (all features, all targets): see [`sealpost_tests::msrv`].

use sealpost_tests::msrv::{RustVersion, workspace_graph};
use sealpost_tests::workspace_root;

#[test]
fn no_dependency_needs_a_newer_rust_than_its_crate_declares() {
    let graph = workspace_graph(&workspace_root()).unwrap();
    if let Err(violations) = graph.check() {
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!("rust-version declarations broken:\n  {}", lines.join("\n  "));
    }
}

#[test]
fn the_graph_read_from_cargo_metadata_has_the_workspace_and_its_declarations() {
    // Guards against a parser that finds no members or no declarations, which would pass.
    let graph = workspace_graph(&workspace_root()).unwrap();
    let members: Vec<&str> = graph.members().map(|p| p.name.as_str()).collect();
    for krate in ["sealpost-codec", "sealpost-starttls", "sealpost-mta", "sealpost"] {
        assert!(members.contains(&krate), "{krate} missing from {members:?}");
    }
    let mta = graph.members().find(|p| p.name == "sealpost-mta").unwrap();
    // The file queue locks with std::fs::File::lock, stable since 1.89.
    assert!(mta.rust_version >= Some("1.89".parse::<RustVersion>().unwrap()), "{mta}");
}
