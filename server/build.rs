//! The "built on" date of `srvr` / `stat` / `envi` / `mntr` (`3.9.3-zk-rs, built on
//! 2026-12-03 18:00 UTC`, the shape of Java's): `ZK_RS_BUILT_ON` as given, else
//! `SOURCE_DATE_EPOCH` (reproducible builds), else the time of the commit being built, else
//! the time of the build. Hands it to the compiler as `ZK_RS_BUILT_ON`. The calendar
//! arithmetic is the crate's own `src/dates.rs`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The calendar arithmetic of the crate itself.
#[allow(dead_code)]
#[path = "src/dates.rs"]
mod dates;

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
    let t = dates::utc(epoch_s * 1000);
    println!(
        "cargo:rustc-env=ZK_RS_BUILT_ON={:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    );
}
