//! The S/MIME group: `sealpost smime sign|verify|encrypt|decrypt` against real S/MIME
//! implementations, both ways, on files only (no server involved).
//!
//! Peers: `openssl cms` ([`openssl`]), GnuPG's `gpgsm` ([`gpgsm`]), NSS's `cmsutil`
//! ([`nss`]), Python's `cryptography` from PyPI ([`pyca`]) and the s-nail mail reader
//! ([`snail`]), and hostile input that openssl makes and sealpost must refuse
//! ([`attacks`]). Every case makes its own message ([`mime::Message`], its name in the
//! Subject), so the outputs in the scratch folder can be told apart, and asserts the exit
//! status of each program and the content: the recovered plaintext equals the original
//! entity byte for byte, the signer is Alice's certificate, the content type and cipher are
//! the ones asked for (read back with `openssl cms -cmsout -print`). The MIME structure is
//! taken apart by [`mime`], not by the code under test.

mod attacks;
mod gpgsm;
mod mime;
mod nss;
mod openssl;
mod pyca;
mod snail;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::exec::{Output, tail};
use super::{Ctx, Suite};
use mime::Message;

/// The names of the S/MIME peers in the result table; [`super::report`] puts their rows in
/// a table of their own.
pub(crate) const PEERS: &[&str] =
    &["openssl cms", "gpgsm", "NSS cmsutil", "python3 cryptography", "s-nail"];

/// The time limit of every program the group runs (each takes well under a second).
const LIMIT: Duration = Duration::from_secs(30);

/// The password of every PKCS#12 file the group makes (test material, like tests/pki).
const P12_PASSWORD: &str = "interop-p12";
/// The variable that hands it to `sealpost smime decrypt --pass env:...`.
const P12_PASSWORD_VAR: &str = "SEALPOST_INTEROP_P12_PASSWORD";

/// A signer or recipient of tests/pki: `smime-NAME.pem`, `smime-NAME-key.pem`.
#[derive(Clone, Copy)]
pub(crate) struct Party {
    /// `alice-rsa`, `bob-ec`, ...
    pub(crate) name: &'static str,
    /// The certificate's common name.
    pub(crate) cn: &'static str,
}

/// Alice's RSA-2048 signing certificate.
pub(crate) const ALICE_RSA: Party = Party { name: "alice-rsa", cn: "Alice (RSA)" };
/// Alice's ECDSA P-256 signing certificate.
pub(crate) const ALICE_EC: Party = Party { name: "alice-ec", cn: "Alice (EC)" };
/// Alice's address, but extended key usage serverAuth only (no emailProtection).
pub(crate) const ALICE_WRONG_EKU: Party =
    Party { name: "alice-wrong-eku", cn: "Alice (wrong EKU)" };
/// Alice's address, but key usage keyCertSign only (no digitalSignature).
pub(crate) const ALICE_WRONG_KU: Party =
    Party { name: "alice-wrong-ku", cn: "Alice (wrong key usage)" };
/// Bob's RSA-2048 encryption certificate.
pub(crate) const BOB_RSA: Party = Party { name: "bob-rsa", cn: "Bob (RSA)" };
/// Bob's ECDH P-256 encryption certificate.
pub(crate) const BOB_EC: Party = Party { name: "bob-ec", cn: "Bob (EC)" };

