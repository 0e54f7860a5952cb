//! SASL on the client port: the settings Java reads, the server login it builds from the JAAS
//! file at startup (`ServerCnxnFactory.configureSaslLogin`), the identity a finished exchange
//! yields (`SaslServerCallbackHandler`'s authorize step with `KerberosName`), and the super
//! user test (`ZooKeeperServer.isSaslSuperUser`). The exchange itself is
//! [`zk_quorum::sasl`]'s; the request handling is `pipeline::requests::sasl`.
//!
//! Pure but for [`load_login`], which reads the JAAS file once at startup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zk_quorum::sasl::digest_md5::{self, DigestMd5Server};
use zk_quorum::sasl::{gssapi, jaas, PasswordLookup, ServerMechanism};

/// `zookeeper.sasl.serverconfig`'s default (`ZooKeeperSaslServer.DEFAULT_LOGIN_CONTEXT_NAME`).
pub const DEFAULT_SERVER_SECTION: &str = "Server";
/// The one login module a client-port `Server` section may name here.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// The `authProvider.N` class that registers the `sasl` scheme.
pub const SASL_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";

/// The SASL keys, as given (Java reads each as a system property when it needs it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslSettings {
    /// `-Djava.security.auth.login.config`: the JAAS file.
    pub login_config: Option<PathBuf>,
    /// `zookeeper.sasl.serverconfig`: the section holding the server's login (default
    /// `Server`), `None` when not set.
    pub server_section: Option<String>,
    /// `zookeeper.allowSaslFailedClients` (`Boolean.getBoolean`): a failed exchange keeps
    /// the connection (unless SASL is enforced).
    pub allow_failed_clients: bool,
    /// `zookeeper.kerberos.removeHostFromPrincipal` / `removeRealmFromPrincipal` (exactly
    /// `true`): drop those parts of a principal in the `sasl` id.
    pub remove_host: bool,
    pub remove_realm: bool,
    /// `zookeeper.superUser` and every `zookeeper.superUser.<anything>`: SASL ids that also
    /// get `super`.
    pub super_users: Vec<String>,
    /// `zookeeper.SASLAuthenticationProvider.superPassword`: the password of the user
    /// `super`, replacing the JAAS file's.
    pub super_password: Option<String>,
    /// The server login made from the JAAS file at startup ([`load_login`]); `None`: no SASL
    /// (Java answers SASL tokens with an empty OK then).
    pub login: Option<SaslServerLogin>,
}

impl SaslSettings {
    fn section(&self) -> &str {
        self.server_section
            .as_deref()
            .unwrap_or(DEFAULT_SERVER_SECTION)
    }

    /// Whether `id` (a finished exchange's authorization id) is a SASL super user.
    pub fn is_super_user(&self, id: &str) -> bool {
        !id.is_empty() && self.super_users.iter().any(|s| s == id)
    }

    /// A new server mechanism for one connection, when SASL is configured: GSSAPI when the
    /// login is Kerberos (Java's `ZooKeeperSaslServer` picks GSSAPI when the login subject
    /// holds a principal), else DIGEST-MD5.
    pub fn new_server(
        &self,
        raw_nonce: [u8; digest_md5::RAW_NONCE_SIZE],
    ) -> Option<Box<dyn ServerMechanism>> {
        let login = self.login.as_ref()?;
        if let Some(kerberos) = &login.kerberos {
            let server = kerberos.server()?;
            return Some(Box::new(server));
        }
        Some(Box::new(DigestMd5Server::new(
            digest_md5::CLIENT_PROTOCOL,
            digest_md5::CLIENT_SERVER_NAME,
            login.users.clone(),
            raw_nonce,
        )))
    }
}

/// The server's SASL login: the DIGEST-MD5 users of its JAAS section, or its Kerberos
/// keys when the section uses Krb5LoginModule.
#[derive(Debug, Clone)]
pub struct SaslServerLogin {
    users: Arc<Users>,
    kerberos: Option<gssapi::ServerLogin>,
    /// krb5.conf's default realm, which `KerberosName`'s DEFAULT rule compares with (read
    /// through the GSS library only when the login is Kerberos; else Java's "" fallback).
    default_realm: String,
}

