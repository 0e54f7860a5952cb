//! A quorum-port byte stream: QuorumPackets and every payload decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_quorum::fuzz_support::check_quorum_stream(data);
});
