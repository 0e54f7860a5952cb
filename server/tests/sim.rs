//! The deterministic simulation of whole ensembles (see `tests/sim/README.md`).
//!
//! ```text
//! cargo test -p zk-server --test sim                     # the default batch of seeds
//! cargo test -p zk-server --test sim -- --seeds 100000   # a longer run
//! cargo test -p zk-server --test sim -- --seed 42 -v     # replay one seed, with its trace
//! ```

#[path = "sim/check.rs"]
mod check;
#[path = "sim/client.rs"]
mod client;
#[path = "sim/cluster.rs"]
mod cluster;
#[path = "sim/disk.rs"]
mod disk;
#[path = "sim/member.rs"]
mod member;
#[path = "sim/net.rs"]
mod net;
#[path = "sim/rng.rs"]
mod rng;

use cluster::{Options, Sim};
use std::process::ExitCode;

/// Seeds run without arguments (tools/test.sh): about 50 s on one core in a debug build
/// (about 50 ms a seed; a release build runs them about ten times faster).
const DEFAULT_SEEDS: u64 = 1000;
const DEFAULT_STEPS: u64 = 2000;
/// The name under which test runners list the default batch.
const TEST_NAME: &str = "ensembles";

fn usage() -> ExitCode {
    eprintln!(
        "usage: sim [--seeds N] [--first S] [--seed S] [--steps N] [--no-faults] [-v]\n\
         \x20 --seeds N    run seeds first..first+N (default {DEFAULT_SEEDS})\n\
         \x20 --first S    the first seed (default 1)\n\
         \x20 --seed S     replay this one seed\n\
         \x20 --steps N    events in the faulty phase of each run (default {DEFAULT_STEPS})\n\
         \x20 --no-faults  no crashes or partitions\n\
         \x20 --twice      run each seed twice and check both runs are the same\n\
         \x20 -v           print the trace of each run"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut seeds = DEFAULT_SEEDS;
    let mut first = 1;
    let mut opts = Options {
        steps: DEFAULT_STEPS,
        faults: true,
        verbose: false,
    };
    let (mut list, mut ignored, mut twice) = (false, false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || args.next().and_then(|v| v.parse::<u64>().ok());
        match a.as_str() {
            "--seeds" => match num() {
                Some(n) => seeds = n,
                None => return usage(),
            },
            "--first" => match num() {
                Some(n) => first = n,
                None => return usage(),
            },
            "--seed" => match num() {
                Some(n) => {
                    first = n;
                    seeds = 1;
                }
                None => return usage(),
            },
            "--steps" => match num() {
                Some(n) => opts.steps = n,
                None => return usage(),
            },
            "--no-faults" => opts.faults = false,
            "--twice" => twice = true,
            "-v" | "--verbose" => opts.verbose = true,
            // The libtest protocol that cargo test and cargo nextest speak to a test binary:
            // one test, `ensembles`, the default batch.
            "--list" => list = true,
            "--ignored" => ignored = true,
            "--format" | "--test-threads" => {
                args.next();
            }
            TEST_NAME | "--exact" | "--nocapture" | "--include-ignored" | "--quiet" | "-q"
            | "--show-output" => {}
            _ if a.starts_with("--test-threads=") || a.starts_with("--format=") => {}
            _ => return usage(),
        }
    }
    if list {
        if !ignored {
            println!("{TEST_NAME}: test");
        }
        return ExitCode::SUCCESS;
    }
    if opts.verbose {
        // The components' own logs (RUST_LOG picks the level; warnings by default).
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stdout)
            .without_time()
            .init();
    }
    let started = std::time::Instant::now();
    let mut total = cluster::Stats::default();
    let mut locked_out_seeds = Vec::new();
    for seed in first..first + seeds {
        let result = Sim::new(seed, opts).run();
        if twice {
            let again = Sim::new(seed, opts).run();
            if format!("{result:?}") != format!("{again:?}") {
                println!("sim: seed {seed} is not deterministic:\n  {result:?}\n  {again:?}");
                return ExitCode::FAILURE;
            }
        }
        match result {
            Ok(s) => {
                total.committed += s.committed;
                total.replies += s.replies;
                total.locked_out += s.locked_out;
                if s.locked_out > 0 && locked_out_seeds.len() < 5 {
                    locked_out_seeds.push(seed);
                }
                total.crashes += s.crashes;
                total.partitions += s.partitions;
                total.virtual_ms += s.virtual_ms;
                total.events += s.events;
                if opts.verbose {
                    println!("seed {seed}: ok {s:?}");
                }
            }
            Err(e) => {
                println!("sim: seed {seed} FAILED: {e}");
                println!(
                    "replay: cargo test -p zk-server --test sim -- --seed {seed} --steps {}{} -v",
                    opts.steps,
                    if opts.faults { "" } else { " --no-faults" }
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "sim: {seeds} seeds ok ({} txns committed, {} replies checked, {} crashes, {} partitions, {} s simulated, {} events; {} runs ended with a member locked out by its acceptedEpoch{}) in {:.1} s",
        total.committed,
        total.replies,
        total.crashes,
        total.partitions,
        total.virtual_ms / 1000,
        total.events,
        total.locked_out,
        if locked_out_seeds.is_empty() {
            String::new()
        } else {
            format!(", e.g. seeds {locked_out_seeds:?}")
        },
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
