//! ZAB, the ZooKeeper Atomic Broadcast protocol of the quorum port, as Java 3.8 speaks it (and
//! 3.9: the packets, the handshake and the sync are the same).
//!
//! So far the learner side (a follower or observer joining a leader, Java's or ours):
//!
//! - [`packet`]: packet types, non-record payloads, `QuorumPacket` framing (zxids are
//!   [`jute::Zxid`]).
//! - [`snap_stream`]: the snapshot stream that follows a SNAP packet.
//! - [`learner`]: the sans-IO learner state machine (handshake, DIFF / TRUNC / SNAP sync,
//!   broadcast), fed bytes from the leader and returning [`learner::Action`]s.
//! - [`db`]: [`db::LearnerDb`], what the learner needs from the server's database.
//! - [`learner_net`]: the tokio shell that connects to the leader's quorum port and runs the
//!   state machine against a [`db::LearnerDb`].
//!
//! And the leader side:
//!
//! - [`leader`]: the sans-IO leader (epoch negotiation, DIFF / TRUNC / SNAP decision,
//!   NEWLEADER, proposal / ACK / COMMIT counting, INFORM, PING, REVALIDATE, REQUEST).
//! - [`leader_net`]: the tokio shell listening on the quorum port, with
//!   [`leader_net::LeaderDb`], what the leader needs from the server's database.
//!
//! Both also serve a follower's observers (`observerMasterPort`, Java's `ObserverMaster`):
//! [`leader::Leader::observer_master`] takes OBSERVERINFOs only and relays the follower's
//! commits as INFORMs.

pub mod db;
pub mod leader;
pub mod leader_net;
pub mod learner;
pub mod learner_net;
pub mod packet;
pub mod snap_stream;

use std::fmt;

/// A violation of the protocol by the peer, or bytes that cannot be decoded. The connection
/// cannot go on after one.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A packet that is not acceptable where it came (wrong type, epoch, missing data...).
    Protocol(String),
    /// A record that does not decode.
    Decode(jute::DecodeError),
    /// A buffer or string longer than `jute.maxbuffer` allows.
    TooLarge {
        what: String,
        len: usize,
        max: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(m) => f.write_str(m),
            Error::Decode(e) => write!(f, "undecodable quorum packet: {e}"),
            Error::TooLarge { what, len, max } => {
                write!(
                    f,
                    "{what} of {len} bytes is larger than jute.maxbuffer ({max})"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<jute::DecodeError> for Error {
    fn from(e: jute::DecodeError) -> Self {
        Error::Decode(e)
    }
}
