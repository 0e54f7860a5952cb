//! The TLS keys of one of Java's `X509Util`s: `ssl.*` for the client port (`ClientX509Util`,
//! system properties `zookeeper.ssl.*`) and `ssl.quorum.*` for the quorum ports
//! (`QuorumX509Util`, `zookeeper.ssl.quorum.*`). Only the values as written; loading the
//! stores and building rustls configurations is elsewhere in [`crate::tls`].

use std::path::PathBuf;

/// `ssl.clientAuth`: whether a client certificate is asked for (Java's `X509Util.ClientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    None,
    Want,
    /// Java's default when the key is unset or empty.
    #[default]
    Need,
}

/// The keys of one prefix, as written (a password read from `passwordPath` is not read here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub key_store_location: Option<PathBuf>,
    pub key_store_password: Option<String>,
    pub key_store_password_path: Option<PathBuf>,
    pub key_store_type: Option<String>,
    pub trust_store_location: Option<PathBuf>,
    pub trust_store_password: Option<String>,
    pub trust_store_password_path: Option<PathBuf>,
    pub trust_store_type: Option<String>,
    /// `protocol`: the context's protocol (`TLSv1.2`, `TLSv1.3`); `None`: Java's default
    /// for its generation.
    pub protocol: Option<String>,
    /// `enabledProtocols`, comma-separated; `None`: just `protocol`.
    pub enabled_protocols: Option<Vec<String>>,
    /// `ciphersuites`, Java's names, comma-separated; `None`: Java's default list.
    pub cipher_suites: Option<Vec<String>>,
    /// `hostnameVerification` (default true).
    pub hostname_verification: bool,
    /// `crl` and `ocsp` (default false).
    pub crl: bool,
    pub ocsp: bool,
    pub client_auth: ClientAuth,
    /// `handshakeDetectionTimeoutMillis` (default 5000): how long a unified port waits for
    /// a connection's first bytes.
    pub handshake_detection_timeout_ms: u32,
    /// `context.supplier.class`: a Java class; set means zk-rs cannot do what it says.
    pub context_supplier_class: Option<String>,
    /// `authProvider` (client prefix only): the scheme that authenticates TLS clients
    /// (Java's default `x509`).
    pub auth_provider: Option<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            key_store_location: None,
            key_store_password: None,
            key_store_password_path: None,
            key_store_type: None,
            trust_store_location: None,
            trust_store_password: None,
            trust_store_password_path: None,
            trust_store_type: None,
            protocol: None,
            enabled_protocols: None,
            cipher_suites: None,
            hostname_verification: true,
            crl: false,
            ocsp: false,
            client_auth: ClientAuth::Need,
            handshake_detection_timeout_ms: 5000,
            context_supplier_class: None,
            auth_provider: None,
        }
    }
}

/// What [`TlsSettings::set`] made of a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Set {
    Done,
    /// Java's `Boolean.parseBoolean` reads the text as false; worth a warning.
    NotABoolean,
    /// Not a key of `X509Util`: Java sets it as a system property nothing reads.
    Unknown,
}

impl TlsSettings {
    /// Apply `suffix` (the key after its prefix: `keyStore.location`) = `value` (trimmed).
    /// `Err` for values Java refuses at startup.
    pub fn set(&mut self, suffix: &str, value: &str) -> Result<Set, String> {
        let text = || (!value.is_empty()).then(|| value.to_string());
        let path = || (!value.is_empty()).then(|| PathBuf::from(value));
        let list = || {
            Some(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            )
        };
        let boolean = |v: &mut bool| {
            *v = value.eq_ignore_ascii_case("true");
            if *v || value.eq_ignore_ascii_case("false") {
                Set::Done
            } else {
                Set::NotABoolean
            }
        };
        match suffix {
            "keyStore.location" => self.key_store_location = path(),
            "keyStore.password" => self.key_store_password = Some(value.to_string()),
            "keyStore.passwordPath" => self.key_store_password_path = path(),
            "keyStore.type" => self.key_store_type = text(),
            "trustStore.location" => self.trust_store_location = path(),
            "trustStore.password" => self.trust_store_password = Some(value.to_string()),
            "trustStore.passwordPath" => self.trust_store_password_path = path(),
            "trustStore.type" => self.trust_store_type = text(),
            "protocol" => self.protocol = text(),
            "enabledProtocols" => self.enabled_protocols = list(),
            "ciphersuites" => self.cipher_suites = list(),
            "hostnameVerification" => return Ok(boolean(&mut self.hostname_verification)),
            "crl" => return Ok(boolean(&mut self.crl)),
            "ocsp" => return Ok(boolean(&mut self.ocsp)),
            "clientAuth" => {
                self.client_auth = match value.to_ascii_uppercase().as_str() {
                    "" | "NEED" => ClientAuth::Need,
                    "WANT" => ClientAuth::Want,
                    "NONE" => ClientAuth::None,
                    _ => {
                        return Err(format!(
                            "No enum constant org.apache.zookeeper.common.X509Util.ClientAuth.{}",
                            value.to_ascii_uppercase()
                        ))
                    }
                }
            }
            "handshakeDetectionTimeoutMillis" => {
                // Java: Integer.parseInt, and a value below 1 keeps the default.
                match value.parse::<i32>() {
                    Ok(ms) if ms >= 1 => self.handshake_detection_timeout_ms = ms as u32,
                    Ok(_) => self.handshake_detection_timeout_ms = 5000,
                    Err(_) => return Err(format!("For input string: \"{value}\"")),
                }
            }
            "context.supplier.class" => self.context_supplier_class = text(),
            "authProvider" => self.auth_provider = text(),
            _ => return Ok(Set::Unknown),
        }
        Ok(Set::Done)
    }

    /// A key store is configured (Java's test for "TLS is usable on this port").
    pub fn has_key_store(&self) -> bool {
        self.key_store_location.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_java_reads_them() {
        let mut s = TlsSettings::default();
        assert_eq!(s.client_auth, ClientAuth::Need);
        assert!(s.hostname_verification);
        assert_eq!(s.set("keyStore.location", "/k.jks"), Ok(Set::Done));
        assert_eq!(s.key_store_location, Some(PathBuf::from("/k.jks")));
        assert_eq!(s.set("clientAuth", "want"), Ok(Set::Done));
        assert_eq!(s.client_auth, ClientAuth::Want);
        assert!(s.set("clientAuth", "maybe").is_err());
        assert_eq!(s.set("hostnameVerification", "no"), Ok(Set::NotABoolean));
        assert!(!s.hostname_verification);
        assert_eq!(
            s.set("enabledProtocols", "TLSv1.2, TLSv1.3,"),
            Ok(Set::Done)
        );
        assert_eq!(
            s.enabled_protocols,
            Some(vec!["TLSv1.2".to_string(), "TLSv1.3".to_string()])
        );
        assert_eq!(s.set("handshakeDetectionTimeoutMillis", "0"), Ok(Set::Done));
        assert_eq!(s.handshake_detection_timeout_ms, 5000);
        assert!(s.set("handshakeDetectionTimeoutMillis", "x").is_err());
        assert_eq!(s.set("keyStore.colour", "x"), Ok(Set::Unknown));
    }
}
