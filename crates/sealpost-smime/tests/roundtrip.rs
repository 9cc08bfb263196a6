//! Sign / verify / encrypt / decrypt round trips for every key type and form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use memchr::memmem;
use sealpost_smime::*;

const SIGNERS: [&str; 4] = ["alice-rsa", "alice-ec", "bob-rsa", "bob-ec"];

fn address_of(who: &str) -> &'static str {
    if who.starts_with("alice") { "Alice <alice@example.org>" } else { "Bob <bob@example.org>" }
}

#[test]
fn sign_and_verify_every_key_and_form() {
    for who in SIGNERS {
        for form in [SignedForm::Detached, SignedForm::Opaque] {
            for digest in [Digest::Sha256, Digest::Sha384, Digest::Sha512] {
                let id = identity(who);
                let msg = message(address_of(who));
                let opts = SignOptions::default().form(form).digest(digest);
                let signed = sign_message(&id, &msg, &opts).unwrap();
                let verified = verifier().verify_message(&signed).unwrap();
                assert_eq!(verified.form, form);
                assert_eq!(verified.signers().len(), 1);
                let s = &verified.signers()[0];
                assert!(s.is_valid(), "{who} {form:?} {digest:?}: {:?}", s.problems);
                assert!(s.address_match.is_match());
                assert!(s.signing_time.is_some());
                assert_eq!(&s.capabilities[..], &ANNOUNCED_CAPABILITIES[..]);
                assert_eq!(
                    verified.entity,
                    b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob,\r\nthis is a test.\r\n"
                );
                let text = String::from_utf8(signed.clone()).unwrap();
                assert!(text.starts_with("From: "), "{text}");
                if form == SignedForm::Detached {
                    assert!(text.contains(&format!("micalg={}", digest.micalg())), "{text}");
                }
            }
        }
    }
}

#[test]
fn rsa_pss_signatures_verify() {
    let id = identity("alice-rsa");
    let opts = SignOptions::default().rsa_padding(RsaSignaturePadding::Pss);
    let signed = sign_message(&id, message("alice@example.org"), &opts).unwrap();
    let v = verifier().verify_message(&signed).unwrap();
    assert!(v.all_valid(), "{:?}", v.signers()[0].problems);
    assert_eq!(v.signers()[0].signature_algorithm, "1.2.840.113549.1.1.10");
}

#[test]
fn encrypt_and_decrypt_every_cipher_and_key() {
    let ciphers = [
        (ContentCipher::Aes256Gcm, Protection::Authenticated),
        (ContentCipher::Aes128Gcm, Protection::Authenticated),
        (ContentCipher::Aes256Cbc, Protection::Unauthenticated),
        (ContentCipher::Aes128Cbc, Protection::Unauthenticated),
    ];
    for who in ["bob-rsa", "bob-ec"] {
        for (cipher, protection) in ciphers {
            for transport in [RsaKeyTransport::Pkcs1v15, RsaKeyTransport::Oaep] {
                let r = Recipient::new(cert(who)).rsa_key_transport(transport);
                let msg = message("alice@example.org");
                let enc = encrypt_message(&[r], &msg, cipher).unwrap();
                let dec = decrypt_message(&identity(who), &enc).unwrap();
                assert_eq!(dec.decrypted.protection, protection, "{who} {cipher:?}");
                assert_eq!(
                    dec.decrypted.content,
                    b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob,\r\nthis is a test.\r\n"
                );
                assert!(dec.message.starts_with(b"From: alice@example.org\r\n"));
            }
        }
    }
}

#[test]
fn several_recipients_each_decrypt() {
    let rs = [Recipient::new(cert("bob-rsa")), Recipient::new(cert("alice-ec"))];
    let enc = encrypt_message(&rs, message("alice@example.org"), ContentCipher::Aes256Gcm).unwrap();
    for who in ["bob-rsa", "alice-ec"] {
        decrypt_message(&identity(who), &enc).unwrap();
    }
    let err = decrypt_message(&identity("bob-ec"), &enc).unwrap_err();
    let Error::NotForUs { recipients } = err else { panic!("{err:?}") };
    assert_eq!(recipients.len(), 2);
}

