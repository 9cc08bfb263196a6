//! The `dane` and `dane-only` levels and MTA-STS, end to end: MX routes resolved through a
//! static DNS resolver holding TLSA records made from the test PKI, deliveries to
//! `sealpost-server` in-process over loopback, and what each case does to the message
//! (delivered or not) and to the report (trust, policy type, result type).
// DANE and MTA-STS need the features of the same names.
#![cfg(all(feature = "dane", feature = "mta-sts"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::sync::Arc;

use sealpost_client::{Client, DeliveryConfig, DeliveryError, Message, MxError, Route};
use sealpost_codec::client::Envelope;
use sealpost_codec::{ForwardPath, Mailbox, ReversePath};
use sealpost_server::{Role, ServerSettings};
use sealpost_starttls::client::{SecurityLevel, TlsPolicy, Trust};
use sealpost_starttls::dane::{CertUsage, MatchingType, Selector, Tlsa};
use sealpost_starttls::dns::{Answer, Dnssec, Mx, StaticResolver, Txt};
use sealpost_starttls::mta_sts::{FetchError, FetchFuture, PolicyFetcher, StsPolicy};
use sealpost_starttls::tlsrpt::{PolicyType, ResultType};
use sealpost_starttls::{read_chain, sha256, spki_sha256};
use support::server::{Running, start};
use support::{Send, Serve, config, hostile_sessions, pki, roots};

const DOMAIN: &str = "dest.test";
const MX: &str = "mail.test";

/// `3 1 1`: the SHA-256 of the server leaf's public key.
fn ee_spki() -> Tlsa {
    let leaf = &read_chain(&pki("server.pem")).unwrap()[0];
    Tlsa::new(
        CertUsage::DaneEe,
        Selector::Spki,
        MatchingType::Sha256,
        spki_sha256(leaf).unwrap().to_vec(),
    )
}

/// `2 0 1`: the SHA-256 of the intermediate CA certificate (sent in the server's chain).
fn ta_intermediate() -> Tlsa {
    let ca = &read_chain(&pki("intermediate-ca.pem")).unwrap()[0];
    Tlsa::new(
        CertUsage::DaneTa,
        Selector::FullCert,
        MatchingType::Sha256,
        sha256(ca.as_ref()).to_vec(),
    )
}

/// A `3 1 1` record that matches nothing.
fn wrong_digest() -> Tlsa {
    format!("3 1 1 {}", "ab".repeat(32)).parse().unwrap()
}

fn records<T>(
    records: Vec<T>,
    dnssec: Dnssec,
) -> Result<Answer<T>, sealpost_starttls::dns::DnsError> {
    Ok(Answer::Records { records, dnssec })
}

/// DNS for `dest.test` (MX `mail.test` at 127.0.0.1), every answer with `dnssec`, and
/// the TLSA answer given.
fn dns(
    server: &Running,
    dnssec: Dnssec,
    tlsa: Result<Answer<Tlsa>, sealpost_starttls::dns::DnsError>,
) -> StaticResolver {
    let port = server.addr(Role::Mx).port();
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    StaticResolver::new()
        .with_mx(DOMAIN, records(vec![Mx { preference: 10, exchange: MX.into() }], dnssec))
        .with_ip(MX, records(vec![localhost], dnssec))
        .with_tlsa(port, MX, tlsa)
}

fn mailbox(s: &str) -> Mailbox<'static> {
    s.parse::<Mailbox<'_>>().unwrap().into_owned()
}

fn message() -> Message {
    let envelope = Envelope::new(ReversePath::Mailbox(mailbox("alice@client.test")))
        .recipient(ForwardPath::Mailbox(mailbox("bob@mail.test")));
    Message::new(envelope, &b"Subject: policy\r\n\r\nhello\r\n"[..])
}

fn settings() -> ServerSettings {
    ServerSettings::new("mail.test")
}

/// A client of `policy` for the server's MX port, with `dns`.
fn make_client(server: &Running, policy: TlsPolicy, dns: StaticResolver) -> Client {
    let mut config: DeliveryConfig = config(policy);
    config.port = server.addr(Role::Mx).port();
    Client::new(config).with_dns(Arc::new(dns))
}

