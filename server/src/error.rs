//! Error codes of the client protocol (Java's `KeeperException.Code`), as sent in
//! `ReplyHeader.err`, `ErrorTxn.err` and multi results.
//!
//! [`ErrorCode`] is the typed code that the pure modules return; wire structs keep the `i32`.
//! The `i32` constants below are the same numbers for code that still builds wire fields
//! directly; they are derived from the enum, so the list lives in one place.

use std::fmt;

/// An error code of the client protocol (Java's `KeeperException.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    DataInconsistency = -3,
    ConnectionLoss = -4,
    MarshallingError = -5,
    Unimplemented = -6,
    OperationTimeout = -7,
    BadArguments = -8,
    UnknownSession = -12,
    NewConfigNoQuorum = -13,
    ReconfigInProgress = -14,
    ApiError = -100,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidCallback = -113,
    InvalidAcl = -114,
    AuthFailed = -115,
    SessionMoved = -118,
    NotReadOnly = -119,
    EphemeralOnLocalSession = -120,
    NoWatcher = -121,
    RequestTimeout = -122,
    ReconfigDisabled = -123,
    SessionClosedRequireSasl = -124,
    QuotaExceeded = -125,
    ThrottledOp = -127,
}

/// A number that is no [`ErrorCode`]; it carries the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownErrorCode(pub i32);

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown error code {}", self.0)
    }
}

impl std::error::Error for UnknownErrorCode {}

impl ErrorCode {
    /// Every code, in the order of `KeeperException.Code`.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::Ok,
        ErrorCode::SystemError,
        ErrorCode::RuntimeInconsistency,
        ErrorCode::DataInconsistency,
        ErrorCode::ConnectionLoss,
        ErrorCode::MarshallingError,
        ErrorCode::Unimplemented,
        ErrorCode::OperationTimeout,
        ErrorCode::BadArguments,
        ErrorCode::UnknownSession,
        ErrorCode::NewConfigNoQuorum,
        ErrorCode::ReconfigInProgress,
        ErrorCode::ApiError,
        ErrorCode::NoNode,
        ErrorCode::NoAuth,
        ErrorCode::BadVersion,
        ErrorCode::NoChildrenForEphemerals,
        ErrorCode::NodeExists,
        ErrorCode::NotEmpty,
        ErrorCode::SessionExpired,
        ErrorCode::InvalidCallback,
        ErrorCode::InvalidAcl,
        ErrorCode::AuthFailed,
        ErrorCode::SessionMoved,
        ErrorCode::NotReadOnly,
        ErrorCode::EphemeralOnLocalSession,
        ErrorCode::NoWatcher,
        ErrorCode::RequestTimeout,
        ErrorCode::ReconfigDisabled,
        ErrorCode::SessionClosedRequireSasl,
        ErrorCode::QuotaExceeded,
        ErrorCode::ThrottledOp,
    ];

    /// The wire number.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The name of Java's enum constant (`KeeperException.Code.toString()`): `"NONODE"`,
    /// `"SESSIONEXPIRED"`, ...
    pub const fn java_name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "OK",
            ErrorCode::SystemError => "SYSTEMERROR",
            ErrorCode::RuntimeInconsistency => "RUNTIMEINCONSISTENCY",
            ErrorCode::DataInconsistency => "DATAINCONSISTENCY",
            ErrorCode::ConnectionLoss => "CONNECTIONLOSS",
            ErrorCode::MarshallingError => "MARSHALLINGERROR",
            ErrorCode::Unimplemented => "UNIMPLEMENTED",
            ErrorCode::OperationTimeout => "OPERATIONTIMEOUT",
            ErrorCode::BadArguments => "BADARGUMENTS",
            ErrorCode::UnknownSession => "UNKNOWNSESSION",
            ErrorCode::NewConfigNoQuorum => "NEWCONFIGNOQUORUM",
            ErrorCode::ReconfigInProgress => "RECONFIGINPROGRESS",
            ErrorCode::ApiError => "APIERROR",
            ErrorCode::NoNode => "NONODE",
            ErrorCode::NoAuth => "NOAUTH",
            ErrorCode::BadVersion => "BADVERSION",
            ErrorCode::NoChildrenForEphemerals => "NOCHILDRENFOREPHEMERALS",
            ErrorCode::NodeExists => "NODEEXISTS",
            ErrorCode::NotEmpty => "NOTEMPTY",
            ErrorCode::SessionExpired => "SESSIONEXPIRED",
            ErrorCode::InvalidCallback => "INVALIDCALLBACK",
            ErrorCode::InvalidAcl => "INVALIDACL",
            ErrorCode::AuthFailed => "AUTHFAILED",
            ErrorCode::SessionMoved => "SESSIONMOVED",
            ErrorCode::NotReadOnly => "NOTREADONLY",
            ErrorCode::EphemeralOnLocalSession => "EPHEMERALONLOCALSESSION",
            ErrorCode::NoWatcher => "NOWATCHER",
            ErrorCode::RequestTimeout => "REQUESTTIMEOUT",
            ErrorCode::ReconfigDisabled => "RECONFIGDISABLED",
            ErrorCode::SessionClosedRequireSasl => "SESSIONCLOSEDREQUIRESASLAUTH",
            ErrorCode::QuotaExceeded => "QUOTAEXCEEDED",
            ErrorCode::ThrottledOp => "THROTTLEDOP",
        }
    }
}

