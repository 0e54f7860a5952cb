//! The reading of whole files: every key through `parse`, against Java's behaviour.

use std::collections::BTreeSet;

use super::*;

/// `/etc/zookeeper/conf/zoo.cfg` as Debian's zookeeper 3.8.0 package ships it.
const DEBIAN_ZOO_CFG: &str = "\
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial 
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between 
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
# do not use /tmp for storage, /tmp here is just 
# example sakes.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
# increase this if you need to handle more clients
#maxClientCnxns=60
#
# Be sure to read the maintenance section of the 
# administrator guide before turning on autopurge.
#
# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance
#
# The number of snapshots to retain in dataDir
#autopurge.snapRetainCount=3
# Purge task interval in hours
# Set to \"0\" to disable auto purge feature
#autopurge.purgeInterval=1

## Metrics Providers
#
# https://prometheus.io Metrics Exporter
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpHost=0.0.0.0
#metricsProvider.httpPort=7000
#metricsProvider.exportJvmInfo=true
";

const MIN: &str = "dataDir=/d\nclientPort=2181\n";

fn ok(text: &str) -> (Config, Vec<String>) {
    match parse(text) {
        Ok(r) => r,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok((c, _)) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

fn with(extra: &str) -> (Config, Vec<String>) {
    ok(&format!("{MIN}{extra}\n"))
}

fn with_err(extra: &str) -> ConfigError {
    err(&format!("{MIN}{extra}\n"))
}

fn has_warning(warnings: &[String], needle: &str) -> bool {
    warnings.iter().any(|w| w.contains(needle))
}

#[test]
fn enforce_auth_follows_java_authentication_helper() {
    assert_eq!(with("").0.enforce_auth_schemes, None);
    assert_eq!(
        with("enforce.auth.schemes=digest").0.enforce_auth_schemes,
        None
    );
    let c = with("enforce.auth.enabled=TRUE\nenforce.auth.schemes= digest , ip,").0;
    assert_eq!(
        c.enforce_auth_schemes,
        Some(vec!["digest".to_string(), "ip".to_string()])
    );
    let e = with_err("enforce.auth.enabled=true");
    assert_eq!(e.key(), Some("enforce.auth.schemes"));
    for bad in ["sasl", ",digest", "x509"] {
        let e = with_err(&format!(
            "enforce.auth.enabled=true\nenforce.auth.schemes={bad}"
        ));
        assert!(e.to_string().contains("is not available"), "{bad}: {e}");
    }
    // Without the digest provider, digest cannot be enforced.
    let e = with_err(
        "DigestAuthenticationProvider.enabled=false\nenforce.auth.enabled=true\n\
         enforce.auth.schemes=digest",
    );
    assert!(e.to_string().contains("digest is not available"));
    // sessionRequireClientSASLAuth means sasl, which has no provider without authProvider.N.
    let e = with_err("sessionRequireClientSASLAuth=true\nenforce.auth.enabled=false");
    assert!(e.to_string().contains("sasl is not available"));
    // As system properties too.
    let (c, _) = parse_with_system_properties(
        &format!("{MIN}\n"),
        &[
            ("zookeeper.enforce.auth.enabled", "true"),
            ("zookeeper.enforce.auth.schemes", "ip"),
            ("zookeeper.enforceQuota", "true"),
        ],
    )
    .unwrap();
    assert_eq!(c.enforce_auth_schemes, Some(vec!["ip".to_string()]));
    assert!(c.enforce_quota);
}

#[test]
fn enforce_quota_and_digest_provider_flags() {
    let c = with("").0;
    assert!(!c.enforce_quota && c.digest_auth_enabled);
    assert!(with("enforceQuota=True").0.enforce_quota);
    assert!(!with("enforceQuota=yes").0.enforce_quota);
    let c = with("DigestAuthenticationProvider.enabled=false\ndigest.enabled=true").0;
    assert!(!c.digest_auth_enabled && c.digest_enabled);
}

#[test]
fn debian_example_parses() {
    let (c, w) = ok(DEBIAN_ZOO_CFG);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.init_limit, 10);
    assert_eq!(c.sync_limit, 5);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(c.client_port, 2181);
    assert_eq!(c.min_session_timeout_ms, 4000);
    assert_eq!(c.max_session_timeout_ms, 40000);
    assert!(c.servers.is_empty());
    assert!(!c.is_distributed());
}

#[test]
fn java_defaults() {
    let (c, w) = ok(MIN);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.init_limit, 0);
    assert_eq!(c.sync_limit, 0);
    assert_eq!(c.data_log_dir, PathBuf::from("/d"));
    assert_eq!(c.client_port_address, None);
    assert_eq!(
        c.client_socket_addr(),
        "0.0.0.0:2181".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.client_port_listen_backlog, None);
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.min_session_timeout_ms, 6000);
    assert_eq!(c.max_session_timeout_ms, 60000);
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::java_default());
    assert!(c.four_letter_word_enabled("srvr"));
    assert!(!c.four_letter_word_enabled("ruok"));
    assert!(!c.four_letter_word_enabled("isro"));
    assert!(!c.extended_types_enabled);
    assert_eq!(c.snap_count, 100_000);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert!(c.force_sync);
    assert_eq!(c.pre_alloc_size_kb, 65536);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.jute_maxbuffer, 0xfffff);
    assert_eq!(c.container_check_interval_ms, 60_000);
    assert!(c.digest_enabled);
    assert!(!c.skip_acl);
    assert!(!c.reconfig_enabled);
    assert!(c.standalone_enabled);
    assert_eq!(c.peer_type, PeerType::Participant);
    assert_eq!(c.config_version, None);
    assert_eq!(c.dynamic_config_file, None);
    assert_eq!(c.my_id, None);
    assert_eq!(c.super_digest, None);
    assert!(!c.read_only_mode_enabled);
}

