//! Quorum SASL from the configuration, as Java's `QuorumPeer.initialize` sets it up with
//! `quorum.auth.enableSasl=true`: a `SaslQuorumAuthServer` logging in with the JAAS
//! `QuorumServer` section and a `SaslQuorumAuthLearner` logging in with the `QuorumLearner`
//! section (names from `quorum.auth.server.saslLoginContext` /
//! `quorum.auth.learner.saslLoginContext`). Each section picks its mechanism as Java's
//! `SecurityUtils` does, by what the login yields:
//!
//! * `DigestLoginModule`: DIGEST-MD5 (protocol `zookeeper-quorum`, server name
//!   `zk-quorum-sasl-md5`); the server's users are its `user_<name>="<password>"` options,
//!   the learner logs in with `username` / `password`.
//! * `Krb5LoginModule` (`useKeyTab`, `keyTab`, `principal`): GSSAPI. The server accepts with
//!   its principal's keys; both log in from their keytabs at startup (a failure stops the
//!   server, as the JDK's login does) and asks for a ticket to
//!   `quorum.auth.kerberos.servicePrincipal`, `_HOST` replaced by the peer's host as the
//!   configuration writes it ([`service_principal`]).
//!
//! A learner is authorized ([`authorized`]) when the identity it authenticated as is the one
//! it asks to act as, and, for Kerberos, when its principal is `name/host@REALM` with `host`
//! one of the ensemble's `server.N` hosts: the rule of Java 3.9.3 and 3.8.4+ (ZOOKEEPER-4753,
//! CVE-2023-44981's fix, also in Debian's 3.8.0-11+deb12u1). Upstream 3.8.0 let a principal
//! without a host part through; we apply the later rule in both compatibility modes.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{error, info, warn};
use zk_quorum::auth::{LearnerMech, QuorumAuth, ServerMech, SharedAuth, PROTOCOL, SERVER_NAME};
use zk_quorum::sasl::digest_md5::{DigestMd5Client, DigestMd5Server};
use zk_quorum::sasl::gssapi::ffi::{Acceptor, Credential, Initiator};
use zk_quorum::sasl::gssapi::{
    GssapiClient, GssapiServer, LoginOptions, ServerLogin, KRB5_LOGIN_MODULE,
};
use zk_quorum::sasl::jaas::{self, JaasConfig, LoginEntry};
use zk_quorum::sasl::{random_bytes, PasswordLookup, ServerMechanism};
use zk_quorum::verifier::QuorumMaj;

use crate::config::QuorumSasl;

/// Java's login module for DIGEST-MD5 sections.
const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// `SecurityUtils.QUORUM_HOSTNAME_PATTERN`.
const HOST_PATTERN: &str = "_HOST";

/// The in-memory credential caches of the learner's Kerberos logins (never a file; a
/// counter is appended per login).
const LEARNER_CCACHE: &str = "MEMORY:zk-rs-quorum-learner";
/// The in-memory cache of the server's startup login check.
const SERVER_CCACHE: &str = "MEMORY:zk-rs-quorum-server";

type NewServer = Box<dyn Fn() -> Box<dyn ServerMech> + Send + Sync>;
type NewLearner = Box<dyn Fn(SocketAddr) -> Result<Box<dyn LearnerMech>, String> + Send + Sync>;

