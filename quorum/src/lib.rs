//! zk-quorum: leader election and ZAB, wire-compatible with ZooKeeper 3.8.
//!
//! * [`verifier`]: the ensemble's members and majority rule (`QuorumMaj`), and the
//!   configuration text Java exchanges.
//! * [`election`]: fast leader election on the election port (handshake, notifications, the
//!   sans-IO election state machine, its tokio shell).
//! * [`zab`]: ZAB on the quorum port; so far the learner side (handshake, DIFF / TRUNC / SNAP
//!   sync, broadcast) as a sans-IO state machine and its tokio shell. It knows the data tree
//!   only through [`zab::db::LearnerDb`], which the server implements.

pub mod election;
pub mod fuzz_support;
pub mod sasl;
pub mod verifier;
pub mod zab;