#[test]
fn embedded() {
    let c = embedded_default();
    assert_eq!(
        c.client_socket_addr(),
        "127.0.0.1:2181".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.data_dir, PathBuf::from("./zk-data"));
    assert_eq!(c.data_log_dir, PathBuf::from("./zk-data"));
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.min_session_timeout_ms, 4000);
    assert_eq!(c.max_session_timeout_ms, 40000);
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
    assert!(c.four_letter_word_enabled("ruok"));
    assert!(c.four_letter_word_enabled("mntr"));
    assert!(!c.four_letter_word_enabled("xyzw"));
    assert!(!c.is_distributed());
    assert_eq!(Config::default(), c);
}

#[test]
fn properties_syntax() {
    let text = "  # comment\n! also a comment\n\n\
                tickTime 2500\n\
                dataDir : /data/zk  \n\
                clientPort=\\\n    2182\n\
                initLimit\t=\t7\r\n\
                syncLimit=3\r\
                maxClientCnxns:=\n";
    // "maxClientCnxns:=" is key maxClientCnxns, value "=": invalid.
    let e = parse(text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value \"=\" for maxClientCnxns: expected a non-negative integer"
    );
    let (c, w) = ok(&text.replace("maxClientCnxns:=", "maxClientCnxns:10"));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.tick_time_ms, 2500);
    assert_eq!(c.data_dir, PathBuf::from("/data/zk"));
    assert_eq!(c.client_port, 2182);
    assert_eq!(c.init_limit, 7);
    assert_eq!(c.sync_limit, 3);
    assert_eq!(c.max_client_cnxns, 10);
}

#[test]
fn duplicate_key_last_wins_with_warning() {
    let (c, w) = with("tickTime=1000\ntickTime=1500");
    assert_eq!(c.tick_time_ms, 1500);
    assert!(
        has_warning(&w, "line 3: tickTime is set again later"),
        "{w:?}"
    );
}

#[test]
fn tick_time() {
    assert_eq!(with("tickTime=100").0.tick_time_ms, 100);
    for bad in ["abc", "0", "-5", "1.5", "99999999999", ""] {
        let e = with_err(&format!("tickTime={bad}"));
        assert_eq!(
            e.to_string(),
            format!("invalid value \"{bad}\" for tickTime: expected a positive integer")
        );
        assert_eq!(e.key(), Some("tickTime"));
    }
}

#[test]
fn session_timeouts() {
    let (c, _) = with("tickTime=1000");
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (2000, 20000)
    );
    let (c, _) = with("tickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=-1");
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (2000, 20000)
    );
    let (c, _) = with("minSessionTimeout=100\nmaxSessionTimeout=200");
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (100, 200)
    );
    let e = with_err("minSessionTimeout=5000\nmaxSessionTimeout=4000");
    assert_eq!(
        e.to_string(),
        "minSessionTimeout (5000) must not be larger than maxSessionTimeout (4000)"
    );
    // Default max (20 * 3000) below an explicit min.
    let e = with_err("minSessionTimeout=70000");
    assert_eq!(e.key(), Some("minSessionTimeout"));
    let e = with_err("maxSessionTimeout=-2");
    assert_eq!(
        e.to_string(),
        "invalid value \"-2\" for maxSessionTimeout: expected -1 or a non-negative number \
         of ms"
    );
}

#[test]
fn data_dirs() {
    let (c, w) = ok("dataDir=rel/dir\ndataLogDir=/logs\nclientPort=1\n");
    assert_eq!(c.data_dir, PathBuf::from("rel/dir"));
    assert_eq!(c.data_log_dir, PathBuf::from("/logs"));
    assert!(has_warning(&w, "dataDir rel/dir is relative"), "{w:?}");
    let e = err("clientPort=2181\n");
    assert_eq!(
        e,
        ConfigError::Missing {
            key: "dataDir".into()
        }
    );
    assert_eq!(e.to_string(), "dataDir is not set");
    assert_eq!(
        err("dataDir=\nclientPort=1\n").to_string(),
        "invalid value \"\" for dataDir: expected a directory"
    );
}

#[test]
fn client_port_and_address() {
    let e = err("dataDir=/d\n");
    assert_eq!(e.to_string(), "clientPort is not set");
    assert_eq!(
        err("dataDir=/d\nclientPort=0\n").to_string(),
        "clientPort is not set"
    );
    for bad in ["70000", "-1", "x"] {
        assert_eq!(
            err(&format!("dataDir=/d\nclientPort={bad}\n")).to_string(),
            format!("invalid value \"{bad}\" for clientPort: expected a port number (1-65535)")
        );
    }
    let (c, _) = with("clientPortAddress=127.0.0.1");
    assert_eq!(
        c.client_socket_addr(),
        "127.0.0.1:2181".parse::<SocketAddr>().unwrap()
    );
    let (c, _) = with("clientPortAddress=::1");
    assert_eq!(c.client_port_address, Some("::1".parse().unwrap()));
    let (c, _) = with("clientPortAddress=[::1]");
    assert_eq!(c.client_port_address, Some("::1".parse().unwrap()));
    let (c, _) = with("clientPortAddress=localhost");
    assert!(c.client_port_address.unwrap().is_loopback());
    let e = with_err("clientPortAddress=no such host.invalid");
    assert_eq!(e.key(), Some("clientPortAddress"));
    let e = err("dataDir=/d\nclientPortAddress=127.0.0.1\n");
    assert_eq!(
        e.to_string(),
        "clientPortAddress is set but clientPort is not set"
    );
    let (c, _) = with("clientPortListenBacklog=50");
    assert_eq!(c.client_port_listen_backlog, Some(50));
    let (c, _) = with("clientPortListenBacklog=-1");
    assert_eq!(c.client_port_listen_backlog, None);
}

#[test]
fn request_throttler_keys() {
    let d = with("").0;
    assert_eq!(
        (
            d.request_throttle_max_requests,
            d.request_throttle_stall_time_ms,
            d.request_throttle_drop_stale
        ),
        (0, 100, true)
    );
    let c = with(
        "request_throttle_max_requests=50\nrequest_throttle_stall_time=20\n\
         request_throttle_drop_stale=false",
    )
    .0;
    assert_eq!(c.request_throttle_max_requests, 50);
    assert_eq!(c.request_throttle_stall_time_ms, 20);
    assert!(!c.request_throttle_drop_stale);
    assert_eq!(
        with_err("request_throttle_stall_time=-1").key(),
        Some("request_throttle_stall_time")
    );
}

