//! Every input split at every byte boundary gives the same result as the whole input:
//! command and reply decoding, line framing, DATA dot-unstuffing and dot-stuffing, BDAT,
//! and an LMTP client session (one reply per recipient after DATA or BDAT LAST).
//! Also the known answers of the DATA reader for each SMTP smuggling end-of-data variant
//! (SEC Consult, "SMTP Smuggling", 2023).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use memchr::memmem;
use sealpost_codec::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
use sealpost_codec::{
    BareLineEndings, BdatReader, Command, CommandDecoder, CommandError, DataError, DataStep,
    DecodeError, DotStuffer, DotUnstuffer, ForwardPath, Frame, LineFramer, Mailbox, NulOctets,
    Reply, ReplyDecoder, ReplyError, ReversePath,
};

fn show(input: &[u8]) -> String {
    input.escape_ascii().to_string()
}

/// Deterministic xorshift64* for random chunkings.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

/// The ways to cut `input`: whole, byte by byte, every 2-way split, and random chunkings.
fn chunkings(input: &[u8], seed: u64) -> Vec<Vec<&[u8]>> {
    let mut out = vec![vec![input], input.chunks(1).collect()];
    for at in 0..=input.len() {
        out.push(vec![&input[..at], &input[at..]]);
    }
    let mut rng = XorShift(seed | 1);
    for _ in 0..50 {
        let mut pieces = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(9));
            pieces.push(&rest[..n]);
            rest = &rest[n..];
        }
        out.push(pieces);
    }
    out
}

fn describe(pieces: &[&[u8]]) -> String {
    let lens: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
    format!("pieces of {lens:?}")
}

// ----------------------------------------------------------------------------------------
// Commands

