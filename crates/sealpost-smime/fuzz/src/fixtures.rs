//! The fixed trust store, keys and messages of every run.
//!
//! The certificates and keys are the repository's committed test PKI (`tests/pki`, made by
//! `cargo xtask certs`), compiled in. The signed and encrypted messages are made once at
//! start with the library itself: the same content and keys each run (the signature's
//! signing time and the content-encryption key differ from run to run, which no property
//! depends on). Verification happens at a fixed time, so results do not change with the
//! clock.

use std::sync::OnceLock;

use sealpost_smime::{
    ContentCipher, Identity, Recipient, SignOptions, Verifier, VerifyOptions, encrypt_cms,
    load_certificates, sign_message,
};

macro_rules! pki {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../tests/pki/", $name))
    };
}

/// The instant every verification is made at: 2027-01-15, inside every test certificate's
/// validity (2024 to 2124).
pub const VERIFY_AT: i64 = 1_800_000_000;

/// The one address the signer's certificate names.
pub const SIGNER_ADDRESS: &str = "alice@example.org";

/// The message the signer signs and the recipient gets encrypted.
pub const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n\
Subject: fixture\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Hello Bob,\r\nthis is the fuzzing fixture.\r\n";

/// Everything made once per run.
pub struct Fixtures {
    /// Trusts the test root CA, verifies at [`VERIFY_AT`].
    pub verifier: Verifier,
    /// Bob's EC key and certificate: the fixed decryption key.
    pub bob: Identity,
    /// [`MESSAGE`] signed by Alice (RSA), multipart/signed.
    pub signed: Vec<u8>,
    /// The signed entity of [`Fixtures::signed`] (first part of the multipart/signed),
    /// byte for byte.
    pub signed_entity: Vec<u8>,
    /// The detached SignedData (DER) of [`Fixtures::signed`].
    pub signature_der: Vec<u8>,
    /// The plaintext entity that the encrypted fixtures hold.
    pub plaintext: Vec<u8>,
    /// AuthEnvelopedData (AES-256-GCM) for Bob (EC) and Bob (RSA), DER.
    pub enveloped_gcm: Vec<u8>,
    /// EnvelopedData (AES-256-CBC) for the same recipients, DER.
    pub enveloped_cbc: Vec<u8>,
}

/// The fixtures of this run, made on first use.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(make)
}

fn identity(chain: &[u8], key: &[u8]) -> Identity {
    Identity::from_cert_and_key(chain, key, None).expect("test PKI identity")
}

fn make() -> Fixtures {
    let anchors = load_certificates(pki!("root-ca.pem")).expect("test root CA");
    let verifier = Verifier::new(VerifyOptions::new(anchors).at_time(VERIFY_AT));
    let alice = identity(pki!("smime-alice-rsa-chain.pem"), pki!("smime-alice-rsa-key.pem"));
    let bob = identity(pki!("smime-bob-ec-chain.pem"), pki!("smime-bob-ec-key.pem"));
    let bob_rsa = identity(pki!("smime-bob-rsa-chain.pem"), pki!("smime-bob-rsa-key.pem"));

    let signed = sign_message(&alice, MESSAGE, &SignOptions::default()).expect("signing");
    let verified = verifier.verify_message(&signed).expect("the fixture verifies");
    assert!(verified.all_valid(), "the fixture signature is not valid: {:?}", verified.signers());
    let (_, signature_der, signed_entity) = crate::mime::detached_parts(&signed);

    let plaintext = verified.entity.clone();
    let recipients = [
        Recipient::new(bob.certificate.clone()).reads_gcm(true),
        Recipient::new(bob_rsa.certificate.clone()).reads_gcm(true),
    ];
    let (enveloped_gcm, _) =
        encrypt_cms(&recipients, &plaintext, ContentCipher::Aes256Gcm).expect("GCM");
    let (enveloped_cbc, _) =
        encrypt_cms(&recipients, &plaintext, ContentCipher::Aes256Cbc).expect("CBC");
    Fixtures {
        verifier,
        bob,
        signed,
        signed_entity,
        signature_der,
        plaintext,
        enveloped_gcm,
        enveloped_cbc,
    }
}

/// An application/pkcs7-mime message around `der` (base64, 76-column lines), as a mail
/// client would send it.
pub fn pkcs7_mime(der: &[u8], smime_type: &str) -> Vec<u8> {
    let mut out = format!(
        "From: alice@example.org\r\nTo: bob@example.org\r\nMIME-Version: 1.0\r\n\
         Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&sealpost_smime::fuzzing::encode_base64(der));
    out
}
