//! DANE (RFC 7672): TLSA parsing, fixtures computed from the test PKI, the verifier in real
//! rustls handshakes over loopback, and the `dane` / `dane-only` policy decision.
// Needs the verifier and the policy decision (feature `dane`).
#![cfg(feature = "dane")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;

use sealpost_starttls::dane::{
    CertUsage, DaneDecision, DaneFailure, DaneLevel, DaneVerifier, MatchingType, Selector, Tlsa,
    TlsaParseError, dane_policy,
};
use sealpost_starttls::dns::{Answer, DnsError, Dnssec, StaticResolver};
use sealpost_starttls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sealpost_starttls::rustls::server::{ClientHello, ResolvesServerCert};
use sealpost_starttls::rustls::sign::CertifiedKey;
use sealpost_starttls::rustls::{self, ClientConfig, ServerConfig};
use sealpost_starttls::tlsrpt::ResultType;
use sealpost_starttls::tokio_rustls::{TlsAcceptor, TlsConnector};
use sealpost_starttls::{read_chain, read_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use sealpost_test_support::pki::pki;

fn chain(name: &str) -> Vec<CertificateDer<'static>> {
    read_chain(&pki(name)).unwrap()
}

fn cert(name: &str) -> CertificateDer<'static> {
    chain(name).remove(0)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tlsa(usage: u8, selector: u8, matching: u8, of: &str) -> Tlsa {
    Tlsa::for_certificate(
        CertUsage::from_value(usage),
        Selector::from_value(selector),
        MatchingType::from_value(matching),
        &cert(of),
    )
    .unwrap()
}

