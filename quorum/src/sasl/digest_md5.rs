//! DIGEST-MD5 (RFC 2831), server and client side, as the JDK's `DigestMD5Server` and
//! `DigestMD5Client` speak it to ZooKeeper.
//!
//! ```text
//! client                                   server
//!   (empty token) ───────────────────────▶
//!                 ◀─────────────────────── realm="zk-sasl-md5",nonce="<40 base64>",
//!                                          charset=utf-8,algorithm=md5-sess
//!   charset=utf-8,username="bob",realm="zk-sasl-md5",nonce="…",nc=00000001,
//!   cnonce="…",digest-uri="zookeeper/zk-sasl-md5",maxbuf=65536,
//!   response=<32 hex>,qop=auth ──────────▶
//!                 ◀─────────────────────── rspauth=<32 hex>
//! ```
//!
//! Only the `auth` quality of protection: ZooKeeper creates its `SaslServer` without
//! properties, so Java offers no `qop` directive (meaning `auth`) and never wraps traffic; a
//! client asking for `auth-int` / `auth-conf` is refused as Java refuses it. The realm is the
//! server name (the JDK's default), the algorithm `md5-sess`, the charset UTF-8, the nonce 30
//! random bytes in base64 and the nonce count must be 1, so a response only ever matches the
//! one challenge it answers (a replayed response meets a different nonce).
//!
//! Everything here is pure: nonces come in from the caller.

use md5::{Digest, Md5};
use std::sync::Arc;

use super::{PasswordLookup, SaslError, ServerMechanism};

/// The JDK's `MAX_RESPONSE_LENGTH`: a longer token is refused before parsing.
pub const MAX_RESPONSE_LENGTH: usize = 4096;
/// The maxbuf both JDK sides assume and announce (`DEFAULT_MAXBUF`).
pub const DEFAULT_MAXBUF: u32 = 65536;
/// Raw nonce bytes; base64 makes the JDK's 40-character nonce.
pub const RAW_NONCE_SIZE: usize = 30;

/// ZooKeeper's client port: `SecurityUtils.createSaslServer(.., "zookeeper", "zk-sasl-md5", ..)`.
pub const CLIENT_PROTOCOL: &str = "zookeeper";
pub const CLIENT_SERVER_NAME: &str = "zk-sasl-md5";

fn format_violation(what: &str) -> SaslError {
    SaslError::new(format!(
        "DIGEST-MD5: digest response format violation. {what}"
    ))
}

/// One `name=value` directive of a challenge or response; value unquoted and unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: Vec<u8>,
}

/// Splits a challenge or response into directives (RFC 2831 §7.1 `#rule`: commas, optional
/// linear white space, values as tokens or quoted strings with `\` escapes). Lenient as the
/// JDK is: an element without `=` is skipped, an unterminated quote ends at the end of input.
pub fn parse_directives(input: &[u8]) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = input.len();
    let is_lws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    while i < n {
        while i < n && (is_lws(input[i]) || input[i] == b',') {
            i += 1;
        }
        let name_start = i;
        while i < n && input[i] != b'=' && input[i] != b',' {
            i += 1;
        }
        if i >= n || input[i] == b',' {
            continue; // an element with no value
        }
        let name = String::from_utf8_lossy(&input[name_start..i])
            .trim()
            .to_ascii_lowercase();
        i += 1; // '='
        while i < n && is_lws(input[i]) {
            i += 1;
        }
        let mut value = Vec::new();
        if i < n && input[i] == b'"' {
            i += 1;
            while i < n && input[i] != b'"' {
                if input[i] == b'\\' && i + 1 < n {
                    i += 1;
                }
                value.push(input[i]);
                i += 1;
            }
            i += 1; // closing quote (or past the end)
            while i < n && input[i] != b',' {
                i += 1;
            }
        } else {
            while i < n && input[i] != b',' {
                value.push(input[i]);
                i += 1;
            }
            while value.last().is_some_and(|b| is_lws(*b)) {
                value.pop();
            }
        }
        if !name.is_empty() {
            out.push(Directive { name, value });
        }
    }
    out
}