/// The quorum's SASL, or `None` without `quorum.auth.enableSasl`. `Err` where Java fails to
/// start ("Failed to initialize authentication mechanism using SASL").
pub fn quorum_auth(
    q: &QuorumSasl,
    jaas_path: Option<&Path>,
    view: &QuorumMaj,
) -> Result<Option<SharedAuth>, String> {
    if !q.enabled {
        return Ok(None);
    }
    let fail =
        |why: String| format!("Failed to initialize authentication mechanism using SASL: {why}");
    let path = jaas_path.ok_or_else(|| {
        fail("no JAAS file (java.security.auth.login.config is not set)".to_string())
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let config = jaas::parse(&text, &|_| None).map_err(|e| fail(e.to_string()))?;
    let hosts: HashSet<String> = view.servers().iter().map(|s| s.host.clone()).collect();
    let new_server = server_side(&config, &q.server_login_context, hosts).map_err(fail)?;
    let new_learner = learner_side(
        &config,
        &q.learner_login_context,
        &q.service_principal,
        hosts_by_address(view),
    )
    .map_err(fail)?;
    Ok(Some(Arc::new(QuorumAuth {
        server_requires: q.server_requires,
        learner_requires: q.learner_requires,
        new_server,
        new_learner,
    })))
}

/// Java's `SecurityUtils.getServerPrincipal`: `_HOST` as the whole second `/` component is
/// replaced by `host` in lower case; `zkquorum/_HOST@REALM` (a realm after `_HOST`) is left
/// as it is, as Java leaves it.
pub fn service_principal(configured: &str, host: &str) -> String {
    match configured.split('/').collect::<Vec<_>>().as_slice() {
        [service, HOST_PATTERN] => format!("{service}/{}", host.to_lowercase()),
        _ => configured.to_string(),
    }
}

/// `principal` with `realm` when it names none (Java appends the learner's realm before
/// splitting the service principal into service and host).
fn with_realm(principal: &str, realm: &str) -> String {
    if principal.contains('@') {
        principal.to_string()
    } else {
        format!("{principal}@{realm}")
    }
}

/// `SaslQuorumServerCallbackHandler.handleAuthorizeCallback` (3.9.3): the learner acts as
/// itself, and a Kerberos principal must be `name/host@REALM` with `host` in the ensemble.
pub fn authorized(authn: &str, authz: &str, kerberos: bool, hosts: &HashSet<String>) -> bool {
    if authn != authz {
        return false;
    }
    if !kerberos {
        return true;
    }
    match authz.split(['/', '@']).collect::<Vec<_>>().as_slice() {
        [_, host, _] => hosts.contains(*host),
        _ => false,
    }
}

/// Every resolved quorum and election address of the view, to the host its line names: a
/// learner knows its peer by address, Java by the configured host.
fn hosts_by_address(view: &QuorumMaj) -> HashMap<SocketAddr, String> {
    let mut map = HashMap::new();
    for s in view.servers() {
        for addr in [s.quorum_addr(), s.election_addr()] {
            for a in addr.to_socket_addrs().into_iter().flatten() {
                map.entry(a).or_insert_with(|| s.host.clone());
            }
        }
    }
    map
}

fn section<'a>(config: &'a JaasConfig, name: &str) -> Result<&'a [LoginEntry], String> {
    config.entries(name).ok_or_else(|| {
        format!(
            "SASL-authentication failed because the specified JAAS configuration section '{name}' could not be found."
        )
    })
}

fn krb5_options(entry: &LoginEntry) -> Result<LoginOptions, String> {
    LoginOptions::from_options(|k| entry.options.get(k).map(String::as_str)).map_err(|e| e.message)
}

fn server_side(
    config: &JaasConfig,
    name: &str,
    hosts: HashSet<String>,
) -> Result<NewServer, String> {
    let entries = section(config, name)?;
    if let Some(entry) = entries.iter().find(|e| e.module == KRB5_LOGIN_MODULE) {
        let options = krb5_options(entry)?;
        // The JDK's Krb5LoginModule (isInitiator defaults to true) gets a ticket for the
        // server's own principal at startup, so a stale keytab stops Java there: do the same.
        if entry.options.get("isInitiator").map(String::as_str) != Some("false") {
            Credential::login(&options.principal, options.keytab.as_deref(), SERVER_CCACHE)
                .map_err(|e| format!("Kerberos login of {} failed: {e}", options.principal))?;
        }
        let login = ServerLogin::new(&options).map_err(|e| e.message)?;
        info!("quorum server will accept GSSAPI as {}", login.principal);
        let hosts = Arc::new(hosts);
        return Ok(Box::new(move || -> Box<dyn ServerMech> {
            match login.server() {
                Some(mech) => Box::new(KerberosServer {
                    mech,
                    hosts: hosts.clone(),
                }),
                None => Box::new(Refuse),
            }
        }));
    }
    let users: Arc<dyn PasswordLookup> = Arc::new(server_users(entries, name));
    Ok(Box::new(move || {
        Box::new(DigestServer(DigestMd5Server::new(
            PROTOCOL,
            SERVER_NAME,
            users.clone(),
            random_bytes(),
        )))
    }))
}