#[test]
fn connection_limits() {
    assert_eq!(with("maxClientCnxns=0").0.max_client_cnxns, 0);
    assert_eq!(with("maxClientCnxns=500").0.max_client_cnxns, 500);
    assert_eq!(with_err("maxClientCnxns=-1").key(), Some("maxClientCnxns"));
    // maxCnxns (a limit on all connections together) is checked, then ignored.
    let (_, w) = with("maxCnxns=100");
    assert!(
        has_warning(&w, "line 3: maxCnxns is accepted but ignored"),
        "{w:?}"
    );
    assert_eq!(with_err("maxCnxns=lots").key(), Some("maxCnxns"));
    assert_eq!(
        with("globalOutstandingLimit=0x10")
            .0
            .global_outstanding_limit,
        16
    );
    assert_eq!(
        with_err("globalOutstandingLimit=lots").to_string(),
        "invalid value \"lots\" for globalOutstandingLimit: expected a non-negative integer"
    );
}

#[test]
fn four_letter_whitelist() {
    let (c, w) = with("4lw.commands.whitelist=*");
    assert!(w.is_empty());
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
    for word in KNOWN_FOUR_LETTER_WORDS {
        assert!(c.four_letter_word_enabled(word), "{word}");
    }
    let (c, w) = with("4lw.commands.whitelist= ruok , stat,,mntr ");
    assert!(w.is_empty(), "{w:?}");
    let expected: BTreeSet<String> = ["ruok", "stat", "mntr", "srvr"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::Only(expected));
    assert!(c.four_letter_word_enabled("srvr"));
    assert!(!c.four_letter_word_enabled("conf"));
    let (c, _) = with("4lw.commands.whitelist=ruok, *");
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
    let (c, _) = with("4lw.commands.whitelist=");
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::java_default());
    let (c, w) = with("4lw.commands.whitelist=ruok,RUOK,bogus");
    assert!(c.four_letter_word_enabled("ruok"));
    assert!(!c.four_letter_word_enabled("RUOK"));
    assert!(
        has_warning(&w, "\"RUOK\" is not a four letter word"),
        "{w:?}"
    );
    assert!(has_warning(&w, "\"bogus\""), "{w:?}");
}

#[test]
fn read_only_mode_enables_isro() {
    let (c, _) = parse_with_system_properties(MIN, &[("readonlymode.enabled", "true")]).unwrap();
    assert!(c.read_only_mode_enabled);
    assert!(c.four_letter_word_enabled("isro"));
    let (c, w) = with("readonlymode.enabled=true");
    assert!(c.read_only_mode_enabled);
    assert!(c.four_letter_word_enabled("isro"));
    assert!(
        has_warning(&w, "readonlymode.enabled in zoo.cfg is ignored by Java"),
        "{w:?}"
    );
    assert!(!with("readonlymode.enabled=false").0.read_only_mode_enabled);
}

#[test]
fn extended_types() {
    assert!(with("extendedTypesEnabled=true").0.extended_types_enabled);
    assert!(with("extendedTypesEnabled=TRUE").0.extended_types_enabled);
    assert!(!with("extendedTypesEnabled=false").0.extended_types_enabled);
    let (c, w) = with("extendedTypesEnabled=yes");
    assert!(!c.extended_types_enabled);
    assert!(has_warning(&w, "Java reads it as false"), "{w:?}");
    let (c, w) = with("zookeeper.extendedTypesEnabled=true");
    assert!(c.extended_types_enabled);
    assert!(
        has_warning(&w, "Java ignores the \"zookeeper.\" prefix"),
        "{w:?}"
    );
    let (c, _) =
        parse_with_system_properties(MIN, &[("zookeeper.extendedTypesEnabled", "true")]).unwrap();
    assert!(c.extended_types_enabled);
}

#[test]
fn snapshots_and_purge() {
    assert_eq!(with("snapCount=5000").0.snap_count, 5000);
    let (c, w) = with("snapCount=1");
    assert_eq!(c.snap_count, 2);
    assert!(has_warning(&w, "snapCount 1 is below 2"), "{w:?}");
    assert_eq!(
        with_err("snapCount=abc").to_string(),
        "invalid value \"abc\" for snapCount: expected an integer"
    );
    assert_eq!(
        with("autopurge.snapRetainCount=10")
            .0
            .autopurge_snap_retain_count,
        10
    );
    let (c, w) = with("autopurge.snapRetainCount=1");
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert!(has_warning(&w, "below 3"), "{w:?}");
    assert_eq!(
        with("autopurge.purgeInterval=24")
            .0
            .autopurge_purge_interval_hours,
        24
    );
    assert_eq!(
        with("autopurge.purgeInterval=-1")
            .0
            .autopurge_purge_interval_hours,
        0
    );
    assert_eq!(
        with_err("autopurge.purgeInterval=daily").key(),
        Some("autopurge.purgeInterval")
    );
    assert_eq!(with("preAllocSize=1024").0.pre_alloc_size_kb, 1024);
    assert_eq!(with_err("preAllocSize=big").key(), Some("preAllocSize"));
}

#[test]
fn yes_no_keys() {
    assert!(!with("forceSync=no").0.force_sync);
    assert!(with("forceSync=yes").0.force_sync);
    let (c, w) = with("forceSync=false");
    assert!(c.force_sync, "Java only turns forceSync off for \"no\"");
    assert!(has_warning(&w, "forceSync=false"), "{w:?}");
    assert!(with("skipACL=yes").0.skip_acl);
    assert!(!with("skipACL=no").0.skip_acl);
    let (c, w) = with("skipACL=true");
    assert!(!c.skip_acl);
    assert!(has_warning(&w, "skipACL=true"), "{w:?}");
    assert!(!with("digest.enabled=false").0.digest_enabled);
    assert!(with("digest.enabled=true").0.digest_enabled);
}

