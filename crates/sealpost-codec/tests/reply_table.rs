//! Known-answer tables for replies (RFC 5321 section 4.2), enhanced status codes
//! (RFC 3463) and EHLO capabilities (RFC 5321 section 4.1.1.1 and the extensions).

use sealpost_codec::{
    Capability, DecodeError, EhloResponse, EnhancedStatusCode, EsmtpValue, Keyword, Limits,
    Mechanism, Reply, ReplyClass, ReplyCode, ReplyDecoder, ReplyError, Text, ValidationError,
};

fn show(input: &[u8]) -> String {
    input.escape_ascii().to_string()
}

fn lines<'r>(reply: &'r Reply<'_>) -> Vec<&'r str> {
    reply.lines().iter().map(Text::as_str).collect()
}

#[allow(clippy::unwrap_used, reason = "literal values of the tables")]
fn keyword(s: &'static str) -> Keyword<'static> {
    Keyword::new(s).unwrap()
}

#[allow(clippy::unwrap_used, reason = "literal values of the tables")]
fn text(s: &'static str) -> Text<'static> {
    Text::new(s).unwrap()
}

/// (input, code, lines, canonical encoding when it differs from the input)
type ReplyRow = (&'static [u8], u16, &'static [&'static str], Option<&'static [u8]>);

/// What `Reply::decode` answers.
type Decoded = Result<(&'static [u8], Reply<'static>), DecodeError<ReplyError>>;

/// (reply, enhanced status code as class/subject/detail, `Reply::text()`)
type StatusRow = (&'static [u8], Option<(u8, u16, u16)>, &'static str);

// ----------------------------------------------------------------------------------------
// Reply lines

#[test]
fn replies_decode() {
    let rows: [ReplyRow; 12] = [
        (b"250 OK\r\n", 250, &["OK"], None),
        (b"220 mail.example ESMTP ready\r\n", 220, &["mail.example ESMTP ready"], None),
        (b"250\r\n", 250, &[""], None),
        (b"250 \r\n", 250, &[""], Some(b"250\r\n")),
        (
            b"354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            354,
            &["Start mail input; end with <CRLF>.<CRLF>"],
            None,
        ),
        (b"250-first\r\n250 second\r\n", 250, &["first", "second"], None),
        (b"250-\r\n250 last\r\n", 250, &["", "last"], None),
        (b"250-first\r\n250\r\n", 250, &["first", ""], None),
        (b"250-a\r\n250-\r\n250-c\r\n250 d\r\n", 250, &["a", "", "c", "d"], None),
        (b"550  two spaces\r\n", 550, &[" two spaces"], None),
        (b"421 4.3.0 \ttab\r\n", 421, &["4.3.0 \ttab"], None),
        ("250 Grüße\r\n".as_bytes(), 250, &["Grüße"], None),
    ];
    for (input, code, expected, canonical) in rows {
        let (rest, reply) =
            Reply::decode(input).unwrap_or_else(|e| panic!("{}: {e:?}", show(input)));
        assert!(rest.is_empty(), "{}", show(input));
        assert_eq!(reply.code().get(), code, "{}", show(input));
        assert_eq!(lines(&reply), expected, "{}", show(input));
        let encoded = reply.to_bytes();
        assert_eq!(encoded, canonical.unwrap_or(input), "{}", show(input));
        let (_, again) = Reply::decode(&encoded).unwrap();
        assert_eq!(again, reply);
        for end in 0..input.len() {
            assert_eq!(
                Reply::decode(&input[..end]),
                Err(DecodeError::Incomplete),
                "prefix {}",
                show(&input[..end])
            );
        }
    }
}

#[test]
fn reply_errors() {
    let malformed = |consumed, error| Err(DecodeError::Malformed { consumed, error });
    let rows: [(&[u8], Decoded); 22] = [
        (b"199 too low\r\n", malformed(13, ReplyError::InvalidCode)),
        (b"600 too high\r\n", malformed(14, ReplyError::InvalidCode)),
        (b"099 x\r\n", malformed(7, ReplyError::InvalidCode)),
        (b"260 middle digit\r\n", malformed(18, ReplyError::InvalidCode)),
        (b"596 middle digit\r\n", malformed(18, ReplyError::InvalidCode)),
        (b"2a0 x\r\n", malformed(7, ReplyError::InvalidCode)),
        (b"25 x\r\n", malformed(6, ReplyError::InvalidCode)),
        (b"\r\n", malformed(2, ReplyError::InvalidCode)),
        (b"OK\r\n", malformed(4, ReplyError::InvalidCode)),
        (b"250x\r\n", malformed(6, ReplyError::BadSeparator)),
        (b"2500 x\r\n", malformed(8, ReplyError::BadSeparator)),
        (b"250\tx\r\n", malformed(7, ReplyError::BadSeparator)),
        (b"250 a\rb\r\n", malformed(9, ReplyError::InvalidText)),
        (b"250 a\nb\r\n", malformed(9, ReplyError::InvalidText)),
        (b"250 a\0b\r\n", malformed(9, ReplyError::InvalidText)),
        (b"250 \xff\r\n", malformed(7, ReplyError::InvalidText)),
        (
            b"250-first\r\n251 second\r\n",
            malformed(23, ReplyError::CodeMismatch { expected: 250, found: 251 }),
        ),
        (
            b"250-a\r\n250-b\r\n550 c\r\n",
            malformed(21, ReplyError::CodeMismatch { expected: 250, found: 550 }),
        ),
        (b"250-a\r\n199 b\r\n", malformed(14, ReplyError::InvalidCode)),
        (b"250-a\r\n250x\r\n", malformed(13, ReplyError::BadSeparator)),
        // A bare LF never ends a reply line.
        (b"250-a\n250 b\r\n", malformed(13, ReplyError::InvalidText)),
        (b"250 a\n", Err(DecodeError::Incomplete)),
    ];
    for (input, expected) in rows {
        assert_eq!(Reply::decode(input), expected, "{}", show(input));
    }
}

#[test]
fn reply_limits() {
    let three = ReplyDecoder::new().max_lines(3);
    let ok = b"250-a\r\n250-b\r\n250 c\r\n";
    assert_eq!(lines(&three.decode(ok).unwrap().1), ["a", "b", "c"]);
    // The limit is hit as soon as the third line is not the last one.
    assert_eq!(
        three.decode(b"250-a\r\n250-b\r\n250-c\r\n"),
        Err(DecodeError::Malformed { consumed: 21, error: ReplyError::TooManyLines { limit: 3 } })
    );
    assert_eq!(
        three.decode(b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n"),
        Err(DecodeError::Malformed { consumed: 21, error: ReplyError::TooManyLines { limit: 3 } })
    );
    assert_eq!(three.decode(b"250-a\r\n250-b\r\n250-c"), Err(DecodeError::Incomplete));
    assert_eq!(
        ReplyDecoder::new().max_lines(0).decode(b"250-a\r\n"),
        Err(DecodeError::Malformed { consumed: 7, error: ReplyError::TooManyLines { limit: 1 } })
    );
    // The default allows 128 lines.
    let mut many = b"250-x\r\n".repeat(127);
    many.extend_from_slice(b"250 x\r\n");
    assert_eq!(Reply::decode(&many).unwrap().1.lines().len(), 128);
    let mut too_many = b"250-x\r\n".repeat(128);
    too_many.extend_from_slice(b"250 x\r\n");
    assert_eq!(
        Reply::decode(&too_many),
        Err(DecodeError::Malformed {
            consumed: 128 * 7,
            error: ReplyError::TooManyLines { limit: 128 }
        })
    );

    // Line length: CRLF included.
    let short = ReplyDecoder::new().max_line(10);
    assert_eq!(lines(&short.decode(b"250 abcd\r\n").unwrap().1), ["abcd"]);
    assert_eq!(short.decode(b"250 abcde\r\n"), Err(DecodeError::LineTooLong { limit: 10 }));
    assert_eq!(short.decode(b"250 abcdef"), Err(DecodeError::LineTooLong { limit: 10 }));
    assert_eq!(short.decode(b"250 abcde"), Err(DecodeError::Incomplete));
    assert_eq!(
        short.decode(b"250-ab\r\n250 abcdefgh\r\n"),
        Err(DecodeError::LineTooLong { limit: 10 })
    );
    let long_line = [b"250 ".as_slice(), &[b'x'; 2042], b"\r\n"].concat();
    assert_eq!(Reply::decode(&long_line).unwrap().1.lines()[0].as_str().len(), 2042);
    let too_long = [b"250 ".as_slice(), &[b'x'; 2043], b"\r\n"].concat();
    assert_eq!(Reply::decode(&too_long), Err(DecodeError::LineTooLong { limit: 2048 }));
    assert_eq!(ReplyDecoder::new().max_line(0), ReplyDecoder::new().max_line(6));
    assert_eq!(ReplyDecoder::default(), ReplyDecoder::new());
}

#[test]
fn several_replies_in_one_buffer() {
    let input = b"250-mail.test\r\n250 PIPELINING\r\n250 2.1.0 Ok\r\n354 go ahead\r\n550";
    let (rest, first) = Reply::decode(input).unwrap();
    assert_eq!((first.code().get(), lines(&first)), (250, vec!["mail.test", "PIPELINING"]));
    let (rest, second) = Reply::decode(rest).unwrap();
    assert_eq!((second.code().get(), lines(&second)), (250, vec!["2.1.0 Ok"]));
    let (rest, third) = Reply::decode(rest).unwrap();
    assert_eq!((third.code().get(), lines(&third)), (354, vec!["go ahead"]));
    assert_eq!(rest, b"550");
    assert_eq!(Reply::decode(rest), Err(DecodeError::Incomplete));
}

#[test]
fn reply_codes_and_constructors() {
    for code in [200, 211, 250, 259, 354, 421, 451, 500, 554, 559] {
        assert_eq!(ReplyCode::new(code).unwrap().get(), code);
    }
    for code in [0, 99, 199, 260, 299, 360, 600, 999, 1250] {
        assert!(ReplyCode::new(code).is_err(), "{code}");
        assert!(ReplyCode::try_from(code).is_err(), "{code}");
    }
    let class = |c| ReplyCode::new(c).unwrap().class();
    assert_eq!(class(250), ReplyClass::PositiveCompletion);
    assert_eq!(class(334), ReplyClass::PositiveIntermediate);
    assert_eq!(class(421), ReplyClass::TransientNegative);
    assert_eq!(class(550), ReplyClass::PermanentNegative);
    let code = ReplyCode::new(451).unwrap();
    assert!(code.is_negative() && !code.is_permanent_failure() && !code.is_positive());
    assert!(ReplyCode::new(354).unwrap().is_intermediate());

    assert_eq!(Reply::new(250, "OK").unwrap().to_bytes(), b"250 OK\r\n");
    assert_eq!(Reply::new(250, "").unwrap().to_bytes(), b"250\r\n");
    assert!(Reply::new(199, "x").is_err());
    assert_eq!(
        Reply::new(250, "a\r\n250 b"),
        Err(ValidationError::ForbiddenByte { what: "text", byte: b'\r', at: 1 })
    );
    assert_eq!(Reply::multiline(250, vec![]), Err(ValidationError::Empty { what: "reply" }));
    let multi = Reply::multiline(250, vec![text("a"), text(""), text("c")]).unwrap();
    assert_eq!(multi.to_bytes(), b"250-a\r\n250-\r\n250 c\r\n");
    assert_eq!(multi.to_string(), "250-a\r\n250-\r\n250 c");
    let status = EnhancedStatusCode::new(5, 7, 1);
    assert_eq!(
        Reply::with_status(550, status, "Relay denied").unwrap().to_bytes(),
        b"550 5.7.1 Relay denied\r\n"
    );
    assert_eq!(
        Reply::with_status(250, EnhancedStatusCode::new(2, 0, 0), "").unwrap().to_bytes(),
        b"250 2.0.0\r\n"
    );
}

#[test]
fn enhanced_status_codes() {
    let rows: [StatusRow; 12] = [
        (b"250 2.0.0 Ok\r\n", Some((2, 0, 0)), "Ok"),
        (b"550 5.7.1 Relay denied\r\n", Some((5, 7, 1)), "Relay denied"),
        (b"451 4.3.0 Try later\r\n", Some((4, 3, 0)), "Try later"),
        (b"250 2.1.5\r\n", Some((2, 1, 5)), ""),
        (b"553 5.1.10 x\r\n", Some((5, 1, 10)), "x"),
        (b"554 5.999.999 x\r\n", Some((5, 999, 999)), "x"),
        // The class must match the first digit of the reply code (RFC 3463 section 2).
        (b"250 5.0.0 odd\r\n", None, "5.0.0 odd"),
        (b"550 2.0.0 odd\r\n", None, "2.0.0 odd"),
        // 3yz replies have no enhanced status code: class 3 does not exist.
        (b"354 3.0.0 go\r\n", None, "3.0.0 go"),
        (b"250 2.1000.0 x\r\n", None, "2.1000.0 x"),
        (b"250 2.0.0.1 x\r\n", None, "2.0.0.1 x"),
        (b"250 2.0 x\r\n", None, "2.0 x"),
    ];
    for (input, status, plain) in rows {
        let (_, reply) = Reply::decode(input).unwrap();
        let expected = status.map(|(c, s, d)| EnhancedStatusCode::new(c, s, d));
        assert_eq!(reply.enhanced_status(), expected, "{}", show(input));
        assert_eq!(reply.text(), plain, "{}", show(input));
    }
    // text() joins the lines and strips each line's status when the first has one.
    let (_, reply) = Reply::decode(b"250-2.0.0 first\r\n250-2.0.0\r\n250 2.0.0 last\r\n").unwrap();
    assert_eq!(reply.text(), "first\n\nlast");
    let (_, reply) = Reply::decode(b"250-2.0.0 first\r\n250 second\r\n").unwrap();
    assert_eq!(reply.text(), "first\nsecond");
    let (_, reply) = Reply::decode(b"250-mail.test\r\n250 2.0.0 SIZE\r\n").unwrap();
    assert_eq!(reply.text(), "mail.test\n2.0.0 SIZE");

    let parse = [
        ("2.0.0", Some((2, 0, 0))),
        ("4.7.12", Some((4, 7, 12))),
        ("5.123.456", Some((5, 123, 456))),
        ("3.0.0", None),
        ("1.0.0", None),
        ("2.0", None),
        ("2.0.0.", None),
        ("2..0", None),
        ("2.0.1000", None),
        ("2.a.0", None),
        ("22.0.0", None),
        ("", None),
    ];
    for (text, expected) in parse {
        let expected = expected.map(|(c, s, d)| EnhancedStatusCode::new(c, s, d));
        assert_eq!(EnhancedStatusCode::parse(text), expected, "{text}");
    }
    let code = EnhancedStatusCode::new(4, 7, 12);
    assert_eq!((code.class(), code.subject(), code.detail()), (4, 7, 12));
    assert_eq!(code.to_string(), "4.7.12");
    // Out-of-range parts are clamped so that the code still encodes validly.
    assert_eq!(EnhancedStatusCode::new(3, 1000, 5000).to_string(), "5.999.999");
}

// ----------------------------------------------------------------------------------------
// EHLO capabilities

#[test]
fn capability_parse() {
    let mech = |m: &'static str| Mechanism::new(m).unwrap();
    let limits = |pairs: &[(&'static str, &'static str)]| {
        Capability::Limits(Limits(
            pairs.iter().map(|(k, v)| (keyword(k), EsmtpValue::new(*v).unwrap())).collect(),
        ))
    };
    let unknown = |k: &'static str, p: Option<&'static str>| Capability::Unknown {
        keyword: keyword(k),
        params: p.map(text),
    };
    // (line, capability, canonical form when it differs from the line)
    let rows: Vec<(&str, Capability<'static>, Option<&str>)> = vec![
        ("SIZE", Capability::Size(None), None),
        ("SIZE 10240000", Capability::Size(Some(10_240_000)), None),
        ("SIZE 0", Capability::Size(Some(0)), None),
        ("size 5", Capability::Size(Some(5)), Some("SIZE 5")),
        ("SIZE 18446744073709551615", Capability::Size(Some(u64::MAX)), None),
        ("SIZE abc", unknown("SIZE", Some("abc")), None),
        ("SIZE 18446744073709551616", unknown("SIZE", Some("18446744073709551616")), None),
        ("PIPELINING", Capability::Pipelining, None),
        ("pipelining", Capability::Pipelining, Some("PIPELINING")),
        ("PIPELINING now", unknown("PIPELINING", Some("now")), None),
        ("8BITMIME", Capability::EightBitMime, None),
        ("BINARYMIME", Capability::BinaryMime, None),
        ("CHUNKING", Capability::Chunking, None),
        ("SMTPUTF8", Capability::SmtpUtf8, None),
        ("DSN", Capability::Dsn, None),
        ("ENHANCEDSTATUSCODES", Capability::EnhancedStatusCodes, None),
        ("STARTTLS", Capability::StartTls, None),
        ("REQUIRETLS", Capability::RequireTls, None),
        ("AUTH PLAIN LOGIN", Capability::Auth(vec![mech("PLAIN"), mech("LOGIN")]), None),
        (
            "AUTH SCRAM-SHA-256 XOAUTH2 cram-md5",
            Capability::Auth(vec![mech("SCRAM-SHA-256"), mech("XOAUTH2"), mech("cram-md5")]),
            None,
        ),
        ("AUTH", unknown("AUTH", None), None),
        ("AUTH PLAIN  LOGIN", unknown("AUTH", Some("PLAIN  LOGIN")), None),
        ("AUTH PL@IN", unknown("AUTH", Some("PL@IN")), None),
        // The pre-RFC 2554 form: not keyword-shaped, kept verbatim.
        ("AUTH=LOGIN PLAIN", Capability::Other(text("AUTH=LOGIN PLAIN")), None),
        ("AUTH=LOGIN", Capability::Other(text("AUTH=LOGIN")), None),
        ("MT-PRIORITY", Capability::MtPriority(None), None),
        ("MT-PRIORITY MIXER", Capability::MtPriority(Some(keyword("MIXER"))), None),
        ("MT-PRIORITY STANAG4406", Capability::MtPriority(Some(keyword("STANAG4406"))), None),
        ("MT-PRIORITY A B", unknown("MT-PRIORITY", Some("A B")), None),
        ("DELIVERBY", Capability::DeliverBy(None), None),
        ("DELIVERBY 240", Capability::DeliverBy(Some(240)), None),
        ("DELIVERBY 999999999", Capability::DeliverBy(Some(999_999_999)), None),
        ("DELIVERBY 1000000000", unknown("DELIVERBY", Some("1000000000")), None),
        ("DELIVERBY -1", unknown("DELIVERBY", Some("-1")), None),
        (
            "LIMITS MAILMAX=10 RCPTMAX=100 RCPTDOMAINMAX=5",
            limits(&[("MAILMAX", "10"), ("RCPTMAX", "100"), ("RCPTDOMAINMAX", "5")]),
            None,
        ),
        ("LIMITS RCPTMAX=50", limits(&[("RCPTMAX", "50")]), None),
        ("LIMITS X-FUTURE=abc", limits(&[("X-FUTURE", "abc")]), None),
        ("LIMITS", unknown("LIMITS", None), None),
        ("LIMITS RCPTMAX", unknown("LIMITS", Some("RCPTMAX")), None),
        ("LIMITS RCPTMAX=", unknown("LIMITS", Some("RCPTMAX=")), None),
        ("VRFY", unknown("VRFY", None), None),
        ("X-EXPS GSSAPI NTLM", unknown("X-EXPS", Some("GSSAPI NTLM")), None),
        ("XCLIENT NAME ADDR", unknown("XCLIENT", Some("NAME ADDR")), None),
        ("ETRN", unknown("ETRN", None), None),
        ("", Capability::Other(text("")), None),
        ("-BAD", Capability::Other(text("-BAD")), None),
        (" leading", Capability::Other(text(" leading")), None),
    ];
    for (line, expected, canonical) in rows {
        let capability = Capability::parse(line);
        assert_eq!(capability, expected, "{line:?}");
        assert_eq!(capability.to_string(), canonical.unwrap_or(line), "{line:?}");
        assert_eq!(Capability::parse(&capability.to_string()), capability, "{line:?} again");
    }
    let Capability::Limits(l) =
        Capability::parse("LIMITS MAILMAX=10 RCPTMAX=100 RCPTDOMAINMAX=5 X=1")
    else {
        panic!("not LIMITS")
    };
    assert_eq!((l.mailmax(), l.rcptmax(), l.rcptdomainmax()), (Some(10), Some(100), Some(5)));
    let Capability::Limits(l) = Capability::parse("LIMITS rcptmax=7 MAILMAX=x") else {
        panic!("not LIMITS")
    };
    assert_eq!((l.mailmax(), l.rcptmax(), l.rcptdomainmax()), (None, Some(7), None));
}

#[test]
fn ehlo_response_from_reply() {
    let input = b"250-mail.example.org Hello client [192.0.2.1]\r\n\
                  250-SIZE 35882577\r\n\
                  250-8BITMIME\r\n\
                  250-PIPELINING\r\n\
                  250-AUTH PLAIN LOGIN\r\n\
                  250-AUTH=LOGIN PLAIN\r\n\
                  250-LIMITS MAILMAX=5 RCPTMAX=50\r\n\
                  250-X-UNKNOWN a b\r\n\
                  250 STARTTLS\r\n";
    let (_, reply) = Reply::decode(input).unwrap();
    let ehlo = EhloResponse::from_reply(&reply).unwrap();
    assert_eq!(ehlo.domain.as_str(), "mail.example.org");
    assert_eq!(ehlo.greeting, Some(text("Hello client [192.0.2.1]")));
    assert_eq!(
        ehlo.capabilities,
        vec![
            Capability::Size(Some(35_882_577)),
            Capability::EightBitMime,
            Capability::Pipelining,
            Capability::Auth(vec![Mechanism::PLAIN, Mechanism::LOGIN]),
            Capability::Other(text("AUTH=LOGIN PLAIN")),
            Capability::parse("LIMITS MAILMAX=5 RCPTMAX=50"),
            Capability::Unknown { keyword: keyword("X-UNKNOWN"), params: Some(text("a b")) },
            Capability::StartTls,
        ]
    );
    assert_eq!(ehlo.size(), Some(35_882_577));
    assert!(ehlo.has(&Capability::Pipelining));
    assert!(ehlo.has(&Capability::StartTls));
    assert!(ehlo.has(&Capability::Size(None)), "any SIZE counts");
    assert!(ehlo.has(&Capability::Auth(vec![])), "any AUTH counts");
    assert!(!ehlo.has(&Capability::Chunking));
    assert!(!ehlo.has(&Capability::SmtpUtf8));
    let mechs: Vec<&str> = ehlo.auth_mechanisms().map(Mechanism::as_str).collect();
    assert_eq!(mechs, ["PLAIN", "LOGIN"]);
    let limits = ehlo.limits().unwrap();
    assert_eq!((limits.mailmax(), limits.rcptmax()), (Some(5), Some(50)));
    // Round trip: EhloResponse -> Reply -> bytes -> Reply -> EhloResponse.
    let rebuilt = ehlo.to_reply().to_bytes();
    assert_eq!(rebuilt, input);
    let (_, again) = Reply::decode(&rebuilt).unwrap();
    assert_eq!(EhloResponse::from_reply(&again).unwrap(), ehlo);
    assert_eq!(ehlo.clone().into_owned(), ehlo);

    // One line, no greeting, no extensions.
    let (_, reply) = Reply::decode(b"250 mail.example.org\r\n").unwrap();
    let ehlo = EhloResponse::from_reply(&reply).unwrap();
    assert_eq!((ehlo.domain.as_str(), &ehlo.greeting), ("mail.example.org", &None));
    assert!(ehlo.capabilities.is_empty());
    assert_eq!(ehlo.size(), None);
    assert_eq!(ehlo.limits(), None);
    assert_eq!(ehlo.to_reply().to_bytes(), b"250 mail.example.org\r\n");

    // SIZE without a number, or 0, announces no fixed limit.
    let (_, reply) = Reply::decode(b"250-m\r\n250 SIZE\r\n").unwrap();
    assert_eq!(EhloResponse::from_reply(&reply).unwrap().size(), None);
    let (_, reply) = Reply::decode(b"250-m\r\n250 SIZE 0\r\n").unwrap();
    assert_eq!(EhloResponse::from_reply(&reply).unwrap().size(), Some(0));

    for refusal in [&b"550 5.7.1 go away\r\n"[..], b"502 EHLO not implemented\r\n", b"251 x\r\n"] {
        let (_, reply) = Reply::decode(refusal).unwrap();
        assert_eq!(
            EhloResponse::from_reply(&reply),
            Err(ValidationError::Invalid { what: "EHLO reply", reason: "code is not 250" }),
            "{}",
            show(refusal)
        );
    }
}

#[test]
fn ehlo_response_round_trip_built() {
    let ehlo = EhloResponse {
        domain: text("mx.example"),
        greeting: None,
        capabilities: vec![
            Capability::Size(None),
            Capability::Pipelining,
            Capability::EightBitMime,
            Capability::BinaryMime,
            Capability::Chunking,
            Capability::SmtpUtf8,
            Capability::Dsn,
            Capability::EnhancedStatusCodes,
            Capability::StartTls,
            Capability::Auth(vec![Mechanism::PLAIN]),
            Capability::RequireTls,
            Capability::MtPriority(Some(keyword("MIXER"))),
            Capability::DeliverBy(Some(60)),
            Capability::Limits(Limits(vec![(keyword("RCPTMAX"), EsmtpValue::new("10").unwrap())])),
            Capability::Unknown { keyword: keyword("X-ONE"), params: None },
            Capability::Other(text("AUTH=PLAIN")),
        ],
    };
    let bytes = ehlo.to_reply().to_bytes();
    assert_eq!(
        bytes,
        b"250-mx.example\r\n250-SIZE\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-BINARYMIME\r\n\
          250-CHUNKING\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n\
          250-AUTH PLAIN\r\n250-REQUIRETLS\r\n250-MT-PRIORITY MIXER\r\n250-DELIVERBY 60\r\n\
          250-LIMITS RCPTMAX=10\r\n250-X-ONE\r\n250 AUTH=PLAIN\r\n"
    );
    let (_, reply) = Reply::decode(&bytes).unwrap();
    assert_eq!(EhloResponse::from_reply(&reply).unwrap(), ehlo);
}