impl PartialEq for SaslServerLogin {
    fn eq(&self, other: &Self) -> bool {
        self.users == other.users && self.kerberos == other.kerberos
    }
}

impl Eq for SaslServerLogin {}

/// `SaslServerCallbackHandler`'s password lookup: the section's `user_<name>` options, and
/// `superPassword` for the user `super` when set.
#[derive(Debug, PartialEq, Eq)]
struct Users {
    credentials: HashMap<String, String>,
    super_password: Option<String>,
}

impl PasswordLookup for Users {
    fn password(&self, user: &str) -> Option<String> {
        if !self.credentials.contains_key(user) {
            // Java's NameCallback finds no such user and leaves the name unset.
            tracing::warn!("User '{user}' not found in list of DIGEST-MD5 authenticateable users.");
            tracing::warn!("No password found for user: null");
            return None;
        }
        match &self.super_password {
            Some(p) if user == "super" => Some(p.clone()),
            _ => self.credentials.get(user).cloned(),
        }
    }
}

/// `configureSaslLogin` given the JAAS file's text (`None`: no file configured; `Err`: it
/// could not be read). `Ok(None)`: no SASL, as Java goes on without it when the file has no
/// such section; `Err`: the message Java logs before it refuses to start.
pub fn configure_login(
    settings: &SaslSettings,
    file: Option<Result<String, String>>,
    property: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SaslServerLogin>, String> {
    let section = settings.section();
    let parsed = match file {
        None => return Ok(None),
        Some(Ok(text)) => jaas::parse(&text, property).map_err(|e| e.to_string()),
        Some(Err(e)) => Err(e),
    };
    let entries = match &parsed {
        Ok(config) => match config.entries(section) {
            Some(entries) => entries,
            None => return Ok(None),
        },
        Err(cause) => {
            // Java's SecurityException from the broken or missing file becomes this message
            // (the cause itself is not logged by Java; we add it at debug level).
            tracing::debug!("JAAS configuration: {cause}");
            let mut message = format!("No JAAS configuration section named '{section}' was found");
            if let Some(path) = &settings.login_config {
                message.push_str(&format!(" in '{}'.", path.display()));
            }
            if settings.server_section.is_some() {
                message.push_str(" But zookeeper.sasl.serverconfig was set.");
            }
            return Err(message);
        }
    };
    let mut kerberos = None;
    for entry in entries {
        if entry.module == DIGEST_LOGIN_MODULE {
            continue;
        }
        let why = if entry.module == gssapi::KRB5_LOGIN_MODULE {
            let login = gssapi::LoginOptions::from_options(|k| {
                jaas::option(std::slice::from_ref(entry), k)
            })
            .and_then(|options| gssapi::ServerLogin::new(&options));
            match login {
                Ok(login) => {
                    kerberos = Some(login);
                    continue;
                }
                Err(e) => format!("javax.security.auth.login.LoginException: {}", e.message),
            }
        } else {
            format!(
                "javax.security.auth.login.LoginException: No LoginModule found for {}",
                entry.module
            )
        };
        return Err(format!(
            "Could not configure server because SASL configuration did not allow the  \
             ZooKeeper server to authenticate itself properly: {why}"
        ));
    }
    Ok(Some(SaslServerLogin {
        users: Arc::new(Users {
            credentials: jaas::digest_md5_credentials(entries),
            super_password: settings.super_password.clone(),
        }),
        default_realm: kerberos
            .as_ref()
            .and_then(|_| gssapi::default_realm())
            .unwrap_or_default(),
        kerberos,
    }))
}

/// The IO half of [`configure_login`]: reads the configured JAAS file. `properties` are the
/// launch's `-D` properties, for `${name}` in the file (also `user.home`, `user.name`,
/// `user.dir` from the environment, as the JVM sets them).
pub fn load_login(
    settings: &SaslSettings,
    properties: &[(&str, &str)],
) -> Result<Option<SaslServerLogin>, String> {
    let file = settings.login_config.as_deref().map(|path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    });
    let property = |name: &str| -> Option<String> {
        if let Some((_, v)) = properties.iter().rev().find(|(n, _)| *n == name) {
            return Some(v.to_string());
        }
        match name {
            "user.home" => std::env::var("HOME").ok(),
            "user.name" => std::env::var("USER").ok(),
            "user.dir" => std::env::current_dir()
                .ok()
                .map(|p| p.display().to_string()),
            "file.separator" => Some("/".to_string()),
            "java.io.tmpdir" => Some("/tmp".to_string()),
            _ => None,
        }
    };
    configure_login(settings, file, &property)
}

