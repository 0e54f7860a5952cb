//! The checks behind the fuzz targets in `server/fuzz` for the bytes a peer sends: quorum-port
//! `QuorumPacket`s and their payloads, the SNAP stream, the election port's handshake and
//! notifications. Each takes arbitrary bytes and must return (errors are fine) without
//! panicking; what decodes must encode back to itself. [`tests`] runs them on seeded
//! mutations of valid streams, so stable CI exercises them without a fuzzer.

use crate::election::wire::{self, Decoded, InitialMessage, Notification};
use crate::zab::packet::{self, DEFAULT_MAX_BUFFER};
use crate::zab::snap_stream::SnapDecoder;
use bytes::BytesMut;

/// A learner's or leader's byte stream on the quorum port: packets until the bytes end or one
/// is refused, each payload through every decoder that might be applied to it.
pub fn check_quorum_stream(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(qp)) = packet::decode_packet(&mut buf, DEFAULT_MAX_BUFFER) {
        let mut again = BytesMut::new();
        packet::encode_packet(&qp, &mut again);
        let back = packet::decode_packet(&mut again, DEFAULT_MAX_BUFFER)
            .expect("a decoded packet re-encodes")
            .expect("whole");
        assert_eq!(back, qp);
        let payload = qp.data.clone().unwrap_or_default();
        let _ = packet::parse_learner_info(&payload);
        let _ = packet::leader_info_version(&qp);
        let _ = packet::ack_epoch_value(&qp);
        let _ = packet::decode_touches(&payload);
        let _ = packet::decode_revalidate_request(&qp);
        let _ = packet::decode_revalidate_reply(&qp);
        let _ = packet::decode_request(&qp);
        let _ = packet::activate_leader_id(&qp);
        let _ = packet::txn_zxid(&payload);
        let _ = packet::txn_type(&payload);
    }
}

/// The bytes after a SNAP packet, delivered in reads whose sizes the first input byte picks.
pub fn check_snap_stream(data: &[u8]) {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = step as usize % 64 + 1;
    let mut dec = SnapDecoder::new(DEFAULT_MAX_BUFFER);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in rest.chunks(step) {
        buf.extend_from_slice(chunk);
        match dec.decode(&mut buf, &mut out) {
            Ok(true) | Err(_) => return,
            Ok(false) => out.clear(),
        }
    }
}

/// A connection on the election port: the handshake, then framed notifications.
pub fn check_election_stream(data: &[u8]) {
    let Ok(Decoded::Done(hello, used)) = InitialMessage::decode(data) else {
        return;
    };
    if let Ok(Decoded::Done(again, n)) = InitialMessage::decode(&hello.encode()) {
        assert_eq!(again.sid, hello.sid);
        assert!(n > 0);
    }
    let mut rest = &data[used..];
    while let Ok(Decoded::Done(payload, n)) = wire::decode_frame(rest) {
        rest = &rest[n..];
        if let Ok(note) = Notification::decode(&payload) {
            let _ = note.server_state();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::zab::snap_stream::SnapEncoder;
    use bytes::Bytes;
    use jute::data::{Acl, Id, StatPersisted};
    use jute::fuzz_support::{mutate, MutationRng};

    fn quorum_seed() -> Vec<u8> {
        let mut out = BytesMut::new();
        for qp in [
            packet::leader_info(5, 0x10000),
            packet::ack_epoch(jute::Zxid::from(0x4_0000_0007), 4),
            packet::revalidate_request(0x77, 30_000),
            packet::revalidate_reply(0x77, true),
            packet::request(
                0x77,
                3,
                1,
                b"\0\0\0\x02/a",
                vec![Id {
                    scheme: "digest".into(),
                    id: "u:p".into(),
                }],
            ),
            packet::packet(packet::PROPOSAL, jute::Zxid::from(0x5_0000_0001)),
        ] {
            packet::encode_packet(&qp, &mut out);
        }
        out.to_vec()
    }

    fn snap_seed() -> Vec<u8> {
        let mut out = BytesMut::new();
        out.extend_from_slice(&[9]);
        SnapEncoder::sessions(&mut out, &[(1, 30_000), (2, 4000)]);
        let acl = vec![Acl {
            perms: 31,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }];
        SnapEncoder::acls(&mut out, &[(1, acl)]);
        let stat = StatPersisted::default();
        for p in ["", "/a", "/a/b"] {
            SnapEncoder::node(&mut out, p, Some(&Bytes::from_static(b"x")), 1, &stat);
        }
        SnapEncoder::finish(&mut out);
        out.to_vec()
    }

    fn election_seed() -> Vec<u8> {
        let mut out = InitialMessage::v1(2, "127.0.0.1", 3888).encode().to_vec();
        let note = Notification {
            state: 0,
            leader: 2,
            zxid: 0x1_0000_0005,
            election_epoch: 3,
            peer_epoch: 1,
            version: 2,
            config: Some(Bytes::from_static(b"server.1=127.0.0.1:2888:3888")),
        };
        out.extend_from_slice(&wire::encode_frame(&note.encode()));
        out.extend_from_slice(&wire::encode_frame(&[0u8; 28]));
        out
    }

    /// Found by the mutation loop below: a 29..35-byte notification panicked reading the
    /// peer epoch (Java skips it as "partial / malformed").
    #[test]
    fn short_notification_is_an_error() {
        for n in 29..36 {
            assert!(Notification::decode(&vec![0u8; n]).is_err(), "{n} bytes");
        }
        assert!(Notification::decode(&[0u8; 28]).is_ok());
        assert!(Notification::decode(&[0u8; 40]).is_ok());
    }

    /// Every peer decoder on 3,000 mutations of a valid input each (seeded, replayable).
    #[test]
    fn peer_decoders_never_panic_on_mutated_input() {
        let java = include_bytes!("../tests/data/java38_handshake_notifications.bin");
        type Check = fn(&[u8]);
        let seeds: [(&str, Vec<u8>, Check); 4] = [
            ("quorum", quorum_seed(), check_quorum_stream),
            ("snap", snap_seed(), check_snap_stream),
            ("election", election_seed(), check_election_stream),
            (
                "election (Java capture)",
                java.to_vec(),
                check_election_stream,
            ),
        ];
        for (name, seed, check) in seeds {
            check(&seed);
            let mut rng = MutationRng::new(name.len() as u64);
            for i in 0..3000 {
                let input = mutate(&seed, &mut rng);
                let r = std::panic::catch_unwind(|| check(&input));
                assert!(r.is_ok(), "{name}: iteration {i} panicked on {input:02x?}");
            }
        }
    }
}
