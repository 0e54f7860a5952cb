//! `zkserver [-Dname=value ...] [zoo.cfg]`: a ZooKeeper server compatible with Java's 3.8 and
//! 3.9, standalone or in an ensemble (`zkserver check zoo.cfg`: its offline pre-flight, see
//! `zk_server::check`). Without a config path it serves on 127.0.0.1:2181 with
//! an embedded default config (dataDir ./zk-data). Launched like Java's (see `launch`):
//! `-D` system properties, `JVMFLAGS` / `SERVER_JVMFLAGS`, `$ZOOCFGDIR/java.env`, and the
//! log in `$ZOO_LOG_DIR` (see `logfile`).

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use zk_server::audit::{self, AuditEvent, Outcome};
use zk_server::config;
use zk_server::database::log_thread::TxnLog;
use zk_server::database::{autopurge, Database, DbOptions};
use zk_server::launch;
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
usage: zkserver [-Dname=value ...] [ZOO_CFG]
       zkserver check [-Dname=value ...] ZOO_CFG
       zkserver --help | --version

Runs a ZooKeeper server. With no ZOO_CFG: a standalone server on 127.0.0.1:2181 with
dataDir=./zk-data. ZOO_CFG is a Java zoo.cfg (the same keys; `compat.version=3.8|3.9`,
default 3.9, picks the Java generation to behave as). -D options are Java system properties
(-Dreadonlymode.enabled=true, -Dzookeeper.snapCount=...), also read from the -D words of
SERVER_JVMFLAGS and JVMFLAGS and from $ZOOCFGDIR/java.env, as Java's zkServer.sh passes them.
Log: stderr, or with ZOO_LOG_DIR (-Dzookeeper.log.dir) set
$ZOO_LOG_DIR/zookeeper-<user>-server-<host>.log (ZOO_LOG_FILE, -Dzookeeper.log.file; rolling at
256 MB, 20 kept); level and appenders from RUST_LOG, else -Dzookeeper.root.logger, else
ZOO_LOG4J_PROP (INFO,ROLLINGFILE / WARN,CONSOLE), else info. With audit.enable=true the audit
log is $ZOO_LOG_DIR/zookeeper_audit.log (10 MB, 10 kept), without ZOO_LOG_DIR the server log.

`check` reads ZOO_CFG (with the same -D options and environment) and its dataDir and
dataLogDir without writing to them, verifies the snapshot seals, txn log CRCs and digests,
and prints what the server would serve. Exit status: 0 ok; 1 the server would not start on
this database; 2 bad command line or config; 3 it would start but damage was found.
";

/// `$ZOOCFGDIR/java.env`, else `conf/java.env` beside the binary's directory (`zkEnv.sh`'s
/// default `$ZOOBINDIR/../conf`).
fn java_env_path() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("ZOOCFGDIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::current_exe()
            .ok()?
            .parent()?
            .parent()?
            .join("conf"),
    };
    Some(dir.join("java.env"))
}

/// This machine's name, as `$HOSTNAME` in `zkServer.sh`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Logging to stderr and/or Java's rolling log file, at the level the launch sets (see
/// `logfile::settings`). Returns the settings, with the file dropped if it cannot be opened.
fn init_logging(properties: &[(String, String)]) -> zk_server::logfile::LogSettings {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    use zk_server::logfile;
    let mut settings = logfile::settings(|name| std::env::var(name).ok(), properties, &host_name());
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.filter).unwrap_or_else(|e| {
        eprintln!("zkserver: log level {:?}: {e}; using info", settings.filter);
        tracing_subscriber::EnvFilter::new("info")
    });
    let file = settings.file.as_ref().and_then(|path| {
        match logfile::RollingFile::open(
            path,
            logfile::DEFAULT_MAX_FILE_BYTES,
            logfile::DEFAULT_MAX_BACKUPS,
        ) {
            Ok(f) => Some(std::sync::Mutex::new(f)),
            Err(e) => {
                eprintln!("zkserver: cannot open log file {}: {e}", path.display());
                None
            }
        }
    });
    if file.is_none() {
        settings.file = None;
        settings.console = true;
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        None => {
            // Colours only for a person at a terminal, never into a log file.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            builder.with_ansi(ansi).with_writer(std::io::stderr).init();
        }
        Some(file) if settings.console => {
            let writer = std::io::stderr.and(file);
            builder.with_ansi(false).with_writer(writer).init();
        }
        Some(file) => builder.with_ansi(false).with_writer(file).init(),
    }
    settings
}