/// A principal split as `KerberosName` splits it: `service[/host]@realm`, or a plain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerberosName {
    pub service: String,
    pub host: Option<String>,
    pub realm: Option<String>,
}

impl KerberosName {
    /// `new KerberosName(name)`: `Err` for a name with `@` that is not `a[/b]@c` (Java's
    /// "Malformed Kerberos name").
    pub fn parse(name: &str) -> Result<KerberosName, String> {
        let plain = || KerberosName {
            service: name.to_string(),
            host: None,
            realm: None,
        };
        let Some((principal, realm)) = name.split_once('@') else {
            return Ok(plain());
        };
        if realm.contains(['/', '@']) {
            return Err(format!("Malformed Kerberos name: {name}"));
        }
        let (service, host) = match principal.split_once('/') {
            Some((s, h)) if !h.contains('/') => (s, Some(h.to_string())),
            Some(_) => return Err(format!("Malformed Kerberos name: {name}")),
            None => (principal, None),
        };
        Ok(KerberosName {
            service: service.to_string(),
            host,
            realm: Some(realm.to_string()),
        })
    }

    /// `getShortName()` under the `DEFAULT` rule (zk-rs does not read
    /// `zookeeper.security.auth_to_local`): the service name, when the name is plain or its
    /// realm is the default realm; `None` is Java's "No rules applied".
    pub fn short_name(&self, default_realm: &str) -> Option<&str> {
        match &self.realm {
            None if self.host.is_none() => Some(&self.service),
            Some(r) if r == default_realm => Some(&self.service),
            _ => None,
        }
    }
}

