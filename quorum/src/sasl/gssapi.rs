//! GSSAPI (Kerberos V5, RFC 4752), the server side, as the JDK's
//! `com.sun.security.sasl.gsskerb.GssKrb5Server` speaks it to ZooKeeper clients.
//!
//! ```text
//! client                                      server
//!   AP-REQ (GSS context token) ─────────────▶  accept_sec_context
//!                ◀──────────────────────────── AP-REP (mutual auth), if the context gives one
//!   (empty token) ──────────────────────────▶  (only when an AP-REP was sent)
//!                ◀──────────────────────────── wrap([qop mask=0x01, maxbuf 24-bit BE=65536])
//!   wrap([chosen qop, maxbuf, authzid…]) ───▶  unwrap, check qop ⊆ offer
//!                ◀──────────────────────────── (empty: complete)
//! ```
//!
//! ZooKeeper creates its `SaslServer` without properties, so the JDK offers only the `auth`
//! quality of protection (no security layer) and a receive buffer of 65536; a client choosing
//! integrity or privacy is refused. The authenticated identity is the initiator's principal
//! (`client@REALM`); the authorization id is what the client asked for after the 4 bytes,
//! else that principal. ZooKeeper's `SaslServerCallbackHandler` authorizes every pair and then
//! derives the `sasl` id from the authentication id (`KerberosName`), which is the caller's part.
//!
//! The exchange is pure over an [`AcceptorContext`]; [`ffi`] implements it with the system's
//! MIT library, and the unit tests with a fake.

pub mod client;
pub mod ffi;

pub use client::{GssapiClient, InitiatorContext};

use std::sync::Arc;

use super::{SaslError, ServerMechanism};

/// The JAAS login module whose presence in the `Server` section makes the server speak GSSAPI.
pub const KRB5_LOGIN_MODULE: &str = "com.sun.security.auth.module.Krb5LoginModule";

/// The only protection the JDK's server offers ZooKeeper: `auth` (no security layer).
pub const NO_PROTECTION: u8 = 0x01;
/// The JDK's default receive buffer (`javax.security.sasl.maxbuffer` unset).
pub const MAX_RECEIVE_BUFFER: u32 = 65536;

/// One `gss_accept_sec_context` step: the token to send back and whether the context is
/// established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub token: Vec<u8>,
    pub established: bool,
}

/// What the SASL layer needs of a GSS-API acceptor context. Errors are the library's text.
pub trait AcceptorContext: Send {
    fn accept(&mut self, token: &[u8]) -> Result<Step, String>;
    /// The initiator's principal, once established (`client@REALM`).
    fn source_name(&self) -> Result<String, String>;
    /// Integrity-protects `message` (no confidentiality), as the JDK's `MessageProp(0, false)`.
    fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String>;
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String>;
}

/// The security-layer offer the server wraps (RFC 4752 §3.1): a bit mask of the layers it
/// supports, then its maximum receive buffer as a 3-byte big-endian number.
pub fn encode_offer(qop_mask: u8, max_buffer: u32) -> [u8; 4] {
    let b = max_buffer.min(0xff_ffff).to_be_bytes();
    [qop_mask, b[1], b[2], b[3]]
}

/// The client's unwrapped answer: the one layer it chose, its maximum buffer and the
/// authorization id it asks for (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub qop: u8,
    pub max_buffer: u32,
    pub authzid: Vec<u8>,
}

pub fn decode_choice(bytes: &[u8]) -> Option<Choice> {
    if bytes.len() < 4 {
        return None;
    }
    Some(Choice {
        qop: bytes[0],
        max_buffer: u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]),
        authzid: bytes[4..].to_vec(),
    })
}

/// The keys of a JAAS `Krb5LoginModule` entry that the server needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOptions {
    /// The service principal (`zookeeper/host@REALM`, realm optional).
    pub principal: String,
    /// The keytab; `None`: the system default, as the JDK uses when `keyTab` is unset.
    pub keytab: Option<String>,
}

impl LoginOptions {
    /// Reads `useKeyTab`, `keyTab` and `principal` (option names are case-sensitive in the
    /// JDK). A server has no one to type a password, so the JDK's login fails without a keytab
    /// or a principal; so does this, with the JDK's message.
    pub fn from_options<'a>(option: impl Fn(&str) -> Option<&'a str>) -> Result<Self, SaslError> {
        let use_keytab = option("useKeyTab").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !use_keytab {
            return Err(SaslError::new(
                "Unable to obtain password from user", // Krb5LoginModule's LoginException
            ));
        }
        let principal = option("principal")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| SaslError::new("Unable to obtain Principal Name for authentication "))?;
        Ok(LoginOptions {
            principal: principal.to_string(),
            keytab: option("keyTab").map(str::to_string),
        })
    }
}

/// The server's Kerberos login: the acceptor credential every connection's mechanism uses
/// (Java's `Login` subject holding the keytab's keys).
#[derive(Clone)]
pub struct ServerLogin {
    credential: Arc<ffi::Credential>,
    pub principal: String,
}

impl ServerLogin {
    /// Loads `libgssapi_krb5.so.2` and reads the service's keys from the keytab. Fails when
    /// the library is missing, the keytab unreadable or without a key for the principal.
    pub fn new(options: &LoginOptions) -> Result<Self, SaslError> {
        let credential = ffi::Credential::acquire(&options.principal, options.keytab.as_deref())
            .map_err(|e| SaslError::new(format!("Kerberos login failed: {e}")))?;
        Ok(ServerLogin {
            credential,
            principal: options.principal.clone(),
        })
    }

