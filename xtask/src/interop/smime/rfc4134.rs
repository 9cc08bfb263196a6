//! The RFC 4134 example messages (the shared corpora, read in place) through
//! sealpost-smime: the signatures and chains of 4.1-4.10 with legacy algorithms allowed,
//! the From/signer mismatch of 4.8 and 4.9 reported as such, 4.6's two signers each with
//! its own result, 4.11 refused for having no signer, 5.1 and 5.3 decrypted.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sealpost_smime::openssl::x509::X509;
use sealpost_smime::{
    AddressMatch, Error, Identity, Protection, SignerProblem, Verifier, VerifyOptions, decrypt_cms,
    decrypt_message, load_certificates,
};

use super::super::Suite;

/// The peer column: the corpus, read by the library.
pub(crate) const PEER: &str = "RFC 4134 corpus";

/// What every example signs or encrypts.
const CONTENT: &[u8] = b"This is some sample content.";

/// `$SEALPOST_CORPORA`, else the nearest `shared/corpora` with `rfc4134/` beside the
/// workspace root or its ancestors (the rule of the tests and of `.ci/run`).
fn corpora() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SEALPOST_CORPORA") {
        return Some(PathBuf::from(dir));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().ok()?;
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join("shared").join("corpora"))
        .find(|dir| dir.join("rfc4134").is_dir())
}

