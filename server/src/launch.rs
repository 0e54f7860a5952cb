//! How `zkserver` is launched like Java's server: the command line
//! `zkserver [-Dname=value ...] [zoo.cfg]` (the `java -D... QuorumPeerMain zoo.cfg` of
//! `zkServer.sh`), the `-D` words of the `SERVER_JVMFLAGS` and `JVMFLAGS` environment
//! variables, and those two variables set in `java.env` (which `zkEnv.sh` sources; read here
//! as `VAR=value` lines, without a shell). Pure: the caller hands in the arguments, the
//! variables and the file's text, and logs what comes back.
//!
//! Order, as on Java's command line (`java ... $SERVER_JVMFLAGS $JVMFLAGS ... QuorumPeerMain`,
//! later `-D` of one name winning): `java.env` replaces the environment's values (it is
//! sourced after them; `$JVMFLAGS` in it expands to the environment's value), then the words
//! of `SERVER_JVMFLAGS`, then those of `JVMFLAGS`, then the command line's `-D` arguments.

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Run {
        /// `-D` arguments, in order.
        properties: Vec<(String, String)>,
        config_path: Option<String>,
    },
}

/// Reads the arguments (without the program name). `-D` arguments come before the config
/// path, as Java's launcher takes JVM options before the main class; Java's
/// `QuorumPeerMain` takes one config path (more arguments would be the old
/// `port dataDir` form, which zk-rs does not offer).
pub fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut properties = Vec::new();
    let mut rest = args.iter();
    for arg in rest.by_ref() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            _ => {}
        }
        if let Some(word) = arg.strip_prefix("-D") {
            properties.push(property(word).ok_or_else(|| format!("bad option {arg}"))?);
        } else if arg.starts_with('-') {
            return Err(format!("unknown option {arg}"));
        } else {
            if let Some(extra) = rest.next() {
                return Err(format!(
                    "unexpected argument {extra} after the config path (-D options go first)"
                ));
            }
            return Ok(Command::Run {
                properties,
                config_path: Some(arg.clone()),
            });
        }
    }
    Ok(Command::Run {
        properties,
        config_path: None,
    })
}

/// `name=value` of a `-D` word; `-Dname` sets the empty string, as in Java.
fn property(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=').unwrap_or((word, ""));
    (!name.is_empty()).then(|| (name.to_string(), value.to_string()))
}

/// The JVM flags of a `JVMFLAGS`-like variable: its `-D` words as properties, and the other
/// words (`-Xmx1g`, `-XX:+UseG1GC`), which mean nothing here. Split on blanks only, as the
/// unquoted `$JVMFLAGS` of `zkServer.sh` is.
pub fn jvm_flags(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut properties = Vec::new();
    let mut others = Vec::new();
    for word in text.split_whitespace() {
        match word.strip_prefix("-D").and_then(property) {
            Some(p) => properties.push(p),
            None => others.push(word.to_string()),
        }
    }
    (properties, others)
}

/// The variables a `java.env` sets, in order, with `$VAR` / `${VAR}` expanded from `lookup`
/// and from earlier lines: `VAR=value`, `export VAR=value`, values bare, `'single'` or
/// `"double"` quoted. Returns the assignments and the lines it could not read as one (`if`,
/// command substitution, ...), which a shell would run and this does not.
pub fn read_env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut set: Vec<(String, String)> = Vec::new();
    let mut skipped = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let assignment = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let parsed = assignment.split_once('=').and_then(|(name, value)| {
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return None;
            }
            let get = |var: &str| {
                set.iter()
                    .rev()
                    .find(|(n, _)| n == var)
                    .map(|(_, v)| v.clone())
                    .or_else(|| lookup(var))
            };
            shell_value(value, get).map(|v| (name.to_string(), v))
        });
        match parsed {
            Some(kv) => set.push(kv),
            None => skipped.push(line.to_string()),
        }
    }
    (set, skipped)
}

/// One shell word: quotes removed, `$VAR` / `${VAR}` expanded outside single quotes. `None`
/// for what needs a shell (command substitution, backslashes, a second word, an open quote).
fn shell_value(value: &str, get: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '`' | '\\') => return None,
            (None, c) if c.is_whitespace() || c == ';' => {
                // A trailing comment is fine; anything else is a second word or command.
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                return (rest.is_empty() || rest.starts_with('#')).then_some(out);
            }
            (_, '$') => {
                let name: String = if chars.peek() == Some(&'{') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    name
                } else if chars.peek() == Some(&'(') {
                    return None;
                } else {
                    let mut name = String::new();
                    while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                        name.push(c);
                    }
                    name
                };
                if name.is_empty() {
                    out.push('$');
                } else {
                    out.push_str(&get(&name).unwrap_or_default());
                }
            }
            (_, c) => out.push(c),
        }
    }
    quote.is_none().then_some(out)
}

/// Every system property of a launch and the JVM flags that were ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Properties {
    /// Name and value, one per name (the last value given wins, as in Java), in the order
    /// first given.
    pub properties: Vec<(String, String)>,
    /// Words of `SERVER_JVMFLAGS` / `JVMFLAGS` that are not `-D` (`-Xmx1g`).
    pub ignored_jvm_flags: Vec<String>,
    /// Lines of `java.env` not read (they need a shell).
    pub skipped_env_lines: Vec<String>,
}

