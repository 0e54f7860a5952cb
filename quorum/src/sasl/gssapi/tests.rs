//! The RFC 4752 layer over a fake GSS context: framing of the security-layer messages and the
//! order of the exchange, including the tokens no client sends.

use super::*;

/// A fake acceptor: `accept` answers from a script; wrap prefixes "W", unwrap requires it.
struct Fake {
    script: Vec<Result<Step, String>>,
    wrapped: Vec<Vec<u8>>,
}

impl Fake {
    fn new(script: Vec<Result<Step, String>>) -> Self {
        Fake {
            script,
            wrapped: Vec::new(),
        }
    }
}

impl AcceptorContext for Fake {
    fn accept(&mut self, _token: &[u8]) -> Result<Step, String> {
        if self.script.is_empty() {
            return Err("no more steps".into());
        }
        self.script.remove(0)
    }
    fn source_name(&self) -> Result<String, String> {
        Ok("client@EXAMPLE.COM".into())
    }
    fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.wrapped.push(message.to_vec());
        let mut out = b"W".to_vec();
        out.extend_from_slice(message);
        Ok(out)
    }
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
        match token.split_first() {
            Some((b'W', rest)) => Ok(rest.to_vec()),
            _ => Err("Defective token detected".into()),
        }
    }
}

fn established(token: &[u8]) -> Result<Step, String> {
    Ok(Step {
        token: token.to_vec(),
        established: true,
    })
}

fn wrapped(msg: &[u8]) -> Vec<u8> {
    let mut out = b"W".to_vec();
    out.extend_from_slice(msg);
    out
}

#[test]
fn offer_is_auth_only_with_a_65536_buffer() {
    assert_eq!(
        encode_offer(NO_PROTECTION, MAX_RECEIVE_BUFFER),
        [1, 1, 0, 0]
    );
    assert_eq!(encode_offer(7, 0x0123_4567), [7, 0xff, 0xff, 0xff]);
}

#[test]
fn choice_framing() {
    assert_eq!(
        decode_choice(&[1, 0, 0x10, 0, b'b', b'o', b'b']),
        Some(Choice {
            qop: 1,
            max_buffer: 4096,
            authzid: b"bob".to_vec()
        })
    );
    assert_eq!(
        decode_choice(&[1, 0, 0, 0]).unwrap().authzid,
        Vec::<u8>::new()
    );
    assert_eq!(decode_choice(&[1, 0, 0]), None);
    assert_eq!(decode_choice(&[]), None);
}

#[test]
fn exchange_with_mutual_authentication() {
    let mut s = GssapiServer::new(Fake::new(vec![established(b"AP-REP")]));
    assert_eq!(s.evaluate_response(b"AP-REQ").unwrap(), b"AP-REP");
    assert!(!s.is_complete());
    assert_eq!(s.evaluate_response(b"").unwrap(), wrapped(&[1, 1, 0, 0]));
    assert_eq!(s.authorization_id(), None);
    let done = s.evaluate_response(&wrapped(&[1, 0, 0, 0])).unwrap();
    assert!(done.is_empty());
    assert!(s.is_complete());
    assert_eq!(s.authentication_id(), Some("client@EXAMPLE.COM"));
    assert_eq!(s.authorization_id(), Some("client@EXAMPLE.COM"));
    assert_eq!(s.name(), "GSSAPI");
}

#[test]
fn exchange_without_ap_rep_sends_the_offer_at_once() {
    let continue_step = Ok(Step {
        token: b"more".to_vec(),
        established: false,
    });
    let mut s = GssapiServer::new(Fake::new(vec![continue_step, established(b"")]));
    assert_eq!(s.evaluate_response(b"t1").unwrap(), b"more");
    assert_eq!(s.evaluate_response(b"t2").unwrap(), wrapped(&[1, 1, 0, 0]));
    let mut choice = vec![1, 1, 0, 0];
    choice.extend_from_slice(b"someone");
    s.evaluate_response(&wrapped(&choice)).unwrap();
    assert_eq!(s.authentication_id(), Some("client@EXAMPLE.COM"));
    assert_eq!(s.authorization_id(), Some("someone"));
}

