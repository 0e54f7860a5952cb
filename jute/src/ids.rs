//! The two 64-bit ids of the protocol as types: [`Zxid`] (a transaction id: epoch in the high
//! 32 bits, counter in the low 32, Java's `ZxidUtils`) and [`SessionId`]. Wire structs keep
//! the `i64`; code converts with `From` where it reads or builds them. Both display the way
//! Java logs them, `"0x" + Long.toHexString(id)`: lower-case hex without padding, negative
//! values as their 64-bit two's complement (`-1` is `0xffffffffffffffff`).

use std::fmt;

/// A ZooKeeper transaction id (`zxid`): `epoch << 32 | counter`. Ordered as the signed
/// 64-bit number Java compares.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Zxid(i64);

impl Zxid {
    /// The zxid before any txn (an empty database).
    pub const ZERO: Zxid = Zxid(0);

    /// Java's `-1` for "no zxid": a notification's header, the UPTODATE packet, the last
    /// zxid of a connection that was never answered.
    pub const NONE: Zxid = Zxid(-1);

    /// `ZxidUtils.makeZxid(epoch, counter)`: the counter keeps its low 32 bits.
    pub const fn new(epoch: i64, counter: i64) -> Zxid {
        Zxid((epoch << 32) | (counter & 0xffff_ffff))
    }

    /// The zxid as sent on the wire and stored on disk.
    pub const fn from_i64(raw: i64) -> Zxid {
        Zxid(raw)
    }

    /// The wire value.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// `ZxidUtils.getEpochFromZxid`: the high 32 bits (sign-extended, as Java's `>> 32`).
    pub const fn epoch(self) -> i64 {
        self.0 >> 32
    }

    /// `ZxidUtils.getCounterFromZxid`: the low 32 bits.
    pub const fn counter(self) -> i64 {
        self.0 & 0xffff_ffff
    }

    /// The next zxid of the same epoch (`zxid + 1`).
    pub const fn next(self) -> Zxid {
        Zxid(self.0 + 1)
    }
}

impl From<i64> for Zxid {
    fn from(raw: i64) -> Zxid {
        Zxid(raw)
    }
}

impl From<Zxid> for i64 {
    fn from(z: Zxid) -> i64 {
        z.0
    }
}

/// Java's hex form, `0x100000002`.
impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zxid(0x{:x})", self.0)
    }
}

/// A session id: the creating server's id in the top byte, then a time-seeded sequence
/// (`SessionTrackerImpl.initializeNextSessionId`). `0` is "no session" on the wire (a new
/// connection, a node without owner).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(i64);

impl SessionId {
    /// No session: a connect request for a new session, `ephemeralOwner` of a persistent node.
    pub const NONE: SessionId = SessionId(0);

    /// The session id as sent on the wire.
    pub const fn from_i64(raw: i64) -> SessionId {
        SessionId(raw)
    }

    /// The wire value.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// The id of the server that created the session (the top byte).
    pub const fn server_id(self) -> u8 {
        (self.0 as u64 >> 56) as u8
    }
}

impl From<i64> for SessionId {
    fn from(raw: i64) -> SessionId {
        SessionId(raw)
    }
}

impl From<SessionId> for i64 {
    fn from(s: SessionId) -> i64 {
        s.0
    }
}

/// Java's hex form, `0x1000001e4c00000`.
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(0x{:x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_parts() {
        let z = Zxid::new(3, 7);
        assert_eq!(z.as_i64(), 0x3_0000_0007);
        assert_eq!((z.epoch(), z.counter()), (3, 7));
        assert_eq!(Zxid::new(1, 0xffff_ffff).as_i64(), 0x1_ffff_ffff);
        // The counter keeps only its low 32 bits, as makeZxid does.
        assert_eq!(Zxid::new(1, 0x1_0000_0002), Zxid::new(1, 2));
        assert_eq!(z.next(), Zxid::new(3, 8));
        assert!(Zxid::new(2, 0xffff_ffff) < Zxid::new(3, 0));
        assert!(Zxid::NONE < Zxid::ZERO);
        assert_eq!(i64::from(Zxid::from(42)), 42);
    }

    #[test]
    fn java_hex_display() {
        assert_eq!(Zxid::new(1, 2).to_string(), "0x100000002");
        assert_eq!(Zxid::ZERO.to_string(), "0x0");
        assert_eq!(Zxid::NONE.to_string(), "0xffffffffffffffff");
        assert_eq!(format!("{:?}", Zxid::new(1, 0)), "Zxid(0x100000000)");
        let s = SessionId::from(0x0100_01e4_c000_0000);
        assert_eq!(s.to_string(), "0x10001e4c0000000");
        assert_eq!(s.server_id(), 1);
        assert_eq!(SessionId::from(-1).server_id(), 0xff);
        assert_eq!(SessionId::NONE.to_string(), "0x0");
    }
}
