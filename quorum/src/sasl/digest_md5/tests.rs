use super::*;
use std::collections::HashMap;

fn users(pairs: &[(&str, &str)]) -> Arc<dyn PasswordLookup> {
    Arc::new(
        pairs
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

fn zk_server(nonce: &str) -> DigestMd5Server {
    DigestMd5Server::with_nonce(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        users(&[("bob", "secret"), ("super", "test")]),
        nonce.to_string(),
    )
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// RFC 2831 §4's example exchange (IMAP, chris / secret): the response and rspauth it prints.
#[test]
fn rfc2831_example() {
    let mut client = DigestMd5Client::with_cnonce(
        "imap",
        "elwood.innosoft.com",
        "chris",
        "secret",
        None,
        "OA6MHXh6VqTrRk".to_string(),
    );
    let challenge = b"realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",algorithm=md5-sess,charset=utf-8";
    let response = client.evaluate_challenge(challenge).unwrap();
    let directives = parse_directives(&response);
    let get = |n: &str| {
        directives
            .iter()
            .find(|d| d.name == n)
            .map(|d| text(&d.value).to_string())
    };
    assert_eq!(
        get("response").as_deref(),
        Some("d388dad90d4bbd760a152321f2143af7")
    );
    assert_eq!(
        get("digest-uri").as_deref(),
        Some("imap/elwood.innosoft.com")
    );
    assert!(!client.is_complete());
    client
        .evaluate_challenge(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
        .unwrap();
    assert!(client.is_complete());

    // And the server side accepts the RFC's own response, answering the RFC's rspauth.
    let mut server = DigestMd5Server::with_nonce(
        "imap",
        "elwood.innosoft.com",
        users(&[("chris", "secret")]),
        "OA6MG9tEQGm2hh".to_string(),
    );
    server.evaluate_response(b"").unwrap();
    let rfc_response = b"charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\",digest-uri=\"imap/elwood.innosoft.com\",response=d388dad90d4bbd760a152321f2143af7,qop=auth";
    assert_eq!(
        text(&server.evaluate_response(rfc_response).unwrap()),
        "rspauth=ea40f60335c427b5527b84dbabcdfffd"
    );
    assert!(server.is_complete());
    assert_eq!(server.authorization_id(), Some("chris"));
}

/// Captured from the JDK's DIGEST-MD5 client talking to the JDK's server (JDK 17.0.15, the
/// classes ZooKeeper's client and server use), user bob / secret.
const JAVA_NONCE: &str = "8wGejoVHVRv9DVk5pMI5hBu8375247+QqUwAIVfR";
const JAVA_CHALLENGE: &str = "realm=\"zk-sasl-md5\",nonce=\"8wGejoVHVRv9DVk5pMI5hBu8375247+QqUwAIVfR\",charset=utf-8,algorithm=md5-sess";
const JAVA_RESPONSE: &str = "charset=utf-8,username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"8wGejoVHVRv9DVk5pMI5hBu8375247+QqUwAIVfR\",nc=00000001,cnonce=\"eLvL0Bz1WjBvOthAe2IrqRziyc9Brt9uK4+p1oim\",digest-uri=\"zookeeper/zk-sasl-md5\",maxbuf=65536,response=7bcf6a3edbdf2008c9bdab9da7f510bb,qop=auth";
const JAVA_RSPAUTH: &str = "rspauth=0b227e9baf0faa26d14703e210ebb79a";

#[test]
fn java_transcript_against_our_server() {
    let mut server = zk_server(JAVA_NONCE);
    assert_eq!(
        text(&server.evaluate_response(b"").unwrap()),
        JAVA_CHALLENGE
    );
    assert!(!server.is_complete());
    assert_eq!(
        text(&server.evaluate_response(JAVA_RESPONSE.as_bytes()).unwrap()),
        JAVA_RSPAUTH
    );
    assert!(server.is_complete());
    assert_eq!(server.authentication_id(), Some("bob"));
    assert_eq!(server.authorization_id(), Some("bob"));
    // A completed server takes no more tokens (the JDK's "Server at illegal state").
    let err = server.evaluate_response(b"").unwrap_err();
    assert_eq!(err.message, "DIGEST-MD5: Server at illegal state");
    assert!(!server.is_complete());
}

#[test]
fn our_client_speaks_as_java_client() {
    let mut client = DigestMd5Client::with_cnonce(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        "bob",
        "secret",
        None,
        "eLvL0Bz1WjBvOthAe2IrqRziyc9Brt9uK4+p1oim".to_string(),
    );
    assert!(client.initial_response().is_empty());
    let response = client
        .evaluate_challenge(JAVA_CHALLENGE.as_bytes())
        .unwrap();
    assert_eq!(text(&response), JAVA_RESPONSE);
    assert!(client
        .evaluate_challenge(JAVA_RSPAUTH.as_bytes())
        .unwrap()
        .is_empty());
    assert!(client.is_complete());
}

#[test]
fn our_client_and_server_agree_with_random_nonces_and_authzid() {
    let mut server = DigestMd5Server::new(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        users(&[("bob", "sécret \"q\"")]),
        crate::sasl::random_bytes(),
    );
    let mut client = DigestMd5Client::new(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        "bob",
        "sécret \"q\"",
        Some("alice"),
        crate::sasl::random_bytes(),
    );
    let challenge = server
        .evaluate_response(&client.initial_response())
        .unwrap();
    let response = client.evaluate_challenge(&challenge).unwrap();
    let rspauth = server.evaluate_response(&response).unwrap();
    client.evaluate_challenge(&rspauth).unwrap();
    assert!(client.is_complete() && server.is_complete());
    assert_eq!(server.authentication_id(), Some("bob"));
    assert_eq!(server.authorization_id(), Some("alice"));
}

fn fails_with(response: &str, message: &str) {
    let mut server = zk_server(JAVA_NONCE);
    server.evaluate_response(b"").unwrap();
    let err = server.evaluate_response(response.as_bytes()).unwrap_err();
    assert_eq!(err.message, message, "for {response}");
    assert!(!server.is_complete());
    assert_eq!(server.authorization_id(), None);
    // After a failure the exchange is over, even for the right answer.
    let err = server
        .evaluate_response(JAVA_RESPONSE.as_bytes())
        .unwrap_err();
    assert_eq!(err.message, "DIGEST-MD5: Server at illegal state");
}

/// The messages are the JDK 17 server's, checked by feeding it the same responses.
#[test]
fn bad_responses_fail_as_java_does() {
    let v = "DIGEST-MD5: digest response format violation. ";
    fails_with("", &format!("{v}Missing username."));
    fails_with("garbage", &format!("{v}Missing username."));
    fails_with(
        &JAVA_RESPONSE.replace("response=7b", "response=00"),
        &format!("{v}Mismatched response."),
    );
    fails_with(
        &JAVA_RESPONSE.replace(JAVA_NONCE, "wrong"),
        &format!("{v}Mismatched nonce."),
    );
    fails_with(
        &JAVA_RESPONSE.replace("zookeeper/zk-sasl-md5", "zookeeper/other"),
        &format!("{v}Mismatched URI: zookeeper/other; expecting: zookeeper/zk-sasl-md5"),
    );
    fails_with(
        &JAVA_RESPONSE.replace("realm=\"zk-sasl-md5\",", ""),
        &format!("{v}Nonexistent realm: "),
    );
    fails_with(
        &JAVA_RESPONSE.replace(",cnonce=\"eLvL0Bz1WjBvOthAe2IrqRziyc9Brt9uK4+p1oim\"", ""),
        &format!("{v}Missing cnonce."),
    );
    fails_with(
        &JAVA_RESPONSE.replace("qop=auth", "qop=auth-conf"),
        "DIGEST-MD5: server does not support  qop: auth-conf",
    );
    fails_with(
        "username=\"bob\",username=\"bob\"",
        "DIGEST-MD5: peer sent more than one username directive: bob",
    );
    // The right digest for a user the server does not know.
    fails_with(
        &JAVA_RESPONSE.replace("\"bob\"", "\"eve\""),
        "DIGEST-MD5: cannot acquire password for eve in realm : zk-sasl-md5",
    );
    // Truncated anywhere before its optional last directive (qop, default auth), the
    // response fails and nothing panics.
    let qop_at = JAVA_RESPONSE.find(",qop=").unwrap();
    for cut in 0..qop_at {
        let mut server = zk_server(JAVA_NONCE);
        server.evaluate_response(b"").unwrap();
        assert!(
            server
                .evaluate_response(&JAVA_RESPONSE.as_bytes()[..cut])
                .is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn oversized_token_is_refused_without_losing_the_exchange() {
    let mut server = zk_server(JAVA_NONCE);
    let err = server.evaluate_response(&[b'a'; 5000]).unwrap_err();
    assert_eq!(
        err.message,
        "DIGEST-MD5: Invalid digest response length. Got:  5000 Expected < 4096"
    );
    server.evaluate_response(b"").unwrap();
    assert!(server.evaluate_response(&[0u8; 4097]).is_err());
    assert_eq!(
        text(&server.evaluate_response(JAVA_RESPONSE.as_bytes()).unwrap()),
        JAVA_RSPAUTH
    );
}

#[test]
fn replayed_response_meets_a_fresh_nonce() {
    let mut server = DigestMd5Server::new(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        users(&[("bob", "secret")]),
        crate::sasl::random_bytes(),
    );
    server.evaluate_response(b"").unwrap();
    let err = server
        .evaluate_response(JAVA_RESPONSE.as_bytes())
        .unwrap_err();
    assert_eq!(
        err.message,
        "DIGEST-MD5: digest response format violation. Mismatched nonce."
    );
}

#[test]
fn client_refuses_a_wrong_rspauth_and_a_bad_challenge() {
    let mut client = DigestMd5Client::new(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        "bob",
        "secret",
        None,
        [7; RAW_NONCE_SIZE],
    );
    client
        .evaluate_challenge(JAVA_CHALLENGE.as_bytes())
        .unwrap();
    assert!(client
        .evaluate_challenge(b"rspauth=00000000000000000000000000000000")
        .is_err());
    assert!(!client.is_complete());
    let mut client = DigestMd5Client::new(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        "bob",
        "secret",
        None,
        [7; RAW_NONCE_SIZE],
    );
    assert!(client
        .evaluate_challenge(b"realm=\"x\",algorithm=md5-sess")
        .is_err());
}

#[test]
fn directives_parse_quotes_escapes_and_spaces() {
    let d = parse_directives(b" a=1 , B=\"x\\\"y,z\",,c=\"\" ,noval, d = tok ");
    let pairs: Vec<(&str, &str)> = d
        .iter()
        .map(|d| (d.name.as_str(), text(&d.value)))
        .collect();
    assert_eq!(
        pairs,
        vec![("a", "1"), ("b", "x\"y,z"), ("c", ""), ("d", "tok")]
    );
    assert!(parse_directives(b"a=\"unterminated").len() == 1);
}

#[test]
fn base64_matches_java_nonce_shape() {
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
    assert_eq!(base64(&[0xff; RAW_NONCE_SIZE]).len(), 40);
}

/// JDK client against JDK server with a non-ASCII user `sé` / `pä`: the wire carries UTF-8,
/// the digest hashes ISO 8859-1 (every character fits), even under `charset=utf-8`.
#[test]
fn java_transcript_latin1_user() {
    let nonce = "RcnlkRZe6Tzp86WIRyUsRpFtokC/lbt4AmN9/zyQ";
    let response = "charset=utf-8,username=\"sé\",realm=\"zk-sasl-md5\",nonce=\"RcnlkRZe6Tzp86WIRyUsRpFtokC/lbt4AmN9/zyQ\",nc=00000001,cnonce=\"rjq7rOHh5Vwkew5XPGfDxOJJgvPmoc7PnHlnmMVU\",digest-uri=\"zookeeper/zk-sasl-md5\",maxbuf=65536,response=1f23d7f42f5310b45df87510d98658cd,qop=auth";
    let mut server = DigestMd5Server::with_nonce(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        users(&[("sé", "pä")]),
        nonce.to_string(),
    );
    server.evaluate_response(b"").unwrap();
    assert_eq!(
        text(&server.evaluate_response(response.as_bytes()).unwrap()),
        "rspauth=ee801dae1c553a0c1b2f09fa44721970"
    );
    assert_eq!(server.authorization_id(), Some("sé"));
    let mut client = DigestMd5Client::with_cnonce(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        "sé",
        "pä",
        None,
        "rjq7rOHh5Vwkew5XPGfDxOJJgvPmoc7PnHlnmMVU".to_string(),
    );
    let challenge =
        format!("realm=\"zk-sasl-md5\",nonce=\"{nonce}\",charset=utf-8,algorithm=md5-sess");
    assert_eq!(
        text(&client.evaluate_challenge(challenge.as_bytes()).unwrap()),
        response
    );
}

/// Further answers of the JDK 17 server, found by feeding it computed responses: it digests
/// with its own nonce count 00000001 whatever `nc` says, wants `response`, and lets a bad
/// `maxbuf` escape as a NumberFormatException.
#[test]
fn more_java_answers() {
    let v = "DIGEST-MD5: digest response format violation. ";
    fails_with(
        &JAVA_RESPONSE.replace(",response=7bcf6a3edbdf2008c9bdab9da7f510bb", ""),
        "DIGEST-MD5: digest response format  violation. Missing response.",
    );
    fails_with(
        &JAVA_RESPONSE.replace(",digest-uri=\"zookeeper/zk-sasl-md5\"", ""),
        &format!("{v}Mismatched URI: null; expecting: zookeeper/zk-sasl-md5"),
    );
    fails_with(
        &JAVA_RESPONSE.replace("charset=utf-8", "charset=latin1"),
        &format!("{v}Incompatible charset value: latin1"),
    );
    let mut server = zk_server(JAVA_NONCE);
    server.evaluate_response(b"").unwrap();
    let err = server
        .evaluate_response(
            JAVA_RESPONSE
                .replace("maxbuf=65536", "maxbuf=abc")
                .as_bytes(),
        )
        .unwrap_err();
    assert!(err.runtime);
    assert_eq!(
        err.to_string(),
        "java.lang.NumberFormatException: For input string: \"abc\""
    );
    // Accepted as Java accepts them: no nc, another nc (the digest counts 1 anyway), an
    // unknown directive.
    for ok in [
        JAVA_RESPONSE.replace("nc=00000001,", ""),
        JAVA_RESPONSE.replace("nc=00000001,", "nc=zz,"),
        JAVA_RESPONSE.replace("qop=auth", "qop=auth,foo=bar"),
    ] {
        let mut server = zk_server(JAVA_NONCE);
        server.evaluate_response(b"").unwrap();
        assert!(server.evaluate_response(ok.as_bytes()).is_ok(), "{ok}");
    }
}

/// Captured on the wire (a socket proxy) between zkCli.sh (ZooKeeper 3.8.0's
/// ZooKeeperSaslClient, JAAS Client section bob / bobsecret) and the Java 3.8.0 server: the
/// client sends an empty first token, and its principal as `authzid`.
#[test]
fn zkcli_wire_transcript_against_our_server_and_client() {
    let nonce = "bA70LPXHxFHSwzUBOl+AkQI9z67Fvb0vSTE8WjjU";
    let challenge = "realm=\"zk-sasl-md5\",nonce=\"bA70LPXHxFHSwzUBOl+AkQI9z67Fvb0vSTE8WjjU\",charset=utf-8,algorithm=md5-sess";
    let response = "charset=utf-8,username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"bA70LPXHxFHSwzUBOl+AkQI9z67Fvb0vSTE8WjjU\",nc=00000001,cnonce=\"23Uv+yP1/iDImmao2WX5o5Pfb8G/WFAuwRw8IR2X\",digest-uri=\"zookeeper/zk-sasl-md5\",maxbuf=65536,response=86c1ce0388cf8c51e43eef7a15ec9518,qop=auth,authzid=\"bob\"";
    let rspauth = "rspauth=98f6d2be8653599be6cecee6ad4d56ad";
    let mut server = DigestMd5Server::with_nonce(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        users(&[("bob", "bobsecret")]),
        nonce.to_string(),
    );
    assert_eq!(text(&server.evaluate_response(b"").unwrap()), challenge);
    assert_eq!(
        text(&server.evaluate_response(response.as_bytes()).unwrap()),
        rspauth
    );
    assert_eq!(server.authorization_id(), Some("bob"));
    let mut client = DigestMd5Client::with_cnonce(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        "bob",
        "bobsecret",
        Some("bob"),
        "23Uv+yP1/iDImmao2WX5o5Pfb8G/WFAuwRw8IR2X".to_string(),
    );
    assert_eq!(
        text(&client.evaluate_challenge(challenge.as_bytes()).unwrap()),
        response
    );
    client.evaluate_challenge(rspauth.as_bytes()).unwrap();
    assert!(client.is_complete());
}

/// Arbitrary bytes at either step never panic, and never complete the exchange.
#[test]
fn random_tokens_never_panic() {
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let alphabet = b"=,\"\\ \tabcnoqrsuz0189-/\xff\x00";
    for _ in 0..2000 {
        let len = (next() % 300) as usize;
        let token: Vec<u8> = (0..len)
            .map(|_| alphabet[next() as usize % alphabet.len()])
            .collect();
        let mut server = zk_server(JAVA_NONCE);
        server.evaluate_response(&token).unwrap();
        assert!(server.evaluate_response(&token).is_err());
        assert!(!server.is_complete());
        let mut client = DigestMd5Client::new(
            CLIENT_PROTOCOL,
            CLIENT_SERVER_NAME,
            "bob",
            "x",
            None,
            [1; RAW_NONCE_SIZE],
        );
        let _ = client.evaluate_challenge(&token);
        let _ = client.evaluate_challenge(&token);
        assert!(!client.is_complete());
    }
}
