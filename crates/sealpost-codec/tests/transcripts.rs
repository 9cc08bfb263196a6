//! RFC transcripts (`tests/transcripts/*.txt`) replayed through the sessions in three
//! directions: (a) the client lines into a `ServerSession`, (b) the server lines into a
//! `ClientSession`, (c) a client and a server against each other. The file format and
//! the comparison rule are documented in `common/transcript.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::transcript::{Transcript, compare_reply, load};
use common::{parse_replies, reply};

fn ok(result: Result<(), String>) {
    if let Err(e) = result {
        panic!("{e}");
    }
}

macro_rules! transcript {
    ($module:ident, $file:literal) => {
        mod $module {
            use super::*;

            #[test]
            fn server() {
                ok(load($file).run_server());
            }

            #[test]
            fn client() {
                ok(load($file).run_client());
            }

            #[test]
            fn pair() {
                ok(load($file).run_pair());
            }
        }
    };
    ($module:ident, $file:literal, server only) => {
        mod $module {
            use super::*;

            #[test]
            fn server() {
                let t = load($file);
                assert!(t.server_only, "the file must say `! only server`");
                ok(t.run_server());
            }
        }
    };
}

transcript!(rfc5321_d1_typical_transaction, "rfc5321-d1-typical-transaction.txt");
transcript!(rfc5321_d3_relay_first_hop, "rfc5321-d3-relay-first-hop.txt");
transcript!(rfc5321_d3_relay_second_hop, "rfc5321-d3-relay-second-hop.txt");
transcript!(rfc5321_helo_rset_vrfy_noop, "rfc5321-helo-rset-vrfy-noop.txt", server only);
transcript!(rfc5321_ehlo_refused_helo_fallback, "rfc5321-ehlo-refused-helo-fallback.txt");
transcript!(rfc2920_not_pipelined, "rfc2920-not-pipelined.txt", server only);
transcript!(rfc2920_pipelined, "rfc2920-pipelined.txt");
transcript!(rfc2920_no_valid_recipients, "rfc2920-no-valid-recipients.txt");
transcript!(rfc2920_rejected_recipient, "rfc2920-rejected-recipient.txt");
transcript!(rfc3030_simple_chunking, "rfc3030-simple-chunking.txt");
transcript!(rfc3030_pipelining_binarymime, "rfc3030-pipelining-binarymime.txt");
transcript!(rfc3207_starttls, "rfc3207-starttls.txt");
transcript!(rfc4954_submission_auth_plain, "rfc4954-submission-auth-plain.txt");
transcript!(rfc4954_auth_login, "rfc4954-auth-login.txt");
transcript!(rfc2033_lmtp, "rfc2033-lmtp.txt");
transcript!(rfc2033_lmtp_chunking, "rfc2033-lmtp-chunking.txt");
transcript!(rfc2033_lmtp_no_valid_recipients, "rfc2033-lmtp-no-valid-recipients.txt");

