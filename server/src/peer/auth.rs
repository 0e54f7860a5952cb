//! Quorum SASL from the configuration, as Java's `QuorumPeer.initialize` sets it up with
//! `quorum.auth.enableSasl=true`: a `SaslQuorumAuthServer` whose users are the
//! `user_<name>="<password>"` options of the JAAS `QuorumServer` section's
//! `DigestLoginModule`, and a `SaslQuorumAuthLearner` logging in with the
//! `QuorumLearner` section's `username` / `password` (section names from
//! `quorum.auth.server.saslLoginContext` / `quorum.auth.learner.saslLoginContext`).
//! DIGEST-MD5 only (protocol `zookeeper-quorum`, server name `zk-quorum-sasl-md5`).
//!
//! A learner is authorized when the identity it authenticated as is the one it asks to act
//! as (Java's `SaslQuorumServerCallbackHandler` for DIGEST-MD5; host checks apply to
//! Kerberos principals only).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use tracing::warn;
use zk_quorum::auth::{LearnerMech, QuorumAuth, ServerMech, SharedAuth, PROTOCOL, SERVER_NAME};
use zk_quorum::sasl::digest_md5::{DigestMd5Client, DigestMd5Server};
use zk_quorum::sasl::jaas::{self, JaasConfig, LoginEntry};
use zk_quorum::sasl::{random_bytes, PasswordLookup, ServerMechanism};

use crate::config::QuorumSasl;

/// Java's login module for DIGEST-MD5 sections.
const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// The quorum's SASL, or `None` without `quorum.auth.enableSasl`. `Err` where Java fails to
/// start ("Failed to initialize authentication mechanism using SASL").
pub fn quorum_auth(q: &QuorumSasl, jaas_path: Option<&Path>) -> Result<Option<SharedAuth>, String> {
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
    let users = server_users(&config, &q.server_login_context).map_err(fail)?;
    let (username, password) = learner_login(&config, &q.learner_login_context).map_err(fail)?;
    let users: Arc<dyn PasswordLookup> = Arc::new(users);
    Ok(Some(Arc::new(QuorumAuth {
        server_requires: q.server_requires,
        learner_requires: q.learner_requires,
        new_server: Box::new(move || {
            Box::new(DigestServer(DigestMd5Server::new(
                PROTOCOL,
                SERVER_NAME,
                users.clone(),
                random_bytes(),
            )))
        }),
        new_learner: Box::new(move || {
            Box::new(DigestLearner(DigestMd5Client::new(
                PROTOCOL,
                SERVER_NAME,
                &username,
                &password,
                Some(&username),
                random_bytes(),
            )))
        }),
    })))
}

fn section<'a>(config: &'a JaasConfig, name: &str) -> Result<&'a [LoginEntry], String> {
    config.entries(name).ok_or_else(|| {
        format!(
            "SASL-authentication failed because the specified JAAS configuration section '{name}' could not be found."
        )
    })
}

/// `user_<name>` options of the section's DigestLoginModule entries.
fn server_users(config: &JaasConfig, name: &str) -> Result<HashMap<String, String>, String> {
    let mut users = HashMap::new();
    for entry in section(config, name)? {
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
    Ok(users)
}

/// `username` and `password` of the section's DigestLoginModule.
fn learner_login(config: &JaasConfig, name: &str) -> Result<(String, String), String> {
    let entry = section(config, name)?
        .iter()
        .find(|e| e.module == DIGEST_LOGIN_MODULE)
        .ok_or_else(|| format!("the JAAS section {name} has no {DIGEST_LOGIN_MODULE}"))?;
    let get = |k: &str| entry.options.get(k).cloned();
    match (get("username"), get("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(format!(
            "the JAAS section {name} needs username and password options"
        )),
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
            if authn != authz {
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
    fn initial_response(&mut self) -> Vec<u8> {
        self.0.initial_response()
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
        }
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
        let good = quorum_auth(&settings("QuorumLearner"), Some(&path))
            .unwrap()
            .unwrap();
        let bad = quorum_auth(&settings("BadLearner"), Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(exchange(&good, &good).await, (true, true));
        assert_eq!(exchange(&good, &bad).await, (false, false));
        // Missing sections and files refuse startup, as Java does.
        let e = quorum_auth(&settings("Nope"), Some(&path)).err().unwrap();
        assert!(e.contains("section 'Nope' could not be found"), "{e}");
        assert!(quorum_auth(&settings("QuorumLearner"), None).is_err());
        let off = QuorumSasl::default();
        assert!(quorum_auth(&off, None).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