#[test]
fn auto_picks_gcm_only_when_everyone_reads_it() {
    let known = Recipient::new(cert("bob-rsa")).with_capabilities(&ANNOUNCED_CAPABILITIES);
    let unknown = Recipient::new(cert("alice-rsa"));
    assert_eq!(ContentCipher::Auto.resolve(std::slice::from_ref(&known)), ContentCipher::Aes256Gcm);
    assert_eq!(ContentCipher::Auto.resolve(&[known.clone(), unknown]), ContentCipher::Aes256Cbc);
    let enc = encrypt_message(&[known], message("a@example.org"), ContentCipher::Auto).unwrap();
    assert!(String::from_utf8_lossy(&enc).contains("smime-type=authEnveloped-data"));
}

#[test]
fn sign_then_encrypt_and_back() {
    let alice = identity("alice-ec");
    let signed =
        sign_message(&alice, message("alice@example.org"), &SignOptions::default()).unwrap();
    let enc =
        encrypt_message(&[Recipient::new(cert("bob-rsa"))], &signed, ContentCipher::Aes256Cbc)
            .unwrap();
    let out = Unwrapper::new(verifier(), vec![identity("bob-rsa")]).unwrap(&enc).unwrap();
    assert_eq!(out.layers.len(), 2);
    assert!(matches!(out.layers[0], Layer::Encrypted(Protection::Unauthenticated)));
    assert!(out.all_signatures_valid());
    assert!(out.message.ends_with(b"Hello Bob,\r\nthis is a test.\r\n"));

    // And the reverse: encrypt, then sign the encrypted message (opaque).
    let enc = encrypt_message(
        &[Recipient::new(cert("bob-ec"))],
        message("alice@example.org"),
        ContentCipher::Aes128Gcm,
    )
    .unwrap();
    let signed =
        sign_message(&alice, &enc, &SignOptions::default().form(SignedForm::Opaque)).unwrap();
    let out = Unwrapper::new(verifier(), vec![identity("bob-ec")]).unwrap(&signed).unwrap();
    assert!(matches!(out.layers[1], Layer::Encrypted(Protection::Authenticated)));
    assert!(out.all_signatures_valid());
}

#[test]
fn pkcs12_identities_load_sign_and_decrypt() {
    use sealpost_smime::openssl::pkcs12::Pkcs12;
    use sealpost_smime::openssl::stack::Stack;
    let bob = identity("bob-rsa");
    let mut chain = Stack::new().unwrap();
    for c in &bob.chain {
        chain.push(c.clone()).unwrap();
    }
    let mut builder = Pkcs12::builder();
    builder.name("bob").pkey(&bob.key).cert(&bob.certificate).ca(chain);
    let der = builder.build2("s3cret").unwrap().to_der().unwrap();
    let loaded = Identity::from_pkcs12(&der, "s3cret").unwrap();
    assert_eq!(loaded.chain.len(), 1);
    assert_eq!(
        fingerprint_sha256(&loaded.certificate).unwrap(),
        fingerprint_sha256(&bob.certificate).unwrap()
    );
    let wrong = Identity::from_pkcs12(&der, "wrong").unwrap_err();
    assert!(wrong.to_string().contains("password"), "{wrong}");
    // OpenSSL's errors stay reachable as the cause.
    assert!(
        matches!(&wrong, sealpost_smime::Error::Credentials { source: Some(stack), .. } if !stack.errors().is_empty()),
        "{wrong:?}"
    );

    let enc = encrypt_message(
        &[Recipient::new(cert("bob-rsa"))],
        message("a@example.org"),
        ContentCipher::Aes256Gcm,
    )
    .unwrap();
    decrypt_message(&loaded, &enc).unwrap();
    let signed =
        sign_message(&loaded, message("Bob <bob@example.org>"), &SignOptions::default()).unwrap();
    assert!(verifier().verify_message(&signed).unwrap().all_valid());
}