    /// A fresh mechanism for one connection; `None` when the principal has no `/host` part:
    /// Java's `SecurityUtils.createSaslServer` splits it at `/` and `@`, fails and leaves the
    /// connection without a SASL server (logging this line, as here).
    pub fn server(&self) -> Option<GssapiServer<ffi::Acceptor>> {
        if !self.principal.contains('/') {
            tracing::error!("server principal name/hostname determination error");
            return None;
        }
        Some(GssapiServer::new(ffi::Acceptor::new(
            self.credential.clone(),
        )))
    }
}

impl std::fmt::Debug for ServerLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerLogin")
            .field("principal", &self.principal)
            .finish()
    }
}

/// Two logins are equal when they share the credential (a clone of one login).
impl PartialEq for ServerLogin {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.credential, &other.credential)
    }
}

impl Eq for ServerLogin {}

/// krb5.conf's default realm as the system library reads it (Java's `KerberosUtil
/// .getDefaultRealm`, which `KerberosName` compares with); `None` without a configuration.
pub fn default_realm() -> Option<String> {
    ffi::default_realm()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Context tokens flow.
    Context,
    /// Established and an AP-REP sent: the client's empty token comes next.
    AwaitEmpty,
    /// The offer sent: the client's wrapped choice comes next.
    AwaitChoice,
    Complete,
    Failed,
}

/// The GSSAPI server mechanism over one acceptor context.
pub struct GssapiServer<C: AcceptorContext> {
    context: C,
    stage: Stage,
    peer: Option<String>,
    authzid: Option<String>,
}

impl<C: AcceptorContext> GssapiServer<C> {
    pub fn new(context: C) -> Self {
        GssapiServer {
            context,
            stage: Stage::Context,
            peer: None,
            authzid: None,
        }
    }

    fn offer(&mut self) -> Result<Vec<u8>, SaslError> {
        let offer = encode_offer(NO_PROTECTION, MAX_RECEIVE_BUFFER);
        let token = self.context.wrap(&offer).map_err(|e| {
            SaslError::new(format!(
                "Problem wrapping handshake1 [Caused by GSSException: {e}]"
            ))
        })?;
        self.stage = Stage::AwaitChoice;
        Ok(token)
    }

    fn step(&mut self, response: &[u8]) -> Result<Vec<u8>, SaslError> {
        match self.stage {
            Stage::Failed | Stage::Complete => Err(SaslError::new(
                "SASL authentication already complete", // GssKrb5Server's guard
            )),
            Stage::Context => {
                let step = self.context.accept(response).map_err(|e| {
                    SaslError::new(format!("GSS initiate failed [Caused by GSSException: {e}]"))
                })?;
                if !step.established {
                    return Ok(step.token);
                }
                let peer = self.context.source_name().map_err(|e| {
                    SaslError::new(format!("GSS initiate failed [Caused by GSSException: {e}]"))
                })?;
                self.peer = Some(peer);
                if step.token.is_empty() {
                    self.offer()
                } else {
                    self.stage = Stage::AwaitEmpty;
                    Ok(step.token)
                }
            }
            Stage::AwaitEmpty => {
                if !response.is_empty() {
                    return Err(SaslError::new(
                        "Handshake expecting no response data from server",
                    ));
                }
                self.offer()
            }
            Stage::AwaitChoice => {
                let plain = self.context.unwrap(response).map_err(|e| {
                    SaslError::new(format!(
                        "Final handshake failed [Caused by GSSException: {e}]"
                    ))
                })?;
                let choice = decode_choice(&plain)
                    .ok_or_else(|| SaslError::new("Final handshake failed: short message"))?;
                if choice.qop & NO_PROTECTION == 0 || choice.qop & !NO_PROTECTION != 0 {
                    return Err(SaslError::new(format!(
                        "Client selected unsupported protection: {}",
                        choice.qop
                    )));
                }
                let peer = self
                    .peer
                    .clone()
                    .expect("set when the context was established");
                let authzid = if choice.authzid.is_empty() {
                    peer
                } else {
                    String::from_utf8(choice.authzid).map_err(|_| {
                        SaslError::new("Final handshake failed: authorization id is not UTF-8")
                    })?
                };
                self.authzid = Some(authzid);
                self.stage = Stage::Complete;
                Ok(Vec::new())
            }
        }
    }
}

impl<C: AcceptorContext> ServerMechanism for GssapiServer<C> {
    fn name(&self) -> &'static str {
        "GSSAPI"
    }

    fn evaluate_response(&mut self, response: &[u8]) -> Result<Vec<u8>, SaslError> {
        let was_complete = self.stage == Stage::Complete;
        let result = self.step(response);
        if result.is_err() && !was_complete {
            self.stage = Stage::Failed;
        }
        result
    }

    fn is_complete(&self) -> bool {
        self.stage == Stage::Complete
    }

    fn authentication_id(&self) -> Option<&str> {
        if self.is_complete() {
            self.peer.as_deref()
        } else {
            None
        }
    }

    fn authorization_id(&self) -> Option<&str> {
        if self.is_complete() {
            self.authzid.as_deref()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
