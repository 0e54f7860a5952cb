//! The "built on" date of `srvr` / `stat` / `envi` / `mntr` (`3.9.3-zk-rs, built on
//! 2026-12-03 18:00 UTC`, the shape of Java's): `ZK_RS_BUILT_ON` as given, else
//! `SOURCE_DATE_EPOCH` (reproducible builds), else the time of the commit being built, else
//! the time of the build. Hands it to the compiler as `ZK_RS_BUILT_ON`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn main() {
    println!("cargo:rerun-if-env-changed=ZK_RS_BUILT_ON");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    if std::env::var_os("ZK_RS_BUILT_ON").is_some() {
        // `option_env!` sees it as given.
        return;
    }
    // A new commit changes HEAD or the branch it points at.
    for reference in ["HEAD", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", reference]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &branch]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    let epoch_s = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| git(&["log", "-1", "--format=%ct"])?.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let (year, month, day) = civil(epoch_s.div_euclid(86_400));
    let minute_of_day = epoch_s.rem_euclid(86_400) / 60;
    println!(
        "cargo:rustc-env=ZK_RS_BUILT_ON={year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    );
}