#[test]
fn jute_maxbuffer() {
    let (c, w) = with("jute.maxbuffer=4194304");
    assert_eq!(c.jute_maxbuffer, 4_194_304);
    assert!(has_warning(&w, "ignored by Java"), "{w:?}");
    assert_eq!(with("jute.maxbuffer=0x200000").0.jute_maxbuffer, 0x200000);
    assert_eq!(
        with_err("jute.maxbuffer=0").to_string(),
        "invalid value \"0\" for jute.maxbuffer: expected a positive integer"
    );
    let (c, _) = parse_with_system_properties(MIN, &[("jute.maxbuffer", "0x100000")]).unwrap();
    assert_eq!(c.jute_maxbuffer, 0x100000);
}

#[test]
fn booleans() {
    let (c, w) = with("reconfigEnabled=true\nstandaloneEnabled=TRUE");
    assert!(w.is_empty(), "{w:?}");
    assert!(c.reconfig_enabled);
    assert!(c.standalone_enabled);
    let (_, w) = with(
        "localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n\
         quorumListenOnAllIPs=true\nsyncEnabled=false",
    );
    for key in [
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "quorumListenOnAllIPs",
        "syncEnabled",
    ] {
        assert!(
            has_warning(&w, &format!("{key} is accepted but ignored")),
            "{key}: {w:?}"
        );
    }
    for key in [
        "reconfigEnabled",
        "standaloneEnabled",
        "localSessionsEnabled",
        "quorumListenOnAllIPs",
        "syncEnabled",
        "sslQuorum",
        "portUnification",
        "quorum.auth.enableSasl",
    ] {
        assert_eq!(
            with_err(&format!("{key}=yes")).to_string(),
            format!("invalid value \"yes\" for {key}: expected true or false")
        );
    }
}

#[test]
fn admin_server() {
    let (c, w) = with(
        "admin.enableServer=false\nadmin.serverPort=9090\nadmin.serverAddress=127.0.0.1\n\
         admin.idleTimeout=5000\nadmin.commandURL=/cmds",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        c.admin,
        AdminConfig {
            enabled: false,
            address: "127.0.0.1".to_string(),
            port: 9090,
            command_url: "/cmds".to_string(),
            idle_timeout_ms: 5000,
            snapshot_enabled: true,
            restore_enabled: true,
        }
    );
    let (c, w) = with("admin.snapshot.enabled=false\nadmin.restore.enabled=False");
    assert!(w.is_empty(), "{w:?}");
    assert!(!c.admin.snapshot_enabled && !c.admin.restore_enabled);
    let (c, _) = with("");
    assert!(c.admin.enabled);
    assert_eq!(
        (
            c.admin.address.as_str(),
            c.admin.port,
            c.admin.command_url.as_str()
        ),
        ("0.0.0.0", 8080, "/commands")
    );
    assert_eq!(c.admin.idle_timeout_ms, 30_000);
    // Java enables the server for anything but "false".
    let (c, w) = with("admin.enableServer=FALSE");
    assert!(c.admin.enabled);
    assert!(has_warning(&w, "admin.enableServer=FALSE"), "{w:?}");
    assert_eq!(
        with_err("admin.serverPort=99999").key(),
        Some("admin.serverPort")
    );
    // TLS, snapshot and restore keys are accepted and ignored, saying why.
    let (_, w) = with("admin.forceHttps=true\nadmin.rateLimiterIntervalInMS=5");
    assert!(
        has_warning(
            &w,
            "admin.forceHttps is accepted but ignored: the AdminServer speaks plain HTTP only"
        ),
        "{w:?}"
    );
    assert!(has_warning(&w, "admin.rateLimiterIntervalInMS"), "{w:?}");
    // Without a file the AdminServer answers on this machine only.
    assert_eq!(embedded_default().admin.address, "127.0.0.1");
    let (c, _) = embedded_with_system_properties(&[("zookeeper.admin.serverPort", "0")]).unwrap();
    assert_eq!((c.admin.address.as_str(), c.admin.port), ("127.0.0.1", 0));
}

#[test]
fn super_digest() {
    let (c, w) = with("DigestAuthenticationProvider.superDigest=super:abc=");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
    let (c, _) = parse_with_system_properties(
        MIN,
        &[(
            "zookeeper.DigestAuthenticationProvider.superDigest",
            "super:xyz=",
        )],
    )
    .unwrap();
    assert_eq!(c.super_digest.as_deref(), Some("super:xyz="));
}

#[test]
fn fsync_warning_threshold_from_the_file_or_either_property() {
    let ms = |text: &str, props: &[(&str, &str)]| {
        let (c, w) = parse_with_system_properties(&format!("{MIN}{text}"), props).unwrap();
        (c.fsync_warning_threshold_ms, w.len())
    };
    assert_eq!(ms("", &[]), (1000, 0));
    assert_eq!(ms("fsync.warningthresholdms=50\n", &[]), (50, 0));
    assert_eq!(ms("fsync.warningthresholdms=0x10\n", &[]), (16, 0));
    assert_eq!(ms("fsync.warningthresholdms=soon\n", &[]), (1000, 1));
    assert_eq!(ms("", &[("fsync.warningthresholdms", "7")]), (7, 0));
    // The prefixed property wins over the bare one, whatever their order.
    for props in [
        [
            ("fsync.warningthresholdms", "7"),
            ("zookeeper.fsync.warningthresholdms", "9"),
        ],
        [
            ("zookeeper.fsync.warningthresholdms", "9"),
            ("fsync.warningthresholdms", "7"),
        ],
    ] {
        assert_eq!(ms("", &props), (9, 0));
        assert_eq!(ms("fsync.warningthresholdms=3\n", &props), (3, 0));
    }
}

