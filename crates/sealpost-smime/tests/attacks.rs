//! Every S/MIME case of the attack list (shared/attacks.md), on real bytes: each gives a
//! clear, typed result and never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use memchr::memmem;
use sealpost_smime::openssl::cms::{CMSOptions, CmsContentInfo};
use sealpost_smime::openssl::ec::{EcGroup, EcKey};
use sealpost_smime::openssl::nid::Nid;
use sealpost_smime::openssl::pkey::{PKey, Private};
use sealpost_smime::openssl::stack::Stack;
use sealpost_smime::*;
use sealpost_test_support::mime::{entity_of, multipart, part};

fn signed_by(who: &str, from: &str, form: SignedForm) -> Vec<u8> {
    sign_message(&identity(who), message(from), &SignOptions::default().form(form)).unwrap()
}

fn only_problem(message: &[u8]) -> Vec<SignerProblem> {
    let v = verifier().verify_message(message).unwrap();
    assert_eq!(v.signers().len(), 1);
    assert!(!v.all_valid());
    v.signers()[0].problems.clone()
}

fn p256() -> PKey<Private> {
    PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap()
}

#[test]
fn tampered_signed_content_fails() {
    let signed = signed_by("alice-rsa", "alice@example.org", SignedForm::Detached);
    let text = String::from_utf8(signed).unwrap();
    let tampered = text.replacen("Hello Bob,", "Hello Bob!", 1).into_bytes();
    let problems = only_problem(&tampered);
    assert!(matches!(problems[..], [SignerProblem::BadSignature(_)]), "{problems:?}");
}

#[test]
fn tampered_opaque_content_fails() {
    let signed = signed_by("alice-ec", "alice@example.org", SignedForm::Opaque);
    let mut der = cms_der_of(&signed);
    let at = memmem::find(&der, b"Hello Bob").unwrap();
    der[at] = b'J';
    let problems = only_problem(&with_cms_der(&signed, &der));
    assert!(matches!(problems[..], [SignerProblem::BadSignature(_)]), "{problems:?}");
}

#[test]
fn tampered_signature_fails() {
    for who in ["alice-rsa", "alice-ec"] {
        let signed = signed_by(who, "alice@example.org", SignedForm::Detached);
        let mut der = cms_der_of(&signed);
        // The signature value is the last field of the last SignerInfo.
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let problems = only_problem(&with_cms_der(&signed, &der));
        assert!(matches!(problems[..], [SignerProblem::BadSignature(_)]), "{who}: {problems:?}");
    }
}

#[test]
fn wrong_ca_is_untrusted() {
    let signed = signed_by("alice-rsa", "alice@example.org", SignedForm::Detached);
    let rogue =
        Verifier::new(VerifyOptions::new(load_certificates(&pki("rogue-root-ca.pem")).unwrap()));
    let v = rogue.verify_message(&signed).unwrap();
    assert!(
        matches!(v.signers()[0].problems[..], [SignerProblem::Untrusted { code: 20, .. }]),
        "{:?}",
        v.signers()[0].problems
    );
}

#[test]
fn expired_signer_fails_and_passes_at_a_time_it_was_valid() {
    // Valid 2024-01-01 .. 2025-01-01 (the test CAs start on 2024-01-01).
    let expired = issue_alice(p256(), 1_704_067_200, 1_735_689_600);
    let signed =
        sign_message(&expired, message("alice@example.org"), &SignOptions::default()).unwrap();
    let problems = only_problem(&signed);
    assert!(matches!(problems[..], [SignerProblem::Expired(_)]), "{problems:?}");
    let then = Verifier::new(
        VerifyOptions::new(load_certificates(&pki("root-ca.pem")).unwrap()).at_time(1_719_792_000),
    );
    assert!(then.verify_message(&signed).unwrap().all_valid());
}

#[test]
fn wrong_eku_and_wrong_key_usage_fail() {
    let problems =
        only_problem(&signed_by("alice-wrong-eku", "alice@example.org", SignedForm::Detached));
    assert_eq!(problems, [SignerProblem::ExtendedKeyUsage]);
    let problems =
        only_problem(&signed_by("alice-wrong-ku", "alice@example.org", SignedForm::Detached));
    assert_eq!(problems, [SignerProblem::KeyUsage]);
}

#[test]
fn signer_other_than_from_is_reported() {
    let problems =
        only_problem(&signed_by("alice-rsa", "Bob <bob@example.org>", SignedForm::Detached));
    assert_eq!(
        problems,
        [SignerProblem::Address(AddressMatch::Mismatch { from: vec!["bob@example.org".into()] })]
    );
}

