//! The client-side cases of the attack list ("STARTTLS injection and downgrade") against
//! hostile servers that write exact bytes over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use sealpost_client::{Credentials, DeliveryError, Timeouts};
use sealpost_codec::client::ClientError;
use sealpost_starttls::TlsError;
use sealpost_starttls::client::{SecurityLevel, TlsClient, Trust};
use sealpost_starttls::tlsrpt::ResultType;
use support::*;

const GREETING: &[u8] = b"220 mail.test ESMTP\r\n";
const EHLO_STARTTLS: &[u8] = b"250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
const EHLO_AFTER_TLS: &[u8] = b"250-mail.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n";

/// Levels at which TLS is required.
const REQUIRED: [SecurityLevel; 4] = [
    SecurityLevel::Encrypt,
    SecurityLevel::Fingerprint,
    SecurityLevel::Verify,
    SecurityLevel::Secure,
];

/// A policy of `level` that the good certificate passes.
fn passing(level: SecurityLevel) -> sealpost_starttls::client::TlsPolicy {
    let mut policy = policy(level).fingerprint(pin("server.pem"));
    if level == SecurityLevel::Secure {
        policy = policy.match_name("mail.test");
    }
    policy
}

fn injected(result: &Result<impl std::fmt::Debug, DeliveryError>) -> bool {
    matches!(result, Err(DeliveryError::Protocol(ClientError::ResponseInjection { .. })))
}