fn verifier(records: Vec<Tlsa>, names: &[&str]) -> DaneVerifier {
    DaneVerifier::new(records, names.iter().map(|n| n.to_string()).collect(), provider()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Parsing.

#[test]
fn presentation_format_table() {
    let good: &[(&str, u8, u8, u8, &[u8])] = &[
        ("3 1 1 00ff", 3, 1, 1, &[0x00, 0xff]),
        ("2 0 2 AbCd", 2, 0, 2, &[0xab, 0xcd]),
        ("3 1 1 00 11\t22", 3, 1, 1, &[0x00, 0x11, 0x22]),
        ("  0 0 0 01  ", 0, 0, 0, &[0x01]),
        ("255 255 255 ff", 255, 255, 255, &[0xff]),
    ];
    for (text, u, s, m, data) in good {
        let t: Tlsa = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            (t.usage.value(), t.selector.value(), t.matching.value(), t.data.as_slice()),
            (*u, *s, *m, *data),
            "{text:?}"
        );
        // The presentation form written back parses to the same record.
        assert_eq!(t.to_string().parse::<Tlsa>().unwrap(), t);
    }
    let bad: &[(&str, TlsaParseError)] = &[
        ("", TlsaParseError::BadField { field: "usage", value: String::new() }),
        ("3 1 1", TlsaParseError::NoData),
        ("3 1", TlsaParseError::BadField { field: "matching type", value: String::new() }),
        ("x 1 1 00", TlsaParseError::BadField { field: "usage", value: "x".into() }),
        ("256 1 1 00", TlsaParseError::BadField { field: "usage", value: "256".into() }),
        ("3 -1 1 00", TlsaParseError::BadField { field: "selector", value: "-1".into() }),
        ("+3 1 1 00", TlsaParseError::BadField { field: "usage", value: "+3".into() }),
        ("3 1 1 abc", TlsaParseError::BadHex),
        ("3 1 1 zz", TlsaParseError::BadHex),
        ("3 1 1 0x00", TlsaParseError::BadHex),
    ];
    for (text, want) in bad {
        assert_eq!(text.parse::<Tlsa>().as_ref(), Err(want), "{text:?}");
    }
}

#[test]
fn rdata_round_trip_and_errors() {
    let t = Tlsa::from_rdata(&[3, 1, 1, 0xde, 0xad]).unwrap();
    assert_eq!(t.usage, CertUsage::DaneEe);
    assert_eq!(t.selector, Selector::Spki);
    assert_eq!(t.matching, MatchingType::Sha256);
    assert_eq!(t.data, [0xde, 0xad]);
    assert_eq!(t.to_rdata(), [3, 1, 1, 0xde, 0xad]);
    assert_eq!(t.to_string(), "3 1 1 dead");
    for short in [&[][..], &[3], &[3, 1], &[3, 1, 1]] {
        assert_eq!(Tlsa::from_rdata(short), Err(TlsaParseError::TooShort(short.len())));
    }
    // Unknown values parse (they are unusable, not malformed).
    let odd = Tlsa::from_rdata(&[9, 7, 5, 1]).unwrap();
    assert_eq!(odd.usage, CertUsage::Other(9));
    assert_eq!(odd.selector, Selector::Other(7));
    assert_eq!(odd.matching, MatchingType::Other(5));
    assert!(!odd.is_usable());
}

#[test]
fn usability_table() {
    let d32 = "00".repeat(32);
    let d64 = "00".repeat(64);
    let rows: Vec<(String, bool)> = vec![
        (format!("3 1 1 {d32}"), true),
        (format!("3 0 1 {d32}"), true),
        (format!("2 0 1 {d32}"), true),
        (format!("2 1 2 {d64}"), true),
        ("3 1 0 3000".to_string(), true),
        (format!("0 0 1 {d32}"), false), // PKIX-TA: unusable for SMTP
        (format!("1 1 1 {d32}"), false), // PKIX-EE: unusable for SMTP
        (format!("4 1 1 {d32}"), false),
        (format!("3 2 1 {d32}"), false),
        (format!("3 1 3 {d32}"), false),
        (format!("3 1 1 {}", "00".repeat(31)), false), // SHA-256 digest of the wrong size
        (format!("3 1 2 {d32}"), false),               // SHA-512 digest of the wrong size
    ];
    for (text, usable) in rows {
        assert_eq!(text.parse::<Tlsa>().unwrap().is_usable(), usable, "{text}");
    }
}

/// The association data computed by the crate equals what OpenSSL computes from the same
/// PEM files (an independent implementation of the SPKI extraction and digests).
#[test]
fn fixtures_agree_with_openssl() {
    for name in ["server.pem", "server-self-signed.pem", "intermediate-ca.pem"] {
        let path = pki(name);
        let spki_der = pipe(&format!(
            "openssl x509 -in {} -noout -pubkey | openssl pkey -pubin -outform DER",
            path.display()
        ));
        let cert_der = pipe(&format!("openssl x509 -in {} -outform DER", path.display()));
        assert!(spki_der.len() > 100 && cert_der.len() > spki_der.len(), "{name}");
        let sha256 = |b: &[u8]| pipe_in("openssl dgst -sha256 -binary", b);
        let sha512 = |b: &[u8]| pipe_in("openssl dgst -sha512 -binary", b);
        assert_eq!(tlsa(3, 1, 1, name).data, sha256(&spki_der), "{name} 3 1 1");
        assert_eq!(tlsa(3, 1, 2, name).data, sha512(&spki_der), "{name} 3 1 2");
        assert_eq!(tlsa(3, 1, 0, name).data, spki_der, "{name} 3 1 0");
        assert_eq!(tlsa(3, 0, 1, name).data, sha256(&cert_der), "{name} 3 0 1");
        assert_eq!(tlsa(2, 0, 0, name).data, cert_der, "{name} 2 0 0");
    }
}

fn pipe(cmd: &str) -> Vec<u8> {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("openssl must be installed");
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn pipe_in(cmd: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl must be installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd}");
    out.stdout
}

// ---------------------------------------------------------------------------------------
// The verifier, without a handshake.

#[test]
fn verifier_needs_a_usable_record() {
    let err = DaneVerifier::new(vec![tlsa(1, 1, 1, "server.pem")], vec![], provider()).unwrap_err();
    assert_eq!(err.result_type, ResultType::TlsaInvalid);
    let err = DaneVerifier::new(vec![], vec![], provider()).unwrap_err();
    assert_eq!(err.result_type, ResultType::TlsaInvalid);
    // Unusable records next to a usable one are dropped, the usable one kept.
    let v = verifier(vec![tlsa(0, 0, 1, "root-ca.pem"), tlsa(3, 1, 1, "server.pem")], &[]);
    assert_eq!(v.records(), [tlsa(3, 1, 1, "server.pem")]);
}

#[test]
fn verify_chain_table() {
    let now = UnixTime::now();
    let server_chain = chain("server-chain.pem");
    let (leaf, rest) = server_chain.split_first().unwrap();
    // The PKIX-EE record matches the leaf, but usage 1 is unusable for SMTP: it must not
    // authenticate anything even though its digest is right.
    let v =
        verifier(vec![tlsa(1, 1, 1, "server.pem"), tlsa(3, 1, 1, "server-self-signed.pem")], &[]);
    let err = v.verify_chain(leaf, rest, Some("mail.test"), now).unwrap_err();
    assert_eq!(err.result_type, ResultType::TlsaInvalid);

    // DANE-TA by the root's certificate: the root is not in the chain the server sends, so
    // a certificate-form record cannot be anchored.
    let v = verifier(vec![tlsa(2, 0, 1, "root-ca.pem")], &["mail.test"]);
    let err = v.verify_chain(leaf, rest, None, now).unwrap_err();
    assert_eq!(err.result_type, ResultType::TlsaInvalid);

    // ... but the root's full public key (2 1 0) is a trust anchor by itself.
    let v = verifier(vec![tlsa(2, 1, 0, "root-ca.pem")], &["mail.test"]);
    let m = v.verify_chain(leaf, rest, None, now).unwrap();
    assert_eq!(m.name.as_deref(), Some("mail.test"));
    // So is the root's whole certificate (2 0 0).
    let v = verifier(vec![tlsa(2, 0, 0, "root-ca.pem")], &["mail.test"]);
    assert_eq!(v.verify_chain(leaf, rest, None, now).unwrap().name.as_deref(), Some("mail.test"));
    // A key that signed nothing in the chain anchors nothing.
    let v = verifier(vec![tlsa(2, 1, 0, "rogue-root-ca.pem")], &["mail.test"]);
    assert_eq!(
        v.verify_chain(leaf, rest, None, now).unwrap_err().result_type,
        ResultType::ValidationFailure
    );
    // A digest of that key (2 1 1) cannot be used as an anchor without the certificate.
    let v = verifier(vec![tlsa(2, 1, 1, "root-ca.pem")], &["mail.test"]);
    assert_eq!(
        v.verify_chain(leaf, rest, None, now).unwrap_err().result_type,
        ResultType::TlsaInvalid
    );

    // DANE-TA of the intermediate: with no configured names, the handshake's name is used.
    let v = verifier(vec![tlsa(2, 0, 1, "intermediate-ca.pem")], &[]);
    assert!(v.verify_chain(leaf, rest, Some("mail.test"), now).is_ok());
    assert_eq!(
        v.verify_chain(leaf, rest, Some("mx.example.org"), now).unwrap_err().result_type,
        ResultType::CertificateHostMismatch
    );
    // A chain that leaves out the intermediate cannot reach the DANE-TA anchor.
    assert_eq!(
        v.verify_chain(leaf, &[], Some("mail.test"), now).unwrap_err().result_type,
        ResultType::TlsaInvalid
    );
}

// ---------------------------------------------------------------------------------------
// The verifier in real handshakes.

/// Serves one TLS handshake on loopback with `chain` and the key in `key_file` (not
/// checked against the certificate, so a test can present someone else's certificate).
async fn serve_once(chain: Vec<CertificateDer<'static>>, key_file: &str) -> std::net::SocketAddr {
    #[derive(Debug)]
    struct Fixed(Arc<CertifiedKey>);
    impl ResolvesServerCert for Fixed {
        fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let key: PrivateKeyDer<'static> = read_key(&pki(key_file)).unwrap();
    let signing = provider().key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(CertifiedKey::new(chain, signing));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // The client may abort the handshake; that is the point of most tests.
        if let Ok(mut tls) = acceptor.accept(tcp).await {
            let _ = tls.write_all(b"220 ok\r\n").await;
            let _ = tls.shutdown().await;
        }
    });
    addr
}

