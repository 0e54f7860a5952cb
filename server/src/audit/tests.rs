use super::*;
use jute::data::Id;
use jute::Encode;

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

fn client() -> Client {
    Client {
        session: 0x1000_0123_4500_000a,
        user: users(&[
            AuthId::new("ip", "127.0.0.1"),
            AuthId::new("digest", "bob:x="),
        ]),
        ip: "127.0.0.1".into(),
    }
}

fn encoded(r: &impl Encode) -> Bytes {
    let mut b = bytes::BytesMut::new();
    r.encode(&mut b);
    b.freeze()
}

#[test]
fn users_as_auth_util_names_them() {
    assert_eq!(client().user.as_deref(), Some("127.0.0.1,bob"));
    let super_user = [AuthId::new("super", ""), AuthId::new("digest", "super:h")];
    assert_eq!(users(&super_user).as_deref(), Some("super"));
    assert_eq!(users(&[]), None);
    assert_eq!(users(&[AuthId::new("digest", ":x")]), None);
}

#[test]
fn acl_and_modes_as_java_spells_them() {
    let list = [acl(31, "world", "anyone"), acl(5, "digest", "bob:h")];
    assert_eq!(acl_string(&list), "world:anyone:cdrwadigest:bob:h:cr");
    assert_eq!(create_mode(3), Some("ephemeral_sequential"));
    assert_eq!(create_mode(6), Some("persistent_sequential_with_ttl"));
    assert_eq!(create_mode(7), None);
}

#[test]
fn record_fields_in_java_order() {
    let create = CreateRequest {
        path: "/a".into(),
        data: None,
        acl: vec![acl(31, "world", "anyone")],
        flags: 2,
    };
    let mut rc = ApplyResult::new(OpCode::Create);
    rc.path = "/a0000000001".into();
    let ev = request_events(&client(), OpCode::Create, &encoded(&create), &rc, false);
    assert_eq!(
        ev[0].render("zk"),
        "session=0x100001234500000a\tuser=127.0.0.1,bob\tip=127.0.0.1\toperation=create\t\
         znode=/a0000000001\tznode_type=persistent_sequential\tresult=success"
    );
    // An error txn names the request's path.
    let ev = request_events(
        &client(),
        OpCode::Create,
        &encoded(&create),
        &ApplyResult::new(OpCode::Error),
        true,
    );
    assert!(ev[0]
        .render("zk")
        .contains("znode=/a\tznode_type=persistent_sequential\tresult=failure"));
    let set_acl = SetACLRequest {
        path: "/a".into(),
        acl: vec![acl(1, "ip", "10.0.0.1")],
        version: -1,
    };
    let mut rc = ApplyResult::new(OpCode::SetAcl);
    rc.path = "/a".into();
    let ev = request_events(&client(), OpCode::SetAcl, &encoded(&set_acl), &rc, false);
    assert!(ev[0]
        .render("zk")
        .ends_with("operation=setAcl\tznode=/a\tacl=ip:10.0.0.1:r\tresult=success"));
    // Not audited.
    let ttl = request_events(&client(), OpCode::CreateTtl, &Bytes::new(), &rc, false);
    assert!(ttl.is_empty());
    assert!(request_events(&client(), OpCode::SetData, &Bytes::new(), &rc, true).is_empty());
}

#[test]
fn server_records() {
    assert_eq!(
        AuditEvent::server(OP_START, Outcome::Success).render("zk"),
        "user=zk\toperation=serverStart\tresult=success"
    );
    assert_eq!(
        AuditEvent::ephemeral_deleted(-1, "/e", false).render("zk"),
        "session=0xffffffffffffffff\tuser=zk\toperation=ephemeralZNodeDeletionOnSessionCloseOrExpire\t\
         znode=/e\tresult=failure"
    );
}
