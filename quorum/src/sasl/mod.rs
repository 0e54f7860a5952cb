//! SASL as ZooKeeper uses it, without IO: the mechanisms and the JAAS login configuration.
//!
//! * [`digest_md5`]: RFC 2831 DIGEST-MD5, the server and the client side, as the JDK's
//!   `com.sun.security.sasl.digest.DigestMD5Server` / `DigestMD5Client` speak it (ZooKeeper's
//!   client port uses protocol `zookeeper`, server name `zk-sasl-md5`; quorum authentication
//!   uses `zookeeper-quorum` / `zk-quorum-sasl-md5`).
//! * [`jaas`]: the JAAS login configuration file (`java.security.auth.login.config`), as the
//!   JDK's `sun.security.provider.ConfigFile` reads it.
//!
//! A mechanism is a [`ServerMechanism`]: the connection feeds it each client token and sends
//! back what it returns; GSSAPI (Kerberos) will be a second implementation of the same trait.
//! Errors carry the text of the JDK's `SaslException`, which ZooKeeper logs.

pub mod digest_md5;
pub mod jaas;

use std::fmt;

/// A failed SASL step, with the message the JDK's exception carries
/// (e.g. `DIGEST-MD5: digest response format violation. Mismatched response.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslError {
    pub message: String,
    /// True where the JDK throws a runtime exception rather than a `SaslException` (the
    /// message is then its whole `toString()`): ZooKeeper does not handle those as an
    /// authentication failure, the connection just dies.
    pub runtime: bool,
}

impl SaslError {
    pub fn new(message: impl Into<String>) -> Self {
        SaslError {
            message: message.into(),
            runtime: false,
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        SaslError {
            message: message.into(),
            runtime: true,
        }
    }
}

impl fmt::Display for SaslError {
    /// As Java's exception `toString()`, which ZooKeeper's log lines print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.runtime {
            f.write_str(&self.message)
        } else {
            write!(f, "javax.security.sasl.SaslException: {}", self.message)
        }
    }
}

impl std::error::Error for SaslError {}

/// The server side of one SASL mechanism on one connection (Java's `SaslServer`).
pub trait ServerMechanism: Send {
    /// The mechanism's name as SASL registers it (`DIGEST-MD5`).
    fn name(&self) -> &'static str;
    /// Evaluates the client's next token and returns the server's next token (possibly empty).
    /// After an error the exchange is over: later calls fail too.
    fn evaluate_response(&mut self, response: &[u8]) -> Result<Vec<u8>, SaslError>;
    /// True once the client has authenticated.
    fn is_complete(&self) -> bool;
    /// The authenticated identity (the `AuthorizeCallback`'s authentication id), once complete.
    fn authentication_id(&self) -> Option<&str>;
    /// The identity the client asked to act as (its authzid, else the authentication id).
    fn authorization_id(&self) -> Option<&str>;
}

/// Where a server mechanism finds a user's password (Java's `SaslServerCallbackHandler`
/// answering the `PasswordCallback`). `None`: no such user.
pub trait PasswordLookup: Send + Sync {
    fn password(&self, user: &str) -> Option<String>;
}

impl PasswordLookup for std::collections::HashMap<String, String> {
    fn password(&self, user: &str) -> Option<String> {
        self.get(user).cloned()
    }
}

/// Fresh random bytes for a nonce (the one piece of IO here; the mechanisms take nonces as
/// input so tests can fix them). Java draws them from `java.util.Random`; we use the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if getrandom::getrandom(&mut out).is_err() {
        // The OS generator failing is not peer input; fall back to the std hasher's
        // per-process random keys so a nonce is still unpredictable enough to differ.
        use std::hash::{BuildHasher, Hasher};
        for chunk in out.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(chunk.as_ptr() as usize);
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    out
}
