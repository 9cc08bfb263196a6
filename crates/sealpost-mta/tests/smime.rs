//! The S/MIME layer at the MTA over real loopback sockets: Authentication-Results with the
//! `smime` method (RFC 7281) for signed mail, forged results removed, and encryption at
//! rest for a recipient with a certificate. The messages are signed with the test PKI.

#![cfg(feature = "smime")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use sealpost_mta::smime::{SmimeFilter, SmimeSettings};
use sealpost_server::Role;
use sealpost_smime::{Identity, SignOptions, load_certificates, sign_message};
use sealpost_test_support::pki::pki;
use support::{Client, delivered, start, tempdir};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(pki(name)).unwrap()
}

fn identity(name: &str) -> Identity {
    Identity::from_cert_and_key(
        &read(&format!("{name}-chain.pem")),
        &read(&format!("{name}-key.pem")),
        None,
    )
    .unwrap()
}

/// A message from alice, signed by the given identity, with a forged result on top.
fn signed_by(identity: &Identity, subject: &str) -> Vec<u8> {
    let message = format!(
        "From: alice@example.org\r\nTo: bob@mail.test\r\nSubject: {subject}\r\n\
         Content-Type: text/plain\r\n\r\nSigned text.\r\n"
    );
    let signed = sign_message(identity, message.as_bytes(), &SignOptions::default()).unwrap();
    let mut out = b"Authentication-Results: MX.mail.test; smime=pass (forged)\r\n".to_vec();
    out.extend_from_slice(&signed);
    out
}

/// Sends `message` (dot-stuffed here) to `to` and expects 250.
async fn send(c: &mut Client, to: &[&str], message: &[u8]) {
    let mut data = Vec::new();
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    data.extend_from_slice(b".\r\n");
    let reply = c.transaction("alice@example.org", to, &data).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
}

/// The one Authentication-Results field of the stored message, unfolded.
fn results(stored: &[u8]) -> String {
    let text = String::from_utf8_lossy(stored);
    let header = text.split("\r\n\r\n").next().unwrap().replace("\r\n\t", " ");
    let fields: Vec<&str> =
        header.lines().filter(|l| l.starts_with("Authentication-Results:")).collect();
    assert_eq!(fields.len(), 1, "{header}");
    fields[0].to_owned()
}

fn settings() -> SmimeSettings {
    SmimeSettings::new("mx.mail.test", Some(load_certificates(&read("root-ca.pem")).unwrap()))
}

#[tokio::test]
async fn signed_mail_gets_its_result_and_forged_results_go() {
    let dir = tempdir();
    let filter = Arc::new(SmimeFilter::new(settings()));
    let server = start(dir.path(), |c| c.filter = Some(filter)).await;
    let alice = identity("smime-alice-rsa");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("good", signed_by(&alice, "good"), "smime=pass"),
        ("ec", signed_by(&identity("smime-alice-ec"), "ec"), "smime=pass"),
        (
            "tampered",
            {
                let signed = signed_by(&alice, "tampered");
                let text = String::from_utf8(signed).unwrap();
                text.replace("Signed text.", "Forged text.").into_bytes()
            },
            "smime=fail",
        ),
        ("wrong-eku", signed_by(&identity("smime-alice-wrong-eku"), "eku"), "smime=policy"),
        ("plain", b"From: alice@example.org\r\nSubject: plain\r\n\r\nx\r\n".to_vec(), "smime=none"),
    ];
    for (user, message, expected) in &cases {
        let mut c = Client::greeted(server.addr(Role::Mx)).await;
        send(&mut c, &[&format!("{user}@mail.test")], message).await;
        let stored = delivered(dir.path(), "mail.test", user);
        let field = results(&stored);
        assert!(field.starts_with("Authentication-Results: mx.mail.test;"), "{field}");
        assert!(field.contains(expected), "{user}: {field}");
        assert!(!field.contains("forged"), "{user}: {field}");
        if *expected == "smime=pass" {
            assert!(field.contains("body.smime-identifier=alice@example.org"), "{field}");
            assert!(field.contains("body.smime-serial="), "{field}");
        }
        // The result sits after Return-Path, before this hop's Received.
        let text = String::from_utf8_lossy(&stored);
        assert!(text.starts_with("Return-Path: <alice@example.org>\r\nAuthentication-Results: "));
    }
    server.stop().await;
}