#[test]
fn several_from_addresses_are_reported() {
    let problems = only_problem(&signed_by(
        "alice-rsa",
        "alice@example.org, mallory@example.net",
        SignedForm::Detached,
    ));
    assert!(
        matches!(problems[..], [SignerProblem::Address(AddressMatch::MultipleFrom(_))]),
        "{problems:?}"
    );
    // Two From fields are no better than one with two addresses.
    let msg = b"From: alice@example.org\r\nFrom: mallory@example.net\r\n\r\nhi\r\n";
    let signed = sign_message(&identity("alice-rsa"), msg, &SignOptions::default()).unwrap();
    let problems = only_problem(&signed);
    assert_eq!(
        problems,
        [SignerProblem::Address(AddressMatch::DuplicateField(OriginatorField::From))]
    );
}

#[test]
fn display_name_that_looks_like_an_address_is_reported() {
    let problems = only_problem(&signed_by(
        "alice-rsa",
        "\"bob@example.org\" <alice@example.org>",
        SignedForm::Detached,
    ));
    assert!(
        matches!(
            problems[..],
            [SignerProblem::Address(AddressMatch::DisplayNameLooksLikeAddress { .. })]
        ),
        "{problems:?}"
    );
}

#[test]
fn detached_signature_with_embedded_content_is_rejected() {
    // An opaque SignedData (which embeds other content) put where a detached signature goes.
    let opaque = signed_by("alice-rsa", "alice@example.org", SignedForm::Opaque);
    let detached = signed_by("alice-rsa", "alice@example.org", SignedForm::Detached);
    let confused = with_cms_der(&detached, &cms_der_of(&opaque));
    assert!(matches!(verifier().verify_message(&confused), Err(Error::DetachedWithContent)));
}

#[test]
fn signed_data_without_signer_infos_is_rejected() {
    let alice = identity("alice-rsa");
    let mut certs = Stack::new().unwrap();
    certs.push(alice.certificate.clone()).unwrap();
    // A detached SignedData with a certificate but no SignerInfo at all.
    let empty = CmsContentInfo::sign::<Private>(
        None,
        None,
        Some(&certs),
        None,
        CMSOptions::PARTIAL | CMSOptions::DETACHED | CMSOptions::BINARY,
    )
    .unwrap()
    .to_der()
    .unwrap();
    let detached = signed_by("alice-rsa", "alice@example.org", SignedForm::Detached);
    let forged = with_cms_der(&detached, &empty);
    assert!(matches!(verifier().verify_message(&forged), Err(Error::NoSigners)));
}

#[test]
fn tampered_gcm_releases_no_plaintext() {
    let enc = encrypt_message(
        &[Recipient::new(cert("bob-rsa"))],
        message("a@example.org"),
        ContentCipher::Aes256Gcm,
    )
    .unwrap();
    let der = cms_der_of(&enc);
    // The authentication tag (an OCTET STRING of 16 bytes) is the last field of
    // AuthEnvelopedData; the ciphertext ends just before it. Both kinds of change must fail.
    assert_eq!(der[der.len() - 18..der.len() - 16], [0x04, 16]);
    let tag_at = der.len() - 1;
    let ct_at = der.len() - 18 - 5;
    for at in [tag_at, ct_at] {
        let mut bad = der.clone();
        bad[at] ^= 0x20;
        let err = decrypt_message(&identity("bob-rsa"), with_cms_der(&enc, &bad)).unwrap_err();
        assert!(matches!(err, Error::Decrypt(_) | Error::Cms(_)), "byte {at}: {err:?}");
    }
}

#[test]
fn cbc_is_reported_unauthenticated_even_when_modified() {
    let enc = encrypt_message(
        &[Recipient::new(cert("bob-ec"))],
        message("a@example.org"),
        ContentCipher::Aes256Cbc,
    )
    .unwrap();
    let ok = decrypt_message(&identity("bob-ec"), &enc).unwrap();
    assert_eq!(ok.decrypted.protection, Protection::Unauthenticated);
    // Flip a bit in the first ciphertext block (so the last block, and the padding, stay
    // intact): CBC decrypts without noticing; the result must still say "unauthenticated".
    let der = cms_der_of(&enc);
    let plain_len = ok.decrypted.content.len();
    let padded = (plain_len / 16 + 1) * 16;
    let ct_start = der.len() - padded;
    let mut bad = der.clone();
    bad[ct_start + 2] ^= 0x01;
    let modified = decrypt_message(&identity("bob-ec"), with_cms_der(&enc, &bad)).unwrap();
    assert_ne!(modified.decrypted.content, ok.decrypted.content);
    assert_eq!(modified.decrypted.protection, Protection::Unauthenticated);
}