fn mx_route() -> Route {
    Route::Mx { domain: DOMAIN.into() }
}

#[tokio::test]
async fn dane_ee_and_dane_ta_records_authenticate_the_server() {
    let server = start(settings()).await;
    for (level, record) in [
        (SecurityLevel::Dane, ee_spki()),
        (SecurityLevel::DaneOnly, ee_spki()),
        (SecurityLevel::DaneOnly, ta_intermediate()),
    ] {
        let dns = dns(&server, Dnssec::Secure, records(vec![record.clone()], Dnssec::Secure));
        // No trust anchors configured: only the TLSA records can vouch for the server.
        let client = make_client(&server, TlsPolicy::new(level), dns);
        let delivery = client.deliver(&mx_route(), &[message()]).await.unwrap();
        assert!(delivery.all_delivered(), "{level} {record}");
        assert_eq!(delivery.tls.trust, Trust::Verified, "{level} {record}");
        assert_eq!(delivery.tls.level, level);
        let policy = delivery.tls.policy.as_ref().unwrap();
        assert_eq!(policy.policy_type, PolicyType::Tlsa);
        assert_eq!(policy.policy_strings, [record.to_string()]);
        assert_eq!(policy.policy_domain, DOMAIN);
    }
    assert_eq!(server.stored().len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn a_tlsa_mismatch_defers_and_sends_nothing() {
    let server = start(settings()).await;
    for level in [SecurityLevel::Dane, SecurityLevel::DaneOnly] {
        let dns = dns(&server, Dnssec::Secure, records(vec![wrong_digest()], Dnssec::Secure));
        let client = make_client(&server, TlsPolicy::new(level), dns);
        let error = client.deliver(&mx_route(), &[message()]).await.unwrap_err();
        let DeliveryError::PolicyNotMet { policy, result_type, .. } = &error else {
            panic!("{level}: {error}");
        };
        assert_eq!(policy.policy_type, PolicyType::Tlsa);
        assert_eq!(*result_type, ResultType::TlsaInvalid, "{error}");
        assert!(!error.is_permanent());
        assert_eq!(error.tls_result_type(), Some(ResultType::TlsaInvalid));
    }
    assert!(server.stored().is_empty(), "nothing may be delivered past a TLSA mismatch");
    server.stop().await;
}

#[tokio::test]
async fn without_secure_tlsa_records_dane_is_opportunistic_and_dane_only_defers() {
    let server = start(settings()).await;
    let cases: Vec<(&str, Dnssec, Result<Answer<Tlsa>, _>)> = vec![
        (
            "no records (secure denial)",
            Dnssec::Secure,
            Ok(Answer::NoRecords { dnssec: Dnssec::Secure }),
        ),
        ("unsigned records", Dnssec::Secure, records(vec![ee_spki()], Dnssec::Insecure)),
        ("insecure MX answer", Dnssec::Insecure, records(vec![ee_spki()], Dnssec::Secure)),
    ];
    for (what, dnssec, tlsa) in cases {
        let client = make_client(
            &server,
            TlsPolicy::new(SecurityLevel::Dane),
            dns(&server, dnssec, tlsa.clone()),
        );
        let delivery = client.deliver(&mx_route(), &[message()]).await.unwrap();
        assert!(delivery.all_delivered(), "dane, {what}");
        assert_eq!(delivery.tls.trust, Trust::Untrusted, "dane, {what}: TLS as at may");
        assert_eq!(delivery.tls.policy, None, "dane, {what}");

        let client = make_client(
            &server,
            TlsPolicy::new(SecurityLevel::DaneOnly),
            dns(&server, dnssec, tlsa),
        );
        let error = client.deliver(&mx_route(), &[message()]).await.unwrap_err();
        assert_eq!(
            error.tls_result_type(),
            Some(ResultType::DaneRequired),
            "dane-only, {what}: {error}"
        );
    }
    assert_eq!(server.stored().len(), 3, "only the dane deliveries");
    server.stop().await;
}

#[tokio::test]
async fn bogus_dns_defers_at_both_dane_levels() {
    let server = start(settings()).await;
    let cases: Vec<(&str, Dnssec, Result<Answer<Tlsa>, _>)> = vec![
        ("bogus TLSA", Dnssec::Secure, records(vec![ee_spki()], Dnssec::Bogus)),
        (
            "failed TLSA lookup",
            Dnssec::Secure,
            Err(sealpost_starttls::dns::DnsError::Failure {
                name: "x".into(),
                reason: "SERVFAIL".into(),
                source: None,
            }),
        ),
    ];
    for (what, dnssec, tlsa) in cases {
        for level in [SecurityLevel::Dane, SecurityLevel::DaneOnly] {
            let client =
                make_client(&server, TlsPolicy::new(level), dns(&server, dnssec, tlsa.clone()));
            let error = client.deliver(&mx_route(), &[message()]).await.unwrap_err();
            assert_eq!(
                error.tls_result_type(),
                Some(ResultType::DnssecInvalid),
                "{level}, {what}: {error}"
            );
        }
    }
    // A bogus MX answer is a resolution failure (temporary), at any level.
    let bogus_mx = dns(&server, Dnssec::Bogus, records(vec![ee_spki()], Dnssec::Secure));
    let error = make_client(&server, TlsPolicy::new(SecurityLevel::Dane), bogus_mx)
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Resolve { .. }), "{error}");
    assert!(!error.is_permanent());
    // The cause is typed, not a sentence: the MX lookup's own error.
    let cause = std::error::Error::source(&error).and_then(|e| e.downcast_ref::<MxError>());
    assert!(matches!(cause, Some(MxError::Bogus { domain }) if domain == DOMAIN), "{cause:?}");
    assert!(server.stored().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn dane_only_without_a_resolver_defers_and_dane_falls_back_to_may() {
    let server = start(settings()).await;
    let addr = server.addr(Role::Mx);
    let route = Route::Host { host: addr.ip().to_string(), port: addr.port() };
    let only = Client::new(config(TlsPolicy::new(SecurityLevel::DaneOnly)));
    let error = only.deliver(&route, &[message()]).await.unwrap_err();
    assert_eq!(error.tls_result_type(), Some(ResultType::DaneRequired), "{error}");
    let dane = Client::new(config(TlsPolicy::new(SecurityLevel::Dane)));
    let delivery = dane.deliver(&route, &[message()]).await.unwrap();
    assert_eq!(delivery.tls.trust, Trust::Untrusted);
    assert_eq!(server.stored().len(), 1);
    server.stop().await;
}

/// A fetcher with a fixed answer (the HTTPS fetch itself is tested in sealpost-starttls
/// and by `cargo xtask interop` against a real HTTPS server).
struct Fixed(Result<&'static str, ()>);

impl PolicyFetcher for Fixed {
    fn fetch<'a>(&'a self, _domain: &'a str) -> FetchFuture<'a> {
        let answer = self.0;
        Box::pin(async move {
            match answer {
                Ok(body) => Ok(StsPolicy::parse(body.as_bytes())?),
                Err(()) => Err(FetchError::Status(404)),
            }
        })
    }
}

const ENFORCE_LISTED: &str = "version: STSv1\nmode: enforce\nmx: mail.test\nmax_age: 86400\n";
const ENFORCE_UNLISTED: &str = "version: STSv1\nmode: enforce\nmx: *.other.test\nmax_age: 86400\n";
const TESTING_LISTED: &str = "version: STSv1\nmode: testing\nmx: mail.test\nmax_age: 86400\n";
const TESTING_UNLISTED: &str = "version: STSv1\nmode: testing\nmx: *.other.test\nmax_age: 86400\n";

/// DNS announcing an MTA-STS policy for `dest.test`, without DNSSEC.
fn sts_dns(server: &Running) -> StaticResolver {
    let txt = Txt { strings: vec![b"v=STSv1; id=20261129".to_vec()] };
    dns(server, Dnssec::Insecure, Ok(Answer::NoRecords { dnssec: Dnssec::Insecure }))
        .with_txt("_mta-sts.dest.test", records(vec![txt], Dnssec::Insecure))
}

fn sts_client(server: &Running, policy: TlsPolicy, fetcher: Fixed) -> Client {
    make_client(server, policy, sts_dns(server)).with_mta_sts(Arc::new(fetcher))
}

#[tokio::test]
async fn mta_sts_enforce_requires_a_listed_mx_and_a_valid_certificate() {
    let server = start(settings()).await;
    // Listed MX, certificate chaining to the configured roots and naming mail.test.
    let may = TlsPolicy::new(SecurityLevel::May).roots(roots());
    let delivery = sts_client(&server, may.clone(), Fixed(Ok(ENFORCE_LISTED)))
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.tls.trust, Trust::Verified, "enforce verifies even at may");
    let policy = delivery.tls.policy.as_ref().unwrap();
    assert_eq!(policy.policy_type, PolicyType::Sts);
    assert_eq!(policy.mx_hosts, ["mail.test"]);
    assert_eq!(server.stored().len(), 1);

    // An MX host the policy does not list is never contacted.
    let error = sts_client(&server, may.clone(), Fixed(Ok(ENFORCE_UNLISTED)))
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DeliveryError::PolicyNotMet { policy, .. } if policy.policy_type == PolicyType::Sts),
        "{error}"
    );
    assert_eq!(error.tls_result_type(), Some(ResultType::ValidationFailure));

    // A certificate the roots do not vouch for (the Mozilla roots, not the test CA).
    let error = sts_client(&server, TlsPolicy::new(SecurityLevel::May), Fixed(Ok(ENFORCE_LISTED)))
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap_err();
    assert_eq!(error.tls_result_type(), Some(ResultType::CertificateNotTrusted), "{error}");
    assert!(!error.is_permanent());
    assert_eq!(server.stored().len(), 1, "nothing more was delivered");
    server.stop().await;
}

