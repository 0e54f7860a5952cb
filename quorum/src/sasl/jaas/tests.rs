//! Each expectation here is what the JDK 17's `Configuration.getConfiguration()` answered for
//! the same file (checked with a small Java program printing entries or the exception).
use super::*;

fn props(name: &str) -> Option<String> {
    match name {
        "user.home" => Some("/root".to_string()),
        _ => None,
    }
}

fn parse_ok(text: &str) -> JaasConfig {
    parse(text, &props).unwrap_or_else(|e| panic!("{e} for {text}"))
}

fn parse_err(text: &str) -> String {
    parse(text, &props).unwrap_err().0
}

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn sections_modules_flags_options_comments() {
    let c = parse_ok(
        "// line comment\n/* block\n   comment */\nServer {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_super=\"adminsecret\"\n    user_bob=\"bob\\\"pw\\\\x\"   user_t=tok-en.1\n    debug=true;\n};\nClient { a.B Optional  u=\"x\" ; c.D SUFFICIENT; };\n\"Quoted Name\" { x.Y requisite; };\nEmpty { };\n",
    );
    let server = c.entries("Server").unwrap();
    assert_eq!(server.len(), 1);
    assert_eq!(
        server[0].module,
        "org.apache.zookeeper.server.auth.DigestLoginModule"
    );
    assert_eq!(server[0].flag, ControlFlag::Required);
    assert_eq!(
        server[0].options,
        opts(&[
            ("debug", "true"),
            ("user_bob", "bob\"pw\\x"),
            ("user_super", "adminsecret"),
            ("user_t", "tok-en.1")
        ])
    );
    let client = c.entries("Client").unwrap();
    assert_eq!(client[0].flag, ControlFlag::Optional);
    assert_eq!(client[0].options, opts(&[("u", "x")]));
    assert_eq!(client[1].module, "c.D");
    assert_eq!(client[1].flag, ControlFlag::Sufficient);
    assert_eq!(
        c.entries("Quoted Name").unwrap()[0].flag,
        ControlFlag::Requisite
    );
    assert_eq!(c.entries("Empty"), None);
    assert_eq!(c.entries("Nope"), None);
    assert_eq!(
        c.entries("server"),
        None,
        "section names are case-sensitive"
    );
}

#[test]
fn values_as_java_reads_them() {
    let one = |opt: &str| {
        let c = parse_ok(&format!("Server {{\n  a.B required {opt};\n}};\n"));
        c.entries("Server").unwrap()[0]
            .options
            .values()
            .next()
            .cloned()
            .unwrap()
    };
    assert_eq!(one("k=\"${user.home}/x\""), "/root/x");
    assert_eq!(one("k=\"a\\tb\\nc\\101\\q\""), "a\tb\ncAq");
    assert_eq!(one("k=a_b$c"), "a_b$c");
    assert_eq!(one("k=\"${/}\""), "/");
    assert_eq!(one("k=\"$x{\""), "$x{");
    assert_eq!(one("k=\"\""), "");
    assert_eq!(one("k=x-"), "x-");
    assert_eq!(one("k=é"), "é");
    assert_eq!(one("k=a*b"), "a*b");
    // A later duplicate wins.
    let c = parse_ok("Server { a.B required user_x=\"1\" user_x=\"2\"; };");
    assert_eq!(
        c.entries("Server").unwrap()[0].options,
        opts(&[("user_x", "2")])
    );
}

#[test]
fn refusals_as_java_words_them() {
    let line2 = |opt: &str| parse_err(&format!("Server {{\n  a.B required {opt};\n}};\n"));
    let e = "Configuration Error:\n\t";
    assert_eq!(
        line2("k=12"),
        format!("{e}Line 2: expected [option value], found [null]")
    );
    assert_eq!(
        line2("k=-1"),
        format!("{e}Line 2: expected [option value], found [null]")
    );
    assert_eq!(
        line2("k=-x"),
        format!("{e}Line 2: expected [option value], found [null]")
    );
    assert_eq!(
        line2("k=1.5e3"),
        format!("{e}Line 2: expected [option value], found [null]")
    );
    assert_eq!(line2("k=a/b"), format!("{e}Line 3: expected [option key]"));
    assert_eq!(
        line2("k=a:b"),
        format!("{e}Line 2: expected [option key], found [null]")
    );
    assert_eq!(
        line2("k=a@B"),
        format!("{e}Line 2: expected [option key], found [null]")
    );
    assert_eq!(
        line2("k='sq'"),
        format!("{e}Line 2: expected [option value], found [sq]")
    );
    assert_eq!(line2("k="), format!("{e}Line 2: expected [option value]"));
    assert_eq!(
        line2("k=\"${nope.prop}\""),
        "unable to expand property nope.prop"
    );
    assert_eq!(
        line2("k=${user.home}"),
        format!("{e}Line 2: expected [option key]")
    );
    assert_eq!(
        parse_err("Server {\n  a.B required k=\"v\";\n"),
        format!("{e}expected [module class name], read [end of file]")
    );
    assert_eq!(
        parse_err("Server {\n  a.B bogus k=\"v\";\n};\n"),
        format!("{e}Invalid control flag, BOGUS")
    );
    assert_eq!(
        parse_err("Server {\n  a.B required k=\"v\"\n};\n"),
        format!("{e}Line 3: expected [option key]")
    );
    assert_eq!(
        parse_err("Server {\n  a.B required k=\"v\";\n}\n"),
        format!("{e}expected [;], read [end of file]")
    );
    assert_eq!(
        parse_err("Server { a.B required; };\nServer { x.Z required extra=\"1\"; };\n"),
        format!("{e}Can not specify multiple entries for Server")
    );
    // A block comment's lines are not counted, as in Java.
    assert_eq!(
        parse_err("// c\n/* a\n b */\nServer {\n  a.B required\n    k=\"v\"\n    t=x # hash\n;};"),
        format!("{e}Line 6: expected [option key], found [null]")
    );
}

#[test]
fn hostile_input_never_panics() {
    let samples = [
        "",
        "{",
        "}",
        ";",
        "\"",
        "'",
        "/*",
        "Server",
        "Server {",
        "Server { a",
        "Server { a required",
        "Server { a required k",
        "Server { a required k =",
        "\\",
        "Server { a required k=\"\\",
        "Server { a required k=\"\\7",
        "-",
        ".",
        "-.",
        "\u{0}\u{ff}\u{10ffff}",
        "Server { a required k=\"${\"; };",
        "Server { a required k=\"${}\"; };",
    ];
    for s in samples {
        let _ = parse(s, &props);
    }
    // Every prefix of a good file.
    let good = "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_bob=\"b\\\"ob\" k=v;\n};\n";
    for cut in 0..good.len() {
        if good.is_char_boundary(cut) {
            let _ = parse(&good[..cut], &props);
        }
    }
    assert!(parse(good, &props).is_ok());
}

#[test]
fn digest_users_and_client_options() {
    let c = parse_ok(
        "Server { a.DigestLoginModule required user_bob=\"x\" debug=true user_=\"empty\"; b.Other optional user_bob=\"y\" user_al=\"z\"; };\nClient { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"bob\" password=\"x\"; };",
    );
    let users = digest_md5_credentials(c.entries("Server").unwrap());
    assert_eq!(users.len(), 3);
    assert_eq!(users["bob"], "y");
    assert_eq!(users["al"], "z");
    assert_eq!(users[""], "empty");
    let client = c.entries("Client").unwrap();
    assert_eq!(option(client, "username"), Some("bob"));
    assert_eq!(option(client, "password"), Some("x"));
    assert_eq!(option(client, "nope"), None);
}
