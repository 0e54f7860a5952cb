//! Session tracking: ids, negotiated timeouts, and expiry in tick-sized buckets (Java's
//! SessionTrackerImpl with its ExpiryQueue), and on a leader which server owns each session
//! (the one its client is connected to). Sans-IO: callers pass the clock in.

use crate::error::ErrorCode;
use hashbrown::{HashMap, HashSet};
use std::collections::BTreeMap;

/// Which server a session's client is connected to, as the leader sees it (Java's session
/// `owner`): requests for the session from anyone else are answered SessionMoved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOwner {
    /// A client connected to this server.
    Local,
    /// A client of the learner on this leader connection (a learner that reconnects is a new
    /// owner, as in Java, where the owner is the `LearnerHandler`).
    Learner(u64),
}

#[derive(Debug, Clone)]
pub struct Session {
    pub timeout_ms: i32,
    /// Bucket (ms on the caller's clock) in which the session expires unless touched.
    pub expires_at_ms: u64,
    /// Set once a closeSession was prepped: no more requests are accepted.
    pub closing: bool,
    /// Who serves the session's client; `None` until the first checked request claims it.
    pub owner: Option<SessionOwner>,
}

pub struct SessionTracker {
    sessions: HashMap<i64, Session>,
    buckets: BTreeMap<u64, HashSet<i64>>,
    next_id: i64,
    tick_ms: u64,
}

impl SessionTracker {
    pub fn new(first_id: i64, tick_ms: u32) -> Self {
        SessionTracker {
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
            next_id: first_id,
            tick_ms: tick_ms.max(1) as u64,
        }
    }

    fn round_up(&self, t_ms: u64) -> u64 {
        (t_ms / self.tick_ms + 1) * self.tick_ms
    }

