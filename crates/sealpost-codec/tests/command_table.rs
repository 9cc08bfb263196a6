//! Known-answer tables for command decoding (RFC 5321 section 4.1 and the extensions):
//! `(input, expected value)` rows, and negative rows that name the exact error. EHLO, HELO,
//! LHLO, MAIL and the line-level rules here; RCPT and the other commands in
//! `command_table_more.rs`.

mod command_support;

use command_support::*;

// ----------------------------------------------------------------------------------------
// EHLO, HELO, LHLO

#[test]
fn hello_commands() {
    check_ok(&[
        (b"EHLO client.example\r\n", Command::Ehlo(domain_host("client.example"))),
        (b"ehlo Client.Example\r\n", Command::Ehlo(domain_host("Client.Example"))),
        (b"HELO client.example\r\n", Command::Helo(domain_host("client.example"))),
        (b"LHLO client.example\r\n", Command::Lhlo(domain_host("client.example"))),
        (b"EHLO localhost\r\n", Command::Ehlo(domain_host("localhost"))),
        (b"EHLO [192.0.2.1]\r\n", Command::Ehlo(literal_host("192.0.2.1"))),
        (b"HELO [192.0.2.1]\r\n", Command::Helo(literal_host("192.0.2.1"))),
        (b"EHLO [IPv6:2001:db8::1]\r\n", Command::Ehlo(literal_host("IPv6:2001:db8::1"))),
        (b"LHLO [IPv6:::1]\r\n", Command::Lhlo(literal_host("IPv6:::1"))),
        (b"EHLO [x-tag:some-content]\r\n", Command::Ehlo(literal_host("x-tag:some-content"))),
        (b"EHLO b\xc3\xbccher.example\r\n", Command::Ehlo(domain_host("bücher.example"))),
        // A bare dotted quad is a valid Domain by the grammar (labels may be digits).
        (b"EHLO 192.0.2.1\r\n", Command::Ehlo(domain_host("192.0.2.1"))),
        // The nonstandard-host leniency (RFC 5321 section 4.1.4): kept verbatim.
        (b"EHLO my_host.example\r\n", Command::Ehlo(Host::Nonstandard(text("my_host.example")))),
        (b"HELO -dash-\r\n", Command::Helo(Host::Nonstandard(text("-dash-")))),
        (b"EHLO a..b\r\n", Command::Ehlo(Host::Nonstandard(text("a..b")))),
    ]);
    // The address literal keeps its spelling.
    let Command::Ehlo(Host::Literal(lit)) =
        Command::decode(b"EHLO [IPv6:2001:DB8::1]\r\n").unwrap().1
    else {
        panic!("not a literal")
    };
    assert_eq!(lit.inner(), "IPv6:2001:DB8::1");
    assert_eq!(lit.ip(), "2001:db8::1".parse().ok());
    assert_eq!(host("[192.0.2.1]"), literal_host("192.0.2.1"));
}

#[test]
fn hello_errors() {
    let literal = |reason| ValidationError::Invalid { what: "address literal", reason };
    check_err(&[
        (b"EHLO [300.1.1.1]\r\n", path_err(Verb::Ehlo, literal("not a dotted-quad IPv4 address"))),
        (b"HELO [1.2.3]\r\n", path_err(Verb::Helo, literal("not a dotted-quad IPv4 address"))),
        (b"EHLO [IPv6:zz]\r\n", path_err(Verb::Ehlo, literal("invalid IPv6 address"))),
        (b"LHLO [IPv6:fe80::1%eth0]\r\n", path_err(Verb::Lhlo, literal("invalid IPv6 address"))),
        (b"EHLO [-tag:x]\r\n", path_err(Verb::Ehlo, literal("invalid Standardized-tag"))),
        (b"EHLO []\r\n", path_err(Verb::Ehlo, ValidationError::Empty { what: "address literal" })),
        (
            b"EHLO a\x7fb\r\n",
            path_err(
                Verb::Ehlo,
                ValidationError::ForbiddenByte { what: "host", byte: 0x7f, at: 1 },
            ),
        ),
        (b"EHLO \xff\r\n", CommandError::InvalidUtf8),
    ]);
    check_syntax(&[
        (b"EHLO\r\n", Verb::Ehlo),
        (b"EHLO \r\n", Verb::Ehlo),
        (b"EHLO  client.example\r\n", Verb::Ehlo),
        (b"EHLO client.example extra\r\n", Verb::Ehlo),
        (b"HELO\r\n", Verb::Helo),
        (b"LHLO a b\r\n", Verb::Lhlo),
        (b"EHLO\tclient.example\r\n", Verb::Unknown),
    ]);
}