fn learner_side(
    config: &JaasConfig,
    name: &str,
    configured_principal: &str,
    hosts: HashMap<SocketAddr, String>,
) -> Result<NewLearner, String> {
    let entries = section(config, name)?;
    if let Some(entry) = entries.iter().find(|e| e.module == KRB5_LOGIN_MODULE) {
        let options = krb5_options(entry)?;
        let login = LearnerLogin::new(options)?;
        let configured = configured_principal.to_string();
        return Ok(Box::new(
            move |peer: SocketAddr| -> Result<Box<dyn LearnerMech>, String> {
                let (cred, me) = login.current(Instant::now())?;
                let realm = me.rsplit_once('@').map_or("", |(_, r)| r);
                let host = hosts
                    .get(&peer)
                    .cloned()
                    .unwrap_or_else(|| peer.ip().to_string());
                let target = with_realm(&service_principal(&configured, &host), realm);
                let ctx = Initiator::new(cred, &target)?;
                Ok(Box::new(KerberosLearner(GssapiClient::new(ctx, &me))))
            },
        ));
    }
    let (username, password) = learner_login(entries, name)?;
    Ok(Box::new(move |_| {
        Ok(Box::new(DigestLearner(DigestMd5Client::new(
            PROTOCOL,
            SERVER_NAME,
            &username,
            &password,
            Some(&username),
            random_bytes(),
        ))))
    }))
}

/// When a login whose ticket lasts `lifetime_s` from `obtained` is due for renewal: at 80 %
/// of the lifetime, as Java's `Login` thread (`TICKET_RENEW_WINDOW`), and at least a second
/// after the last login.
pub fn renew_at(obtained: Instant, lifetime_s: u32) -> Instant {
    let window = Duration::from_secs(u64::from(lifetime_s)) * 4 / 5;
    obtained + window.max(Duration::from_secs(1))
}

/// The learner's Kerberos login (Java's `Login` for the QuorumLearner section): its initiator
/// credential, logged in again from the keytab once due ([`renew_at`]). Each login gets a
/// fresh in-memory cache, so no expired ticket is read back.
struct LearnerLogin {
    options: LoginOptions,
    state: Mutex<LoginState>,
}

struct LoginState {
    cred: Arc<Credential>,
    me: String,
    renew_at: Instant,
    logins: u64,
}

impl LearnerLogin {
    fn new(options: LoginOptions) -> Result<Self, String> {
        let state = Self::login(&options, 0)?;
        info!("quorum learner logged in to Kerberos as {}", state.me);
        Ok(LearnerLogin {
            options,
            state: Mutex::new(state),
        })
    }

    fn login(options: &LoginOptions, n: u64) -> Result<LoginState, String> {
        let ccache = format!("{LEARNER_CCACHE}-{n}");
        let obtained = Instant::now();
        let (cred, me, lifetime_s) =
            Credential::login(&options.principal, options.keytab.as_deref(), &ccache)
                .map_err(|e| format!("Kerberos login of {} failed: {e}", options.principal))?;
        Ok(LoginState {
            cred,
            me,
            renew_at: renew_at(obtained, lifetime_s),
            logins: n + 1,
        })
    }

    /// The credential to use at `now`, logging in again first when due. A failed renewal
    /// keeps the old credential (it may still be valid) and says why.
    fn current(&self, now: Instant) -> Result<(Arc<Credential>, String), String> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| "learner login lock poisoned")?;
        if now >= state.renew_at {
            match Self::login(&self.options, state.logins) {
                Ok(fresh) => {
                    info!("quorum learner logged in to Kerberos again as {}", fresh.me);
                    *state = fresh;
                }
                Err(e) => {
                    warn!("{e}");
                    state.renew_at = now + Duration::from_secs(1);
                }
            }
        }
        Ok((state.cred.clone(), state.me.clone()))
    }
}

