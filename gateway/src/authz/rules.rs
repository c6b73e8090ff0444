//! The ACL's data in memory: rules (indexed by subject), fallback
//! policies, groups and roles with their members, and the database
//! mutations mirroring each change (`Table::Acl`, one key prefix per kind).
//!
//! Rules name a subject (`type`, `id`): a principal (`agent`, `user`, ...
//! with an exact id or a glob over ids), a `wildcard` (`_any_agent`,
//! `_any_task`, `_any_service`, `_any_authenticated_user`, `*`), a `group`
//! or a `role` (by name). A principal's subjects are itself, the wildcards
//! that cover it, the groups it is a member of (nested groups included)
//! and the roles assigned to it or to those groups.

use std::collections::{BTreeMap, HashMap};

use aether_protocol::proto::{
    AclFallbackPolicyInfo, AclGroupInfo, AclGroupMemberInfo, AclRoleAssignmentInfo, AclRoleInfo,
    AclRuleInfo,
};
use prost::Message;

use super::principal::{PType, PrincipalId};
use super::resource::{Resource, covers, is_glob};
use crate::store::{Mutation, Store, StoreError, Table};

/// Subject type of wildcard rules.
pub(crate) const WILDCARD: &str = "wildcard";
/// Subject type of group rules and nested group members.
pub(crate) const GROUP: &str = "group";
/// Subject type of role rules.
pub(crate) const ROLE: &str = "role";

/// How deep groups may nest (cycles stop here too).
const MAX_NESTING: usize = 8;

/// Key prefixes in `Table::Acl`.
pub(crate) mod key {
    pub(crate) const RULE: &str = "rule/";
    pub(crate) const FALLBACK: &str = "fallback/";
    pub(crate) const GROUP: &str = "group/";
    pub(crate) const MEMBER: &str = "member/";
    pub(crate) const ROLE: &str = "role/";
    pub(crate) const ASSIGN: &str = "assign/";
    pub(crate) const GRANT: &str = "grant/";
    pub(crate) const REQUEST: &str = "request/";
}

/// Whether a stored expiry (unix seconds; 0: none) has passed at `now_s`.
/// Values that can only be milliseconds are read as such.
pub(crate) fn expired(expires_at: i64, now_s: i64) -> bool {
    let at = if expires_at > 100_000_000_000 {
        expires_at / 1000
    } else {
        expires_at
    };
    at > 0 && at <= now_s
}

/// Whether `r` names principals by a glob over their ids (wildcard,
/// group and role rules name their subject exactly, `*` included).
fn globbed(r: &AclRuleInfo) -> bool {
    ![WILDCARD, GROUP, ROLE].contains(&r.principal_type.as_str()) && is_glob(&r.principal_id)
}

/// Database rows (key, value).
pub(crate) type Rows = Vec<(String, Vec<u8>)>;

/// A (type, id) pair as stored in edges.
pub(crate) type Edge = (String, String);

/// Everything the ACL stores.
#[derive(Default)]
pub(crate) struct AclData {
    pub(crate) rules: BTreeMap<String, AclRuleInfo>,
    /// Subject type -> subject id -> rule ids (exact subject ids).
    by_subject: HashMap<String, HashMap<String, Vec<String>>>,
    /// Rules whose principal id is a glob, by principal type: (pattern,
    /// rule id). A decision scans only its own type's.
    glob_rules: HashMap<String, Vec<(String, String)>>,
    pub(crate) fallbacks: BTreeMap<String, AclFallbackPolicyInfo>,
    pub(crate) groups: BTreeMap<String, AclGroupInfo>,
    /// (group, member type, member id) -> membership.
    pub(crate) members: BTreeMap<(String, String, String), AclGroupMemberInfo>,
    pub(crate) roles: BTreeMap<String, AclRoleInfo>,
    /// (role, assignee type, assignee id) -> assignment.
    pub(crate) assignments: BTreeMap<(String, String, String), AclRoleAssignmentInfo>,
}

/// A stored record; one that cannot be read refuses the store (as every
/// durable table does: nothing is skipped silently).
fn decode<M: Message + Default>(key: &str, v: &[u8]) -> Result<M, StoreError> {
    M::decode(v).map_err(|e| StoreError::unreadable(Table::Acl, key, e))
}

fn edge(key: &str) -> Result<(String, String, String), StoreError> {
    let rest = key.split_once('/').map(|(_, r)| r).unwrap_or_default();
    triple(rest).ok_or_else(|| StoreError::unreadable(Table::Acl, key, "malformed key"))
}

fn triple(rest: &str) -> Option<(String, String, String)> {
    let mut it = rest.splitn(3, '\0');
    Some((
        it.next()?.to_string(),
        it.next()?.to_string(),
        it.next()?.to_string(),
    ))
}

/// The database key of a membership or assignment.
pub(crate) fn edge_key(prefix: &str, name: &str, t: &str, id: &str) -> String {
    format!("{prefix}{name}\0{t}\0{id}")
}

