//! `Verifier::verify_message` and `Verifier::verify_cms` with a fixed trust store (the test
//! root CA, at a fixed time): on arbitrary bytes, and on the fixture's signed message or
//! detached signature changed at arbitrary positions.
//!
//! Properties: no panic; a change that leaves a signer valid leaves the signed entity as
//! it was (the content a valid signature vouches for is the content that was signed);
//! `verify_cms` on the unchanged signature and content finds the one valid signer.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_smime_fuzz::fixtures::fixtures;
use sealpost_smime_fuzz::mutation::{Mutation, apply};

#[derive(Arbitrary, Debug)]
enum Input {
    /// A whole message.
    Message(Vec<u8>),
    /// A DER SignedData, opaque or with detached content.
    Cms { der: Vec<u8>, detached: Option<Vec<u8>> },
    /// The fixture's multipart/signed message, changed.
    ChangedMessage(Vec<Mutation>),
    /// The fixture's detached signature, changed, over its content (changed too).
    ChangedSignature { signature: Vec<Mutation>, content: Vec<Mutation> },
}

fuzz_target!(|input: Input| {
    let f = fixtures();
    match input {
        Input::Message(bytes) => {
            let _ = f.verifier.verify_message(&bytes);
        }
        Input::Cms { der, detached } => {
            let _ = f.verifier.verify_cms(&der, detached.as_deref());
        }
        Input::ChangedMessage(mutations) => {
            let mut message = f.signed.clone();
            apply(&mut message, &mutations);
            if let Ok(verified) = f.verifier.verify_message(&message)
                && verified.signers().iter().any(|s| s.is_valid())
            {
                assert_eq!(
                    verified.entity, f.signed_entity,
                    "a valid signature over changed content"
                );
            }
        }
        Input::ChangedSignature { signature, content } => {
            let mut der = f.signature_der.clone();
            apply(&mut der, &signature);
            let mut entity = f.signed_entity.clone();
            apply(&mut entity, &content);
            let result = f.verifier.verify_cms(&der, Some(&entity));
            if der == f.signature_der && entity == f.signed_entity {
                let signed = result.expect("the fixture signature verifies");
                assert!(signed.all_valid() && signed.signers.len() == 1);
            } else if let Ok(signed) = result
                && signed.signers.iter().any(|s| s.is_valid())
            {
                assert_eq!(entity, f.signed_entity, "a valid signature over changed content");
            }
        }
    }
});