impl Ctx<'_> {
    /// The certificate of `party`.
    fn cert(&self, party: Party) -> String {
        self.pki(&format!("smime-{}.pem", party.name))
    }

    /// The private key of `party`.
    fn key(&self, party: Party) -> String {
        self.pki(&format!("smime-{}-key.pem", party.name))
    }

    /// The group's scratch folder.
    fn smime_dir(&self) -> Result<PathBuf> {
        self.scratch.dir("smime")
    }

    /// Writes `data` to `name` in the group's scratch folder.
    fn put(&self, name: &str, data: &[u8]) -> Result<PathBuf> {
        let path = self.smime_dir()?.join(name);
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Reads `path` (a file a peer wrote).
    fn get(&self, path: &Path) -> Result<Vec<u8>> {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }

    /// A path in the group's scratch folder.
    fn file(&self, name: &str) -> Result<PathBuf> {
        Ok(self.smime_dir()?.join(name))
    }

    /// Runs a peer program with `args` and `stdin`, bounded by [`LIMIT`].
    fn peer(&self, program: &str, args: &[&str], stdin: &[u8]) -> Result<Output> {
        let mut cmd = self.sh.cmd(program);
        cmd.args(args);
        self.exec.run(&mut cmd, stdin, LIMIT)
    }

    /// Runs `sealpost smime ARGS` with `stdin`.
    fn sealpost(&self, args: &[&str], stdin: &[u8]) -> Result<Output> {
        let mut cmd = Command::new(self.bin);
        cmd.current_dir(self.sh.root()).env(P12_PASSWORD_VAR, P12_PASSWORD).arg("smime").args(args);
        self.exec.run(&mut cmd, stdin, LIMIT)
    }

    /// `sealpost smime sign` of `msg` as `signer` (with the intermediate CA as chain),
    /// opaque or detached; checks exit 0 and that the outer headers were kept.
    fn sealpost_sign(&self, msg: &Message, signer: Party, opaque: bool) -> Result<Vec<u8>> {
        self.sealpost_sign_with(msg, signer, if opaque { &["--opaque"] } else { &[] })
    }

    /// `sealpost smime sign` of `msg` as `signer` with `extra` options.
    fn sealpost_sign_with(&self, msg: &Message, signer: Party, extra: &[&str]) -> Result<Vec<u8>> {
        let (cert, key, chain) =
            (self.cert(signer), self.key(signer), self.pki("intermediate-ca.pem"));
        let mut args = vec!["sign", "--cert", &cert, "--key", &key, "--chain", &chain];
        args.extend_from_slice(extra);
        let out = self.sealpost(&args, &msg.full())?;
        out.expect_code(0).context("sealpost smime sign")?;
        let signed = out.stdout.into_bytes();
        expect_headers_kept(msg, &signed)?;
        Ok(signed)
    }

    /// `sealpost smime encrypt --to RECIPIENT --cipher CIPHER` of `msg`; checks exit 0 and
    /// that the outer headers were kept.
    fn sealpost_encrypt(&self, msg: &Message, to: Party, cipher: &str) -> Result<Vec<u8>> {
        self.sealpost_encrypt_with(msg, to, &["--cipher", cipher])
    }

    /// `sealpost smime encrypt --to RECIPIENT` of `msg` with `extra` options.
    fn sealpost_encrypt_with(&self, msg: &Message, to: Party, extra: &[&str]) -> Result<Vec<u8>> {
        let cert = self.cert(to);
        let mut args = vec!["encrypt", "--to", &cert];
        args.extend_from_slice(extra);
        let out = self.sealpost(&args, &msg.full())?;
        out.expect_code(0).context("sealpost smime encrypt")?;
        let encrypted = out.stdout.into_bytes();
        expect_headers_kept(msg, &encrypted)?;
        Ok(encrypted)
    }

    /// `sealpost smime verify --ca ca-bundle.pem --out FILE` of `signed`: exit 0, one signer
    /// line naming `signer`, and the signed entity written to FILE equal to `entity`.
    /// Returns the signer line.
    fn sealpost_verify(
        &self,
        name: &str,
        signed: &[u8],
        signer: Party,
        entity: &[u8],
    ) -> Result<String> {
        let out_file = self.file(&format!("{name}.verified"))?;
        let _ = std::fs::remove_file(&out_file);
        let ca = self.pki("ca-bundle.pem");
        let out_arg = out_file.display().to_string();
        let out = self.sealpost(&["verify", "--ca", &ca, "--out", &out_arg], signed)?;
        out.expect_code(0).context("sealpost smime verify")?;
        let line = signer_line(&out, signer)?;
        let verified = self.get(&out_file).context("sealpost smime verify --out")?;
        expect_same("the entity written by `verify --out`", &verified, entity)?;
        Ok(line)
    }

    /// `sealpost smime decrypt --cert C --key K` of `encrypted` (as `to`): exit 0, the
    /// decrypted message ends with `msg`'s entity and keeps its outer headers, and standard
    /// error warns about missing integrity exactly when the content was CBC
    /// (EnvelopedData), not AES-GCM (AuthEnvelopedData). Returns what it said there.
    fn sealpost_decrypt(&self, msg: &Message, encrypted: &[u8], to: Party) -> Result<String> {
        let (_, der) = mime::pkcs7_body(encrypted)?;
        let info = self.cms_info(&format!("{}.to-decrypt", msg.marker), &der)?;
        let (cert, key) = (self.cert(to), self.key(to));
        let out = self.sealpost(&["decrypt", "--cert", &cert, "--key", &key], encrypted)?;
        out.expect_code(0).context("sealpost smime decrypt")?;
        expect_decrypted(msg, &out)?;
        expect_integrity_note(&info, &out)
    }

    /// What `openssl cms -cmsout -print` shows of the DER CMS object `der`.
    fn cms_info(&self, name: &str, der: &[u8]) -> Result<CmsInfo> {
        let path = self.put(&format!("{name}.der"), der)?;
        let path = path.display().to_string();
        let out = self.peer(
            "openssl",
            &["cms", "-cmsout", "-print", "-inform", "DER", "-in", &path],
            b"",
        )?;
        out.expect_code(0).context("openssl cms -cmsout -print")?;
        Ok(CmsInfo::parse(&out.stdout))
    }
}

