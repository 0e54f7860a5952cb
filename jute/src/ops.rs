//! Wire constants of the client protocol: op codes (Java's `ZooDefs.OpCode`), reserved xids,
//! permissions, create-mode flags and watch modes.
//!
//! [`OpCode`] is the typed op code: wire structs (`RequestHeader.type`, `TxnHeader.type`,
//! `MultiHeader.type`) keep the `i32`, and code converts with `OpCode::try_from` where it
//! decodes them. The `i32` constants below are the same numbers for building wire structs;
//! they are derived from the enum, so the list of op codes lives in one place.

use std::fmt;

/// An op code of the client protocol and of txn headers (Java's `ZooDefs.OpCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum OpCode {
    Notification = 0,
    Create = 1,
    Delete = 2,
    Exists = 3,
    GetData = 4,
    SetData = 5,
    GetAcl = 6,
    SetAcl = 7,
    GetChildren = 8,
    Sync = 9,
    Ping = 11,
    GetChildren2 = 12,
    Check = 13,
    Multi = 14,
    Create2 = 15,
    Reconfig = 16,
    CheckWatches = 17,
    RemoveWatches = 18,
    CreateContainer = 19,
    DeleteContainer = 20,
    CreateTtl = 21,
    MultiRead = 22,
    Auth = 100,
    SetWatches = 101,
    Sasl = 102,
    GetEphemerals = 103,
    GetAllChildrenNumber = 104,
    SetWatches2 = 105,
    AddWatch = 106,
    WhoAmI = 107,
    CreateSession = -10,
    CloseSession = -11,
    Error = -1,
}

/// A number that is no [`OpCode`]; it carries the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownOpCode(pub i32);

impl fmt::Display for UnknownOpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown op code {}", self.0)
    }
}

impl std::error::Error for UnknownOpCode {}

impl OpCode {
    /// Every op code, in the order of `ZooDefs.OpCode`.
    pub const ALL: [OpCode; 33] = [
        OpCode::Notification,
        OpCode::Create,
        OpCode::Delete,
        OpCode::Exists,
        OpCode::GetData,
        OpCode::SetData,
        OpCode::GetAcl,
        OpCode::SetAcl,
        OpCode::GetChildren,
        OpCode::Sync,
        OpCode::Ping,
        OpCode::GetChildren2,
        OpCode::Check,
        OpCode::Multi,
        OpCode::Create2,
        OpCode::Reconfig,
        OpCode::CheckWatches,
        OpCode::RemoveWatches,
        OpCode::CreateContainer,
        OpCode::DeleteContainer,
        OpCode::CreateTtl,
        OpCode::MultiRead,
        OpCode::Auth,
        OpCode::SetWatches,
        OpCode::Sasl,
        OpCode::GetEphemerals,
        OpCode::GetAllChildrenNumber,
        OpCode::SetWatches2,
        OpCode::AddWatch,
        OpCode::WhoAmI,
        OpCode::CreateSession,
        OpCode::CloseSession,
        OpCode::Error,
    ];