/// Connects to a one-shot server with a [`DaneVerifier`]; returns the verifier and the
/// handshake result (with the greeting read through TLS on success).
async fn handshake(
    chain_file: &str,
    key_file: &str,
    records: Vec<Tlsa>,
    names: &[&str],
    sni: &str,
) -> (Arc<DaneVerifier>, Result<String, std::io::Error>) {
    handshake_with(chain_file, key_file, records, names, sni, rustls::DEFAULT_VERSIONS).await
}

/// [`handshake`] with the client limited to `versions`.
async fn handshake_with(
    chain_file: &str,
    key_file: &str,
    records: Vec<Tlsa>,
    names: &[&str],
    sni: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (Arc<DaneVerifier>, Result<String, std::io::Error>) {
    let addr = serve_once(chain(chain_file), key_file).await;
    let v = Arc::new(verifier(records, names));
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(v.clone())
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let result = async {
        let mut tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
        let mut greeting = String::new();
        tls.read_to_string(&mut greeting).await?;
        Ok(greeting)
    }
    .await;
    (v, result)
}

fn failure_of(result: &Result<String, std::io::Error>) -> DaneFailure {
    let err = result.as_ref().expect_err("the handshake should fail");
    let inner =
        err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()).expect("a rustls error");
    DaneFailure::from_rustls(inner).expect("a DANE failure").clone()
}