#[test]
fn message_for_another_recipient_names_the_recipients() {
    let enc = encrypt_message(
        &[Recipient::new(cert("bob-rsa")), Recipient::new(cert("bob-ec"))],
        message("a@example.org"),
        ContentCipher::Aes256Cbc,
    )
    .unwrap();
    let err = decrypt_message(&identity("alice-rsa"), &enc).unwrap_err();
    let Error::NotForUs { recipients } = &err else { panic!("{err:?}") };
    assert_eq!(recipients.len(), 2);
    let text = err.to_string();
    assert!(text.contains("sealpost Test Intermediate CA"), "{text}");
}

#[test]
fn truncated_input_is_an_error_at_every_length() {
    let signed = signed_by("alice-ec", "alice@example.org", SignedForm::Detached);
    let opaque = signed_by("alice-ec", "alice@example.org", SignedForm::Opaque);
    let enc = encrypt_message(
        &[Recipient::new(cert("bob-ec"))],
        message("a@example.org"),
        ContentCipher::Aes256Gcm,
    )
    .unwrap();
    for msg in [&signed, &opaque] {
        for cut in (1..msg.len() - 4).step_by(37) {
            let r = verifier().verify_message(&msg[..cut]);
            assert!(r.as_ref().map_or(true, |v| !v.all_valid()), "cut at {cut} verified");
        }
    }
    for cut in (1..enc.len() - 4).step_by(37) {
        assert!(decrypt_message(&identity("bob-ec"), &enc[..cut]).is_err(), "cut at {cut}");
    }
    let der = cms_der_of(&opaque);
    for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
        assert!(
            matches!(verifier().verify_cms(&der[..cut], None), Err(Error::Cms(_))),
            "cut {cut}"
        );
    }
}

#[test]
fn garbage_base64_is_an_error() {
    let signed = signed_by("alice-rsa", "alice@example.org", SignedForm::Opaque);
    let text = String::from_utf8(signed).unwrap();
    let body_at = text.find("\r\n\r\n").unwrap() + 4;
    let garbage = format!("{}M!!!@@@ not base64 ###\r\n", &text[..body_at]);
    let err = verifier().verify_message(garbage.as_bytes()).unwrap_err();
    // The decoder's own error is kept as the cause, not flattened into the message.
    let Error::Base64(cause) = &err else { panic!("{err:?}") };
    assert_eq!(cause.to_string(), "Invalid symbol 33, offset 1.");
    assert_eq!(std::error::Error::source(&err).map(ToString::to_string), Some(cause.to_string()));
    let valid_base64_not_der = format!("{}AAAAAAAA\r\n", &text[..body_at]);
    let err = verifier().verify_message(valid_base64_not_der.as_bytes()).unwrap_err();
    let Error::Cms(stack) = &err else { panic!("{err:?}") };
    assert!(!stack.errors().is_empty(), "OpenSSL's reasons are kept");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let alice = identity("alice-ec");
    let mut msg = message("alice@example.org");
    for i in 0..6 {
        let form = if i % 2 == 0 { SignedForm::Detached } else { SignedForm::Opaque };
        msg = sign_message(&alice, &msg, &SignOptions::default().form(form)).unwrap();
    }
    let unwrapper = Unwrapper::new(verifier(), vec![]);
    assert!(matches!(unwrapper.unwrap(&msg), Err(Error::TooDeep(DEFAULT_MAX_DEPTH))));
    let deep = unwrapper.max_depth(6).unwrap(&msg).unwrap();
    assert_eq!(deep.layers.len(), 6);
    assert!(deep.all_signatures_valid());
}

#[test]
fn not_smime_and_encrypted_inputs_are_told_apart() {
    assert!(matches!(
        verifier().verify_message(&message("a@example.org")),
        Err(Error::NotSmime(_))
    ));
    let enc = encrypt_message(
        &[Recipient::new(cert("bob-ec"))],
        message("a@example.org"),
        ContentCipher::Aes256Gcm,
    )
    .unwrap();
    let err = verifier().verify_message(&enc).unwrap_err();
    assert!(err.to_string().contains("decrypt first"), "{err}");
    assert!(matches!(
        decrypt_message(&identity("bob-ec"), message("a@example.org")),
        Err(Error::NotSmime(_))
    ));
}

