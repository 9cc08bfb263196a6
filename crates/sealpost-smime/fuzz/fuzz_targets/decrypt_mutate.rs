//! A valid AuthEnvelopedData (AES-256-GCM) or EnvelopedData (AES-256-CBC) for the fixed
//! key, changed at arbitrary positions of its DER (bits flipped, bytes set, inserted,
//! removed, the end cut), decrypted as DER (`decrypt_cms`) and as a message
//! (`decrypt_message`).
//!
//! Properties: no panic; the unchanged envelope decrypts to the fixture's plaintext; a
//! changed AuthEnvelopedData either fails or gives exactly the original plaintext (no
//! plaintext is released when the GCM tag does not match, and no other plaintext can
//! match it), reported as authenticated.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_smime::{Protection, decrypt_cms, decrypt_message};
use sealpost_smime_fuzz::fixtures::{fixtures, pkcs7_mime};
use sealpost_smime_fuzz::mutation::{Mutation, apply};

#[derive(Arbitrary, Debug)]
struct Input {
    gcm: bool,
    as_message: bool,
    mutations: Vec<Mutation>,
}

fuzz_target!(|input: Input| {
    let f = fixtures();
    let original = if input.gcm { &f.enveloped_gcm } else { &f.enveloped_cbc };
    let mut der = original.clone();
    apply(&mut der, &input.mutations);
    let result = if input.as_message {
        let smime_type = if input.gcm { "authEnveloped-data" } else { "enveloped-data" };
        decrypt_message(&f.bob, pkcs7_mime(&der, smime_type)).map(|m| m.decrypted)
    } else {
        decrypt_cms(&f.bob, &der)
    };
    if der == *original {
        let opened = result.expect("the unchanged envelope decrypts");
        assert_eq!(opened.content, f.plaintext);
        return;
    }
    if input.gcm
        && let Ok(opened) = result
    {
        assert_eq!(
            opened.content, f.plaintext,
            "a changed AuthEnvelopedData released other plaintext"
        );
        assert_eq!(opened.protection, Protection::Authenticated);
    }
});