impl TryFrom<i32> for ErrorCode {
    type Error = UnknownErrorCode;

    fn try_from(code: i32) -> Result<ErrorCode, UnknownErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or(UnknownErrorCode(code))
    }
}

impl From<ErrorCode> for i32 {
    fn from(c: ErrorCode) -> i32 {
        c as i32
    }
}

/// Java's enum constant name (`NONODE`).
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.java_name())
    }
}

/// A wire error code (`ReplyHeader.err`, `ErrorTxn.err`).
pub type Code = i32;

pub const OK: Code = ErrorCode::Ok.code();
pub const SYSTEM_ERROR: Code = ErrorCode::SystemError.code();
pub const RUNTIME_INCONSISTENCY: Code = ErrorCode::RuntimeInconsistency.code();
pub const DATA_INCONSISTENCY: Code = ErrorCode::DataInconsistency.code();
pub const CONNECTION_LOSS: Code = ErrorCode::ConnectionLoss.code();
pub const MARSHALLING_ERROR: Code = ErrorCode::MarshallingError.code();
pub const UNIMPLEMENTED: Code = ErrorCode::Unimplemented.code();
pub const OPERATION_TIMEOUT: Code = ErrorCode::OperationTimeout.code();
pub const BAD_ARGUMENTS: Code = ErrorCode::BadArguments.code();
pub const UNKNOWN_SESSION: Code = ErrorCode::UnknownSession.code();
pub const NEW_CONFIG_NO_QUORUM: Code = ErrorCode::NewConfigNoQuorum.code();
pub const RECONFIG_IN_PROGRESS: Code = ErrorCode::ReconfigInProgress.code();
pub const API_ERROR: Code = ErrorCode::ApiError.code();
pub const NO_NODE: Code = ErrorCode::NoNode.code();
pub const NO_AUTH: Code = ErrorCode::NoAuth.code();
pub const BAD_VERSION: Code = ErrorCode::BadVersion.code();
pub const NO_CHILDREN_FOR_EPHEMERALS: Code = ErrorCode::NoChildrenForEphemerals.code();
pub const NODE_EXISTS: Code = ErrorCode::NodeExists.code();
pub const NOT_EMPTY: Code = ErrorCode::NotEmpty.code();
pub const SESSION_EXPIRED: Code = ErrorCode::SessionExpired.code();
pub const INVALID_CALLBACK: Code = ErrorCode::InvalidCallback.code();
pub const INVALID_ACL: Code = ErrorCode::InvalidAcl.code();
pub const AUTH_FAILED: Code = ErrorCode::AuthFailed.code();
pub const SESSION_MOVED: Code = ErrorCode::SessionMoved.code();
pub const NOT_READ_ONLY: Code = ErrorCode::NotReadOnly.code();
pub const EPHEMERAL_ON_LOCAL_SESSION: Code = ErrorCode::EphemeralOnLocalSession.code();
pub const NO_WATCHER: Code = ErrorCode::NoWatcher.code();
pub const REQUEST_TIMEOUT: Code = ErrorCode::RequestTimeout.code();
pub const RECONFIG_DISABLED: Code = ErrorCode::ReconfigDisabled.code();
pub const SESSION_CLOSED_REQUIRE_SASL: Code = ErrorCode::SessionClosedRequireSasl.code();
pub const QUOTA_EXCEEDED: Code = ErrorCode::QuotaExceeded.code();
pub const THROTTLED_OP: Code = ErrorCode::ThrottledOp.code();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_nothing_else_decodes() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(c.code()), Ok(c), "{c}");
        }
        let known = (-200..=200)
            .filter(|n| ErrorCode::try_from(*n).is_ok())
            .count();
        assert_eq!(known, ErrorCode::ALL.len());
        assert_eq!(ErrorCode::try_from(-126), Err(UnknownErrorCode(-126)));
    }

    #[test]
    fn java_numbers_and_names() {
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::SessionMoved.code(), -118);
        assert_eq!(ErrorCode::NoNode.to_string(), "NONODE");
        assert_eq!(
            ErrorCode::SessionClosedRequireSasl.to_string(),
            "SESSIONCLOSEDREQUIRESASLAUTH"
        );
    }
}
