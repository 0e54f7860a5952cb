//! The checks that need more than one key, and the values derived from others, once every
//! key is read: Java's `QuorumPeerConfig.parseProperties` tail (session timeouts from
//! `tickTime`, `dataLogDir` from `dataDir`, `clientPortAddress` needing `clientPort`, the
//! quorum SASL switches), `AuthenticationHelper` (`enforce.auth.*`), and the ensemble checks
//! of `parseDynamicConfig` / `checkValidity` with Java's warnings about its size.

use super::servers::{resolve_host, sorted_servers};
use super::{Config, ConfigError, Draft};

/// Turns a draft whose keys are all read into the configuration.
pub(super) fn finish(mut d: Draft) -> Result<(Config, Vec<String>), ConfigError> {
    let sasl = &d.config.quorum_sasl;
    if !sasl.enabled && sasl.server_requires {
        return Err(sasl_error(
            "quorum.auth.serverRequireSasl",
            "quorum.auth.enableSasl",
        ));
    }
    if !sasl.enabled && sasl.learner_requires {
        return Err(sasl_error(
            "quorum.auth.learnerRequireSasl",
            "quorum.auth.enableSasl",
        ));
    }
    if !sasl.learner_requires && sasl.server_requires {
        return Err(sasl_error(
            "quorum.auth.serverRequireSasl",
            "quorum.auth.learnerRequireSasl",
        ));
    }

    let c = &mut d.config;
    if c.data_dir.as_os_str().is_empty() {
        return Err(ConfigError::Missing {
            key: "dataDir".to_string(),
        });
    }
    if c.data_log_dir.as_os_str().is_empty() {
        c.data_log_dir = c.data_dir.clone();
    }

    if let Some(address) = d.client_port_address.take() {
        if c.client_port == 0 {
            return Err(ConfigError::Invalid {
                key: "clientPortAddress".to_string(),
                message: "clientPortAddress is set but clientPort is not set".to_string(),
            });
        }
        let ip = resolve_host(&address).ok_or_else(|| ConfigError::InvalidValue {
            key: "clientPortAddress".to_string(),
            value: address.clone(),
            expected: "an IP address or a resolvable host name".to_string(),
        })?;
        c.client_port_address = Some(ip);
    }
    if d.secure_client_port == 0 && d.secure_client_port_address {
        return Err(ConfigError::Invalid {
            key: "secureClientPortAddress".to_string(),
            message: "secureClientPortAddress is set but secureClientPort is not set".to_string(),
        });
    }

    let (min, max) = session_timeouts_ms(
        c.tick_time_ms,
        d.min_session_timeout_ms,
        d.max_session_timeout_ms,
    );
    if min > max {
        return Err(ConfigError::Invalid {
            key: "minSessionTimeout".to_string(),
            message: format!(
                "minSessionTimeout ({min}) must not be larger than maxSessionTimeout ({max})"
            ),
        });
    }
    c.min_session_timeout_ms = u32::try_from(min).unwrap_or(u32::MAX);
    c.max_session_timeout_ms = u32::try_from(max).unwrap_or(u32::MAX);

    if c.read_only_mode_enabled {
        c.four_letter_whitelist.add("isro");
    }
    let auth = std::mem::take(&mut d.enforce_auth);
    c.enforce_auth_schemes = enforce_auth_schemes(
        auth.enabled.as_deref(),
        auth.schemes.as_deref(),
        auth.session_require_sasl.as_deref(),
        c.digest_auth_enabled,
        c.sasl_provider(),
    )?;

    d.config.servers = sorted_servers(std::mem::take(&mut d.servers))?;
    if d.config.dynamic_config_file.is_none() {
        d.config.check_ensemble(&mut d.warnings)?;
    }
    Ok((d.config, d.warnings))
}

/// `minSessionTimeout` / `maxSessionTimeout` in ms: `-1` (the default) means 2 and 20 ticks.
pub(super) fn session_timeouts_ms(tick_time_ms: u32, min_ms: i64, max_ms: i64) -> (i64, i64) {
    let tick = i64::from(tick_time_ms);
    let min = if min_ms == -1 { 2 * tick } else { min_ms };
    let max = if max_ms == -1 { 20 * tick } else { max_ms };
    (min, max)
}