/// `audit.enable`: Java's `ZKAuditProvider` ("ZooKeeper audit is enabled."), its only logger
/// class, and its shutdown hook's `serverStop` on SIGTERM / SIGINT (exiting then as the JVM
/// does, 128 + the signal).
fn start_audit_log(
    cfg: &config::Config,
    log_dir: Option<&std::path::Path>,
    rt: &tokio::runtime::Runtime,
) {
    if let Some(class) = cfg
        .audit_impl_class
        .as_deref()
        .filter(|c| *c != audit::DEFAULT_IMPL_CLASS)
    {
        // Java fails in its ZKAuditProvider initialiser with this; it has no other loggers
        // to offer here, so refuse to start rather than serve without the audit log.
        error!(
            "Couldn't instantiate {class}: zkserver's only audit logger is {}",
            audit::DEFAULT_IMPL_CLASS
        );
        eprintln!("zkserver: Couldn't instantiate {class} (audit.impl.class)");
        std::process::exit(1);
    }
    match audit::writer::start(log_dir, audit::writer::server_user()) {
        Ok(Some(path)) => info!("ZooKeeper audit is enabled. Audit log: {}", path.display()),
        Ok(None) => info!("ZooKeeper audit is enabled. Audit records go to this log"),
        Err(e) => {
            error!("cannot open the audit log in {:?}: {e}", log_dir);
            std::process::exit(1);
        }
    }
    rt.spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            warn!("cannot catch SIGTERM/SIGINT: no serverStop audit record");
            return;
        };
        let code = tokio::select! {
            _ = term.recv() => 128 + 15,
            _ = int.recv() => 128 + 2,
        };
        audit::writer::submit(vec![AuditEvent::server(audit::OP_STOP, Outcome::Invoked)]);
        audit::writer::flush();
        std::process::exit(code);
    });
}

/// Java's `addServerStartFailureAuditLog`, then exit.
fn start_failed(code: i32) -> ! {
    audit::writer::submit(vec![AuditEvent::server(audit::OP_START, Outcome::Failure)]);
    audit::writer::flush();
    std::process::exit(code);
}

/// The system properties a launch sees: `-D` arguments, `SERVER_JVMFLAGS` / `JVMFLAGS`
/// and `java.env` (with where that file is and whether it was read).
fn launched_properties(
    arg_properties: &[(String, String)],
) -> (launch::Properties, Option<std::path::PathBuf>, bool) {
    let java_env_path = java_env_path();
    let java_env = java_env_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok());
    let launched = launch::properties(
        |name| std::env::var(name).ok(),
        java_env.as_deref(),
        arg_properties,
    );
    (launched, java_env_path, java_env.is_some())
}