impl AclData {
    /// Loads the ACL part of `Table::Acl`; returns the rows it did not
    /// handle (grants and requests).
    pub(crate) fn load(store: &Store) -> Result<(AclData, Rows), StoreError> {
        let mut d = AclData::default();
        let mut rest = Vec::new();
        for (k, v) in store.load(Table::Acl)? {
            if k.starts_with(key::RULE) {
                d.insert_rule(decode::<AclRuleInfo>(&k, &v)?);
            } else if let Some(c) = k.strip_prefix(key::FALLBACK) {
                let p = decode::<AclFallbackPolicyInfo>(&k, &v)?;
                d.fallbacks.insert(c.to_string(), p);
            } else if let Some(n) = k.strip_prefix(key::GROUP) {
                let g = decode::<AclGroupInfo>(&k, &v)?;
                d.groups.insert(n.to_string(), g);
            } else if k.starts_with(key::MEMBER) {
                let m = decode::<AclGroupMemberInfo>(&k, &v)?;
                d.members.insert(edge(&k)?, m);
            } else if let Some(n) = k.strip_prefix(key::ROLE) {
                let r = decode::<AclRoleInfo>(&k, &v)?;
                d.roles.insert(n.to_string(), r);
            } else if k.starts_with(key::ASSIGN) {
                let a = decode::<AclRoleAssignmentInfo>(&k, &v)?;
                d.assignments.insert(edge(&k)?, a);
            } else {
                rest.push((k, v));
            }
        }
        Ok((d, rest))
    }

    /// Adds `r` (replacing a rule with the same id) and its mutation.
    pub(crate) fn insert_rule(&mut self, r: AclRuleInfo) -> Mutation {
        let m = Mutation::put(
            Table::Acl,
            format!("{}{}", key::RULE, r.rule_id),
            r.encode_to_vec(),
        );
        self.remove_rule(&r.rule_id);
        if globbed(&r) {
            self.glob_rules
                .entry(r.principal_type.clone())
                .or_default()
                .push((r.principal_id.clone(), r.rule_id.clone()));
        } else {
            self.by_subject
                .entry(r.principal_type.clone())
                .or_default()
                .entry(r.principal_id.clone())
                .or_default()
                .push(r.rule_id.clone());
        }
        self.rules.insert(r.rule_id.clone(), r);
        m
    }

    /// Removes rule `id`; its mutation if it existed.
    pub(crate) fn remove_rule(&mut self, id: &str) -> Option<(AclRuleInfo, Mutation)> {
        let r = self.rules.remove(id)?;
        if globbed(&r) {
            if let Some(list) = self.glob_rules.get_mut(&r.principal_type) {
                list.retain(|(_, g)| g != id);
                if list.is_empty() {
                    self.glob_rules.remove(&r.principal_type);
                }
            }
        } else if let Some(ids) = self.by_subject.get_mut(&r.principal_type) {
            if let Some(list) = ids.get_mut(&r.principal_id) {
                list.retain(|g| g != id);
                if list.is_empty() {
                    ids.remove(&r.principal_id);
                }
            }
            if ids.is_empty() {
                self.by_subject.remove(&r.principal_type);
            }
        }
        let m = Mutation::delete(Table::Acl, format!("{}{id}", key::RULE));
        Some((r, m))
    }

