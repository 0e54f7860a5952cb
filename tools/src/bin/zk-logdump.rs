//! zk-logdump: print a ZooKeeper txn log file (`log.<zxid>`), like Java's TxnLogToolkit.
//!
//! Usage: zk-logdump <log file> [--json]
//! Every entry's checksum is verified; a torn tail is reported at the end.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use zk_server::persist::dump;
use zk_server::persist::txnlog::TxnLogReader;

fn main() -> ExitCode {
    let mut json = false;
    let mut file: Option<PathBuf> = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--json" | "-json" => json = true,
            "-h" | "--help" => {
                println!("usage: zk-logdump <log file> [--json]");
                return ExitCode::SUCCESS;
            }
            _ if file.is_none() => file = Some(a.into()),
            _ => {
                eprintln!("usage: zk-logdump <log file> [--json]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("usage: zk-logdump <log file> [--json]");
        return ExitCode::from(2);
    };
    let mut r = match TxnLogReader::open_file(&file) {
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
            "torn tail at offset {} of {} bytes ({}); the entries after it are lost",
            t.valid_len, t.file_len, t.reason
        );
    }
    ExitCode::SUCCESS
}