#[test]
fn file_wins_over_system_properties() {
    let props = [
        ("zookeeper.snapCount", "10"),
        ("zookeeper.forceSync", "no"),
        ("zookeeper.tickTime", "5"),
        ("java.io.tmpdir", "/tmp"),
    ];
    let (c, w) = parse_with_system_properties(&format!("{MIN}snapCount=20\n"), &props).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.snap_count, 20);
    assert!(!c.force_sync);
    // tickTime is not a system property in Java.
    assert_eq!(c.tick_time_ms, 3000);
    let e = parse_with_system_properties(MIN, &[("zookeeper.snapCount", "x")]).unwrap_err();
    assert_eq!(e.key(), Some("snapCount"));
}

#[test]
fn known_keys_zk_rs_ignores_say_why() {
    let lines = [
        "metricsProvider.numWorkerThreads=2",
        "metricsProvider.someKey=7000",
        "authProvider.1=org.example.Auth",
        "electionPortBindRetry=3",
        "jvm.pause.monitor=true",
        "jvm.pause.sleep.time.ms=500",
        "quorum.cnxn.threads.size=20",
        "connectToLearnerMasterLimit=4",
        "snapshot.trust.empty=true",
    ];
    let (_, w) = with(&lines.join("\n"));
    assert_eq!(w.len(), lines.len(), "{w:?}");
    for (i, line) in lines.iter().enumerate() {
        let key = line.split('=').next().unwrap();
        let want = format!("line {}: {key} is accepted but ignored: ", i + 3);
        assert!(has_warning(&w, &want), "{want}: {w:?}");
    }
    // Keys zk-rs acts on, or accepts only with the value it implements, are silent.
    let (_, w) = with("electionAlg=3\ninitLimit=5\nsnapCount=10\n4lw.commands.whitelist=*");
    assert!(w.is_empty(), "{w:?}");

    let (_, w) = with("fooBar=1");
    assert_eq!(
        w,
        [
            "line 3: unknown key fooBar (Java would set the system property zookeeper.fooBar, \
          which nothing reads); ignored"
        ]
    );
}