    /// The subjects (type, id) that stand for `p`: itself, its wildcards,
    /// its groups (transitively) and its roles.
    pub(crate) fn subjects(&self, p: &PrincipalId, now_s: i64) -> Vec<Edge> {
        let mut out: Vec<Edge> = vec![(p.ptype.name().to_string(), p.id.clone())];
        let wildcard = match p.ptype {
            PType::Agent => Some("_any_agent"),
            PType::Task => Some("_any_task"),
            PType::Service => Some("_any_service"),
            PType::User => Some("_any_authenticated_user"),
            _ => None,
        };
        if let Some(w) = wildcard {
            out.push((WILDCARD.to_string(), w.to_string()));
        }
        out.push((WILDCARD.to_string(), "*".to_string()));
        if self.members.is_empty() && self.assignments.is_empty() {
            return out;
        }
        // Groups, breadth first, members named exactly.
        let mut frontier: Vec<Edge> = vec![out[0].clone()];
        for _ in 0..MAX_NESTING {
            let mut next = Vec::new();
            for (t, id) in &frontier {
                for ((group, mt, mid), m) in &self.members {
                    if mt == t && mid == id && !expired(m.expires_at, now_s) {
                        let g = (GROUP.to_string(), group.clone());
                        if !out.contains(&g) {
                            out.push(g.clone());
                            next.push(g);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        let holders: Vec<Edge> = out.iter().filter(|(t, _)| t != WILDCARD).cloned().collect();
        for ((role, at, aid), a) in &self.assignments {
            if !expired(a.expires_at, now_s) && holders.iter().any(|(t, id)| t == at && id == aid) {
                let r = (ROLE.to_string(), role.clone());
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Every live rule for any of `subjects` (or a glob rule matching `p`)
    /// that covers `r`.
    pub(crate) fn matching<'a>(
        &'a self,
        p: &PrincipalId,
        subjects: &[Edge],
        r: Resource<'_>,
        now_s: i64,
    ) -> Vec<&'a AclRuleInfo> {
        let mut out = Vec::new();
        let mut consider = |id: &String| {
            if let Some(rule) = self.rules.get(id)
                && rule.resource_type == r.rtype
                && covers(&rule.resource_id, r.id)
                && !expired(rule.expires_at, now_s)
            {
                out.push(rule);
            }
        };
        for (t, id) in subjects {
            if let Some(ids) = self.by_subject.get(t).and_then(|m| m.get(id)) {
                ids.iter().for_each(&mut consider);
            }
        }
        if let Some(globs) = self.glob_rules.get(p.ptype.name()) {
            for (pattern, id) in globs {
                if covers(pattern, &p.id) {
                    consider(id);
                }
            }
        }
        out
    }

    /// The earliest expiry (unix seconds) of any rule, membership or role
    /// assignment still in the ACL; `i64::MAX` when none expires. A
    /// decision taken now stays valid until then, or until the ACL changes.
    pub(crate) fn horizon_s(&self) -> i64 {
        let secs = |t: i64| if t > 100_000_000_000 { t / 1000 } else { t };
        self.rules
            .values()
            .map(|r| r.expires_at)
            .chain(self.members.values().map(|m| m.expires_at))
            .chain(self.assignments.values().map(|a| a.expires_at))
            .filter(|t| *t > 0)
            .map(secs)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Whether any rule at all names subjects of type `t` with id `id`
    /// (fast check for the hot path).
    pub(crate) fn has_rules_for(&self, t: &str, id: &str) -> bool {
        self.by_subject.get(t).is_some_and(|m| m.contains_key(id))
    }

    /// Whether the index holds any glob, wildcard, group or role rule:
    /// without one, only a principal's own rules can apply to it.
    pub(crate) fn only_direct_rules(&self) -> bool {
        self.glob_rules.is_empty()
            && [WILDCARD, GROUP, ROLE]
                .iter()
                .all(|t| !self.by_subject.contains_key(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, pt: &str, pid: &str, rt: &str, rid: &str, level: i32) -> AclRuleInfo {
        AclRuleInfo {
            rule_id: id.into(),
            principal_type: pt.into(),
            principal_id: pid.into(),
            resource_type: rt.into(),
            resource_id: rid.into(),
            access_level: level,
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_by_subject_and_resource() {
        let mut d = AclData::default();
        d.insert_rule(rule("1", "agent", "ag::w::i::s", "workspace", "other", 20));
        d.insert_rule(rule("2", "agent", "ag::w::*", "workspace", "x-*", 10));
        d.insert_rule(rule("3", WILDCARD, "_any_agent", "workspace", "pub", 10));
        let p = PrincipalId::parse_parts("agent", "ag::w::i::s").unwrap();
        let subjects = d.subjects(&p, 0);
        let ids = |d: &AclData, r: Resource<'_>| -> Vec<String> {
            let mut v: Vec<String> = d
                .matching(&p, &subjects, r, 0)
                .iter()
                .map(|r| r.rule_id.clone())
                .collect();
            v.sort();
            v
        };
        assert_eq!(ids(&d, Resource::workspace("other")), ["1"]);
        assert_eq!(ids(&d, Resource::workspace("x-1")), ["2"]);
        assert_eq!(ids(&d, Resource::workspace("pub")), ["3"]);
        assert!(ids(&d, Resource::workspace("none")).is_empty());
        assert!(d.remove_rule("1").is_some());
        assert!(ids(&d, Resource::workspace("other")).is_empty());
        assert!(!d.only_direct_rules());
    }

    #[test]
    fn groups_nest_and_roles_follow() {
        let mut d = AclData::default();
        let m = |g: &str, t: &str, id: &str| {
            (
                (g.to_string(), t.to_string(), id.to_string()),
                AclGroupMemberInfo::default(),
            )
        };
        d.members.extend([
            m("inner", "agent", "ag::w::i::s"),
            m("outer", GROUP, "inner"),
        ]);
        d.assignments.insert(
            ("ops".into(), GROUP.into(), "outer".into()),
            AclRoleAssignmentInfo::default(),
        );
        let p = PrincipalId::parse_parts("agent", "ag::w::i::s").unwrap();
        let s = d.subjects(&p, 0);
        for want in [(GROUP, "inner"), (GROUP, "outer"), (ROLE, "ops")] {
            assert!(
                s.contains(&(want.0.to_string(), want.1.to_string())),
                "{want:?} in {s:?}"
            );
        }
    }

    #[test]
    fn expiry() {
        assert!(!expired(0, 100));
        assert!(expired(100, 100));
        assert!(!expired(101, 100));
        // Milliseconds are recognised.
        assert!(expired(1_700_000_000_000, 1_800_000_000));
        assert!(!expired(1_900_000_000_000, 1_800_000_000));
    }
}