#[derive(Debug, PartialEq)]
enum CommandEvent {
    Command(Command<'static>),
    Malformed(CommandError),
    TooLong,
}

/// Decodes what `buf` holds with a `CommandDecoder`, removing what was decided on.
fn drain_commands(decoder: &CommandDecoder, buf: &mut Vec<u8>, events: &mut Vec<CommandEvent>) {
    loop {
        let (used, event) = match decoder.decode(buf) {
            Ok((rest, command)) => {
                (buf.len() - rest.len(), CommandEvent::Command(command.into_owned()))
            }
            Err(DecodeError::Malformed { consumed, error }) => {
                (consumed, CommandEvent::Malformed(error))
            }
            Err(DecodeError::LineTooLong { .. }) => {
                events.push(CommandEvent::TooLong);
                buf.clear();
                return;
            }
            Err(_) => return,
        };
        events.push(event);
        buf.drain(..used);
    }
}

/// Decodes what `buf` holds with a `LineFramer` and `Command::decode_line`.
fn drain_frames(framer: &mut LineFramer, buf: &mut Vec<u8>, events: &mut Vec<CommandEvent>) {
    loop {
        match framer.next_line(buf) {
            Frame::Line { len } => {
                events.push(match Command::decode_line(&buf[..len]) {
                    Ok(c) => CommandEvent::Command(c.into_owned()),
                    Err(e) => CommandEvent::Malformed(e),
                });
                buf.drain(..len);
            }
            Frame::Overlong { len, ended } => {
                if ended {
                    events.push(CommandEvent::TooLong);
                }
                buf.drain(..len);
            }
            Frame::Incomplete => return,
        }
    }
}

const COMMAND_STREAM: &[&[u8]] = &[
    b"EHLO client.example\r\n",
    b"MAIL FROM:<\"a b\"@[192.0.2.1]> SIZE=10 BODY=8BITMIME\r\n",
    b"RCPT TO:<Postmaster>\r\n",
    b"RSET\nNOOP\r\n",
    b"NO\0OP\r\n",
    b"RCPT TO:<c@d.example> NOTIFY=NEVER,SUCCESS\r\n",
    b"DATA\r\n",
    b"\r\n",
    b"BDAT 5 LAST\r\n",
    b"AUTH PLAIN =\r\n",
    b"QUIT\r\r\n",
    "MAIL FROM:<jö@bü.example> SMTPUTF8\r\n".as_bytes(),
    b"QUIT\r\n",
    b"NOOP",
];

#[test]
fn command_decoder_split_anywhere() {
    let input = COMMAND_STREAM.concat();
    let decoder = CommandDecoder::new();
    let (mut whole_buf, mut whole) = (input.clone(), Vec::new());
    drain_commands(&decoder, &mut whole_buf, &mut whole);
    assert_eq!(whole.len(), COMMAND_STREAM.len() - 1, "{whole:?}");
    assert_eq!(whole_buf, b"NOOP");
    assert!(matches!(whole[3], CommandEvent::Malformed(CommandError::BareLineEnding)));
    assert!(matches!(whole[4], CommandEvent::Malformed(CommandError::Nul)));
    assert!(!whole.contains(&CommandEvent::TooLong));

    for pieces in chunkings(&input, 1) {
        let (mut buf, mut events) = (Vec::new(), Vec::new());
        for piece in &pieces {
            buf.extend_from_slice(piece);
            drain_commands(&decoder, &mut buf, &mut events);
        }
        assert_eq!(events, whole, "{}", describe(&pieces));
        assert_eq!(buf, whole_buf, "{}", describe(&pieces));
    }
}

#[test]
fn line_framer_split_anywhere() {
    // With a 40-octet limit, the 41- and 42-octet lines are overlong (one of them with its
    // CRLF straddling the limit); the framer resynchronises on the next line.
    let limit = 40;
    let straddle = [b"NOOP ".as_slice(), &[b'y'; 34], b"\r\n"].concat();
    assert_eq!(straddle.len(), limit + 1);
    let mut input = COMMAND_STREAM.concat();
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(&[b'x'; 40]);
    input.extend_from_slice(b"\r\nQUIT\r\n");
    input.extend_from_slice(&straddle);
    input.extend_from_slice(b"RSET\r\n");
    input.extend_from_slice(b"NOOP 123456789012345678901234567890123\r\n");

    let (mut whole_buf, mut whole) = (input.clone(), Vec::new());
    drain_frames(&mut LineFramer::new(limit), &mut whole_buf, &mut whole);
    let too_long = whole.iter().filter(|e| **e == CommandEvent::TooLong).count();
    // The MAIL line with parameters, the RCPT line with NOTIFY, the 40 "x", the
    // straddling line; the last NOOP line is exactly 40 octets.
    assert_eq!(too_long, 4, "{whole:?}");
    assert_eq!(
        whole.last(),
        Some(&CommandEvent::Command(
            Command::decode(b"NOOP 123456789012345678901234567890123\r\n").unwrap().1.into_owned()
        ))
    );
    assert!(whole_buf.is_empty());

    for pieces in chunkings(&input, 2) {
        let (mut framer, mut buf, mut events) = (LineFramer::new(limit), Vec::new(), Vec::new());
        for piece in &pieces {
            buf.extend_from_slice(piece);
            drain_frames(&mut framer, &mut buf, &mut events);
            assert!(buf.len() < limit + 9, "the framer holds at most a line");
        }
        assert_eq!(events, whole, "{}", describe(&pieces));
        assert_eq!(buf, whole_buf, "{}", describe(&pieces));
        assert!(!framer.is_discarding());
    }

    // Without overlong lines, framer + decode_line and CommandDecoder agree.
    let input = COMMAND_STREAM.concat();
    let (mut a, mut b) = (input.clone(), input);
    let (mut framed, mut decoded) = (Vec::new(), Vec::new());
    drain_frames(&mut LineFramer::new(512), &mut a, &mut framed);
    drain_commands(&CommandDecoder::new(), &mut b, &mut decoded);
    assert_eq!(framed, decoded);
    assert_eq!(a, b);
}

// ----------------------------------------------------------------------------------------
// Replies

#[derive(Debug, PartialEq)]
enum ReplyEvent {
    Reply(Reply<'static>),
    Malformed(ReplyError),
}

fn drain_replies(decoder: &ReplyDecoder, buf: &mut Vec<u8>, events: &mut Vec<ReplyEvent>) {
    loop {
        let (used, event) = match decoder.decode(buf) {
            Ok((rest, reply)) => (buf.len() - rest.len(), ReplyEvent::Reply(reply.into_owned())),
            Err(DecodeError::Malformed { consumed, error }) => {
                (consumed, ReplyEvent::Malformed(error))
            }
            Err(e) => {
                assert_eq!(e, DecodeError::Incomplete);
                return;
            }
        };
        events.push(event);
        buf.drain(..used);
    }
}

#[test]
fn reply_decoder_split_anywhere() {
    let input = [
        &b"220 mail.example ESMTP\r\n"[..],
        b"250-mail.example\r\n250-PIPELINING\r\n250-\r\n250 SIZE 100\r\n",
        b"250 2.1.0 Ok\r\n",
        b"250-a\r\n251 b\r\n",
        b"199 x\r\n",
        b"354\r\n",
        b"250 a\nb\r\n",
        b"250-1\r\n250-2\r\n250-3\r\n250-4\r\n250 5\r\n",
        "250 Grüße\r\n".as_bytes(),
        b"221 bye\r\n",
        b"25",
    ]
    .concat();
    let decoder = ReplyDecoder::new().max_lines(4);
    let (mut whole_buf, mut whole) = (input.clone(), Vec::new());
    drain_replies(&decoder, &mut whole_buf, &mut whole);
    assert_eq!(whole_buf, b"25");
    let errors: Vec<&ReplyError> = whole
        .iter()
        .filter_map(|e| match e {
            ReplyEvent::Malformed(error) => Some(error),
            ReplyEvent::Reply(_) => None,
        })
        .collect();
    assert_eq!(
        errors,
        [
            &ReplyError::CodeMismatch { expected: 250, found: 251 },
            &ReplyError::InvalidCode,
            &ReplyError::InvalidText,
            &ReplyError::TooManyLines { limit: 4 },
            // The line after the four refused ones is read as a reply of its own.
        ]
    );
    assert_eq!(whole.len(), 11, "{whole:?}");

    for pieces in chunkings(&input, 3) {
        let (mut buf, mut events) = (Vec::new(), Vec::new());
        for piece in &pieces {
            buf.extend_from_slice(piece);
            drain_replies(&decoder, &mut buf, &mut events);
        }
        assert_eq!(events, whole, "{}", describe(&pieces));
        assert_eq!(buf, whole_buf, "{}", describe(&pieces));
    }
}

// ----------------------------------------------------------------------------------------
// DATA: DotUnstuffer

/// What a DATA reader made of its input.
#[derive(Debug, Clone, PartialEq)]
struct Unstuffed {
    content: Vec<u8>,
    end: Option<Result<u64, DataError>>,
    leftover: Vec<u8>,
}

/// The DATA reader's two policies: bare CR/LF and NUL octets.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Policy {
    bare: BareLineEndings,
    nul: NulOctets,
}

/// The defaults: a bare CR/LF or a NUL refuses the message.
const REJECT: Policy = Policy { bare: BareLineEndings::Reject, nul: NulOctets::Reject };
/// Bare CR/LF turned into CRLF; NUL refuses the message.
const NORMALIZE: Policy = Policy { bare: BareLineEndings::Normalize, nul: NulOctets::Reject };
/// NULs dropped; bare CR/LF refuses the message.
const STRIP: Policy = Policy { bare: BareLineEndings::Reject, nul: NulOctets::Strip };
/// Bare CR/LF turned into CRLF and NULs dropped: nothing refuses the message but its size.
const LENIENT: Policy = Policy { bare: BareLineEndings::Normalize, nul: NulOctets::Strip };
const POLICIES: [Policy; 4] = [REJECT, NORMALIZE, STRIP, LENIENT];

fn unstuff(pieces: &[&[u8]], policy: Policy, max_size: Option<u64>) -> Unstuffed {
    let mut decoder = DotUnstuffer::new()
        .bare_line_endings(policy.bare)
        .nul_octets(policy.nul)
        .max_size(max_size);
    let mut buf = BytesMut::new();
    let (mut content, mut end) = (Vec::new(), None);
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(step) = decoder.decode(&mut buf) {
            assert!(end.is_none(), "a step after the end");
            match step {
                DataStep::Chunk(chunk) => {
                    assert!(!chunk.is_empty(), "empty chunk");
                    content.extend_from_slice(&chunk);
                }
                DataStep::End(result) => end = Some(result),
            }
        }
    }
    assert_eq!(decoder.is_done(), end.is_some());
    if let Some(Ok(size)) = end {
        assert_eq!(size, content.len() as u64);
        assert_eq!(decoder.size(), size);
    }
    Unstuffed { content, end, leftover: buf.to_vec() }
}