#[test]
fn unsupported_but_accepted() {
    let (c, w) = with(
        "secureClientPort=2281\nsecureClientPortAddress=0.0.0.0\nclient.portUnification=true\n\
         client.certReload=true\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         X509AuthenticationProvider.superUser=CN=admin\nssl.keyStore.location=/k",
    );
    assert!(w.is_empty(), "the client TLS keys are used: {w:?}");
    assert_eq!(c.secure_client_port, 2281);
    assert_eq!(
        c.secure_client_port_address,
        Some("0.0.0.0".parse().unwrap())
    );
    assert!(c.client_port_unification && c.client_cert_reload);
    assert_eq!(c.server_cnxn_factory.as_deref(), Some(super::NETTY_FACTORY));
    assert_eq!(c.x509_super_user.as_deref(), Some("CN=admin"));
    assert!(
        c.x509_provider(),
        "unification registers x509 as Java's configureSSLAuth"
    );
    let e = with_err("secureClientPortAddress=0.0.0.0");
    assert_eq!(
        e.to_string(),
        "secureClientPortAddress is set but secureClientPort is not set"
    );
    let (c, w) = with("sslQuorum=true\nportUnification=true");
    assert!(!w.iter().any(|w| w.contains("sslQuorum")), "{w:?}");
    assert!(c.ssl_quorum_enabled && c.quorum_port_unification);
    let (c, w) = with("quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true");
    assert!(!w.iter().any(|w| w.contains("quorum")), "{w:?}");
    assert!(c.quorum_sasl.enabled && c.quorum_sasl.learner_requires);
    assert!(!c.quorum_sasl.server_requires);
    assert_eq!(c.quorum_sasl.server_login_context, "QuorumServer");
    assert_eq!(c.quorum_sasl.learner_login_context, "QuorumLearner");
    assert_eq!(c.quorum_sasl.service_principal, "zkquorum/localhost");
    let (c, w) = with("quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.quorum_sasl.service_principal, "zkquorum/_HOST");
}

#[test]
fn quorum_sasl_consistency() {
    let e = with_err("quorum.auth.serverRequireSasl=true");
    assert_eq!(
        e.to_string(),
        "quorum.auth.enableSasl is disabled, so quorum.auth.serverRequireSasl cannot be \
         enabled"
    );
    let e = with_err("quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true");
    assert_eq!(e.key(), Some("quorum.auth.serverRequireSasl"));
    assert!(
        e.to_string().contains("learnerRequireSasl is disabled"),
        "{e}"
    );
}

#[test]
fn election_alg_and_peer_type() {
    assert_eq!(
        with_err("electionAlg=1").to_string(),
        "invalid value \"1\" for electionAlg: expected 3 (the only election algorithm \
         Java 3.8 supports)"
    );
    assert_eq!(with("peerType=Observer").0.peer_type, PeerType::Observer);
    assert_eq!(
        with("peerType=participant").0.peer_type,
        PeerType::Participant
    );
    assert_eq!(with_err("peerType=leader").key(), Some("peerType"));
}

const ENSEMBLE: &str = "tickTime=2000\ndataDir=/d\nclientPort=2181\ninitLimit=10\n\
                        syncLimit=5\nserver.1=zk1:2888:3888\nserver.2=zk2:2888:3888\n\
                        server.3=10.0.0.3:2888:3888:participant;2181\n";

#[test]
fn ensemble() {
    let (c, w) = ok(ENSEMBLE);
    assert!(w.is_empty(), "{w:?}");
    assert!(c.is_distributed());
    assert_eq!(c.servers.len(), 3);
    assert_eq!(
        c.servers[0],
        ServerLine {
            id: 1,
            host: "zk1".into(),
            quorum_port: 2888,
            election_port: 3888,
            observer: false,
            client: None,
        }
    );
    assert_eq!(c.server(3).unwrap().client, Some((None, 2181)));
    let e = err(&ENSEMBLE.replace("initLimit=10\n", ""));
    assert_eq!(e.to_string(), "initLimit is not set");
    let e = err(&ENSEMBLE.replace("syncLimit=5\n", ""));
    assert_eq!(e.to_string(), "syncLimit is not set");
}

#[test]
fn ensemble_size_warnings_and_errors() {
    let base = "dataDir=/d\nclientPort=1\ninitLimit=1\nsyncLimit=1\n";
    let (c, w) = ok(&format!("{base}server.1=a:1:2\n"));
    assert!(!c.is_distributed());
    assert!(has_warning(&w, "only one server.N line"), "{w:?}");
    let (c, w) = ok(&format!("{base}standaloneEnabled=false\nserver.1=a:1:2\n"));
    assert!(c.is_distributed());
    assert!(!has_warning(&w, "only one"), "{w:?}");
    let (_, w) = ok(&format!("{base}server.1=a:1:2\nserver.2=b:1:2\n"));
    assert!(
        has_warning(&w, "no server failure will be tolerated"),
        "{w:?}"
    );
    let (_, w) = ok(&format!(
        "{base}server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n"
    ));
    assert!(has_warning(&w, "odd number"), "{w:?}");
    let (c, w) = ok(&format!(
        "{base}server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2:observer\n"
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.participants().count(), 3);
    assert!(c.server(4).unwrap().observer);

    let e = err(&format!("{base}standaloneEnabled=false\n"));
    assert_eq!(e.key(), Some("standaloneEnabled"));
    let e = err(&format!("{base}server.1=a:1:2:observer\n"));
    assert!(e.to_string().contains("without participants"), "{e}");
    let e = err(&format!("{base}server.1=a:1:2\nserver.2=b:1:2:observer\n"));
    assert!(e.to_string().contains("without a quorum"), "{e}");
    let e = err(&format!("{base}server.1=a:1:2\nserver.01=b:1:2\n"));
    assert_eq!(e.to_string(), "server id 1 is given more than once");
}

#[test]
fn hierarchical_quorums_as_java_checks_them() {
    let ensemble = "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2:observer\n\
                    initLimit=5\nsyncLimit=2\n";
    let (c, _) = with(&format!("{ensemble}group.1=1:2\ngroup.2=3\nweight.2=3"));
    let view = c.quorum_view().unwrap();
    assert_eq!(view.weight(2), 3);
    assert_eq!(view.weight(1), 1);
    // Group 1 holds a majority of its weight with 2 alone; group 2 needs 3.
    assert!(view.contains_quorum(&[2, 3]));
    assert!(!view.contains_quorum(&[1, 3]));
    let e = with_err(&format!("{ensemble}group.1=1:2"));
    assert!(e.to_string().contains("Server 3 is not in a group"), "{e}");
    let e = with_err(&format!("{ensemble}group.1=1:2:3\ngroup.2=2"));
    assert!(e.to_string().contains("in multiple groups"), "{e}");
    let e = with_err(&format!("{ensemble}group.1=1:2:3\nweight.1=heavy"));
    assert_eq!(e.key(), Some("weight.1"));
    // A dynamic configuration file carries them too.
    let mut c = with(&format!("{ensemble}group.1=1:2:3")).0;
    c.apply_dynamic_config(
        "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\ngroup.1=1\ngroup.2=2:3\n",
        None,
    )
    .unwrap();
    assert_eq!(
        c.quorum_view().unwrap().hierarchy().unwrap().groups.len(),
        2
    );
}

#[test]
fn client_port_from_server_line() {
    let text = "dataDir=/d\ninitLimit=5\nsyncLimit=2\n\
                server.1=a:1:2;127.0.0.1:2191\nserver.2=b:1:2;2192\nserver.3=c:1:2;2193\n";
    let (mut c, _) = ok(text);
    assert_eq!(c.client_port, 0);
    let w = c.set_my_id(Some(1)).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        c.client_socket_addr(),
        "127.0.0.1:2191".parse::<SocketAddr>().unwrap()
    );
    let (mut c, _) = ok(text);
    c.set_my_id(Some(2)).unwrap();
    assert_eq!(
        c.client_socket_addr(),
        "0.0.0.0:2192".parse::<SocketAddr>().unwrap()
    );

    // A static clientPort must agree with the server line.
    let (mut c, _) = ok(&format!("clientPort=2192\n{text}"));
    c.set_my_id(Some(2)).unwrap();
    let (mut c, _) = ok(&format!("clientPort=9999\n{text}"));
    let e = c.set_my_id(Some(2)).unwrap_err();
    assert_eq!(e.key(), Some("clientPort"));
    assert!(e.to_string().contains("is different from"), "{e}");

    // Without a client port anywhere, the text alone is refused.
    let e = err("dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\n");
    assert_eq!(e.to_string(), "clientPort is not set");
}

#[test]
fn set_my_id_checks() {
    let (mut c, _) = ok(ENSEMBLE);
    let e = c.set_my_id(None).unwrap_err();
    assert_eq!(e.key(), Some("myid"));
    let (mut c, _) = ok(ENSEMBLE);
    let e = c.set_my_id(Some(9)).unwrap_err();
    assert_eq!(e.to_string(), "myid 9 is not in the server list");
    let (mut c, _) = ok(ENSEMBLE);
    c.set_my_id(Some(2)).unwrap();
    assert_eq!(c.my_id, Some(2));
    assert_eq!(c.client_port, 2181);

    let (mut c, _) = ok(&format!("{ENSEMBLE}server.4=o:1:2:observer\n"));
    let w = c.set_my_id(Some(4)).unwrap();
    assert_eq!(c.peer_type, PeerType::Observer);
    assert!(has_warning(&w, "does not match"), "{w:?}");

    let (mut c, _) = with("extendedTypesEnabled=true");
    c.set_my_id(Some(254)).unwrap();
    let e = c.set_my_id(Some(255)).unwrap_err();
    assert_eq!(e.key(), Some("extendedTypesEnabled"));

    // Standalone: no myid needed.
    let (mut c, _) = ok(MIN);
    assert!(c.set_my_id(None).unwrap().is_empty());
}

#[test]
fn dynamic_config() {
    let text = "dataDir=/d\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=true\n\
                dynamicConfigFile=/conf/zoo.cfg.dynamic.100000000\n";
    let (mut c, _) = ok(text);
    assert_eq!(
        c.dynamic_config_file,
        Some(PathBuf::from("/conf/zoo.cfg.dynamic.100000000"))
    );
    assert!(c.servers.is_empty());
    let version = version_from_file_name("zoo.cfg.dynamic.100000000");
    assert_eq!(version, Some(0x1_0000_0000));
    let w = c
        .apply_dynamic_config(
            "server.1=a:1:2;2181\nserver.2=b:1:2;2181\nserver.3=c:1:2;2181\n",
            version,
        )
        .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.config_version, Some(0x1_0000_0000));
    c.set_my_id(Some(3)).unwrap();
    assert_eq!(c.client_port, 2181);

    let e = err(&format!("{text}server.1=a:1:2\n"));
    assert_eq!(
        e.to_string(),
        "server.1 must be in the separate dynamic configuration file (dynamicConfigFile is \
         set)"
    );
    let (mut c, _) = ok(text);
    let e = c.apply_dynamic_config("version=1\n", None).unwrap_err();
    assert_eq!(e.key(), Some("version"));
    let e = c.apply_dynamic_config("tickTime=1\n", None).unwrap_err();
    assert!(
        e.to_string().contains("unrecognised parameter tickTime"),
        "{e}"
    );
    assert_eq!(version_from_file_name("zoo.cfg.dynamic"), None);
    assert_eq!(version_from_file_name("zoo.cfg.dynamic.0"), Some(0));
}

