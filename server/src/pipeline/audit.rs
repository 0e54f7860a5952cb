//! The pipeline's audit hooks (where Java's FinalRequestProcessor and DataTree call
//! `AuditHelper` / `ZKAuditProvider`): a client's write is noted when it is submitted and
//! its records built once its txn is applied; a session's close records its ephemerals.
//! The records themselves are `crate::audit`'s; they leave as [`Output::Audit`].

use super::*;
use crate::audit::{self, AuditEvent};

/// A client write waiting for its txn, as the audit log will name it.
pub(super) struct AuditedRequest {
    op: OpCode,
    body: Bytes,
    client: audit::Client,
}

impl Pipeline {
    /// A client's write (`op`, request `body`) was submitted on `conn`.
    pub(super) fn audit_submitted(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: OpCode,
        body: &Bytes,
    ) {
        if !self.cfg.audit_enabled {
            return;
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let client = audit::Client {
            session,
            user: audit::users(c.auth.ids()),
            ip: auth::java_host_address(&c.addr),
        };
        let request = AuditedRequest {
            op,
            body: body.clone(),
            client,
        };
        self.audit_requests.insert((session, xid), request);
    }

    /// The ephemerals a close-session txn is about to delete, with whether each exists.
    pub(super) fn audit_before_apply(&self, txn: &Txn) -> Vec<(String, bool)> {
        if !self.cfg.audit_enabled {
            return Vec::new();
        }
        let paths: Vec<String> = match &txn.body {
            TxnBody::CloseSession(Some(t)) => t.paths2_delete.clone(),
            TxnBody::CloseSession(None) => self
                .tree
                .ephemerals_of(txn.hdr.client_id)
                .cloned()
                .collect(),
            _ => return Vec::new(),
        };
        paths
            .into_iter()
            .map(|p| {
                let exists = self.tree.node(&p).is_some();
                (p, exists)
            })
            .collect()
    }

    /// `txn` was applied with `rc`: the records of the client write it answers (if the
    /// waiter is one), or of the ephemerals its session's close deleted.
    pub(super) fn audit_applied(
        &mut self,
        txn: &Txn,
        rc: &ApplyResult,
        client_write: bool,
        ephemerals: Vec<(String, bool)>,
    ) {
        if !self.cfg.audit_enabled {
            return;
        }
        for (path, existed) in ephemerals {
            let deleted = existed && self.tree.node(&path).is_none();
            let event = AuditEvent::ephemeral_deleted(txn.hdr.client_id, &path, deleted);
            self.out.push(Output::Audit(Box::new(event)));
        }
        let key = (txn.hdr.client_id, txn.hdr.cxid);
        let Some(request) = client_write
            .then(|| self.audit_requests.remove(&key))
            .flatten()
        else {
            return;
        };
        let error_txn = matches!(txn.body, TxnBody::Error(_));
        for event in
            audit::request_events(&request.client, request.op, &request.body, rc, error_txn)
        {
            self.out.push(Output::Audit(Box::new(event)));
        }
    }
}
