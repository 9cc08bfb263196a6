//! sealpost-smime against the bare `openssl` crate CMS calls on the same bytes, in the same
//! run: sign, verify, encrypt (AES-256-GCM and AES-256-CBC) and decrypt of 1 KiB, 100 KiB
//! and 10 MiB entities, with RSA-2048 and ECDSA P-256 keys of the test PKI.
//!
//! Each group holds `sealpost` and `openssl` for one operation, key and size. Before
//! criterion measures each on its own, the group prints an interleaved measurement: the
//! fastest of N calls of each, taken in turns so that both see the same load on a shared
//! machine, and their ratio (sealpost's throughput over openssl's). Run with
//! `cargo bench -p sealpost-smime --bench smime`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "fixed inputs: a benchmark whose setup fails must stop loudly"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::Private;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use sealpost_smime::{
    ContentCipher, Identity, Recipient, SignOptions, Verifier, VerifyOptions, decrypt_cms,
    encrypt_cms, load_certificates, sign_cms,
};

const SIZES: [(&str, usize); 3] =
    [("1KiB", 1024), ("100KiB", 100 * 1024), ("10MiB", 10 * 1024 * 1024)];
const KEYS: [(&str, &str); 2] = [("rsa2048", "alice-rsa"), ("p256", "alice-ec")];

use sealpost_test_support::pki::pki_bytes as pki;

fn identity(who: &str) -> Identity {
    Identity::from_cert_and_key(
        &pki(&format!("smime-{who}-chain.pem")),
        &pki(&format!("smime-{who}-key.pem")),
        None,
    )
    .unwrap()
}

/// A text entity of `size` bytes: a header and CRLF lines of printable ASCII.
fn entity(size: usize) -> Vec<u8> {
    let mut out = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, 0123456789 times.\r\n";
    while out.len() < size {
        out.extend_from_slice(&line[..line.len().min(size - out.len())]);
    }
    out
}

/// Calls in turns for the interleaved measurement: many for small inputs, few for 10 MiB.
fn turns(size: usize) -> usize {
    if size >= 1024 * 1024 { 6 } else { 60 }
}

/// The fastest call of each contender over `n` turns, and the throughput ratio.
fn interleaved(name: &str, n: usize, mut ours: impl FnMut(), mut bare: impl FnMut()) {
    let (mut best_ours, mut best_bare) = (Duration::MAX, Duration::MAX);
    for _ in 0..n {
        let t = Instant::now();
        ours();
        best_ours = best_ours.min(t.elapsed());
        let t = Instant::now();
        bare();
        best_bare = best_bare.min(t.elapsed());
    }
    let ops = |d: Duration| 1.0 / d.as_secs_f64();
    println!(
        "interleaved {name}: sealpost {:.1} ops/s, openssl {:.1} ops/s, ratio {:.2}",
        ops(best_ours),
        ops(best_bare),
        ops(best_ours) / ops(best_bare)
    );
}

fn stack(certs: &[X509]) -> Stack<X509> {
    let mut s = Stack::new().unwrap();
    for c in certs {
        s.push(c.clone()).unwrap();
    }
    s
}

