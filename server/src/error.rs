//! Error codes of the client protocol (Java's `KeeperException.Code`), as sent in
//! `ReplyHeader.err` and multi results.

pub type Code = i32;

pub const OK: Code = 0;
pub const SYSTEM_ERROR: Code = -1;
pub const RUNTIME_INCONSISTENCY: Code = -2;
pub const DATA_INCONSISTENCY: Code = -3;
pub const CONNECTION_LOSS: Code = -4;
pub const MARSHALLING_ERROR: Code = -5;
pub const UNIMPLEMENTED: Code = -6;
pub const OPERATION_TIMEOUT: Code = -7;
pub const BAD_ARGUMENTS: Code = -8;
pub const UNKNOWN_SESSION: Code = -12;
pub const NEW_CONFIG_NO_QUORUM: Code = -13;
pub const RECONFIG_IN_PROGRESS: Code = -14;
pub const API_ERROR: Code = -100;
pub const NO_NODE: Code = -101;
pub const NO_AUTH: Code = -102;
pub const BAD_VERSION: Code = -103;
pub const NO_CHILDREN_FOR_EPHEMERALS: Code = -108;
pub const NODE_EXISTS: Code = -110;
pub const NOT_EMPTY: Code = -111;
pub const SESSION_EXPIRED: Code = -112;
pub const INVALID_CALLBACK: Code = -113;
pub const INVALID_ACL: Code = -114;
pub const AUTH_FAILED: Code = -115;
pub const SESSION_MOVED: Code = -118;
pub const NOT_READ_ONLY: Code = -119;
pub const EPHEMERAL_ON_LOCAL_SESSION: Code = -120;
pub const NO_WATCHER: Code = -121;
pub const REQUEST_TIMEOUT: Code = -122;
pub const RECONFIG_DISABLED: Code = -123;
pub const SESSION_CLOSED_REQUIRE_SASL: Code = -124;
pub const QUOTA_EXCEEDED: Code = -125;
pub const THROTTLED_OP: Code = -127;
