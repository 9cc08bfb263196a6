//! Checks shared by the fuzz targets of sealpost-codec.
//!
//! Each check panics (which libFuzzer reports as a crash) when a property of the codec
//! does not hold: decode→encode→decode round trips, and "only CRLF ends a line" on
//! everything the codec writes.

use sealpost_codec::{Command, CommandDecoder, EhloResponse, Reply, ReplyDecoder};

/// True when every CR and LF in `bytes` is part of a CRLF pair.
pub fn only_crlf(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'\r' => bytes.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && bytes[i - 1] == b'\r',
        _ => true,
    })
}

/// The encoding of `command` is one CRLF line that decodes to an equal command and
/// encodes to the same bytes again.
pub fn check_command_roundtrip(command: &Command<'_>) {
    let bytes = command.to_bytes();
    assert!(bytes.ends_with(b"\r\n"), "encoding lacks CRLF: {bytes:?}");
    let body = &bytes[..bytes.len() - 2];
    assert!(
        !body.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)),
        "CR, LF or NUL inside an encoded command: {bytes:?}"
    );
    let decoder = CommandDecoder::new().max_line(usize::MAX);
    let (rest, again) = match decoder.decode(&bytes) {
        Ok(done) => done,
        Err(e) => panic!("encoding of {command:?} does not decode: {e:?}\n{bytes:?}"),
    };
    assert!(rest.is_empty(), "encoding of {command:?} decodes to more than one command");
    assert_eq!(&again, command, "round trip through {:?}", String::from_utf8_lossy(&bytes));
    assert_eq!(again.to_bytes(), bytes, "encoding is not canonical");
}

/// The encoding of `reply` decodes (with `decoder`'s limits) to an equal reply; when it
/// is a 250 reply, the EHLO reading of it round-trips as well.
pub fn check_reply_roundtrip(decoder: &ReplyDecoder, reply: &Reply<'_>) {
    let bytes = reply.to_bytes();
    assert!(only_crlf(&bytes), "bare CR or LF in an encoded reply: {bytes:?}");
    let (rest, again) = match decoder.decode(&bytes) {
        Ok(done) => done,
        Err(e) => panic!("encoding of {reply:?} does not decode: {e:?}\n{bytes:?}"),
    };
    assert!(rest.is_empty(), "encoding of {reply:?} decodes to more than one reply");
    assert_eq!(&again, reply, "round trip through {:?}", String::from_utf8_lossy(&bytes));
    if let Ok(ehlo) = EhloResponse::from_reply(reply) {
        check_ehlo_roundtrip(&ehlo);
    }
}

/// An EHLO response survives `to_reply`, encoding, decoding and `from_reply` unchanged.
pub fn check_ehlo_roundtrip(ehlo: &EhloResponse<'_>) {
    let bytes = ehlo.to_reply().to_bytes();
    let decoder = ReplyDecoder::new().max_line(usize::MAX).max_lines(usize::MAX);
    let (_, reply) = match decoder.decode(&bytes) {
        Ok(done) => done,
        Err(e) => panic!("EHLO reply {ehlo:?} does not decode: {e:?}\n{bytes:?}"),
    };
    let again = match EhloResponse::from_reply(&reply) {
        Ok(again) => again,
        Err(e) => panic!("EHLO reply {ehlo:?} is no longer an EHLO reply: {e:?}"),
    };
    assert_eq!(&again, ehlo, "EHLO round trip through {:?}", String::from_utf8_lossy(&bytes));
}