fn bench_sign_verify(c: &mut Criterion) {
    let root = load_certificates(&pki("root-ca.pem")).unwrap();
    let verifier = Verifier::new(VerifyOptions::new(root.clone()));
    let mut store = X509StoreBuilder::new().unwrap();
    store.add_cert(root[0].clone()).unwrap();
    let store = store.build();
    let flags = CMSOptions::DETACHED | CMSOptions::BINARY;
    for (key_name, who) in KEYS {
        let id = identity(who);
        let chain = stack(&id.chain);
        for (size_name, size) in SIZES {
            let content = entity(size);
            let sign_ours = || {
                black_box(sign_cms(&id, black_box(&content), &SignOptions::default()).unwrap());
            };
            let sign_bare = || {
                let cms = CmsContentInfo::sign::<Private>(
                    Some(&id.certificate),
                    Some(&id.key),
                    Some(&chain),
                    Some(black_box(&content)),
                    flags,
                );
                black_box(cms.unwrap().to_der().unwrap());
            };
            let name = format!("sign/{key_name}/{size_name}");
            interleaved(&name, turns(size), sign_ours, sign_bare);
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::from_parameter("sealpost"), |b| b.iter(sign_ours));
            group.bench_function(BenchmarkId::from_parameter("openssl"), |b| b.iter(sign_bare));
            group.finish();

            let der = sign_cms(&id, &content, &SignOptions::default()).unwrap();
            let name = format!("verify/{key_name}/{size_name}");
            interleaved(
                &name,
                turns(size),
                || assert!(verifier.verify_cms(&der, Some(&content)).unwrap().all_valid()),
                || {
                    let mut cms = CmsContentInfo::from_der(&der).unwrap();
                    cms.verify(None, Some(&store), Some(&content), None, CMSOptions::BINARY)
                        .unwrap();
                },
            );
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::from_parameter("sealpost"), |b| {
                b.iter(|| {
                    let signed = verifier.verify_cms(black_box(&der), Some(&content)).unwrap();
                    assert!(signed.all_valid());
                })
            });
            group.bench_function(BenchmarkId::from_parameter("openssl"), |b| {
                b.iter(|| {
                    let mut cms = CmsContentInfo::from_der(black_box(&der)).unwrap();
                    cms.verify(None, Some(&store), Some(&content), None, CMSOptions::BINARY)
                        .unwrap();
                })
            });
            group.finish();
        }
    }
}

fn bench_encrypt_decrypt(c: &mut Criterion) {
    for (key_name, who) in [("rsa2048", "bob-rsa"), ("p256", "bob-ec")] {
        let id = identity(who);
        let recipients = [Recipient::new(id.certificate.clone())];
        let certs = stack(std::slice::from_ref(&id.certificate));
        for (size_name, size) in SIZES {
            let content = entity(size);
            for (cipher_name, ours, bare) in [
                ("gcm", ContentCipher::Aes256Gcm, Cipher::aes_256_gcm()),
                ("cbc", ContentCipher::Aes256Cbc, Cipher::aes_256_cbc()),
            ] {
                let name = format!("encrypt-{cipher_name}/{key_name}/{size_name}");
                interleaved(
                    &name,
                    turns(size),
                    || {
                        black_box(encrypt_cms(&recipients, &content, ours).unwrap());
                    },
                    || {
                        let cms =
                            CmsContentInfo::encrypt(&certs, &content, bare, CMSOptions::BINARY);
                        black_box(cms.unwrap().to_der().unwrap());
                    },
                );
                let mut group = c.benchmark_group(name);
                group.throughput(Throughput::Bytes(size as u64));
                group.bench_function(BenchmarkId::from_parameter("sealpost"), |b| {
                    b.iter(|| encrypt_cms(&recipients, black_box(&content), ours).unwrap())
                });
                group.bench_function(BenchmarkId::from_parameter("openssl"), |b| {
                    b.iter(|| {
                        CmsContentInfo::encrypt(
                            &certs,
                            black_box(&content),
                            bare,
                            CMSOptions::BINARY,
                        )
                        .unwrap()
                        .to_der()
                        .unwrap()
                    })
                });
                group.finish();

                let (der, _) = encrypt_cms(&recipients, &content, ours).unwrap();
                let name = format!("decrypt-{cipher_name}/{key_name}/{size_name}");
                interleaved(
                    &name,
                    turns(size),
                    || {
                        black_box(decrypt_cms(&id, &der).unwrap());
                    },
                    || {
                        let cms = CmsContentInfo::from_der(&der).unwrap();
                        black_box(cms.decrypt(&id.key, &id.certificate).unwrap());
                    },
                );
                let mut group = c.benchmark_group(name);
                group.throughput(Throughput::Bytes(size as u64));
                group.bench_function(BenchmarkId::from_parameter("sealpost"), |b| {
                    b.iter(|| decrypt_cms(&id, black_box(&der)).unwrap())
                });
                group.bench_function(BenchmarkId::from_parameter("openssl"), |b| {
                    b.iter(|| {
                        CmsContentInfo::from_der(black_box(&der))
                            .unwrap()
                            .decrypt(&id.key, &id.certificate)
                            .unwrap()
                    })
                });
                group.finish();
            }
        }
    }
}

fn config() -> Criterion {
    // Short on purpose: 60 pairs must finish in a few minutes on a shared 2-core machine.
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(10)
}

criterion_group! { name = benches; config = config(); targets = bench_sign_verify, bench_encrypt_decrypt }
criterion_main!(benches);