impl Config {
    /// Java's ensemble checks (`parseDynamicConfig` and `checkValidity`), plus the
    /// requirement that there is a client port somewhere.
    pub(super) fn check_ensemble(&mut self, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
        let participants = self.participants().count();
        let observers = self.servers.len() - participants;
        if participants == 0 {
            if !self.standalone_enabled {
                return Err(ConfigError::Invalid {
                    key: "standaloneEnabled".to_string(),
                    message: "standaloneEnabled is false, so there must be at least one \
                              participant server.N line"
                        .to_string(),
                });
            }
            if observers > 0 {
                return Err(ConfigError::Invalid {
                    key: "server".to_string(),
                    message: "observers without participants is an invalid configuration"
                        .to_string(),
                });
            }
        } else if participants == 1 && self.standalone_enabled {
            if observers > 0 {
                return Err(ConfigError::Invalid {
                    key: "server".to_string(),
                    message: "observers without a quorum is an invalid configuration".to_string(),
                });
            }
            warnings.push(
                "only one server.N line: running standalone (set standaloneEnabled=false for \
                 a one-member ensemble)"
                    .to_string(),
            );
        } else if participants <= 2 {
            warnings.push(
                "no server failure will be tolerated: you need at least 3 servers".to_string(),
            );
        } else if participants.is_multiple_of(2) {
            warnings
                .push("non-optimal configuration: consider an odd number of servers".to_string());
        }
        if self.is_distributed() {
            if self.init_limit == 0 {
                return Err(ConfigError::Missing {
                    key: "initLimit".to_string(),
                });
            }
            if self.sync_limit == 0 {
                return Err(ConfigError::Missing {
                    key: "syncLimit".to_string(),
                });
            }
        }
        if self.client_port == 0 && !self.servers.iter().any(|s| s.client.is_some()) {
            return Err(ConfigError::Missing {
                key: "clientPort".to_string(),
            });
        }
        Ok(())
    }
}

/// Java's `AuthenticationHelper`: `sessionRequireClientSASLAuth=true` enforces `sasl`;
/// otherwise `enforce.auth.enabled=true` enforces the comma-separated, trimmed
/// `enforce.auth.schemes`. Java refuses to start when none is given or a scheme has no
/// provider: `ip`, `digest` (unless disabled) and `sasl` (with `authProvider.N` naming
/// SASLAuthenticationProvider).
fn enforce_auth_schemes(
    enabled: Option<&str>,
    schemes: Option<&str>,
    sasl: Option<&str>,
    digest_enabled: bool,
    sasl_provider: bool,
) -> Result<Option<Vec<String>>, ConfigError> {
    let is_true = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let schemes: Vec<String> = if is_true(sasl) {
        vec![crate::auth::SCHEME_SASL.to_string()]
    } else if is_true(enabled) {
        schemes.map_or(Vec::new(), java_split_trimmed)
    } else {
        return Ok(None);
    };
    if schemes.is_empty() {
        return Err(ConfigError::Invalid {
            key: "enforce.auth.schemes".to_string(),
            message: "zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes \
                      must be  configured."
                .to_string(),
        });
    }
    for s in &schemes {
        let known = s == crate::auth::SCHEME_IP
            || (digest_enabled && s == crate::auth::SCHEME_DIGEST)
            || (sasl_provider && s == crate::auth::SCHEME_SASL);
        if !known {
            return Err(ConfigError::Invalid {
                key: "enforce.auth.schemes".to_string(),
                message: format!("Authentication scheme {s} is not available."),
            });
        }
    }
    Ok(Some(schemes))
}

/// Java's `value.split(",")` (with a separator, trailing empty parts are dropped), each
/// part trimmed.
fn java_split_trimmed(value: &str) -> Vec<String> {
    let mut raw: Vec<&str> = value.split(',').collect();
    if value.contains(',') {
        while raw.last() == Some(&"") {
            raw.pop();
        }
    }
    raw.into_iter().map(|p| p.trim().to_string()).collect()
}

fn sasl_error(key: &str, needs: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: format!("{needs} is disabled, so {key} cannot be enabled"),
    }
}
