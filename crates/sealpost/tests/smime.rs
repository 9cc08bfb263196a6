//! `sealpost smime sign|verify|encrypt|decrypt`: the real binary, its exit codes, what it
//! prints, and that it never writes plaintext it could not authenticate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

mod common;

use common::{pki, sealpost, text};
use sealpost_test_support::mime::{entity_of, multipart, part};

fn smime(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    smime_env(dir, args, stdin, &[])
}

fn smime_env(dir: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = ["smime"].iter().chain(args).copied().collect();
    sealpost().run_with_env(dir, &args, stdin, env)
}
const MESSAGE: &[u8] =
    b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: cli\r\n\r\nHello from the CLI\r\n";

fn sign(dir: &Path, who: &str, extra: &[&str], message: &[u8]) -> Vec<u8> {
    let cert = pki(&format!("smime-{who}-chain.pem"));
    let key = pki(&format!("smime-{who}-key.pem"));
    let mut args = vec!["sign", "--cert", &cert, "--key", &key];
    args.extend_from_slice(extra);
    let out = smime(dir, &args, message);
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout
}

#[test]
fn sign_then_verify_prints_one_line_per_signer_and_writes_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki("root-ca.pem");
    for (who, extra) in [
        ("alice-rsa", &[][..]),
        ("alice-ec", &["--opaque"][..]),
        ("alice-rsa", &["--digest", "sha512", "--rsa-pss"][..]),
    ] {
        let signed = sign(dir.path(), who, extra, MESSAGE);
        assert!(signed.starts_with(b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"));
        let out = smime(dir.path(), &["verify", "--ca", &ca, "--out", "content.eml"], &signed);
        assert!(out.status.success(), "{who} {extra:?}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.starts_with("signer 1: valid; subject: CN=Alice"), "{stdout}");
        assert!(stdout.contains("address: matches From alice@example.org; signed 20"), "{stdout}");
        let content = std::fs::read(dir.path().join("content.eml")).unwrap();
        assert_eq!(
            content,
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from the CLI\r\n"
        );
        std::fs::remove_file(dir.path().join("content.eml")).unwrap();
    }
}

#[test]
fn verify_fails_on_a_wrong_ca_a_wrong_signer_or_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let signed = sign(dir.path(), "alice-rsa", &[], MESSAGE);

    let rogue = pki("rogue-root-ca.pem");
    let out = smime(dir.path(), &["verify", "--ca", &rogue, "--out", "c.eml"], &signed);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("INVALID (untrusted certificate"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("not valid; the content was not written"));
    assert!(!dir.path().join("c.eml").exists());

    let ca = pki("root-ca.pem");
    let from_bob = b"From: bob@example.org\r\n\r\nhi\r\n";
    let signed_as_bob = sign(dir.path(), "alice-rsa", &[], from_bob);
    let out = smime(dir.path(), &["verify", "--ca", &ca], &signed_as_bob);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("signer address differs from From"),
        "{}",
        text(&out.stdout)
    );

    let tampered = text(&signed).replace("Hello from the CLI", "Hello from Mallory").into_bytes();
    let out = smime(dir.path(), &["verify", "--ca", &ca], &tampered);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("INVALID (bad signature"), "{}", text(&out.stdout));

    let out = smime(dir.path(), &["verify", "--ca", &ca], MESSAGE);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not multipart/signed"), "{}", text(&out.stderr));
    let out = smime(dir.path(), &["verify"], &signed);
    assert_eq!(out.status.code(), Some(2), "clap: --ca is required");
}

/// The identity rule at the command line: a signer who is only the Sender is not valid
/// (exit 1) unless `--accept-sender`, and then the line says the match was through Sender;
/// a disguised display name is refused either way.
#[test]
fn verify_takes_from_as_the_identity_unless_accept_sender() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki("root-ca.pem");
    let for_boss = b"From: Boss <boss@example.org>\r\nSender: alice@example.org\r\n\r\nhi\r\n";
    let signed = sign(dir.path(), "alice-rsa", &[], for_boss);

    let out = smime(dir.path(), &["verify", "--ca", &ca, "--out", "c.eml"], &signed);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(
            "INVALID (signed by the Sender alice@example.org, not by the author \
             boss@example.org in From)"
        ),
        "{}",
        text(&out.stdout)
    );
    assert!(!dir.path().join("c.eml").exists());

    let out =
        smime(dir.path(), &["verify", "--ca", &ca, "--accept-sender", "--out", "c.eml"], &signed);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("valid; subject: CN=Alice")
            && text(&out.stdout).contains("address: matches Sender alice@example.org;"),
        "{}",
        text(&out.stdout)
    );
    assert!(dir.path().join("c.eml").exists());

    let disguised = b"From: \"bob@example.org  .\" <alice@example.org>\r\n\r\nhi\r\n";
    let signed = sign(dir.path(), "alice-rsa", &[], disguised);
    for extra in [&[][..], &["--accept-sender"][..]] {
        let args: Vec<&str> = ["verify", "--ca", &ca].iter().chain(extra).copied().collect();
        let out = smime(dir.path(), &args, &signed);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            text(&out.stdout).contains(
                "INVALID (From shows \"bob@example.org  .\", which looks like the address \
                 bob@example.org, but the address is alice@example.org)"
            ),
            "{}",
            text(&out.stdout)
        );
    }
}

