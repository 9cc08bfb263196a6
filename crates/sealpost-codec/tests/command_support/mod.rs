//! Builders and table checkers shared by the command tables.
//!
//! Each test binary uses a different part of it; the builders unwrap on the literal
//! values of the tables.
#![allow(dead_code, unreachable_pub, unused_imports, clippy::unwrap_used, clippy::panic)]

pub use sealpost_codec::{
    AddressLiteral, BodyType, Command, CommandDecoder, CommandError, DecodeError, DeliverBy,
    DeliverByMode, Domain, DomainPart, EsmtpValue, ForwardPath, Host, InitialResponse, Keyword,
    LocalPart, MAX_PATH_LEN, MailParameter, MailParameters, Mailbox, Mechanism, Notify, Orcpt,
    ParamError, RcptParameter, RcptParameters, Ret, ReversePath, Rrvs, RrvsAction, Text,
    UnknownParameter, ValidationError, Verb, XText,
};

// ----------------------------------------------------------------------------------------
// Builders for expected values.

pub fn host(s: &'static str) -> Host<'static> {
    Host::new(s).unwrap()
}

pub fn domain_host(s: &'static str) -> Host<'static> {
    Host::Domain(Domain::new(s).unwrap())
}

pub fn literal_host(inner: &'static str) -> Host<'static> {
    Host::Literal(AddressLiteral::new(inner).unwrap())
}

pub fn mailbox(s: &'static str) -> Mailbox<'static> {
    Mailbox::parse(s).unwrap()
}

pub fn text(s: &'static str) -> Text<'static> {
    Text::new(s).unwrap()
}

pub fn xtext(s: &'static str) -> XText<'static> {
    XText::new(s).unwrap()
}

pub fn mail(path: Option<&'static str>, params: Vec<MailParameter<'static>>) -> Command<'static> {
    Command::Mail {
        reverse_path: path.map_or(ReversePath::Null, |p| ReversePath::Mailbox(mailbox(p))),
        parameters: MailParameters::from_vec(params).unwrap(),
    }
}

pub fn rcpt(path: Option<&'static str>, params: Vec<RcptParameter<'static>>) -> Command<'static> {
    Command::Rcpt {
        forward_path: path.map_or(ForwardPath::Postmaster, |p| ForwardPath::Mailbox(mailbox(p))),
        parameters: RcptParameters::from_vec(params).unwrap(),
    }
}

pub fn unknown_param(
    keyword: &'static str,
    value: Option<&'static str>,
) -> UnknownParameter<'static> {
    UnknownParameter {
        keyword: Keyword::new(keyword).unwrap(),
        value: value.map(|v| EsmtpValue::new(v).unwrap()),
    }
}

pub fn show(input: &[u8]) -> String {
    input.escape_ascii().to_string()
}

/// Decodes every row, checks the value, that nothing is left over, that the canonical
/// encoding decodes to the same value, and that every proper prefix is `Incomplete`.
pub fn check_ok(rows: &[(&[u8], Command<'static>)]) {
    for (input, expected) in rows {
        let (rest, command) = Command::decode(input)
            .unwrap_or_else(|e| panic!("{}: unexpected error {e:?}", show(input)));
        assert_eq!(&command, expected, "{}", show(input));
        assert!(rest.is_empty(), "{}: left {}", show(input), show(rest));
        assert_eq!(Command::decode_line(input).as_ref(), Ok(expected), "{}", show(input));

        let encoded = command.to_bytes();
        let (_, again) = Command::decode(&encoded)
            .unwrap_or_else(|e| panic!("{}: re-encoded form fails: {e:?}", show(&encoded)));
        assert_eq!(&again, expected, "re-encoded {}", show(&encoded));
        assert_eq!(command.verb(), expected.verb());

        for end in 0..input.len() {
            assert_eq!(
                Command::decode(&input[..end]),
                Err(DecodeError::Incomplete),
                "prefix {}",
                show(&input[..end])
            );
        }
    }
}

/// Rows whose whole line is refused with exactly this error.
pub fn check_err(rows: &[(&[u8], CommandError)]) {
    for (input, error) in rows {
        assert_eq!(
            Command::decode(input),
            Err(DecodeError::Malformed { consumed: input.len(), error: error.clone() }),
            "{}",
            show(input)
        );
    }
}

/// Rows refused with a syntax error of the given verb.
pub fn check_syntax(rows: &[(&[u8], Verb)]) {
    for (input, verb) in rows {
        match Command::decode(input) {
            Err(DecodeError::Malformed {
                consumed,
                error: CommandError::Syntax { verb: v, .. },
            }) => {
                assert_eq!(consumed, input.len(), "{}", show(input));
                assert_eq!(v, *verb, "{}", show(input));
            }
            other => panic!("{}: expected a {verb} syntax error, got {other:?}", show(input)),
        }
    }
}

pub fn path_err(verb: Verb, error: ValidationError) -> CommandError {
    CommandError::Path { verb, error }
}

pub fn param_err(verb: Verb, keyword: &str, reason: &'static str) -> CommandError {
    CommandError::Parameter {
        verb,
        error: ParamError::Invalid { keyword: keyword.to_owned(), reason },
    }
}

pub fn duplicate(verb: Verb, keyword: &str) -> CommandError {
    CommandError::Parameter { verb, error: ParamError::Duplicate { keyword: keyword.to_owned() } }
}