#[tokio::test]
async fn dane_ee_spki_of_self_signed_cert_passes() {
    let (v, r) = handshake(
        "server-self-signed.pem",
        "server-self-signed-key.pem",
        vec![tlsa(3, 1, 1, "server-self-signed.pem")],
        &["mx.example.org"],
        "mx.example.org",
    )
    .await;
    assert_eq!(r.unwrap(), "220 ok\r\n");
    assert_eq!(v.last_failure(), None);
}

#[tokio::test]
async fn dane_ee_of_expired_cert_passes() {
    let (_, r) = handshake(
        "server-expired-chain.pem",
        "server-expired-key.pem",
        vec![tlsa(3, 1, 1, "server-expired.pem")],
        &[],
        "mail.test",
    )
    .await;
    assert_eq!(r.unwrap(), "220 ok\r\n");
}

#[tokio::test]
async fn dane_ee_full_cert_sha512_ignores_names() {
    let (_, r) = handshake(
        "server-chain.pem",
        "server-key.pem",
        vec![tlsa(3, 0, 2, "server.pem")],
        &["unrelated.example.net"],
        "unrelated.example.net",
    )
    .await;
    assert_eq!(r.unwrap(), "220 ok\r\n");
}

#[tokio::test]
async fn dane_ta_of_intermediate_passes_with_matching_name() {
    let (_, r) = handshake(
        "server-chain.pem",
        "server-key.pem",
        vec![tlsa(2, 0, 1, "intermediate-ca.pem")],
        &["mail.test"],
        "mail.test",
    )
    .await;
    assert_eq!(r.unwrap(), "220 ok\r\n");
}

#[tokio::test]
async fn dane_ta_of_intermediate_fails_on_name_mismatch() {
    let (v, r) = handshake(
        "server-chain.pem",
        "server-key.pem",
        vec![tlsa(2, 0, 1, "intermediate-ca.pem")],
        &["mx.example.org", "example.org"],
        "mx.example.org",
    )
    .await;
    let failure = failure_of(&r);
    assert_eq!(failure.result_type, ResultType::CertificateHostMismatch);
    assert_eq!(v.last_failure(), Some(failure));
}

#[tokio::test]
async fn dane_ta_wrong_name_certificate_fails() {
    let (_, r) = handshake(
        "server-wrong-name-chain.pem",
        "server-wrong-name-key.pem",
        vec![tlsa(2, 0, 1, "intermediate-ca.pem")],
        &["mail.test"],
        "mail.test",
    )
    .await;
    assert_eq!(failure_of(&r).result_type, ResultType::CertificateHostMismatch);
}