/// The directives a response may carry once; a second one is an error (the JDK's "peer sent
/// more than one ... directive"). Unknown directives are ignored, as RFC 2831 asks.
const RESPONSE_DIRECTIVES: [&str; 12] = [
    "username",
    "realm",
    "nonce",
    "cnonce",
    "nc",
    "qop",
    "digest-uri",
    "response",
    "maxbuf",
    "charset",
    "cipher",
    "authzid",
];

/// A parsed digest-response: each known directive at most once.
#[derive(Debug, Default)]
struct Response {
    fields: [Option<Vec<u8>>; 12],
}

impl Response {
    fn parse(input: &[u8]) -> Result<Self, SaslError> {
        let mut r = Response::default();
        for d in parse_directives(input) {
            if let Some(k) = RESPONSE_DIRECTIVES.iter().position(|n| *n == d.name) {
                if r.fields[k].is_some() {
                    return Err(SaslError::new(format!(
                        "DIGEST-MD5: peer sent more than one {} directive: {}",
                        d.name,
                        String::from_utf8_lossy(&d.value)
                    )));
                }
                r.fields[k] = Some(d.value);
            }
        }
        Ok(r)
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        let k = RESPONSE_DIRECTIVES.iter().position(|n| *n == name)?;
        self.fields[k].as_deref()
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 (`+/`), padded; the JDK's 30-byte nonce needs no padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(v >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Text as the digest hashes it (RFC 2831 §2.1.2.1, the JDK's `stringToByte_8859_1`):
/// ISO 8859-1 where every character fits, even under `charset=utf-8`, else UTF-8.
fn encode(text: &str, _utf8: bool) -> Vec<u8> {
    if text.chars().all(|c| (c as u32) < 256) {
        text.chars().map(|c| c as u8).collect()
    } else {
        text.as_bytes().to_vec()
    }
}

/// The digest inputs both sides share.
struct DigestInput<'a> {
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a [u8],
    cnonce: &'a [u8],
    nc: &'a [u8],
    authzid: Option<&'a [u8]>,
    qop: &'a str,
    digest_uri: &'a [u8],
    utf8: bool,
}

impl DigestInput<'_> {
    /// HEX(H(A1)) with A1 = H(user:realm:pass) ":" nonce ":" cnonce [":" authzid] (md5-sess).
    fn ha1(&self) -> String {
        let inner = md5(&[
            &encode(self.username, self.utf8),
            b":",
            &encode(self.realm, self.utf8),
            b":",
            &encode(self.password, self.utf8),
        ]);
        let mut parts: Vec<&[u8]> = vec![&inner, b":", self.nonce, b":", self.cnonce];
        if let Some(z) = self.authzid {
            parts.push(b":");
            parts.push(z);
        }
        hex(&md5(&parts))
    }

    /// KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2))) with A2 = prefix ":" digest-uri
    /// (prefix `AUTHENTICATE` for the client's response, empty for the server's rspauth).
    fn kd(&self, a2_prefix: &[u8]) -> String {
        let mut a2: Vec<&[u8]> = vec![a2_prefix, b":", self.digest_uri];
        if self.qop != "auth" {
            a2.push(b":00000000000000000000000000000000");
        }
        let ha2 = hex(&md5(&a2));
        hex(&md5(&[
            self.ha1().as_bytes(),
            b":",
            self.nonce,
            b":",
            self.nc,
            b":",
            self.cnonce,
            b":",
            self.qop.as_bytes(),
            b":",
            ha2.as_bytes(),
        ]))
    }

    fn response(&self) -> String {
        self.kd(b"AUTHENTICATE")
    }

    fn rspauth(&self) -> String {
        self.kd(b"")
    }
}

