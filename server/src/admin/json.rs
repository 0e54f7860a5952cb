//! JSON values with ordered keys, printed as Java's AdminServer prints them: Jackson's
//! `ObjectMapper` with `INDENT_OUTPUT` (its `DefaultPrettyPrinter`).
//!
//! Hand-written rather than serde_json: Jackson's pretty printer is its own layout
//! (`"key" : value`, arrays as `[ a, b ]` on one line with objects opened in place,
//! `[ ]` and `{ }` when empty, two-space indentation) and doubles follow Java's
//! `Double.toString` (`0.0`, `1.0E-4`); serde_json's `PrettyFormatter` differs in each, so
//! a formatter for it would be as long as this module.

use crate::fourlw::java_double;

/// A JSON value; objects keep their keys in insertion order, as Java's `LinkedHashMap`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// An empty object, to [`Json::put`] into.
    pub fn object() -> Json {
        Json::Object(Vec::new())
    }

    /// Sets `key` (replacing its value in place if present, as `LinkedHashMap.put`).
    /// Does nothing on a value that is not an object.
    pub fn put(&mut self, key: impl Into<String>, value: impl Into<Json>) {
        if let Json::Object(entries) = self {
            let key = key.into();
            let value = value.into();
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = value,
                None => entries.push((key, value)),
            }
        }
    }

    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Jackson's pretty printed text (no trailing newline).
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Double(d) if d.is_finite() => out.push_str(&java_double(*d)),
            // Jackson writes non-finite doubles as quoted strings.
            Json::Double(d) => write_string(out, &java_double(*d)),
            Json::Str(s) => write_string(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[ ]"),
            Json::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push_str(" ]");
            }
            Json::Object(entries) if entries.is_empty() => out.push_str("{ }"),
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('\n');
                    indent(out, depth + 1);
                    write_string(out, key);
                    out.push_str(" : ");
                    value.write(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A JSON string as Jackson escapes it: `"` and `\`, control characters as `\n`, `\t`,
/// `\r`, `\b`, `\f` or `\u00XX`; everything else as is.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}
impl From<i64> for Json {
    fn from(i: i64) -> Json {
        Json::Int(i)
    }
}
impl From<u64> for Json {
    fn from(i: u64) -> Json {
        Json::Int(i as i64)
    }
}
impl From<i32> for Json {
    fn from(i: i32) -> Json {
        Json::Int(i as i64)
    }
}
impl From<u32> for Json {
    fn from(i: u32) -> Json {
        Json::Int(i as i64)
    }
}
impl From<usize> for Json {
    fn from(i: usize) -> Json {
        Json::Int(i as i64)
    }
}
impl From<f64> for Json {
    fn from(d: f64) -> Json {
        Json::Double(d)
    }
}
impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_string())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_printing_is_jacksons() {
        let mut inner = Json::object();
        inner.put("last_buffer_size", -1i64);
        let mut conn = Json::object();
        conn.put("remote_socket_address", "127.0.0.1:43620");
        conn.put("interest_ops", 1i64);
        let mut o = Json::object();
        o.put("avg_latency", 7.75);
        o.put("zero", 0.0);
        o.put("server_stats", inner);
        o.put("connections", vec![conn]);
        o.put("secure_connections", Vec::<Json>::new());
        o.put("current_config", Json::object());
        o.put("ids", vec![1i64, 2]);
        o.put("error", Json::Null);
        o.put("text", "a\"b\\c\nd\u{1}");
        assert_eq!(
            o.pretty(),
            r#"{
  "avg_latency" : 7.75,
  "zero" : 0.0,
  "server_stats" : {
    "last_buffer_size" : -1
  },
  "connections" : [ {
    "remote_socket_address" : "127.0.0.1:43620",
    "interest_ops" : 1
  } ],
  "secure_connections" : [ ],
  "current_config" : { },
  "ids" : [ 1, 2 ],
  "error" : null,
  "text" : "a\"b\\c\nd\u0001"
}"#
        );
    }

    #[test]
    fn put_replaces_in_place() {
        let mut o = Json::object();
        o.put("error", "x");
        o.put("command", "leader");
        o.put("error", Json::Null);
        assert_eq!(
            o.pretty(),
            "{\n  \"error\" : null,\n  \"command\" : \"leader\"\n}"
        );
    }
}
