//! `zkserver [zoo.cfg]`: a standalone ZooKeeper 3.8 compatible server. Without an argument
//! it serves on 127.0.0.1:2181 with an embedded default config (dataDir ./zk-data).

use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use zk_server::config;
use zk_server::core::{Core, CoreMsg};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
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
    rt.block_on(run(cfg));
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
    let (tx, mut rx) = mpsc::channel::<CoreMsg>(8192);
    let tick = tx.clone();
    let tick_ms = (cfg.tick_time_ms as u64 / 4).clamp(10, 500);
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(tick_ms));
        loop {
            iv.tick().await;
            if tick.send(CoreMsg::Tick).await.is_err() {
                break;
            }
        }
    });
    let max_buffer = cfg.jute_maxbuffer;
    let max_cnxns = cfg.max_client_cnxns;
    tokio::spawn(zk_server::net::serve(listener, tx, max_buffer, max_cnxns));
    let mut core = Core::new(cfg);
    // The pipeline: one thread-confined owner of all state.
    while let Some(msg) = rx.recv().await {
        core.handle(msg);
    }
}
