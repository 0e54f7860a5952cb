//! The SNAP sync stream after a SNAP packet, in reads of varying sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_quorum::fuzz_support::check_snap_stream(data);
});
