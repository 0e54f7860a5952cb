//! Session ids and session passwords, bit for bit as Java ZooKeeper 3.8 makes them.
//!
//! This module owns three pure pieces:
//! - [`initial_session_id`]: the first session id a server hands out
//!   (`SessionTrackerImpl.initializeNextSessionId`); later ids are that value plus one each.
//! - [`JavaRandom`]: an exact copy of `java.util.Random`'s 48-bit linear congruential
//!   generator, so that sequences seeded alike agree with a JVM's.
//! - [`session_password`]: the 16-byte password of a session
//!   (`ZooKeeperServer.generatePasswd`: `new Random(sessionId ^ 0xB3415C00L).nextBytes`).
//!   A session created on a Java node must validate on ours and the other way round, so this
//!   has to match Java exactly; the tests pin values printed by Java 17.

/// Java's `EphemeralType.CONTAINER_EPHEMERAL_OWNER` (`Long.MIN_VALUE`): a session id must
/// never equal it, because that value marks container nodes.
const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// `ZooKeeperServer.superSecret`: XORed into the session id to seed the password generator.
pub const SUPER_SECRET: i64 = 0xB341_5C00;

/// The first session id of a server, as Java's `SessionTrackerImpl.initializeNextSessionId`:
/// `((now << 24) >>> 8) | (serverId << 56)`, bumped by one in the (practically impossible)
/// case that it equals `Long.MIN_VALUE`, the container marker.
///
/// The low 40 bits of `now_ms` land in bits 16..56, the low 8 bits of `server_id` in the top
/// byte; the low 16 bits are zero, which leaves room for the ids handed out after it.
///
/// Java 3.8 passes `Time.currentElapsedTime()`, i.e. `System.nanoTime() / 1_000_000`, a
/// monotonic clock with an arbitrary origin (on Linux: time since boot), not wall time. The
/// value only has to make the ids of one server unlikely to repeat across restarts; the
/// caller chooses the clock.
pub fn initial_session_id(now_ms: i64, server_id: u64) -> i64 {
    let time_part = ((now_ms << 24) as u64 >> 8) as i64;
    let sid = time_part | ((server_id << 56) as i64);
    if sid == CONTAINER_EPHEMERAL_OWNER {
        sid + 1
    } else {
        sid
    }
}

/// The password Java gives session `session_id`:
/// `new java.util.Random(sessionId ^ 0xB3415C00L).nextBytes(new byte[16])`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut passwd = [0u8; 16];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut passwd);
    passwd
}

