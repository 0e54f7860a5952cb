//! The `java.util.Properties` file syntax, as `Properties.load` reads a `zoo.cfg`: `key=value`,
//! `key: value` and `key value` lines, `#` / `!` comments, backslash continuation lines and the
//! `\t` / `\uXXXX` escapes; the last of several entries with one key wins. Also the small
//! `java.lang` parsers the key table needs (`String.trim`, `Long.decode`) and reading a file
//! as Java does (ISO-8859-1 when it is not UTF-8). Knows nothing of ZooKeeper's keys.

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;

#[derive(Debug)]
pub(super) struct RawEntry {
    pub key: String,
    pub value: String,
    /// 1-based line where the entry starts.
    pub line: usize,
}

fn is_prop_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Splits `text` into the entries `Properties.load` would see, in file order (duplicates
/// kept).
pub(super) fn parse_properties(text: &str) -> Result<Vec<RawEntry>, ConfigError> {
    // Natural lines: terminated by \n, \r or \r\n.
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                lines.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }

    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start_matches(is_prop_ws);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            if i >= lines.len() {
                break;
            }
            logical.push_str(lines[i].trim_start_matches(is_prop_ws));
            i += 1;
        }
        let line = start + 1;
        let (key, value) = split_key_value(&logical);
        let syntax = |message: String| ConfigError::Syntax { line, message };
        entries.push(RawEntry {
            key: unescape(key).map_err(syntax)?,
            value: unescape(value).map_err(syntax)?,
            line,
        });
    }
    Ok(entries)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// The raw (still escaped) key and value of a logical line.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_separator = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':') {
            key_end = i;
            value_start = i + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_prop_ws(c) {
            key_end = i;
            value_start = i + c.len_utf8();
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    let mut value = &line[value_start..];
    while let Some(c) = value.chars().next() {
        if is_prop_ws(c) {
            value = &value[c.len_utf8()..];
        } else if !has_separator && (c == '=' || c == ':') {
            has_separator = true;
            value = &value[1..];
        } else {
            break;
        }
    }
    (&line[..key_end], value)
}

/// `Properties.loadConvert`: `\t \n \r \f`, `\uXXXX`, and `\x` → `x`.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uxxxx escape: \\u{hex}"))?;
                // A lone surrogate cannot be a Rust char; Java would keep it.
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}

/// Keeps the last entry of each key (as `Properties` does), warning about the others.
pub(super) fn dedup(entries: Vec<RawEntry>, warnings: &mut Vec<String>) -> Vec<RawEntry> {
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        last.insert(java_trim(&e.key).to_string(), i);
    }
    let mut out = Vec::with_capacity(last.len());
    for (i, e) in entries.into_iter().enumerate() {
        let key = java_trim(&e.key).to_string();
        let keep = last[&key];
        if keep == i {
            out.push(e);
        } else {
            warnings.push(format!(
                "line {}: {key} is set again later; the later value is used",
                e.line
            ));
        }
    }
    out
}

/// `String.trim`: strips every char up to and including U+0020 from both ends.
pub(super) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Long.decode`: optional sign, then `0x` / `0X` / `#` hex, `0` octal, or decimal.
pub(super) fn java_decode(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, h)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Reads a file as Java reads `zoo.cfg`: UTF-8 when it is, else ISO-8859-1.
pub(super) fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_escapes_and_edge_cases() {
        let entries = parse_properties(
            "a\\=b=c\\u0041\\td\n\
             key\\ with\\ space = v\n\
             # comment ending in backslash \\\n\
             next=1\n\
             even=x\\\\\n\
             after=2\n\
             lone\n\
             cont=a\\\n# not a comment\n",
        )
        .unwrap();
        let got: Vec<(String, String, usize)> = entries
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect();
        let want = [
            ("a=b", "cA\td", 1),
            ("key with space", "v", 2),
            ("next", "1", 4),
            ("even", "x\\", 5),
            ("after", "2", 6),
            ("lone", "", 7),
            ("cont", "a# not a comment", 8),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.as_str(), g.1.as_str(), g.2), w);
        }
        let e = parse_properties("dataDir=\\u12\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { line: 1, .. }), "{e:?}");
        assert!(e.to_string().starts_with("line 1: malformed"), "{e}");
    }

    #[test]
    fn java_helpers() {
        assert_eq!(java_decode("10"), Some(10));
        assert_eq!(java_decode("-10"), Some(-10));
        assert_eq!(java_decode("0x1F"), Some(31));
        assert_eq!(java_decode("#ff"), Some(255));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("0"), Some(0));
        assert_eq!(java_decode("0x"), None);
        assert_eq!(java_decode("--1"), None);
        assert_eq!(java_decode(""), None);
        assert_eq!(java_trim("\t x \u{1}"), "x");
    }
}
