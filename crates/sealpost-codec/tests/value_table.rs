//! Known-answer tables for the validating constructors of the wire types: `Mailbox::parse`,
//! `Domain::new`, `AddressLiteral::new`, `XText`, `LocalPart` (RFC 5321 section 4.1.2 and
//! 4.1.3, RFC 3461 section 4).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sealpost_codec::{
    AddressLiteral, AddressLiteralKind, Domain, DomainPart, Host, LocalPart, MAX_DOMAIN_LEN,
    MAX_LOCAL_PART_LEN, Mailbox, Text, ValidationError, XText,
};

fn forbidden(what: &'static str, byte: u8, at: usize) -> ValidationError {
    ValidationError::ForbiddenByte { what, byte, at }
}

fn invalid(what: &'static str, reason: &'static str) -> ValidationError {
    ValidationError::Invalid { what, reason }
}

fn too_long(what: &'static str, len: usize, max: usize) -> ValidationError {
    ValidationError::TooLong { what, len, max }
}

const DOT_RULE: &str = "a dot-string cannot start or end with \".\" or hold \"..\"";

#[test]
fn domain_new() {
    let label_63 = "a".repeat(63);
    let label_64 = "a".repeat(64);
    let name_255 = format!("{0}.{0}.{0}.{1}", label_63, "b".repeat(63));
    let name_256 = format!("{name_255}c");
    let with_label_64 = format!("x.{label_64}.y");
    assert_eq!(name_255.len(), MAX_DOMAIN_LEN);

    for good in
        ["example.org", "a", "1", "x-y.example", "192.0.2.1", "Mixed.Case.ORG", "bücher.example"]
    {
        let domain = Domain::new(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(domain.as_str(), good);
        assert_eq!(domain.to_string(), good);
        assert_eq!(domain.is_ascii(), good.is_ascii());
    }
    assert!(Domain::new(label_63.as_str()).is_ok());
    assert!(Domain::new(name_255.as_str()).is_ok());
    // A U-label is exempt from the hyphen rule; IDNA checks are the application's.
    assert!(Domain::new("-ü-.example").is_ok());

    let rows: Vec<(&str, ValidationError)> = vec![
        ("", ValidationError::Empty { what: "domain" }),
        (".", invalid("domain", "empty label")),
        ("a..b", invalid("domain", "empty label")),
        ("example.org.", invalid("domain", "empty label")),
        (".example.org", invalid("domain", "empty label")),
        ("-bad.example", invalid("domain", "a label must start and end with a letter or digit")),
        ("bad-.example", invalid("domain", "a label must start and end with a letter or digit")),
        ("exa mple.org", forbidden("domain", b' ', 3)),
        ("a.b_c", forbidden("domain", b'_', 3)),
        ("a.b\r\nc", forbidden("domain", b'\r', 3)),
        ("[192.0.2.1]", forbidden("domain", b'[', 0)),
        (label_64.as_str(), too_long("domain label", 64, 63)),
        (with_label_64.as_str(), too_long("domain label", 64, 63)),
        (name_256.as_str(), too_long("domain", 256, 255)),
    ];
    for (input, error) in rows {
        assert_eq!(Domain::new(input), Err(error), "{input:?}");
    }
    let d = Domain::new("Example.ORG").unwrap();
    assert!(d.eq_ignore_ascii_case("example.org"));
    assert_eq!(Domain::try_from("x.org"), Domain::new("x.org"));
}

#[test]
fn address_literal_new() {
    let v4 = |a, b, c, d| AddressLiteralKind::Ipv4(Ipv4Addr::new(a, b, c, d));
    let v6 = |s: &str| AddressLiteralKind::Ipv6(s.parse::<Ipv6Addr>().unwrap());
    let rows = [
        ("192.0.2.1", v4(192, 0, 2, 1)),
        ("0.0.0.0", v4(0, 0, 0, 0)),
        ("255.255.255.255", v4(255, 255, 255, 255)),
        // Snum = 1*3DIGIT: leading zeros are in the grammar.
        ("001.002.003.004", v4(1, 2, 3, 4)),
        ("IPv6:::1", v6("::1")),
        ("ipv6:2001:DB8::1", v6("2001:db8::1")),
        ("IPv6:2001:db8:0:0:0:0:0:1", v6("2001:db8::1")),
        ("IPv6:::ffff:192.0.2.1", v6("::ffff:192.0.2.1")),
        ("x-tag:content", AddressLiteralKind::General { tag_len: 5 }),
    ];
    for (inner, kind) in rows {
        let lit = AddressLiteral::new(inner).unwrap_or_else(|e| panic!("{inner}: {e}"));
        assert_eq!(lit.kind(), kind, "{inner}");
        assert_eq!(lit.inner(), inner, "kept as written");
        assert_eq!(lit.to_string(), format!("[{inner}]"));
    }
    let general = AddressLiteral::new("x-tag:content").unwrap();
    assert_eq!(general.general(), Some(("x-tag", "content")));
    assert_eq!(general.ip(), None);
    assert_eq!(
        AddressLiteral::new("192.0.2.1").unwrap().ip(),
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
    );

    let quad = "not a dotted-quad IPv4 address";
    let bad_rows = [
        ("", ValidationError::Empty { what: "address literal" }),
        ("300.1.1.1", invalid("address literal", quad)),
        ("256.0.0.0", invalid("address literal", quad)),
        ("1.2.3", invalid("address literal", quad)),
        ("1.2.3.4.5", invalid("address literal", quad)),
        ("1..2.3", invalid("address literal", quad)),
        ("0001.2.3.4", invalid("address literal", quad)),
        ("1.2.3.4 ", invalid("address literal", quad)),
        ("IPv6:zz", invalid("address literal", "invalid IPv6 address")),
        ("IPv6:fe80::1%eth0", invalid("address literal", "invalid IPv6 address")),
        ("IPv6:1.2.3.4", invalid("address literal", "invalid IPv6 address")),
        ("IPv6:", invalid("address literal", "invalid IPv6 address")),
        (
            "example.org",
            invalid("address literal", "neither an IPv4 address nor tag \":\" content"),
        ),
        (":content", invalid("address literal", "invalid Standardized-tag")),
        ("-tag:x", invalid("address literal", "invalid Standardized-tag")),
        ("tag-:x", invalid("address literal", "invalid Standardized-tag")),
        ("1.2.3.4:25", invalid("address literal", "invalid Standardized-tag")),
        ("tag:", invalid("address literal", "invalid dcontent")),
        ("tag:a[b", invalid("address literal", "invalid dcontent")),
        ("tag:a\\b", invalid("address literal", "invalid dcontent")),
        ("X400:c=gb;a= ;p=x", invalid("address literal", "invalid dcontent")),
    ];
    for (inner, error) in bad_rows {
        assert_eq!(AddressLiteral::new(inner), Err(error), "{inner:?}");
    }
    let from_v6 = AddressLiteral::from_ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(from_v6.to_string(), "[IPv6:::1]");
    assert_eq!(AddressLiteral::new(from_v6.inner()).unwrap(), from_v6);
    let from_v4 = AddressLiteral::from_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(AddressLiteral::new(from_v4.inner()).unwrap(), from_v4);
}

#[test]
fn host_new() {
    assert_eq!(Host::new("mail.example"), Ok(Host::Domain(Domain::new("mail.example").unwrap())));
    assert_eq!(
        Host::new("[192.0.2.1]"),
        Ok(Host::Literal(AddressLiteral::new("192.0.2.1").unwrap()))
    );
    assert_eq!(Host::new("my_host"), Ok(Host::Nonstandard(Text::new("my_host").unwrap())));
    assert_eq!(Host::new(""), Err(ValidationError::Empty { what: "host" }));
    assert_eq!(Host::new("a b"), Err(forbidden("host", b' ', 1)));
    assert_eq!(Host::new("a\tb"), Err(forbidden("host", b'\t', 1)));
    assert_eq!(
        Host::new("[300.0.0.1]"),
        Err(invalid("address literal", "not a dotted-quad IPv4 address"))
    );
    for host in ["mail.example", "[IPv6:::1]", "my_host"] {
        assert_eq!(Host::new(host).unwrap().to_string(), host);
    }
}

#[test]
fn local_part_constructors() {
    for good in ["john.smith", "a", "!#$%&'*+-/=?^_`{|}~", "jöran", "x.y.z"] {
        let local = LocalPart::dot_string(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(local.to_string(), good);
        assert_eq!(local.value(), good);
        assert_eq!(local.wire_len(), good.len());
    }
    let a_64 = "a".repeat(64);
    let a_65 = "a".repeat(65);
    assert!(LocalPart::dot_string(a_64.as_str()).is_ok());
    let dot_rows: Vec<(&str, ValidationError)> = vec![
        ("", ValidationError::Empty { what: "local part" }),
        (".john", invalid("local part", DOT_RULE)),
        ("john.", invalid("local part", DOT_RULE)),
        ("jo..hn", invalid("local part", DOT_RULE)),
        (".", invalid("local part", DOT_RULE)),
        ("john smith", forbidden("local part", b' ', 4)),
        ("a\"b", forbidden("local part", b'"', 1)),
        ("a@b", forbidden("local part", b'@', 1)),
        ("a\r\n", forbidden("local part", b'\r', 1)),
        (a_65.as_str(), too_long("local part", 65, MAX_LOCAL_PART_LEN)),
    ];
    for (input, error) in dot_rows {
        assert_eq!(LocalPart::dot_string(input), Err(error), "{input:?}");
    }

    // Quoted strings: the raw content between the quotes, escapes kept.
    let quoted = [
        (r#"john\"smith"#, r#"john"smith"#),
        ("john smith", "john smith"),
        ("", ""),
        (r"a\\b", r"a\b"),
        (r"\a\b", "ab"),
        ("jö ran", "jö ran"),
    ];
    for (raw, value) in quoted {
        let local = LocalPart::quoted_string(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(local.to_string(), format!("\"{raw}\""));
        assert_eq!(local.value(), value);
        assert_eq!(local.wire_len(), raw.len() + 2);
    }
    let q_62 = "q".repeat(62);
    let q_63 = "q".repeat(63);
    assert!(LocalPart::quoted_string(q_62.as_str()).is_ok());
    let quoted_rows: Vec<(&str, ValidationError)> = vec![
        ("a\"b", forbidden("quoted local part", b'"', 1)),
        ("a\\", invalid("quoted local part", "ends with a lone \"\\\"")),
        ("a\\\x01", forbidden("quoted local part", 0x01, 2)),
        ("a\tb", forbidden("quoted local part", b'\t', 1)),
        ("a\r\nb", forbidden("quoted local part", b'\r', 1)),
        (q_63.as_str(), too_long("quoted local part", 65, MAX_LOCAL_PART_LEN)),
    ];
    for (input, error) in quoted_rows {
        assert_eq!(LocalPart::quoted_string(input), Err(error), "{input:?}");
    }

    // from_value picks the form and adds the escapes.
    let rows = [
        ("plain", LocalPart::dot_string("plain").unwrap()),
        ("john smith", LocalPart::quoted_string("john smith").unwrap()),
        ("a\"b", LocalPart::quoted_string(r#"a\"b"#).unwrap()),
        ("back\\slash", LocalPart::quoted_string(r"back\\slash").unwrap()),
        (".dot", LocalPart::quoted_string(".dot").unwrap()),
        ("", LocalPart::quoted_string("").unwrap()),
    ];
    for (value, expected) in rows {
        let local = LocalPart::from_value(value).unwrap();
        assert_eq!(local, expected, "{value:?}");
        assert_eq!(local.value(), value);
    }
    assert_eq!(LocalPart::from_value("a\tb"), Err(forbidden("quoted local part", b'\t', 1)));
}

#[test]
fn mailbox_parse() {
    let dot = |s: &'static str| LocalPart::dot_string(s).unwrap();
    let quoted = |s: &'static str| LocalPart::quoted_string(s).unwrap();
    let dom = |s: &'static str| DomainPart::Domain(Domain::new(s).unwrap());
    let lit = |s: &'static str| DomainPart::Literal(AddressLiteral::new(s).unwrap());
    let rows = [
        ("alice@example.org", dot("alice"), dom("example.org")),
        ("Alice.Smith@Example.ORG", dot("Alice.Smith"), dom("Example.ORG")),
        ("a@b", dot("a"), dom("b")),
        ("user+tag@example.org", dot("user+tag"), dom("example.org")),
        (r#""john\"smith"@example.org"#, quoted(r#"john\"smith"#), dom("example.org")),
        (r#""john smith"@example.org"#, quoted("john smith"), dom("example.org")),
        (r#""@"@example.org"#, quoted("@"), dom("example.org")),
        (r#""Postmaster"@example.org"#, quoted("Postmaster"), dom("example.org")),
        ("a@[192.0.2.1]", dot("a"), lit("192.0.2.1")),
        ("a@[IPv6:2001:db8::1]", dot("a"), lit("IPv6:2001:db8::1")),
        ("a@[x-tag:content]", dot("a"), lit("x-tag:content")),
        ("jöran@bücher.example", dot("jöran"), dom("bücher.example")),
    ];
    for (text, local, domain) in rows {
        let mailbox = Mailbox::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(mailbox.local_part(), &local, "{text}");
        assert_eq!(mailbox.domain(), &domain, "{text}");
        assert_eq!(mailbox, Mailbox::new(local, domain).unwrap());
        assert_eq!(mailbox.to_string(), text, "kept as written");
        assert_eq!(mailbox.wire_len(), text.len());
        assert_eq!(mailbox.is_ascii(), text.is_ascii());
        assert_eq!(text.parse::<Mailbox<'static>>().unwrap(), mailbox);
    }
    // `"simple"@x` and `simple@x` are different spellings, kept apart.
    assert_ne!(Mailbox::parse("\"simple\"@x").unwrap(), Mailbox::parse("simple@x").unwrap());

    let local_65 = format!("{}@example.org", "a".repeat(65));
    let domain_189 = format!("{}.{}.{}", "d".repeat(63), "e".repeat(63), "f".repeat(61));
    let path_256 = format!("{}@{domain_189}", "a".repeat(64));
    let path_257 = format!("{}@{domain_189}x", "a".repeat(64));
    assert!(Mailbox::parse(&path_256).is_ok());
    let expected_at = "expected \"@\" after the local part";
    let rows: Vec<(&str, ValidationError)> = vec![
        ("", invalid("mailbox", "expected a local part")),
        ("@example.org", invalid("mailbox", "expected a local part")),
        ("alice", invalid("mailbox", "expected local-part@domain")),
        ("alice@", invalid("mailbox", "expected a domain")),
        ("alice example.org", invalid("mailbox", expected_at)),
        ("alice@example.org ", invalid("mailbox", "unexpected characters after the domain")),
        ("alice@example.org>", invalid("mailbox", "unexpected characters after the domain")),
        ("<alice@example.org>", invalid("mailbox", "expected a local part")),
        ("a@b@c", invalid("mailbox", "unexpected characters after the domain")),
        ("\"unterminated@example.org", invalid("mailbox", "expected local-part@domain")),
        ("a@[192.0.2.1", invalid("mailbox", "expected local-part@domain")),
        (".a@example.org", invalid("local part", DOT_RULE)),
        ("a.@example.org", invalid("local part", DOT_RULE)),
        ("a@-x.example", invalid("domain", "a label must start and end with a letter or digit")),
        ("a@x..example", invalid("domain", "empty label")),
        ("a@[300.1.1.1]", invalid("address literal", "not a dotted-quad IPv4 address")),
        ("a@[IPv6:zz]", invalid("address literal", "invalid IPv6 address")),
        ("\"a\\\x01\"@x", forbidden("quoted local part", 0x01, 2)),
        (local_65.as_str(), too_long("local part", 65, 64)),
        (path_257.as_str(), too_long("path", 257, 256)),
    ];
    for (text, error) in rows {
        assert_eq!(Mailbox::parse(text), Err(error), "{text:?}");
    }
    // Mailbox::new checks the combined length too.
    let long_domain = DomainPart::Domain(Domain::new(domain_189.clone() + "x").unwrap());
    assert_eq!(
        Mailbox::new(LocalPart::dot_string("a".repeat(64)).unwrap(), long_domain),
        Err(too_long("path", 257, 256))
    );
}

#[test]
fn xtext() {
    let good = ["a", "QQ314159", "a+2Bb", "+3D", "<>", "e+3Dmc2@example.com", "+00+FF"];
    for text in good {
        let x = XText::new(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(x.as_str(), text);
        assert_eq!(XText::encode(&x.decode()), Ok(x), "{text}: canonical form");
    }
    let bad = [
        ("", ValidationError::Empty { what: "xtext" }),
        ("a+2b", forbidden("xtext", b'b', 3)),
        ("a+zz", forbidden("xtext", b'z', 2)),
        ("a+G0", forbidden("xtext", b'G', 2)),
        ("a+2", invalid("xtext", "\"+\" must be followed by two upper-case hex digits")),
        ("a+", invalid("xtext", "\"+\" must be followed by two upper-case hex digits")),
        ("a=b", forbidden("xtext", b'=', 1)),
        ("a b", forbidden("xtext", b' ', 1)),
        ("a\r\n", forbidden("xtext", b'\r', 1)),
        ("é", forbidden("xtext", 0xc3, 0)),
    ];
    for (text, error) in bad {
        assert_eq!(XText::new(text), Err(error), "{text:?}");
    }
    let rows: [(&[u8], &str); 5] = [
        (b"id=1 2", "id+3D1+202"),
        (b"a+b=c", "a+2Bb+3Dc"),
        (b"\x00\xff\r\n", "+00+FF+0D+0A"),
        (b"plain!~", "plain!~"),
        ("ü".as_bytes(), "+C3+BC"),
    ];
    for (raw, encoded) in rows {
        let x = XText::encode(raw).unwrap();
        assert_eq!(x.as_str(), encoded);
        assert_eq!(x.decode(), raw);
        assert_eq!(XText::new(encoded).unwrap(), x);
    }
    // A value written with a needless escape is kept as written and still decodes.
    let loose = XText::new("+41").unwrap();
    assert_eq!(loose.decode(), b"A");
    assert_eq!(loose.to_string(), "+41");
}
