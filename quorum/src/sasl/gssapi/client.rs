//! GSSAPI (Kerberos V5, RFC 4752), the client side, as the JDK's `GssKrb5Client` speaks it
//! when a ZooKeeper quorum learner authenticates to a quorum server.
//!
//! ```text
//! learner (this)                              server
//!   init_sec_context → AP-REQ ──────────────▶
//!                ◀──────────────────────────── AP-REP (mutual authentication is requested)
//!   init_sec_context(AP-REP) → (empty) ─────▶
//!                ◀──────────────────────────── wrap([qop mask, maxbuf])
//!   wrap([0x01 auth, 0,0,0, authzid]) ──────▶  (complete once sent)
//! ```
//!
//! The learner chooses `auth` (no security layer), the only layer a ZooKeeper server offers,
//! so its receive buffer is 0 (RFC 4752 §3.1); the authorization id it asks for is its own
//! principal, as ZooKeeper's `SecurityUtils.createSaslClient` passes it.

use super::{Step, NO_PROTECTION};
use crate::sasl::SaslError;

/// What the SASL layer needs of a GSS-API initiator context. Errors are the library's text.
pub trait InitiatorContext: Send {
    /// One `gss_init_sec_context` step: empty `token` on the first call.
    fn init(&mut self, token: &[u8]) -> Result<Step, String>;
    fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String>;
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    /// Context tokens flow.
    Context,
    /// Established: the server's wrapped offer comes next.
    AwaitOffer,
    Complete,
    Failed,
}

/// The GSSAPI client mechanism over one initiator context.
pub struct GssapiClient<C: InitiatorContext> {
    context: C,
    authzid: String,
    stage: Stage,
}

impl<C: InitiatorContext> GssapiClient<C> {
    /// `authzid`: the identity asked for in the final message (the learner's principal).
    pub fn new(context: C, authzid: &str) -> Self {
        GssapiClient {
            context,
            authzid: authzid.to_string(),
            stage: Stage::Start,
        }
    }