    /// Allocate the next session id (Java: nextSessionId++).
    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Start tracking a session (on createSession commit, or from a snapshot).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: u64) {
        if let Some(old) = self.sessions.remove(&id) {
            self.unbucket(id, old.expires_at_ms);
        }
        let expires_at_ms = self.round_up(now_ms + timeout_ms.max(0) as u64);
        self.sessions.insert(
            id,
            Session {
                timeout_ms,
                expires_at_ms,
                closing: false,
                owner: None,
            },
        );
        self.buckets.entry(expires_at_ms).or_default().insert(id);
    }

    /// Take `id` out of its bucket. An emptied bucket stays until its time passes, as in
    /// Java's ExpiryQueue (`dump` lists it as "0 expire at ...").
    fn unbucket(&mut self, id: i64, at_ms: u64) {
        if let Some(b) = self.buckets.get_mut(&at_ms) {
            b.remove(&id);
        }
    }

    /// Push a live session's expiry forward; false if it is unknown or closing.
    pub fn touch(&mut self, id: i64, now_ms: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let new_at_ms = self.round_up(now_ms + s.timeout_ms.max(0) as u64);
        let old_at_ms = s.expires_at_ms;
        if new_at_ms > old_at_ms {
            self.unbucket(id, old_at_ms);
            self.buckets.entry(new_at_ms).or_default().insert(id);
            self.sessions
                .get_mut(&id)
                .expect("looked up above")
                .expires_at_ms = new_at_ms;
        }
        true
    }

    /// Change a session's timeout (a client reconnecting may negotiate a new one).
    pub fn set_timeout(&mut self, id: i64, timeout_ms: i32) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
    }

    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Java's `checkSession` on a leader: a request for `id` from `owner`. An unknown or
    /// closing session is SessionExpired; one owned by another server is SessionMoved; an
    /// unowned one becomes `owner`'s.
    pub fn check_owner(&mut self, id: i64, owner: SessionOwner) -> Result<(), ErrorCode> {
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(ErrorCode::SessionExpired);
        };
        if s.closing {
            return Err(ErrorCode::SessionExpired);
        }
        match s.owner {
            None => {
                s.owner = Some(owner);
                Ok(())
            }
            Some(o) if o == owner => Ok(()),
            Some(_) => Err(ErrorCode::SessionMoved),
        }
    }

    /// The session's client is now served by `owner` (it reconnected there); false if the
    /// session is unknown or closing.
    pub fn set_owner(&mut self, id: i64, owner: SessionOwner) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.owner = Some(owner);
                true
            }
            _ => false,
        }
    }

    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) {
        if let Some(s) = self.sessions.remove(&id) {
            self.unbucket(id, s.expires_at_ms);
        }
    }

    /// Sessions whose bucket has passed; they are marked closing (the caller submits a
    /// closeSession for each).
    pub fn expire(&mut self, now_ms: u64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((&at_ms, _)) = self.buckets.first_key_value() {
            if at_ms > now_ms {
                break;
            }
            let ids = self.buckets.remove(&at_ms).unwrap_or_default();
            for id in ids {
                if let Some(s) = self.sessions.get_mut(&id) {
                    if !s.closing {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Sessions grouped by expiry bucket (ms), for `dump`.
    pub fn by_expiry(&self) -> Vec<(u64, Vec<(i64, i32)>)> {
        self.buckets
            .iter()
            .map(|(at_ms, ids)| {
                let mut v: Vec<_> = ids
                    .iter()
                    .map(|id| (*id, self.sessions[id].timeout_ms))
                    .collect();
                v.sort_unstable();
                (*at_ms, v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_in_tick_buckets() {
        let mut t = SessionTracker::new(100, 2000);
        let a = t.next_session_id();
        assert_eq!(a, 100);
        t.add(a, 4000, 500); // 4500 -> bucket 6000
        assert_eq!(t.get(a).unwrap().expires_at_ms, 6000);
        assert!(t.expire(5999).is_empty());
        assert!(t.touch(a, 3000)); // 7000 -> 8000
        assert!(t.expire(6000).is_empty());
        assert_eq!(t.expire(8000), vec![a]);
        assert!(!t.touch(a, 8001));
        t.remove(a);
        assert!(t.is_empty());
    }

    #[test]
    fn an_emptied_bucket_stays_until_its_time_passes() {
        // Java's ExpiryQueue keeps the set a touch emptied; `dump` lists it as
        // "0 expire at ...".
        let mut t = SessionTracker::new(100, 2000);
        let a = t.next_session_id();
        t.add(a, 4000, 500); // bucket 6000
        assert!(t.touch(a, 3000)); // bucket 8000
        assert_eq!(t.by_expiry(), vec![(6000, vec![]), (8000, vec![(a, 4000)])]);
        assert!(t.expire(6000).is_empty());
        assert_eq!(t.by_expiry(), vec![(8000, vec![(a, 4000)])]);
    }

    #[test]
    fn the_first_checked_owner_claims_a_session_and_others_see_it_moved() {
        let mut t = SessionTracker::new(100, 2000);
        let a = t.next_session_id();
        assert_eq!(
            t.check_owner(a, SessionOwner::Local),
            Err(ErrorCode::SessionExpired)
        );
        t.add(a, 4000, 0);
        assert_eq!(t.check_owner(a, SessionOwner::Learner(7)), Ok(()));
        assert_eq!(t.check_owner(a, SessionOwner::Learner(7)), Ok(()));
        assert_eq!(
            t.check_owner(a, SessionOwner::Local),
            Err(ErrorCode::SessionMoved)
        );
        // The client reconnected to the leader.
        assert!(t.set_owner(a, SessionOwner::Local));
        assert_eq!(
            t.check_owner(a, SessionOwner::Learner(7)),
            Err(ErrorCode::SessionMoved)
        );
        t.set_closing(a);
        assert!(!t.set_owner(a, SessionOwner::Local));
        assert_eq!(
            t.check_owner(a, SessionOwner::Local),
            Err(ErrorCode::SessionExpired)
        );
    }
}
