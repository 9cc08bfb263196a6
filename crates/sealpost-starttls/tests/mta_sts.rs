//! MTA-STS (RFC 8461): record and policy parsers, MX matching, the policy cache, and the
//! HTTPS fetch against a local server that uses the test PKI.
// Needs the MTA-STS module (feature `mta-sts`).
#![cfg(feature = "mta-sts")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use memchr::memmem;
use sealpost_starttls::Cause;
use sealpost_starttls::dns::{Answer, DnsError, Dnssec, StaticResolver, Txt};
use sealpost_starttls::mta_sts::{
    FetchError, FetchFuture, HttpsPolicyFetcher, Mode, MxPattern, PolicyCache, PolicyError,
    PolicyFetcher, PolicySource, StsLookup, StsPolicy, StsRecord, StsRecordError,
};
use sealpost_starttls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sealpost_starttls::rustls::{self, RootCertStore, ServerConfig};
use sealpost_starttls::tlsrpt::ResultType;
use sealpost_starttls::tokio_rustls::TlsAcceptor;
use sealpost_starttls::{read_chain, read_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------------------
// The TXT record.

#[test]
fn record_table() {
    let good = [
        ("v=STSv1; id=20160831085700Z;", "20160831085700Z"), // RFC 8461 section 3.1
        ("v=STSv1;id=abc", "abc"),
        ("v=STSv1; id=1 ; ", "1"),
        ("v=STSv1;\tid=X9", "X9"),
        ("v=STSv1; ext_field.x-y=val:ue; id=a1", "a1"),
        (&format!("v=STSv1; id={}", "a".repeat(32)), &"a".repeat(32)),
    ];
    for (text, id) in good {
        assert_eq!(StsRecord::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).id, id);
    }
    let bad: Vec<(String, StsRecordError)> = vec![
        ("v=STSv2; id=1".into(), StsRecordError::NotSts),
        ("id=1; v=STSv1".into(), StsRecordError::NotSts),
        ("v=stsv1; id=1".into(), StsRecordError::NotSts),
        ("v=STSv1".into(), StsRecordError::NoId),
        ("v=STSv1;".into(), StsRecordError::NoId),
        ("v=STSv1; id=".into(), StsRecordError::BadField("id=".into())),
        ("v=STSv1; id=abc-def".into(), StsRecordError::BadId("abc-def".into())),
        (format!("v=STSv1; id={}", "a".repeat(33)), StsRecordError::BadId("a".repeat(33))),
        ("v=STSv1; id=1; id=2".into(), StsRecordError::Duplicate("id".into())),
        ("v=STSv1; v=STSv1; id=1".into(), StsRecordError::Duplicate("v".into())),
        ("v=STSv1; id 1".into(), StsRecordError::BadField("id 1".into())),
        ("v=STSv1; id=1;; x=y".into(), StsRecordError::BadField(String::new())),
        ("v=STSv1; id=caf\u{e9}".into(), StsRecordError::NotAscii),
    ];
    for (text, want) in bad {
        assert_eq!(StsRecord::parse(&text), Err(want), "{text:?}");
    }
}

#[test]
fn record_selection_among_txt_records() {
    let txt = |s: &[&str]| Txt { strings: s.iter().map(|x| x.as_bytes().to_vec()).collect() };
    assert_eq!(StsRecord::from_txt(&[]), Ok(None));
    assert_eq!(StsRecord::from_txt(&[txt(&["v=spf1 -all"])]), Ok(None));
    let split = StsRecord::from_txt(&[txt(&["v=spf1 -all"]), txt(&["v=STSv1; i", "d=split1"])]);
    assert_eq!(split.unwrap().unwrap().id, "split1");
    assert_eq!(
        StsRecord::from_txt(&[txt(&["v=STSv1; id=1"]), txt(&["v=STSv1; id=2"])]),
        Err(StsRecordError::Multiple(2))
    );
}

// ---------------------------------------------------------------------------------------
// The policy file.

const RFC_EXAMPLE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

#[test]
fn policy_rfc_example() {
    let p = StsPolicy::parse(RFC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.max_age, 604_800);
    let mx: Vec<&str> = p.mx.iter().map(MxPattern::as_str).collect();
    assert_eq!(mx, ["mail.example.com", "*.example.net", "backupmx.example.com"]);
    assert_eq!(
        p.policy_strings(),
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mail.example.com",
            "mx: *.example.net",
            "mx: backupmx.example.com",
            "max_age: 604800"
        ]
    );
}