#[test]
fn static_version_key() {
    assert_eq!(with("version=1a").0.config_version, Some(0x1a));
    assert_eq!(with_err("version=zz").key(), Some("version"));
}

#[test]
fn load_reads_files() {
    let dir = std::env::temp_dir().join(format!("zk-config-test-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dynamic = dir.join("zoo.cfg.dynamic.5");
    std::fs::write(
        &dynamic,
        "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\n\
         server.3=127.0.0.1:2890:3890;2183\n",
    )
    .unwrap();
    std::fs::write(data.join("myid"), "2\n").unwrap();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "dataDir={}\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile={}\n",
            data.display(),
            dynamic.display()
        ),
    )
    .unwrap();
    let (c, w) = load(&cfg).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.my_id, Some(2));
    assert_eq!(c.client_port, 2182);
    assert_eq!(c.config_version, Some(5));

    std::fs::write(data.join("myid"), "two\n").unwrap();
    let e = load(&cfg).unwrap_err();
    assert_eq!(e.key(), Some("myid"));

    // Latin-1 bytes are read as Java would.
    std::fs::write(&cfg, b"dataDir=/d\xe9\nclientPort=1\n").unwrap();
    let (c, _) = load(&cfg).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/d\u{e9}"));

    let e = load(&dir.join("missing.cfg")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compat_version_defaults_to_3_9_and_accepts_only_known_generations() {
    assert_eq!(with("").0.compat_version, CompatVersion::V3_9);
    assert_eq!(
        with("compat.version=3.8").0.compat_version,
        CompatVersion::V3_8
    );
    assert_eq!(
        with("compat.version=3.9").0.compat_version,
        CompatVersion::V3_9
    );
    assert!(parse(&format!("{MIN}compat.version=3.7\n")).is_err());
}

/// Java's precedence between `-D` and `zoo.cfg`: `QuorumPeerConfig` turns `snapCount=` into
/// `System.setProperty("zookeeper.snapCount", ...)`, overwriting the `-D` value; it never
/// looks at a `readonlymode.enabled` line, so the `-D` value is what Java runs with.
#[test]
fn system_property_precedence_is_javas_per_kind_of_key() {
    let props = [
        ("zookeeper.snapCount", "1000"),
        ("readonlymode.enabled", "true"),
        ("jute.maxbuffer", "2000000"),
    ];
    let text = format!("{MIN}snapCount=5000\nreadonlymode.enabled=false\n");
    let (c, w) = parse_with_system_properties(&text, &props).unwrap();
    assert_eq!(
        c.snap_count, 5000,
        "the file's key sets zookeeper.snapCount"
    );
    assert!(
        c.read_only_mode_enabled,
        "Java reads only -Dreadonlymode.enabled"
    );
    assert_eq!(c.jute_maxbuffer, 2_000_000);
    assert!(
        has_warning(
            &w,
            "readonlymode.enabled in zoo.cfg is ignored: -Dreadonlymode.enabled"
        ),
        "{w:?}"
    );
    // Without the property, zk-rs still honours the file's line (with a warning).
    let (c, _) = with("readonlymode.enabled=true");
    assert!(c.read_only_mode_enabled);
    // Only the property: it applies.
    let (c, _) = parse_with_system_properties(MIN, &props).unwrap();
    assert_eq!(c.snap_count, 1000);
}

#[test]
fn which_system_properties_zk_rs_reads() {
    assert!(reads_system_property("zookeeper.snapCount"));
    assert!(reads_system_property("readonlymode.enabled"));
    assert!(reads_system_property(
        "zookeeper.DigestAuthenticationProvider.superDigest"
    ));
    assert!(reads_system_property("fsync.warningthresholdms"));
    assert!(!reads_system_property("zookeeper.log.dir"));
    assert!(!reads_system_property("com.sun.management.jmxremote"));
    assert!(!reads_system_property("snapCount"));
}

#[test]
fn embedded_text_is_the_embedded_default() {
    let (c, w) = embedded_with_system_properties(&[]).unwrap();
    assert_eq!(c, embedded_default());
    assert!(w.is_empty(), "{w:?}");
    let (c, _) = embedded_with_system_properties(&[("readonlymode.enabled", "true")]).unwrap();
    assert!(c.read_only_mode_enabled);
}

#[test]
fn metrics_provider_keys() {
    let (c, w) = with("");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        c.metrics_provider,
        crate::config::MetricsProviderConf {
            prometheus: false,
            http_host: "0.0.0.0".into(),
            http_port: 7000,
            export_jvm_info: true,
        }
    );
    let (c, w) = with(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=7001\n\
         metricsProvider.exportJvmInfo=false",
    );
    assert!(w.is_empty(), "{w:?}");
    assert!(c.metrics_provider.prometheus);
    assert_eq!(c.metrics_provider.http_host, "127.0.0.1");
    assert_eq!(c.metrics_provider.http_port, 7001);
    assert!(!c.metrics_provider.export_jvm_info);
    let (c, _) =
        with("metricsProvider.className=org.apache.zookeeper.metrics.impl.NullMetricsProvider");
    assert!(!c.metrics_provider.prometheus);
    // Java: "metrics provider class was not found", and no start.
    let e = with_err("metricsProvider.className=org.example.Mine");
    assert_eq!(e.key(), Some("metricsProvider.className"));
    let e = with_err("metricsProvider.httpPort=x");
    assert_eq!(e.key(), Some("metricsProvider.httpPort"));
}

