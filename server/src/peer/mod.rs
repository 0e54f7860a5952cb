//! Quorum mode (`server.N` lines in `zoo.cfg`): Java's `QuorumPeer`.
//!
//! # Layout
//! - [`role`]: what a member decides from its configuration and an election, without
//!   sockets (the view, `/zookeeper/config`, follower or observer, the ZAB configs).

pub mod role;
