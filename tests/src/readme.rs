//! The workspace README's examples, compiled and run as doc-tests here: the crates' own
//! READMEs are theirs and ship with them, the workspace README ships with none.

/// The examples of the workspace's `README.md`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