/// The outer headers of `msg` (From, To, Subject) are the first lines of `out`, unchanged.
fn expect_headers_kept(msg: &Message, out: &[u8]) -> Result<()> {
    let (head, _) = mime::split_head(out).context("the output has no header block")?;
    for name in ["From", "To", "Subject", "Message-Id", "Date"] {
        let want = mime::header(msg.headers.as_bytes(), name);
        let found = mime::header(head, name);
        if want != found {
            bail!(
                "header {name} is {found:?}, expected {want:?}; output:\n{}",
                tail(&String::from_utf8_lossy(out))
            );
        }
    }
    Ok(())
}

/// A decrypted message: the entity byte for byte at its end, the outer headers kept.
fn expect_decrypted(msg: &Message, out: &Output) -> Result<()> {
    let text = out.stdout.as_bytes();
    if !text.ends_with(&msg.entity) {
        bail!(
            "the decrypted output does not end with the original entity; expected entity:\n{}\n\
             output:\n{}",
            String::from_utf8_lossy(&msg.entity),
            tail(&out.stdout)
        );
    }
    expect_headers_kept(msg, text)
}

/// `decrypt`'s standard error: a warning that mentions integrity for EnvelopedData (CBC,
/// malleable: the EFAIL caution), no warning for AuthEnvelopedData. Returns the note.
fn expect_integrity_note(info: &CmsInfo, out: &Output) -> Result<String> {
    let said = out.stderr.to_ascii_lowercase();
    let warned = said.contains("warning") && said.contains("integrity");
    match info.content_type.as_str() {
        "id-smime-ct-authEnvelopedData" if said.contains("warning") => {
            bail!("a warning for integrity-protected (GCM) content: {}", out.stderr.trim())
        }
        "id-smime-ct-authEnvelopedData" => Ok(String::from("no warning (GCM is authenticated)")),
        "pkcs7-envelopedData" if warned => Ok(format!("CBC warning: {}", first_line(&out.stderr))),
        "pkcs7-envelopedData" => bail!("no integrity warning for CBC content: {:?}", out.stderr),
        other => bail!("unexpected content type {other}"),
    }
}

/// Byte equality with a readable failure.
pub(crate) fn expect_same(what: &str, found: &[u8], want: &[u8]) -> Result<()> {
    if found != want {
        bail!(
            "{what} differs from the original ({} bytes, expected {}):\n--- found\n{}\n\
             --- expected\n{}",
            found.len(),
            want.len(),
            tail(&String::from_utf8_lossy(found)),
            tail(&String::from_utf8_lossy(want))
        );
    }
    Ok(())
}

