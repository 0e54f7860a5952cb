//! What a quorum member decides from its configuration and an election's outcome, without
//! sockets: the ensemble as the quorum crate sees it, `/zookeeper/config`, whether it learns
//! as a follower or an observer, what it does next after an election, and the ZAB
//! configurations of its learner and leader (Java's `QuorumPeer` fields and
//! `QuorumPeer.run`'s switch).

use crate::config::{Config, PeerType};
use crate::database::ConfigNode;
use crate::pipeline::Mode;
use std::time::Duration;
use zk_quorum::election::ServerState;
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::LeaderConfig;
use zk_quorum::zab::learner::{LearnerConfig, LearnerKind};
use zk_quorum::zab::packet;

/// The ensemble as the quorum crate sees it.
pub fn quorum_view(cfg: &Config) -> QuorumMaj {
    cfg.quorum_view()
        .expect("the quorum rule was checked when the configuration was read")
}

/// `/zookeeper/config` for the ensemble `view` (Java's `initConfigInZKDatabase`).
pub fn config_node(view: &QuorumMaj) -> ConfigNode {
    ConfigNode {
        data: view.to_java_string(),
        version: view.version(),
    }
}

/// How server `my_id` learns when it does not lead: as an observer when `peerType=observer`
/// or its `server.N` line says so, as a follower otherwise.
pub fn learner_kind(cfg: &Config, view: &QuorumMaj, my_id: i64) -> LearnerKind {
    if cfg.peer_type == PeerType::Observer || view.is_observer(my_id) {
        LearnerKind::Observer
    } else {
        LearnerKind::Follower
    }
}

/// The pipeline's mode while learning as `kind`.
pub fn learner_mode(kind: LearnerKind) -> Mode {
    match kind {
        LearnerKind::Follower => Mode::Follower,
        LearnerKind::Observer => Mode::Observer,
    }
}

/// How long a member stays LOOKING before it serves read-only (with
/// `readonlymode.enabled`): Java's `max(2000 ms, tickTime)`.
pub fn read_only_delay(cfg: &Config) -> Duration {
    Duration::from_millis((cfg.tick_time_ms as u64).max(2000))
}

/// What a member does once an election decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Lead,
    /// Follow or observe `leader`.
    Learn {
        leader: i64,
        kind: LearnerKind,
    },
    /// The election ended without a role: look again.
    Look,
}

/// The step after an election whose outcome is `state` with `leader` elected.
pub fn after_election(state: ServerState, leader: i64) -> Next {
    match state {
        ServerState::Leading => Next::Lead,
        ServerState::Following => Next::Learn {
            leader,
            kind: LearnerKind::Follower,
        },
        ServerState::Observing => Next::Learn {
            leader,
            kind: LearnerKind::Observer,
        },
        ServerState::Looking => Next::Look,
    }
}

/// The largest quorum packet buffer accepted: `jute.maxbuffer` plus Java's extra 1024, and
/// never below the protocol's default.
pub fn max_buffer(cfg: &Config) -> usize {
    packet::DEFAULT_MAX_BUFFER.max(cfg.jute_maxbuffer + 1024)
}

/// The learner's ZAB configuration.
pub fn learner_config(
    cfg: &Config,
    view: &QuorumMaj,
    my_id: i64,
    kind: LearnerKind,
) -> LearnerConfig {
    LearnerConfig {
        sid: my_id,
        kind,
        config_version: view.version(),
        tick_time: Duration::from_millis(cfg.tick_time_ms as u64),
        init_limit: cfg.init_limit,
        sync_limit: cfg.sync_limit,
        max_buffer: max_buffer(cfg),
    }
}

/// The leader's ZAB configuration.
pub fn leader_config(cfg: &Config, view: &QuorumMaj, my_id: i64) -> LeaderConfig {
    let mut lcfg = LeaderConfig::new(my_id, view.clone());
    lcfg.tick_time = Duration::from_millis(cfg.tick_time_ms as u64);
    lcfg.init_limit = cfg.init_limit;
    lcfg.sync_limit = cfg.sync_limit;
    lcfg.max_buffer = max_buffer(cfg);
    lcfg.reconfig_enabled = cfg.reconfig_enabled;
    lcfg
}

/// Whether a member takes `offered` (from NEWLEADER, or its own established config) over
/// `current`: only with reconfig enabled, and only a newer version (Java's
/// `setLastSeenQuorumVerifier` / `setQuorumVerifier`).
pub fn adopts(cfg: &Config, current: &QuorumMaj, offered: &QuorumMaj) -> bool {
    cfg.reconfig_enabled && offered.version() > current.version()
}