// ----------------------------------------------------------------------------------------
// MAIL

#[test]
fn mail_paths() {
    let quoted = [
        (&br#"MAIL FROM:<"john\"smith"@example.org>"#[..], r#"john\"smith"#),
        (br#"MAIL FROM:<"john smith"@example.org>"#, "john smith"),
        (br#"MAIL FROM:<""@example.org>"#, ""),
        (br#"MAIL FROM:<"a\\b"@example.org>"#, r"a\\b"),
        (br#"MAIL FROM:<"simple"@example.org>"#, "simple"),
    ];
    for (line, raw) in quoted {
        let input = [line, b"\r\n"].concat();
        let expected = Command::Mail {
            reverse_path: ReversePath::Mailbox(
                Mailbox::new(
                    LocalPart::quoted_string(raw).unwrap(),
                    DomainPart::Domain(Domain::new("example.org").unwrap()),
                )
                .unwrap(),
            ),
            parameters: MailParameters::new(),
        };
        check_ok(&[(&input, expected.clone())]);
        // Kept as written, byte for byte.
        assert_eq!(expected.to_bytes(), input);
    }
    check_ok(&[
        (b"MAIL FROM:<>\r\n", mail(None, vec![])),
        (b"mail from:<>\r\n", mail(None, vec![])),
        (b"MAIL FROM:<alice@example.org>\r\n", mail(Some("alice@example.org"), vec![])),
        (b"Mail From:<Alice@Example.ORG>\r\n", mail(Some("Alice@Example.ORG"), vec![])),
        (b"MAIL FROM: <alice@example.org>\r\n", mail(Some("alice@example.org"), vec![])),
        (b"MAIL FROM: <>\r\n", mail(None, vec![])),
        (b"MAIL FROM:<a@[192.0.2.1]>\r\n", mail(Some("a@[192.0.2.1]"), vec![])),
        (b"MAIL FROM:<a@[IPv6:2001:db8::1]>\r\n", mail(Some("a@[IPv6:2001:db8::1]"), vec![])),
        (b"MAIL FROM:<a@[x-tag:c]>\r\n", mail(Some("a@[x-tag:c]"), vec![])),
        (b"MAIL FROM:<a.b+tag@example.org>\r\n", mail(Some("a.b+tag@example.org"), vec![])),
        (
            b"MAIL FROM:<!#$%&'*+-/=?^_`{|}~@x.org>\r\n",
            mail(Some("!#$%&'*+-/=?^_`{|}~@x.org"), vec![]),
        ),
        (b"MAIL FROM:<@relay.example:joe@example.org>\r\n", mail(Some("joe@example.org"), vec![])),
        (b"MAIL FROM:<@a.example,@b.example:joe@x.org>\r\n", mail(Some("joe@x.org"), vec![])),
        (b"MAIL FROM:<alice@example.org> \r\n", mail(Some("alice@example.org"), vec![])),
    ]);
    // The source route is not re-encoded; the extra SP after the colon is not either.
    let (_, routed) = Command::decode(b"MAIL FROM:<@a.example,@b.example:joe@x.org>\r\n").unwrap();
    assert_eq!(routed.to_bytes(), b"MAIL FROM:<joe@x.org>\r\n");
    let (_, spaced) = Command::decode(b"mail from: <a@b.example>\r\n").unwrap();
    assert_eq!(spaced.to_bytes(), b"MAIL FROM:<a@b.example>\r\n");
}

#[test]
fn mail_utf8_needs_smtputf8() {
    check_ok(&[
        (
            "MAIL FROM:<jöran@bücher.example> SMTPUTF8\r\n".as_bytes(),
            mail(Some("jöran@bücher.example"), vec![MailParameter::SmtpUtf8]),
        ),
        (
            "MAIL FROM:<用户@例子.广告> BODY=8BITMIME SMTPUTF8\r\n".as_bytes(),
            mail(
                Some("用户@例子.广告"),
                vec![MailParameter::Body(BodyType::EightBitMime), MailParameter::SmtpUtf8],
            ),
        ),
        (
            "MAIL FROM:<\"jö ran\"@example.org> smtputf8\r\n".as_bytes(),
            mail(Some("\"jö ran\"@example.org"), vec![MailParameter::SmtpUtf8]),
        ),
        // RCPT has no SMTPUTF8 parameter: the transaction's MAIL carries it.
        ("RCPT TO:<用户@例子.广告>\r\n".as_bytes(), rcpt(Some("用户@例子.广告"), vec![])),
    ]);
    check_err(&[
        (
            "MAIL FROM:<jöran@example.org>\r\n".as_bytes(),
            CommandError::NonAsciiWithoutSmtpUtf8 { verb: Verb::Mail },
        ),
        (
            "MAIL FROM:<joran@bücher.example> BODY=8BITMIME\r\n".as_bytes(),
            CommandError::NonAsciiWithoutSmtpUtf8 { verb: Verb::Mail },
        ),
        (b"MAIL FROM:<j\xffran@example.org> SMTPUTF8\r\n", CommandError::InvalidUtf8),
        (b"MAIL FROM:<a@b\xc3.example> SMTPUTF8\r\n", CommandError::InvalidUtf8),
    ]);
}

#[test]
fn mail_path_errors() {
    let local_65 = format!("MAIL FROM:<{}@example.org>\r\n", "a".repeat(65));
    let local_64 = format!("MAIL FROM:<{}@example.org>\r\n", "a".repeat(64));
    let quoted_65 = format!("MAIL FROM:<\"{}\"@example.org>\r\n", "a".repeat(63));
    let quoted_64 = format!("MAIL FROM:<\"{}\"@example.org>\r\n", "a".repeat(62));
    // 64 + "@" + 189 + "<>" = 256 octets: the longest path (RFC 5321 4.5.3.1.3).
    let domain_189 = format!("{}.{}.{}", "d".repeat(63), "e".repeat(63), "f".repeat(61));
    let path_256 = format!("MAIL FROM:<{}@{domain_189}>\r\n", "a".repeat(64));
    let path_257 = format!("MAIL FROM:<{}@{domain_189}x>\r\n", "a".repeat(64));
    let domain_256 = format!("{0}.{0}.{0}.{1}.a", "d".repeat(63), "e".repeat(62));
    assert_eq!(domain_256.len(), 256);
    let rcpt_domain_256 = format!("RCPT TO:<a@{domain_256}>\r\n");
    let label_64 = format!("RCPT TO:<a@{}.example>\r\n", "l".repeat(64));

    for ok in [&local_64, &quoted_64, &path_256] {
        assert!(Command::decode(ok.as_bytes()).is_ok(), "{ok}");
    }
    let rows: Vec<(&[u8], CommandError)> = vec![
        (
            local_65.as_bytes(),
            path_err(Verb::Mail, ValidationError::TooLong { what: "local part", len: 65, max: 64 }),
        ),
        (
            quoted_65.as_bytes(),
            path_err(
                Verb::Mail,
                ValidationError::TooLong { what: "quoted local part", len: 65, max: 64 },
            ),
        ),
        (
            path_257.as_bytes(),
            path_err(Verb::Mail, ValidationError::TooLong { what: "path", len: 257, max: 256 }),
        ),
        (
            rcpt_domain_256.as_bytes(),
            path_err(Verb::Rcpt, ValidationError::TooLong { what: "domain", len: 256, max: 255 }),
        ),
        (
            label_64.as_bytes(),
            path_err(
                Verb::Rcpt,
                ValidationError::TooLong { what: "domain label", len: 64, max: 63 },
            ),
        ),
        (
            b"MAIL FROM:<a@[300.1.1.1]>\r\n",
            path_err(
                Verb::Mail,
                ValidationError::Invalid {
                    what: "address literal",
                    reason: "not a dotted-quad IPv4 address",
                },
            ),
        ),
        (
            b"RCPT TO:<a@[IPv6:zz]>\r\n",
            path_err(
                Verb::Rcpt,
                ValidationError::Invalid {
                    what: "address literal",
                    reason: "invalid IPv6 address",
                },
            ),
        ),
        (
            b"MAIL FROM:<.a@example.org>\r\n",
            path_err(
                Verb::Mail,
                ValidationError::Invalid {
                    what: "local part",
                    reason: "a dot-string cannot start or end with \".\" or hold \"..\"",
                },
            ),
        ),
        (
            b"MAIL FROM:<a..b@example.org>\r\n",
            path_err(
                Verb::Mail,
                ValidationError::Invalid {
                    what: "local part",
                    reason: "a dot-string cannot start or end with \".\" or hold \"..\"",
                },
            ),
        ),
        (
            b"MAIL FROM:<a@-example.org>\r\n",
            path_err(
                Verb::Mail,
                ValidationError::Invalid {
                    what: "domain",
                    reason: "a label must start and end with a letter or digit",
                },
            ),
        ),
        (
            b"MAIL FROM:<a@example..org>\r\n",
            path_err(
                Verb::Mail,
                ValidationError::Invalid { what: "domain", reason: "empty label" },
            ),
        ),
        (
            b"MAIL FROM:<\"a\\\x01\"@example.org>\r\n",
            path_err(
                Verb::Mail,
                ValidationError::ForbiddenByte { what: "quoted local part", byte: 1, at: 2 },
            ),
        ),
    ];
    check_err(&rows);
    assert_eq!(path_256.len() - "MAIL FROM:\r\n".len(), MAX_PATH_LEN);
    check_syntax(&[
        // `<Postmaster>` without a domain is only a forward path (RFC 5321 4.1.1.3).
        (b"MAIL FROM:<Postmaster>\r\n", Verb::Mail),
        (b"MAIL FROM:alice@example.org\r\n", Verb::Mail),
        (b"MAIL FROM:  <alice@example.org>\r\n", Verb::Mail),
        (b"MAIL FROM:<alice@example.org\r\n", Verb::Mail),
        (b"MAIL FROM:<alice>\r\n", Verb::Mail),
        (b"MAIL FROM:<@example.org>\r\n", Verb::Mail),
        (b"MAIL FROM:<alice@>\r\n", Verb::Mail),
        (b"MAIL FROM:\r\n", Verb::Mail),
        (b"MAIL\r\n", Verb::Mail),
        (b"MAIL TO:<a@b.example>\r\n", Verb::Mail),
        (b"MAIL FROM:<a@b.example>SIZE=1\r\n", Verb::Mail),
        (b"MAIL FROM:<@a.example;joe@x.org>\r\n", Verb::Mail),
        (b"MAIL FROM:<@:joe@x.org>\r\n", Verb::Mail),
        (b"MAIL FROM:<\"unterminated@example.org>\r\n", Verb::Mail),
        (b"MAIL FROM:<\"a\"b\"@example.org>\r\n", Verb::Mail),
        (b"MAIL FROM:<a@b.example> =x\r\n", Verb::Mail),
        (b"MAIL FROM:<a@b.example> X-A=\r\n", Verb::Mail),
    ]);
}

#[test]
fn mail_parameters() {
    use MailParameter as P;
    let a = Some("a@b.example");
    let by = |time, mode, trace| P::By(DeliverBy { time, mode, trace });
    check_ok(&[
        (b"MAIL FROM:<a@b.example> SIZE=0\r\n", mail(a, vec![P::Size(0)])),
        (b"MAIL FROM:<a@b.example> SIZE=1048576\r\n", mail(a, vec![P::Size(1_048_576)])),
        (
            b"MAIL FROM:<a@b.example> SIZE=18446744073709551615\r\n",
            mail(a, vec![P::Size(u64::MAX)]),
        ),
        (b"MAIL FROM:<a@b.example> size=7\r\n", mail(a, vec![P::Size(7)])),
        (b"MAIL FROM:<a@b.example> BODY=7BIT\r\n", mail(a, vec![P::Body(BodyType::SevenBit)])),
        (
            b"MAIL FROM:<a@b.example> BODY=8BITMIME\r\n",
            mail(a, vec![P::Body(BodyType::EightBitMime)]),
        ),
        (
            b"MAIL FROM:<a@b.example> body=binarymime\r\n",
            mail(a, vec![P::Body(BodyType::BinaryMime)]),
        ),
        (b"MAIL FROM:<a@b.example> SMTPUTF8\r\n", mail(a, vec![P::SmtpUtf8])),
        (b"MAIL FROM:<a@b.example> RET=FULL\r\n", mail(a, vec![P::Ret(Ret::Full)])),
        (b"MAIL FROM:<a@b.example> RET=hdrs\r\n", mail(a, vec![P::Ret(Ret::Hdrs)])),
        (
            b"MAIL FROM:<a@b.example> ENVID=QQ314159+2B+3D\r\n",
            mail(a, vec![P::EnvId(xtext("QQ314159+2B+3D"))]),
        ),
        (b"MAIL FROM:<a@b.example> AUTH=<>\r\n", mail(a, vec![P::Auth(xtext("<>"))])),
        (
            b"MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.com\r\n",
            mail(a, vec![P::Auth(xtext("e+3Dmc2@example.com"))]),
        ),
        (b"MAIL FROM:<a@b.example> REQUIRETLS\r\n", mail(a, vec![P::RequireTls])),
        (b"MAIL FROM:<a@b.example> MT-PRIORITY=3\r\n", mail(a, vec![P::MtPriority(3)])),
        (b"MAIL FROM:<a@b.example> MT-PRIORITY=-9\r\n", mail(a, vec![P::MtPriority(-9)])),
        (b"MAIL FROM:<a@b.example> MT-PRIORITY=+4\r\n", mail(a, vec![P::MtPriority(4)])),
        (b"MAIL FROM:<a@b.example> HOLDFOR=3600\r\n", mail(a, vec![P::HoldFor(3600)])),
        (
            b"MAIL FROM:<a@b.example> HOLDUNTIL=2026-11-29T10:00:00Z\r\n",
            mail(a, vec![P::HoldUntil(EsmtpValue::new("2026-11-29T10:00:00Z").unwrap())]),
        ),
        (
            b"MAIL FROM:<a@b.example> BY=120;R\r\n",
            mail(a, vec![by(120, DeliverByMode::Return, false)]),
        ),
        (
            b"MAIL FROM:<a@b.example> BY=-10;NT\r\n",
            mail(a, vec![by(-10, DeliverByMode::Notify, true)]),
        ),
        (b"MAIL FROM:<a@b.example> BY=0;n\r\n", mail(a, vec![by(0, DeliverByMode::Notify, false)])),
        (
            b"MAIL FROM:<a@b.example> BY=+999999999;rt\r\n",
            mail(a, vec![by(999_999_999, DeliverByMode::Return, true)]),
        ),
        // Unknown parameters are kept verbatim, in order.
        (
            b"MAIL FROM:<a@b.example> X-FOO=bar XFLAG x-b=1\r\n",
            mail(
                a,
                vec![
                    P::Unknown(unknown_param("X-FOO", Some("bar"))),
                    P::Unknown(unknown_param("XFLAG", None)),
                    P::Unknown(unknown_param("x-b", Some("1"))),
                ],
            ),
        ),
        (
            b"MAIL FROM:<> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=id1 REQUIRETLS\r\n",
            mail(
                None,
                vec![
                    P::Size(100),
                    P::Body(BodyType::EightBitMime),
                    P::Ret(Ret::Hdrs),
                    P::EnvId(xtext("id1")),
                    P::RequireTls,
                ],
            ),
        ),
        // Runs of spaces between parameters are accepted (seen from real clients).
        (
            b"MAIL FROM:<a@b.example>  SIZE=1   SMTPUTF8 \r\n",
            mail(a, vec![P::Size(1), P::SmtpUtf8]),
        ),
    ]);
    let (_, params) = Command::decode(b"MAIL FROM:<a@b.example> SIZE=100 RET=FULL\r\n").unwrap();
    let Command::Mail { parameters, .. } = params else { panic!("not MAIL") };
    assert_eq!(parameters.size(), Some(100));
    assert_eq!(parameters.ret(), Some(Ret::Full));
    assert_eq!(parameters.body(), None);
    assert!(!parameters.smtputf8());
    // Lower-case keywords and values are encoded in the canonical upper case.
    let (_, lower) = Command::decode(b"mail from:<a@b.example> size=7 body=8bitmime\r\n").unwrap();
    assert_eq!(lower.to_bytes(), b"MAIL FROM:<a@b.example> SIZE=7 BODY=8BITMIME\r\n");
}

#[test]
fn mail_parameter_errors() {
    let m = Verb::Mail;
    let long_envid = format!("MAIL FROM:<> ENVID={}\r\n", "x".repeat(101));
    let rows: Vec<(&[u8], CommandError)> = vec![
        (b"MAIL FROM:<> SIZE=12a\r\n", param_err(m, "SIZE", "expected a decimal number")),
        (b"MAIL FROM:<> SIZE=-1\r\n", param_err(m, "SIZE", "expected a decimal number")),
        (
            b"MAIL FROM:<> SIZE=18446744073709551616\r\n",
            param_err(m, "SIZE", "expected a decimal number"),
        ),
        (b"MAIL FROM:<> size\r\n", param_err(m, "SIZE", "needs a value")),
        (b"MAIL FROM:<> SIZE=\r\n", param_err(m, "SIZE", "needs a value")),
        (
            b"MAIL FROM:<> BODY=9BIT\r\n",
            param_err(m, "BODY", "expected 7BIT, 8BITMIME or BINARYMIME"),
        ),
        (b"MAIL FROM:<> SMTPUTF8=yes\r\n", param_err(m, "SMTPUTF8", "takes no value")),
        (b"MAIL FROM:<> REQUIRETLS=1\r\n", param_err(m, "REQUIRETLS", "takes no value")),
        (b"MAIL FROM:<> RET=ALL\r\n", param_err(m, "RET", "expected FULL or HDRS")),
        (b"MAIL FROM:<> ENVID=a+zz\r\n", param_err(m, "ENVID", "not valid xtext")),
        (b"MAIL FROM:<> ENVID=a+2b\r\n", param_err(m, "ENVID", "not valid xtext")),
        (b"MAIL FROM:<> ENVID=a+2\r\n", param_err(m, "ENVID", "not valid xtext")),
        (long_envid.as_bytes(), param_err(m, "ENVID", "longer than 100 characters")),
        (b"MAIL FROM:<> AUTH=a+\r\n", param_err(m, "AUTH", "not valid xtext")),
        (
            b"MAIL FROM:<> MT-PRIORITY=10\r\n",
            param_err(m, "MT-PRIORITY", "expected a priority from -9 to 9"),
        ),
        (
            b"MAIL FROM:<> MT-PRIORITY=high\r\n",
            param_err(m, "MT-PRIORITY", "expected a priority from -9 to 9"),
        ),
        (
            b"MAIL FROM:<> HOLDFOR=1234567890\r\n",
            param_err(m, "HOLDFOR", "expected a decimal number"),
        ),
        (
            b"MAIL FROM:<> HOLDUNTIL=tomorrow\r\n",
            param_err(m, "HOLDUNTIL", "expected an RFC 3339 date-time"),
        ),
        (b"MAIL FROM:<> BY=10\r\n", param_err(m, "BY", "expected <seconds>;N|R[T]")),
        (b"MAIL FROM:<> BY=10;X\r\n", param_err(m, "BY", "expected <seconds>;N|R[T]")),
        (b"MAIL FROM:<> BY=1234567890;N\r\n", param_err(m, "BY", "expected <seconds>;N|R[T]")),
        (b"MAIL FROM:<> BY=0;R\r\n", param_err(m, "BY", "by-time must be positive with mode R")),
        (b"MAIL FROM:<> BY=-5;R\r\n", param_err(m, "BY", "by-time must be positive with mode R")),
        // RFC 1869 section 6: a keyword at most once, compared case-insensitively.
        (b"MAIL FROM:<> SIZE=1 SIZE=2\r\n", duplicate(m, "SIZE")),
        (b"MAIL FROM:<> RET=FULL ret=HDRS\r\n", duplicate(m, "RET")),
        (b"MAIL FROM:<> SMTPUTF8 BODY=7BIT body=8BITMIME\r\n", duplicate(m, "BODY")),
        (b"MAIL FROM:<> X-A=1 x-a=2\r\n", duplicate(m, "X-A")),
    ];
    check_err(&rows);
}

// ----------------------------------------------------------------------------------------
// Line-level rules: CRLF only, no NUL, the length limit.

#[test]
fn line_level_errors() {
    check_err(&[
        (b"NOOP\nQUIT\r\n", CommandError::BareLineEnding),
        (b"RSET\rQUIT\r\n", CommandError::BareLineEnding),
        (b"DATA\r\r\n", CommandError::BareLineEnding),
        (b"MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n", CommandError::BareLineEnding),
        (b"\n\r\n", CommandError::BareLineEnding),
        (b"NO\0OP\r\n", CommandError::Nul),
        (b"MAIL FROM:<a\0@b.example>\r\n", CommandError::Nul),
        (b"HELP \0\n\r\n", CommandError::Nul),
        (b"\xff\xfe\r\n", CommandError::Syntax { verb: Verb::Unknown, reason: "not a command" }),
    ]);
    // A bare LF or CR never ends a line: without CRLF the decoder waits.
    for input in [&b"QUIT\n"[..], b"QUIT\r", b"QUIT\n\r", b"QUIT\r\r"] {
        assert_eq!(Command::decode(input), Err(DecodeError::Incomplete), "{}", show(input));
    }
    // Only the first line is consumed; the rest stays for the next call.
    let input = b"RSET\nNOOP\r\nQUIT\r\n";
    assert_eq!(
        Command::decode(input),
        Err(DecodeError::Malformed { consumed: 11, error: CommandError::BareLineEnding })
    );
    assert_eq!(Command::decode(&input[11..]), Ok((&b""[..], Command::Quit)));
    // decode_line insists on the CRLF.
    assert!(matches!(
        Command::decode_line(b"QUIT"),
        Err(CommandError::Syntax { verb: Verb::Unknown, .. })
    ));
}

#[test]
fn line_length_limit() {
    // RFC 5321 4.5.3.1.4: 512 octets with the CRLF.
    let line = |len: usize| {
        let mut l = b"NOOP ".to_vec();
        l.resize(len - 2, b'x');
        l.extend_from_slice(b"\r\n");
        l
    };
    let max = line(512);
    assert!(matches!(Command::decode(&max), Ok((b"", Command::Noop(Some(_))))));
    let over = line(513);
    assert_eq!(Command::decode(&over), Err(DecodeError::LineTooLong { limit: 512 }));
    // Decided as soon as the limit is reached, without waiting for the CRLF.
    assert_eq!(Command::decode(&over[..512]), Err(DecodeError::LineTooLong { limit: 512 }));
    assert_eq!(Command::decode(&over[..511]), Err(DecodeError::Incomplete));
    // The CR inside the window and the LF just past it: still too long.
    assert_eq!(Command::decode(&over[..513]), Err(DecodeError::LineTooLong { limit: 512 }));

    let wide = CommandDecoder::new().max_line(1000);
    assert_eq!(wide.line_limit(), 1000);
    assert!(matches!(wide.decode(&over), Ok((b"", Command::Noop(Some(_))))));
    let narrow = CommandDecoder::new().max_line(10);
    assert_eq!(narrow.decode(b"NOOP 12\r\n"), Ok((&b""[..], Command::Noop(Some(text("12"))))));
    assert_eq!(narrow.decode(b"NOOP 1234\r\n"), Err(DecodeError::LineTooLong { limit: 10 }));
    assert_eq!(CommandDecoder::new().max_line(3).line_limit(), 8);
    assert_eq!(CommandDecoder::default(), CommandDecoder::new());
}

#[test]
fn pipelined_commands_come_out_in_order() {
    let input = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nrest";
    let (rest, first) = Command::decode(input).unwrap();
    assert_eq!(first, mail(Some("a@b.example"), vec![]));
    let (rest, second) = Command::decode(rest).unwrap();
    assert_eq!(second, rcpt(Some("c@d.example"), vec![]));
    let (rest, third) = Command::decode(rest).unwrap();
    assert_eq!(third, Command::Data);
    assert_eq!(rest, b"rest");
    assert_eq!(Command::decode(rest), Err(DecodeError::Incomplete));
}

/// An exact repeat of a parameter (Python's smtplib sends `SMTPUTF8 SMTPUTF8`) is kept, so
/// the command still round-trips; a repeat with another value is refused above.
#[test]
fn exact_repeats_of_a_parameter_are_kept() {
    for line in [
        &b"MAIL FROM:<> SMTPUTF8 SMTPUTF8 BODY=8BITMIME\r\n"[..],
        b"MAIL FROM:<> SIZE=1 size=1\r\n",
        b"RCPT TO:<a@b.test> NOTIFY=NEVER NOTIFY=never\r\n",
    ] {
        let (rest, command) = Command::decode(line).unwrap();
        assert!(rest.is_empty());
        let canonical = command.to_bytes();
        assert_eq!(Command::decode(&canonical).unwrap().1, command, "{line:?}");
        match &command {
            Command::Mail { parameters, .. } => {
                assert_eq!(parameters.len(), line.split(|&b| b == b' ').count() - 2)
            }
            Command::Rcpt { parameters, .. } => assert_eq!(parameters.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
