//! zk-quorum: leader election and ZAB, wire-compatible with ZooKeeper 3.8.
//!
//! * [`verifier`]: the ensemble's members and majority rule (`QuorumMaj`), and the
//!   configuration text Java exchanges.
//! * [`election`]: fast leader election on the election port (handshake, notifications, the
//!   sans-IO election state machine, its tokio shell).
//!
//! ZAB (broadcast, learner sync) is still to come; it will know the data tree only through a
//! small trait the server implements.

pub mod election;
pub mod verifier;
