//! `ClientSession` fed arbitrary server bytes (canned replies mixed with raw bytes) while
//! the application calls `start_tls`, `authenticate`, `send_mail`, `send_body` and the
//! rest as the input dictates, and the stream may end (`handle_eof`).
//!
//! Properties: no panic, and the client never transmits a bare CR or LF or a NUL, except
//! inside the chunks of a BDAT BINARYMIME message (where any octet is content), whether
//! NULs are refused or stripped.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_codec::client::{ClientConfig, ClientSession, Envelope};
use sealpost_codec::{
    BodyType, Command, ForwardPath, MailParameter, MailParameters, Mechanism, NulOctets,
    RcptParameters, ReversePath,
};
use sealpost_codec_fuzz::only_crlf;

/// Replies that move the session through its states.
const REPLIES: &[&[u8]] = &[
    b"220 mx.test ESMTP\r\n",
    b"250-mx.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-8BITMIME\r\n\
      250-SMTPUTF8\r\n250-DSN\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250-REQUIRETLS\r\n\
      250 AUTH PLAIN LOGIN\r\n",
    b"250-mx.test\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n",
    b"250-mx.test\r\n250 PIPELINING\r\n",
    b"250 mx.test\r\n",
    b"250 2.0.0 Ok\r\n",
    b"354 Go ahead\r\n",
    b"334 \r\n",
    b"334 VXNlcm5hbWU6\r\n",
    b"235 2.7.0 Ok\r\n",
    b"535 5.7.8 No\r\n",
    b"550 5.1.1 No such user\r\n",
    b"451 4.3.0 Later\r\n",
    b"554 5.3.2 No service\r\n",
    b"502 5.5.1 No EHLO\r\n",
    b"421 4.3.2 Bye\r\n",
    b"221 2.0.0 Bye\r\n",
    b"220 2.0.0 Ready to start TLS\r\n",
];

#[derive(Debug, Arbitrary)]
struct Setup {
    lmtp: bool,
    pipelining: bool,
    chunking: bool,
    auth_without_tls: bool,
    implicit_tls: bool,
    strip_nul: bool,
}

/// An envelope: a simple one (optionally BINARYMIME) or an arbitrary one.
#[derive(Debug, Arbitrary)]
enum Mail {
    Simple {
        binary: bool,
        recipients: u8,
    },
    Any {
        from: ReversePath<'static>,
        parameters: MailParameters<'static>,
        recipients: Vec<(ForwardPath<'static>, RcptParameters<'static>)>,
    },
}

#[derive(Debug, Arbitrary)]
enum Op {
    Reply(u8),
    Raw(Vec<u8>),
    StartTls,
    TlsEstablished,
    Authenticate { login: bool, username: String, password: String },
    SendMail(Mail),
    SendBody { chunk: Vec<u8>, last: bool },
    Reset,
    Noop,
    Quit,
    /// The server closes the connection.
    Eof,
}

#[derive(Debug, Arbitrary)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

fn envelope(mail: &Mail) -> Envelope {
    let mailbox = |s: &str| s.parse().expect("valid mailbox");
    match mail {
        Mail::Simple { binary, recipients } => {
            let mut params = Vec::new();
            if *binary {
                params.push(MailParameter::Body(BodyType::BinaryMime));
            }
            let params = MailParameters::from_vec(params).expect("unique parameters");
            let mut e =
                Envelope::new(ReversePath::Mailbox(mailbox("a@client.test"))).parameters(params);
            for i in 0..=recipients % 4 {
                e = e.recipient(ForwardPath::Mailbox(mailbox(&format!("r{i}@mx.test"))));
            }
            e
        }
        Mail::Any { from, parameters, recipients } => {
            let mut e = Envelope::new(from.clone()).parameters(parameters.clone());
            for (path, params) in recipients {
                e = e.recipient_with(path.clone(), params.clone());
            }
            e
        }
    }
}

/// Checks one transmission. `binary` tells whether the current message is BINARYMIME.
fn check_transmit(out: &[u8], binary: bool) {
    // A BDAT command and its chunk are written together by one `send_body` call.
    if out.starts_with(b"BDAT ") {
        let end = out.windows(2).position(|w| w == b"\r\n").expect("BDAT line ends with CRLF");
        let line = &out[..end + 2];
        let Ok(Command::Bdat { size, .. }) = Command::decode_line(line) else {
            panic!("malformed BDAT line {line:?}");
        };
        let chunk = &out[end + 2..];
        assert_eq!(chunk.len() as u64, size, "BDAT size does not match its chunk");
        assert!(binary || only_crlf(chunk), "bare CR or LF in a text BDAT chunk: {chunk:?}");
        assert!(binary || !chunk.contains(&0), "NUL in a text BDAT chunk: {chunk:?}");
        return;
    }
    assert!(only_crlf(out), "bare CR or LF transmitted: {out:?}");
    assert!(!out.contains(&0), "NUL transmitted: {out:?}");
}

fuzz_target!(|input: Input| {
    let s = &input.setup;
    let mut config = ClientConfig::new("client.test");
    config.lmtp = s.lmtp;
    config.pipelining = s.pipelining;
    config.chunking = s.chunking;
    config.allow_auth_without_tls = s.auth_without_tls;
    config.nul_octets = if s.strip_nul { NulOctets::Strip } else { NulOctets::Reject };
    let mut client = ClientSession::with_tls(config, s.implicit_tls);
    let mut binary = false;
    for op in &input.ops {
        match op {
            Op::Reply(i) => client.handle_input(REPLIES[usize::from(*i) % REPLIES.len()]),
            Op::Raw(bytes) => client.handle_input(bytes),
            Op::StartTls => drop(client.start_tls()),
            Op::TlsEstablished => client.tls_established(),
            Op::Authenticate { login, username, password } => {
                let mechanism = if *login { Mechanism::LOGIN } else { Mechanism::PLAIN };
                drop(client.authenticate(&mechanism, username, password));
            }
            Op::SendMail(mail) => {
                let envelope = envelope(mail);
                let is_binary = envelope.parameters.body() == Some(BodyType::BinaryMime);
                if client.send_mail(envelope).is_ok() {
                    binary = is_binary;
                }
            }
            Op::SendBody { chunk, last } => drop(client.send_body(chunk, *last)),
            Op::Reset => drop(client.reset()),
            Op::Noop => drop(client.noop()),
            Op::Quit => client.quit(),
            Op::Eof => client.handle_eof(),
        }
        if let Some(out) = client.poll_transmit() {
            check_transmit(&out, binary);
        }
        while client.poll_event().is_some() {}
        if let Some(out) = client.poll_transmit() {
            check_transmit(&out, binary);
        }
    }
});
