//! Every flag whose value is a type (an address, a security level, a pin, a cipher, a day,
//! ...) is parsed as the command line is read: a bad value is clap's usage error (exit code
//! 2), before any file is read or any connection made, and the message names the flag and
//! says what was expected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{run, text};

/// (arguments, the flag as clap names it, what the message must say about the value).
const BAD_VALUES: &[(&[&str], &str, &str)] = &[
    // serve
    (&["serve", "--smtp", "localhost:25"], "--smtp <ADDR>", "expected IP:PORT"),
    (&["serve", "--submission", "127.0.0.1"], "--submission <ADDR>", "expected IP:PORT"),
    (&["serve", "--smtps", "[::1]"], "--smtps <ADDR>", "expected IP:PORT"),
    (&["serve", "--hostname", "bad host"], "--hostname <NAME>", "is not a domain name"),
    (&["serve", "--domain", "x..y"], "--domain <DOMAIN>", "`x..y` is not a domain name"),
    (&["serve", "--max-message-size", "12T"], "--max-message-size <SIZE>", "is not a size"),
    (&["serve", "--handler", "forward"], "--handler <HANDLER>", "[possible values: maildir"),
    (&["serve", "--tls-summary", "--day", "2026-13-01"], "--day <DAY>", "YYYY-MM-DD"),
    (&["serve", "--tls-summary", "--day", "2023-02-29"], "--day <DAY>", "YYYY-MM-DD"),
    (
        &["serve", "--tls-summary", "--day", "../../etc/passwd"],
        "--day <DAY>",
        "expected a day as YYYY-MM-DD",
    ),
    (&["serve", "--tls-summary", "--day", "2026-12-07x"], "--day <DAY>", "YYYY-MM-DD"),
    // send
    (&["send", "--to", "a@b.test", "--server", "mail.test"], "--server <HOST:PORT>", "HOST:PORT"),
    (&["send", "--to", "a@b.test", "--server", "::1:25"], "--server <HOST:PORT>", "[IPv6]:PORT"),
    (&["send", "--to", "a@b.test", "--dns", "resolver"], "--dns <ADDR:PORT>", "invalid socket"),
    (
        &["send", "--to", "a@b.test", "--tls-level", "danger"],
        "--tls-level <LEVEL>",
        "unknown TLS security level \"danger\"; expected none, may",
    ),
    (
        &["send", "--to", "a@b.test", "--fingerprint", "BA:78:16"],
        "--fingerprint <SHA256>",
        "expected 64 hex digits",
    ),
    (
        &[
            "send",
            "--to",
            "a@b.test",
            "--fingerprint",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ],
        "--fingerprint <SHA256>",
        "expected 64 hex digits",
    ),
    (
        &["send", "--to", "a@b.test", "--match", "mail test"],
        "--match <NAME>",
        "`mail test` is neither a DNS name nor an IP address",
    ),
    (&["send", "--to", "not an address"], "--to <ADDR>", "not a valid address"),
    (&["send", "--to", "a@b.test", "--from", "me@"], "--from <ADDR>", "not a valid address"),
    (
        &["send", "--to", "a@b.test", "--user", "u", "--pass", "hunter2"],
        "--pass <env:VAR>",
        "expected env:VARIABLE",
    ),
    (
        &["send", "--to", "a@b.test", "--user", "u", "--pass", "file:/etc/pw"],
        "--pass <env:VAR>",
        "never the password itself",
    ),
    (
        &["send", "--to", "a@b.test", "--notify", "sometimes"],
        "--notify <LIST>",
        "expected NEVER or a list of SUCCESS, FAILURE, DELAY",
    ),
    (&["send", "--to", "a@b.test", "--ret", "ALL"], "--ret <FULL|HDRS>", "expected FULL or HDRS"),
    (&["send", "--to", "a@b.test", "--envid", ""], "--envid <ID>", "xtext"),
    (&["send", "--to", "a@b.test", "--timeout", "soon"], "--timeout <SECONDS>", "invalid digit"),
    (&["send", "--to", "a@b.test", "--mx-port", "70000"], "--mx-port <PORT>", "65535"),
    // smime
    (
        &["smime", "sign", "--cert", "c.pem", "--key", "k.pem", "--digest", "md5"],
        "--digest <NAME>",
        "expected sha256, sha384 or sha512",
    ),
    (
        &["smime", "sign", "--p12", "a.p12", "--pass", "open sesame"],
        "--pass <SOURCE>",
        "expected env:VARIABLE or file:PATH",
    ),
    (
        &["smime", "encrypt", "--to", "bob.pem", "--cipher", "3des"],
        "--cipher <CIPHER>",
        "unknown cipher \"3des\": use auto, aes256-gcm",
    ),
    (
        &["smime", "decrypt", "--p12", "b.p12", "--pass", "secret"],
        "--pass <SOURCE>",
        "expected env:VARIABLE or file:PATH",
    ),
    // cert
    (
        &["cert", "self-signed", "--host", "not a name", "--out", "x"],
        "--host <NAME>",
        "neither a DNS name nor an IP address",
    ),
    // queue
    (&["queue", "show", "../x"], "<ID>", "is not a queue id"),
];

#[test]
fn a_bad_value_of_each_typed_flag_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag, problem) in BAD_VALUES {
        let output = run(dir.path(), args, b"");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("for '{flag}'")), "{args:?} names {flag}: {stderr}");
        assert!(stderr.contains(problem), "{args:?} says {problem:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: {}", text(&output.stdout));
    }
    // Nothing was read or made: the values were refused before any work began.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn good_values_of_the_typed_flags_pass_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    // A day of the TLS journal with nothing in it: the summary of an empty day.
    let output = run(
        dir.path(),
        &["serve", "--tls-summary", "--day", "2024-02-29", "--data-dir", "data"],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("outbound TLS on 2024-02-29 (UTC): 0 connection attempt(s)"),
        "{stdout}"
    );
    // `send` gets past its flags and fails where it should: on the closed port.
    let pin = format!("{}ab", "ab:".repeat(31));
    let output = run(
        dir.path(),
        &[
            "send",
            "--server",
            "[::1]:1",
            "--tls-level",
            "FINGERPRINT",
            "--fingerprint",
            &pin,
            "--from",
            "<>",
            "--to",
            "<a@b.test>",
            "--notify",
            "success,FAILURE",
            "--ret",
            "hdrs",
            "--envid",
            "id 1",
            "--timeout",
            "2",
        ],
        b"Subject: x\r\n\r\nx\r\n",
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("delivery to [::1]:1 failed"), "{stderr}");
}