    /// The wire number.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Java's `Request.op2String`: `"create"`, `"getData"`, `"createTtl"`, ... (the names in
    /// Java's logs and in `TxnLogToolkit` dumps).
    pub const fn name(self) -> &'static str {
        match self {
            OpCode::Notification => "notification",
            OpCode::Create => "create",
            OpCode::Delete => "delete",
            OpCode::Exists => "exists",
            OpCode::GetData => "getData",
            OpCode::SetData => "setData",
            OpCode::GetAcl => "getACL",
            OpCode::SetAcl => "setACL",
            OpCode::GetChildren => "getChildren",
            OpCode::Sync => "sync",
            OpCode::Ping => "ping",
            OpCode::GetChildren2 => "getChildren2",
            OpCode::Check => "check",
            OpCode::Multi => "multi",
            OpCode::Create2 => "create2",
            OpCode::Reconfig => "reconfig",
            OpCode::CheckWatches => "checkWatches",
            OpCode::RemoveWatches => "removeWatches",
            OpCode::CreateContainer => "createContainer",
            OpCode::DeleteContainer => "deleteContainer",
            OpCode::CreateTtl => "createTtl",
            OpCode::MultiRead => "multiRead",
            OpCode::Auth => "auth",
            OpCode::SetWatches => "setWatches",
            OpCode::Sasl => "sasl",
            OpCode::GetEphemerals => "getEphemerals",
            OpCode::GetAllChildrenNumber => "getAllChildrenNumber",
            OpCode::SetWatches2 => "setWatches2",
            OpCode::AddWatch => "addWatch",
            OpCode::WhoAmI => "whoAmI",
            OpCode::CreateSession => "createSession",
            OpCode::CloseSession => "closeSession",
            OpCode::Error => "error",
        }
    }

    /// The `lastOp` name Java's `FinalRequestProcessor` records for a request (shown by the
    /// `cons` four-letter word and the AdminServer's `connections`): `"GETD"`, `"CREA"`,
    /// `"PING"`, ... and `"NA"` where Java sets none (`auth`, `sasl`, `error`,
    /// `notification`).
    pub const fn last_op_name(self) -> &'static str {
        match self {
            OpCode::Ping => "PING",
            OpCode::CreateSession => "SESS",
            OpCode::Multi => "MULT",
            OpCode::MultiRead => "MLTR",
            OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                "CREA"
            }
            OpCode::Delete | OpCode::DeleteContainer => "DELE",
            OpCode::SetData => "SETD",
            OpCode::Reconfig => "RECO",
            OpCode::SetAcl => "SETA",
            OpCode::CloseSession => "CLOS",
            OpCode::Sync => "SYNC",
            OpCode::Check => "CHEC",
            OpCode::Exists => "EXIS",
            OpCode::GetData => "GETD",
            OpCode::SetWatches => "SETW",
            OpCode::SetWatches2 => "STW2",
            OpCode::AddWatch => "ADDW",
            OpCode::GetAcl => "GETA",
            OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
            OpCode::GetAllChildrenNumber => "GETACN",
            OpCode::CheckWatches => "CHKW",
            OpCode::RemoveWatches => "REMW",
            OpCode::WhoAmI => "HOMI",
            OpCode::GetEphemerals => "GETE",
            OpCode::Auth | OpCode::Sasl | OpCode::Error | OpCode::Notification => "NA",
        }
    }

    /// A client request that changes the tree or the sessions, so prep turns it into a txn
    /// and a read-only server refuses it. `createSession` is not one: the connect handshake,
    /// not a request, starts a session.
    pub const fn is_write(self) -> bool {
        match self {
            OpCode::Create
            | OpCode::Create2
            | OpCode::CreateTtl
            | OpCode::CreateContainer
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Check
            | OpCode::Multi
            | OpCode::Reconfig
            | OpCode::CloseSession => true,
            OpCode::Notification
            | OpCode::Exists
            | OpCode::GetData
            | OpCode::GetAcl
            | OpCode::GetChildren
            | OpCode::Sync
            | OpCode::Ping
            | OpCode::GetChildren2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::MultiRead
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::Sasl
            | OpCode::GetEphemerals
            | OpCode::GetAllChildrenNumber
            | OpCode::SetWatches2
            | OpCode::AddWatch
            | OpCode::WhoAmI
            | OpCode::CreateSession
            | OpCode::Error => false,
        }
    }

    /// An op a client may send in a request frame, which the request pipeline answers:
    /// Java's `Request.isValid` list without `check`, which Java 3.8.6/3.9.3 refuse outside
    /// a multi (ZOOKEEPER-2623; 3.8.0 logs a txn it cannot read back), and without
    /// `createSession` (the handshake, not a request), plus `auth` and `sasl`, which Java
    /// answers before it asks `isValid`. Anything else is answered Unimplemented and the
    /// connection closed.
    pub const fn is_client_request(self) -> bool {
        match self {
            OpCode::CloseSession
            | OpCode::Create
            | OpCode::Create2
            | OpCode::CreateTtl
            | OpCode::CreateContainer
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::Exists
            | OpCode::GetAcl
            | OpCode::GetChildren
            | OpCode::GetAllChildrenNumber
            | OpCode::GetChildren2
            | OpCode::GetData
            | OpCode::Multi
            | OpCode::MultiRead
            | OpCode::Ping
            | OpCode::Reconfig
            | OpCode::SetAcl
            | OpCode::SetData
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::Sync
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::GetEphemerals
            | OpCode::AddWatch
            | OpCode::WhoAmI
            | OpCode::Auth
            | OpCode::Sasl => true,
            OpCode::Check | OpCode::Notification | OpCode::CreateSession | OpCode::Error => false,
        }
    }

    /// A create of any kind (create, create2, createContainer, createTTL).
    pub const fn is_create(self) -> bool {
        matches!(
            self,
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl
        )
    }
}

impl TryFrom<i32> for OpCode {
    type Error = UnknownOpCode;

    fn try_from(code: i32) -> Result<OpCode, UnknownOpCode> {
        Ok(match code {
            0 => OpCode::Notification,
            1 => OpCode::Create,
            2 => OpCode::Delete,
            3 => OpCode::Exists,
            4 => OpCode::GetData,
            5 => OpCode::SetData,
            6 => OpCode::GetAcl,
            7 => OpCode::SetAcl,
            8 => OpCode::GetChildren,
            9 => OpCode::Sync,
            11 => OpCode::Ping,
            12 => OpCode::GetChildren2,
            13 => OpCode::Check,
            14 => OpCode::Multi,
            15 => OpCode::Create2,
            16 => OpCode::Reconfig,
            17 => OpCode::CheckWatches,
            18 => OpCode::RemoveWatches,
            19 => OpCode::CreateContainer,
            20 => OpCode::DeleteContainer,
            21 => OpCode::CreateTtl,
            22 => OpCode::MultiRead,
            100 => OpCode::Auth,
            101 => OpCode::SetWatches,
            102 => OpCode::Sasl,
            103 => OpCode::GetEphemerals,
            104 => OpCode::GetAllChildrenNumber,
            105 => OpCode::SetWatches2,
            106 => OpCode::AddWatch,
            107 => OpCode::WhoAmI,
            -10 => OpCode::CreateSession,
            -11 => OpCode::CloseSession,
            -1 => OpCode::Error,
            n => return Err(UnknownOpCode(n)),
        })
    }
}

