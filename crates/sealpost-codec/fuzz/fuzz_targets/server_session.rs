//! `ServerSession` fed arbitrary chunks (canned command lines mixed with raw bytes) under
//! an arbitrary configuration, with an application that accepts, rejects, defers or
//! closes as the input dictates and sometimes completes a TLS handshake.
//!
//! Properties: no panic; everything the session transmits is a sequence of complete,
//! well-formed replies; the `Closed` event comes once and last, and once it was observed
//! and the output drained, the session never produces output again.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_codec::server::{
    AuthConfig, ServerConfig, ServerEvent, ServerSession, StartTlsTrailing, TlsOffer,
};
use sealpost_codec::{BareLineEndings, DecodeError, Mechanism, NulOctets, Reply, ReplyDecoder};

/// Command lines (and message data) that reach the session's deeper states quickly.
const LINES: &[&[u8]] = &[
    b"EHLO client.test\r\n",
    b"HELO client.test\r\n",
    b"LHLO client.test\r\n",
    b"MAIL FROM:<a@client.test>\r\n",
    b"MAIL FROM:<> BODY=BINARYMIME\r\n",
    b"MAIL FROM:<a@client.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x\r\n",
    b"MAIL FROM:<\xc3\xa9@client.test> SMTPUTF8\r\n",
    b"RCPT TO:<b@mx.test>\r\n",
    b"RCPT TO:<Postmaster>\r\n",
    b"RCPT TO:<c@mx.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@mx.test\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 7 LAST\r\n",
    b"BDAT 0 LAST\r\n",
    b"hello",
    b"Subject: x\r\n\r\nbody\r\n",
    b"..stuffed\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"bare\nLF\r\n",
    b"\r\n\x00.\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"HELP\r\n",
    b"VRFY b\r\n",
    b"EXPN list\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH LOGIN YWxpY2U=\r\n",
    b"AUTH X-TOKEN\r\n",
    b"AGFsaWNlAHNlY3JldA==\r\n",
    b"c2VjcmV0\r\n",
    b"*\r\n",
    b"\r\n",
];

#[derive(Debug, Arbitrary)]
struct Setup {
    lmtp: bool,
    pipelining: bool,
    tls: u8,
    implicit_tls: bool,
    discard_after_starttls: bool,
    auth_without_tls: bool,
    auth_required: bool,
    other_mechanism: bool,
    normalize: bool,
    strip_nul: bool,
    small_limits: bool,
    chunking: bool,
    reject_improper_pipelining: bool,
    refuse_session: bool,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Line(u8),
    Raw(Vec<u8>),
    TlsEstablished,
    Close,
}

#[derive(Debug, Arbitrary)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
    /// The application's answers, one per decision (cycled; accept when empty).
    decisions: Vec<u8>,
}

fn config(s: &Setup) -> ServerConfig {
    let mut c = ServerConfig::new("mx.test");
    c.lmtp = s.lmtp;
    c.pipelining = s.pipelining;
    c.tls = match s.tls % 3 {
        0 => TlsOffer::None,
        1 => TlsOffer::Offered,
        _ => TlsOffer::Required,
    };
    c.implicit_tls = s.implicit_tls;
    if s.discard_after_starttls {
        c.starttls_trailing = StartTlsTrailing::Discard;
    }
    let mut auth = AuthConfig::default();
    auth.allow_without_tls = s.auth_without_tls;
    auth.required = s.auth_required;
    if s.other_mechanism {
        auth.mechanisms.push(Mechanism::new("X-TOKEN").expect("valid mechanism"));
    }
    c.auth = Some(auth);
    if s.normalize {
        c.bare_line_endings = BareLineEndings::Normalize;
    }
    if s.strip_nul {
        c.nul_octets = NulOctets::Strip;
    }
    if s.small_limits {
        c.max_line = 40;
        c.max_message_size = Some(16);
        c.max_recipients = 2;
        c.max_errors = 3;
    }
    c.chunking = s.chunking;
    c.reject_improper_pipelining = s.reject_improper_pipelining;
    c.disable_expn = !s.other_mechanism;
    c
}

struct App<'a> {
    session: ServerSession,
    decisions: std::iter::Cycle<std::slice::Iter<'a, u8>>,
    closed_seen: bool,
    drained_after_close: bool,
}

impl App<'_> {
    /// Answers one decision; false when the application defers it.
    fn decide(&mut self) -> bool {
        let d = self.decisions.next().copied().unwrap_or(0);
        let reply = |code, text: &str| Reply::new(code, text.to_owned()).expect("valid reply");
        match d % 10 {
            0..=3 => self.session.accept(),
            4 => self.session.reject(reply(550, "5.7.1 No")),
            5 => self.session.reject(reply(451, "4.3.0 Later")),
            6 => self.session.reject_auth(),
            7 => self.session.auth_challenge(&[d, b'\r', b'\n']),
            8 => self.session.respond(reply(354, "Go on")),
            _ => return false,
        }
        true
    }

    fn transmit(&mut self) {
        let out = self.session.poll_transmit();
        if let Some(out) = out {
            assert!(!self.drained_after_close, "output after Closed was drained: {out:?}");
            check_replies(&out);
        }
        if self.closed_seen {
            self.drained_after_close = true;
        }
    }

    fn run_events(&mut self) {
        if self.session.is_pending() && !self.decide() {
            return;
        }
        while let Some(event) = self.session.poll_event() {
            assert!(!self.closed_seen, "event after Closed: {event:?}");
            match event {
                ServerEvent::Closed(_) => {
                    self.closed_seen = true;
                    assert!(self.session.is_closed());
                    self.transmit();
                }
                ServerEvent::MessageChunk(bytes) => assert!(!bytes.is_empty()),
                ServerEvent::StartTls { .. } => {
                    if self.decisions.next().is_some_and(|d| d % 2 == 0) {
                        self.session.tls_established();
                    }
                }
                ServerEvent::Reset | ServerEvent::MessageRejected(_) => {}
                _ => {
                    assert!(self.session.is_pending(), "decision event without a decision");
                    if !self.decide() {
                        break;
                    }
                }
            }
        }
        self.transmit();
    }
}

/// The server writes whole, well-formed replies only.
fn check_replies(mut out: &[u8]) {
    let decoder = ReplyDecoder::new();
    while !out.is_empty() {
        match decoder.decode(out) {
            Ok((rest, _)) => out = rest,
            Err(DecodeError::Incomplete) => panic!("partial reply transmitted: {out:?}"),
            Err(e) => panic!("malformed reply transmitted: {e:?} in {out:?}"),
        }
    }
}

fuzz_target!(|input: Input| {
    let config = config(&input.setup);
    let session = if input.setup.refuse_session {
        let greeting = Reply::new(554, "5.3.2 No service").expect("valid reply");
        ServerSession::with_greeting(config, greeting)
    } else {
        ServerSession::new(config)
    };
    let mut app = App {
        session,
        decisions: input.decisions.iter().cycle(),
        closed_seen: false,
        drained_after_close: false,
    };
    app.transmit();
    for op in &input.ops {
        match op {
            Op::Line(i) => app.session.handle_input(LINES[usize::from(*i) % LINES.len()]),
            Op::Raw(bytes) => app.session.handle_input(bytes),
            Op::TlsEstablished => app.session.tls_established(),
            Op::Close => {
                app.session.close(Reply::new(421, "4.3.2 Shutting down").expect("valid reply"))
            }
        }
        app.run_events();
    }
    // The application gives every owed answer at the end.
    static ACCEPT: [u8; 1] = [0];
    app.decisions = ACCEPT.iter().cycle();
    app.run_events();
});
