//! Arbitrary valid commands: `decode(encode(x)) == x`, and the encoding is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_codec::Command;
use sealpost_codec_fuzz::check_command_roundtrip;

fuzz_target!(|command: Command<'static>| {
    check_command_roundtrip(&command);
});
