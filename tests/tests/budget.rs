//! The dependency budget holds for the workspace as it is: every library crate's count of
//! crates pulled in (minimal and default features, from `cargo tree`) is within its budget
//! in [`sealpost_tests::budget::BUDGETS`], and the heavy crates stay out of the trees that
//! [`sealpost_tests::budget::ABSENT`] keeps lean.

use sealpost_tests::budget::{
    ABSENT, BUDGETS, Features, check_absent, check_count, packages, tree,
};
use sealpost_tests::workspace_root;

#[test]
fn every_library_stays_within_its_dependency_budget() {
    let root = workspace_root();
    let mut breaches = Vec::new();
    let mut measured = Vec::new();
    for budget in BUDGETS {
        let mut counts = [0; 2];
        for (slot, features) in counts.iter_mut().zip([Features::Minimal, Features::Default]) {
            let listing = tree(&root, budget.krate, features).unwrap();
            let found = packages(&listing, budget.krate).unwrap();
            *slot = found.len();
            if let Err(breach) =
                check_count(budget.krate, features, found.len(), budget.of(features))
            {
                breaches.push(breach.to_string());
            }
        }
        measured.push(format!(
            "Budget {{ krate: {:?}, minimal: {}, default: {} }},",
            budget.krate, counts[0], counts[1]
        ));
    }
    assert!(
        breaches.is_empty(),
        "dependency budget broken:\n  {}\nmeasured now:\n  {}",
        breaches.join("\n  "),
        measured.join("\n  ")
    );
}

#[test]
fn the_heavy_crates_stay_out_of_the_lean_trees() {
    let root = workspace_root();
    let mut breaches = Vec::new();
    for (krate, features, unwanted) in ABSENT {
        let found = packages(&tree(&root, krate, *features).unwrap(), krate).unwrap();
        breaches.extend(check_absent(krate, *features, &found, unwanted));
    }
    let lines: Vec<String> = breaches.iter().map(ToString::to_string).collect();
    assert!(lines.is_empty(), "{}", lines.join("\n"));
}

#[test]
fn the_counts_come_from_real_trees() {
    // Guards against a listing that lost its edges, which would make every budget pass:
    // the default transport really has the resolver and the HTTP client, and the minimal
    // one is smaller.
    let root = workspace_root();
    let krate = "sealpost-starttls";
    let default = packages(&tree(&root, krate, Features::Default).unwrap(), krate).unwrap();
    let minimal = packages(&tree(&root, krate, Features::Minimal).unwrap(), krate).unwrap();
    for name in ["hickory-resolver", "hyper", "rustls", "tokio"] {
        assert!(default.iter().any(|p| p.name == name), "{name} missing from the default tree");
    }
    assert!(minimal.iter().any(|p| p.name == "rustls"));
    assert!(minimal.is_subset(&default) && minimal.len() < default.len());
}
