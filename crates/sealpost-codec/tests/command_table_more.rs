//! Known-answer tables for command decoding, continued: RCPT (RFC 5321, RFC 3461, RFC 7293),
//! DATA, BDAT (RFC 3030), RSET, VRFY, EXPN, HELP, NOOP, QUIT, STARTTLS (RFC 3207), AUTH
//! (RFC 4954) and unknown verbs.

mod command_support;

use command_support::*;

// ----------------------------------------------------------------------------------------
// RCPT

#[test]
fn rcpt_commands() {
    use RcptParameter as P;
    let a = Some("a@b.example");
    let on = |success, failure, delay| P::Notify(Notify::On { success, failure, delay });
    check_ok(&[
        (b"RCPT TO:<a@b.example>\r\n", rcpt(a, vec![])),
        (b"rcpt to:<a@b.example>\r\n", rcpt(a, vec![])),
        (b"RCPT TO: <a@b.example>\r\n", rcpt(a, vec![])),
        // `<Postmaster>` is its own value, matched case-insensitively; with a domain it is
        // an ordinary mailbox.
        (b"RCPT TO:<Postmaster>\r\n", rcpt(None, vec![])),
        (b"RCPT TO:<postmaster>\r\n", rcpt(None, vec![])),
        (b"RCPT TO:<POSTMASTER> NOTIFY=NEVER\r\n", rcpt(None, vec![P::Notify(Notify::Never)])),
        (b"RCPT TO:<Postmaster@b.example>\r\n", rcpt(Some("Postmaster@b.example"), vec![])),
        (b"RCPT TO:<postmaster.x@b.example>\r\n", rcpt(Some("postmaster.x@b.example"), vec![])),
        (b"RCPT TO:<@relay.example:a@b.example>\r\n", rcpt(a, vec![])),
        (b"RCPT TO:<a@[192.0.2.1]>\r\n", rcpt(Some("a@[192.0.2.1]"), vec![])),
        (b"RCPT TO:<a@b.example> NOTIFY=NEVER\r\n", rcpt(a, vec![P::Notify(Notify::Never)])),
        (b"RCPT TO:<a@b.example> notify=never\r\n", rcpt(a, vec![P::Notify(Notify::Never)])),
        (b"RCPT TO:<a@b.example> NOTIFY=SUCCESS\r\n", rcpt(a, vec![on(true, false, false)])),
        (b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,FAILURE\r\n", rcpt(a, vec![on(true, true, false)])),
        (
            b"RCPT TO:<a@b.example> NOTIFY=DELAY,FAILURE,SUCCESS\r\n",
            rcpt(a, vec![on(true, true, true)]),
        ),
        (
            b"RCPT TO:<a@b.example> ORCPT=rfc822;joe+40example.org\r\n",
            rcpt(
                a,
                vec![P::Orcpt(Orcpt {
                    addr_type: "rfc822".try_into().unwrap(),
                    address: xtext("joe+40example.org"),
                })],
            ),
        ),
        (
            b"RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00Z\r\n",
            rcpt(
                a,
                vec![P::Rrvs(Rrvs {
                    time: EsmtpValue::new("2014-04-03T23:01:00Z").unwrap(),
                    action: None,
                })],
            ),
        ),
        (
            b"RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00+02:00;C\r\n",
            rcpt(
                a,
                vec![P::Rrvs(Rrvs {
                    time: EsmtpValue::new("2014-04-03T23:01:00+02:00").unwrap(),
                    action: Some(RrvsAction::Continue),
                })],
            ),
        ),
        (
            b"RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00Z;R\r\n",
            rcpt(
                a,
                vec![P::Rrvs(Rrvs {
                    time: EsmtpValue::new("2014-04-03T23:01:00Z").unwrap(),
                    action: Some(RrvsAction::Reject),
                })],
            ),
        ),
        (
            b"RCPT TO:<a@b.example> NOTIFY=FAILURE X-TRACE=7\r\n",
            rcpt(a, vec![on(false, true, false), P::Unknown(unknown_param("X-TRACE", Some("7")))]),
        ),
    ]);
    // Postmaster is neither the null path nor a mailbox.
    let (_, c) = Command::decode(b"RCPT TO:<postmaster>\r\n").unwrap();
    let Command::Rcpt { forward_path, parameters } = c else { panic!("not RCPT") };
    assert_eq!(forward_path, ForwardPath::Postmaster);
    assert_eq!(forward_path.mailbox(), None);
    assert_eq!(forward_path.to_string(), "<Postmaster>");
    assert!(parameters.is_empty());
    let (_, c) = Command::decode(b"RCPT TO:<a@b.example> NOTIFY=DELAY,SUCCESS\r\n").unwrap();
    assert_eq!(c.to_bytes(), b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,DELAY\r\n");
}

#[test]
fn rcpt_errors() {
    let r = Verb::Rcpt;
    let rows: Vec<(&[u8], CommandError)> = vec![
        (
            b"RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS\r\n",
            param_err(r, "NOTIFY", "NEVER cannot be combined with other values"),
        ),
        (
            b"RCPT TO:<a@b.example> NOTIFY=FAILURE,NEVER\r\n",
            param_err(r, "NOTIFY", "NEVER cannot be combined with other values"),
        ),
        (
            b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS\r\n",
            param_err(r, "NOTIFY", "a condition is listed twice"),
        ),
        (
            b"RCPT TO:<a@b.example> NOTIFY=SOMETIMES\r\n",
            param_err(r, "NOTIFY", "expected NEVER or SUCCESS, FAILURE, DELAY"),
        ),
        (
            b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,\r\n",
            param_err(r, "NOTIFY", "expected NEVER or SUCCESS, FAILURE, DELAY"),
        ),
        (b"RCPT TO:<a@b.example> NOTIFY\r\n", param_err(r, "NOTIFY", "needs a value")),
        (
            b"RCPT TO:<a@b.example> ORCPT=rfc822\r\n",
            param_err(r, "ORCPT", "expected addr-type;xtext"),
        ),
        (b"RCPT TO:<a@b.example> ORCPT=;a@b\r\n", param_err(r, "ORCPT", "invalid addr-type")),
        (
            b"RCPT TO:<a@b.example> ORCPT=rfc822;a+zz\r\n",
            param_err(r, "ORCPT", "address is not xtext"),
        ),
        (
            b"RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00Z;X\r\n",
            param_err(r, "RRVS", "action must be R or C"),
        ),
        (
            b"RCPT TO:<a@b.example> RRVS=yesterday\r\n",
            param_err(r, "RRVS", "expected an RFC 3339 date-time"),
        ),
        (b"RCPT TO:<a@b.example> NOTIFY=NEVER NOTIFY=SUCCESS\r\n", duplicate(r, "NOTIFY")),
        (b"RCPT TO:<a@b.example> ORCPT=x;y orcpt=x;z\r\n", duplicate(r, "ORCPT")),
    ];
    check_err(&rows);
    check_syntax(&[
        (b"RCPT TO:<>\r\n", Verb::Rcpt),
        (b"RCPT TO:a@b.example\r\n", Verb::Rcpt),
        (b"RCPT TO:\r\n", Verb::Rcpt),
        (b"RCPT FROM:<a@b.example>\r\n", Verb::Rcpt),
        (b"RCPT TO:<Postmaster>x\r\n", Verb::Rcpt),
        (b"RCPT TO:<Postmaster\r\n", Verb::Rcpt),
    ]);
}

// ----------------------------------------------------------------------------------------
// The other commands

#[test]
fn simple_commands() {
    check_ok(&[
        (b"DATA\r\n", Command::Data),
        (b"data\r\n", Command::Data),
        (b"BDAT 1000\r\n", Command::Bdat { size: 1000, last: false }),
        (b"BDAT 0 LAST\r\n", Command::Bdat { size: 0, last: true }),
        (b"bdat 5 last\r\n", Command::Bdat { size: 5, last: true }),
        (b"BDAT 18446744073709551615\r\n", Command::Bdat { size: u64::MAX, last: false }),
        (b"RSET\r\n", Command::Rset),
        (b"rSeT\r\n", Command::Rset),
        (b"VRFY postmaster\r\n", Command::Vrfy(text("postmaster"))),
        (b"VRFY Smith, John <js@x>\r\n", Command::Vrfy(text("Smith, John <js@x>"))),
        (b"EXPN staff-list\r\n", Command::Expn(text("staff-list"))),
        (b"HELP\r\n", Command::Help(None)),
        (b"HELP MAIL\r\n", Command::Help(Some(text("MAIL")))),
        (b"NOOP\r\n", Command::Noop(None)),
        (b"noop keep alive\r\n", Command::Noop(Some(text("keep alive")))),
        (b"QUIT\r\n", Command::Quit),
        (b"quit\r\n", Command::Quit),
        (b"STARTTLS\r\n", Command::StartTls),
        (b"StartTLS\r\n", Command::StartTls),
        (b"AUTH PLAIN\r\n", Command::Auth { mechanism: Mechanism::PLAIN, initial_response: None }),
        (
            b"AUTH PLAIN =\r\n",
            Command::Auth {
                mechanism: Mechanism::PLAIN,
                initial_response: Some(InitialResponse::Empty),
            },
        ),
        (
            b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            Command::Auth {
                mechanism: Mechanism::PLAIN,
                initial_response: Some(InitialResponse::base64("AGFsaWNlAHNlY3JldA==").unwrap()),
            },
        ),
        (
            b"auth login\r\n",
            Command::Auth { mechanism: Mechanism::new("login").unwrap(), initial_response: None },
        ),
        (
            b"AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9\r\n",
            Command::Auth {
                mechanism: Mechanism::new("SCRAM-SHA-256").unwrap(),
                initial_response: Some(InitialResponse::base64("biwsbj11c2VyLHI9").unwrap()),
            },
        ),
        // Unknown verbs are kept verbatim, arguments included.
        (
            b"XCLIENT ADDR=192.0.2.1 NAME=x\r\n",
            Command::Unknown {
                verb: "XCLIENT".try_into().unwrap(),
                arguments: Some(text("ADDR=192.0.2.1 NAME=x")),
            },
        ),
        (b"xyzzy\r\n", Command::Unknown { verb: "xyzzy".try_into().unwrap(), arguments: None }),
        (b"WHAT?\r\n", Command::Unknown { verb: "WHAT?".try_into().unwrap(), arguments: None }),
        (
            b"MAILX FROM:<a@b>\r\n",
            Command::Unknown {
                verb: "MAILX".try_into().unwrap(),
                arguments: Some(text("FROM:<a@b>")),
            },
        ),
        (
            b"STARTTLSX\r\n",
            Command::Unknown { verb: "STARTTLSX".try_into().unwrap(), arguments: None },
        ),
    ]);
    let (_, auth) = Command::decode(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").unwrap();
    let Command::Auth { initial_response: Some(ir), .. } = auth else { panic!("no response") };
    assert_eq!(ir.decode().unwrap().expose(), b"\0alice\0secret");
    assert_eq!(InitialResponse::Empty.decode().unwrap().expose(), b"");
    // The credential never shows in Debug output.
    assert!(!format!("{ir:?}").contains("AGFsaWNl"));
}

#[test]
fn simple_command_errors() {
    check_syntax(&[
        (b"DATA x\r\n", Verb::Data),
        (b"DATA \r\n", Verb::Data),
        (b"RSET now\r\n", Verb::Rset),
        (b"QUIT please\r\n", Verb::Quit),
        (b"STARTTLS foo\r\n", Verb::StartTls),
        (b"STARTTLS \r\n", Verb::StartTls),
        (b"BDAT\r\n", Verb::Bdat),
        (b"BDAT \r\n", Verb::Bdat),
        (b"BDAT LAST\r\n", Verb::Bdat),
        (b"BDAT x\r\n", Verb::Bdat),
        (b"BDAT -1\r\n", Verb::Bdat),
        (b"BDAT 10 MORE\r\n", Verb::Bdat),
        (b"BDAT 10 LAST x\r\n", Verb::Bdat),
        (b"BDAT 10  LAST\r\n", Verb::Bdat),
        (b"BDAT 18446744073709551616\r\n", Verb::Bdat),
        (b"VRFY\r\n", Verb::Vrfy),
        (b"VRFY \r\n", Verb::Vrfy),
        (b"EXPN\r\n", Verb::Expn),
        (b"HELP\tME\r\n", Verb::Unknown),
        (b"NOOP \r\n", Verb::Noop),
        (b"AUTH\r\n", Verb::Auth),
        (b"AUTH \r\n", Verb::Auth),
        (b"AUTH PLAIN not-base64!\r\n", Verb::Auth),
        (b"AUTH PLAIN abc\r\n", Verb::Auth),
        (b"AUTH PL@IN\r\n", Verb::Auth),
        (b"AUTH ABCDEFGHIJKLMNOPQRSTU\r\n", Verb::Auth),
        (b"\r\n", Verb::Unknown),
        (b" NOOP\r\n", Verb::Unknown),
        (b"FO(O\r\n", Verb::Unknown),
        (b"MAILFROM:<a@b.example>\r\n", Verb::Unknown),
        (b"XCLIENT\tADDR\r\n", Verb::Unknown),
    ]);
}