/// Whether adopting `next` ends a learner's session with `leader` (Java's `processReconfig`
/// "major change", `updateLearnerType` / `updateVote`): it must now learn as another kind
/// (listed as observer, or as participant; a member left out of the config keeps its kind
/// if it was a participant, which then follows without a vote), or the leader no longer
/// votes (so another is designated).
pub fn reconfig_ends_learning(
    kind: LearnerKind,
    next: &QuorumMaj,
    my_id: i64,
    leader: i64,
) -> bool {
    let next_kind = if next.is_observer(my_id) {
        LearnerKind::Observer
    } else {
        LearnerKind::Follower
    };
    next_kind != kind || !next.is_voter(leader)
}

/// Whether rewriting `zoo.cfg` drops its `clientPort*` keys: our own `server.N` line
/// carries the client address (Java's `needEraseClientInfoFromStaticConfig`).
pub fn erases_client_keys(view: &QuorumMaj, my_id: i64) -> bool {
    view.server(my_id).is_some_and(|s| s.client.is_some())
}

/// The client address to listen on after adopting `next` over `prev` (Java's
/// `processReconfig`: our server line in the new config names a client address other than
/// the old one). `None`: keep the listener.
pub fn moved_client_address(
    prev: &QuorumMaj,
    next: &QuorumMaj,
    my_id: i64,
) -> Option<(String, u16)> {
    let new = next.server(my_id)?.client.clone()?;
    let old = prev.server(my_id).and_then(|s| s.client.clone());
    (old.as_ref() != Some(&new)).then_some(new)
}