#[tokio::test]
async fn lines_injected_after_the_220_to_starttls_abort() {
    let replies: [&'static [u8]; 2] =
        [b"220 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n", b"220 Ready\r\n250-fake"];
    for reply in replies {
        for level in [SecurityLevel::May, SecurityLevel::Encrypt, SecurityLevel::Verify] {
            let steps = vec![
                Send(GREETING),
                Expect("EHLO"),
                Send(EHLO_STARTTLS),
                Expect("STARTTLS"),
                Send(reply),
            ];
            let config = config(passing(level)).credentials(Credentials::new("alice", "secret"));
            let (result, transcript) = open(steps, &config).await;
            assert!(injected(&result), "{level}: {result:?}");
            assert_eq!(transcript.failure, None);
            // Nothing after STARTTLS: no handshake, no EHLO, no AUTH, not even QUIT.
            assert_eq!(transcript.lines, ["EHLO client.test", "STARTTLS"], "{level}");
        }
    }
}

#[tokio::test]
async fn lines_injected_after_the_220_in_a_later_segment_abort_too() {
    // The 220 arrives alone; the client starts the handshake and gets plaintext back.
    for level in [SecurityLevel::May, SecurityLevel::Encrypt, SecurityLevel::Verify] {
        let steps = vec![
            Send(GREETING),
            Expect("EHLO"),
            Send(EHLO_STARTTLS),
            Expect("STARTTLS"),
            Send(b"220 Ready\r\n"),
            Sleep(200),
            Send(b"250-injected\r\n250 AUTH PLAIN\r\n"),
        ];
        let config = config(passing(level)).credentials(Credentials::new("alice", "secret"));
        let (result, transcript) = open(steps, &config).await;
        match &result {
            Err(DeliveryError::Tls { error: TlsError::PlaintextAfterStartTls, .. }) => {}
            other => panic!("{level}: {other:?}"),
        }
        // The client's ClientHello is binary, never a line: no SMTP line after STARTTLS.
        assert_eq!(transcript.lines, ["EHLO client.test", "STARTTLS"], "{level}");
    }
}

#[tokio::test]
async fn a_multi_line_220_is_legal_and_tls_starts_after_its_last_line() {
    let steps = vec![
        Send(GREETING),
        Expect("EHLO"),
        Send(EHLO_STARTTLS),
        Expect("STARTTLS"),
        Send(b"220-Ready\r\n"),
        Send(b"220 go\r\n"),
        Tls(good_tls()),
        Expect("EHLO"),
        Send(EHLO_AFTER_TLS),
        Serve,
    ];
    let config = config(passing(SecurityLevel::Verify));
    let (result, transcript) = open(steps, &config).await;
    let tls = result.unwrap();
    assert_eq!(tls.trust, Trust::Verified);
    assert_eq!(transcript.failure, None);
    assert_eq!(transcript.lines, ["EHLO client.test", "STARTTLS", "EHLO client.test", "QUIT"]);
}

/// The ways a server can fail to start TLS, as the steps after the greeting.
fn no_tls_cases() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "no STARTTLS in EHLO",
            vec![Expect("EHLO"), Send(b"250-mail.test\r\n250 AUTH PLAIN LOGIN\r\n"), Serve],
        ),
        (
            "STARTTLS answered 502",
            vec![
                Expect("EHLO"),
                Send(b"250-mail.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
                Expect("STARTTLS"),
                Send(b"502 5.5.1 not implemented\r\n"),
                Serve,
            ],
        ),
        (
            "STARTTLS answered 454",
            vec![
                Expect("EHLO"),
                Send(b"250-mail.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
                Expect("STARTTLS"),
                Send(b"454 4.7.0 TLS not available\r\n"),
                Serve,
            ],
        ),
        (
            "STARTTLS answered 354",
            vec![
                Expect("EHLO"),
                Send(b"250-mail.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
                Expect("STARTTLS"),
                Send(b"354 go ahead\r\n"),
                Serve,
            ],
        ),
        (
            "EHLO refused, HELO accepted",
            vec![
                Expect("EHLO"),
                Send(b"502 5.5.2 no EHLO\r\n"),
                Expect("HELO"),
                Send(b"250 mail.test\r\n"),
                Serve,
            ],
        ),
    ]
}

#[tokio::test]
async fn without_starttls_required_levels_abort_before_auth_or_mail() {
    for (case, steps) in no_tls_cases() {
        for level in REQUIRED {
            let mut all = vec![Send(GREETING)];
            all.extend(steps.clone());
            let config = config(passing(level)).credentials(Credentials::new("alice", "secret"));
            let (result, transcript) = open(all, &config).await;
            match &result {
                Err(e @ DeliveryError::TlsRequired { result_type, .. }) => {
                    assert_eq!(*result_type, ResultType::StarttlsNotSupported);
                    assert!(!e.is_permanent(), "{case}: a missing STARTTLS defers");
                }
                other => panic!("{case} at {level}: {other:?}"),
            }
            assert!(!transcript.sent("AUTH") && !transcript.sent("MAIL"), "{case}: {transcript:?}");
        }
    }
}

#[tokio::test]
async fn without_starttls_may_goes_on_in_clear_and_never_sends_auth() {
    for (case, steps) in no_tls_cases() {
        // Without credentials the session is usable in clear.
        let mut all = vec![Send(GREETING)];
        all.extend(steps.clone());
        let (result, transcript) = open(all, &config(policy(SecurityLevel::May))).await;
        let tls = result.unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(tls.trust, Trust::None, "{case}");
        assert_eq!(tls.failure, Some(ResultType::StarttlsNotSupported), "{case}");
        assert!(transcript.sent("QUIT"), "{case}: {transcript:?}");
        // With credentials: AUTH is refused by the client itself.
        let mut all = vec![Send(GREETING)];
        all.extend(steps);
        let config =
            config(policy(SecurityLevel::May)).credentials(Credentials::new("alice", "secret"));
        let (result, transcript) = open(all, &config).await;
        assert!(matches!(result, Err(DeliveryError::AuthUnavailable(_))), "{case}: {result:?}");
        assert!(!transcript.sent("AUTH") && !transcript.sent("MAIL"), "{case}: {transcript:?}");
    }
}

#[tokio::test]
async fn a_421_to_starttls_ends_the_session_at_every_level() {
    for level in [SecurityLevel::May, SecurityLevel::Encrypt, SecurityLevel::Verify] {
        let steps = vec![
            Send(GREETING),
            Expect("EHLO"),
            Send(b"250-mail.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
            Expect("STARTTLS"),
            Send(b"421 4.3.2 going down\r\n"),
        ];
        let config = config(passing(level)).credentials(Credentials::new("alice", "secret"));
        let (result, transcript) = open(steps, &config).await;
        match &result {
            Err(e @ DeliveryError::Protocol(ClientError::ServiceClosing(_))) => {
                assert!(!e.is_permanent())
            }
            other => panic!("{level}: {other:?}"),
        }
        assert_eq!(transcript.lines, ["EHLO client.test", "STARTTLS"], "{level}");
    }
}

#[tokio::test]
async fn auth_offered_before_tls_but_not_after_is_not_used() {
    let steps = vec![
        Send(GREETING),
        Expect("EHLO"),
        Send(b"250-mail.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"),
        Expect("STARTTLS"),
        Send(b"220 go\r\n"),
        Tls(good_tls()),
        Expect("EHLO"),
        Send(b"250-mail.test\r\n250 PIPELINING\r\n"),
        Serve,
    ];
    let config =
        config(passing(SecurityLevel::Verify)).credentials(Credentials::new("alice", "secret"));
    let (result, transcript) = open(steps, &config).await;
    assert!(matches!(result, Err(DeliveryError::AuthUnavailable(_))), "{result:?}");
    assert!(!transcript.sent("AUTH"), "{transcript:?}");
    assert_eq!(transcript.failure, None);
}

#[tokio::test]
async fn auth_is_sent_under_tls_when_offered_after_tls() {
    let steps = vec![
        Send(GREETING),
        Expect("EHLO"),
        Send(EHLO_STARTTLS),
        Expect("STARTTLS"),
        Send(b"220 go\r\n"),
        Tls(good_tls()),
        Expect("EHLO"),
        Send(EHLO_AFTER_TLS),
        Serve,
    ];
    let config =
        config(passing(SecurityLevel::Verify)).credentials(Credentials::new("alice", "secret"));
    let (result, transcript) = open(steps, &config).await;
    assert_eq!(result.unwrap().trust, Trust::Verified);
    assert!(transcript.sent("AUTH PLAIN "), "{transcript:?}");
}

/// A STARTTLS server presenting `key`.
fn starttls_with(key: std::sync::Arc<sealpost_starttls::rustls::sign::CertifiedKey>) -> Vec<Step> {
    vec![
        Send(GREETING),
        Expect("EHLO"),
        Send(EHLO_STARTTLS),
        Expect("STARTTLS"),
        Send(b"220 go\r\n"),
        Tls(server_tls(key)),
        Expect("EHLO"),
        Send(EHLO_AFTER_TLS),
        Serve,
    ]
}

#[tokio::test]
async fn bad_certificates_fail_verify_and_secure_and_pass_may_and_encrypt_untrusted() {
    let cases = [
        ("server-self-signed.pem", "server-self-signed-key.pem", ResultType::CertificateNotTrusted),
        ("server-unknown-ca.pem", "server-unknown-ca-key.pem", ResultType::CertificateNotTrusted),
        (
            "server-wrong-name-chain.pem",
            "server-wrong-name-key.pem",
            ResultType::CertificateHostMismatch,
        ),
        ("server-expired-chain.pem", "server-expired-key.pem", ResultType::CertificateExpired),
        (
            "server-not-yet-valid-chain.pem",
            "server-not-yet-valid-key.pem",
            ResultType::CertificateExpired,
        ),
    ];
    for (chain, key, expected) in cases {
        for level in [SecurityLevel::Verify, SecurityLevel::Secure] {
            let named = policy(level).match_name("mail.test");
            let (result, transcript) =
                open(starttls_with(certified(chain, key)), &config(named)).await;
            match &result {
                Err(DeliveryError::Tls {
                    error: TlsError::CertificateRejected { result_type, .. },
                    ..
                }) => {
                    assert_eq!(*result_type, expected, "{chain} at {level}")
                }
                other => panic!("{chain} at {level}: {other:?}"),
            }
            assert_eq!(transcript.lines, ["EHLO client.test", "STARTTLS"], "{chain} at {level}");
        }
        // Fingerprint: refused unless pinned, then verified.
        let unpinned = policy(SecurityLevel::Fingerprint).fingerprint(pin("server.pem"));
        let (result, _) = open(starttls_with(certified(chain, key)), &config(unpinned)).await;
        match &result {
            Err(DeliveryError::Tls {
                error: TlsError::CertificateRejected { result_type, .. },
                ..
            }) => {
                assert_eq!(*result_type, ResultType::CertificateNotTrusted, "{chain}")
            }
            other => panic!("{chain} unpinned: {other:?}"),
        }
        let pinned = policy(SecurityLevel::Fingerprint).fingerprint(pin(chain));
        let (result, _) = open(starttls_with(certified(chain, key)), &config(pinned)).await;
        assert_eq!(result.unwrap().trust, Trust::Verified, "{chain} pinned");
        // may and encrypt: TLS, reported untrusted.
        for level in [SecurityLevel::May, SecurityLevel::Encrypt] {
            let (result, transcript) =
                open(starttls_with(certified(chain, key)), &config(policy(level))).await;
            let tls = result.unwrap_or_else(|e| panic!("{chain} at {level}: {e}"));
            assert_eq!(tls.trust, Trust::Untrusted, "{chain} at {level}");
            let peer = tls.session.unwrap().peer.unwrap();
            assert_eq!(peer.cert_sha256, pin(chain).0);
            assert!(peer.spki_sha256.is_some());
            assert_eq!(transcript.lines.len(), 4, "{transcript:?}");
        }
    }
}

#[tokio::test]
async fn the_good_certificate_passes_every_level_with_spki_pins_too() {
    for level in [SecurityLevel::Fingerprint, SecurityLevel::Verify, SecurityLevel::Secure] {
        let (result, _) = open(
            starttls_with(certified("server-chain.pem", "server-key.pem")),
            &config(passing(level)),
        )
        .await;
        let tls = result.unwrap_or_else(|e| panic!("{level}: {e}"));
        assert_eq!(tls.trust, Trust::Verified, "{level}");
        assert_eq!(tls.session.as_ref().unwrap().sni.as_deref(), Some("mail.test"));
    }
    // A pin of the public key (SPKI) works as well as one of the certificate.
    let spki = sealpost_starttls::spki_sha256(
        &sealpost_starttls::read_chain(&pki("server.pem")).unwrap()[0],
    )
    .unwrap();
    let spki_pinned = policy(SecurityLevel::Fingerprint).fingerprint(spki.into());
    let (result, _) =
        open(starttls_with(certified("server-chain.pem", "server-key.pem")), &config(spki_pinned))
            .await;
    assert_eq!(result.unwrap().trust, Trust::Verified);
    // secure with a name the certificate does not carry fails on the name.
    let other_name = policy(SecurityLevel::Secure).match_name("example.org");
    let (result, _) =
        open(starttls_with(certified("server-chain.pem", "server-key.pem")), &config(other_name))
            .await;
    assert_eq!(
        result.err().and_then(|e| e.tls_result_type()),
        Some(ResultType::CertificateHostMismatch)
    );
}

#[tokio::test]
async fn a_server_that_cannot_sign_with_the_presented_certificate_fails_at_every_level() {
    // The real chain, but the handshake is signed with another RSA key.
    let forged = || certified("server-chain.pem", "server-wrong-name-key.pem");
    for level in [
        SecurityLevel::Fingerprint,
        SecurityLevel::Verify,
        SecurityLevel::Secure,
        SecurityLevel::Encrypt,
    ] {
        let (result, transcript) = open(starttls_with(forged()), &config(passing(level))).await;
        match &result {
            Err(DeliveryError::Tls {
                error: TlsError::CertificateRejected { result_type, reason },
                ..
            }) => {
                assert_eq!(*result_type, ResultType::ValidationFailure, "{level}");
                assert_eq!(
                    *reason,
                    sealpost_starttls::rustls::Error::InvalidCertificate(
                        sealpost_starttls::rustls::CertificateError::BadSignature
                    ),
                    "{level}"
                );
            }
            other => panic!("{level}: {other:?}"),
        }
        assert!(!transcript.sent("MAIL") && transcript.lines.len() == 2, "{level}: {transcript:?}");
    }
}

#[tokio::test]
async fn implicit_tls_against_a_plaintext_port_is_named_plainly() {
    let config = config(passing(SecurityLevel::Encrypt)).implicit_tls(true);
    let (result, _) = open(vec![Send(GREETING), Serve], &config).await;
    match result {
        Err(e @ DeliveryError::TlsModeMismatch(_)) => {
            assert!(e.to_string().contains("not an implicit-TLS port"), "{e}");
            assert!(e.is_permanent());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn plaintext_against_an_implicit_tls_port_says_so() {
    // The server waits for a ClientHello; the client waits for a greeting.
    let mut config = config(passing(SecurityLevel::Encrypt));
    config.timeouts = Timeouts::all(Duration::from_millis(500));
    let (result, _) = open(vec![Tls(good_tls())], &config).await;
    match result {
        Err(e @ DeliveryError::NoGreeting(_)) => assert!(e.to_string().contains("implicit TLS")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn implicit_tls_verifies_like_starttls() {
    let steps = vec![Tls(good_tls()), Send(GREETING), Expect("EHLO"), Send(EHLO_AFTER_TLS), Serve];
    let config = config(passing(SecurityLevel::Verify)).implicit_tls(true);
    let (result, transcript) = open(steps, &config).await;
    assert_eq!(result.unwrap().trust, Trust::Verified);
    assert_eq!(transcript.lines, ["EHLO client.test", "QUIT"]);
    let bad =
        vec![Tls(server_tls(certified("server-unknown-ca.pem", "server-unknown-ca-key.pem")))];
    let (result, _) = open(bad, &config).await;
    assert_eq!(
        result.err().and_then(|e| e.tls_result_type()),
        Some(ResultType::CertificateNotTrusted)
    );
}

#[tokio::test]
async fn a_fingerprint_policy_without_pins_is_refused() {
    let err = TlsClient::new(&policy(SecurityLevel::Fingerprint)).unwrap_err();
    assert!(matches!(err, TlsError::Policy(_)), "{err}");
    let err = TlsClient::new(&policy(SecurityLevel::Verify).match_name("not a name")).unwrap_err();
    assert!(matches!(err, TlsError::InvalidServerName(_)), "{err}");
}
