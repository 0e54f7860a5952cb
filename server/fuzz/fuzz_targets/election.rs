//! An election-port connection: the handshake, then framed notifications.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_quorum::fuzz_support::check_election_stream(data);
});
