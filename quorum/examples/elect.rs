//! Runs only the leader election of one ensemble member and prints the outcome.
//!
//! ```text
//! cargo run -p zk-quorum --example elect -- zoo.cfg [--myid N] [--zxid Z] [--epoch E] [--stay SECS]
//! ```
//!
//! Reads the `server.N` lines of `zoo.cfg` (and `dataDir/myid` unless `--myid` is given),
//! listens on this server's election port, proposes itself with the given last zxid and
//! current epoch (default 0, 0; hex with `0x`), and prints one line when the round is decided:
//!
//! ```text
//! FOLLOWING leader=3 zxid=0x0 electionEpoch=1 peerEpoch=0
//! ```
//!
//! With `--stay`, it then keeps answering other servers' notifications for that long (a real
//! server would now lead or follow on the quorum port; this one only votes). `RUST_LOG=debug`
//! shows the notifications.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use zk_quorum::election::fle::FleConfig;
use zk_quorum::election::net::{ElectionHandle, NetConfig};
use zk_quorum::verifier::{QuorumMaj, QuorumServer};

fn parse_num(s: &str) -> Result<i64, String> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("not a number: {s}"))
}

/// The few keys of `zoo.cfg` the election needs: `dataDir` and the `server.N` lines.
fn read_config(path: &Path) -> Result<(QuorumMaj, Option<PathBuf>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut servers = Vec::new();
    let mut data_dir = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if let Some(id) = key.strip_prefix("server.") {
            let sid = id.parse::<i64>().map_err(|_| format!("bad key {key}"))?;
            servers.push(QuorumServer::parse(sid, value).map_err(|e| e.to_string())?);
        } else if key == "dataDir" {
            data_dir = Some(PathBuf::from(value.trim()));
        }
    }
    if servers.is_empty() {
        return Err(format!("{}: no server.N lines", path.display()));
    }
    Ok((QuorumMaj::new(servers, 0), data_dir))
}

async fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let cfg_path = args
        .next()
        .ok_or("usage: elect zoo.cfg [--myid N] [--zxid Z] [--epoch E] [--stay SECS]")?;
    let (mut myid, mut zxid, mut epoch, mut stay) = (None, 0, 0, 0);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--myid" => myid = Some(parse_num(&value)?),
            "--zxid" => zxid = parse_num(&value)?,
            "--epoch" => epoch = parse_num(&value)?,
            "--stay" => stay = parse_num(&value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let (view, data_dir) = read_config(Path::new(&cfg_path))?;
    let myid = match myid {
        Some(id) => id,
        None => {
            let file = data_dir
                .ok_or("no dataDir for the myid file (or give --myid)")?
                .join("myid");
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            parse_num(text.trim())?
        }
    };
    let node = ElectionHandle::bind(NetConfig::new(FleConfig::new(myid, view)))
        .await
        .map_err(|e| format!("cannot listen on the election port: {e}"))?;
    let outcome = node
        .look_for_leader(zxid.into(), epoch)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} leader={} zxid={} electionEpoch={} peerEpoch={}",
        format!("{:?}", outcome.state).to_uppercase(),
        outcome.vote.leader,
        outcome.vote.zxid,
        outcome.vote.election_epoch,
        outcome.vote.peer_epoch
    );
    if stay > 0 {
        tokio::time::sleep(Duration::from_secs(stay as u64)).await;
    }
    node.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("elect: {e}");
            ExitCode::FAILURE
        }
    }
}
