//! zk-server: a ZooKeeper 3.8 compatible server (standalone for now).

pub mod auth;
pub mod children;
pub mod config;
pub mod database;
pub mod error;
pub mod flow;
pub mod fourlw;
pub mod net;
pub mod null_strings;
pub mod peer;
pub mod persist;
pub mod pipeline;
pub mod prep;
pub mod probes;
pub mod quota;
pub mod session_id;
pub mod sessions;
pub mod shell;
pub mod stats;
pub mod store;
pub mod tree;
pub mod txn;
pub mod watch;
