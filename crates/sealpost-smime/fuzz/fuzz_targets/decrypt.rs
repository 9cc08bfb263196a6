//! `decrypt_message` and `decrypt_cms` with a fixed key and certificate (the test PKI's
//! Bob, EC) on arbitrary bytes.
//!
//! Properties: no panic; a decrypted message ends with the decrypted entity in canonical
//! form.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_smime::fuzzing;
use sealpost_smime_fuzz::fixtures::fixtures;

#[derive(Arbitrary, Debug)]
enum Input {
    /// A whole message.
    Message(Vec<u8>),
    /// A DER (Auth)EnvelopedData.
    Cms(Vec<u8>),
}

fuzz_target!(|input: Input| {
    let bob = &fixtures().bob;
    match input {
        Input::Message(bytes) => {
            if let Ok(opened) = sealpost_smime::decrypt_message(bob, &bytes) {
                let entity = fuzzing::canonicalize(&opened.decrypted.content);
                assert!(opened.message.ends_with(&entity));
            }
        }
        Input::Cms(der) => {
            let _ = sealpost_smime::decrypt_cms(bob, &der);
        }
    }
});