/// An exact re-implementation of `java.util.Random` (the 48-bit LCG of Knuth, TAOCP 3.2.1,
/// with Java's seed scrambling and output methods). Not for cryptography, exactly like Java's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    /// `new Random(seed)`: the seed is scrambled as `(seed ^ 0x5DEECE66D) & ((1 << 48) - 1)`.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    /// `Random.next(bits)`: advances the generator and returns its top `bits` bits
    /// (1..=32) as a Java int, i.e. sign-extended when `bits` is 32.
    pub fn next(&mut self, bits: u32) -> i32 {
        debug_assert!((1..=32).contains(&bits));
        self.seed = (self
            .seed
            .wrapping_mul(Self::MULTIPLIER)
            .wrapping_add(Self::ADDEND))
            & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `Random.nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `Random.nextInt(bound)`: uniform in `0..bound`. Java throws `IllegalArgumentException`
    /// for `bound <= 0`; this panics in that case.
    pub fn next_int_bounded(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "bound must be positive");
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            // A power of two: take the high bits.
            ((bound as i64 * r as i64) >> 31) as i32
        } else {
            // Reject values from the incomplete last interval (Java's overflow test).
            let mut u = r;
            loop {
                r = u % bound;
                if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                    return r;
                }
                u = self.next(31);
            }
        }
    }

    /// `Random.nextLong()`: `((long) next(32) << 32) + next(32)`.
    pub fn next_long(&mut self) -> i64 {
        let hi = (self.next(32) as i64) << 32;
        hi.wrapping_add(self.next(32) as i64)
    }

    /// `Random.nextBoolean()`.
    pub fn next_boolean(&mut self) -> bool {
        self.next(1) != 0
    }

    /// `Random.nextBytes(bytes)`: one `nextInt()` per 4 bytes, low byte first; the unused
    /// bytes of the last int are dropped.
    pub fn next_bytes(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(4) {
            let rnd = self.next_int().to_le_bytes();
            chunk.copy_from_slice(&rnd[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// `(sessionId, hex of new Random(sessionId ^ 0xB3415C00L).nextBytes(new byte[16]))`,
    /// printed by Java 17 (OpenJDK 17.0.15) java.util.Random.
    const JAVA_PASSWORDS: &[(i64, &str)] = &[
        (0, "f22acd4a97e69d6d20a49bb638eadb38"),
        (1, "054cc74a37327db215e702e20c73f005"),
        (-1, "20f62cb5648dc2d771471c8a2486a9ee"),
        (4294967296, "f22a606497e6346320a4e6f138eacad9"),
        (72059235507788544, "ae25f1df27007efc8af9de4d3ea61149"),
        (-9223360994291675633, "d4395316e3724f6ddcca35e13921d663"),
        (i64::MIN, "f22acd4a97e69d6d20a49bb638eadb38"),
        (i64::MAX, "20f62cb5648dc2d771471c8a2486a9ee"),
        (3007405056, "60b420bb3851d9d47acb933dbe70399b"),
        (-123456789012345, "9b4d2ce4314b1d0da6bd341fd2aedaa7"),
        (-72057594037927935, "054cc74a37327db215e702e20c73f005"),
        (72057594037927936, "f22acd4a97e69d6d20a49bb638eadb38"),
    ];

    #[test]
    fn session_passwords_match_java() {
        for &(sid, want) in JAVA_PASSWORDS {
            assert_eq!(hex(&session_password(sid)), want, "session id {sid}");
        }
    }

    #[test]
    fn seed_uses_only_low_48_bits() {
        // Java masks the scrambled seed to 48 bits, so these pairs collide (see the table).
        assert_eq!(session_password(0), session_password(i64::MIN));
        assert_eq!(session_password(0), session_password(1 << 56));
        assert_ne!(session_password(1), session_password(2));
    }

    /// Per seed, printed by Java 17 java.util.Random in this order: nextInt(), nextInt(),
    /// nextLong(), nextLong(), nextInt(10), nextInt(1 << 20), nextInt(1000000007), nextInt(7),
    /// nextBytes(new byte[7]) as hex, nextBytes(new byte[0]), nextInt().
    #[allow(clippy::type_complexity)]
    const JAVA_SEQUENCES: &[(i64, [i64; 8], &str, i32)] = &[
        (
            0,
            [
                -1155484576,
                -723955400,
                4437113781045784766,
                -6688467811848818630,
                1,
                122690,
                283218712,
                2,
            ],
            "2bcd4d554bf0b5",
            1654374947,
        ),
        (
            42,
            [
                -1170105035,
                234785527,
                -5843495416241995736,
                5694868678511409995,
                5,
                742088,
                429255512,
                3,
            ],
            "bd6743e7dc9785",
            1583910553,
        ),
        (
            -42,
            [
                1170874531,
                1757677092,
                1124324099246659001,
                5163062962508109336,
                6,
                191892,
                390560826,
                3,
            ],
            "989199375aec51",
            1450190559,
        ),
        (
            i64::MIN,
            [
                -1155484576,
                -723955400,
                4437113781045784766,
                -6688467811848818630,
                1,
                122690,
                283218712,
                2,
            ],
            "2bcd4d554bf0b5",
            1654374947,
        ),
        (
            i64::MAX,
            [
                1155099827,
                1887904451,
                226341162490527646,
                -6233441030884181172,
                7,
                418684,
                774177758,
                6,
            ],
            "007558ce41eb4c",
            243908635,
        ),
        (
            0x5DEECE66D,
            [
                0,
                4232237,
                767956431209526212,
                6725724361348706664,
                9,
                510884,
                131187605,
                6,
            ],
            "f294b13be289cf",
            -293211053,
        ),
    ];

    #[test]
    fn random_sequences_match_java() {
        for &(seed, nums, bytes, last) in JAVA_SEQUENCES {
            let mut r = JavaRandom::new(seed);
            let got = [
                r.next_int() as i64,
                r.next_int() as i64,
                r.next_long(),
                r.next_long(),
                r.next_int_bounded(10) as i64,
                r.next_int_bounded(1 << 20) as i64,
                r.next_int_bounded(1_000_000_007) as i64,
                r.next_int_bounded(7) as i64,
            ];
            assert_eq!(got, nums, "seed {seed}");
            let mut b = [0u8; 7];
            r.next_bytes(&mut b);
            assert_eq!(hex(&b), bytes, "seed {seed}");
            r.next_bytes(&mut []);
            assert_eq!(r.next_int(), last, "seed {seed}");
        }
    }

    #[test]
    fn next_bytes_is_little_endian_ints() {
        let mut a = JavaRandom::new(99);
        let mut b = a.clone();
        let mut buf = [0u8; 6];
        a.next_bytes(&mut buf);
        let i1 = b.next_int().to_le_bytes();
        let i2 = b.next_int().to_le_bytes();
        assert_eq!(buf[..4], i1);
        assert_eq!(buf[4..], i2[..2]);
        assert_eq!(a, b);
    }

    /// `(now, serverId, initializeNextSessionId)`, computed by Java 17 with the 3.8 formula.
    const JAVA_SESSION_IDS: &[(i64, u64, i64)] = &[
        (0, 1, 72057594037927936),
        (1, 1, 72057594037993472),
        (1650000000000, 1, 108134400000000000),
        (1650000000000, 0, 36076805962072064),
        (1650000000000, 255, -35980788075855872),
        (123456789, 5, 360296061053763584),
        (-1, 1, 144115188075790336),
        // Would be Long.MIN_VALUE, the container marker: Java adds one.
        (0, 128, -9223372036854775807),
        (140737488355327, 3, 288230376151646208),
        (549755813888, 0, 36028797018963968),
    ];

    #[test]
    fn initial_session_ids_match_java() {
        for &(now, id, want) in JAVA_SESSION_IDS {
            assert_eq!(initial_session_id(now, id), want, "now {now} id {id}");
        }
    }

    #[test]
    fn initial_session_id_layout() {
        let sid = initial_session_id(0x12_3456_789A, 7);
        assert_eq!(sid as u64 >> 56, 7);
        assert_eq!((sid as u64 >> 16) & 0xFF_FFFF_FFFF, 0x12_3456_789A);
        assert_eq!(sid & 0xFFFF, 0);
    }
}
