//! zk-server: a ZooKeeper 3.8 compatible server, standalone or as a member of an ensemble
//! (with Java or zk-rs peers; the election and ZAB state machines are in `zk-quorum`).
//!
//! # Layout
//! Pure cores (no clock, no IO; time and bytes come in, decisions go out):
//! - [`pipeline`]: the request pipeline, `handle(now, input)` -> outputs, one [`pipeline::Mode`]
//!   per role; [`prep`] (write request -> txn), [`tree`] (znodes, applied txns) over
//!   [`store`] and [`children`], [`watch`], [`sessions`], [`session_id`], [`auth`],
//!   [`quota`], [`reconfig`], [`null_strings`], [`txn`], [`error`], [`stats`], [`dates`], [`sasl`] (the
//!   client port's SASL login and ids; the mechanisms are `zk_quorum::sasl`'s).
//! - [`config`]: zoo.cfg and system properties, driven by one table of keys.
//! - [`fourlw`]: rendering the four-letter words from a `FourLetterSource`.
//! - [`metrics`]: the metrics registry (`mntr`'s values by kind) and its Prometheus text.
//! - [`admin`]: the AdminServer's commands as JSON (pure), and its HTTP side.
//! - [`launch`]: the `zkserver -Dname=value zoo.cfg` command line, `JVMFLAGS` and `java.env`.
//! - [`flow`]: the backpressure decisions (shared counters with the network tasks).
//!
//! The shell (IO):
//! - [`shell`]: drives the pipeline and carries out its outputs; [`net`]: client
//!   connections; [`probes`]: /proc and the data directories for the four-letter words;
//!   [`logfile`]: Java's rolling log file; [`http`]: the HTTP server of the AdminServer and
//!   the Prometheus endpoint; [`audit`]: the audit log's records (pure) and its writer
//!   thread.
//! - [`database`]: one database for every role (Java's `ZKDatabase`) over [`persist`]
//!   (Java's disk formats, recovery).
//! - [`tls`]: key and trust stores (PEM, PKCS12, JKS) and rustls configurations.
//! - [`check`]: `zkserver check`, the offline pre-flight of a config and its database.
//! - [`peer`]: quorum mode (Java's `QuorumPeer`): election, then leading or following.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod check;
pub mod children;
pub mod config;
pub mod database;
pub mod dates;
pub mod drop_later;
pub mod error;
pub mod flow;
pub mod fourlw;
pub mod http;
pub mod launch;
pub mod logfile;
pub mod metrics;
pub mod net;
pub mod null_strings;
pub mod peer;
pub mod persist;
pub mod pipeline;
pub mod prep;
pub mod probes;
pub mod quota;
pub mod reconfig;
pub mod runtime;
pub mod sasl;
pub mod session_id;
pub mod sessions;
pub mod shell;
pub mod stats;
pub mod store;
pub mod tls;
pub mod tree;
pub mod txn;
pub mod watch;