/// The `sasl` id of a finished exchange (`SaslServerCallbackHandler.handleAuthorizeCallback`):
/// the authenticated name's short form, plus `/host` and `@realm` unless removed; when no
/// rule applies, Java keeps the client's authorization id. `Err`: a malformed principal, for
/// which Java's callback throws.
pub fn authorized_id(
    settings: &SaslSettings,
    authentication_id: &str,
    authorization_id: &str,
) -> Result<String, String> {
    tracing::info!(
        "Successfully authenticated client: authenticationID={authentication_id};  \
         authorizationID={authorization_id}."
    );
    let name = KerberosName::parse(authentication_id)?;
    // Without a Kerberos configuration Java's default realm is the empty string.
    let default_realm = settings
        .login
        .as_ref()
        .map_or("", |l| l.default_realm.as_str());
    let Some(short) = name.short_name(default_realm) else {
        tracing::error!(
            "Failed to set name based on Kerberos authentication rules. No rules applied to {authentication_id}"
        );
        return Ok(authorization_id.to_string());
    };
    let mut id = short.to_string();
    if let (false, Some(host)) = (settings.remove_host, &name.host) {
        id.push('/');
        id.push_str(host);
    }
    if let (false, Some(realm)) = (settings.remove_realm, &name.realm) {
        id.push('@');
        id.push_str(realm);
    }
    tracing::info!("Setting authorizedID: {id}");
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SaslSettings {
        SaslSettings {
            login_config: Some(PathBuf::from("/j/jaas.conf")),
            ..Default::default()
        }
    }

    fn no_props(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn login_from_a_server_section() {
        let text = "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_super=\"adminsecret\" user_bob=\"bobsecret\"; };";
        let login = configure_login(&settings(), Some(Ok(text.to_string())), &no_props)
            .unwrap()
            .unwrap();
        assert_eq!(login.users.password("bob").as_deref(), Some("bobsecret"));
        assert_eq!(
            login.users.password("super").as_deref(),
            Some("adminsecret")
        );
        assert_eq!(login.users.password("eve"), None);
        // superPassword replaces the file's password of `super`, of no one else.
        let mut s = settings();
        s.super_password = Some("sp".to_string());
        let login = configure_login(&s, Some(Ok(text.to_string())), &no_props)
            .unwrap()
            .unwrap();
        assert_eq!(login.users.password("super").as_deref(), Some("sp"));
        assert_eq!(login.users.password("bob").as_deref(), Some("bobsecret"));
    }

    #[test]
    fn what_java_does_without_a_usable_section() {
        // No file: no SASL, silently. A file without the section: the same.
        assert_eq!(
            configure_login(&SaslSettings::default(), None, &no_props),
            Ok(None)
        );
        let other = "Client { a.B required; };".to_string();
        assert_eq!(
            configure_login(&settings(), Some(Ok(other.clone())), &no_props),
            Ok(None)
        );
        // A broken or unreadable file refuses startup, with Java's message.
        let broken = Some(Ok("Server { a.B required k=1; };".to_string()));
        assert_eq!(
            configure_login(&settings(), broken, &no_props).unwrap_err(),
            "No JAAS configuration section named 'Server' was found in '/j/jaas.conf'."
        );
        let mut s = settings();
        s.server_section = Some("Mine".to_string());
        assert_eq!(
            configure_login(&s, Some(Err("gone".to_string())), &no_props).unwrap_err(),
            "No JAAS configuration section named 'Mine' was found in '/j/jaas.conf'. But \
             zookeeper.sasl.serverconfig was set."
        );
        assert_eq!(configure_login(&s, Some(Ok(other)), &no_props), Ok(None));
        // A module that cannot log in refuses startup.
        let unknown = Some(Ok("Server { a.B required user_x=\"y\"; };".to_string()));
        assert!(configure_login(&settings(), unknown, &no_props)
            .unwrap_err()
            .ends_with("LoginException: No LoginModule found for a.B"));
    }

    #[test]
    fn kerberos_names_and_the_sasl_id() {
        let k = KerberosName::parse("zk/host.example.com@EXAMPLE.COM").unwrap();
        assert_eq!(k.service, "zk");
        assert_eq!(k.host.as_deref(), Some("host.example.com"));
        assert_eq!(k.realm.as_deref(), Some("EXAMPLE.COM"));
        assert_eq!(KerberosName::parse("a/b").unwrap().service, "a/b");
        assert!(KerberosName::parse("a@b@c").is_err());
        assert!(KerberosName::parse("a/b/c@R").is_err());
        let mut s = SaslSettings::default();
        assert_eq!(authorized_id(&s, "bob", "bob").unwrap(), "bob");
        // A realm that is not the default one: no rule applies, the authzid stays.
        assert_eq!(
            authorized_id(&s, "bob@EXAMPLE.COM", "alice").unwrap(),
            "alice"
        );
        // The empty realm is the default realm without a Kerberos configuration.
        assert_eq!(authorized_id(&s, "zk/h@", "x").unwrap(), "zk/h@");
        s.remove_host = true;
        s.remove_realm = true;
        assert_eq!(authorized_id(&s, "zk/h@", "x").unwrap(), "zk");
        assert!(authorized_id(&s, "a@b@c", "x").is_err());
    }

    #[test]
    fn super_users() {
        let s = SaslSettings {
            super_users: vec!["admin".into(), "root".into()],
            ..Default::default()
        };
        assert!(s.is_super_user("admin") && s.is_super_user("root"));
        assert!(!s.is_super_user("bob") && !s.is_super_user(""));
    }
}