#[test]
fn bad_context_token_fails_and_stays_failed() {
    let mut s = GssapiServer::new(Fake::new(vec![
        Err("Invalid token was supplied".into()),
        established(b""),
    ]));
    let e = s.evaluate_response(b"garbage").unwrap_err();
    assert!(e.message.starts_with("GSS initiate failed"), "{e}");
    assert!(!e.runtime);
    assert!(s.evaluate_response(b"again").is_err());
    assert!(!s.is_complete());
    assert_eq!(s.authentication_id(), None);
}

#[test]
fn non_empty_token_where_an_empty_one_belongs() {
    let mut s = GssapiServer::new(Fake::new(vec![established(b"AP-REP")]));
    s.evaluate_response(b"AP-REQ").unwrap();
    let e = s.evaluate_response(b"x").unwrap_err();
    assert_eq!(
        e.message,
        "Handshake expecting no response data from server"
    );
    assert!(s.evaluate_response(b"").is_err());
}

#[test]
fn choice_not_wrapped_short_or_asking_for_a_layer() {
    for (token, want) in [
        (b"Xjunk".to_vec(), "Final handshake failed"),
        (wrapped(&[1, 0, 0]), "Final handshake failed"),
        (wrapped(&[]), "Final handshake failed"),
        (
            wrapped(&[2, 0, 0, 0]),
            "Client selected unsupported protection: 2",
        ),
        (
            wrapped(&[4, 0, 0, 0]),
            "Client selected unsupported protection: 4",
        ),
        (
            wrapped(&[3, 0, 0, 0]),
            "Client selected unsupported protection: 3",
        ),
        (
            wrapped(&[0, 0, 0, 0]),
            "Client selected unsupported protection: 0",
        ),
        (wrapped(&[1, 0, 0, 0, 0xff, 0xfe]), "Final handshake failed"),
    ] {
        let mut s = GssapiServer::new(Fake::new(vec![established(b"")]));
        s.evaluate_response(b"AP-REQ").unwrap();
        let e = s.evaluate_response(&token).unwrap_err();
        assert!(e.message.starts_with(want), "{token:?}: {e}");
        assert!(!s.is_complete());
        assert_eq!(s.authorization_id(), None);
    }
}

#[test]
fn nothing_after_completion() {
    let mut s = GssapiServer::new(Fake::new(vec![established(b"")]));
    s.evaluate_response(b"AP-REQ").unwrap();
    s.evaluate_response(&wrapped(&[1, 0, 0, 0])).unwrap();
    let e = s.evaluate_response(b"more").unwrap_err();
    assert_eq!(e.message, "SASL authentication already complete");
    // A late bad token does not undo an authentication that completed.
    assert!(s.is_complete());
}

#[test]
fn login_options_as_the_jdk_reads_them() {
    let opts = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    };
    let ok = LoginOptions::from_options(opts(&[
        ("useKeyTab", "true"),
        ("keyTab", "/k/zk.keytab"),
        ("principal", "zookeeper/localhost@EXAMPLE.COM"),
        ("storeKey", "true"),
    ]))
    .unwrap();
    assert_eq!(ok.principal, "zookeeper/localhost@EXAMPLE.COM");
    assert_eq!(ok.keytab.as_deref(), Some("/k/zk.keytab"));
    let e = LoginOptions::from_options(opts(&[("principal", "zookeeper/localhost")])).unwrap_err();
    assert_eq!(e.message, "Unable to obtain password from user");
    assert!(LoginOptions::from_options(opts(&[("useKeyTab", "true")])).is_err());
}

/// The real library (on every Debian machine): a keytab that does not exist is a clean
/// error carrying the library's text, never a panic; so is a principal with a NUL.
#[test]
fn missing_keytab_is_a_login_error() {
    let options = LoginOptions {
        principal: "zookeeper/localhost@ZK-RS.INVALID".into(),
        keytab: Some("/nonexistent/zk-rs-test.keytab".into()),
    };
    let e = ServerLogin::new(&options).unwrap_err();
    assert!(e.message.starts_with("Kerberos login failed: "), "{e}");
    let nul = LoginOptions {
        principal: "zookeeper/localhost".into(),
        keytab: Some("/tmp/a\0b".into()),
    };
    assert!(ServerLogin::new(&nul).is_err());
}