/// Writes `"value"` with `"` and `\` escaped, as the JDK's `writeQuotedStringValue`.
fn quoted(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'"');
    for &b in value {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerStep {
    /// Waiting for the client's (empty) first token.
    Start,
    /// Challenge sent; waiting for the digest-response.
    Challenged,
    Complete,
    /// Failed or used up: every later token is refused.
    Over,
}

/// The server side (`DigestMD5Server`) for one connection.
pub struct DigestMd5Server {
    protocol: String,
    server_name: String,
    nonce: Vec<u8>,
    users: Arc<dyn PasswordLookup>,
    step: ServerStep,
    authentication_id: Option<String>,
    authorization_id: Option<String>,
}

impl DigestMd5Server {
    /// `raw_nonce`: fresh random bytes (see [`super::random_bytes`]), base64'd into the nonce.
    pub fn new(
        protocol: &str,
        server_name: &str,
        users: Arc<dyn PasswordLookup>,
        raw_nonce: [u8; RAW_NONCE_SIZE],
    ) -> Self {
        Self::with_nonce(protocol, server_name, users, base64(&raw_nonce))
    }

    /// As [`Self::new`] with the nonce text given (tests replaying a captured exchange).
    pub fn with_nonce(
        protocol: &str,
        server_name: &str,
        users: Arc<dyn PasswordLookup>,
        nonce: String,
    ) -> Self {
        DigestMd5Server {
            protocol: protocol.to_string(),
            server_name: server_name.to_string(),
            nonce: nonce.into_bytes(),
            users,
            step: ServerStep::Start,
            authentication_id: None,
            authorization_id: None,
        }
    }

    /// The realm the JDK offers when none is configured: the server name.
    fn realm(&self) -> &str {
        &self.server_name
    }

    fn challenge(&self) -> Vec<u8> {
        let mut out = b"realm=".to_vec();
        out.extend(quoted(self.realm().as_bytes()));
        out.extend_from_slice(b",nonce=");
        out.extend(quoted(&self.nonce));
        out.extend_from_slice(b",charset=utf-8,algorithm=md5-sess");
        out
    }

    /// The JDK's `validateClientResponse`, its checks in its order; returns the rspauth token.
    fn validate(&mut self, token: &[u8]) -> Result<Vec<u8>, SaslError> {
        let r = Response::parse(token)?;
        let utf8 = match r.text("charset") {
            Some(c) if c.eq_ignore_ascii_case("utf-8") => true,
            Some(c) => {
                return Err(format_violation(&format!(
                    "Incompatible charset value: {c}"
                )));
            }
            None => false,
        };
        let qop = r.text("qop").unwrap_or_else(|| "auth".to_string());
        if qop != "auth" {
            return Err(SaslError::new(format!(
                "DIGEST-MD5: server does not support  qop: {qop}"
            )));
        }
        let username = r
            .text("username")
            .ok_or_else(|| format_violation("Missing username."))?;
        let realm = r.text("realm").unwrap_or_default();
        if realm != self.realm() {
            return Err(format_violation(&format!("Nonexistent realm: {realm}")));
        }
        if r.get("nonce") != Some(&self.nonce[..]) {
            return Err(format_violation("Mismatched nonce."));
        }
        let cnonce = r
            .get("cnonce")
            .ok_or_else(|| format_violation("Missing cnonce."))?;
        // The JDK digests with its own count, 00000001, whatever `nc` says: any other count
        // simply mismatches below, so a response is good for one challenge only.
        let nc = b"00000001";
        let expected_uri = format!("{}/{}", self.protocol, self.server_name);
        let uri = r.get("digest-uri").unwrap_or_default();
        if !uri.eq_ignore_ascii_case(expected_uri.as_bytes()) {
            let shown = r.text("digest-uri").unwrap_or_else(|| "null".to_string());
            return Err(format_violation(&format!(
                "Mismatched URI: {shown}; expecting: {expected_uri}"
            )));
        }
        if let Some(maxbuf) = r.text("maxbuf") {
            // Java's Integer.parseInt: a bad number escapes as a NumberFormatException, not a
            // SaslException (ZooKeeper does not catch it as an authentication failure).
            if java_parse_int(&maxbuf).is_none() {
                return Err(SaslError::runtime(format!(
                    "java.lang.NumberFormatException: For input string: \"{maxbuf}\""
                )));
            }
        }
        let given = r.get("response").ok_or_else(|| {
            SaslError::new(
                "DIGEST-MD5: digest response format  violation. Missing response.".to_string(),
            )
        })?;
        let password = self.users.password(&username).ok_or_else(|| {
            SaslError::new(format!(
                "DIGEST-MD5: cannot acquire password for {username} in realm : {realm}"
            ))
        })?;
        let input = DigestInput {
            username: &username,
            realm: &realm,
            password: &password,
            nonce: &self.nonce,
            cnonce,
            nc,
            authzid: r.get("authzid"),
            qop: &qop,
            digest_uri: uri,
            utf8,
        };
        let expected = input.response();
        if !constant_time_eq(expected.as_bytes(), given) {
            return Err(format_violation("Mismatched response."));
        }
        let rspauth = input.rspauth();
        self.authorization_id = Some(r.text("authzid").unwrap_or_else(|| username.clone()));
        self.authentication_id = Some(username);
        Ok(format!("rspauth={rspauth}").into_bytes())
    }
}

/// Java's `Integer.parseInt` (decimal, optional sign, 32-bit).
fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// Compares without an early exit, so timing tells nothing about the expected digest.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ServerMechanism for DigestMd5Server {
    fn name(&self) -> &'static str {
        "DIGEST-MD5"
    }

    fn evaluate_response(&mut self, response: &[u8]) -> Result<Vec<u8>, SaslError> {
        if response.len() > MAX_RESPONSE_LENGTH {
            // The JDK refuses before looking at its state, and keeps the state.
            return Err(SaslError::new(format!(
                "DIGEST-MD5: Invalid digest response length. Got:  {} Expected < {MAX_RESPONSE_LENGTH}",
                response.len()
            )));
        }
        match self.step {
            ServerStep::Start => {
                // The JDK ignores whatever the first token holds.
                self.step = ServerStep::Challenged;
                Ok(self.challenge())
            }
            ServerStep::Challenged => {
                let result = self.validate(response);
                self.step = if result.is_ok() {
                    ServerStep::Complete
                } else {
                    ServerStep::Over
                };
                result
            }
            ServerStep::Complete | ServerStep::Over => {
                self.step = ServerStep::Over;
                Err(SaslError::new(
                    "DIGEST-MD5: Server at illegal state".to_string(),
                ))
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.step == ServerStep::Complete
    }

    fn authentication_id(&self) -> Option<&str> {
        self.authentication_id
            .as_deref()
            .filter(|_| self.is_complete())
    }

    fn authorization_id(&self) -> Option<&str> {
        self.authorization_id
            .as_deref()
            .filter(|_| self.is_complete())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientStep {
    Start,
    /// Response sent; the expected rspauth.
    Responded(String),
    Complete,
    Over,
}

/// The client side (`DigestMD5Client`): answers the challenge, then checks the rspauth.
pub struct DigestMd5Client {
    protocol: String,
    server_name: String,
    username: String,
    password: String,
    authzid: Option<String>,
    cnonce: String,
    step: ClientStep,
}

impl DigestMd5Client {
    /// `raw_cnonce`: fresh random bytes, base64'd into the cnonce.
    pub fn new(
        protocol: &str,
        server_name: &str,
        username: &str,
        password: &str,
        authzid: Option<&str>,
        raw_cnonce: [u8; RAW_NONCE_SIZE],
    ) -> Self {
        Self::with_cnonce(
            protocol,
            server_name,
            username,
            password,
            authzid,
            base64(&raw_cnonce),
        )
    }

    /// As [`Self::new`] with the cnonce text given (tests replaying a known exchange).
    pub fn with_cnonce(
        protocol: &str,
        server_name: &str,
        username: &str,
        password: &str,
        authzid: Option<&str>,
        cnonce: String,
    ) -> Self {
        DigestMd5Client {
            protocol: protocol.to_string(),
            server_name: server_name.to_string(),
            username: username.to_string(),
            password: password.to_string(),
            authzid: authzid.map(str::to_string),
            cnonce,
            step: ClientStep::Start,
        }
    }

    /// DIGEST-MD5 has no initial response: the first token the client sends is empty.
    pub fn initial_response(&self) -> Vec<u8> {
        Vec::new()
    }

    pub fn is_complete(&self) -> bool {
        self.step == ClientStep::Complete
    }

    /// Answers the server's challenge, then checks its rspauth (returning no more tokens).
    pub fn evaluate_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.step, ClientStep::Over) {
            ClientStep::Start => {
                let (response, rspauth) = self.respond(challenge)?;
                self.step = ClientStep::Responded(rspauth);
                Ok(response)
            }
            ClientStep::Responded(expected) => {
                let given = parse_directives(challenge)
                    .into_iter()
                    .find(|d| d.name == "rspauth")
                    .map(|d| d.value);
                if given.as_deref() == Some(expected.as_bytes()) {
                    self.step = ClientStep::Complete;
                    Ok(Vec::new())
                } else {
                    Err(SaslError::new(
                        "Server's rspauth value does not match what client expects".to_string(),
                    ))
                }
            }
            ClientStep::Complete | ClientStep::Over => Err(SaslError::new(
                "DIGEST-MD5: Client at illegal state".to_string(),
            )),
        }
    }

    fn respond(&self, challenge: &[u8]) -> Result<(Vec<u8>, String), SaslError> {
        let violation = |what: &str| {
            SaslError::new(format!(
                "DIGEST-MD5: Digest-challenge format violation : {what}"
            ))
        };
        let directives = parse_directives(challenge);
        let first = |name: &str| {
            directives
                .iter()
                .find(|d| d.name == name)
                .map(|d| d.value.clone())
        };
        let nonce = first("nonce").ok_or_else(|| violation("nonce directive missing"))?;
        if first("algorithm").as_deref() != Some(b"md5-sess") {
            return Err(violation("algorithm directive missing or not md5-sess"));
        }
        let offered = first("qop").unwrap_or_else(|| b"auth".to_vec());
        if !offered
            .split(|b| *b == b',')
            .any(|q| q.trim_ascii() == b"auth")
        {
            return Err(SaslError::new(
                "DIGEST-MD5: No common protection layer between client and server".to_string(),
            ));
        }
        let utf8 = first("charset").is_some_and(|c| c.eq_ignore_ascii_case(b"utf-8"));
        let realm = first("realm")
            .map(|r| String::from_utf8_lossy(&r).into_owned())
            .unwrap_or_default();
        let digest_uri = format!("{}/{}", self.protocol, self.server_name);
        let nc = b"00000001";
        let input = DigestInput {
            username: &self.username,
            realm: &realm,
            password: &self.password,
            nonce: &nonce,
            cnonce: self.cnonce.as_bytes(),
            nc,
            authzid: self.authzid.as_deref().map(str::as_bytes),
            qop: "auth",
            digest_uri: digest_uri.as_bytes(),
            utf8,
        };
        let mut out = Vec::new();
        if utf8 {
            out.extend_from_slice(b"charset=utf-8,");
        }
        out.extend_from_slice(b"username=");
        out.extend(quoted(self.username.as_bytes()));
        out.extend_from_slice(b",realm=");
        out.extend(quoted(realm.as_bytes()));
        out.extend_from_slice(b",nonce=");
        out.extend(quoted(&nonce));
        out.extend_from_slice(b",nc=00000001,cnonce=");
        out.extend(quoted(self.cnonce.as_bytes()));
        out.extend_from_slice(b",digest-uri=");
        out.extend(quoted(digest_uri.as_bytes()));
        out.extend_from_slice(format!(",maxbuf={DEFAULT_MAXBUF},response=").as_bytes());
        out.extend_from_slice(input.response().as_bytes());
        out.extend_from_slice(b",qop=auth");
        if let Some(z) = &self.authzid {
            out.extend_from_slice(b",authzid=");
            out.extend(quoted(z.as_bytes()));
        }
        Ok((out, input.rspauth()))
    }
}

#[cfg(test)]
mod tests;
