//! The JAAS login configuration file (`-Djava.security.auth.login.config=FILE`), read as the
//! JDK's `sun.security.provider.ConfigFile` reads it:
//!
//! ```text
//! // comments: //, /* */, and a lone / to the end of the line
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!         user_super="adminsecret"
//!         user_bob="bobsecret";
//! };
//! ```
//!
//! A section (Java's application name) holds login modules, each a class name, a control
//! flag (`required`, `requisite`, `sufficient`, `optional`, any case) and `key=value` options
//! up to `;`. The JDK tokenizes with `java.io.StreamTokenizer`, and its quirks are kept because
//! they decide which files Java refuses: values are words (letters, `$ _ - *`, then also digits
//! and `.`) or `"quoted"` strings with Java escapes, a value starting with a digit, `.` or `-`
//! is a number and refused, `${property}` in a value expands to a Java system property. Errors
//! carry Java's text, line numbers included (which, as in Java, do not count lines inside
//! `/* */` comments). A section with no modules is as good as absent.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// One login module of a section (Java's `AppConfigurationEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEntry {
    pub module: String,
    pub flag: ControlFlag,
    /// Options, a later duplicate key replacing an earlier one as in Java's map.
    pub options: BTreeMap<String, String>,
}

/// A parsed file: sections in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JaasConfig {
    pub sections: Vec<(String, Vec<LoginEntry>)>,
}

impl JaasConfig {
    /// Java's `getAppConfigurationEntry(name)`: `None` for an absent or empty section.
    pub fn entries(&self, name: &str) -> Option<&[LoginEntry]> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.as_slice())
            .filter(|e| !e.is_empty())
    }
}

/// The option prefix of DIGEST-MD5 users in a server section (`user_bob="secret"`).
pub const DIGEST_USER_PREFIX: &str = "user_";

/// The DIGEST-MD5 users of a server section (`ServerCnxnFactory.getDigestMd5Credentials`):
/// every `user_<name>` option of every module of the section, a later one winning.
pub fn digest_md5_credentials(entries: &[LoginEntry]) -> std::collections::HashMap<String, String> {
    let mut users = std::collections::HashMap::new();
    for entry in entries {
        for (key, value) in &entry.options {
            if let Some(user) = key.strip_prefix(DIGEST_USER_PREFIX) {
                users.insert(user.to_string(), value.clone());
            }
        }
    }
    users
}

/// The first `key` option among a section's modules (a client section's `username` and
/// `password`, which `DigestLoginModule` puts in the Subject's credentials).
pub fn option<'a>(entries: &'a [LoginEntry], key: &str) -> Option<&'a str> {
    entries
        .iter()
        .find_map(|e| e.options.get(key))
        .map(String::as_str)
}

/// A refused file, with the message of the JDK's `IOException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasError(pub String);

impl fmt::Display for JaasError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JaasError {}

fn config_error(what: String) -> JaasError {
    JaasError(format!("Configuration Error:\n\t{what}"))
}

/// A `StreamTokenizer` token as `ConfigFile` sees it.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// A quoted string; the quote character (`"` or `'`) and the unescaped text.
    Quoted(char, String),
    /// A number (Java's `TT_NUMBER`: its `sval` is null).
    Number,
    /// Any other single character (`{ } ; =` and the rest: `sval` null).
    Char(char),
    Eof,
}

impl Token {
    /// Java's `st.sval` as `ConfigFile` prints it.
    fn sval(&self) -> String {
        match self {
            Token::Word(s) | Token::Quoted(_, s) => s.clone(),
            _ => "null".to_string(),
        }
    }
}

struct Tokenizer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    /// `ConfigFile`'s line number: 1 plus the line ends reported as tokens.
    line: u32,
}

/// `StreamTokenizer`'s default word characters (letters, 160 and up) plus `ConfigFile`'s
/// `$ _ *` (and `-`, which only continues a word: see [`is_numeric`]).
fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || (c as u32) >= 160 || matches!(c, '$' | '_' | '*')
}

/// `StreamTokenizer`'s numeric class: digits, `.` and `-` (which `ConfigFile` also makes a
/// word character; the numeric test comes first where a token starts).
fn is_numeric(c: char) -> bool {
    c.is_ascii_digit() || c == '.' || c == '-'
}

fn is_space(c: char) -> bool {
    (c as u32) <= 0x20
}

