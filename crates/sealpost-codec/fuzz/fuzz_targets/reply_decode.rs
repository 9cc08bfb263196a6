//! Arbitrary bytes through `ReplyDecoder` with arbitrary limits: no panic, a reply cut
//! short is `Incomplete`, and every decoded reply (and its EHLO reading, for 250
//! replies) re-encodes to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_codec::{DecodeError, ReplyDecoder};
use sealpost_codec_fuzz::check_reply_roundtrip;

fuzz_target!(|data: &[u8]| {
    let [line_knob, lines_knob, input @ ..] = data else {
        return;
    };
    let decoder = ReplyDecoder::new()
        .max_line(6 + usize::from(*line_knob) * 8)
        .max_lines(1 + usize::from(*lines_knob % 32));
    let mut input = &input[..];
    while !input.is_empty() {
        match decoder.decode(input) {
            Ok((rest, reply)) => {
                let consumed = input.len() - rest.len();
                assert!(consumed >= 5 && input[..consumed].ends_with(b"\r\n"));
                assert_eq!(decoder.decode(&input[..consumed - 1]), Err(DecodeError::Incomplete));
                match decoder.decode(&input[..consumed]) {
                    Ok((tail, same)) => assert!(tail.is_empty() && same == reply),
                    Err(e) => panic!("a reply depends on what follows it: {e:?}"),
                }
                check_reply_roundtrip(&decoder, &reply);
                input = rest;
            }
            Err(DecodeError::Malformed { consumed, .. }) => {
                assert!(consumed >= 2 && consumed <= input.len());
                input = &input[consumed..];
            }
            // The client session gives up on both.
            Err(DecodeError::Incomplete | DecodeError::LineTooLong { .. }) => break,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
});