/// `user_<name>` options of the section's DigestLoginModule entries.
fn server_users(entries: &[LoginEntry], name: &str) -> HashMap<String, String> {
    let mut users = HashMap::new();
    for entry in entries {
        if entry.module != DIGEST_LOGIN_MODULE {
            continue;
        }
        for (key, value) in &entry.options {
            if let Some(user) = key.strip_prefix("user_") {
                users.insert(user.to_string(), value.clone());
            }
        }
    }
    if users.is_empty() {
        warn!("the JAAS section {name} names no user_<name> for DIGEST-MD5: every learner will be refused");
    }
    users
}

/// `username` and `password` of the section's DigestLoginModule.
fn learner_login(entries: &[LoginEntry], name: &str) -> Result<(String, String), String> {
    let entry = entries
        .iter()
        .find(|e| e.module == DIGEST_LOGIN_MODULE)
        .ok_or_else(|| {
            format!("the JAAS section {name} has no {DIGEST_LOGIN_MODULE} or {KRB5_LOGIN_MODULE}")
        })?;
    let get = |k: &str| entry.options.get(k).cloned();
    match (get("username"), get("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(format!(
            "the JAAS section {name} needs username and password options"
        )),
    }
}

/// A server mechanism that could not be made (Java's `createSaslServer` returning null):
/// every exchange fails.
struct Refuse;

impl ServerMech for Refuse {
    fn evaluate_response(&mut self, _: &[u8]) -> Result<Vec<u8>, String> {
        Err("no SASL server: the QuorumServer principal has no /host part".into())
    }

    fn is_complete(&self) -> bool {
        false
    }
}

struct KerberosServer {
    mech: GssapiServer<Acceptor>,
    hosts: Arc<HashSet<String>>,
}

impl ServerMech for KerberosServer {
    fn evaluate_response(&mut self, response: &[u8]) -> Result<Vec<u8>, String> {
        let challenge = self
            .mech
            .evaluate_response(response)
            .map_err(|e| e.to_string())?;
        if self.mech.is_complete() {
            let authn = self.mech.authentication_id().unwrap_or_default();
            let authz = self.mech.authorization_id().unwrap_or(authn);
            if !authorized(authn, authz, true, &self.hosts) {
                error!("SASL authorization completed, {authz} is not authorized to connect");
                return Err(format!(
                    "javax.security.sasl.SaslException: GSSAPI: {authn} is not authorized to connect as {authz}"
                ));
            }
            info!("Successfully authenticated learner: authenticationID={authn};  authorizationID={authz}.");
        }
        Ok(challenge)
    }

    fn is_complete(&self) -> bool {
        self.mech.is_complete()
    }
}

struct KerberosLearner(GssapiClient<Initiator>);

impl LearnerMech for KerberosLearner {
    fn initial_response(&mut self) -> Result<Vec<u8>, String> {
        self.0.initial_response().map_err(|e| e.to_string())
    }

    fn evaluate_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String> {
        self.0
            .evaluate_challenge(challenge)
            .map_err(|e| e.to_string())
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
}

struct DigestServer(DigestMd5Server);

impl ServerMech for DigestServer {
    fn evaluate_response(&mut self, response: &[u8]) -> Result<Vec<u8>, String> {
        let challenge = self
            .0
            .evaluate_response(response)
            .map_err(|e| e.to_string())?;
        if self.0.is_complete() {
            let authn = self.0.authentication_id().unwrap_or_default();
            let authz = self.0.authorization_id().unwrap_or(authn);
            if !authorized(authn, authz, false, &HashSet::new()) {
                return Err(format!(
                    "SASL authorization completed, {authz} is not authorized to connect"
                ));
            }
        }
        Ok(challenge)
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
}

struct DigestLearner(DigestMd5Client);

impl LearnerMech for DigestLearner {
    fn initial_response(&mut self) -> Result<Vec<u8>, String> {
        Ok(self.0.initial_response())
    }

    fn evaluate_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String> {
        self.0
            .evaluate_challenge(challenge)
            .map_err(|e| e.to_string())
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAAS: &str = r#"
QuorumServer {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_test="mypassword"
    user_other="x";
};
QuorumLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="test"
    password="mypassword";
};
BadLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="test"
    password="wrong";
};
"#;

    fn settings(learner: &str) -> QuorumSasl {
        QuorumSasl {
            enabled: true,
            server_requires: true,
            learner_requires: true,
            server_login_context: "QuorumServer".into(),
            learner_login_context: learner.into(),
            service_principal: "zkquorum/localhost".into(),
        }
    }