    /// The first token (the AP-REQ).
    pub fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        if self.stage != Stage::Start {
            self.stage = Stage::Failed;
            return Err(SaslError::new(
                "GSS initiate failed: exchange already started",
            ));
        }
        self.stage = Stage::Context;
        let r = self.context_step(&[]);
        if r.is_err() {
            self.stage = Stage::Failed;
        }
        r
    }

    fn context_step(&mut self, token: &[u8]) -> Result<Vec<u8>, SaslError> {
        let step = self.context.init(token).map_err(|e| {
            SaslError::new(format!("GSS initiate failed [Caused by GSSException: {e}]"))
        })?;
        if step.established {
            self.stage = Stage::AwaitOffer;
        }
        Ok(step.token)
    }

    /// The response to the server's next token.
    pub fn evaluate_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        let r = self.step(challenge);
        if r.is_err() {
            self.stage = Stage::Failed;
        }
        r
    }

    fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        match self.stage {
            Stage::Start => Err(SaslError::new("GSS initiate failed: no initial response")),
            Stage::Complete | Stage::Failed => {
                Err(SaslError::new("SASL authentication already complete"))
            }
            Stage::Context => self.context_step(challenge),
            Stage::AwaitOffer => {
                let offer = self.context.unwrap(challenge).map_err(|e| {
                    SaslError::new(format!(
                        "Final handshake failed [Caused by GSSException: {e}]"
                    ))
                })?;
                if offer.len() != 4 {
                    return Err(SaslError::new(
                        "Invalid message from server: not 4 bytes of security layer offer",
                    ));
                }
                if offer[0] & NO_PROTECTION == 0 {
                    return Err(SaslError::new(
                        "No common protection layer between client and server",
                    ));
                }
                let mut choice = vec![NO_PROTECTION, 0, 0, 0];
                choice.extend_from_slice(self.authzid.as_bytes());
                let token = self.context.wrap(&choice).map_err(|e| {
                    SaslError::new(format!(
                        "Final handshake failed [Caused by GSSException: {e}]"
                    ))
                })?;
                self.stage = Stage::Complete;
                Ok(token)
            }
        }
    }

    pub fn is_complete(&self) -> bool {
        self.stage == Stage::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode_choice, encode_offer, AcceptorContext, GssapiServer};
    use super::*;
    use crate::sasl::ServerMechanism;

    /// A fake Kerberos pair: the initiator's first token is "AP-REQ:<who>", the acceptor
    /// answers "AP-REP"; wrap prefixes "W".
    struct FakeInit {
        sent: bool,
        mutual: bool,
    }
    struct FakeAccept {
        who: Option<String>,
        mutual: bool,
    }

    fn wrap(m: &[u8]) -> Vec<u8> {
        [b"W".as_slice(), m].concat()
    }
    fn unwrap(t: &[u8]) -> Result<Vec<u8>, String> {
        match t.split_first() {
            Some((b'W', rest)) => Ok(rest.to_vec()),
            _ => Err("Defective token detected".into()),
        }
    }

    impl InitiatorContext for FakeInit {
        fn init(&mut self, token: &[u8]) -> Result<Step, String> {
            if !self.sent {
                self.sent = true;
                return Ok(Step {
                    token: b"AP-REQ:learner/h@R".to_vec(),
                    established: !self.mutual,
                });
            }
            if token != b"AP-REP" {
                return Err("bad AP-REP".into());
            }
            Ok(Step {
                token: Vec::new(),
                established: true,
            })
        }
        fn wrap(&mut self, m: &[u8]) -> Result<Vec<u8>, String> {
            Ok(wrap(m))
        }
        fn unwrap(&mut self, t: &[u8]) -> Result<Vec<u8>, String> {
            unwrap(t)
        }
    }

    impl AcceptorContext for FakeAccept {
        fn accept(&mut self, token: &[u8]) -> Result<Step, String> {
            let who = token.strip_prefix(b"AP-REQ:").ok_or("not an AP-REQ")?;
            self.who = Some(String::from_utf8_lossy(who).into_owned());
            Ok(Step {
                token: if self.mutual {
                    b"AP-REP".to_vec()
                } else {
                    Vec::new()
                },
                established: true,
            })
        }
        fn source_name(&self) -> Result<String, String> {
            self.who.clone().ok_or_else(|| "no name".into())
        }
        fn wrap(&mut self, m: &[u8]) -> Result<Vec<u8>, String> {
            Ok(wrap(m))
        }
        fn unwrap(&mut self, t: &[u8]) -> Result<Vec<u8>, String> {
            unwrap(t)
        }
    }

    /// Runs the exchange as the quorum packets carry it; returns the server's ids.
    fn exchange(mutual: bool, authzid: &str) -> Result<(String, String), SaslError> {
        let mut c = GssapiClient::new(
            FakeInit {
                sent: false,
                mutual,
            },
            authzid,
        );
        let mut s = GssapiServer::new(FakeAccept { who: None, mutual });
        let mut token = c.initial_response()?;
        for _ in 0..5 {
            let challenge = s.evaluate_response(&token)?;
            if s.is_complete() {
                break;
            }
            token = c.evaluate_challenge(&challenge)?;
        }
        assert!(c.is_complete() && s.is_complete());
        Ok((
            s.authentication_id().unwrap().to_string(),
            s.authorization_id().unwrap().to_string(),
        ))
    }

    #[test]
    fn against_our_server_with_and_without_mutual_authentication() {
        for mutual in [true, false] {
            let ids = exchange(mutual, "learner/h@R").unwrap();
            assert_eq!(ids, ("learner/h@R".into(), "learner/h@R".into()));
        }
        // The server hands the asked-for id up; authorizing it is the caller's part.
        let ids = exchange(true, "other/h@R").unwrap();
        assert_eq!(ids.1, "other/h@R");
    }

    #[test]
    fn final_message_chooses_auth_with_no_buffer() {
        let mut c = GssapiClient::new(
            FakeInit {
                sent: false,
                mutual: false,
            },
            "me@R",
        );
        c.initial_response().unwrap();
        let t = c
            .evaluate_challenge(&wrap(&encode_offer(0x07, 65536)))
            .unwrap();
        let choice = decode_choice(&unwrap(&t).unwrap()).unwrap();
        assert_eq!((choice.qop, choice.max_buffer), (NO_PROTECTION, 0));
        assert_eq!(choice.authzid, b"me@R");
        assert!(c.is_complete());
        assert!(c.evaluate_challenge(b"").is_err());
    }

    #[test]
    fn bad_offers_fail_and_stay_failed() {
        for offer in [
            wrap(&encode_offer(0x04, 65536)), // privacy only
            wrap(&[1, 0]),                    // short
            b"not wrapped".to_vec(),
        ] {
            let mut c = GssapiClient::new(
                FakeInit {
                    sent: false,
                    mutual: false,
                },
                "me@R",
            );
            c.initial_response().unwrap();
            assert!(c.evaluate_challenge(&offer).is_err());
            assert!(!c.is_complete());
            assert!(c.evaluate_challenge(&wrap(&encode_offer(1, 0))).is_err());
        }
        let mut c = GssapiClient::new(
            FakeInit {
                sent: false,
                mutual: true,
            },
            "me@R",
        );
        c.initial_response().unwrap();
        assert!(c.evaluate_challenge(b"forged AP-REP").is_err());
    }
}
