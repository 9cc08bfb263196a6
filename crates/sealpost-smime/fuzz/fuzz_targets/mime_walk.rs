//! The MIME readers on arbitrary bytes: canonical form, header splitting, multipart
//! splitting at the Content-Type's boundary, transfer decoding, the 7-bit re-encoding that
//! signing does, and `classify`.
//!
//! Properties: no panic; the canonical form has only CRLF and is a fixed point; fields and
//! body put together are the input; a multipart's preamble, parts and epilogue lie in
//! order inside the body and no part holds a delimiter line; base64 made by the crate
//! decodes to its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_smime::fuzzing;
use sealpost_smime_fuzz::mime::{check_multipart, check_split, only_crlf};

fuzz_target!(|data: &[u8]| {
    let canonical = fuzzing::canonicalize(data);
    assert!(only_crlf(&canonical), "canonical form with a bare CR or LF");
    assert_eq!(fuzzing::canonicalize(&canonical), canonical, "canonicalize is not idempotent");

    if let Ok((fields, body)) = fuzzing::split(&canonical) {
        check_split(&canonical, &fields, body);
        for (_, raw) in &fields {
            let _ = fuzzing::field_value(raw);
        }
        let (media, boundary, encoding) = fuzzing::content_type(&fields);
        if let Some(boundary) = boundary
            && let Ok((preamble, parts, epilogue)) = fuzzing::split_multipart(body, &boundary)
        {
            assert!(media.starts_with("multipart/") || !media.is_empty());
            check_multipart(body, &boundary, preamble, &parts, epilogue);
            for part in parts {
                if let Ok((fields, body)) = fuzzing::split(part) {
                    check_split(part, &fields, body);
                }
            }
        }
        let _ = fuzzing::decode_body(&encoding, body);
    }

    if !data.is_empty() {
        let encoded = fuzzing::encode_base64(data);
        assert!(only_crlf(&encoded) && encoded.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert_eq!(fuzzing::decode_body("base64", &encoded).ok().as_deref(), Some(data));
    }
    let _ = fuzzing::body_entity(data);
    let _ = sealpost_smime::classify(data);
});
