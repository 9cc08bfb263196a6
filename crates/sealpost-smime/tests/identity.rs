//! The identity rules on real signed messages: one table of originator fields (From,
//! Sender, display names, comments, defects) and the outcome each must give, tried on a
//! message signed by our `sign_message` and on one signed by the `openssl cms -sign`
//! binary, so that the bytes are not only our own. The outer header of a multipart/signed
//! message is not covered by the signature, so each signed message is made once and its
//! From and Sender fields are replaced per row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;
use memchr::memmem;
use sealpost_smime::*;

const ALICE: &str = "alice@example.org";

/// Alice's message signed by `sign_message`, with the alice-rsa identity.
fn signed_by_us() -> Vec<u8> {
    let message =
        b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: identity\r\n\r\nHello Bob\r\n";
    sign_message(&identity("alice-rsa"), message, &SignOptions::default()).unwrap()
}

/// An entity signed by the `openssl` binary with the alice-ec identity. A missing binary
/// fails the test: these rows must run against bytes that are not our own.
fn signed_by_openssl() -> Vec<u8> {
    let path = |name: &str| sealpost_test_support::pki::pki(name);
    let mut child = Command::new("openssl")
        .args(["cms", "-sign", "-md", "sha256", "-crlfeol", "-signer"])
        .arg(path("smime-alice-ec.pem"))
        .arg("-inkey")
        .arg(path("smime-alice-ec-key.pem"))
        .arg("-certfile")
        .arg(path("intermediate-ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl binary is needed for these tests: install OpenSSL's command line");
    let entity = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob\r\n";
    child.stdin.take().unwrap().write_all(entity).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl cms -sign: {}", String::from_utf8_lossy(&out.stderr));
    let header = b"To: bob@example.org\r\nSubject: identity\r\n";
    [&header[..], &out.stdout].concat()
}

/// `signed` with its From and Sender fields replaced by `originators` (raw header lines,
/// each ending in CRLF, or whatever bytes the row needs).
fn with_originators(signed: &[u8], originators: &[u8]) -> Vec<u8> {
    let end = memmem::find(signed, b"\r\n\r\n").unwrap() + 2;
    let mut out = originators.to_vec();
    for line in signed[..end].split_inclusive(|&b| b == b'\n') {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        if !(name.eq_ignore_ascii_case(b"From") || name.eq_ignore_ascii_case(b"Sender")) {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&signed[end..]);
    out
}

/// One row: its name, the originator fields, whether Sender is accepted, and the outcome.
struct Row {
    name: &'static str,
    originators: &'static [u8],
    accept_sender: bool,
    expected: AddressMatch,
}

fn matches(field: OriginatorField, address: &str) -> AddressMatch {
    AddressMatch::Matches { field, address: address.into() }
}

fn disguised(shown: &str, token: &str) -> AddressMatch {
    AddressMatch::DisplayNameLooksLikeAddress {
        field: OriginatorField::From,
        shown: shown.into(),
        token: token.into(),
        address: ALICE.into(),
    }
}

fn unreadable(field: OriginatorField, defect: FieldDefect) -> AddressMatch {
    AddressMatch::Unreadable { field, defect }
}

fn rows() -> Vec<Row> {
    use OriginatorField::{From, Sender};
    let row = |name, originators, accept_sender, expected| Row {
        name,
        originators,
        accept_sender,
        expected,
    };
    vec![
        row("from_only", b"From: Alice <alice@example.org>\r\n", false, matches(From, ALICE)),
        row(
            "from_with_a_list_as_sender",
            b"From: alice@example.org\r\nSender: list@example.org\r\n",
            false,
            matches(From, ALICE),
        ),
        row(
            "sender_only",
            b"From: Bob <bob@example.org>\r\nSender: Alice <alice@example.org>\r\n",
            false,
            AddressMatch::SenderNotAuthor { sender: ALICE.into(), from: "bob@example.org".into() },
        ),
        row(
            "sender_only_accepted",
            b"From: Bob <bob@example.org>\r\nSender: Alice <alice@example.org>\r\n",
            true,
            matches(Sender, ALICE),
        ),
        row(
            "other_author",
            b"From: Bob <bob@example.org>\r\n",
            true,
            AddressMatch::Mismatch { from: vec!["bob@example.org".into()] },
        ),
        row(
            "display_name_padded_with_spaces",
            b"From: \"Bob    bob@example.org.  \" <alice@example.org>\r\n",
            false,
            disguised("Bob    bob@example.org.  ", "bob@example.org"),
        ),
        row(
            "display_name_with_trailing_punctuation",
            b"From: \"bob@example.org, via\" <alice@example.org>\r\n",
            false,
            disguised("bob@example.org, via", "bob@example.org"),
        ),
        row(
            "display_name_rfc2047_encoded",
            b"From: =?utf-8?q?bob=40example=2Eorg?= <alice@example.org>\r\n",
            false,
            disguised("bob@example.org", "bob@example.org"),
        ),
        row(
            "address_in_a_comment",
            b"From: alice@example.org (bob@example.org)\r\n",
            false,
            disguised("(bob@example.org)", "bob@example.org"),
        ),
        row(
            "encoded_address_in_a_comment",
            b"From: <alice@example.org> (=?utf-8?q?Bob_bob=40example=2Eorg?=)\r\n",
            false,
            disguised("(Bob bob@example.org)", "bob@example.org"),
        ),
        row(
            "fullwidth_at",
            "From: \"bob\u{ff20}example.org\" <alice@example.org>\r\n".as_bytes(),
            false,
            disguised("bob\u{ff20}example.org", "bob@example.org"),
        ),
        row(
            "homoglyph_letters",
            "From: \"B\u{43e}b@ex\u{430}mple.org\" <alice@example.org>\r\n".as_bytes(),
            false,
            disguised("B\u{43e}b@ex\u{430}mple.org", "b\u{43e}b@ex\u{430}mple.org"),
        ),
        row(
            "look_alike_at_and_dot",
            "From: \"bob\u{fe6b}example\u{ff0e}org\" <alice@example.org>\r\n".as_bytes(),
            false,
            disguised("bob\u{fe6b}example\u{ff0e}org", "bob@example.org"),
        ),
        row(
            "display_name_is_the_real_address",
            b"From: \"Alice@Example.org\" <alice@example.org>\r\n",
            false,
            matches(From, ALICE),
        ),
        row(
            "several_from_addresses",
            b"From: alice@example.org, bob@example.org\r\n",
            true,
            AddressMatch::MultipleFrom(vec![ALICE.into(), "bob@example.org".into()]),
        ),
        row(
            "group_of_one",
            b"From: Friends: alice@example.org;\r\n",
            true,
            AddressMatch::Group { name: "Friends".into(), members: vec![ALICE.into()] },
        ),
        row("empty_from", b"From: \r\n", true, AddressMatch::EmptyFrom),
        row("no_from", b"Sender: alice@example.org\r\n", true, AddressMatch::NoFrom),
        row(
            "duplicate_from",
            b"From: alice@example.org\r\nFrom: alice@example.org\r\n",
            true,
            AddressMatch::DuplicateField(From),
        ),
        row(
            "duplicate_sender",
            b"From: bob@example.org\r\nSender: alice@example.org\r\nSender: alice@example.org\r\n",
            true,
            AddressMatch::DuplicateField(Sender),
        ),
        row(
            "sender_of_two_mailboxes",
            b"From: bob@example.org\r\nSender: alice@example.org, carol@example.org\r\n",
            true,
            unreadable(Sender, FieldDefect::NotOneMailbox),
        ),
        row(
            "nul_in_from",
            b"From: Alice <alice@example.org>\0<bob@example.org>\r\n",
            false,
            unreadable(From, FieldDefect::Nul),
        ),
        row(
            "bare_cr_in_from",
            b"From: Alice <alice@example.org>\r (bob@example.org)\r\n",
            false,
            unreadable(From, FieldDefect::BareCr),
        ),
        row(
            "bare_lf_in_from",
            b"From: Alice <alice@example.org>\n <bob@example.org>\r\n",
            false,
            unreadable(From, FieldDefect::BareLf),
        ),
        row(
            "bare_lf_in_sender",
            b"From: bob@example.org\r\nSender: alice@example.org\nX: y\r\n",
            true,
            unreadable(Sender, FieldDefect::BareLf),
        ),
    ]
}

fn check_rows(signed: &[u8], signer: &str) {
    let anchors = load_certificates(&pki("root-ca.pem")).unwrap();
    let mut failures = Vec::new();
    for row in rows() {
        let message = with_originators(signed, row.originators);
        let options = VerifyOptions::new(anchors.clone()).accept_sender(row.accept_sender);
        let verified = Verifier::new(options).verify_message(&message).unwrap();
        let [report] = verified.signers() else { panic!("{}: one signer expected", row.name) };
        let expected_problems: Vec<SignerProblem> = if row.expected.is_match() {
            vec![]
        } else {
            vec![SignerProblem::Address(row.expected.clone())]
        };
        let valid_as_expected = report.is_valid() == row.expected.is_match();
        if report.address_match != row.expected
            || report.problems != expected_problems
            || !valid_as_expected
        {
            failures.push(format!(
                "{signer}, {}: got {:?} with problems {:?}, expected {:?}",
                row.name, report.address_match, report.problems, row.expected
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_identity_row_on_a_message_signed_by_sign_message() {
    check_rows(&signed_by_us(), "sign_message");
}

#[test]
fn every_identity_row_on_a_message_signed_by_openssl() {
    check_rows(&signed_by_openssl(), "openssl cms -sign");
}

/// An unterminated angle-addr, and an address hidden in an encoded-word (RFC 2047 section 5
/// allows none in an addr-spec; a reader that decodes it would show alice's address).
#[test]
fn an_unparseable_from_is_never_valid() {
    let values: [&[u8]; 3] = [
        b"From: Alice <alice@example.org\r\n",
        b"From: =?utf-8?q?alice=40example.org?=\r\n",
        b"From: <=?utf-8?q?alice=40example.org?=>\r\n",
    ];
    for (signed, signer) in [(signed_by_us(), "sign_message"), (signed_by_openssl(), "openssl")] {
        for from in values {
            let message = with_originators(&signed, from);
            let verified = verifier().verify_message(&message).unwrap();
            let address_match = &verified.signers()[0].address_match;
            assert!(
                matches!(
                    address_match,
                    AddressMatch::Unreadable {
                        field: OriginatorField::From,
                        defect: FieldDefect::Unparseable(_)
                    }
                ),
                "{signer}, {}: {address_match:?}",
                String::from_utf8_lossy(from)
            );
            assert!(!verified.all_valid());
        }
    }
}

#[test]
fn display_texts_name_the_field_and_the_addresses() {
    let rows: [(AddressMatch, &str); 6] = [
        (matches(OriginatorField::Sender, ALICE), "matches Sender alice@example.org"),
        (
            AddressMatch::SenderNotAuthor { sender: ALICE.into(), from: "bob@example.org".into() },
            "signed by the Sender alice@example.org, not by the author bob@example.org in From",
        ),
        (
            disguised("Bob  bob@example.org.", "bob@example.org"),
            "From shows \"Bob  bob@example.org.\", which looks like the address bob@example.org, \
             but the address is alice@example.org",
        ),
        (AddressMatch::DuplicateField(OriginatorField::Sender), "several Sender fields"),
        (unreadable(OriginatorField::From, FieldDefect::BareCr), "From contains a bare CR"),
        (
            AddressMatch::Group { name: "Friends".into(), members: vec![ALICE.into()] },
            "From is the group \"Friends\" (alice@example.org)",
        ),
    ];
    for (outcome, text) in rows {
        assert_eq!(outcome.to_string(), text);
        assert_eq!(SignerProblem::Address(outcome).to_string(), text);
    }
}

/// What the `identity` fuzz target found before the identity rules (each verified with
/// Alice valid although a reader's author is not Alice's one From address): exactly those
/// bytes, never valid now.
#[test]
fn the_identity_fuzz_target_s_findings_are_never_valid() {
    let found: [(&[u8], &str); 3] = [
        (b"Sender: alice@example.org\r\n", "no From, Sender is Alice"),
        (b"From : =?us-ascii?B?YWxpY2VAZXhhbXBsZS5vcmc=?=\r\n", "address in an encoded-word"),
        (b"From: \r\nFrom: alice@example.org\r\n", "an empty From, then Alice's"),
    ];
    let signed = signed_by_us();
    for (originators, case) in found {
        let verified = verifier().verify_message(&with_originators(&signed, originators)).unwrap();
        let address_match = &verified.signers()[0].address_match;
        assert!(!address_match.is_match(), "{case}: {address_match:?}");
        assert!(!verified.all_valid(), "{case}");
    }
}