/// A signed part inside an unsigned multipart is not a signed message, however it is
/// dressed: text prepended, HTML that hides it, or attached as a forwarded message; the
/// library names the signed part when asked.
#[test]
fn a_signed_part_inside_an_unsigned_multipart_is_not_a_signed_message() {
    let signed = signed_by("alice-rsa", "alice@example.org", SignedForm::Detached);
    let opaque = signed_by("alice-rsa", "alice@example.org", SignedForm::Opaque);
    let head = b"From: alice@example.org\r\nMIME-Version: 1.0\r\n";
    let prepended = multipart(
        "mixed",
        "=outer=",
        &[part("Content-Type: text/plain\r\n", b"Pay Mallory.\r\n"), entity_of(&signed)],
    );
    let hidden = multipart(
        "alternative",
        "=outer=",
        &[
            part("Content-Type: text/plain\r\n", b"Pay Mallory.\r\n"),
            part(
                "Content-Type: text/html\r\n",
                b"<p>Pay Mallory.</p><div style=\"display:none\">\r\n",
            ),
            entity_of(&opaque),
        ],
    );
    let attached = multipart(
        "mixed",
        "=inner=",
        &[
            part("Content-Type: text/plain\r\n", b"See the signed mail attached.\r\n"),
            part("Content-Type: message/rfc822\r\n", &signed),
        ],
    );
    let nested = multipart(
        "mixed",
        "=outer=",
        &[part("Content-Type: text/plain\r\n", b"Pay Mallory.\r\n"), attached.clone()],
    );
    // (case, message body, the signed parts: path and media type)
    type Row<'a> = (&'a str, &'a [u8], &'a [(&'a str, &'a str)]);
    let rows: [Row<'_>; 4] = [
        ("prepended", &prepended, &[("2", "multipart/signed")]),
        ("hidden by HTML", &hidden, &[("3", "application/pkcs7-mime")]),
        ("attached", &attached, &[("2", "multipart/signed")]),
        ("nested", &nested, &[("2.2", "multipart/signed")]),
    ];
    for (name, body, expected) in rows {
        let message = [&head[..], body].concat();
        assert!(
            matches!(verifier().verify_message(&message), Err(Error::NotSmime(_))),
            "{name}: a partly signed message must not verify"
        );
        let found: Vec<(String, String)> =
            signed_parts(&message).unwrap().into_iter().map(|p| (p.path, p.media_type)).collect();
        let expected: Vec<(String, String)> =
            expected.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
        assert_eq!(found, expected, "{name}");
    }
    // A message signed as a whole has no signed *part* to point at.
    assert_eq!(signed_parts(&signed).unwrap(), []);
    assert_eq!(signed_parts(&message("alice@example.org")).unwrap(), []);
}

/// splitmix64: a fixed-seed generator, so every run tries the same mutations.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn no_mutation_changes_signed_content_and_still_verifies() {
    let mut seed = 7;
    for form in [SignedForm::Detached, SignedForm::Opaque] {
        let signed = signed_by("alice-ec", "alice@example.org", form);
        let original = verifier().verify_message(&signed).unwrap().entity;
        for _ in 0..150 {
            let mut m = signed.clone();
            for _ in 0..1 + next(&mut seed) % 3 {
                let at = (next(&mut seed) % m.len() as u64) as usize;
                m[at] = next(&mut seed) as u8;
            }
            // Any outcome but a valid signature over other content is acceptable.
            if let Ok(v) = verifier().verify_message(&m)
                && v.all_valid()
            {
                assert_eq!(v.entity, original, "{form:?}: {}", String::from_utf8_lossy(&m));
            }
        }
    }
}

#[test]
fn no_mutation_of_gcm_releases_other_plaintext() {
    let mut seed = 11;
    let msg = message("a@example.org");
    let enc =
        encrypt_message(&[Recipient::new(cert("bob-ec"))], &msg, ContentCipher::Aes256Gcm).unwrap();
    let original = decrypt_message(&identity("bob-ec"), &enc).unwrap().decrypted.content;
    let der = cms_der_of(&enc);
    for _ in 0..200 {
        let mut bad = der.clone();
        let at = (next(&mut seed) % bad.len() as u64) as usize;
        bad[at] ^= 1 << (next(&mut seed) % 8);
        if let Ok(d) = decrypt_cms(&identity("bob-ec"), &bad) {
            assert_eq!(d.content, original, "byte {at}");
        }
    }
}
