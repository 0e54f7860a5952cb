//! The differential runner as a test: 10,000 seeded random operations on 3 sessions against
//! Java 3.8.0 and zkserver in 3.8 mode, and against Java 3.9.3 and zkserver in 3.9 mode
//! (zkserver must be built: `cargo build --release --bin zkserver`, as tools/test.sh does).
//! Every reply and watch event must match after normalisation.

use compat_tests::differential::{run, Config};
use compat_tests::server::Impl;

#[test]
fn java_and_zkrs_agree_on_10000_random_ops() {
    let cfg = Config {
        seed: 20240601,
        ops: 10_000,
        sessions: 3,
        left: Impl::Java,
        right: Impl::Zkrs,
        ..Config::default()
    };
    let report = run(&cfg).unwrap_or_else(|e| panic!("could not start the servers: {e}"));
    assert!(report.passed(), "the servers disagree:\n{report}");
    println!("{report}");
}

#[test]
fn java39_and_zkrs39_agree_on_10000_random_ops() {
    let cfg = Config {
        seed: 20261203,
        ops: 10_000,
        sessions: 3,
        left: Impl::Java39,
        right: Impl::Zkrs39,
        ..Config::default()
    };
    let report = run(&cfg).unwrap_or_else(|e| panic!("could not start the servers: {e}"));
    assert!(report.passed(), "the servers disagree:\n{report}");
    println!("{report}");
}