#[test]
fn tls_keys_of_both_prefixes() {
    let (c, w) = with(
        "ssl.keyStore.location=/k.p12\nssl.quorum.clientAuth=want\nssl.quorum.trustStore.type=PEM\n\
         ssl.hostnameVerification=yes\nssl.colour=blue",
    );
    assert_eq!(
        c.ssl.key_store_location.as_deref(),
        Some(std::path::Path::new("/k.p12"))
    );
    assert_eq!(c.ssl.client_auth, crate::tls::ClientAuth::Need);
    assert_eq!(c.ssl_quorum.client_auth, crate::tls::ClientAuth::Want);
    assert_eq!(c.ssl_quorum.trust_store_type.as_deref(), Some("PEM"));
    assert!(c.ssl_quorum.key_store_location.is_none());
    assert!(has_warning(
        &w,
        "ssl.hostnameVerification=yes: not true or false"
    ));
    assert!(has_warning(&w, "ssl.colour is not a TLS key"));
    let e = with_err("ssl.quorum.clientAuth=sometimes");
    assert_eq!(e.key(), Some("ssl.quorum.clientAuth"));
}

#[test]
fn sasl_keys_from_the_file_and_system_properties() {
    let (c, w) = with(
        "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         sasl.serverconfig=MyServer\nallowSaslFailedClients=TRUE\n\
         kerberos.removeHostFromPrincipal=true\nkerberos.removeRealmFromPrincipal=True\n\
         superUser=admin\nsuperUser.2=root\nSASLAuthenticationProvider.superPassword=sp\n\
         letAnySaslUserDoX=anyone",
    );
    assert_eq!(
        w,
        vec!["line 7: kerberos.removeRealmFromPrincipal=True: Java only recognises \"true\"; treating it as false"]
    );
    assert!(c.sasl_provider());
    assert_eq!(c.sasl.server_section.as_deref(), Some("MyServer"));
    assert!(c.sasl.allow_failed_clients);
    // "true".equals(...): exactly `true`.
    assert!(c.sasl.remove_host && !c.sasl.remove_realm);
    assert_eq!(
        c.sasl.super_users,
        vec!["admin".to_string(), "root".to_string()]
    );
    assert_eq!(c.sasl.super_password.as_deref(), Some("sp"));
    assert_eq!(c.let_any_sasl_user_do_x.as_deref(), Some("anyone"));
    assert_eq!(c.sasl.login_config, None);

    let (c, _) = parse_with_system_properties(
        MIN,
        &[
            ("java.security.auth.login.config", "/etc/zk/jaas.conf"),
            (
                "zookeeper.authProvider.sasl",
                "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
            ),
            ("zookeeper.sessionRequireClientSASLAuth", "true"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.sasl.login_config.as_deref(),
        Some(std::path::Path::new("/etc/zk/jaas.conf"))
    );
    assert_eq!(c.enforce_auth_schemes, Some(vec!["sasl".to_string()]));
    // Without the provider Java refuses to enforce sasl.
    let e = with_err("sessionRequireClientSASLAuth=true");
    assert!(
        e.to_string()
            .contains("Authentication scheme sasl is not available."),
        "{e}"
    );
    let (c, _) = with(
        "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         enforce.auth.enabled=true\nenforce.auth.schemes=sasl,digest",
    );
    assert_eq!(
        c.enforce_auth_schemes,
        Some(vec!["sasl".to_string(), "digest".to_string()])
    );
}

#[test]
fn observer_master_keys_and_java_defaults() {
    let quorum =
        "initLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\n";
    let (c, _) = with(quorum);
    assert_eq!(c.observer_master_port, None);
    assert_eq!(c.observer_master_size_limit, 32 * 1024 * 1024);
    assert_eq!(c.observer_reconnect_delay_ms, 0);
    assert_eq!(c.observer_election_delay_ms, 200);
    let (c, w) = with(&format!(
        "{quorum}observerMasterPort=2191\nobserverMaster.sizeLimit=0x1000\n\
         observer.reconnectDelayMs=500\nobserver.election.DelayMs=50"
    ));
    assert_eq!(c.observer_master_port, Some(2191));
    assert_eq!(c.observer_master_size_limit, 4096);
    assert_eq!(c.observer_reconnect_delay_ms, 500);
    assert_eq!(c.observer_election_delay_ms, 50);
    assert!(!has_warning(&w, "observerMasterPort"), "{w:?}");
    // 0 or less is off; a number Java cannot read keeps its default.
    let (c, w) = with(&format!(
        "{quorum}observerMasterPort=0\nobserver.election.DelayMs=soon"
    ));
    assert_eq!(c.observer_master_port, None);
    assert_eq!(c.observer_election_delay_ms, 200);
    assert!(has_warning(&w, "observer.election.DelayMs=soon"), "{w:?}");
    assert_eq!(
        with(&format!("{quorum}observerMasterPort=-1"))
            .0
            .observer_master_port,
        None
    );
    assert_eq!(
        with_err(&format!("{quorum}observerMasterPort=70000")).key(),
        Some("observerMasterPort")
    );
}