/// The properties of a launch: `env` looks up an environment variable, `java_env` is the
/// text of `java.env` if there is one, `args` are the command line's `-D` arguments.
pub fn properties(
    env: impl Fn(&str) -> Option<String>,
    java_env: Option<&str>,
    args: &[(String, String)],
) -> Properties {
    let mut out = Properties::default();
    let (from_file, skipped) = match java_env {
        Some(text) => read_env_file(text, &env),
        None => (Vec::new(), Vec::new()),
    };
    out.skipped_env_lines = skipped;
    let var = |name: &str| {
        from_file
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| env(name))
            .unwrap_or_default()
    };
    let mut all = Vec::new();
    for name in ["SERVER_JVMFLAGS", "JVMFLAGS"] {
        let (props, others) = jvm_flags(&var(name));
        all.extend(props);
        out.ignored_jvm_flags.extend(others);
    }
    all.extend(args.iter().cloned());
    for (name, value) in all {
        match out.properties.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => out.properties.push((name, value)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn command_line() {
        assert_eq!(
            parse_args(&args(&[])),
            Ok(Command::Run {
                properties: vec![],
                config_path: None
            })
        );
        assert_eq!(
            parse_args(&args(&[
                "-Dreadonlymode.enabled=true",
                "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:x=",
                "-Dflag",
                "conf/zoo.cfg"
            ])),
            Ok(Command::Run {
                properties: pairs(&[
                    ("readonlymode.enabled", "true"),
                    // Only the first '=' separates: base64 digests end in '='.
                    (
                        "zookeeper.DigestAuthenticationProvider.superDigest",
                        "super:x="
                    ),
                    ("flag", ""),
                ]),
                config_path: Some("conf/zoo.cfg".into())
            })
        );
        assert_eq!(parse_args(&args(&["--help"])), Ok(Command::Help));
        assert_eq!(parse_args(&args(&["-Da=b", "-V"])), Ok(Command::Version));
        assert!(parse_args(&args(&["-D"])).is_err());
        assert!(parse_args(&args(&["-D=x"])).is_err());
        assert!(parse_args(&args(&["-Xmx1g", "zoo.cfg"])).is_err());
        let e = parse_args(&args(&["zoo.cfg", "-Da=b"])).unwrap_err();
        assert!(e.contains("-D options go first"), "{e}");
    }

    #[test]
    fn jvm_flags_keep_only_properties() {
        let (props, others) = jvm_flags("  -Xmx1000m -Da.b=1\t-XX:+UseG1GC -Dc=x=y ");
        assert_eq!(props, pairs(&[("a.b", "1"), ("c", "x=y")]));
        assert_eq!(others, args(&["-Xmx1000m", "-XX:+UseG1GC"]));
    }

    #[test]
    fn java_env_lines() {
        let text = "\
# comment
export JVMFLAGS=\"$JVMFLAGS -Dzookeeper.snapCount=10\"
SERVER_JVMFLAGS='-Dx=$NOT_EXPANDED' # trailing comment
ZK_SERVER_HEAP=${HEAP}0
if [ -n \"$X\" ]; then
JVMFLAGS=`cat flags`
";
        let env = |name: &str| match name {
            "JVMFLAGS" => Some("-Da=1".to_string()),
            "HEAP" => Some("10".to_string()),
            _ => None,
        };
        let (set, skipped) = read_env_file(text, env);
        assert_eq!(
            set,
            pairs(&[
                ("JVMFLAGS", "-Da=1 -Dzookeeper.snapCount=10"),
                ("SERVER_JVMFLAGS", "-Dx=$NOT_EXPANDED"),
                ("ZK_SERVER_HEAP", "100"),
            ])
        );
        assert_eq!(
            skipped,
            args(&["if [ -n \"$X\" ]; then", "JVMFLAGS=`cat flags`"])
        );
        // A later line sees an earlier one.
        let (set, _) = read_env_file("A=1\nB=\"$A$A\"\nC=\"open\n", |_| None);
        assert_eq!(set, pairs(&[("A", "1"), ("B", "11")]));
    }

    /// Java's command line: `$SERVER_JVMFLAGS $JVMFLAGS`, then (for zkserver) the command
    /// line's own `-D` arguments; the last of one name wins.
    #[test]
    fn precedence_between_sources() {
        let env = |name: &str| match name {
            "SERVER_JVMFLAGS" => Some("-Xmx1000m -Da=server -Db=server".to_string()),
            "JVMFLAGS" => Some("-Da=jvm".to_string()),
            _ => None,
        };
        let p = properties(env, None, &pairs(&[("b", "arg"), ("c", "arg")]));
        assert_eq!(
            p.properties,
            pairs(&[("a", "jvm"), ("b", "arg"), ("c", "arg")])
        );
        assert_eq!(p.ignored_jvm_flags, args(&["-Xmx1000m"]));
        // java.env replaces the environment's JVMFLAGS (here keeping it with $JVMFLAGS).
        let p = properties(
            env,
            Some("JVMFLAGS=\"$JVMFLAGS -Dd=file\"\nSERVER_JVMFLAGS=-Db=file\n"),
            &[],
        );
        assert_eq!(
            p.properties,
            pairs(&[("b", "file"), ("a", "jvm"), ("d", "file")])
        );
        assert!(p.ignored_jvm_flags.is_empty());
    }
}