#[test]
fn policy_table() {
    let ok: &[(&str, Mode, u32, usize)] = &[
        (
            "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n",
            Mode::Testing,
            86400,
            1,
        ),
        ("version:STSv1\nmode:none\nmax_age:0", Mode::None, 0, 0),
        (
            "max_age: 31557600\nmx: a.example\nmode: enforce\nversion: STSv1\n",
            Mode::Enforce,
            31_557_600,
            1,
        ),
        (
            "version: STSv1\nmode: enforce\nmx: MX.Example.COM.\nmax_age: 60\nextension_field: anything\n",
            Mode::Enforce,
            60,
            1,
        ),
        (
            "version: STSv1 \t\nmode: enforce\nmx: a.example\n\nmax_age: 0000000001\n",
            Mode::Enforce,
            1,
            1,
        ),
    ];
    for (body, mode, max_age, mx) in ok {
        let p = StsPolicy::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        assert_eq!((p.mode, p.max_age, p.mx.len()), (*mode, *max_age, *mx), "{body:?}");
    }
    let v = "version: STSv1\n";
    let bad: Vec<(Vec<u8>, PolicyError)> = vec![
        (b"mode: enforce\nmx: a.example\nmax_age: 1\n".to_vec(), PolicyError::Missing("version")),
        (
            b"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n".to_vec(),
            PolicyError::BadVersion("STSv2".into()),
        ),
        (format!("{v}mx: a.example\nmax_age: 1\n").into_bytes(), PolicyError::Missing("mode")),
        (
            format!("{v}mode: Enforce\nmx: a.example\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMode("Enforce".into()),
        ),
        (
            format!("{v}mode: report\nmx: a.example\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMode("report".into()),
        ),
        (
            format!("{v}mode: enforce\nmx: a.example\n").into_bytes(),
            PolicyError::Missing("max_age"),
        ),
        (
            format!("{v}mode: enforce\nmx: a.example\nmax_age: 31557601\n").into_bytes(),
            PolicyError::BadMaxAge("31557601".into()),
        ),
        (
            format!("{v}mode: enforce\nmx: a.example\nmax_age: 12345678901\n").into_bytes(),
            PolicyError::BadMaxAge("12345678901".into()),
        ),
        (
            format!("{v}mode: enforce\nmx: a.example\nmax_age: -1\n").into_bytes(),
            PolicyError::BadMaxAge("-1".into()),
        ),
        (
            format!("{v}mode: enforce\nmx: a.example\nmax_age: 1d\n").into_bytes(),
            PolicyError::BadMaxAge("1d".into()),
        ),
        (format!("{v}mode: enforce\nmax_age: 1\n").into_bytes(), PolicyError::Missing("mx")),
        (
            format!("{v}mode: testing\nmx: *.*.example.com\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMx("*.*.example.com".into()),
        ),
        (
            format!("{v}mode: testing\nmx: mx.*.example.com\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMx("mx.*.example.com".into()),
        ),
        (
            format!("{v}mode: testing\nmx: *\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMx("*".into()),
        ),
        (
            format!("{v}mode: testing\nmx: a..example\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMx("a..example".into()),
        ),
        (
            format!("{v}mode: testing\nmx:\nmax_age: 1\n").into_bytes(),
            PolicyError::BadMx(String::new()),
        ),
        (
            format!("{v}mode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n").into_bytes(),
            PolicyError::Duplicate("mode"),
        ),
        (
            format!("{v}{v}mode: enforce\nmx: a.example\nmax_age: 1\n").into_bytes(),
            PolicyError::Duplicate("version"),
        ),
        (
            format!("{v}mode enforce\nmx: a.example\nmax_age: 1\n").into_bytes(),
            PolicyError::BadLine(2),
        ),
        (
            b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n\xff\n".to_vec(),
            PolicyError::NotText,
        ),
        (b"<html><body>Not Found</body></html>".to_vec(), PolicyError::BadLine(1)),
    ];
    for (body, want) in bad {
        assert_eq!(StsPolicy::parse(&body), Err(want), "{:?}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn mx_matching_table() {
    let rows: &[(&str, &str, bool)] = &[
        ("mail.example.com", "mail.example.com", true),
        ("mail.example.com", "MAIL.Example.Com.", true),
        ("mail.example.com", "mail2.example.com", false),
        ("mail.example.com", "example.com", false),
        // RFC 8461 section 4.1: a wildcard covers exactly one leftmost label.
        ("*.example.com", "mx1.example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "foo.mx1.example.com", false),
        ("*.example.com", "mx1.example.com.evil.example", false),
        ("*.example.com", "mx1.otherexample.com", false),
        ("*.example.com", ".example.com", false),
    ];
    for (pattern, host, want) in rows {
        let p = MxPattern::parse(pattern).unwrap();
        assert_eq!(p.matches(host), *want, "{pattern} vs {host}");
    }
    let policy = StsPolicy::parse(RFC_EXAMPLE.as_bytes()).unwrap();
    assert!(policy.matches_mx("mail.example.com"));
    assert!(policy.matches_mx("mx7.example.net"));
    assert!(!policy.matches_mx("mx7.example.org"));
}

// ---------------------------------------------------------------------------------------
// The cache.

/// Returns a policy whose `max_age` is given, counting fetches, or fails on demand.
struct FakeFetcher {
    fetches: AtomicUsize,
    fail: std::sync::Mutex<Option<FetchError>>,
    max_age: u32,
}

impl FakeFetcher {
    fn new(max_age: u32) -> FakeFetcher {
        FakeFetcher { fetches: AtomicUsize::new(0), fail: std::sync::Mutex::new(None), max_age }
    }
    fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl PolicyFetcher for FakeFetcher {
    fn fetch<'a>(&'a self, domain: &'a str) -> FetchFuture<'a> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let fail = self.fail.lock().unwrap().clone();
        let body = format!(
            "version: STSv1\nmode: enforce\nmx: mx{n}.{domain}\nmax_age: {}\n",
            self.max_age
        );
        Box::pin(async move {
            match fail {
                Some(e) => Err(e),
                None => Ok(StsPolicy::parse(body.as_bytes())?),
            }
        })
    }
}

fn sts_txt(id: &str) -> Result<Answer<Txt>, DnsError> {
    Ok(Answer::Records {
        records: vec![Txt { strings: vec![format!("v=STSv1; id={id}").into_bytes()] }],
        dnssec: Dnssec::Insecure,
    })
}

fn with_id(id: &str) -> StaticResolver {
    StaticResolver::new().with_txt("_mta-sts.example.com", sts_txt(id))
}

fn policy_of(lookup: &StsLookup) -> (&str, PolicySource, String, Option<ResultType>) {
    match lookup {
        StsLookup::Policy { policy, id, source, failure } => (
            id.as_str(),
            *source,
            policy.mx[0].to_string(),
            failure.as_ref().map(|f| f.result_type),
        ),
        other => panic!("expected a policy, got {other:?}"),
    }
}

#[tokio::test]
async fn cache_refetches_on_new_id_and_expiry() {
    let cache = PolicyCache::new();
    let fetcher = FakeFetcher::new(3600);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    let a = cache.lookup(&with_id("one"), &fetcher, "example.com", t0).await;
    assert_eq!(policy_of(&a), ("one", PolicySource::Fetched, "mx1.example.com".into(), None));
    // Same id, not expired: from the cache, no fetch.
    let b =
        cache.lookup(&with_id("one"), &fetcher, "EXAMPLE.com.", t0 + Duration::from_secs(60)).await;
    assert_eq!(policy_of(&b), ("one", PolicySource::Cached, "mx1.example.com".into(), None));
    assert_eq!(fetcher.count(), 1);
    // The id changed: fetched again.
    let c =
        cache.lookup(&with_id("two"), &fetcher, "example.com", t0 + Duration::from_secs(120)).await;
    assert_eq!(policy_of(&c), ("two", PolicySource::Fetched, "mx2.example.com".into(), None));
    assert_eq!(cache.get("example.com").unwrap().id, "two");
    // Same id but max_age has passed: fetched again.
    let later = t0 + Duration::from_secs(120 + 3601);
    let d = cache.lookup(&with_id("two"), &fetcher, "example.com", later).await;
    assert_eq!(policy_of(&d), ("two", PolicySource::Fetched, "mx3.example.com".into(), None));
    assert_eq!(fetcher.count(), 3);
    assert_eq!(cache.purge(later + Duration::from_secs(3601)), 1);
    assert!(cache.get("example.com").is_none());
}

#[tokio::test]
async fn cache_keeps_unexpired_policy_when_discovery_or_fetch_fails() {
    let cache = PolicyCache::new();
    let fetcher = FakeFetcher::new(3600);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    cache.lookup(&with_id("one"), &fetcher, "example.com", t0).await;

    // New id, fetch fails: the cached policy stays in effect, the failure is reported.
    *fetcher.fail.lock().unwrap() = Some(FetchError::Status(500));
    let a =
        cache.lookup(&with_id("two"), &fetcher, "example.com", t0 + Duration::from_secs(10)).await;
    assert_eq!(
        policy_of(&a),
        (
            "one",
            PolicySource::CachedAfterFailure,
            "mx1.example.com".into(),
            Some(ResultType::StsPolicyFetchError)
        )
    );
    // The TXT record is gone (or the lookup failed): the cached policy stays in effect.
    let gone = StaticResolver::new();
    let b = cache.lookup(&gone, &fetcher, "example.com", t0 + Duration::from_secs(20)).await;
    assert_eq!(policy_of(&b).1, PolicySource::CachedAfterFailure);
    let servfail = StaticResolver::new().with_txt(
        "_mta-sts.example.com",
        Err(DnsError::Failure {
            name: "_mta-sts.example.com".into(),
            reason: "SERVFAIL".into(),
            source: None,
        }),
    );
    let c = cache.lookup(&servfail, &fetcher, "example.com", t0 + Duration::from_secs(30)).await;
    assert_eq!(policy_of(&c).1, PolicySource::CachedAfterFailure);
    // Once expired, nothing is in effect.
    let d = cache.lookup(&gone, &fetcher, "example.com", t0 + Duration::from_secs(3601)).await;
    assert_eq!(d, StsLookup::NoPolicy { failure: None });
}

#[tokio::test]
async fn no_policy_without_record_or_cache() {
    let cache = PolicyCache::new();
    let fetcher = FakeFetcher::new(60);
    let now = SystemTime::now();
    assert_eq!(
        cache.lookup(&StaticResolver::new(), &fetcher, "example.com", now).await,
        StsLookup::NoPolicy { failure: None }
    );
    // Two STS records: treated as no policy, and nothing is fetched.
    let two = StaticResolver::new().with_txt(
        "_mta-sts.example.com",
        Ok(Answer::Records {
            records: vec![
                Txt { strings: vec![b"v=STSv1; id=1".to_vec()] },
                Txt { strings: vec![b"v=STSv1; id=2".to_vec()] },
            ],
            dnssec: Dnssec::Insecure,
        }),
    );
    assert_eq!(
        cache.lookup(&two, &fetcher, "example.com", now).await,
        StsLookup::NoPolicy { failure: None }
    );
    assert_eq!(fetcher.count(), 0);
    // A record but an invalid policy body: no policy, reported as sts-policy-invalid.
    *fetcher.fail.lock().unwrap() = Some(FetchError::Invalid(PolicyError::Missing("mx")));
    match cache.lookup(&with_id("1"), &fetcher, "example.com", now).await {
        StsLookup::NoPolicy { failure: Some(f) } => {
            assert_eq!(f.result_type, ResultType::StsPolicyInvalid)
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The HTTPS fetch.

const DOMAIN: &str = "example.test";
const GOOD_POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.mx.example.test\r\nmax_age: 86400\r\n";

use sealpost_test_support::pki::pki;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A leaf for `mta-sts.example.test` issued by the test PKI's intermediate CA (the
/// committed leaves only name mail.test and localhost), with the chain a server sends.
fn policy_host_identity() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(pki("intermediate-ca-key.pem")).unwrap())
            .unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    // The same subject as intermediate-ca.pem (xtask/src/certs.rs: CN, then O).
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "sealpost Test Intermediate CA");
    ca_params.distinguished_name.push(rcgen::DnType::OrganizationName, "sealpost tests");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![format!("mta-sts.{DOMAIN}")]).unwrap();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = params.signed_by(&key, &issuer).unwrap();
    let mut chain = vec![leaf.der().clone()];
    chain.extend(read_chain(&pki("intermediate-ca.pem")).unwrap());
    (chain, PrivateKeyDer::Pkcs8(key.serialize_der().into()))
}

/// A certificate for the right name that no configured root vouches for.
fn self_signed_identity() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let c = rcgen::generate_simple_self_signed(vec![format!("mta-sts.{DOMAIN}")]).unwrap();
    (vec![c.cert.der().clone()], PrivateKeyDer::Pkcs8(c.signing_key.serialize_der().into()))
}

fn test_pki_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in read_chain(&pki("ca-bundle.pem")).unwrap() {
        roots.add(c).unwrap();
    }
    roots
}

/// Serves one HTTPS connection: reads the request head, answers with `response` (or
/// never answers when `None`), and hands the request head back.
async fn serve_once(
    identity: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    response: Option<Vec<u8>>,
) -> (SocketAddr, oneshot::Receiver<String>) {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(identity.0, identity.1)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let Ok(mut tls) = acceptor.accept(tcp).await else { return };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while memmem::find(&head, b"\r\n\r\n").is_none() && head.len() < 16 * 1024 {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
        match response {
            Some(bytes) => {
                let _ = tls.write_all(&bytes).await;
                let _ = tls.shutdown().await;
            }
            None => tokio::time::sleep(Duration::from_secs(10)).await,
        }
    });
    (addr, rx)
}

fn http(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn fetch_from(
    identity: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    response: Option<Vec<u8>>,
    configure: impl FnOnce(HttpsPolicyFetcher) -> HttpsPolicyFetcher,
) -> (Result<StsPolicy, FetchError>, Option<String>) {
    let (addr, request) = serve_once(identity, response).await;
    let fetcher = configure(HttpsPolicyFetcher::new(test_pki_roots()).with_address(DOMAIN, addr));
    let result = fetcher.fetch(DOMAIN).await;
    (result, request.await.ok())
}

#[tokio::test]
async fn fetch_good_policy() {
    let (result, request) = fetch_from(
        policy_host_identity(),
        Some(http("200 OK", "text/plain; charset=utf-8", GOOD_POLICY)),
        |f| f,
    )
    .await;
    let policy = result.unwrap();
    assert_eq!(policy.mode, Mode::Enforce);
    assert!(policy.matches_mx("a.mx.example.test"));
    let request = request.unwrap();
    assert!(request.starts_with("GET /.well-known/mta-sts.txt HTTP/1.1\r\n"), "{request}");
    assert!(
        request.to_ascii_lowercase().contains("\r\nhost: mta-sts.example.test\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn fetch_chunked_policy_without_length() {
    let body = format!("{:x}\r\n{GOOD_POLICY}\r\n0\r\n\r\n", GOOD_POLICY.len());
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
    );
    let (result, _) = fetch_from(policy_host_identity(), Some(response.into_bytes()), |f| f).await;
    assert_eq!(result.unwrap().max_age, 86400);
}

#[tokio::test]
async fn fetch_404_is_a_fetch_error() {
    let (result, _) =
        fetch_from(policy_host_identity(), Some(http("404 Not Found", "text/plain", "no")), |f| f)
            .await;
    let err = result.unwrap_err();
    assert_eq!(err, FetchError::Status(404));
    assert_eq!(err.result_type(), ResultType::StsPolicyFetchError);
}

#[tokio::test]
async fn fetch_wrong_content_type_is_refused() {
    let (result, _) =
        fetch_from(policy_host_identity(), Some(http("200 OK", "text/html", GOOD_POLICY)), |f| f)
            .await;
    let err = result.unwrap_err();
    assert_eq!(err, FetchError::ContentType(Some("text/html".into())));
    assert_eq!(err.result_type(), ResultType::StsPolicyFetchError);
    // No Content-Type at all is refused too.
    let response =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{GOOD_POLICY}", GOOD_POLICY.len());
    let (result, _) = fetch_from(policy_host_identity(), Some(response.into_bytes()), |f| f).await;
    assert_eq!(result.unwrap_err(), FetchError::ContentType(None));
}

#[tokio::test]
async fn fetch_redirect_is_not_followed() {
    let response = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://evil.example/.well-known/mta-sts.txt\r\nContent-Length: 0\r\n\r\n".to_vec();
    let (result, _) = fetch_from(policy_host_identity(), Some(response), |f| f).await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        FetchError::Redirect {
            status: 301,
            location: Some("https://evil.example/.well-known/mta-sts.txt".into())
        }
    );
    assert_eq!(err.result_type(), ResultType::StsPolicyFetchError);
}

#[tokio::test]
async fn fetch_too_large_is_refused() {
    // Declared too large.
    let big = format!("{GOOD_POLICY}{}", "x-pad: y\r\n".repeat(7000));
    let (result, _) =
        fetch_from(policy_host_identity(), Some(http("200 OK", "text/plain", &big)), |f| f).await;
    assert_eq!(result.unwrap_err(), FetchError::TooLarge(64 * 1024));
    // Undeclared (chunked) and over a smaller limit.
    let body = format!("{:x}\r\n{GOOD_POLICY}\r\n0\r\n\r\n", GOOD_POLICY.len());
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
    );
    let (result, _) =
        fetch_from(policy_host_identity(), Some(response.into_bytes()), |f| f.with_max_size(32))
            .await;
    assert_eq!(result.unwrap_err(), FetchError::TooLarge(32));
}

#[tokio::test]
async fn fetch_invalid_policy_is_policy_invalid() {
    let (result, _) = fetch_from(
        policy_host_identity(),
        Some(http("200 OK", "text/plain", "version: STSv1\r\nmode: enforce\r\n")),
        |f| f,
    )
    .await;
    let err = result.unwrap_err();
    assert_eq!(err.result_type(), ResultType::StsPolicyInvalid);
}

#[tokio::test]
async fn fetch_untrusted_certificate_is_webpki_invalid() {
    let (result, request) =
        fetch_from(self_signed_identity(), Some(http("200 OK", "text/plain", GOOD_POLICY)), |f| f)
            .await;
    let err = result.unwrap_err();
    assert!(matches!(err, FetchError::Certificate { .. }), "{err:?}");
    assert_eq!(err.result_type(), ResultType::StsWebpkiInvalid);
    assert!(request.is_none(), "no request may be sent over an unverified connection");
    // The cause is rustls's own verdict, for callers that match on it.
    let cause = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<Cause>());
    let rustls_error = cause.and_then(|c| c.downcast_ref::<rustls::Error>());
    assert!(matches!(rustls_error, Some(rustls::Error::InvalidCertificate(_))), "{rustls_error:?}");
}

#[tokio::test]
async fn fetch_certificate_for_another_name_is_webpki_invalid() {
    // server-chain.pem chains to the test root but names mail.test, not mta-sts.example.test.
    let identity =
        (read_chain(&pki("server-chain.pem")).unwrap(), read_key(&pki("server-key.pem")).unwrap());
    let (result, _) =
        fetch_from(identity, Some(http("200 OK", "text/plain", GOOD_POLICY)), |f| f).await;
    let err = result.unwrap_err();
    assert_eq!(err.result_type(), ResultType::StsWebpkiInvalid, "{err}");
}

#[tokio::test]
async fn fetch_times_out() {
    let (result, _) =
        fetch_from(policy_host_identity(), None, |f| f.with_timeout(Duration::from_millis(300)))
            .await;
    assert_eq!(result.unwrap_err(), FetchError::Timeout(Duration::from_millis(300)));
}

#[tokio::test]
async fn fetch_refused_connection_is_a_fetch_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let fetcher = HttpsPolicyFetcher::new(test_pki_roots()).with_address(DOMAIN, addr);
    let err = fetcher.fetch(DOMAIN).await.unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
    assert_eq!(err.result_type(), ResultType::StsPolicyFetchError);
    // The operating system's error is kept, not only its text.
    let FetchError::Connect { source: Some(cause), .. } = &err else { panic!("{err:?}") };
    let kind = cause.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
    assert_eq!(kind, Some(std::io::ErrorKind::ConnectionRefused));
}

/// Discovery end to end: the TXT record from the resolver, the policy over HTTPS from the
/// local server, then the cache answering without a second fetch.
#[tokio::test]
async fn discovery_fetches_over_https_then_caches() {
    let (addr, request) =
        serve_once(policy_host_identity(), Some(http("200 OK", "text/plain", GOOD_POLICY))).await;
    let fetcher = HttpsPolicyFetcher::new(test_pki_roots()).with_address(DOMAIN, addr);
    let resolver =
        StaticResolver::new().with_txt(&format!("_mta-sts.{DOMAIN}"), sts_txt("20240101"));
    let cache = PolicyCache::new();
    let now = SystemTime::now();
    let first = cache.lookup(&resolver, &fetcher, DOMAIN, now).await;
    match &first {
        StsLookup::Policy { policy, id, source: PolicySource::Fetched, failure: None } => {
            assert_eq!(id, "20240101");
            assert!(policy.matches_mx("mail.example.test"));
            assert_eq!(policy.mode, Mode::Enforce);
        }
        other => panic!("{other:?}"),
    }
    assert!(request.await.unwrap().starts_with("GET /.well-known/mta-sts.txt "));
    // The one-shot server is gone: a second fetch would fail, so a policy now proves the
    // cache answered.
    let second = cache.lookup(&resolver, &fetcher, DOMAIN, now + Duration::from_secs(5)).await;
    assert_eq!(policy_of(&second).1, PolicySource::Cached);
}

/// The web PKI roots do not include the test root: the same server that the test roots
/// accept is refused, so custom roots really replace the defaults.
#[cfg(feature = "webpki-roots")]
#[tokio::test]
async fn mozilla_roots_refuse_the_test_pki() {
    let (addr, _) =
        serve_once(policy_host_identity(), Some(http("200 OK", "text/plain", GOOD_POLICY))).await;
    let fetcher = HttpsPolicyFetcher::with_mozilla_roots().with_address(DOMAIN, addr);
    let err = fetcher.fetch(DOMAIN).await.unwrap_err();
    assert_eq!(err.result_type(), ResultType::StsWebpkiInvalid, "{err}");
}

/// Generated inputs built from the grammar's own tokens and lines: the parsers return a
/// typed answer for each (no panic), and whatever they accept satisfies the RFC's limits.
#[test]
fn generated_inputs_never_panic_and_accepted_values_are_in_range() {
    const TOKENS: &[&str] = &[
        "v=STSv1",
        "id=",
        "abc",
        "20160831085700Z",
        ";",
        " ",
        "\t",
        "=",
        "x",
        "-",
        "\u{e9}",
        "v=",
        "id=1",
        "ext=v",
    ];
    const LINES: &[&str] = &[
        "version: STSv1",
        "version: STSv2",
        "mode: enforce",
        "mode: testing",
        "mode: none",
        "mode: off",
        "max_age: 86400",
        "max_age: 31557600",
        "max_age: 31557601",
        "max_age: 99999999999",
        "max_age:",
        "mx: mail.example.com",
        "mx: *.example.net",
        "mx: *.*.example",
        "mx:",
        "ext: 1",
        "garbage",
        "",
        ": x",
        "mx: caf\u{e9}.example",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut records_ok, mut policies_ok, mut policies_bad) = (0, 0, 0);
    for _ in 0..20_000 {
        let len = (next() % 12) as usize;
        let text: String =
            (0..len).map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize]).collect();
        if let Ok(r) = StsRecord::parse(&text) {
            records_ok += 1;
            assert!(!r.id.is_empty() && r.id.len() <= 32, "{text:?}");
            assert!(r.id.bytes().all(|b| b.is_ascii_alphanumeric()), "{text:?}");
        }
        let lines = 3 + (next() % 4) as usize;
        let body: String = (0..lines)
            .map(|_| {
                let line = LINES[(next() % LINES.len() as u64) as usize];
                let end = if next() % 2 == 0 { "\r\n" } else { "\n" };
                format!("{line}{end}")
            })
            .collect();
        match StsPolicy::parse(body.as_bytes()) {
            Ok(p) => {
                policies_ok += 1;
                assert!(p.max_age <= sealpost_starttls::mta_sts::MAX_MAX_AGE, "{body:?}");
                assert!(p.mode == Mode::None || !p.mx.is_empty(), "{body:?}");
                assert!(body.contains("version: STSv1"), "{body:?}");
            }
            Err(_) => policies_bad += 1,
        }
    }
    // The generator reaches both the accepting and the refusing paths, or the checks
    // above would check nothing.
    assert!(records_ok > 0, "no record accepted");
    assert!(
        policies_ok > 0 && policies_bad > 0,
        "policies: {policies_ok} ok, {policies_bad} refused"
    );
}
