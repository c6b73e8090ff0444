//! The authorization engine: one place that decides what a principal may
//! do. Routing, KV, tasks, sessions, the agent registry, workspaces and
//! the HTTP proxy and tunnels ask it instead of each refusing on its own.
//!
//! * [`level`]: the access levels, NONE 0 ... SUPERADMIN 50.
//! * [`principal`] and [`resource`]: what rules name.
//! * [`rules`]: ACL rules, fallback policies, groups and roles, durable in
//!   `Table::Acl`.
//! * [`decide`]: how a level is decided (superadmin sessions, the owner's
//!   own workspace, rules, fallback policies, built-in defaults).
//! * [`gates`]: the administrative families (§6.1).
//! * [`acl_op`]: `ACLOperation` (§6.7).
//! * [`grants`]: authority grants and requests, on-behalf-of contexts (§6.9).
//!
//! Sessions authenticated with the admin key, and every session in dev
//! mode, are superadmins: with no rule configured they behave as before.
//! Every other session (orchestrators and the workflow engine included) is
//! decided by the rules and defaults. Decisions read memory only; changes
//! are journaled and answered once on disk.

pub(crate) mod acl_op;
pub(crate) mod check_op;
pub(crate) mod decide;
pub(crate) mod explain;
pub(crate) mod gates;
pub(crate) mod grants;
pub(crate) mod level;
pub(crate) mod principal;
pub(crate) mod resource;
pub(crate) mod rules;

use parking_lot::RwLock;

use crate::store::{Commit, Mutation, Store, StoreError};
pub(crate) use decide::{Actor, Decision};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use grants::book::GrantBook;
pub(crate) use level::Level;
pub(crate) use principal::PrincipalId;
pub(crate) use resource::Resource;
use rules::AclData;

/// The current time in unix seconds.
pub(crate) fn now_s() -> i64 {
    (crate::expiring::unix_ms() / 1000) as i64
}

/// When a cached decision was taken (see [`Authz::stamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    generation: u64,
    horizon_s: i64,
}

impl Stamp {
    /// Whether a decision taken under `self` still holds under `now`
    /// (the engine's current stamp) at `now_s`.
    pub(crate) fn holds(self, now: Stamp, now_s: i64) -> bool {
        self.generation == now.generation && now_s < self.horizon_s
    }
}

/// The authorization engine of one gateway.
pub(crate) struct Authz {
    data: RwLock<AclData>,
    grants: RwLock<GrantBook>,
    store: Store,
    /// Bumped by every change of the ACL, for callers that cache decisions.
    generation: AtomicU64,
    /// [`AclData::horizon_s`] as of the last change.
    horizon_s: AtomicI64,
}

impl Authz {
    /// Loads the ACL from `store`, which it then writes through.
    pub(crate) fn load(store: Store) -> Result<Authz, StoreError> {
        let (data, rest) = AclData::load(&store)?;
        let horizon_s = AtomicI64::new(data.horizon_s());
        Ok(Authz {
            generation: AtomicU64::new(0),
            horizon_s,
            data: RwLock::new(data),
            grants: RwLock::new(GrantBook::load(rest)?),
            store,
        })
    }

    /// `a`'s level on `r`.
    pub(crate) fn decide(&self, a: &Actor<'_>, r: Resource<'_>) -> Decision {
        if a.superadmin && a.limit.is_none() {
            return decide::decide(&AclData::default(), a, r, 0);
        }
        decide::decide(&self.data.read(), a, r, now_s())
    }

    /// Whether `a` has at least `need` on `r`. Superadmins and owners are
    /// answered without taking the lock.
    pub(crate) fn allows(&self, a: &Actor<'_>, r: Resource<'_>, need: Level) -> bool {
        if a.limit.is_none() && (a.superadmin || decide::owner(a, r) >= need) {
            return true;
        }
        self.decide(a, r).allows(need)
    }

    /// The level the live rules alone give `a` on `r`; `None` when no rule
    /// covers it (then the caller falls back to its own defaults).
    /// Superadmins get `None`: nothing restricts them.
    pub(crate) fn rule_level(&self, a: &Actor<'_>, r: Resource<'_>) -> Option<Level> {
        if a.superadmin && a.limit.is_none() {
            return None;
        }
        let data = self.data.read();
        let p = a.principal;
        if data.rules.is_empty()
            || (data.only_direct_rules() && !data.has_rules_for(p.ptype.name(), &p.id))
        {
            return None;
        }
        let now = now_s();
        let subjects = data.subjects(p, now);
        let level = data
            .matching(p, &subjects, r, now)
            .iter()
            .filter_map(|rule| Level::from_wire(rule.access_level).ok())
            .max()?;
        Some(match a.limit {
            Some(limit) => limit.cap(r, level),
            None => level,
        })
    }

    /// Changes the ACL: `f` edits the data and returns its result and the
    /// mutations to journal (submitted under the lock, in memory order).
    pub(crate) fn write<R>(
        &self,
        f: impl FnOnce(&mut AclData) -> (R, Vec<Mutation>),
    ) -> (R, Commit) {
        let mut data = self.data.write();
        let (r, muts) = f(&mut data);
        if muts.is_empty() {
            return (r, Commit::done());
        }
        self.horizon_s.store(data.horizon_s(), Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        let commit = self.store.submit(muts);
        (r, commit)
    }

    /// A stamp that says whether a decision taken under it still holds:
    /// the ACL's change counter, and the time until which no rule,
    /// membership or assignment expires (see [`Stamp::holds`]).
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp {
            generation: self.generation.load(Ordering::Acquire),
            horizon_s: self.horizon_s.load(Ordering::Acquire),
        }
    }

    /// Reads the ACL.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&AclData) -> R) -> R {
        f(&self.data.read())
    }

    /// Changes the grants and requests, as [`write`](Self::write) does the
    /// ACL.
    pub(crate) fn write_grants<R>(
        &self,
        f: impl FnOnce(&mut GrantBook) -> (R, Vec<Mutation>),
    ) -> (R, Commit) {
        let mut book = self.grants.write();
        let (r, muts) = f(&mut book);
        if muts.is_empty() {
            return (r, Commit::done());
        }
        let commit = self.store.submit(muts);
        (r, commit)
    }

    /// Reads the grants and requests.
    pub(crate) fn read_grants<R>(&self, f: impl FnOnce(&GrantBook) -> R) -> R {
        f(&self.grants.read())
    }
}