#[tokio::test]
async fn dane_ta_expired_leaf_fails() {
    let (_, r) = handshake(
        "server-expired-chain.pem",
        "server-expired-key.pem",
        vec![tlsa(2, 0, 1, "intermediate-ca.pem")],
        &["mail.test"],
        "mail.test",
    )
    .await;
    assert_eq!(failure_of(&r).result_type, ResultType::CertificateExpired);
}

#[tokio::test]
async fn mismatching_digest_fails_with_tlsa_invalid() {
    let mut wrong = tlsa(3, 1, 1, "server.pem");
    wrong.data[0] ^= 0x01;
    let (v, r) =
        handshake("server-chain.pem", "server-key.pem", vec![wrong], &[], "mail.test").await;
    assert_eq!(failure_of(&r).result_type, ResultType::TlsaInvalid);
    assert_eq!(v.last_failure().unwrap().result_type, ResultType::TlsaInvalid);
}

/// The TLSA record matches the certificate, but the server does not hold its key: the
/// handshake signature check (not the TLSA match) must stop it.
#[tokio::test]
async fn matching_tlsa_does_not_excuse_a_bad_handshake_signature() {
    let (v, r) = handshake(
        "server-chain.pem",
        "server-wrong-name-key.pem",
        vec![tlsa(3, 1, 1, "server.pem")],
        &[],
        "mail.test",
    )
    .await;
    let err = r.expect_err("a server without the certificate's key must fail");
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()).unwrap();
    assert!(DaneFailure::from_rustls(inner).is_none(), "{inner:?}");
    // ring reports a signature that does not verify as a bad signature.
    assert!(
        matches!(inner, rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)),
        "{inner:?}"
    );
    // The certificate itself was accepted by DANE.
    assert_eq!(v.last_failure(), None);
}

// ---------------------------------------------------------------------------------------
// The policy decision.

fn secure(records: Vec<Tlsa>) -> Result<Answer<Tlsa>, DnsError> {
    Ok(Answer::Records { records, dnssec: Dnssec::Secure })
}

#[tokio::test]
async fn policy_decision_table() {
    use DaneLevel::{Dane, DaneOnly};
    let usable = tlsa(3, 1, 1, "server.pem");
    let pkix = tlsa(1, 1, 1, "server.pem");
    let failure = DnsError::Failure {
        name: "_25._tcp.mx.test".into(),
        reason: "SERVFAIL".into(),
        source: None,
    };
    type Row =
        (Result<Answer<Tlsa>, DnsError>, Dnssec, DaneLevel, Result<DaneDecision, ResultType>);
    let rows: Vec<Row> = vec![
        (
            secure(vec![usable.clone(), pkix.clone()]),
            Dnssec::Secure,
            Dane,
            Ok(DaneDecision::Authenticate { records: vec![usable.clone()] }),
        ),
        (
            secure(vec![usable.clone()]),
            Dnssec::Secure,
            DaneOnly,
            Ok(DaneDecision::Authenticate { records: vec![usable.clone()] }),
        ),
        (secure(vec![pkix.clone()]), Dnssec::Secure, Dane, Ok(DaneDecision::EncryptOnly)),
        (secure(vec![pkix.clone()]), Dnssec::Secure, DaneOnly, Ok(DaneDecision::EncryptOnly)),
        (
            Ok(Answer::Records { records: vec![usable.clone()], dnssec: Dnssec::Insecure }),
            Dnssec::Secure,
            Dane,
            Ok(DaneDecision::Opportunistic),
        ),
        (
            Ok(Answer::Records { records: vec![usable.clone()], dnssec: Dnssec::Insecure }),
            Dnssec::Secure,
            DaneOnly,
            Err(ResultType::DaneRequired),
        ),
        (
            Ok(Answer::NoRecords { dnssec: Dnssec::Secure }),
            Dnssec::Secure,
            Dane,
            Ok(DaneDecision::Opportunistic),
        ),
        (
            Ok(Answer::NxDomain { dnssec: Dnssec::Secure }),
            Dnssec::Secure,
            DaneOnly,
            Err(ResultType::DaneRequired),
        ),
        (
            Ok(Answer::Records { records: vec![usable.clone()], dnssec: Dnssec::Bogus }),
            Dnssec::Secure,
            Dane,
            Err(ResultType::DnssecInvalid),
        ),
        (
            Ok(Answer::NoRecords { dnssec: Dnssec::Bogus }),
            Dnssec::Secure,
            Dane,
            Err(ResultType::DnssecInvalid),
        ),
        (Err(failure.clone()), Dnssec::Secure, Dane, Err(ResultType::DnssecInvalid)),
        (
            Err(DnsError::Timeout { name: "x".into() }),
            Dnssec::Secure,
            DaneOnly,
            Err(ResultType::DnssecInvalid),
        ),
        // An MX name from an insecure answer: TLSA records are not even looked at.
        (secure(vec![usable.clone()]), Dnssec::Insecure, Dane, Ok(DaneDecision::Opportunistic)),
        (secure(vec![usable.clone()]), Dnssec::Insecure, DaneOnly, Err(ResultType::DaneRequired)),
        (secure(vec![usable.clone()]), Dnssec::Bogus, Dane, Err(ResultType::DnssecInvalid)),
    ];
    for (i, (answer, mx_dnssec, level, want)) in rows.into_iter().enumerate() {
        let resolver = StaticResolver::new().with_tlsa(25, "mx.test", answer);
        let got = dane_policy(&resolver, level, "mx.test", 25, mx_dnssec).await;
        match (got, want) {
            (DaneDecision::Defer { result_type, reason }, Err(want)) => {
                assert_eq!(result_type, want, "row {i}: {reason}");
                assert!(!reason.is_empty());
            }
            (got, Ok(want)) => assert_eq!(got, want, "row {i}"),
            (got, want) => panic!("row {i}: got {got:?}, want {want:?}"),
        }
    }
}

