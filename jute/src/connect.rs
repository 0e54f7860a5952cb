//! The session handshake bodies. Since 3.3 both ConnectRequest and ConnectResponse may carry
//! one trailing `readOnly` boolean; older clients omit it, and the server then omits it from
//! its response too (Java's `isOldClient`).

use crate::codec::{Decode, DecodeError, Encode};
use crate::proto::{ConnectRequest, ConnectResponse};
use bytes::{Buf, Bytes, BytesMut};

/// A decoded ConnectRequest with its optional trailing byte.
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    pub request: ConnectRequest,
    /// `None` when the client sent no readOnly byte (an "old client").
    pub read_only: Option<bool>,
}

impl Connect {
    /// Decode a handshake frame. Like Java, bytes after the readOnly byte are ignored.
    pub fn decode(mut frame: Bytes) -> Result<Connect, DecodeError> {
        let request = ConnectRequest::decode(&mut frame)?;
        let read_only = if frame.has_remaining() {
            Some(bool::decode(&mut frame)?)
        } else {
            None
        };
        Ok(Connect { request, read_only })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        self.request.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }
}

/// Encode a ConnectResponse, followed by the readOnly byte unless the client was an old one.
pub fn encode_connect_response(
    resp: &ConnectResponse,
    read_only: Option<bool>,
    out: &mut BytesMut,
) {
    resp.encode(out);
    if let Some(ro) = read_only {
        ro.encode(out);
    }
}

/// Decode a ConnectResponse and its optional readOnly byte (client side, tests).
pub fn decode_connect_response(
    mut frame: Bytes,
) -> Result<(ConnectResponse, Option<bool>), DecodeError> {
    let resp = ConnectResponse::decode(&mut frame)?;
    let ro = if frame.has_remaining() {
        Some(bool::decode(&mut frame)?)
    } else {
        None
    };
    Ok((resp, ro))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 5,
            time_out: 30000,
            session_id: 0,
            passwd: Some(Bytes::from_static(&[0; 16])),
        }
    }

    #[test]
    fn old_and_new_clients() {
        let mut old = BytesMut::new();
        req().encode(&mut old);
        assert_eq!(old.len(), 44);
        let c = Connect::decode(old.clone().freeze()).unwrap();
        assert_eq!(c.read_only, None);

        let new = Connect {
            request: req(),
            read_only: Some(true),
        };
        let mut b = BytesMut::new();
        new.encode(&mut b);
        assert_eq!(b.len(), 45);
        assert_eq!(Connect::decode(b.freeze()).unwrap(), new);
    }

    #[test]
    fn response_lengths() {
        let r = ConnectResponse {
            protocol_version: 0,
            time_out: 4000,
            session_id: 1,
            passwd: Some(Bytes::from_static(&[1; 16])),
        };
        let mut b = BytesMut::new();
        encode_connect_response(&r, None, &mut b);
        assert_eq!(b.len(), 36);
        let mut b = BytesMut::new();
        encode_connect_response(&r, Some(false), &mut b);
        assert_eq!(b.len(), 37);
        assert_eq!(
            decode_connect_response(b.freeze()).unwrap(),
            (r, Some(false))
        );
    }

    #[test]
    fn truncated_handshake_is_an_error() {
        let mut b = BytesMut::new();
        req().encode(&mut b);
        for cut in 0..44 {
            assert!(Connect::decode(b.clone().freeze().slice(..cut)).is_err());
        }
    }
}
