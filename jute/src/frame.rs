//! Length-prefixed frames (a 4-byte big-endian length, then the payload) for tokio-util,
//! with Java's `jute.maxbuffer` limit: a negative or oversized length is an error, and the
//! connection that sent it is to be closed.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt;
use tokio_util::codec::{Decoder, Encoder};

/// Java's default `jute.maxbuffer`: 0xfffff bytes.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

#[derive(Debug)]
pub enum FrameError {
    /// The length prefix was negative or above the limit (Java: "Len error").
    BadLength {
        len: i32,
        max: usize,
    },
    Io(std::io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadLength { len, max } => {
                write!(f, "Len error {len} (jute.maxbuffer is {max})")
            }
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// Splits a byte stream into frames of at most `max` bytes.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    pub max: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec {
            max: DEFAULT_MAX_BUFFER,
        }
    }
}

impl FrameCodec {
    pub fn new(max: usize) -> Self {
        FrameCodec { max }
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if len < 0 || len as usize > self.max {
            return Err(FrameError::BadLength { len, max: self.max });
        }
        let len = len as usize;
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(len).freeze()))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(4 + item.len());
        dst.put_i32(item.len() as i32);
        dst.put_slice(&item);
        Ok(())
    }
}

/// Append one frame to `out`, letting `body` write the payload in place (no copy).
pub fn write_frame(out: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = out.len();
    out.put_i32(0);
    body(out);
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_and_waits_for_more() {
        let mut c = FrameCodec::new(10);
        let mut b = BytesMut::from(&[0, 0, 0, 2, 7, 8, 0, 0, 0, 3, 1][..]);
        assert_eq!(
            c.decode(&mut b).unwrap().unwrap(),
            Bytes::from_static(&[7, 8])
        );
        assert!(c.decode(&mut b).unwrap().is_none());
        b.extend_from_slice(&[2, 3]);
        assert_eq!(
            c.decode(&mut b).unwrap().unwrap(),
            Bytes::from_static(&[1, 2, 3])
        );
        assert!(b.is_empty());
    }

    #[test]
    fn rejects_negative_and_oversized() {
        let mut c = FrameCodec::new(10);
        let mut b = BytesMut::from(&[0, 0, 0, 11][..]);
        assert!(matches!(
            c.decode(&mut b),
            Err(FrameError::BadLength { len: 11, .. })
        ));
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            c.decode(&mut b),
            Err(FrameError::BadLength { len: -1, .. })
        ));
        let mut b = BytesMut::from(&[0, 0, 0, 10][..]);
        assert!(c.decode(&mut b).unwrap().is_none());
    }

    #[test]
    fn write_frame_patches_length() {
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| b.put_slice(b"abc"));
        let mut c = FrameCodec::default();
        let mut e = BytesMut::new();
        c.encode(Bytes::from_static(b"abc"), &mut e).unwrap();
        assert_eq!(out, e);
    }
}