fn unstuff_whole(input: &[u8], policy: Policy) -> Unstuffed {
    unstuff(&[input], policy, None)
}

/// (body as received after the DATA line, content in Reject mode, content in Normalize
/// mode, end). `None` content means the message is refused in that mode; each body is
/// followed by a pipelined QUIT that must be left in the buffer. No body holds a NUL
/// (see `NUL_ROWS`), so stripping NULs changes nothing.
type DataRow = (&'static [u8], Option<&'static [u8]>, &'static [u8]);

const DATA_ROWS: &[DataRow] = &[
    (
        b"Subject: hi\r\n\r\nhello\r\n.\r\n",
        Some(b"Subject: hi\r\n\r\nhello\r\n"),
        b"Subject: hi\r\n\r\nhello\r\n",
    ),
    // "." CRLF right after the DATA line is the empty message.
    (b".\r\n", Some(b""), b""),
    // A first line "..x" is unstuffed: the DATA line's CRLF counts.
    (b"..x\r\n.\r\n", Some(b".x\r\n"), b".x\r\n"),
    (b"a\r\n..\r\n...\r\n.b\r\n.\r\n", Some(b"a\r\n.\r\n..\r\nb\r\n"), b"a\r\n.\r\n..\r\nb\r\n"),
    (b"\r\n.\r\n", Some(b"\r\n"), b"\r\n"),
    (b"a\r\n\r\n.\r\n", Some(b"a\r\n\r\n"), b"a\r\n\r\n"),
    (b".a.\r\n.\r\n", Some(b"a.\r\n"), b"a.\r\n"),
    (b"x.\r\n.\r\n", Some(b"x.\r\n"), b"x.\r\n"),
    (b"bin\x01\xff\x7f\r\n.\r\n", Some(b"bin\x01\xff\x7f\r\n"), b"bin\x01\xff\x7f\r\n"),
    // Bare line endings: refused whole, or turned into CRLF that never starts a line.
    (b"bare\nLF\r\n.\r\n", None, b"bare\r\nLF\r\n"),
    (b"bare\rCR\r\n.\r\n", None, b"bare\r\nCR\r\n"),
    (b"\n.\r\nx\r\n.\r\n", None, b"\r\n.\r\nx\r\n"),
    (b"x\r\r\n.\r\n", None, b"x\r\n\r\n"),
    (b"x\n\r\n.\r\n", None, b"x\r\n\r\n"),
    (b"\r\r\n.\r\n", None, b"\r\n\r\n"),
    (b"a\n..b\r\n.\r\n", None, b"a\r\n..b\r\n"),
    // ".\r\n" after a bare LF is content, not the end.
    (b"a\r\n.\n.\r\n\r\n.\r\n", None, b"a\r\n\r\n.\r\n\r\n"),
];

/// (body as received, offset of its first NUL, content with NULs stripped (`None`:
/// refused for a bare CR/LF), content with NULs stripped and bare CR/LF normalized). The
/// NUL comes before any bare CR/LF, so with NULs refused (the default) each body is
/// refused for its NUL whatever the bare CR/LF policy. A stripped NUL leaves the octet
/// after it where it was: never at a line start, never joined to a CR before it.
type NulRow = (&'static [u8], u64, Option<&'static [u8]>, &'static [u8]);

const NUL_ROWS: &[NulRow] = &[
    (b"bin\x00\xff\x7f\r\n.\r\n", 3, Some(b"bin\xff\x7f\r\n"), b"bin\xff\x7f\r\n"),
    (b"\x00\x00\r\n.\r\n", 0, Some(b"\r\n"), b"\r\n"),
    // The dot after a NUL is content: no stuffing dot, no end of data.
    (b"\x00.\r\n.\r\n", 0, Some(b".\r\n"), b".\r\n"),
    (b"a\r\n\x00.\r\n.\r\n", 3, Some(b"a\r\n.\r\n"), b"a\r\n.\r\n"),
    (b"a\r\n\x00..\r\n.\r\n", 3, Some(b"a\r\n..\r\n"), b"a\r\n..\r\n"),
    // A line ".NUL" has more after its dot: a stuffing dot.
    (b"a\r\n.\x00\r\n.\r\n", 4, Some(b"a\r\n\r\n"), b"a\r\n\r\n"),
    (b"a\x00\r\n.\r\n", 1, Some(b"a\r\n"), b"a\r\n"),
    (b"\x00\n.\r\n.\r\n", 0, None, b"\r\n.\r\n"),
    (b"\x00a\r\x00\n.\r\n.\r\n", 0, None, b"a\r\n\r\n.\r\n"),
];

/// `Some(content)`: the message was taken with this content; `None`: it was refused for
/// a bare CR/LF. Either way at its real end, before the pipelined QUIT.
fn assert_taken_or_refused_bare(r: &Unstuffed, content: Option<&[u8]>, context: &str) {
    match content {
        Some(content) => {
            assert_eq!(r.content, content, "{context}");
            assert_eq!(r.end, Some(Ok(content.len() as u64)), "{context}");
        }
        None => assert!(
            matches!(r.end, Some(Err(DataError::BareLineEnding { .. }))),
            "{context}: {:?}",
            r.end
        ),
    }
    assert_eq!(r.leftover, b"QUIT\r\n", "{context}");
}

#[test]
fn dot_unstuffer_known_answers() {
    for (body, reject, normalize) in DATA_ROWS {
        let input = [*body, b"QUIT\r\n"].concat();
        assert_eq!(unstuff_whole(&input, STRIP), unstuff_whole(&input, REJECT));
        assert_eq!(unstuff_whole(&input, LENIENT), unstuff_whole(&input, NORMALIZE));
        assert_taken_or_refused_bare(&unstuff_whole(&input, REJECT), *reject, &show(body));
        let normalized = unstuff_whole(&input, NORMALIZE);
        assert_taken_or_refused_bare(&normalized, Some(normalize), &show(body));
    }
    for (body, offset, stripped, lenient) in NUL_ROWS {
        let input = [*body, b"QUIT\r\n"].concat();
        let quit = &b"QUIT\r\n"[..];
        for policy in [REJECT, NORMALIZE] {
            let r = unstuff_whole(&input, policy);
            let refused = Some(Err(DataError::Nul { offset: *offset }));
            assert_eq!((r.end, r.leftover.as_slice()), (refused, quit), "{}", show(body));
        }
        assert_taken_or_refused_bare(&unstuff_whole(&input, STRIP), *stripped, &show(body));
        assert_taken_or_refused_bare(&unstuff_whole(&input, LENIENT), Some(lenient), &show(body));
    }
    // The offset names the first bare octet of the raw body.
    let r = unstuff_whole(b"ab\r\nc\nd\re\r\n.\r\n", REJECT);
    assert_eq!(r.end, Some(Err(DataError::BareLineEnding { offset: 5 })));
    assert_eq!(r.content, b"ab\r\nc", "content before the refusal is handed out");
    // Not ended: the undecided tail stays in the buffer.
    for (tail, left) in [(&b"abc\r\n.\r"[..], &b".\r"[..]), (b"abc\r\n.", b"."), (b"abc\r", b"\r")]
    {
        let r = unstuff_whole(tail, REJECT);
        assert_eq!((r.end, r.leftover.as_slice()), (None, left), "{}", show(tail));
        assert_eq!(r.content, b"abc\r\n"[..3 + usize::from(tail.len() > 4) * 2]);
    }
}

#[test]
fn dot_unstuffer_size_limit() {
    let body = b"0123456789\r\n.\r\nQUIT\r\n";
    let exact = unstuff(&[body], REJECT, Some(12));
    assert_eq!((exact.content.as_slice(), exact.end), (&b"0123456789\r\n"[..], Some(Ok(12))));
    // Over the limit: drained to the real end, then refused; never more than the limit
    // handed out.
    for pieces in chunkings(body, 4) {
        let over = unstuff(&pieces, REJECT, Some(11));
        assert_eq!(over.end, Some(Err(DataError::TooLarge { limit: 11 })), "{}", describe(&pieces));
        assert_eq!(over.leftover, b"QUIT\r\n", "{}", describe(&pieces));
        assert!(over.content.len() <= 11, "{}", describe(&pieces));
        assert!(body.starts_with(&over.content), "{}", describe(&pieces));
    }
    // The first refusal wins: a bare LF after the size was exceeded does not change it.
    let both = unstuff(&[b"0123456789\nx\r\n.\r\n"], REJECT, Some(4));
    assert_eq!(both.end, Some(Err(DataError::TooLarge { limit: 4 })));
    let both = unstuff(&[b"0\n123456789x\r\n.\r\n"], REJECT, Some(4));
    assert_eq!(both.end, Some(Err(DataError::BareLineEnding { offset: 1 })));
    let normalized = unstuff(&[b"a\nb\r\n.\r\n"], NORMALIZE, Some(6));
    assert_eq!((normalized.content.as_slice(), normalized.end), (&b"a\r\nb\r\n"[..], Some(Ok(6))));
    let normalized = unstuff(&[b"a\nb\r\n.\r\n"], NORMALIZE, Some(5));
    assert_eq!(normalized.end, Some(Err(DataError::TooLarge { limit: 5 })));
}

#[test]
fn dot_unstuffer_split_anywhere() {
    let mut inputs: Vec<Vec<u8>> =
        DATA_ROWS.iter().map(|(body, _, _)| [*body, b"QUIT\r\n"].concat()).collect();
    inputs.extend(NUL_ROWS.iter().map(|(body, ..)| [*body, b"QUIT\r\n"].concat()));
    inputs.extend(SMUGGLING.iter().map(|(seq, _, _)| smuggling_input(seq)));
    inputs.push(b"abc\r\n.\r".to_vec());
    inputs.push(b"abc\r\n\x00.\r".to_vec());
    for (n, input) in inputs.iter().enumerate() {
        for policy in POLICIES {
            let whole = unstuff_whole(input, policy);
            for pieces in chunkings(input, 5 + n as u64) {
                let split = unstuff(&pieces, policy, None);
                assert_eq!(split, whole, "{} {policy:?} {}", show(input), describe(&pieces));
            }
        }
    }
}

// ----------------------------------------------------------------------------------------
// SMTP smuggling: each non-standard end-of-data sequence followed by a second
// transaction. The reader ends only at the real CRLF "." CRLF.

const SMUGGLED: &[u8] = b"MAIL FROM:<smuggled@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nbody\r\n";
const PREFIX: &[u8] = b"Subject: t\r\n\r\nhello";

/// (sequence, why the default policy refuses the message with its offset in the
/// sequence, content between PREFIX and SMUGGLED when nothing is refused). No sequence
/// holds both a bare CR/LF and a NUL, so a policy that lets the one kind through takes
/// the message.
const SMUGGLING: &[(&[u8], DataError, &[u8])] = &[
    (b"\n.\n", DataError::BareLineEnding { offset: 0 }, b"\r\n.\r\n"),
    (b"\r.\r", DataError::BareLineEnding { offset: 0 }, b"\r\n.\r\n"),
    (b"\r.\n", DataError::BareLineEnding { offset: 0 }, b"\r\n.\r\n"),
    (b"\n.\r", DataError::BareLineEnding { offset: 0 }, b"\r\n.\r\n"),
    (b"\n.\r\n", DataError::BareLineEnding { offset: 0 }, b"\r\n.\r\n"),
    (b"\r\n.\n", DataError::BareLineEnding { offset: 3 }, b"\r\n\r\n"),
    (b"\r.\r\n", DataError::BareLineEnding { offset: 0 }, b"\r\n.\r\n"),
    (b"\r\n.\r", DataError::BareLineEnding { offset: 3 }, b"\r\n\r\n"),
    // NUL is neither a line ending nor an end of data, and it is not text: refused, or
    // dropped without making the dot after it start a line.
    (b"\r\n\x00.\r\n", DataError::Nul { offset: 2 }, b"\r\n.\r\n"),
    (b"\r\n.\x00\r\n", DataError::Nul { offset: 3 }, b"\r\n\r\n"),
    (b"\r\n.\r\r\n", DataError::BareLineEnding { offset: 3 }, b"\r\n\r\n\r\n"),
    (b"\r\r\n.\r\r\n", DataError::BareLineEnding { offset: 0 }, b"\r\n\r\n\r\n\r\n"),
];

fn smuggling_input(sequence: &[u8]) -> Vec<u8> {
    [PREFIX, sequence, SMUGGLED, b".\r\nQUIT\r\n"].concat()
}

/// What `policy` makes of a sequence refused by default for `refusal`: the refusal,
/// moved to its offset in the whole body, or `None` when the policy lets it through.
fn refusal_under(policy: Policy, refusal: DataError) -> Option<DataError> {
    let at = PREFIX.len() as u64;
    match refusal {
        DataError::BareLineEnding { offset } if policy.bare == BareLineEndings::Reject => {
            Some(DataError::BareLineEnding { offset: at + offset })
        }
        DataError::Nul { offset } if policy.nul == NulOctets::Reject => {
            Some(DataError::Nul { offset: at + offset })
        }
        _ => None,
    }
}

#[test]
fn smuggling_sequences_do_not_end_data() {
    for (sequence, refusal, lenient) in SMUGGLING {
        let input = smuggling_input(sequence);
        for policy in POLICIES {
            let context = format!("{} {policy:?}", show(sequence));
            let r = unstuff_whole(&input, policy);
            // Ended exactly once, at the real end: the smuggled commands were consumed as
            // data and only the QUIT after the real end is left for the command reader.
            assert_eq!(r.leftover, b"QUIT\r\n", "{context}");
            match refusal_under(policy, *refusal) {
                Some(refused) => assert_eq!(r.end, Some(Err(refused)), "{context}"),
                None => {
                    // The smuggled transaction is part of the one message.
                    let content = [PREFIX, lenient, SMUGGLED].concat();
                    assert_eq!(r.end, Some(Ok(content.len() as u64)), "{context}");
                    assert_eq!(r.content, content, "{context}");
                }
            }
        }
        // The default refuses every sequence.
        assert!(refusal_under(REJECT, *refusal).is_some());

        // Even with no more input after the smuggled end sequence, the reader waits.
        let cut = [PREFIX, sequence, b"MAIL FROM:<smuggled@x>\r\n"].concat();
        for policy in POLICIES {
            let r = unstuff_whole(&cut, policy);
            assert_eq!(r.end, None, "{} {policy:?}", show(sequence));
            assert!(r.leftover.len() <= 2, "{policy:?} held {}", show(&r.leftover));
        }
    }
}

// ----------------------------------------------------------------------------------------
// DotStuffer

const CONTENTS: &[&[u8]] = &[
    b"",
    b".",
    b"..",
    b"\r\n",
    b".\r\n",
    b"Subject: hi\r\n\r\nbody\r\n",
    b"no final line ending",
    b".starts with a dot\r\n.\r\n..\r\nend.",
    b"bare\nLF and bare\rCR and\r\r\n\n\r",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r.\r",
    b"\r\n.\r\r\n",
    b"x\r",
    b"\x00.\r\n.\x00",
    b"a\r\n\x00.\r\n\x00",
    b"\r\x00\n.\r\n",
];

/// CRLF for every line ending, bare or not, and a final CRLF when the content does not
/// end with one: what the receiver must see after unstuffing.
fn normalized(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < content.len() {
        match content[i] {
            b'\r' if content.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What a server reads from the body a [`DotStuffer`] made of `content`, ending exactly
/// at its end of data: with NULs dropped, the normalized content without them (a dot
/// after a NUL is no line start for either side); by default the same, unless the content
/// holds a NUL, which refuses the message.
fn assert_received(stuffed: &[u8], content: &[u8], context: &str) {
    let input = [stuffed, b"QUIT\r\n"].concat();
    let expected: Vec<u8> = normalized(content).into_iter().filter(|&b| b != 0).collect();
    let stripped = unstuff_whole(&input, STRIP);
    assert_eq!(stripped.content, expected, "{context}");
    assert_eq!(stripped.end, Some(Ok(expected.len() as u64)), "{context}");
    assert_eq!(stripped.leftover, b"QUIT\r\n", "{context}");
    let received = unstuff_whole(&input, REJECT);
    if content.contains(&0) {
        assert!(matches!(received.end, Some(Err(DataError::Nul { .. }))), "{context}");
        assert_eq!(received.leftover, b"QUIT\r\n", "{context}");
    } else {
        assert_eq!(received, stripped, "{context}");
    }
}

fn stuff(pieces: &[&[u8]], mut stuffer: DotStuffer) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        stuffer.encode(piece, &mut out);
    }
    stuffer.finish(&mut out);
    out
}

#[test]
fn dot_stuffer_known_answers() {
    let rows: [(&[u8], &[u8]); 8] = [
        (b"", b".\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"\n.\n", b"\r\n..\r\n.\r\n"),
        (b"a\rb", b"a\r\nb\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
    ];
    for (content, stuffed) in rows {
        assert_eq!(stuff(&[content], DotStuffer::new()), stuffed, "{}", show(content));
    }
    assert_eq!(stuff(&[b".a\nb"], DotStuffer::normalizer()), b".a\r\nb\r\n");
    assert_eq!(stuff(&[b""], DotStuffer::normalizer()), b"");
    // finish() makes the stuffer ready for the next message.
    let mut stuffer = DotStuffer::new();
    let mut out = Vec::new();
    stuffer.encode(b"one", &mut out);
    stuffer.finish(&mut out);
    stuffer.encode(b".two", &mut out);
    stuffer.finish(&mut out);
    assert_eq!(out, b"one\r\n.\r\n..two\r\n.\r\n");
}

#[test]
fn dot_stuffer_split_anywhere_and_round_trip() {
    for (n, content) in CONTENTS.iter().enumerate() {
        for make in [DotStuffer::new, DotStuffer::normalizer] {
            let whole = stuff(&[content], make());
            for pieces in chunkings(content, 6 + n as u64) {
                assert_eq!(
                    stuff(&pieces, make()),
                    whole,
                    "{} {}",
                    show(content),
                    describe(&pieces)
                );
            }
        }
        let stuffed = stuff(&[content], DotStuffer::new());
        // Nothing bare reaches the wire.
        for (i, &b) in stuffed.iter().enumerate() {
            if b == b'\r' {
                assert_eq!(stuffed.get(i + 1), Some(&b'\n'), "{}", show(&stuffed));
            }
            if b == b'\n' {
                assert_eq!(stuffed[i - 1], b'\r', "{}", show(&stuffed));
            }
        }
        assert_received(&stuffed, content, &show(content));
        let normalizer_output = stuff(&[content], DotStuffer::normalizer());
        assert_eq!(normalizer_output, normalized(content), "{}", show(content));
    }
}

// ----------------------------------------------------------------------------------------
// BDAT

fn read_bdat(size: u64, pieces: &[&[u8]]) -> (Vec<u8>, Vec<u8>, bool) {
    let mut reader = BdatReader::new(size);
    let (mut buf, mut chunk) = (BytesMut::new(), Vec::new());
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(bytes) = reader.read(&mut buf) {
            assert!(!bytes.is_empty());
            chunk.extend_from_slice(&bytes);
            assert_eq!(reader.remaining(), size - chunk.len() as u64);
        }
    }
    (chunk, buf.to_vec(), reader.is_done())
}

#[test]
fn bdat_reader_split_anywhere() {
    // BDAT content is taken as is: dots, bare CR/LF, NUL and "CRLF.CRLF" included.
    let chunks: [&[u8]; 5] =
        [b"", b"x", b"line\r\n.\r\n", b"\n.\n\r.\r\x00\xff..\r\n", b"BDAT 5 LAST\r\nRSET\r\n"];
    for chunk in chunks {
        let input = [chunk, b"RSET\r\n"].concat();
        let size = chunk.len() as u64;
        for pieces in chunkings(&input, 7) {
            let (read, leftover, done) = read_bdat(size, &pieces);
            assert_eq!(read, chunk, "{} {}", show(chunk), describe(&pieces));
            assert_eq!(leftover, b"RSET\r\n", "{} {}", show(chunk), describe(&pieces));
            assert!(done);
        }
    }
    // Short input: the reader waits for the rest.
    let (read, leftover, done) = read_bdat(10, &[b"abc"]);
    assert_eq!((read.as_slice(), leftover.as_slice(), done), (&b"abc"[..], &b""[..], false));
    let mut zero = BdatReader::new(0);
    assert!(zero.is_done());
    let mut buf = BytesMut::from(&b"QUIT\r\n"[..]);
    assert_eq!(zero.read(&mut buf), None);
    assert_eq!(&buf[..], b"QUIT\r\n");
}

// ----------------------------------------------------------------------------------------
// DotUnstuffer against a plain model of RFC 5321 section 4.5.2 and the smuggling rules

/// The reference reading of a body that holds its end: (content, result, leftover).
fn model(raw: &[u8], policy: Policy) -> (Vec<u8>, Result<u64, DataError>, &[u8]) {
    let (mut content, mut error, mut at_line_start, mut i) = (Vec::new(), None, true, 0);
    loop {
        let rest = &raw[i..];
        if at_line_start && rest.first() == Some(&b'.') {
            if rest.starts_with(b".\r\n") {
                let result = error.map_or(Ok(content.len() as u64), Err);
                return (content, result, &raw[i + 3..]);
            }
            i += 1;
            at_line_start = false;
            continue;
        }
        match rest {
            [b'\r', b'\n', ..] => {
                content.extend_from_slice(b"\r\n");
                at_line_start = true;
                i += 2;
                continue;
            }
            [b'\r' | b'\n', ..] => {
                if policy.bare == BareLineEndings::Normalize {
                    content.extend_from_slice(b"\r\n");
                } else {
                    error.get_or_insert(DataError::BareLineEnding { offset: i as u64 });
                }
            }
            // Dropped either way; it leaves the line start behind it (below).
            [0, ..] => {
                if policy.nul == NulOctets::Reject {
                    error.get_or_insert(DataError::Nul { offset: i as u64 });
                }
            }
            [b, ..] => content.push(*b),
            [] => unreachable!("every body ends with CRLF . CRLF"),
        }
        at_line_start = false;
        i += 1;
    }
}

#[test]
fn dot_unstuffer_matches_the_model() {
    const ALPHABET: &[u8] = b"..\r\r\n\nax\0";
    let mut rng = XorShift(0x0dd5_eed5);
    for round in 0..3_000 {
        let len = rng.below(24);
        let mut input: Vec<u8> = (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect();
        input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
        for policy in POLICIES {
            let (content, result, leftover) = model(&input, policy);
            let whole = unstuff_whole(&input, policy);
            let context = format!("round {round}: {} {policy:?}", show(&input));
            assert_eq!(whole.end, Some(result), "{context}");
            assert_eq!(whole.leftover, leftover, "{context}");
            if result.is_ok() {
                assert_eq!(whole.content, content, "{context}");
            } else {
                // Refused: what was handed out before the refusal is the content up to the
                // first bare CR/LF or NUL.
                assert!(content.starts_with(&whole.content), "{context}");
            }
            let pieces = chunkings(&input, round).pop().unwrap_or_default();
            assert_eq!(unstuff(&pieces, policy, None), whole, "{context}");
        }
        // What a client stuffs, a server reads back as the normalized content.
        let body = &input[..len];
        let pieces = chunkings(body, round).pop().unwrap_or_default();
        let stuffed = stuff(&pieces, DotStuffer::new());
        assert_received(&stuffed, body, &format!("round {round}: {}", show(body)));
    }
}

// ----------------------------------------------------------------------------------------
// An LMTP client session

/// A server's side of one LMTP session with four recipients: the third refused at RCPT,
/// the others answered 250, 452 and 550 after the data.
fn lmtp_server_bytes(chunking: bool) -> Vec<u8> {
    let extensions = if chunking { "250-CHUNKING\r\n" } else { "" };
    let data = if chunking { "" } else { "354 OK\r\n" };
    format!(
        "220 lmtp.test LMTP ready\r\n250-lmtp.test\r\n250-PIPELINING\r\n{extensions}\
         250 ENHANCEDSTATUSCODES\r\n250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n\
         550 5.1.1 <c@lmtp.test> no such user\r\n250 2.1.5 OK\r\n{data}\
         250 2.0.0 <a@lmtp.test> Saved\r\n452-4.2.2 <b@lmtp.test> Quota\r\n\
         452 4.2.2 exceeded\r\n550 5.7.1 <d@lmtp.test> Rejected\r\n221 2.0.0 Bye\r\n"
    )
    .into_bytes()
}

/// Drives an LMTP client over `pieces` like an application: a transaction once ready,
/// the body when asked, QUIT when it is done; `eof` ends the stream after the last piece.
/// Returns the events and everything the client sent.
fn run_lmtp_client(pieces: &[&[u8]], eof: bool) -> (Vec<ClientEvent>, Vec<u8>) {
    let mut config = ClientConfig::new("client.test");
    config.lmtp = true;
    let mut client = ClientSession::new(config);
    let (mut events, mut out) = (Vec::new(), Vec::new());
    let sender = "s@client.test".parse::<Mailbox<'_>>().unwrap();
    let mut envelope = Envelope::new(ReversePath::Mailbox(sender));
    for r in ["a@lmtp.test", "b@lmtp.test", "c@lmtp.test", "d@lmtp.test"] {
        envelope = envelope.recipient(ForwardPath::Mailbox(r.parse::<Mailbox<'_>>().unwrap()));
    }
    let mut envelope = Some(envelope);
    for (i, piece) in pieces.iter().enumerate() {
        client.handle_input(piece);
        if eof && i + 1 == pieces.len() {
            client.handle_eof();
        }
        while let Some(event) = client.poll_event() {
            match &event {
                ClientEvent::Ready { .. } => {
                    client.send_mail(envelope.take().unwrap()).unwrap();
                }
                ClientEvent::SendBody => {
                    client.send_body(b"Subject: x\r\n\r\n.hi\r\n", true).unwrap()
                }
                ClientEvent::TransactionDone(_) => client.quit(),
                _ => {}
            }
            events.push(event);
            while let Some(bytes) = client.poll_transmit() {
                out.extend_from_slice(&bytes);
            }
        }
    }
    (events, out)
}

#[test]
fn lmtp_client_session_split_anywhere() {
    for chunking in [false, true] {
        let input = lmtp_server_bytes(chunking);
        let whole = run_lmtp_client(&[&input], false);
        let Some(ClientEvent::TransactionDone(result)) =
            whole.0.iter().find(|e| matches!(e, ClientEvent::TransactionDone(_)))
        else {
            panic!("{:?}", whole.0)
        };
        let finals: Vec<String> =
            result.recipients.iter().map(|r| r.final_reply().unwrap().to_string()).collect();
        assert_eq!(
            finals,
            [
                "250 2.0.0 <a@lmtp.test> Saved",
                "452-4.2.2 <b@lmtp.test> Quota\r\n452 4.2.2 exceeded",
                "550 5.1.1 <c@lmtp.test> no such user",
                "550 5.7.1 <d@lmtp.test> Rejected",
            ]
        );
        assert!(matches!(whole.0.last(), Some(ClientEvent::Closed(Ok(())))), "{:?}", whole.0);
        let wire = String::from_utf8(whole.1.clone()).unwrap();
        let body = if chunking {
            "BDAT 19 LAST\r\nSubject: x\r\n\r\n.hi\r\n"
        } else {
            "DATA\r\nSubject: x\r\n\r\n..hi\r\n.\r\n"
        };
        assert_eq!(
            wire,
            format!(
                "LHLO client.test\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<a@lmtp.test>\r\n\
                 RCPT TO:<b@lmtp.test>\r\nRCPT TO:<c@lmtp.test>\r\nRCPT TO:<d@lmtp.test>\r\n\
                 {body}QUIT\r\n"
            )
        );
        for pieces in chunkings(&input, 11) {
            assert_eq!(run_lmtp_client(&pieces, false), whole, "{}", describe(&pieces));
        }
        // The stream ends inside the second per-recipient reply: the first stands, in
        // every split.
        let cut = memmem::find(&input, b"452-4").unwrap() + 8;
        let truncated = &input[..cut];
        let whole = run_lmtp_client(&[truncated], true);
        let Some(ClientEvent::TransactionDone(result)) =
            whole.0.iter().find(|e| matches!(e, ClientEvent::TransactionDone(_)))
        else {
            panic!("{:?}", whole.0)
        };
        let delivered: Vec<bool> = result.recipients.iter().map(|r| r.delivered()).collect();
        assert_eq!(delivered, [true, false, false, false]);
        for pieces in chunkings(truncated, 13) {
            assert_eq!(run_lmtp_client(&pieces, true), whole, "{}", describe(&pieces));
        }
    }
}
