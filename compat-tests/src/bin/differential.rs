//! Differential runner: the same seeded random operation sequence against Java 3.8 and
//! zkserver, comparing normalised replies and watch events. Exits 1 on a mismatch.
//!
//! ```text
//! cargo build --release --bin zkserver
//! cargo run -p compat-tests --bin differential -- --seed 42 --ops 10000
//! ```

use compat_tests::differential::{run, Config};
use std::process::ExitCode;

const USAGE: &str = "usage: differential [--seed N] [--ops N] [--sessions N] [--left java|zkrs] \
[--right java|zkrs] [--max-mismatches N] [--skip-kinds k1,k2 (debugging only)] [--verbose]

Environment: ZKRS_BIN (zkserver binary, default <workspace>/target/release/zkserver),
JAVA (java binary), ZK_COMPAT_TMP (where server directories go), ZK_COMPAT_KEEP=1 (keep them).";

fn parse() -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--seed" => cfg.seed = val("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--ops" => cfg.ops = val("--ops")?.parse().map_err(|e| format!("--ops: {e}"))?,
            "--sessions" => {
                cfg.sessions = val("--sessions")?
                    .parse()
                    .map_err(|e| format!("--sessions: {e}"))?
            }
            "--left" => cfg.left = val("--left")?.parse()?,
            "--right" => cfg.right = val("--right")?.parse()?,
            "--max-mismatches" => {
                cfg.max_mismatches = val("--max-mismatches")?
                    .parse()
                    .map_err(|e| format!("--max-mismatches: {e}"))?
            }
            "--skip-kinds" => {
                cfg.skip_kinds = val("--skip-kinds")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "--verbose" | "-v" => cfg.verbose = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let cfg = match parse() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !cfg.skip_kinds.is_empty() {
        eprintln!(
            "note: skipping {:?} (debugging only: the committed test runs every kind)",
            cfg.skip_kinds
        );
    }
    match run(&cfg) {
        Ok(report) => {
            println!("{report}");
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("setup failed: {e}");
            ExitCode::from(3)
        }
    }
}