/// A signed part inside an unsigned multipart is not a signed message; the error names
/// the part.
#[test]
fn verify_names_the_signed_part_of_a_partly_signed_message() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki("root-ca.pem");
    let signed = sign(dir.path(), "alice-rsa", &[], MESSAGE);
    let partly = [
        &b"From: Alice <alice@example.org>\r\nMIME-Version: 1.0\r\n"[..],
        &multipart(
            "mixed",
            "outer",
            &[
                part("Content-Type: text/plain\r\n", b"Pay Mallory. The signed part is old.\r\n"),
                entity_of(&signed),
            ],
        ),
    ]
    .concat();

    let out = smime(dir.path(), &["verify", "--ca", &ca], &partly);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "the message is not signed as a whole; only part 2 (multipart/signed) is signed"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn encrypt_then_decrypt_with_every_cipher() {
    let dir = tempfile::tempdir().unwrap();
    for (to, cipher, smime_type) in [
        ("bob-rsa", "aes256-gcm", "authEnveloped-data"),
        ("bob-ec", "aes128-gcm", "authEnveloped-data"),
        ("bob-rsa", "aes256-cbc", "enveloped-data"),
        ("bob-ec", "aes128-cbc", "enveloped-data"),
        ("bob-rsa", "auto", "enveloped-data"),
    ] {
        let cert = pki(&format!("smime-{to}.pem"));
        let out = smime(dir.path(), &["encrypt", "--to", &cert, "--cipher", cipher], MESSAGE);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let encrypted = out.stdout;
        assert!(text(&encrypted).contains(&format!("smime-type={smime_type}")), "{cipher}");
        assert!(!text(&encrypted).contains("Hello from the CLI"));
        let key = pki(&format!("smime-{to}-key.pem"));
        let out = smime(dir.path(), &["decrypt", "--cert", &cert, "--key", &key], &encrypted);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("From: Alice <alice@example.org>\r\n"));
        assert!(out.stdout.ends_with(b"\r\n\r\nHello from the CLI\r\n"));
        let warned = text(&out.stderr).contains("does not protect integrity");
        assert_eq!(warned, smime_type == "enveloped-data", "{cipher}: {}", text(&out.stderr));
    }
}