impl From<OpCode> for i32 {
    fn from(op: OpCode) -> i32 {
        op as i32
    }
}

/// Java's `op2String` name.
impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Wire numbers, for building wire structs.
pub const NOTIFICATION: i32 = OpCode::Notification.code();
pub const CREATE: i32 = OpCode::Create.code();
pub const DELETE: i32 = OpCode::Delete.code();
pub const EXISTS: i32 = OpCode::Exists.code();
pub const GET_DATA: i32 = OpCode::GetData.code();
pub const SET_DATA: i32 = OpCode::SetData.code();
pub const GET_ACL: i32 = OpCode::GetAcl.code();
pub const SET_ACL: i32 = OpCode::SetAcl.code();
pub const GET_CHILDREN: i32 = OpCode::GetChildren.code();
pub const SYNC: i32 = OpCode::Sync.code();
pub const PING: i32 = OpCode::Ping.code();
pub const GET_CHILDREN2: i32 = OpCode::GetChildren2.code();
pub const CHECK: i32 = OpCode::Check.code();
pub const MULTI: i32 = OpCode::Multi.code();
pub const CREATE2: i32 = OpCode::Create2.code();
pub const RECONFIG: i32 = OpCode::Reconfig.code();
pub const CHECK_WATCHES: i32 = OpCode::CheckWatches.code();
pub const REMOVE_WATCHES: i32 = OpCode::RemoveWatches.code();
pub const CREATE_CONTAINER: i32 = OpCode::CreateContainer.code();
pub const DELETE_CONTAINER: i32 = OpCode::DeleteContainer.code();
pub const CREATE_TTL: i32 = OpCode::CreateTtl.code();
pub const MULTI_READ: i32 = OpCode::MultiRead.code();
pub const AUTH: i32 = OpCode::Auth.code();
pub const SET_WATCHES: i32 = OpCode::SetWatches.code();
pub const SASL: i32 = OpCode::Sasl.code();
pub const GET_EPHEMERALS: i32 = OpCode::GetEphemerals.code();
pub const GET_ALL_CHILDREN_NUMBER: i32 = OpCode::GetAllChildrenNumber.code();
pub const SET_WATCHES2: i32 = OpCode::SetWatches2.code();
pub const ADD_WATCH: i32 = OpCode::AddWatch.code();
pub const WHO_AM_I: i32 = OpCode::WhoAmI.code();
pub const CREATE_SESSION: i32 = OpCode::CreateSession.code();
pub const CLOSE_SESSION: i32 = OpCode::CloseSession.code();
pub const ERROR: i32 = OpCode::Error.code();

/// Reserved xids.
pub const XID_NOTIFICATION: i32 = -1;
pub const XID_PING: i32 = -2;
pub const XID_AUTH: i32 = -4;
pub const XID_SET_WATCHES: i32 = -8;

/// ACL permission bits.
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// AddWatch modes.
pub const ADD_WATCH_PERSISTENT: i32 = 0;
pub const ADD_WATCH_PERSISTENT_RECURSIVE: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_nothing_else_decodes() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::try_from(op.code()), Ok(op), "{op}");
        }
        let known = (-200..=200)
            .filter(|n| OpCode::try_from(*n).is_ok())
            .count();
        assert_eq!(known, OpCode::ALL.len());
        assert_eq!(OpCode::try_from(10), Err(UnknownOpCode(10)));
        assert_eq!(UnknownOpCode(10).to_string(), "unknown op code 10");
    }

    #[test]
    fn java_names() {
        assert_eq!(OpCode::CreateTtl.to_string(), "createTtl");
        assert_eq!(OpCode::GetAcl.name(), "getACL");
        assert_eq!(OpCode::GetChildren2.last_op_name(), "GETC");
        assert_eq!(OpCode::GetAllChildrenNumber.last_op_name(), "GETACN");
        assert_eq!(OpCode::Auth.last_op_name(), "NA");
    }

    #[test]
    fn writes_are_client_requests_except_check() {
        for op in OpCode::ALL {
            if op.is_write() && op != OpCode::Check {
                assert!(op.is_client_request(), "{op}");
            }
        }
        assert!(OpCode::Check.is_write() && !OpCode::Check.is_client_request());
        assert!(!OpCode::CreateSession.is_write() && !OpCode::CreateSession.is_client_request());
        assert!(!OpCode::Notification.is_client_request());
    }
}
