//! The design's layering rules hold for the workspace as it is: reads `cargo metadata` (all
//! features, all targets) and checks [`sealpost_tests::layering::RULES`].

use sealpost_tests::layering::{RULES, check, workspace_graph};
use sealpost_tests::workspace_root;

#[test]
fn the_workspace_respects_the_layering_rules() {
    let graph = workspace_graph(&workspace_root()).unwrap();
    // Every crate a rule speaks of exists now: a rule about a missing crate would pass
    // without checking anything.
    for rule in RULES {
        assert!(graph.contains(rule.krate), "{} is not in the workspace graph", rule.krate);
    }
    // The drivers and the MTA reach what they must, so the graph is the real one.
    assert!(graph.path("sealpost-client", "sealpost-starttls").is_some());
    assert!(graph.path("sealpost-mta", "sealpost-smime").is_some());
    assert!(graph.path("sealpost-mta", "sealpost-server").is_some());
    assert!(graph.path("sealpost-mta", "sealpost-client").is_some());
    if let Err(violations) = check(&graph, RULES) {
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!("layering rules broken:\n  {}", lines.join("\n  "));
    }
}

#[test]
fn the_graph_read_from_cargo_metadata_has_real_edges() {
    // Guards against a parser that drops every edge, which would make the rules pass.
    let graph = workspace_graph(&workspace_root()).unwrap();
    assert!(graph.contains("sealpost-codec"));
    assert_eq!(
        graph.path("sealpost-tests", "serde_json"),
        Some(vec!["sealpost-tests".to_owned(), "serde_json".to_owned()])
    );
    assert!(
        graph.path("serde_json", "serde_core").is_some(),
        "transitive edges of dependencies are missing"
    );
}
