//! A snapshot file, plain, snappy-java framed and gzip; the loader that builds a tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_server::persist::fuzz_support::check_snapshot(data);
});
