//! zk-snapdump: print a ZooKeeper snapshot (`snapshot.<zxid>[.gz|.snappy]`), like Java's
//! SnapshotFormatter.
//!
//! Usage: zk-snapdump [-d] <snapshot file> [--json]
//!   -d      print each znode's data (base64) instead of its length
//!   --json  one JSON object: zxid, sessions, digest, nodes with data (base64), ACL and stat

use std::path::PathBuf;
use std::process::ExitCode;
use zk_server::persist::{dump, snapshot};

const USAGE: &str = "usage: zk-snapdump [-d] <snapshot file> [--json]";

fn main() -> ExitCode {
    let (mut json, mut data) = (false, false);
    let mut file: Option<PathBuf> = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--json" | "-json" => json = true,
            "-d" => data = true,
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
    let extended = std::env::var("ZK_EXTENDED_TYPES").map_or(true, |v| v != "false");
    let s = match snapshot::load(&file, extended) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let out = if json {
        dump::snapshot_json(&s.tree, s.zxid, s.trailer.digest.as_ref())
    } else {
        dump::snapshot_text(&s.tree, s.zxid, s.trailer.digest.as_ref(), data)
    };
    // A closed pipe (e.g. `| head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    ExitCode::SUCCESS
}
