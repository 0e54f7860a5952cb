//! `zkserver [zoo.cfg]`: a standalone ZooKeeper 3.8 compatible server. Without an argument
//! it serves on 127.0.0.1:2181 with an embedded default config (dataDir ./zk-data).

use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use zk_server::config;
use zk_server::database::log_thread::TxnLog;
use zk_server::database::{autopurge, Database, DbOptions};
use zk_server::persist::snapshot::SnapshotOptions;
use zk_server::pipeline::{Input, Mode, Pipeline};
use zk_server::shell::{self, Shell, ToPipeline, Upstream};
use zk_server::tree::DataTree;

/// mimalloc instead of glibc's malloc: the pipeline thread allocates what the log thread and
/// the connection writers free, a pattern glibc serves from its locked arenas with empty
/// thread caches (a quarter of the pipeline's time under a create load was `_int_malloc`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Most pipeline messages handled before their replies are sent.
const PIPELINE_BATCH: usize = 64;

/// What start-up opened for the pipeline.
struct Opened {
    tree: DataTree,
    /// The tree's digest.
    digest: i64,
    log: TxnLog,
    /// Where snapshots go, and how they are written.
    snap_dir: std::path::PathBuf,
    snapshot_options: SnapshotOptions,
    /// Txns replayed from the logs after the snapshot.
    replayed: u64,
}

/// Open the database in dataDir/dataLogDir (as every role does) and start its txn log
/// thread; the tree goes to the pipeline.
fn open_database(
    cfg: &config::Config,
    pipeline: mpsc::Sender<ToPipeline>,
) -> Result<Opened, Box<dyn std::error::Error + Send + Sync>> {
    let mut db = Database::open(DbOptions::from_config(cfg, None))?;
    if cfg.autopurge_purge_interval_hours > 0 {
        autopurge::start(
            cfg.data_dir.clone(),
            cfg.data_log_dir.clone(),
            cfg.autopurge_snap_retain_count as usize,
            Duration::from_secs(cfg.autopurge_purge_interval_hours as u64 * 3600),
        );
    }
    let replayed = db.replayed();
    let (tree, digest) = db.hand_to_pipeline()?;
    let snap_dir = db.snap_dir().to_path_buf();
    let snapshot_options = db.options().snapshot.clone();
    let log = TxnLog::start(db.into_log(), move |zxid| {
        pipeline
            .blocking_send(ToPipeline::Input(Input::Durable { zxid }))
            .is_ok()
    })?;
    Ok(Opened {
        tree,
        digest,
        log,
        snap_dir,
        snapshot_options,
        replayed,
    })
}

/// mimalloc's options for a long-running server's footprint: commit arena memory on demand
/// and hand freed pages back at once (with its defaults 1M znodes took 259 MiB, with these
/// 230). mimalloc reads them from the environment when it starts, before `main`, so when they
/// are missing the binary sets them and replaces itself (same pid) once.
fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    const OPTIONS: [(&str, &str); 2] = [
        ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
        ("MIMALLOC_PURGE_DELAY", "0"),
    ];
    if OPTIONS.iter().all(|(k, _)| std::env::var_os(k).is_some()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1));
    for (k, v) in OPTIONS {
        if std::env::var_os(k).is_none() {
            cmd.env(k, v);
        }
    }
    // Only returns on failure: then run with mimalloc's defaults.
    let err = cmd.exec();
    eprintln!("zkserver: could not restart with allocator options ({err}); using defaults");
}

const USAGE: &str = "\
usage: zkserver [ZOO_CFG]
       zkserver --help | --version

Runs a ZooKeeper server. With no argument: a standalone server on 127.0.0.1:2181 with
dataDir=./zk-data. ZOO_CFG is a Java zoo.cfg (the same keys; `compat.version=3.8|3.9`,
default 3.9, picks the Java generation to behave as). Log level: RUST_LOG (default info).
";

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--help" | "-h") => {
            print!("{USAGE}");
            return;
        }
        Some("--version" | "-V") => {
            println!("zkserver {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Some(flag) if flag.starts_with('-') => {
            eprint!("zkserver: unknown option {flag}\n{USAGE}");
            std::process::exit(2);
        }
        _ => {}
    }
    tune_allocator();
    // Colours only for a person at a terminal, never into a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let cfg = match std::env::args().nth(1) {
        None => config::embedded_default(),
        Some(path) => match config::load(std::path::Path::new(&path)) {
            Ok((cfg, warnings)) => {
                for w in warnings {
                    warn!("{path}: {w}");
                }
                cfg
            }
            Err(e) => {
                error!("{path}: {e}");
                eprintln!("zkserver: {path}: {e}");
                std::process::exit(2);
            }
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if cfg.is_distributed() {
        // An ensemble member: election, then follow (or observe) the leader.
        rt.block_on(zk_server::peer::run(cfg));
    } else {
        rt.block_on(run(cfg));
    }
}

async fn run(cfg: config::Config) {
    let addr = cfg.client_socket_addr();
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            error!("cannot bind client port {addr}: {e}");
            std::process::exit(1);
        }
    };
    info!("binding to port {addr}");
    let (tx, mut rx) = mpsc::channel::<ToPipeline>(8192);
    shell::spawn_ticker(tx.clone(), cfg.tick_time_ms);
    let pipeline = Pipeline::new(cfg.clone(), Mode::Standalone, shell::now(), shell::seed());
    let mut shell = Shell::new(pipeline, tx.clone());
    // Load the database before the client port answers anything but four-letter words
    // from the listener's backlog: sessions are served only once it is loaded.
    match open_database(&cfg, tx.clone()) {
        Ok(db) => {
            shell.upstream = Upstream::TxnLog(db.log);
            shell.write_snapshots_to(db.snap_dir, db.snapshot_options);
            shell.pipeline.load(shell::now(), db.tree, db.digest);
            shell.pipeline.serve_standalone();
            if db.replayed > 0 {
                // Next start-up reads this snapshot instead of replaying the logs again.
                shell.pipeline.snapshot_now();
                shell.flush();
            }
        }
        Err(e) => {
            error!(
                "cannot open the database in {}: {e}",
                cfg.data_dir.display()
            );
            std::process::exit(1);
        }
    }
    let flow = zk_server::flow::ServerFlow::new(zk_server::flow::Limits::from_config(&cfg));
    tokio::spawn(zk_server::net::serve(
        listener,
        tx,
        flow,
        std::sync::Arc::new(cfg.clone()),
    ));
    // The pipeline: one thread-confined owner of all state. It takes what is queued (up to
    // a bound, so replies do not wait long) before sending the replies.
    while let Some(msg) = rx.recv().await {
        shell.step(msg);
        for _ in 1..PIPELINE_BATCH {
            match rx.try_recv() {
                Ok(msg) => shell.step(msg),
                Err(_) => break,
            }
        }
        shell.flush();
    }
}
