//! jute: the ZooKeeper wire records, generated at build time from our IDL in `jute/schema/`
//! by `jute-codegen`, their binary codec, the length-prefixed frame codec, and the few
//! bodies that are not plain records (multi, the handshake's optional readOnly byte), and the
//! typed wire vocabulary: [`OpCode`] (`ops`), [`Zxid`] and [`SessionId`] (`ids`).

pub mod codec;
pub mod connect;
pub mod frame;
pub mod fuzz_support;
pub mod ids;
pub mod multi;
pub mod ops;

include!(concat!(env!("OUT_DIR"), "/records.rs"));

pub use codec::{Decode, DecodeError, Encode, Record};
pub use ids::{SessionId, Zxid};
pub use ops::OpCode;