#[test]
fn keys_load_from_der_and_encrypted_pem() {
    use sealpost_smime::openssl::symm::Cipher;
    let alice = identity("alice-ec");
    let der_cert = alice.certificate.to_der().unwrap();
    let der_key = alice.key.private_key_to_pkcs8().unwrap();
    let from_der = Identity::from_cert_and_key(&der_cert, &der_key, None).unwrap();
    assert!(from_der.chain.is_empty());
    let pem = alice.key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"pw").unwrap();
    assert!(Identity::from_cert_and_key(&der_cert, &pem, Some(b"pw")).is_ok());
    let err = Identity::from_cert_and_key(&der_cert, &pem, None).unwrap_err();
    assert!(err.to_string().contains("give its password"), "{err}");
    // A key that is not the certificate's.
    let bob_key = pki("smime-bob-ec-key.pem");
    let err = Identity::from_cert_and_key(&der_cert, &bob_key, None).unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    assert!(load_certificates(b"garbage").is_err());
    assert_eq!(fingerprint_sha256(&alice.certificate).unwrap().len(), 32 * 3 - 1);
}

#[test]
fn eight_bit_parts_get_a_seven_bit_encoding_and_verify() {
    let alice = identity("alice-rsa");
    let msg = "From: alice@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGr\u{fc}\u{df}e\n--XX\nContent-Type: application/octet-stream\n\n\u{0}\u{1}\u{ff}\n--XX--\n";
    let signed = sign_message(&alice, msg.as_bytes(), &SignOptions::default()).unwrap();
    assert!(signed.iter().all(|&b| b < 0x80), "the signed message is 7-bit");
    assert!(!signed.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'), "CRLF only");
    let v = verifier().verify_message(&signed).unwrap();
    assert!(v.all_valid(), "{:?}", v.signers()[0].problems);
    let entity = String::from_utf8(v.entity.clone()).unwrap();
    assert!(entity.contains("Gr=C3=BC=C3=9Fe"), "{entity}");
    assert!(entity.contains("Content-Transfer-Encoding: base64"), "{entity}");
    // The signed entity is exactly the first part of the multipart/signed as sent.
    let sent = String::from_utf8(signed).unwrap();
    assert!(sent.contains(&entity), "exact bytes");
}

#[test]
fn lf_only_input_is_signed_in_canonical_form_and_headers_stay_outside() {
    let alice = identity("alice-ec");
    let msg = b"From: alice@example.org\nTo: bob@example.org\nSubject: lf\nX-Custom: kept\n\nline 1\nline 2\n";
    let signed = sign_message(&alice, msg, &SignOptions::default()).unwrap();
    let text = String::from_utf8(signed.clone()).unwrap();
    assert!(text.starts_with("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: lf\r\nX-Custom: kept\r\nMIME-Version: 1.0\r\n"), "{text}");
    // Verifying the LF form of what was sent (as a Unix mailbox stores it) works too.
    let lf = text.replace("\r\n", "\n");
    assert!(verifier().verify_message(lf.as_bytes()).unwrap().all_valid());
    let v = verifier().verify_message(&signed).unwrap();
    let unwrapped = String::from_utf8(v.unwrapped_message()).unwrap();
    assert!(
        unwrapped.starts_with("From: alice@example.org\r\n")
            && unwrapped.ends_with("line 1\r\nline 2\r\n"),
        "{unwrapped}"
    );
}

#[test]
fn p384_and_separate_encryption_certificate() {
    use sealpost_smime::openssl::ec::{EcGroup, EcKey};
    use sealpost_smime::openssl::nid::Nid;
    use sealpost_smime::openssl::pkey::PKey;
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::SECP384R1).unwrap()).unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let p384 = issue_alice(key, now - 3600, now + 86_400);
    let opts =
        SignOptions::default().digest(Digest::Sha384).encryption_certificate(cert("alice-rsa"));
    let signed = sign_message(&p384, message("alice@example.org"), &opts).unwrap();
    let v = verifier().verify_message(&signed).unwrap();
    assert!(v.all_valid(), "{:?}", v.signers()[0].problems);
    // The SMIMEEncryptionKeyPreference attribute names the RSA certificate by issuer and serial.
    let der = cms_der_of(&signed);
    let serial = cert("alice-rsa").serial_number().to_bn().unwrap().to_vec();
    assert!(memmem::find(&der, serial.as_slice()).is_some());
    let oid = [0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0b];
    assert!(memmem::find(&der, &oid).is_some(), "encrypKeyPref attribute present");
    // The reader harvests it: encrypt to the RSA certificate, with the announced capabilities.
    let recipients = v.recipients();
    assert_eq!(recipients.len(), 1);
    assert_eq!(
        fingerprint_sha256(&recipients[0].certificate).unwrap(),
        fingerprint_sha256(&cert("alice-rsa")).unwrap()
    );
    assert!(recipients[0].reads_gcm);
    // And P-384 recipients work for ECDH.
    let enc = encrypt_message(
        &[Recipient::new(p384.certificate.clone())],
        message("a@example.org"),
        ContentCipher::Aes256Gcm,
    )
    .unwrap();
    assert_eq!(
        decrypt_message(&p384, &enc).unwrap().decrypted.protection,
        Protection::Authenticated
    );
}