    fn view() -> QuorumMaj {
        QuorumMaj::parse_java_string("server.1=127.0.0.1:2888:3888:participant\nversion=0").unwrap()
    }

    async fn exchange(server: &QuorumAuth, learner: &QuorumAuth) -> (bool, bool) {
        let addr = "127.0.0.1:1".parse().unwrap();
        let (mut l, mut s) = tokio::io::duplex(8192);
        let (lr, sr) = tokio::join!(
            async {
                let r = zk_quorum::auth::authenticate_learner(&mut l, learner, addr).await;
                drop(l);
                r
            },
            async {
                let r = zk_quorum::auth::authenticate_server(&mut s, server, addr).await;
                drop(s);
                r
            }
        );
        (lr.is_ok(), sr.is_ok())
    }

    #[tokio::test]
    async fn digest_md5_between_our_learner_and_our_server() {
        let dir = std::env::temp_dir().join(format!("zkrs-qauth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jaas.conf");
        std::fs::write(&path, JAAS).unwrap();
        let good = quorum_auth(&settings("QuorumLearner"), Some(&path), &view())
            .unwrap()
            .unwrap();
        let bad = quorum_auth(&settings("BadLearner"), Some(&path), &view())
            .unwrap()
            .unwrap();
        assert_eq!(exchange(&good, &good).await, (true, true));
        assert_eq!(exchange(&good, &bad).await, (false, false));
        // Missing sections and files refuse startup, as Java does.
        let e = quorum_auth(&settings("Nope"), Some(&path), &view())
            .err()
            .unwrap();
        assert!(e.contains("section 'Nope' could not be found"), "{e}");
        assert!(quorum_auth(&settings("QuorumLearner"), None, &view()).is_err());
        let off = QuorumSasl::default();
        assert!(quorum_auth(&off, None, &view()).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn host_pattern_as_java_substitutes_it() {
        let p = |c, h| service_principal(c, h);
        assert_eq!(p("zkquorum/_HOST", "ZK1.Example"), "zkquorum/zk1.example");
        assert_eq!(p("zkquorum/_HOST", "127.0.0.1"), "zkquorum/127.0.0.1");
        // Java splits on '/' and wants exactly "_HOST" after it: a realm defeats it.
        assert_eq!(p("zkquorum/_HOST@R", "h"), "zkquorum/_HOST@R");
        assert_eq!(p("zkquorum/localhost", "h"), "zkquorum/localhost");
        assert_eq!(p("zkquorum", "h"), "zkquorum");
        assert_eq!(with_realm("zkquorum/h", "R"), "zkquorum/h@R");
        assert_eq!(with_realm("zkquorum/h@S", "R"), "zkquorum/h@S");
    }

    #[test]
    fn renewal_at_four_fifths_of_the_lifetime() {
        let t = Instant::now();
        assert_eq!(renew_at(t, 100), t + Duration::from_secs(80));
        assert_eq!(renew_at(t, 0), t + Duration::from_secs(1));
    }

    #[test]
    fn authorization_rule_of_java_3_9() {
        let hosts: HashSet<String> = ["127.0.0.1".to_string(), "zk2".to_string()].into();
        let ok = |n: &str, z: &str| authorized(n, z, true, &hosts);
        assert!(ok("zkquorum/127.0.0.1@R", "zkquorum/127.0.0.1@R"));
        assert!(ok("learner/zk2@R", "learner/zk2@R"));
        assert!(!ok("learner/zk2@R", "zkquorum/zk2@R"), "acting as another");
        assert!(
            !ok("zkquorum/other@R", "zkquorum/other@R"),
            "host not in the ensemble"
        );
        assert!(
            !ok("learner@R", "learner@R"),
            "no host part (3.8.0 let it in)"
        );
        assert!(!ok("a/b/127.0.0.1@R", "a/b/127.0.0.1@R"));
        // DIGEST-MD5: names only.
        assert!(authorized("test", "test", false, &HashSet::new()));
        assert!(!authorized("test", "super", false, &HashSet::new()));
    }
}