/// The one line of `sealpost smime verify` that names `signer` (by common name); it must
/// say `valid` (not `INVALID`) and `matches alice@example.org` (the signer's address is the
/// From address).
fn signer_line(out: &Output, signer: Party) -> Result<String> {
    let text = out.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(signer.cn)).collect();
    let [line] = lines[..] else {
        bail!("expected one line naming {}, found {}:\n{text}", signer.cn, lines.len());
    };
    let words: Vec<String> =
        line.split(|c: char| !c.is_ascii_alphanumeric()).map(str::to_ascii_lowercase).collect();
    if !words.iter().any(|w| w == "valid") || words.iter().any(|w| w == "invalid") {
        bail!("the signer line does not say valid: {line}");
    }
    // From is the identity (a Sender-only match would say `matches Sender`).
    if !line.contains(&format!("matches From {}", mime::ALICE)) {
        bail!("the signer line does not say From {} matches: {line}", mime::ALICE);
    }
    Ok(line.trim().to_owned())
}

/// The first non-empty line of `text`.
fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(nothing)").to_owned()
}

/// What `openssl cms -cmsout -print` says about a CMS object.
#[derive(Debug, Default)]
pub(crate) struct CmsInfo {
    /// The outer content type (`pkcs7-signedData`, `id-smime-ct-authEnvelopedData`, ...).
    pub(crate) content_type: String,
    /// The content encryption algorithm (`aes-256-gcm`, ...).
    pub(crate) cipher: Option<String>,
    /// The key encryption algorithm of every recipient.
    pub(crate) key_encryption: Vec<String>,
    /// Whether SignedData carries its content (`eContent`), when it is SignedData.
    pub(crate) econtent: Option<bool>,
    /// The signer's digest algorithm.
    pub(crate) digest: Option<String>,
    /// The signer's signature algorithm (`rsaEncryption`, `rsassaPss`, `ecdsa-with-SHA256`).
    pub(crate) signature: Option<String>,
    /// The signed attributes (PKCS #9 and S/MIME object names).
    pub(crate) attributes: Vec<String>,
}

impl CmsInfo {
    fn parse(text: &str) -> Self {
        let mut info = Self::default();
        let mut previous = "";
        for line in text.lines().map(str::trim) {
            let name = |l: &str, key: &str| {
                l.strip_prefix(key)
                    .map(|v| v.split(" (").next().unwrap_or_default().trim().to_owned())
            };
            if info.content_type.is_empty()
                && let Some(v) = name(line, "contentType:")
            {
                info.content_type = v;
            }
            if let Some(v) = name(line, "eContent:") {
                info.econtent = Some(v != "<ABSENT>");
            }
            if let Some(v) = name(line, "algorithm:") {
                match previous {
                    "contentEncryptionAlgorithm:" => info.cipher = Some(v),
                    "keyEncryptionAlgorithm:" => info.key_encryption.push(v),
                    "digestAlgorithm:" => info.digest = Some(v),
                    "signatureAlgorithm:" => info.signature = Some(v),
                    _ => {}
                }
            }
            if let Some(v) = line.strip_prefix("object:") {
                // PKCS #9 attributes and the S/MIME ones below them, not certificate extensions.
                if v.contains("(1.2.840.113549.1.9.") {
                    info.attributes
                        .push(v.split(" (").next().unwrap_or_default().trim().to_owned());
                }
            }
            if !line.is_empty() {
                previous = line;
            }
        }
        info
    }
}

/// A copy of the DER `cms` with the last byte of its encrypted content flipped, found with
/// `openssl asn1parse`: the first primitive after the content encryption algorithm's
/// parameters that is `[0]` (definite length) or the last `OCTET STRING` chunk inside a
/// constructed `[0]` (streamed).
fn tamper_ciphertext(ctx: &Ctx<'_>, name: &str, cms: &[u8]) -> Result<Vec<u8>> {
    let path = ctx.put(&format!("{name}.der"), cms)?.display().to_string();
    let out = ctx.peer("openssl", &["asn1parse", "-inform", "DER", "-in", &path], b"")?;
    out.expect_code(0).context("openssl asn1parse")?;
    let (offset, header, len) = ciphertext_span(&out.stdout)?;
    let last = offset + header + len - 1;
    let mut tampered = cms.to_vec();
    let byte = tampered.get_mut(last).context("the parsed span is outside the object")?;
    *byte ^= 0x01;
    Ok(tampered)
}

