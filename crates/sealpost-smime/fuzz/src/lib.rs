//! What the fuzz targets of sealpost-smime share: the fixed test PKI and the messages made
//! with it once per run ([`fixtures`]), byte-level mutations of a valid input
//! ([`mutation`]), an `Arbitrary` MIME tree rendered to bytes ([`tree`]), arbitrary header
//! fields around a signed body ([`header`]), and the checks on MIME structure ([`mime`]).
//!
//! A check panics (which libFuzzer reports as a crash) when a property does not hold.

pub mod fixtures;
pub mod header;
pub mod mime;
pub mod mutation;
pub mod tree;