/// Whether Java's `backupOldConfig` runs at startup: an ensemble member with reconfig
/// enabled whose `server.N` lines are still in `zoo.cfg`.
pub fn backs_up_static_config(cfg: &Config) -> bool {
    cfg.reconfig_enabled && cfg.is_distributed() && cfg.dynamic_config_file.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let text = format!(
            "tickTime=3000\ninitLimit=7\nsyncLimit=3\ndataDir=/tmp/zkrs-peer-role\nclientPort=2181\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n\
             server.3=127.0.0.1:2890:3890:observer\n{extra}"
        );
        crate::config::parse(&text).expect("a valid zoo.cfg").0
    }

    #[test]
    fn the_view_lists_the_servers_and_the_config_node_holds_it() {
        let c = cfg("");
        let view = quorum_view(&c);
        assert!(view.server(1).is_some() && view.server(3).is_some());
        assert!(view.server(4).is_none());
        assert_eq!(view.version(), 0);
        let node = config_node(&view);
        assert_eq!(node.version, 0);
        assert!(
            node.data
                .starts_with("server.1=127.0.0.1:2888:3888:participant"),
            "{}",
            node.data
        );
        assert!(node.data.contains("server.3=127.0.0.1:2890:3890:observer"));
        assert!(node.data.ends_with("version=0"), "{}", node.data);
    }

    #[test]
    fn observers_by_server_line_or_peer_type() {
        let c = cfg("");
        let view = quorum_view(&c);
        assert_eq!(learner_kind(&c, &view, 1), LearnerKind::Follower);
        assert_eq!(learner_kind(&c, &view, 3), LearnerKind::Observer);
        let c = cfg("peerType=observer\n");
        assert_eq!(learner_kind(&c, &view, 1), LearnerKind::Observer);
        assert_eq!(learner_mode(LearnerKind::Observer).name(), "observer");
        assert_eq!(learner_mode(LearnerKind::Follower).name(), "follower");
    }

    #[test]
    fn reconfig_enabled_adopts_newer_configs_only() {
        let view = quorum_view(&cfg(""));
        let newer = view.clone().with_version(0x1_0000_0000);
        assert!(!adopts(&cfg(""), &view, &newer));
        let on = cfg("reconfigEnabled=true\n");
        assert!(adopts(&on, &view, &newer));
        assert!(!adopts(&on, &newer, &view));
        assert!(!adopts(&on, &newer, &newer));
        assert!(backs_up_static_config(&on) && !backs_up_static_config(&cfg("")));
        assert!(!erases_client_keys(&view, 1));
        let lead = leader_config(&on, &view, 1);
        assert_eq!(lead.established_view(1).version(), 0x1_0000_0000);
        assert_eq!(
            leader_config(&cfg(""), &view, 1)
                .established_view(1)
                .version(),
            0
        );
    }

    #[test]
    fn which_reconfigs_end_a_learner_session() {
        let c = cfg("");
        let view = quorum_view(&c); // 1, 2 participants; 3 observer
        let f = LearnerKind::Follower;
        assert!(!reconfig_ends_learning(f, &view, 2, 1));
        // Removed: a non-voting follower, still following.
        let without_2 = QuorumMaj::new(
            view.servers()
                .iter()
                .filter(|s| s.sid != 2)
                .cloned()
                .collect(),
            5,
        );
        assert!(!reconfig_ends_learning(f, &without_2, 2, 1));
        // The leader removed, or an observer becoming a participant.
        assert!(reconfig_ends_learning(f, &without_2, 3, 2));
        assert!(reconfig_ends_learning(
            LearnerKind::Observer,
            &without_2,
            2,
            1
        ));
        assert!(!reconfig_ends_learning(LearnerKind::Observer, &view, 3, 1));
    }

    #[test]
    fn what_follows_an_election() {
        assert_eq!(after_election(ServerState::Leading, 1), Next::Lead);
        assert_eq!(
            after_election(ServerState::Following, 2),
            Next::Learn {
                leader: 2,
                kind: LearnerKind::Follower
            }
        );
        assert_eq!(
            after_election(ServerState::Observing, 2),
            Next::Learn {
                leader: 2,
                kind: LearnerKind::Observer
            }
        );
        assert_eq!(after_election(ServerState::Looking, 2), Next::Look);
    }

    #[test]
    fn zab_configs_take_the_timing_and_buffer_from_zoo_cfg() {
        let c = cfg("jute.maxbuffer=20000000\n");
        let view = quorum_view(&c);
        let l = learner_config(&c, &view, 2, LearnerKind::Follower);
        assert_eq!(l.tick_time, Duration::from_millis(3000));
        assert_eq!((l.init_limit, l.sync_limit, l.sid), (7, 3, 2));
        assert_eq!(l.max_buffer, 20_000_000 + 1024);
        let lead = leader_config(&c, &view, 1);
        assert_eq!(lead.tick_time, Duration::from_millis(3000));
        assert_eq!((lead.init_limit, lead.sync_limit, lead.sid), (7, 3, 1));
        assert_eq!(lead.max_buffer, 20_000_000 + 1024);
        // A small jute.maxbuffer never goes below the protocol's default.
        let small = cfg("jute.maxbuffer=1000\n");
        assert_eq!(max_buffer(&small), packet::DEFAULT_MAX_BUFFER);
        assert_eq!(read_only_delay(&c), Duration::from_millis(3000));
        assert_eq!(read_only_delay(&cfg("")), Duration::from_millis(3000));
    }

    #[test]
    fn the_client_listener_moves_only_when_our_client_address_changes() {
        let parse = |text: &str| QuorumMaj::parse_java_string(text).expect("a valid config");
        let bare = parse("server.1=h:1:2:participant\nserver.2=h:3:4:participant\nversion=1");
        let at = |port: u16, version: u64| {
            parse(&format!(
                "server.1=h:1:2:participant;127.0.0.1:{port}\n\
                 server.2=h:3:4:participant;5000\nversion={version:x}"
            ))
        };
        // First client address for us, a new port, the same one again.
        let moved = Some(("127.0.0.1".to_string(), 2181));
        assert_eq!(moved_client_address(&bare, &at(2181, 2), 1), moved);
        assert_eq!(
            moved_client_address(&at(2181, 2), &at(2182, 3), 1),
            Some(("127.0.0.1".to_string(), 2182))
        );
        assert_eq!(moved_client_address(&at(2181, 2), &at(2181, 3), 1), None);
        // Another member's change, a config without our client address, or without us.
        assert_eq!(moved_client_address(&at(2181, 2), &at(2182, 3), 2), None);
        assert_eq!(moved_client_address(&at(2181, 2), &bare, 1), None);
        assert_eq!(moved_client_address(&at(2181, 2), &at(2182, 3), 7), None);
        // Only a port: every interface.
        assert_eq!(
            moved_client_address(&bare, &at(2181, 2), 2),
            Some(("0.0.0.0".to_string(), 5000))
        );
    }

    #[test]
    fn read_only_waits_at_least_two_seconds() {
        let text = "tickTime=500\ninitLimit=5\nsyncLimit=2\ndataDir=/tmp/zkrs-peer-role\nclientPort=2181\n\
                    server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n";
        let c = crate::config::parse(text).unwrap().0;
        assert_eq!(read_only_delay(&c), Duration::from_millis(2000));
    }
}