/// The (offset, header length, length) of the encrypted content in `asn1parse` output.
fn ciphertext_span(listing: &str) -> Result<(usize, usize, usize)> {
    let field = |line: &str, key: &str| -> Option<usize> {
        let rest = line.split(key).nth(1)?.trim_start();
        rest.split_whitespace().next()?.parse().ok()
    };
    let mut after_cipher = false;
    let mut streamed = false;
    let mut chunk = None;
    for line in listing.lines() {
        if line.contains("prim: OBJECT")
            && (line.contains("-gcm")
                || line.contains("-cbc")
                || line.contains("GCM")
                || line.contains("CBC"))
        {
            after_cipher = true;
            continue;
        }
        if !after_cipher {
            continue;
        }
        let offset: Option<usize> = line.split(':').next().and_then(|o| o.trim().parse().ok());
        if line.contains("cons: cont [ 0 ]") {
            streamed = true;
        } else if line.contains("prim: cont [ 0 ]") && !streamed {
            return Ok((
                offset.context("no offset")?,
                field(line, "hl=").context("no hl")?,
                field(line, " l=").context("no l")?,
            ));
        } else if streamed && line.contains("prim: OCTET STRING") {
            chunk = Some((
                offset.context("no offset")?,
                field(line, "hl=").context("no hl")?,
                field(line, " l=").context("no l")?,
            ));
        } else if streamed && chunk.is_some() {
            break;
        }
    }
    chunk.context("no encrypted content found in the asn1parse listing")
}

/// Runs the S/MIME group.
pub(crate) fn run(suite: &mut Suite<'_>) {
    openssl::run(suite);
    gpgsm::run(suite);
    nss::run(suite);
    pyca::run(suite);
    snail::run(suite);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cms_print_output_is_summarised() {
        let text = [
            "CMS_ContentInfo: ",
            "  contentType: id-smime-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23)",
            "        keyEncryptionAlgorithm: ",
            "          algorithm: rsaesOaep (1.2.840.113549.1.1.7)",
            "      contentEncryptionAlgorithm: ",
            "        algorithm: aes-256-gcm (2.16.840.1.101.3.4.1.46)",
            "      eContent: <ABSENT>",
            "            object: signingTime (1.2.840.113549.1.9.5)",
            "            object: X509v3 Key Usage (2.5.29.15)",
        ]
        .join("\n");
        let info = CmsInfo::parse(&text);
        assert_eq!(info.content_type, "id-smime-ct-authEnvelopedData");
        assert_eq!(info.cipher.as_deref(), Some("aes-256-gcm"));
        assert_eq!(info.key_encryption, ["rsaesOaep"]);
        assert_eq!(info.econtent, Some(false));
        assert_eq!(info.attributes, ["signingTime"]);
    }

    #[test]
    fn the_ciphertext_is_found_in_definite_and_streamed_listings() {
        let definite = "  420:d=5  hl=2 l=   9 prim: OBJECT            :aes-256-gcm\n\
            \x20 431:d=5  hl=2 l=  17 cons: SEQUENCE          \n\
            \x20 433:d=6  hl=2 l=  12 prim: OCTET STRING      [HEX DUMP]:8DBD\n\
            \x20 447:d=6  hl=2 l=   1 prim: INTEGER           :10\n\
            \x20 450:d=4  hl=2 l=  72 prim: cont [ 0 ]        \n\
            \x20 524:d=3  hl=2 l=  16 prim: OCTET STRING      [HEX DUMP]:23F7\n";
        assert_eq!(ciphertext_span(definite).unwrap(), (450, 2, 72));
        let streamed = "  414:d=5  hl=2 l=   9 prim: OBJECT            :aes-256-gcm\n\
            \x20 427:d=6  hl=2 l=  12 prim: OCTET STRING      [HEX DUMP]:9DCE\n\
            \x20 444:d=4  hl=2 l=inf  cons: cont [ 0 ]        \n\
            \x20 446:d=5  hl=4 l=4096 prim: OCTET STRING      [HEX DUMP]:2A4D\n\
            \x204546:d=5  hl=4 l= 100 prim: OCTET STRING      [HEX DUMP]:6911\n\
            \x204650:d=5  hl=2 l=   0 prim: EOC               \n";
        assert_eq!(ciphertext_span(streamed).unwrap(), (4546, 4, 100));
        assert!(ciphertext_span("    0:d=0  hl=2 l=  3 cons: SEQUENCE\n").is_err());
    }
}