/// Every file in the folder is run by a test above.
#[test]
fn every_transcript_file_is_listed() {
    let source = include_str!("transcripts.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 17);
    for file in files {
        assert!(file.ends_with(".txt"), "{file}");
        assert!(source.contains(&format!("\"{file}\"")), "{file} is not run by any test");
    }
}

// ----------------------------------------------------------------------------------------
// The runner itself: it must fail on a wrong transcript.

const SMALL: &str = "\
S: 220 foo.com ESMTP
C: EHLO bar.com
S: 250-foo.com
S: 250-SIZE
S: 250 PIPELINING
C: MAIL FROM:<a@bar.com>
C: RCPT TO:<b@foo.com>
C: DATA
S: 250 OK
S: 250 OK
S: 354 go
C: ..dot
C: .
S: 250 OK
C: QUIT
S: 221 bye
";

#[test]
fn the_small_transcript_runs_in_every_direction() {
    let t = Transcript::parse("small", SMALL).unwrap();
    assert_eq!(t.messages(), vec![b".dot\r\n".to_vec()]);
    ok(t.run_server());
    ok(t.run_client());
    ok(t.run_pair());
}

#[test]
fn a_wrong_reply_code_fails_the_server_direction() {
    let t = Transcript::parse("wrong", &SMALL.replace("S: 354 go", "S: 554 no")).unwrap();
    let e = t.run_server().unwrap_err();
    assert!(e.contains("reply code differs"), "{e}");
}

#[test]
fn a_missing_extension_fails_the_comparison() {
    // The server announces what any EHLO reply of the transcript shows: a second EHLO
    // reply without PIPELINING does not match.
    let text = SMALL.replace(
        "C: QUIT\nS: 221 bye\n",
        "C: EHLO bar.com\nS: 250-foo.com\nS: 250 SIZE\nC: QUIT\nS: 221 bye\n",
    );
    let e = Transcript::parse("extra", &text).unwrap().run_server().unwrap_err();
    assert!(e.contains("EHLO extensions differ"), "{e}");
    let got = reply("250-foo.com\r\n250-SIZE\r\n250 PIPELINING");
    let want = reply("250-foo.com\r\n250 SIZE");
    assert!(compare_reply(&got, &want, "EHLO").is_err());
    compare_reply(&got, &want, "MAIL").unwrap();
}

#[test]
fn the_comparison_rule() {
    let check = |got: &str, want: &str, answers: &str| {
        compare_reply(&reply(got), &reply(want), answers).is_ok()
    };
    // Code only when the transcript has no enhanced status code; text is free.
    assert!(check("250 2.1.0 Sender ok", "250 OK", "MAIL"));
    assert!(!check("251 2.1.0 Sender ok", "250 OK", "MAIL"));
    // Enhanced status code when the transcript has one.
    assert!(check("550 5.1.1 x", "550 5.1.1 No such user", "RCPT"));
    assert!(!check("550 5.1.2 x", "550 5.1.1 No such user", "RCPT"));
    assert!(!check("550 x", "550 5.1.1 No such user", "RCPT"));
    // EHLO: domain and keyword set, AUTH mechanisms as a set, SIZE number when given.
    let ehlo = "250-a.test hi\r\n250-SIZE 100\r\n250 AUTH LOGIN PLAIN";
    assert!(check(ehlo, "250-A.TEST\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE", "EHLO"));
    assert!(check(ehlo, "250-a.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 100", "EHLO"));
    assert!(!check(ehlo, "250-a.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 200", "EHLO"));
    assert!(!check(ehlo, "250-a.test\r\n250-AUTH PLAIN\r\n250 SIZE", "EHLO"));
    assert!(!check(ehlo, "250-b.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE", "EHLO"));
    assert_eq!(parse_replies(b"250-a\r\n250 b\r\n221 c\r\n").len(), 2);
}

#[test]
fn a_client_that_sends_something_else_fails_the_client_direction() {
    // The transcript claims the client sends NOOP before the EHLO reply came.
    let t =
        Transcript::parse("name", &SMALL.replace("C: EHLO bar.com", "C: EHLO bar.com\nC: NOOP"));
    let e = t.unwrap().run_client().unwrap_err();
    assert!(e.contains("line 3 (NOOP)"), "{e}");
}

#[test]
fn malformed_transcripts_are_refused() {
    assert!(Transcript::parse("x", "C:EHLO a\n").is_err());
    assert!(Transcript::parse("x", "X: 220 a\n").is_err());
    assert!(Transcript::parse("x", "S: 250-a\n").is_err());
    assert!(Transcript::parse("x", "S: 220 a\nC: BDAT 3\nC: {octets 4}\n").is_err());
}

// ----------------------------------------------------------------------------------------
// (c) beyond the transcripts: ClientSession and ServerSession against each other.

mod pair {
    use super::common::{Pair, ServerApp, envelope, from, mx_config, reply, submission_config, to};
    use sealpost_codec::client::{ClientConfig, ClientError, ClientEvent, Envelope};
    use sealpost_codec::server::{ServerConfig, ServerEvent};
    use sealpost_codec::{Command, MailParameters, Mechanism, Verb};

    fn params(text: &str) -> MailParameters<'static> {
        let line = format!("MAIL FROM:<a@client.test> {text}\r\n");
        match Command::decode(line.as_bytes()).unwrap().1 {
            Command::Mail { parameters, .. } => parameters.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    fn codes(
        result: &sealpost_codec::client::TransactionResult,
    ) -> Vec<(Option<u16>, Option<u16>)> {
        let code = |r: &Option<sealpost_codec::Reply<'static>>| r.as_ref().map(|r| r.code().get());
        result.recipients.iter().map(|r| (code(&r.rcpt), code(&r.data))).collect()
    }

    #[test]
    fn pipelined_or_not_with_data_or_bdat() {
        for pipelining in [true, false] {
            for chunking in [false, true] {
                let mut server = ServerConfig::new("mx.test");
                server.pipelining = pipelining;
                let mut client = ClientConfig::new("client.test");
                client.chunking = chunking;
                let app =
                    ServerApp::new().reject_rcpt("c@mx.test", reply("550 5.1.1 No such user"));
                let mut pair = Pair::ready(client, server, app);
                let writes_before = pair.client_writes.len();
                let e = envelope("a@client.test", &["b@mx.test", "c@mx.test", "d@mx.test"]);
                let result = pair.deliver(e, &[b"Subject: x\r\n\r\n.dot\nline", b" more"]);
                let case = format!("pipelining {pipelining}, chunking {chunking}");
                assert_eq!(
                    codes(&result),
                    [(Some(250), Some(250)), (Some(550), None), (Some(250), Some(250))],
                    "{case}"
                );
                assert_eq!(
                    pair.app.messages,
                    [b"Subject: x\r\n\r\n.dot\r\nline more\r\n".to_vec()],
                    "{case}"
                );
                let first = &pair.client_writes[writes_before];
                let commands = first.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
                let want = match (pipelining, chunking) {
                    (true, false) => 5, // MAIL, 3 RCPT, DATA
                    (true, true) => 4,  // MAIL, 3 RCPT
                    (false, _) => 1,
                };
                assert_eq!(commands, want, "{case}: {:?}", String::from_utf8_lossy(first));
                let body_write =
                    pair.client_writes.iter().rev().find(|w| !w.starts_with(b"RSET")).unwrap();
                assert_eq!(body_write.starts_with(b"BDAT "), chunking, "{case}");
                pair.quit();
            }
        }
    }

    #[test]
    fn lmtp_one_reply_per_recipient() {
        let mut server = ServerConfig::new("lmtp.test");
        server.lmtp = true;
        let mut client = ClientConfig::new("client.test");
        client.lmtp = true;
        for chunking in [false, true] {
            client.chunking = chunking;
            let app = ServerApp::new()
                .reject_rcpt("y@lmtp.test", reply("550 5.1.1 No such user"))
                .data_replies(vec![reply("250 2.0.0 x ok"), reply("452 4.2.2 z over quota")]);
            let mut pair = Pair::ready(client.clone(), server.clone(), app);
            assert_eq!(pair.server.hello(), Some(Verb::Lhlo));
            let e = envelope("a@client.test", &["x@lmtp.test", "y@lmtp.test", "z@lmtp.test"]);
            let result = pair.deliver(e, &[b"hello"]);
            assert_eq!(
                codes(&result),
                [(Some(250), Some(250)), (Some(550), None), (Some(250), Some(452))]
            );
            let ends = pair.app.count(|e| matches!(e, ServerEvent::MessageEnd { replies: 2, .. }));
            assert_eq!(ends, 1);
            pair.quit();
        }
    }

    fn tls_pair(app: ServerApp) -> Pair {
        let mut pair = Pair::ready(ClientConfig::new("client.test"), mx_config(), app);
        pair.client.start_tls().unwrap();
        let events = pair.pump();
        assert_eq!(pair.handshakes, 1);
        assert!(pair.client.is_tls() && pair.server.is_tls());
        let Some(ClientEvent::Ready { ehlo: Some(ehlo) }) = events.last() else {
            panic!("{events:?}")
        };
        assert!(ehlo.auth_mechanisms().any(|m| m.is("PLAIN")));
        pair
    }

    #[test]
    fn auth_plain_and_login_under_tls() {
        for mechanism in [Mechanism::PLAIN, Mechanism::LOGIN] {
            let mut pair = tls_pair(ServerApp::new().users(&[("alice", "secret")]));
            pair.client.authenticate(&mechanism, "alice", "wrong").unwrap();
            let events = pair.pump();
            assert!(matches!(&events[..], [ClientEvent::AuthFailed(r)] if r.code().get() == 535));
            pair.client.authenticate(&mechanism, "alice", "secret").unwrap();
            assert_eq!(pair.pump(), [ClientEvent::Authenticated]);
            assert!(pair.server.is_authenticated() && pair.client.is_authenticated());
            let result = pair.deliver(envelope("alice@client.test", &["b@mx.test"]), &[b"hi"]);
            assert!(result.all_delivered());
            pair.quit();
        }
    }

    #[test]
    fn submission_wants_tls_then_auth() {
        let mut pair =
            Pair::ready(ClientConfig::new("client.test"), submission_config(), ServerApp::new());
        let result = pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[]);
        assert_eq!(result.mail.to_string(), "530 5.7.0 Must issue a STARTTLS command first");
        assert_eq!(
            pair.client.authenticate(&Mechanism::PLAIN, "u", "p"),
            Err(ClientError::AuthWithoutTls)
        );
        pair.client.start_tls().unwrap();
        pair.pump();
        let result = pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[]);
        assert_eq!(result.mail.to_string(), "530 5.7.0 Authentication required");
        pair.client.authenticate(&Mechanism::LOGIN, "u", "p").unwrap();
        assert_eq!(pair.pump(), [ClientEvent::Authenticated]);
        assert!(pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[b"x"]).all_delivered());
    }

    #[test]
    fn ehlo_refused_then_helo() {
        let app = ServerApp::new().with_hook(|e| match e {
            ServerEvent::Hello { verb: Verb::Ehlo, .. } => Some(reply("502 5.5.1 Not implemented")),
            _ => None,
        });
        let mut pair =
            Pair::new(ClientConfig::new("client.test"), ServerConfig::new("mx.test"), app);
        assert_eq!(pair.pump().last(), Some(&ClientEvent::Ready { ehlo: None }));
        assert_eq!(pair.server.hello(), Some(Verb::Helo));
        let writes = pair.client_writes.len();
        let result = pair.deliver(envelope("a@client.test", &["b@mx.test", "c@mx.test"]), &[b"x"]);
        assert!(result.all_delivered());
        // No PIPELINING after HELO: MAIL, RCPT, RCPT, DATA, body each in its own write.
        assert_eq!(pair.client_writes.len() - writes, 5);
        assert_eq!(pair.app.messages, [b"x\r\n".to_vec()]);
        pair.quit();
    }

    #[test]
    fn size_smtputf8_and_8bitmime_checked_before_sending() {
        let mut server = ServerConfig::new("mx.test");
        server.max_message_size = Some(1000);
        server.smtputf8 = false;
        server.eight_bit_mime = false;
        let mut pair = Pair::ready(ClientConfig::new("client.test"), server, ServerApp::new());
        let writes = pair.client_writes.len();
        let e = |p: &str| envelope("a@client.test", &["b@mx.test"]).parameters(params(p));
        assert_eq!(
            pair.client.send_mail(e("SIZE=1001")),
            Err(ClientError::MessageTooLarge { size: 1001, limit: 1000 })
        );
        let utf8 = Envelope::new(from("jö@client.test")).recipient(to("b@mx.test"));
        assert_eq!(pair.client.send_mail(utf8), Err(ClientError::NotOffered("SMTPUTF8")));
        assert_eq!(
            pair.client.send_mail(e("BODY=8BITMIME")),
            Err(ClientError::NotOffered("8BITMIME"))
        );
        pair.pump();
        assert_eq!(pair.client_writes.len(), writes, "nothing was sent");
        assert!(pair.deliver(e("SIZE=1000"), &[b"x"]).all_delivered());
        // Announced: accepted end to end; the client adds SMTPUTF8 for the non-ASCII
        // addresses by itself (RFC 6531 section 3.4).
        let mut pair = Pair::ready(
            ClientConfig::new("client.test"),
            ServerConfig::new("mx.test"),
            ServerApp::new(),
        );
        let utf8 = Envelope::new(from("jö@client.test"))
            .parameters(params("BODY=8BITMIME"))
            .recipient(to("ü@mx.test"));
        assert!(pair.deliver(utf8, &["Grüße".as_bytes()]).all_delivered());
        let Some(ServerEvent::Mail { parameters, .. }) =
            pair.app.events.iter().find(|e| matches!(e, ServerEvent::Mail { .. }))
        else {
            panic!()
        };
        assert!(parameters.smtputf8());
    }

    #[test]
    fn a_refused_bdat_chunk_ends_the_transaction() {
        let mut server = ServerConfig::new("mx.test");
        server.max_message_size = Some(10);
        let mut pair = Pair::ready(ClientConfig::new("client.test"), server, ServerApp::new());
        let result =
            pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[b"0123456789abc", b"x"]);
        assert_eq!(codes(&result), [(Some(250), Some(552))]);
        assert!(pair.app.messages.is_empty());
        assert!(pair.client.is_ready());
        assert!(
            pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[b"small"]).all_delivered()
        );
        pair.quit();
    }

    #[test]
    fn several_transactions_reset_and_noop() {
        let app = ServerApp::new().reject_mail("spam@client.test", reply("550 5.7.1 Go away"));
        let mut pair =
            Pair::ready(ClientConfig::new("client.test"), ServerConfig::new("mx.test"), app);
        assert!(pair.deliver(envelope("a@client.test", &["b@mx.test"]), &[b"one"]).all_delivered());
        let refused = pair.deliver(envelope("spam@client.test", &["b@mx.test"]), &[b"two"]);
        assert_eq!(refused.mail.code().get(), 550);
        assert!(
            pair.deliver(envelope("c@client.test", &["d@mx.test"]), &[b"three"]).all_delivered()
        );
        pair.client.reset().unwrap();
        assert!(matches!(&pair.pump()[..], [ClientEvent::Reply(r)] if r.code().get() == 250));
        pair.client.noop().unwrap();
        assert!(matches!(&pair.pump()[..], [ClientEvent::Reply(r)] if r.code().get() == 250));
        assert_eq!(pair.app.messages, [b"one\r\n".to_vec(), b"three\r\n".to_vec()]);
        pair.quit();
    }
}