#[tokio::test]
async fn mta_sts_testing_reports_failures_and_delivers() {
    let server = start(settings()).await;
    let may = TlsPolicy::new(SecurityLevel::May);
    // Untrusted certificate: the enforce-like attempt fails, the may attempt delivers.
    let delivery = sts_client(&server, may.clone(), Fixed(Ok(TESTING_LISTED)))
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.tls.trust, Trust::Untrusted);
    assert_eq!(delivery.tls.failure, Some(ResultType::CertificateNotTrusted));
    assert_eq!(delivery.tls.policy.as_ref().unwrap().policy_type, PolicyType::Sts);

    // Unlisted MX: delivered, reported.
    let delivery = sts_client(&server, may.clone(), Fixed(Ok(TESTING_UNLISTED)))
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.tls.failure, Some(ResultType::ValidationFailure));

    // A policy announced in DNS that cannot be fetched: delivered under may, reported.
    let delivery =
        sts_client(&server, may, Fixed(Err(()))).deliver(&mx_route(), &[message()]).await.unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.tls.failure, Some(ResultType::StsPolicyFetchError));
    assert_eq!(server.stored().len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn dane_takes_precedence_over_mta_sts_and_local_levels_stay() {
    let server = start(settings()).await;
    // Secure TLSA records: DANE applies, the (unlisting) MTA-STS policy does not.
    let dns_with_tlsa = dns(&server, Dnssec::Secure, records(vec![ee_spki()], Dnssec::Secure))
        .with_txt(
            "_mta-sts.dest.test",
            records(vec![Txt { strings: vec![b"v=STSv1; id=1".to_vec()] }], Dnssec::Secure),
        );
    let client = make_client(&server, TlsPolicy::new(SecurityLevel::Dane), dns_with_tlsa)
        .with_mta_sts(Arc::new(Fixed(Ok(ENFORCE_UNLISTED))));
    let delivery = client.deliver(&mx_route(), &[message()]).await.unwrap();
    assert_eq!(delivery.tls.policy.as_ref().unwrap().policy_type, PolicyType::Tlsa);
    assert_eq!(delivery.tls.trust, Trust::Verified);

    // A destination configured at verify keeps its level: MTA-STS does not apply.
    let verify = TlsPolicy::new(SecurityLevel::Verify).roots(roots());
    let delivery = sts_client(&server, verify, Fixed(Ok(ENFORCE_UNLISTED)))
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap();
    assert_eq!(delivery.tls.policy, None);
    assert_eq!(delivery.tls.trust, Trust::Verified);
    assert_eq!(server.stored().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn mta_sts_and_a_server_without_starttls() {
    const GREETING: &[u8] = b"220 mail.test ESMTP\r\n";
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    let txt = Txt { strings: vec![b"v=STSv1; id=1".to_vec()] };
    let dns = || {
        StaticResolver::new()
            .with_mx(
                DOMAIN,
                records(vec![Mx { preference: 10, exchange: MX.into() }], Dnssec::Insecure),
            )
            .with_ip(MX, records(vec![localhost], Dnssec::Insecure))
            .with_txt("_mta-sts.dest.test", records(vec![txt.clone()], Dnssec::Insecure))
    };
    let client = |port: u16, policy: &'static str| {
        let mut config = config(TlsPolicy::new(SecurityLevel::May));
        config.port = port;
        Client::new(config).with_dns(Arc::new(dns())).with_mta_sts(Arc::new(Fixed(Ok(policy))))
    };
    // Testing: the enforce-like attempt finds no STARTTLS; the may attempt delivers in clear
    // on a second connection, and the report says why.
    let (addr, task) =
        hostile_sessions(vec![vec![Send(GREETING), Serve], vec![Send(GREETING), Serve]]).await;
    let delivery =
        client(addr.port(), TESTING_LISTED).deliver(&mx_route(), &[message()]).await.unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.tls.trust, Trust::None);
    assert_eq!(delivery.tls.failure, Some(ResultType::StarttlsNotSupported));
    assert_eq!(delivery.tls.policy.as_ref().unwrap().policy_type, PolicyType::Sts);
    let transcripts = task.await.unwrap();
    assert!(!transcripts[0].sent("MAIL"), "{:?}", transcripts[0]);
    assert!(transcripts[1].sent("MAIL FROM:<alice@client.test>"), "{:?}", transcripts[1]);

    // Enforce: nothing goes out in clear.
    let (addr, task) = hostile_sessions(vec![vec![Send(GREETING), Serve]]).await;
    let error =
        client(addr.port(), ENFORCE_LISTED).deliver(&mx_route(), &[message()]).await.unwrap_err();
    assert!(matches!(error, DeliveryError::PolicyNotMet { .. }), "{error}");
    assert_eq!(error.tls_result_type(), Some(ResultType::StarttlsNotSupported));
    let transcripts = task.await.unwrap();
    assert!(!transcripts[0].sent("MAIL"), "{:?}", transcripts[0]);
}

#[tokio::test]
async fn address_lookups_never_fall_back_to_a_weaker_source() {
    let server = start(settings()).await;
    let port = server.addr(Role::Mx).port();
    let failure = || {
        Err(sealpost_starttls::dns::DnsError::Failure {
            name: MX.into(),
            reason: "SERVFAIL".into(),
            source: None,
        })
    };
    // The MX answer is secure, the address lookup fails: defer, do not ask the system's
    // resolver (whose answer would be insecure and turn DANE off).
    let dns = dns(&server, Dnssec::Secure, records(vec![ee_spki()], Dnssec::Secure))
        .with_ip(MX, failure());
    let error = make_client(&server, TlsPolicy::new(SecurityLevel::Dane), dns)
        .deliver(&mx_route(), &[message()])
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Resolve { .. }), "{error}");
    assert!(!error.is_permanent());
    // localhost is answered by the system even when DNS (here: a bogus answer) is set.
    let dns = StaticResolver::new().with_ip("localhost", records(vec![], Dnssec::Bogus));
    let route = Route::Host { host: "localhost".into(), port };
    let client = Client::new(config(TlsPolicy::new(SecurityLevel::May))).with_dns(Arc::new(dns));
    let delivery = client.deliver(&route, &[message()]).await.unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(server.stored().len(), 1);
    server.stop().await;
}