fn read(name: &str) -> Result<Vec<u8>> {
    let dir = corpora().context(
        "the shared corpora were not found beside the workspace or its parents: set \
         SEALPOST_CORPORA",
    )?;
    let path = dir.join("rfc4134").join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn cert(name: &str) -> Result<X509> {
    load_certificates(&read(name)?)?.into_iter().next().context("no certificate")
}

/// Carl's roots, and the signer certificates some examples leave out.
fn verifier(legacy: bool) -> Result<Verifier> {
    let anchors = vec![cert("CarlRSASelf.cer")?, cert("CarlDSSSelf.cer")?];
    let extra = vec![
        cert("AliceRSASignByCarl.cer")?,
        cert("AliceDSSSignByCarlNoInherit.cer")?,
        cert("DianeDSSSignByCarlInherit.cer")?,
        cert("DianeRSASignByCarl.cer")?,
    ];
    Ok(Verifier::new(VerifyOptions::new(anchors).extra_certificates(extra).allow_legacy(legacy)))
}

fn bob() -> Result<Identity> {
    Ok(Identity::from_cert_and_key(
        &read("BobRSASignByCarl.cer")?,
        &read("BobPrivRSAEncrypt.pri")?,
        None,
    )?)
}

pub(crate) fn run(suite: &mut Suite<'_>) {
    if std::env::var_os("SEALPOST_NO_CORPORA").is_some_and(|v| v == "1") {
        println!("\nNOT RUN: RFC 4134 corpus rows (SEALPOST_NO_CORPORA=1: no corpora here)");
        return;
    }
    for (name, signer) in [
        ("4.1.bin", "AliceDSS"),
        ("4.2.bin", "AliceRSA"),
        ("4.4.bin", "AliceDSS"),
        ("4.5.bin", "AliceRSA"),
        ("4.7.bin", "AliceDSS"),
        ("4.10.bin", "AliceDSS"),
    ] {
        suite.case(
            PEER,
            &format!("{name}: SignedData, legacy allowed"),
            "one signer, valid (signature, chain to Carl, usage), content = the sample text",
            |_| {
                let signed = verifier(true)?.verify_cms(&read(name)?, None)?;
                let [s] = &signed.signers[..] else { bail!("{} signers", signed.signers.len()) };
                if !s.is_valid() || signed.content != CONTENT || !s.subject.contains(signer) {
                    bail!("{}: {:?}", s.subject, s.problems);
                }
                Ok(format!("valid: {}", s.subject))
            },
        );
    }
    suite.case(
        PEER,
        "4.2.bin without legacy allowed",
        "refused for its algorithms: SHA-1 and RSA-1024 named",
        |_| {
            let signed = verifier(false)?.verify_cms(&read("4.2.bin")?, None)?;
            let problems = &signed.signers[0].problems;
            let legacy: Vec<String> = problems
                .iter()
                .filter_map(|p| match p {
                    SignerProblem::LegacyAlgorithm(a) => Some(a.clone()),
                    _ => None,
                })
                .collect();
            if legacy.len() < 2 {
                bail!("{problems:?}");
            }
            Ok(format!("invalid: legacy {}", legacy.join(", ")))
        },
    );
    suite.case(
        PEER,
        "4.3.bin: detached SignedData with ExContent.bin",
        "valid with its content; refused without it; a changed content fails the digest",
        |_| {
            let v = verifier(true)?;
            let sig = read("4.3.bin")?;
            if !v.verify_cms(&sig, Some(&read("ExContent.bin")?))?.all_valid() {
                bail!("not valid with its content");
            }
            if !matches!(v.verify_cms(&sig, None), Err(Error::MissingContent)) {
                bail!("accepted without its content");
            }
            let other = v.verify_cms(&sig, Some(b"This is some sample content!"))?;
            if !matches!(other.signers[0].problems[..], [SignerProblem::BadSignature(_)]) {
                bail!("changed content: {:?}", other.signers[0].problems);
            }
            Ok(String::from("valid; missing content refused; changed content: bad signature"))
        },
    );
    suite.case(
        PEER,
        "4.6.bin: two signers",
        "each signer its own result: Alice valid; Diane (DSA parameters inherited from the \
         issuer) refused with that reason",
        |_| {
            let signed = verifier(true)?.verify_cms(&read("4.6.bin")?, None)?;
            let [alice, diane] = &signed.signers[..] else {
                bail!("{} signers", signed.signers.len())
            };
            let diane_reason = diane.problems.iter().find_map(|p| match p {
                SignerProblem::UnusableKey(r) if r.contains("inherited") => Some(r.clone()),
                _ => None,
            });
            match diane_reason {
                Some(reason) if alice.is_valid() && !signed.all_valid() => {
                    Ok(format!("Alice valid; Diane refused: {reason}"))
                }
                _ => bail!("Alice {:?}; Diane {:?}", alice.problems, diane.problems),
            }
        },
    );
    for name in ["4.8.eml", "4.9.eml"] {
        suite.case(
            PEER,
            &format!("{name}: S/MIME message"),
            "signature valid, but the signer (AliceDSS@example.com) is not the From \
             (aliceDss@examples.com): reported as a mismatch, not valid",
            |_| {
                let verified = verifier(true)?.verify_message(&read(name)?)?;
                let s = &verified.signers()[0];
                let mismatch = matches!(
                    &s.problems[..],
                    [SignerProblem::Address(AddressMatch::Mismatch { .. })]
                );
                if !mismatch || verified.all_valid() {
                    bail!("{:?}", s.problems);
                }
                Ok(format!("not valid: {}", s.problems[0]))
            },
        );
    }
    suite.case(PEER, "4.11.bin: certificates only", "refused: no SignerInfo", |_| match verifier(
        true,
    )?
    .verify_cms(&read("4.11.bin")?, Some(CONTENT))
    {
        Err(Error::NoSigners) => Ok(String::from("refused: no signer")),
        other => bail!("{other:?}"),
    });
    suite.case(
        PEER,
        "5.1.bin: EnvelopedData (3DES) for Bob",
        "decrypts to the sample text; reported as not integrity-protected",
        |_| {
            let d = decrypt_cms(&bob()?, &read("5.1.bin")?)?;
            if d.content != CONTENT || d.protection != Protection::Unauthenticated {
                bail!("{:?}", d.protection);
            }
            Ok(String::from("decrypted; unauthenticated (CBC)"))
        },
    );
    suite.case(
        PEER,
        "5.3.eml: enveloped S/MIME message for Bob",
        "decrypts to the sample text",
        |_| {
            let m = decrypt_message(&bob()?, read("5.3.eml")?)?;
            if m.decrypted.content != CONTENT {
                bail!("other content");
            }
            Ok(String::from("decrypted"))
        },
    );
}