impl<'a> Tokenizer<'a> {
    fn new(text: &'a str) -> Self {
        Tokenizer {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    /// The next token, line ends counted and skipped (`ConfigFile.nextToken`).
    fn next(&mut self) -> Token {
        loop {
            let Some(c) = self.chars.next() else {
                return Token::Eof;
            };
            match c {
                '\n' => self.line += 1,
                '\r' => {
                    self.line += 1;
                    if self.chars.peek() == Some(&'\n') {
                        self.chars.next();
                    }
                }
                c if is_space(c) => {}
                '/' => match self.chars.peek() {
                    Some('*') => {
                        self.chars.next();
                        let mut prev = '\0';
                        for c in self.chars.by_ref() {
                            if prev == '*' && c == '/' {
                                break;
                            }
                            prev = c;
                        }
                    }
                    // `//` and a lone `/` (the default comment character): to the line end.
                    _ => {
                        while self.chars.peek().is_some_and(|c| *c != '\n' && *c != '\r') {
                            self.chars.next();
                        }
                    }
                },
                c if is_numeric(c) => return self.number(c),
                c if is_word_start(c) => {
                    let mut word = String::from(c);
                    while let Some(&n) = self.chars.peek() {
                        if is_word_start(n) || is_numeric(n) {
                            word.push(n);
                            self.chars.next();
                        } else {
                            break;
                        }
                    }
                    return Token::Word(word);
                }
                '"' | '\'' => return self.quoted(c),
                c => return Token::Char(c),
            }
        }
    }

    fn number(&mut self, first: char) -> Token {
        let mut dot = first == '.';
        if first == '-' {
            match self.chars.peek() {
                Some(c) if c.is_ascii_digit() || *c == '.' => {}
                _ => return Token::Char('-'),
            }
        }
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_digit() {
            } else if c == '.' && !dot {
                dot = true;
            } else {
                break;
            }
            self.chars.next();
        }
        Token::Number
    }

    /// A quoted string to the closing quote or the line end, with Java's escapes.
    fn quoted(&mut self, quote: char) -> Token {
        let mut out = String::new();
        while let Some(&c) = self.chars.peek() {
            if c == quote {
                self.chars.next();
                break;
            }
            if c == '\n' || c == '\r' {
                break; // left for the next token: the line still counts
            }
            self.chars.next();
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.chars.next() else {
                break;
            };
            match e {
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                '0'..='7' => {
                    let mut v = e as u32 - '0' as u32;
                    let max_digits = if e <= '3' { 3 } else { 2 };
                    for _ in 1..max_digits {
                        match self.chars.peek() {
                            Some(&d @ '0'..='7') => {
                                v = v * 8 + (d as u32 - '0' as u32);
                                self.chars.next();
                            }
                            _ => break,
                        }
                    }
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                other => out.push(other),
            }
        }
        Token::Quoted(quote, out)
    }
}

struct Parser<'a, 'p> {
    tokens: Tokenizer<'a>,
    lookahead: Token,
    property: &'p dyn Fn(&str) -> Option<String>,
}

impl Parser<'_, '_> {
    fn advance(&mut self) {
        self.lookahead = self.tokens.next();
    }

    /// `ConfigFile.match`: the lookahead must be what is expected; words and `"` strings
    /// serve as names and values.
    fn expect(&mut self, expect: &str) -> Result<String, JaasError> {
        let line = self.tokens.line;
        let value_kind = matches!(
            expect,
            "module class name" | "controlFlag" | "option key" | "option value"
        );
        match &self.lookahead {
            Token::Eof => {
                return Err(config_error(format!(
                    "expected [{expect}], read [end of file]"
                )));
            }
            Token::Word(s) | Token::Quoted('"', s) if value_kind => {
                let s = s.clone();
                self.advance();
                return Ok(s);
            }
            Token::Char(c @ ('{' | ';' | '}' | '=')) => {
                if expect.len() == 1 && expect.starts_with(*c) {
                    self.advance();
                    return Ok(String::new());
                }
                return Err(config_error(format!("Line {line}: expected [{expect}]")));
            }
            _ => {}
        }
        Err(config_error(format!(
            "Line {line}: expected [{expect}], found [{}]",
            self.lookahead.sval()
        )))
    }

    fn section(&mut self, config: &mut JaasConfig) -> Result<(), JaasError> {
        let name = self.lookahead.sval();
        self.advance();
        self.expect("{")?;
        let mut entries = Vec::new();
        while self.lookahead != Token::Char('}') {
            let module = self.expect("module class name")?;
            let flag = self.expect("controlFlag")?.to_uppercase();
            let flag = match flag.as_str() {
                "REQUIRED" => ControlFlag::Required,
                "REQUISITE" => ControlFlag::Requisite,
                "SUFFICIENT" => ControlFlag::Sufficient,
                "OPTIONAL" => ControlFlag::Optional,
                _ => return Err(config_error(format!("Invalid control flag, {flag}"))),
            };
            let mut options = BTreeMap::new();
            while self.lookahead != Token::Char(';') {
                let key = self.expect("option key")?;
                self.expect("=")?;
                let value = self.expect("option value")?;
                options.insert(key, expand(&value, self.property)?);
            }
            self.advance();
            entries.push(LoginEntry {
                module,
                flag,
                options,
            });
        }
        self.expect("}")?;
        self.expect(";")?;
        if config.sections.iter().any(|(n, _)| *n == name) {
            return Err(config_error(format!(
                "Can not specify multiple entries for {name}"
            )));
        }
        config.sections.push((name, entries));
        Ok(())
    }
}

/// Java's `PropertyExpander.expand`: `${name}` becomes the system property (`${/}` the file
/// separator); a property that is not set refuses the file.
fn expand(value: &str, property: &dyn Fn(&str) -> Option<String>) -> Result<String, JaasError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = &rest[start + 2..start + 2 + len];
        if name == "/" {
            out.push('/');
        } else {
            match property(name) {
                Some(v) => out.push_str(&v),
                None => return Err(JaasError(format!("unable to expand property {name}"))),
            }
        }
        rest = &rest[start + 2 + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses a JAAS file's text; `property` answers `${name}` expansions (Java system properties).
pub fn parse(
    text: &str,
    property: &dyn Fn(&str) -> Option<String>,
) -> Result<JaasConfig, JaasError> {
    let mut tokens = Tokenizer::new(text);
    let lookahead = tokens.next();
    let mut parser = Parser {
        tokens,
        lookahead,
        property,
    };
    let mut config = JaasConfig::default();
    while parser.lookahead != Token::Eof {
        parser.section(&mut config)?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests;
