//! `DotUnstuffer` fed arbitrary bytes, whole and in arbitrary pieces, in both
//! `BareLineEndings` modes, both `NulOctets` modes and with an optional size limit.
//!
//! Properties: no panic; the pieces give the same end result, content and leftover as
//! the whole input; content is never longer than the raw octets it came from (with
//! `Normalize`, each bare CR/LF becomes CRLF, so there the bound is twice the input); an
//! accepted message is CRLF lines only without NUL, and dot-stuffing it again and
//! unstuffing gives it back unchanged.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sealpost_codec::{BareLineEndings, DataError, DataStep, DotStuffer, DotUnstuffer, NulOctets};
use sealpost_codec_fuzz::only_crlf;

#[derive(Debug, Arbitrary)]
struct Input {
    normalize: bool,
    strip_nul: bool,
    limit: Option<u16>,
    /// Sizes of the pieces the body is fed in (cycled; 0 feeds nothing).
    splits: Vec<u8>,
    /// The raw body; bytes from 0x80 up are mapped to CR, LF, ".", "x" and NUL so that
    /// line endings, stuffing dots, NULs and end-of-data sequences are common.
    body: Vec<u8>,
}

/// What one run of the decoder produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    end: Option<Result<u64, DataError>>,
    content: Vec<u8>,
    /// Raw octets not consumed (after the end, or undecided at the end of the input).
    leftover: Vec<u8>,
    /// The message is refused and being drained (without an end yet, or with one).
    draining: bool,
}

fn decoder(input: &Input) -> DotUnstuffer {
    let policy = if input.normalize { BareLineEndings::Normalize } else { BareLineEndings::Reject };
    let nul = if input.strip_nul { NulOctets::Strip } else { NulOctets::Reject };
    DotUnstuffer::new()
        .bare_line_endings(policy)
        .nul_octets(nul)
        .max_size(input.limit.map(u64::from))
}

/// Drains `buf` into `out`; true once the end of data was consumed.
fn drain(decoder: &mut DotUnstuffer, buf: &mut BytesMut, out: &mut Outcome) -> bool {
    while let Some(step) = decoder.decode(buf) {
        match step {
            DataStep::Chunk(bytes) => {
                assert!(!bytes.is_empty(), "empty chunk");
                assert!(out.end.is_none(), "content after the end");
                out.content.extend_from_slice(&bytes);
            }
            DataStep::End(result) => {
                assert!(out.end.is_none(), "two ends");
                out.end = Some(result);
            }
        }
    }
    assert_eq!(decoder.is_done(), out.end.is_some());
    decoder.is_done()
}

fn run(input: &Input, body: &[u8], split: bool) -> Outcome {
    let mut decoder = decoder(input);
    let mut out = Outcome { end: None, content: Vec::new(), leftover: Vec::new(), draining: false };
    let mut buf = BytesMut::new();
    let mut rest = body;
    let mut sizes = input.splits.iter().cycle();
    while !rest.is_empty() {
        let n =
            if split { sizes.next().map_or(rest.len(), |&n| usize::from(n)) } else { rest.len() };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        buf.extend_from_slice(piece);
        rest = tail;
        if drain(&mut decoder, &mut buf, &mut out) {
            break;
        }
    }
    drain(&mut decoder, &mut buf, &mut out);
    out.leftover = [&buf[..], rest].concat();
    out.draining = decoder.is_draining();
    out
}

fuzz_target!(|input: Input| {
    let specials = [b'\r', b'\n', b'.', b'x', 0, b'\r', b'\n', b'.'];
    let body: Vec<u8> = input
        .body
        .iter()
        .map(|&b| if b >= 0x80 { specials[usize::from(b & 7)] } else { b })
        .collect();
    let whole = run(&input, &body, false);
    let consumed = body.len() - whole.leftover.len();
    assert!(body.ends_with(&whole.leftover));
    let bound = if input.normalize { 2 * consumed } else { consumed };
    assert!(whole.content.len() <= bound, "{} content octets from {consumed}", whole.content.len());

    if input.splits.iter().any(|&n| n > 0) {
        let pieces = run(&input, &body, true);
        assert_eq!(whole.end, pieces.end);
        assert_eq!(whole.leftover, pieces.leftover);
        assert_eq!(whole.draining, pieces.draining);
        // After a refusal the content handed out before it is discarded; how much that
        // was depends on the pieces when the size limit was hit (with or without an end).
        let too_large = matches!(whole.end, Some(Err(DataError::TooLarge { .. })))
            || (whole.end.is_none() && whole.draining && input.limit.is_some());
        if !too_large {
            assert_eq!(whole.content, pieces.content);
        }
    }

    if let Some(Ok(size)) = whole.end {
        assert_eq!(size, whole.content.len() as u64);
        assert!(whole.content.is_empty() || whole.content.ends_with(b"\r\n"));
        assert!(only_crlf(&whole.content), "bare CR or LF in accepted content");
        assert!(!whole.content.contains(&0), "NUL in accepted content");
        // A client's stuffing of the message reads back as the message.
        let mut stuffed = Vec::new();
        let mut stuffer = DotStuffer::new();
        stuffer.encode(&whole.content, &mut stuffed);
        stuffer.finish(&mut stuffed);
        let again = run(
            &Input {
                normalize: false,
                strip_nul: false,
                limit: None,
                splits: Vec::new(),
                body: Vec::new(),
            },
            &stuffed,
            false,
        );
        assert_eq!(again.end, Some(Ok(size)));
        assert_eq!(again.content, whole.content);
        assert!(again.leftover.is_empty());
    }
});