#[test]
fn smtputf8_mailbox_in_the_certificate_matches_a_utf8_from() {
    use sealpost_smime::openssl::ec::{EcGroup, EcKey};
    use sealpost_smime::openssl::nid::Nid;
    use sealpost_smime::openssl::pkey::PKey;
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let id = issue(key, now - 3600, now + 86_400, None, Some("j\u{f6}rg@b\u{fc}cher.example"));
    assert_eq!(certificate_addresses(&id.certificate), ["j\u{f6}rg@b\u{fc}cher.example"]);
    let msg = "From: J\u{f6}rg <j\u{f6}rg@b\u{fc}cher.example>\r\nSubject: utf8\r\n\r\nHallo\r\n";
    let signed = sign_message(&id, msg.as_bytes(), &SignOptions::default()).unwrap();
    let v = verifier().verify_message(&signed).unwrap();
    assert!(v.all_valid(), "{:?}", v.signers()[0].problems);
    let other = "From: j\u{f6}rg@example.org\r\n\r\nHallo\r\n";
    let signed = sign_message(&id, other.as_bytes(), &SignOptions::default()).unwrap();
    let v = verifier().verify_message(&signed).unwrap();
    assert!(matches!(v.signers()[0].address_match, AddressMatch::Mismatch { .. }));
}

#[test]
fn ecdh_uses_the_sha256_kdf_and_output_never_uses_legacy_ciphers() {
    // dhSinglePass-stdDH-sha256kdf-scheme, 1.3.132.1.11.1 (RFC 5753): not OpenSSL's SHA-1 default.
    let sha256_kdf = [0x06, 0x06, 0x2b, 0x81, 0x04, 0x01, 0x0b, 0x01];
    let sha1_kdf = [0x06, 0x09, 0x2b, 0x81, 0x05, 0x10, 0x86, 0x48, 0x3f, 0x00, 0x02];
    let (der, _) =
        encrypt_cms(&[Recipient::new(cert("bob-ec"))], b"x", ContentCipher::Aes256Cbc).unwrap();
    assert!(memmem::find(&der, &sha256_kdf).is_some());
    assert!(memmem::find(&der, &sha1_kdf).is_none());
    // des-ede3-cbc 1.2.840.113549.3.7, rc2-cbc 1.2.840.113549.3.2, des-cbc 1.3.14.3.2.7.
    let legacy: [&[u8]; 3] = [
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07],
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x02],
        &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x07],
    ];
    for cipher in [ContentCipher::Auto, ContentCipher::Aes128Cbc, ContentCipher::Aes128Gcm] {
        let (der, used) = encrypt_cms(&[Recipient::new(cert("bob-rsa"))], b"x", cipher).unwrap();
        assert_ne!(used, ContentCipher::Auto);
        for oid in legacy {
            assert!(memmem::find(&der, oid).is_none(), "{cipher:?}");
        }
    }
    let signed = sign_cms(&identity("alice-rsa"), b"x", &SignOptions::default()).unwrap();
    for oid in legacy {
        assert!(memmem::find(&signed, oid).is_none(), "no legacy cipher in SMIMECapabilities");
    }
}
