//! Arbitrary bytes through `LineFramer` and `CommandDecoder` (fed the same stream, with
//! the same line limit): no panic, both agree on every line, a line cut short is
//! `Incomplete` (never a wrong parse), and every decoded command re-encodes to one CRLF
//! line that decodes to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_codec::{Command, CommandDecoder, DecodeError, Frame, LineFramer};
use sealpost_codec_fuzz::check_command_roundtrip;

fuzz_target!(|data: &[u8]| {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    // Limits from 8 octets up, so that short inputs reach the overlong-line path too.
    let limit = 8 + usize::from(knob) * 4;
    let decoder = CommandDecoder::new().max_line(limit);
    let mut framer = LineFramer::new(limit);
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let discarding = framer.is_discarding();
        match framer.next_line(rest) {
            Frame::Line { len } => {
                assert!(!discarding && (2..=limit).contains(&len));
                let line = &rest[..len];
                assert!(line.ends_with(b"\r\n"));
                // Streaming: without its last octet the line is incomplete.
                assert_eq!(decoder.decode(&line[..len - 1]), Err(DecodeError::Incomplete));
                match (Command::decode_line(line), decoder.decode(rest)) {
                    (Ok(command), Ok((after, again))) => {
                        assert_eq!(after.len(), rest.len() - len);
                        assert_eq!(command, again);
                        check_command_roundtrip(&command);
                    }
                    (Err(error), Err(DecodeError::Malformed { consumed, error: again })) => {
                        assert_eq!((consumed, &error), (len, &again));
                    }
                    (a, b) => panic!("framer and decoder disagree on {line:?}: {a:?} / {b:?}"),
                }
                pos += len;
            }
            Frame::Overlong { len, ended } => {
                assert!(len > 0 && len <= rest.len());
                if !discarding {
                    assert_eq!(decoder.decode(rest), Err(DecodeError::LineTooLong { limit }));
                }
                if ended {
                    assert!(rest[..len].ends_with(b"\r\n"));
                }
                pos += len;
            }
            Frame::Incomplete => {
                if !discarding {
                    assert!(rest.len() < limit);
                    assert_eq!(decoder.decode(rest), Err(DecodeError::Incomplete));
                }
                break;
            }
        }
    }
});
