//! A structure-aware MIME walk: an `Arbitrary` tree of multiparts and leaves (boundaries,
//! preambles, epilogues, media types, transfer encodings, nesting), wrapped in up to 40
//! more multipart levels, rendered to a message; then the 7-bit re-encoding that signing
//! and encryption do (`body_entity`), read back with the crate's readers.
//!
//! Properties: no panic; more than `MAX_MULTIPART_DEPTH` levels are refused with
//! `MultipartTooDeep`; otherwise the readers find the tree as rendered (the same parts,
//! each leaf's content after decoding), both before and after the re-encoding, and the
//! outer fields are kept as they were.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_smime::Error;
use sealpost_smime::fuzzing::{self, MAX_MULTIPART_DEPTH};
use sealpost_smime_fuzz::tree::{self, Multipart, Node, Subtype};

#[derive(Arbitrary, Debug)]
struct Input {
    root: Node,
    /// Extra single-part multipart levels around the root (0 to 40).
    wrappers: u8,
}

fuzz_target!(|input: Input| {
    let mut root = input.root;
    for _ in 0..input.wrappers % 41 {
        root = Node::Multipart(Multipart {
            subtype: Subtype::Mixed,
            boundary: String::new(),
            quoted: false,
            padding: false,
            preamble: Vec::new(),
            epilogue: Vec::new(),
            parts: vec![root],
        });
    }
    let mut counter = 0;
    let rendered = tree::render(&root, &mut counter);
    let mut message = b"From: alice@example.org\r\nSubject: tree\r\nMIME-Version: 1.0\r\n".to_vec();
    message.extend_from_slice(&rendered.bytes);

    let result = fuzzing::body_entity(&message);
    if !rendered.unambiguous {
        return;
    }
    let levels = rendered.expected.levels();
    if levels <= 64 {
        assert_eq!(
            tree::read(&rendered.bytes, 0),
            Ok(rendered.expected.clone()),
            "rendered tree misread"
        );
    }
    if levels > MAX_MULTIPART_DEPTH {
        assert!(
            matches!(result, Err(Error::MultipartTooDeep(MAX_MULTIPART_DEPTH))),
            "{levels} levels not refused: {result:?}"
        );
        return;
    }
    let (outer, entity) = match result {
        Ok(done) => done,
        Err(e) => panic!("a well-formed tree of {levels} levels refused: {e}"),
    };
    assert_eq!(outer, b"From: alice@example.org\r\nSubject: tree\r\n");
    assert_eq!(tree::read(&entity, 0), Ok(rendered.expected), "re-encoded tree misread");
});