/// The same two cases over TLS 1.2, whose handshake signature goes through
/// `verify_tls12_signature`.
#[tokio::test]
async fn tls12_handshakes_check_signatures_too() {
    let tls12 = &[&rustls::version::TLS12];
    let (_, r) = handshake_with(
        "server-chain.pem",
        "server-key.pem",
        vec![tlsa(3, 1, 1, "server.pem")],
        &[],
        "mail.test",
        tls12,
    )
    .await;
    assert_eq!(r.unwrap(), "220 ok\r\n");
    let (_, r) = handshake_with(
        "server-chain.pem",
        "server-wrong-name-key.pem",
        vec![tlsa(3, 1, 1, "server.pem")],
        &[],
        "mail.test",
        tls12,
    )
    .await;
    let err = r.expect_err("a server without the certificate's key must fail");
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()).unwrap();
    assert!(
        matches!(inner, rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)),
        "{inner:?}"
    );
}

/// Generated RDATA and presentation text: parsing never panics, and every accepted
/// record writes back to the bytes it came from.
#[test]
fn generated_records_round_trip() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let len = (next() % 8) as usize;
        let rdata: Vec<u8> = (0..len).map(|_| (next() % 5) as u8).collect();
        match Tlsa::from_rdata(&rdata) {
            Ok(t) => {
                ok += 1;
                assert_eq!(t.to_rdata(), rdata);
                assert_eq!(t.to_string().parse::<Tlsa>().unwrap(), t);
            }
            Err(TlsaParseError::TooShort(n)) => {
                refused += 1;
                assert_eq!(n, rdata.len());
                assert!(n < 4);
            }
            Err(e) => panic!("{rdata:?}: {e}"),
        }
        const WORDS: &[&str] = &["3", "1", "0", "256", "+1", "ab", "a", "zz", " ", "\t", "-"];
        let text: String =
            (0..(next() % 9)).map(|_| WORDS[(next() % WORDS.len() as u64) as usize]).collect();
        if let Ok(t) = text.parse::<Tlsa>() {
            assert!(!t.data.is_empty(), "{text:?}");
        }
    }
    assert!(ok > 0 && refused > 0, "{ok} accepted, {refused} refused");
}
