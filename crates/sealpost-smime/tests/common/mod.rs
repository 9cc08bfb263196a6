//! Helpers of the S/MIME tests: identities and messages from the test PKI; the PKI's files
//! and the shared corpora are found by sealpost-test-support.
#![allow(dead_code, unreachable_pub, unused_imports)]

use sealpost_smime::openssl::x509::X509;
use sealpost_smime::{Identity, Verifier, VerifyOptions, load_certificates};

pub use sealpost_test_support::corpora::corpus_tests_run;
pub use sealpost_test_support::pki::pki_bytes as pki;

/// A file of the RFC 4134 corpus; a missing corpus fails loudly.
pub fn rfc4134(name: &str) -> Vec<u8> {
    sealpost_test_support::corpora::corpus_file("rfc4134", name)
}

/// An identity of the test PKI: `identity("alice-rsa")` reads smime-alice-rsa-chain.pem
/// and smime-alice-rsa-key.pem.
pub fn identity(who: &str) -> Identity {
    Identity::from_cert_and_key(
        &pki(&format!("smime-{who}-chain.pem")),
        &pki(&format!("smime-{who}-key.pem")),
        None,
    )
    .unwrap()
}

/// The certificate of an identity of the test PKI.
pub fn cert(who: &str) -> X509 {
    load_certificates(&pki(&format!("smime-{who}.pem"))).unwrap().remove(0)
}

/// A verifier trusting the test root.
pub fn verifier() -> Verifier {
    Verifier::new(VerifyOptions::new(load_certificates(&pki("root-ca.pem")).unwrap()))
}

/// A simple message from alice to bob.
pub fn message(from: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: Bob <bob@example.org>\r\nSubject: test\r\nDate: Sun, 29 Nov 2026 18:00:00 +0000\r\n\r\nHello Bob,\r\nthis is a test.\r\n"
    )
    .into_bytes()
}

/// An S/MIME signing certificate for alice@example.org made now by the test intermediate
/// CA, valid from `not_before` to `not_after` (Unix seconds), with a new key of `key`.
pub fn issue_alice(
    key: sealpost_smime::openssl::pkey::PKey<sealpost_smime::openssl::pkey::Private>,
    not_before: i64,
    not_after: i64,
) -> Identity {
    issue(key, not_before, not_after, Some("alice@example.org"), None)
}

/// Like [`issue_alice`], with the subjectAltName holding an rfc822Name and/or an
/// SmtpUTF8Mailbox otherName (RFC 9598).
pub fn issue(
    key: sealpost_smime::openssl::pkey::PKey<sealpost_smime::openssl::pkey::Private>,
    not_before: i64,
    not_after: i64,
    email: Option<&str>,
    utf8_mailbox: Option<&str>,
) -> Identity {
    use sealpost_smime::openssl::asn1::{Asn1Integer, Asn1Time};
    use sealpost_smime::openssl::bn::BigNum;
    use sealpost_smime::openssl::hash::MessageDigest;
    use sealpost_smime::openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use sealpost_smime::openssl::x509::{X509Builder, X509NameBuilder};

    let ca = load_certificates(&pki("intermediate-ca.pem")).unwrap().remove(0);
    let ca_key = sealpost_smime::load_private_key(&pki("intermediate-ca-key.pem"), None).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Alice (generated)").unwrap();
    name.append_entry_by_text("O", "sealpost tests").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(0x5ea1).unwrap()).unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(not_before).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::from_unix(not_after).unwrap()).unwrap();
    b.append_extension(BasicConstraints::new().build().unwrap()).unwrap();
    b.append_extension(
        KeyUsage::new().critical().digital_signature().key_encipherment().build().unwrap(),
    )
    .unwrap();
    b.append_extension(ExtendedKeyUsage::new().email_protection().build().unwrap()).unwrap();
    let mut san = SubjectAlternativeName::new();
    if let Some(email) = email {
        san.email(email);
    }
    if let Some(mailbox) = utf8_mailbox {
        // otherName value: [0] EXPLICIT UTF8String; OpenSSL wants the inner ASN1_TYPE.
        let mut value = vec![0x0c, u8::try_from(mailbox.len()).unwrap()];
        value.extend_from_slice(mailbox.as_bytes());
        let oid = sealpost_smime::openssl::asn1::Asn1Object::from_str("1.3.6.1.5.5.7.8.9").unwrap();
        san.other_name2(oid, &value);
    }
    let san = san.build(&b.x509v3_context(Some(&ca), None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    Identity { certificate: b.build(), key, chain: vec![ca] }
}

/// The base64 body of the application/pkcs7-* part of a message, decoded.
pub fn cms_der_of(message: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
    let marker = text.rfind("Content-Type: application/pkcs7").unwrap();
    let start = text[marker..].find("\n\n").unwrap() + marker + 2;
    let b64: String =
        text[start..].lines().take_while(|l| !l.starts_with("--") && !l.is_empty()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}

/// Replaces the base64 body of the application/pkcs7-* part with `der`.
pub fn with_cms_der(message: &[u8], der: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(message).into_owned();
    let marker = text.rfind("Content-Type: application/pkcs7").unwrap();
    let start = text[marker..].find("\r\n\r\n").unwrap() + marker + 4;
    let end = text[start..].find("\r\n--").map_or(text.len(), |i| start + i + 2);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let wrapped: Vec<&str> =
        b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("{}{}\r\n{}", &text[..start], wrapped.join("\r\n"), &text[end..]).into_bytes()
}
