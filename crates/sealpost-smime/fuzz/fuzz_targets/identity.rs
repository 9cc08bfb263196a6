//! Who signed against who the reader sees: the fixture's multipart/signed body (signed
//! once by the test signer, alice@example.org) under arbitrary outer header fields (From,
//! Sender, duplicates, display names, encoded-words, comments, NUL, bare CR and LF).
//!
//! Properties: verification never panics; a signer reported valid implies that a reader
//! (mailparse on the raw message) finds exactly one From field, holding exactly one
//! address (not a group), equal (ignoring ASCII case) to an address of the signer's
//! certificate.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_smime::fuzzing;
use sealpost_smime_fuzz::fixtures::fixtures;
use sealpost_smime_fuzz::header::{self, Field};

#[derive(Arbitrary, Debug)]
struct Input {
    fields: Vec<Field>,
}

/// The fixture's Content-Type and MIME-Version fields, the empty line and the body: the
/// part of the signed message that the outer fields are put before.
fn signed_body() -> &'static [u8] {
    static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let (fields, body) = fuzzing::split(&fixtures().signed).expect("fixture header");
        let mut out: Vec<u8> = fields
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Content-Type"))
            .flat_map(|(_, raw)| raw)
            .collect();
        out.extend_from_slice(b"MIME-Version: 1.0\r\n\r\n");
        out.extend_from_slice(body);
        out
    })
}

fuzz_target!(|input: Input| {
    let mut message = header::render(&input.fields);
    message.extend_from_slice(signed_body());
    let Ok(verified) = fixtures().verifier.verify_message(&message) else { return };
    for signer in verified.signers().iter().filter(|s| s.is_valid()) {
        let from = header::reader_from_fields(&message)
            .unwrap_or_else(|| panic!("valid signer, but a reader cannot parse the header"));
        let [Ok(list)] = from.as_slice() else {
            panic!("valid signer, but a reader sees {} From fields: {from:?}", from.len());
        };
        let [mailparse::MailAddr::Single(author)] = &list[..] else {
            panic!("valid signer, but From holds {list:?}");
        };
        assert!(
            signer.addresses.iter().any(|a| a.eq_ignore_ascii_case(&author.addr)),
            "valid signer {:?}, but the reader's author is {:?} ({:?})",
            signer.addresses,
            author.addr,
            author.display_name
        );
    }
});
