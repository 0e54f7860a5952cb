//! A raw client byte stream: frames (FrameCodec, jute.maxbuffer), a Connect handshake, then
//! RequestHeader + the body its op type calls for (multi included). Decoding must never panic,
//! and whatever decodes must re-encode to a value that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jute::fuzz_support::check_client_stream(data);
});