#[test]
fn auto_uses_gcm_when_the_recipients_signed_mail_announces_it() {
    let dir = tempfile::tempdir().unwrap();
    let from_bob = b"From: bob@example.org\r\n\r\nmy capabilities\r\n";
    std::fs::write(dir.path().join("bob-signed.eml"), sign(dir.path(), "bob-rsa", &[], from_bob))
        .unwrap();
    let (cert, ca) = (pki("smime-bob-rsa.pem"), pki("root-ca.pem"));
    let args = ["encrypt", "--to", &cert, "--capabilities-from", "bob-signed.eml", "--ca", &ca];
    let out = smime(dir.path(), &args, MESSAGE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("smime-type=authEnveloped-data"));

    // A signature that names another certificate to encrypt to: that one is used.
    let ec = pki("smime-bob-ec.pem");
    let signed = sign(dir.path(), "bob-rsa", &["--encryption-cert", &ec], from_bob);
    std::fs::write(dir.path().join("bob-pref.eml"), signed).unwrap();
    let args = ["encrypt", "--to", &ec, "--capabilities-from", "bob-pref.eml", "--ca", &ca];
    let out = smime(dir.path(), &args, MESSAGE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("smime-type=authEnveloped-data"));
    let key = pki("smime-bob-ec-key.pem");
    let out = smime(dir.path(), &["decrypt", "--cert", &ec, "--key", &key], &out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn decrypt_refuses_tampering_and_other_recipients_without_writing_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let cert = pki("smime-bob-rsa.pem");
    let key = pki("smime-bob-rsa-key.pem");
    let out = smime(dir.path(), &["encrypt", "--to", &cert, "--cipher", "aes256-gcm"], MESSAGE);
    let encrypted = text(&out.stdout);
    // Change one base64 character of the last full line (ciphertext or tag).
    let lines: Vec<&str> = encrypted.split("\r\n").collect();
    let target = lines.len() - 3;
    let mut changed: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
    let mut chars: Vec<char> = changed[target].chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    changed[target] = chars.into_iter().collect();
    let tampered = changed.join("\r\n");
    let out = smime(dir.path(), &["decrypt", "--cert", &cert, "--key", &key], tampered.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no plaintext on stdout");
    assert!(
        text(&out.stderr).contains("decryption failed, no content released"),
        "{}",
        text(&out.stderr)
    );

    let (alice, alice_key) = (pki("smime-alice-rsa.pem"), pki("smime-alice-rsa-key.pem"));
    let out = smime(
        dir.path(),
        &["decrypt", "--cert", &alice, "--key", &alice_key],
        encrypted.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("not encrypted to this certificate; it is for: issuer"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn passwords_come_from_env_or_file_never_the_command_line() {
    use sealpost_smime::openssl::symm::Cipher;
    let dir = tempfile::tempdir().unwrap();
    let bob = sealpost_smime::Identity::from_cert_and_key(
        &std::fs::read(pki("smime-bob-ec.pem")).unwrap(),
        &std::fs::read(pki("smime-bob-ec-key.pem")).unwrap(),
        None,
    )
    .unwrap();
    let encrypted_key =
        bob.key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"open sesame").unwrap();
    std::fs::write(dir.path().join("key.pem"), encrypted_key).unwrap();
    std::fs::write(dir.path().join("pass.txt"), "open sesame\n").unwrap();
    let cert = pki("smime-bob-ec.pem");
    let out = smime(dir.path(), &["encrypt", "--to", &cert], MESSAGE);
    let encrypted = out.stdout;

    let base = ["decrypt", "--cert", &cert, "--key", "key.pem"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let out = smime_env(
        dir.path(),
        &with(&base, &["--pass", "env:BOB_PASS"]),
        &encrypted,
        &[("BOB_PASS", "open sesame")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = smime(dir.path(), &with(&base, &["--pass", "file:pass.txt"]), &encrypted);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A password itself is refused as the command line is read (clap's usage error).
    let out = smime(dir.path(), &with(&base, &["--pass", "open sesame"]), &encrypted);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("for '--pass <SOURCE>': expected env:VARIABLE or file:PATH"),
        "{stderr}"
    );
    let out = smime(dir.path(), &with(&base, &[]), &encrypted);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("give its password"), "{}", text(&out.stderr));
    let out =
        smime(dir.path(), &with(&base, &["--pass", "env:UNSET_VARIABLE_FOR_TEST"]), &encrypted);
    assert!(text(&out.stderr).contains("environment variable is not set"));

    // PKCS #12 with a password from the environment.
    let mut builder = sealpost_smime::openssl::pkcs12::Pkcs12::builder();
    builder.name("bob").pkey(&bob.key).cert(&bob.certificate);
    std::fs::write(
        dir.path().join("bob.p12"),
        builder.build2("p12 pass").unwrap().to_der().unwrap(),
    )
    .unwrap();
    let args = ["decrypt", "--p12", "bob.p12", "--pass", "env:P12"];
    let out = smime_env(dir.path(), &args, &encrypted, &[("P12", "p12 pass")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.ends_with(b"Hello from the CLI\r\n"));
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki("root-ca.pem");
    let out = smime(dir.path(), &["verify", "--ca", &ca], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("standard input is empty"));
    let out = smime(dir.path(), &["verify", "--ca", "missing.pem"], MESSAGE);
    assert!(text(&out.stderr).contains("cannot read the CA file missing.pem"));
    let cert = pki("smime-bob-rsa.pem");
    let out = smime(dir.path(), &["encrypt", "--to", &cert, "--cipher", "3des"], MESSAGE);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(text(&out.stderr).contains("for '--cipher <CIPHER>': unknown cipher"));
    let signed = sign(dir.path(), "alice-ec", &["--opaque"], MESSAGE);
    let truncated = &signed[..signed.len() / 2];
    let out = smime(dir.path(), &["verify", "--ca", &ca], truncated);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot verify the message"), "{}", text(&out.stderr));
    let encrypted = smime(dir.path(), &["encrypt", "--to", &cert], MESSAGE).stdout;
    let out = smime(dir.path(), &["verify", "--ca", &ca], &encrypted);
    assert!(text(&out.stderr).contains("decrypt it first"), "{}", text(&out.stderr));
}