/// RFC 7281 with the identity rule: the field the signer matched is a `header.` property;
/// a signer that is only the Sender is `policy` unless `accept_sender` is set, and a From
/// whose display name shows another address is `policy` whatever the option.
#[tokio::test]
async fn authentication_results_say_which_header_the_signer_matched() {
    let alice = identity("smime-alice-rsa");
    let sign = |from: &str, sender: Option<&str>| {
        let sender = sender.map_or_else(String::new, |s| format!("Sender: {s}\r\n"));
        let message = format!("From: {from}\r\n{sender}To: bob@mail.test\r\n\r\nSigned text.\r\n");
        sign_message(&alice, message.as_bytes(), &SignOptions::default()).unwrap()
    };
    let from_alice = sign("Alice <alice@example.org>", None);
    let for_boss = sign("Boss <boss@example.org>", Some("alice@example.org"));
    let disguised = sign("\"bob@example.org  .\" <alice@example.org>", None);
    let only_sender = "smime=policy (signed by the Sender alice@example.org, not by the author \
                       boss@example.org in From) body.smime-identifier=alice@example.org \
                       header.sender=alice@example.org";
    let cases: [(bool, &[u8], &str); 5] = [
        (
            false,
            &from_alice,
            "smime=pass body.smime-identifier=alice@example.org header.from=alice@example.org",
        ),
        (false, &for_boss, only_sender),
        (
            true,
            &for_boss,
            "smime=pass body.smime-identifier=alice@example.org header.sender=alice@example.org",
        ),
        (
            false,
            &disguised,
            "smime=policy (From shows \"bob@example.org  .\", which looks like the address \
             bob@example.org, but the address is alice@example.org) \
             body.smime-identifier=alice@example.org body.smime-serial=",
        ),
        (true, &disguised, "smime=policy (From shows"),
    ];
    for accept_sender in [false, true] {
        let dir = tempdir();
        let mut settings = settings();
        settings.accept_sender = accept_sender;
        let filter = Arc::new(SmimeFilter::new(settings));
        let server = start(dir.path(), |c| c.filter = Some(filter)).await;
        for (i, (_, message, expected)) in
            cases.iter().enumerate().filter(|(_, c)| c.0 == accept_sender)
        {
            let user = format!("case{i}");
            let mut c = Client::greeted(server.addr(Role::Mx)).await;
            send(&mut c, &[&format!("{user}@mail.test")], message).await;
            let field = results(&delivered(dir.path(), "mail.test", &user));
            assert!(field.contains(expected), "accept_sender={accept_sender}: {field}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_recipient_with_a_certificate_gets_the_message_encrypted_at_rest() {
    let dir = tempdir();
    let mut settings = settings();
    let bob_cert = load_certificates(&read("smime-bob-rsa.pem")).unwrap().remove(0);
    settings.encrypt_at_rest = HashMap::from([(String::from("bob@mail.test"), bob_cert)]);
    let filter = Arc::new(SmimeFilter::new(settings));
    let server = start(dir.path(), |c| c.filter = Some(filter)).await;
    let message =
        b"From: alice@example.org\r\nTo: bob@mail.test\r\nSubject: secret\r\n\r\nThe plans.\r\n";
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    send(&mut c, &["bob@mail.test", "carol@mail.test"], message).await;

    // carol has no certificate: plaintext, with the verification result.
    let carol = String::from_utf8(delivered(dir.path(), "mail.test", "carol")).unwrap();
    assert!(carol.contains("The plans.") && carol.contains("smime=none"), "{carol}");
    // bob's copy is enveloped; the outer fields stay readable; bob's key opens it.
    let bob = delivered(dir.path(), "mail.test", "bob");
    let text = String::from_utf8_lossy(&bob);
    assert!(!text.contains("The plans."), "{text}");
    assert!(text.contains("Subject: secret\r\n") && text.contains("application/pkcs7-mime"));
    let opened = sealpost_smime::decrypt_message(&identity("smime-bob-rsa"), &bob).unwrap();
    assert!(String::from_utf8_lossy(&opened.message).contains("The plans."));

    // Mail that is already encrypted is stored as it came.
    let sealed = sealpost_smime::encrypt_message(
        &[sealpost_smime::Recipient::new(
            load_certificates(&read("smime-bob-ec.pem")).unwrap().remove(0),
        )],
        message,
        sealpost_smime::ContentCipher::Aes256Gcm,
    )
    .unwrap();
    let dir2 = tempdir();
    let mut settings = self::settings();
    let bob_cert = load_certificates(&read("smime-bob-rsa.pem")).unwrap().remove(0);
    settings.encrypt_at_rest = HashMap::from([(String::from("bob@mail.test"), bob_cert)]);
    let server2 =
        start(dir2.path(), |c| c.filter = Some(Arc::new(SmimeFilter::new(settings)))).await;
    let mut c = Client::greeted(server2.addr(Role::Mx)).await;
    send(&mut c, &["bob@mail.test"], &sealed).await;
    let stored = delivered(dir2.path(), "mail.test", "bob");
    let opened = sealpost_smime::decrypt_message(&identity("smime-bob-ec"), &stored).unwrap();
    assert!(String::from_utf8_lossy(&opened.message).contains("The plans."));
    server.stop().await;
    server2.stop().await;
}
