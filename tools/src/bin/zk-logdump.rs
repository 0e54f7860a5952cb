//! zk-logdump: print a ZooKeeper txn log file (`log.<zxid>`), like Java's TxnLogToolkit, or
//! cut a damaged one at a named zxid (the operator's explicit action that zkserver's refusal
//! to start on a corrupt log points to; Java's `TxnLogToolkit -r` in spirit).
//!
//! Usage:
//!   zk-logdump <log file> [--json]
//!   zk-logdump truncate --zxid <zxid> [--yes] <log file>
//! Every entry's checksum is verified; a torn tail is reported at the end, damage is an error.
//! `truncate` keeps the entries up to and including `<zxid>` (hex with 0x, or decimal) and
//! drops the rest of the file; without `--yes` it only says what it would do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zk_server::persist::txnlog::{self, TxnLogReader};
use zk_server::persist::{self, dump};

const USAGE: &str = "usage: zk-logdump <log file> [--json]\n       zk-logdump truncate --zxid <zxid> [--yes] <log file>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("truncate") {
        return truncate(&args[1..]);
    }
    let mut json = false;
    let mut file: Option<PathBuf> = None;
    for a in args {
        match a.as_str() {
            "--json" | "-json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if file.is_none() => file = Some(a.into()),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    dump_file(&file, json)
}

fn parse_zxid(s: &str) -> Option<i64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as i64),
        None => s.parse().ok(),
    }
}

fn truncate(args: &[String]) -> ExitCode {
    let mut zxid = None;
    let mut yes = false;
    let mut file: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--zxid" => zxid = it.next().and_then(|z| parse_zxid(z)),
            "--yes" | "-y" => yes = true,
            _ if file.is_none() && !a.starts_with('-') => file = Some(a.into()),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(zxid), Some(file)) = (zxid, file) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let len = match std::fs::metadata(&file) {
        Ok(m) => m.len(),
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let cut = match txnlog::end_of_entry(&file, zxid) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let later = later_logs(&file);
    println!(
        "{}: keep the entries up to and including zxid {}, cut at offset {cut} ({} bytes after it dropped)",
        file.display(),
        jute::Zxid::from(zxid),
        len - cut
    );
    for p in &later {
        println!(
            "note: {} holds later txns; move it away too, or the txns between are missing",
            p.display()
        );
    }
    if !yes {
        println!("nothing changed: re-run with --yes to cut the file");
        return ExitCode::from(1);
    }
    match txnlog::truncate_file_after(&file, zxid) {
        Ok((new_len, dropped)) => {
            println!("cut: the file is now {new_len} bytes ({dropped} bytes dropped)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Log files in the same folder that start after `file`.
fn later_logs(file: &Path) -> Vec<PathBuf> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(start) = persist::zxid_from_name(name, persist::LOG_PREFIX) else {
        return Vec::new();
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    persist::list_files(dir, persist::LOG_PREFIX)
        .unwrap_or_default()
        .into_iter()
        .filter(|(z, _)| *z > start)
        .map(|(_, p)| p)
        .collect()
}

fn dump_file(file: &Path, json: bool) -> ExitCode {
    let mut r = match TxnLogReader::open_file(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    let mut printed_header = false;
    loop {
        let entry = r.next_entry();
        if !printed_header && !json {
            if let Some(h) = r.header() {
                let _ = writeln!(
                    out,
                    "ZooKeeper Transactional Log File with dbid {} txnlog format version {}",
                    h.dbid, h.version
                );
                printed_header = true;
            }
        }
        match entry {
            Ok(Some(e)) => {
                count += 1;
                let line = if json {
                    dump::txn_json(&e.txn, e.digest.as_ref())
                } else {
                    dump::txn_line(&e.txn, e.digest.as_ref())
                };
                if writeln!(out, "{line}").is_err() {
                    // e.g. a closed pipe: stop quietly
                    return ExitCode::SUCCESS;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !json {
        let _ = writeln!(out, "EOF reached after {count} txns.");
    }
    let _ = out.flush();
    for t in r.torn_tails() {
        eprintln!(
            "torn tail at offset {} of {} bytes ({}): a record cut short by a crash, never acknowledged",
            t.valid_len, t.file_len, t.reason
        );
    }
    ExitCode::SUCCESS
}
