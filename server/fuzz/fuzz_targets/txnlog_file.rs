//! A txn log file (`log.<zxid>`): entries, torn tails, corruption; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_server::persist::fuzz_support::check_txnlog(data);
});