/// `zkserver check [-D...] ZOO_CFG`: see [`zk_server::check`]. Returns the exit status.
fn check_command(args: &[String]) -> i32 {
    use zk_server::check;
    let (arg_properties, path) = match launch::parse_args(args) {
        Ok(launch::Command::Run {
            properties,
            config_path: Some(path),
        }) => (properties, path),
        Ok(launch::Command::Help) => {
            print!("{USAGE}");
            return check::EXIT_OK;
        }
        Ok(_) => {
            eprint!("zkserver check: a config path is needed\n{USAGE}");
            return check::EXIT_CONFIG;
        }
        Err(e) => {
            eprint!("zkserver check: {e}\n{USAGE}");
            return check::EXIT_CONFIG;
        }
    };
    // Recovery's own log lines: errors only (the report says the rest), unless RUST_LOG.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let (launched, _, _) = launched_properties(&arg_properties);
    let properties: Vec<(&str, &str)> = launched
        .properties
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (cfg, mut warnings) =
        match config::load_with_system_properties(std::path::Path::new(&path), &properties) {
            Ok(loaded) => loaded,
            Err(e) => {
                println!("config: {path}\nresult: the server would not start: {e}");
                return check::EXIT_CONFIG;
            }
        };
    warnings.extend(
        properties
            .iter()
            .filter(|(name, _)| !config::reads_system_property(name))
            .map(|(name, _)| format!("system property {name} is accepted but ignored")),
    );
    let findings = check::inspect(&cfg, warnings);
    print!("config: {path}\n{}", findings.render());
    findings.exit_code()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("check") {
        std::process::exit(check_command(&args[1..]));
    }
    let (arg_properties, config_path) = match launch::parse_args(&args) {
        Ok(launch::Command::Help) => {
            print!("{USAGE}");
            return;
        }
        Ok(launch::Command::Version) => {
            println!("zkserver {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Ok(launch::Command::Run {
            properties,
            config_path,
        }) => (properties, config_path),
        Err(e) => {
            eprint!("zkserver: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    tune_allocator();
    let (launched, java_env_path, java_env_read) = launched_properties(&arg_properties);
    let log = init_logging(&launched.properties);
    if let Some(path) = &log.file {
        info!("logging to {}", path.display());
    }
    if let (Some(path), true) = (&java_env_path, java_env_read) {
        info!("read JVMFLAGS and SERVER_JVMFLAGS from {}", path.display());
        for line in &launched.skipped_env_lines {
            warn!(
                "{}: line not read (it needs a shell): {line}",
                path.display()
            );
        }
    }
    if !launched.ignored_jvm_flags.is_empty() {
        info!(
            "JVM flags ignored (zkserver is not a JVM): {}",
            launched.ignored_jvm_flags.join(" ")
        );
    }
    let unread: Vec<&str> = launched
        .properties
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !config::reads_system_property(name))
        .collect();
    if !unread.is_empty() {
        info!(
            "system properties accepted and ignored (zkserver does not read them): {}",
            unread.join(", ")
        );
    }
    let properties: Vec<(&str, &str)> = launched
        .properties
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let source = config_path.as_deref().unwrap_or("system properties");
    let loaded = match &config_path {
        None if properties.is_empty() => Ok((config::embedded_default(), Vec::new())),
        None => config::embedded_with_system_properties(&properties),
        Some(path) => config::load_with_system_properties(std::path::Path::new(path), &properties),
    };
    let cfg = match loaded {
        Ok((cfg, warnings)) => {
            for w in warnings {
                warn!("{source}: {w}");
            }
            cfg
        }
        Err(e) => {
            error!("{source}: {e}");
            eprintln!("zkserver: {source}: {e}");
            std::process::exit(2);
        }
    };
    let process = zk_server::admin::ProcessInfo::new(
        config_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok()),
        &launched.properties,
    );
    let rt = zk_server::runtime::builder()
        .build()
        .expect("tokio runtime");
    if cfg.audit_enabled {
        start_audit_log(&cfg, log.dir.as_deref(), &rt);
    } else {
        info!("ZooKeeper audit is disabled.");
    }
    // Every role, as Java's QuorumPeerMain starts it before choosing one.
    autopurge::start(&cfg);
    // The client port's SASL login from the JAAS file (Java's
    // ServerCnxnFactory.configureSaslLogin, run when the factory is configured).
    let mut cfg = cfg;
    match zk_server::sasl::load_login(&cfg.sasl, &properties) {
        Ok(login) => cfg.sasl.login = login,
        Err(e) => {
            error!("{e}");
            error!("Unexpected exception, exiting abnormally");
            eprintln!("zkserver: {e}");
            start_failed(1);
        }
    }
    if cfg.is_distributed() {
        // Java's QuorumPeerMain logs it once the peer's threads are started.
        audit::writer::submit(vec![AuditEvent::server(audit::OP_START, Outcome::Success)]);
        // An ensemble member: election, then follow (or observe) the leader.
        rt.block_on(zk_server::peer::run(cfg, process));
    } else {
        rt.block_on(run(cfg, process));
    }
}

async fn run(cfg: config::Config, process: zk_server::admin::ProcessInfo) {
    let addr = cfg.client_socket_addr();
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            error!("cannot bind client port {addr}: {e}");
            start_failed(1);
        }
    };
    info!("binding to port {addr}");
    let (tx, mut rx) = mpsc::channel::<ToPipeline>(8192);
    if let Err(e) = zk_server::metrics::endpoint::start(&cfg, tx.clone()).await {
        error!("{e}");
        std::process::exit(1);
    }
    shell::spawn_ticker(tx.clone(), cfg.tick_time_ms);
    zk_server::admin::start(&cfg, process, tx.clone()).await;
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
            start_failed(1);
        }
    }
    // Standalone: no reconfig, the listener never moves.
    if let Err(e) = zk_server::net::start(&cfg, listener, tx).await {
        error!("{e}");
        eprintln!("zkserver: {e}");
        start_failed(1);
    }
    // Java's ZooKeeperServerMain logs it once the server is serving.
    audit::writer::submit(vec![AuditEvent::server(audit::OP_START, Outcome::Success)]);
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
