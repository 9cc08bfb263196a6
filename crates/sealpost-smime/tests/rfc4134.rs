//! The RFC 4134 example messages, read from the shared corpora (never copied here): old
//! 1024-bit, SHA-1 and DSA material, so verified with legacy algorithms allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::rfc4134;
use sealpost_smime::openssl::x509::X509;
use sealpost_smime::*;

const CONTENT: &[u8] = b"This is some sample content.";

fn der_cert(name: &str) -> X509 {
    load_certificates(&rfc4134(name)).unwrap().remove(0)
}

fn options() -> VerifyOptions {
    let anchors = vec![der_cert("CarlRSASelf.cer"), der_cert("CarlDSSSelf.cer")];
    // Some examples carry no certificates: the signers' come from the corpus.
    let extra = vec![
        der_cert("AliceRSASignByCarl.cer"),
        der_cert("AliceDSSSignByCarlNoInherit.cer"),
        der_cert("DianeDSSSignByCarlInherit.cer"),
        der_cert("DianeRSASignByCarl.cer"),
    ];
    VerifyOptions::new(anchors).extra_certificates(extra)
}

fn legacy() -> Verifier {
    Verifier::new(options().allow_legacy(true))
}

#[test]
fn signed_examples_verify_with_legacy_allowed() {
    if !common::corpus_tests_run() {
        return;
    }
    for (name, subject) in [
        ("4.1.bin", "CN=AliceDSS"),
        ("4.2.bin", "CN=AliceRSA"),
        ("4.4.bin", "CN=AliceDSS"),
        ("4.5.bin", "CN=AliceRSA"),
        ("4.7.bin", "CN=AliceDSS"),
        ("4.10.bin", "CN=AliceDSS"),
    ] {
        let signed = legacy().verify_cms(&rfc4134(name), None).unwrap();
        assert_eq!(signed.content, CONTENT, "{name}");
        assert_eq!(signed.signers.len(), 1, "{name}");
        let s = &signed.signers[0];
        assert!(s.is_valid(), "{name}: {:?}", s.problems);
        assert!(s.subject.contains(subject), "{name}: {}", s.subject);
        assert_eq!(s.address_match, AddressMatch::NotChecked);
    }
}

#[test]
fn the_detached_example_verifies_with_its_content() {
    if !common::corpus_tests_run() {
        return;
    }
    let signed = legacy().verify_cms(&rfc4134("4.3.bin"), Some(&rfc4134("ExContent.bin"))).unwrap();
    assert!(signed.all_valid(), "{:?}", signed.signers[0].problems);
    // Without the content it is refused, and with other content the digest fails.
    assert!(matches!(legacy().verify_cms(&rfc4134("4.3.bin"), None), Err(Error::MissingContent)));
    let other =
        legacy().verify_cms(&rfc4134("4.3.bin"), Some(b"This is some sample content!")).unwrap();
    assert!(matches!(other.signers[0].problems[..], [SignerProblem::BadSignature(_)]));
}

#[test]
fn without_legacy_the_examples_are_refused_for_their_algorithms() {
    if !common::corpus_tests_run() {
        return;
    }
    let strict = Verifier::new(options());
    let dss = strict.verify_cms(&rfc4134("4.1.bin"), None).unwrap();
    assert!(dss.signers[0].problems.iter().any(|p| matches!(p, SignerProblem::LegacyAlgorithm(_))));
    let rsa = strict.verify_cms(&rfc4134("4.2.bin"), None).unwrap();
    let problems = &rsa.signers[0].problems;
    assert!(problems.contains(&SignerProblem::LegacyAlgorithm("digest 1.3.14.3.2.26".into())));
    assert!(
        problems.contains(&SignerProblem::LegacyAlgorithm("RSA-1024 key".into())),
        "{problems:?}"
    );
    // OpenSSL 3's CMS calls accept these by themselves; the chain check at security level 2
    // refuses the 1024-bit, SHA-1-signed certificates (X509_V_ERR_EE_KEY_TOO_SMALL).
    assert!(
        problems.iter().any(|p| matches!(p, SignerProblem::Untrusted { code: 66, .. })),
        "{problems:?}"
    );
}

#[test]
fn mime_examples_report_the_from_mismatch() {
    if !common::corpus_tests_run() {
        return;
    }
    // From: aliceDss@examples.com, but the certificate says AliceDSS@example.com.
    for name in ["4.8.eml", "4.9.eml"] {
        let verified = legacy().verify_message(&rfc4134(name)).unwrap();
        let s = &verified.signers()[0];
        assert_eq!(s.addresses, ["AliceDSS@example.com"]);
        assert_eq!(
            s.problems,
            [SignerProblem::Address(AddressMatch::Mismatch {
                from: vec!["aliceDss@examples.com".into()]
            })],
            "{name}"
        );
        assert!(!verified.all_valid());
    }
}

#[test]
fn the_two_signer_example_reports_each_signer() {
    if !common::corpus_tests_run() {
        return;
    }
    // 4.6: Alice (DSS) verifies; Diane's DSS key inherits its parameters from Carl's
    // certificate, which OpenSSL 3 cannot decode: refused with that precise reason.
    let signed = legacy().verify_cms(&rfc4134("4.6.bin"), None).unwrap();
    assert_eq!(signed.signers.len(), 2);
    assert!(signed.signers[0].is_valid(), "{:?}", signed.signers[0].problems);
    assert!(signed.signers[0].subject.contains("AliceDSS"));
    let diane = &signed.signers[1];
    assert!(diane.subject.contains("DianeDSS"));
    assert!(
        diane
            .problems
            .iter()
            .any(|p| matches!(p, SignerProblem::UnusableKey(r) if r.contains("inherited"))),
        "{:?}",
        diane.problems
    );
    assert!(!signed.all_valid());
}

#[test]
fn certs_only_signed_data_has_no_signers() {
    if !common::corpus_tests_run() {
        return;
    }
    // 4.11 carries certificates and CRLs but no SignerInfo.
    assert!(matches!(
        legacy().verify_cms(&rfc4134("4.11.bin"), Some(CONTENT)),
        Err(Error::NoSigners)
    ));
}

fn bob() -> Identity {
    Identity::from_cert_and_key(
        &rfc4134("BobRSASignByCarl.cer"),
        &rfc4134("BobPrivRSAEncrypt.pri"),
        None,
    )
    .unwrap()
}

#[test]
fn enveloped_examples_decrypt() {
    if !common::corpus_tests_run() {
        return;
    }
    let d = decrypt_cms(&bob(), &rfc4134("5.1.bin")).unwrap();
    assert_eq!(d.content, CONTENT);
    assert_eq!(d.protection, Protection::Unauthenticated);
    let m = decrypt_message(&bob(), rfc4134("5.3.eml")).unwrap();
    assert_eq!(m.decrypted.content, CONTENT);
    assert!(m.message.starts_with(b"Message-Id: <00103112005203.00349@amyemily.ig.com>\r\n"));
}

#[test]
fn an_example_for_someone_else_names_its_recipient() {
    if !common::corpus_tests_run() {
        return;
    }
    let diane = Identity::from_cert_and_key(
        &rfc4134("DianeRSASignByCarl.cer"),
        &rfc4134("DianePrivRSASignEncrypt.pri"),
        None,
    )
    .unwrap();
    let err = decrypt_cms(&diane, &rfc4134("5.1.bin")).unwrap_err();
    let Error::NotForUs { recipients } = &err else { panic!("{err:?}") };
    assert_eq!(recipients.len(), 1);
    assert!(err.to_string().contains("CarlRSA"), "{err}");
}
