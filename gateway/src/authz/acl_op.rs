//! `ACLOperation` → `ACLResponse` (§6.7): rules, fallback policies,
//! cleanup, groups, roles and EXPLAIN_ACCESS, each behind its gate.
//!
//! * Reads (LIST_RULES, GET_RULE, fallback policies, groups, roles,
//!   EXPLAIN_ACCESS) need READ on `admin/acl`, except that anyone may read
//!   the rules that name itself or a workspace it may read, and explain
//!   its own access.
//! * Changes need ADMIN on `admin/acl`, or, for rules on a workspace,
//!   MANAGE on it (levels up to READ_WRITE, for a named principal) or
//!   ADMIN on it (up to ADMIN). Nobody but a superadmin session grants
//!   SUPERADMIN, and nobody grants a level on an `admin` or `capability`
//!   resource that it does not hold itself; adding a member to a group or
//!   assigning a role counts as granting each of the group's or role's
//!   rules.
//! * GRANT of a rule that exists for the same principal and resource
//!   replaces its level, expiry and reason (one rule per pair).
//! * `granted_by`, `created_by` and `updated_by` are the caller's
//!   principal, whatever the request says.
//! * Replies echo `request_id`; a change is answered once it is on disk.

use aether_protocol::proto::{
    AclCleanupResult, AclFallbackPolicyInfo, AclGroupInfo, AclGroupMemberInfo, AclOperation,
    AclResponse, AclRoleAssignmentInfo, AclRoleInfo, AclRuleFilter, AclRuleInfo, PrincipalRef,
    acl_operation::OpType, downstream_message::Payload,
};
use prost::Message;

use super::decide::{Actor, builtin};
use super::explain::explain;
use super::gates::Family;
use super::level::Level;
use super::principal::{PType, PrincipalId, check_id, clip};
use super::resource::{Resource, check_id_pattern, check_type, is_glob, rtype};
use super::rules::{AclData, Edge, GROUP, ROLE, WILDCARD, edge_key, expired, key};
use super::{Authz, now_s};
use crate::answer::Answer;
use crate::store::{Commit, Mutation, Table};

/// Most rules the ACL holds.
const MAX_RULES: usize = 100_000;
/// Most groups plus roles, and most memberships plus assignments.
const MAX_ENTRIES: usize = 100_000;
/// Longest reason or description.
const MAX_TEXT: usize = 1024;
/// Most metadata entries on a group or role.
const MAX_METADATA: usize = 64;
/// Default and largest LIST page.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Wildcard subjects rules may name.
const WILDCARDS: [&str; 5] = [
    "_any_agent",
    "_any_task",
    "_any_service",
    "_any_authenticated_user",
    "*",
];

type Outcome = Result<(AclResponse, Commit), String>;

fn ok(resp: AclResponse) -> Outcome {
    Ok((
        AclResponse {
            success: true,
            ..resp
        },
        Commit::done(),
    ))
}

/// Answers `op` from `caller`.
pub(crate) fn acl_op(authz: &Authz, caller: &Actor<'_>, op: AclOperation) -> Answer {
    let rid = op.request_id.clone();
    let outcome = match OpType::try_from(op.op) {
        Ok(kind) => run(authz, caller, kind, op),
        Err(_) => Err("unknown ACL operation".to_string()),
    };
    let outcome = outcome.map(|(mut resp, commit)| {
        resp.request_id.clone_from(&rid);
        (resp, commit)
    });
    Answer::settle(
        outcome,
        |r| Payload::Acl(Box::new(r)),
        move |error| AclResponse {
            success: false,
            error,
            request_id: rid,
            ..Default::default()
        },
    )
}

fn run(authz: &Authz, caller: &Actor<'_>, kind: OpType, op: AclOperation) -> Outcome {
    let now = now_s();
    let read = || authz.admin(caller, Family::Acl, Level::READ);
    let admin = || authz.gate(caller, Family::Acl, Level::ADMIN);
    match kind {
        OpType::ListRules => list_rules(authz, caller, op.rule_filter.unwrap_or_default()),
        OpType::GetRule => {
            let rule = authz.read(|d| d.rules.get(&op.rule_id).cloned());
            match rule.filter(|r| visible(authz, caller, r)) {
                Some(rule) => ok(AclResponse {
                    rule: Some(rule),
                    ..Default::default()
                }),
                None => Err("rule not found".to_string()),
            }
        }
        OpType::Grant => grant(authz, caller, op, now),
        OpType::Revoke => revoke(authz, caller, op),
        OpType::QueryAudit => {
            gate(read())?;
            ok(AclResponse {
                message:
                    "ACL decisions are not audited by this gateway; AuditQuery holds the audit log"
                        .to_string(),
                ..Default::default()
            })
        }
        OpType::GetFallbackPolicy => {
            gate(read())?;
            let c = first_non_empty(
                &op.rule_category,
                op.fallback_request
                    .as_ref()
                    .map(|f| f.rule_category.as_str()),
            );
            let (ptype, rt) = parse_category(c)?;
            let stored = authz.read(|d| d.fallbacks.get(c).cloned());
            let policy = stored.unwrap_or_else(|| {
                let level = builtin(ptype, rt);
                AclFallbackPolicyInfo {
                    policy_id: "builtin".to_string(),
                    rule_category: c.to_string(),
                    fallback_access_level: level.get(),
                    fallback_access_level_name: level.name().to_string(),
                    updated_by: "_system".to_string(),
                    updated_at: 0,
                }
            });
            ok(AclResponse {
                fallback_policy: Some(policy),
                ..Default::default()
            })
        }
        OpType::SetFallbackPolicy => set_fallback(authz, caller, op, now),
        OpType::CleanupExpired => {
            admin()?;
            let (n, commit) = authz.write(|d| cleanup(d, now));
            Ok((
                AclResponse {
                    success: true,
                    message: format!("{n} expired entries deleted"),
                    cleanup_result: Some(AclCleanupResult {
                        deleted_count: n as i64,
                        message: format!("{n} expired entries deleted"),
                    }),
                    ..Default::default()
                },
                commit,
            ))
        }
        OpType::CleanupAuditLogs => {
            admin()?;
            ok(AclResponse {
                cleanup_result: Some(AclCleanupResult {
                    deleted_count: 0,
                    message: "no ACL decision audit is kept by this gateway".to_string(),
                }),
                ..Default::default()
            })
        }
        OpType::CreateGroup | OpType::CreateRole => create_set(authz, caller, kind, op, now),
        OpType::DeleteGroup | OpType::DeleteRole => delete_set(authz, caller, kind, op),
        OpType::GetGroup => {
            gate(read())?;
            let name = set_name(&op, kind)?;
            let g = authz.read(|d| d.groups.get(&name).cloned());
            ok(AclResponse {
                group: Some(g.ok_or_else(|| format!("group {:?} not found", clip(&name)))?),
                ..Default::default()
            })
        }
        OpType::GetRole => {
            gate(read())?;
            let name = set_name(&op, kind)?;
            let r = authz.read(|d| d.roles.get(&name).cloned());
            ok(AclResponse {
                role: Some(r.ok_or_else(|| format!("role {:?} not found", clip(&name)))?),
                ..Default::default()
            })
        }
        OpType::ListGroups => {
            gate(read())?;
            ok(AclResponse {
                groups: authz.read(|d| d.groups.values().cloned().collect()),
                ..Default::default()
            })
        }
        OpType::ListRoles => {
            gate(read())?;
            ok(AclResponse {
                roles: authz.read(|d| d.roles.values().cloned().collect()),
                ..Default::default()
            })
        }
        OpType::AddGroupMember | OpType::AssignRole => add_edge(authz, caller, kind, op, now),
        OpType::RemoveGroupMember | OpType::UnassignRole => remove_edge(authz, caller, kind, op),
        OpType::ListGroupMembers => {
            gate(read())?;
            let name = set_name(&op, kind)?;
            ok(AclResponse {
                group_members: authz.read(|d| {
                    d.members
                        .iter()
                        .filter(|((g, _, _), _)| *g == name)
                        .map(|(_, m)| m.clone())
                        .collect()
                }),
                ..Default::default()
            })
        }
        OpType::ListRoleAssignments => {
            gate(read())?;
            let name = set_name(&op, kind)?;
            ok(AclResponse {
                role_assignments: authz.read(|d| {
                    d.assignments
                        .iter()
                        .filter(|((r, _, _), _)| *r == name)
                        .map(|(_, a)| a.clone())
                        .collect()
                }),
                ..Default::default()
            })
        }
        OpType::ListPrincipalGroups | OpType::ListPrincipalRoles => {
            let p = principal_arg(op.principal.as_ref())?;
            gate(read() || p == *caller.principal)?;
            let subjects = authz.read(|d| d.subjects(&p, now));
            let want = if kind == OpType::ListPrincipalGroups {
                GROUP
            } else {
                ROLE
            };
            let names: Vec<&String> = subjects
                .iter()
                .filter(|(t, _)| t == want)
                .map(|(_, n)| n)
                .collect();
            let mut resp = AclResponse::default();
            authz.read(|d| {
                if kind == OpType::ListPrincipalGroups {
                    resp.groups = names
                        .iter()
                        .filter_map(|n| d.groups.get(*n).cloned())
                        .collect();
                } else {
                    resp.roles = names
                        .iter()
                        .filter_map(|n| d.roles.get(*n).cloned())
                        .collect();
                }
            });
            ok(resp)
        }
        OpType::ExplainAccess => {
            let p = principal_arg(op.principal.as_ref())?;
            gate(read() || p == *caller.principal)?;
            check_type(&op.resource_type)?;
            check_id_pattern(&op.resource_id)?;
            let need = Level::required(op.required_level);
            let r = Resource::new(&op.resource_type, &op.resource_id);
            let explanation = authz.read(|d| explain(d, &p, r, need, now));
            ok(AclResponse {
                explanation: Some(explanation),
                ..Default::default()
            })
        }
    }
}

fn gate(allowed: bool) -> Result<(), String> {
    if allowed {
        Ok(())
    } else {
        Err(Family::Acl.denial().to_string())
    }
}

fn first_non_empty<'a>(a: &'a str, b: Option<&'a str>) -> &'a str {
    if a.is_empty() {
        b.unwrap_or_default()
    } else {
        a
    }
}

/// Parses a fallback category `{principal type}_{resource type}`.
fn parse_category(c: &str) -> Result<(PType, &str), String> {
    if c.is_empty() {
        return Err("rule_category is required".to_string());
    }
    for t in PType::ALL {
        if let Some(rt) = c.strip_prefix(t.name()).and_then(|r| r.strip_prefix('_')) {
            check_type(rt)?;
            return Ok((t, rt));
        }
    }
    Err(format!(
        "invalid rule_category {:?}: use {{principal type}}_{{resource type}}, such as agent_workspace",
        clip(c)
    ))
}

fn principal_arg(r: Option<&PrincipalRef>) -> Result<PrincipalId, String> {
    PrincipalId::parse(r.ok_or("principal is required")?)
}

/// Whether `caller` may see `rule` without READ on `admin/acl`.
fn visible(authz: &Authz, caller: &Actor<'_>, rule: &AclRuleInfo) -> bool {
    authz.admin(caller, Family::Acl, Level::READ)
        || names(caller.principal, &rule.principal_type, &rule.principal_id)
        || (rule.resource_type == rtype::WORKSPACE
            && !is_glob(&rule.resource_id)
            && authz.allows(caller, Resource::workspace(&rule.resource_id), Level::READ))
}

/// Whether the subject `t`/`id` is exactly `p`.
fn names(p: &PrincipalId, t: &str, id: &str) -> bool {
    t == p.ptype.name() && id == p.id
}

fn list_rules(authz: &Authz, caller: &Actor<'_>, f: AclRuleFilter) -> Outcome {
    let all = authz.admin(caller, Family::Acl, Level::READ);
    let subject = if f.principal_type.is_empty() {
        None
    } else {
        Some(normalize_subject(&f.principal_type, &f.principal_id, true)?)
    };
    if !all {
        // Without READ on the ACL: the rules that name oneself, or those on
        // a workspace one may read.
        let own = subject
            .as_ref()
            .is_some_and(|(t, id)| names(caller.principal, t, id));
        let workspace = f.resource_type == rtype::WORKSPACE
            && !f.resource_id.is_empty()
            && authz.allows(caller, Resource::workspace(&f.resource_id), Level::READ);
        gate(own || workspace)?;
    }
    let limit = usize::try_from(f.limit)
        .ok()
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let offset = usize::try_from(f.offset).unwrap_or(0);
    let matches = |r: &AclRuleInfo| {
        subject.as_ref().is_none_or(|(t, id)| {
            r.principal_type == *t && (id.is_empty() || r.principal_id == *id)
        }) && (f.resource_type.is_empty() || r.resource_type == f.resource_type)
            && (f.resource_id.is_empty() || r.resource_id == f.resource_id)
    };
    let (rules, total) = authz.read(|d| {
        let found: Vec<&AclRuleInfo> = d.rules.values().filter(|r| matches(r)).collect();
        let total = found.len();
        let page = found
            .into_iter()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        (page, total)
    });
    ok(AclResponse {
        rules,
        total_rules: i32::try_from(total).unwrap_or(i32::MAX),
        ..Default::default()
    })
}

/// Normalizes a rule subject: a principal type (exact id, or a glob when
/// `glob_ok`), `wildcard`, `group` or `role`. An empty id is kept empty
/// (filters).
fn normalize_subject(t: &str, id: &str, filter: bool) -> Result<Edge, String> {
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        WILDCARD => {
            if !(WILDCARDS.contains(&id) || filter && id.is_empty()) {
                return Err(format!(
                    "unknown wildcard {:?}: use one of {}",
                    clip(id),
                    WILDCARDS.join(", ")
                ));
            }
            Ok((WILDCARD.to_string(), id.to_string()))
        }
        GROUP | ROLE => {
            if !(filter && id.is_empty()) {
                check_name(id)?;
            }
            Ok((lower, id.to_string()))
        }
        _ => {
            let ptype =
                PType::parse(t).ok_or_else(|| format!("unknown principal type {:?}", clip(t)))?;
            if filter && id.is_empty() {
                return Ok((ptype.name().to_string(), String::new()));
            }
            if is_glob(id) {
                check_id("principal_id", id)?;
                return Ok((ptype.name().to_string(), id.to_string()));
            }
            let p = PrincipalId::parse_parts(t, id)?;
            Ok((p.ptype.name().to_string(), p.id))
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    check_id("name", name)?;
    if name.len() > 128 || name.contains('\0') {
        return Err("name must be at most 128 bytes, without NUL".to_string());
    }
    Ok(())
}

fn check_text(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_TEXT {
        return Err(format!(
            "{what} is {} bytes; the limit is {MAX_TEXT}",
            s.len()
        ));
    }
    Ok(())
}

/// Whether `caller` may hold rule `rule` being created or removed.
fn may_grant(
    authz: &Authz,
    caller: &Actor<'_>,
    subject_type: &str,
    r: Resource<'_>,
    level: Level,
) -> Result<(), String> {
    if caller.superadmin && caller.limit.is_none() {
        return Ok(());
    }
    if level >= Level::SUPERADMIN {
        return Err("not authorized: only a superadmin session grants SUPERADMIN".to_string());
    }
    let acl_admin = authz.admin(caller, Family::Acl, Level::ADMIN);
    if matches!(r.rtype, rtype::ADMIN | rtype::CAPABILITY) {
        gate(acl_admin)?;
        if !authz.allows(caller, r, level) {
            return Err(format!(
                "not authorized to grant {} on {}:{}: the caller does not hold it",
                level.name(),
                r.rtype,
                clip(r.id)
            ));
        }
        return Ok(());
    }
    if acl_admin {
        return Ok(());
    }
    // Workspace managers, for named principals only.
    let principal = PType::parse(subject_type).is_some();
    let ws = r.rtype == rtype::WORKSPACE && !is_glob(r.id);
    let own = if ws {
        authz.decide(caller, r).level
    } else {
        Level::NONE
    };
    let allowed = principal
        && ws
        && ((level <= Level::READ_WRITE && own >= Level::MANAGE)
            || (own >= Level::ADMIN && level <= own));
    gate(allowed)
}

fn grant(authz: &Authz, caller: &Actor<'_>, op: AclOperation, now: i64) -> Outcome {
    let g = op
        .grant_request
        .ok_or("grant_request is required for GRANT")?;
    let (st, sid) = normalize_subject(&g.principal_type, &g.principal_id, false)?;
    check_type(&g.resource_type)?;
    check_id_pattern(&g.resource_id)?;
    check_text("reason", &g.reason)?;
    let level = Level::from_wire(g.access_level)?;
    if g.expires_at < 0 || (g.expires_at > 0 && expired(g.expires_at, now)) {
        return Err("expires_at is in the past".to_string());
    }
    let r = Resource::new(&g.resource_type, &g.resource_id);
    may_grant(authz, caller, &st, r, level)?;
    if matches!(st.as_str(), GROUP | ROLE) {
        let exists = authz.read(|d| {
            if st == GROUP {
                d.groups.contains_key(&sid)
            } else {
                d.roles.contains_key(&sid)
            }
        });
        if !exists {
            return Err(format!("{st} {:?} not found", clip(&sid)));
        }
    }
    let granted_by = caller.principal.to_string();
    let (result, commit) = authz.write(|d| {
        let existing = d
            .rules
            .values()
            .find(|x| {
                x.principal_type == st
                    && x.principal_id == sid
                    && x.resource_type == g.resource_type
                    && x.resource_id == g.resource_id
            })
            .map(|x| x.rule_id.clone());
        if existing.is_none() && d.rules.len() >= MAX_RULES {
            return (
                Err(format!("the ACL holds its limit of {MAX_RULES} rules")),
                vec![],
            );
        }
        let rule = AclRuleInfo {
            rule_id: existing.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            principal_type: st.clone(),
            principal_id: sid.clone(),
            resource_type: g.resource_type.clone(),
            resource_id: g.resource_id.clone(),
            access_level: level.get(),
            access_level_name: level.name().to_string(),
            granted_by,
            granted_at: now,
            expires_at: g.expires_at,
            reason: g.reason.clone(),
        };
        let m = d.insert_rule(rule.clone());
        (Ok(rule), vec![m])
    });
    let rule = result?;
    Ok((
        AclResponse {
            success: true,
            message: "access granted".to_string(),
            rule: Some(rule),
            ..Default::default()
        },
        commit,
    ))
}

fn revoke(authz: &Authz, caller: &Actor<'_>, op: AclOperation) -> Outcome {
    let found = if !op.rule_id.is_empty() {
        authz.read(|d| d.rules.get(&op.rule_id).cloned())
    } else {
        let f = op
            .rule_filter
            .ok_or("rule_id or rule_filter is required for REVOKE")?;
        let (st, sid) = normalize_subject(&f.principal_type, &f.principal_id, false)?;
        if f.resource_type.is_empty() || f.resource_id.is_empty() {
            return Err("rule_filter needs principal and resource for REVOKE".to_string());
        }
        authz.read(|d| {
            d.rules
                .values()
                .find(|x| {
                    x.principal_type == st
                        && x.principal_id == sid
                        && x.resource_type == f.resource_type
                        && x.resource_id == f.resource_id
                })
                .cloned()
        })
    };
    // Missing and invisible rules read the same.
    let rule = found
        .filter(|r| visible(authz, caller, r))
        .ok_or("rule not found")?;
    let level = Level::from_wire(rule.access_level).unwrap_or(Level::SUPERADMIN);
    may_grant(
        authz,
        caller,
        &rule.principal_type,
        Resource::new(&rule.resource_type, &rule.resource_id),
        level,
    )?;
    let (_, commit) = authz.write(|d| match d.remove_rule(&rule.rule_id) {
        Some((_, m)) => ((), vec![m]),
        None => ((), vec![]),
    });
    Ok((
        AclResponse {
            success: true,
            message: "access revoked".to_string(),
            rule: Some(rule),
            ..Default::default()
        },
        commit,
    ))
}

fn set_fallback(authz: &Authz, caller: &Actor<'_>, op: AclOperation, now: i64) -> Outcome {
    authz.gate(caller, Family::Acl, Level::ADMIN)?;
    let f = op
        .fallback_request
        .ok_or("fallback_request is required for SET_FALLBACK_POLICY")?;
    let c = first_non_empty(&f.rule_category, Some(&op.rule_category)).to_string();
    let (_, rt) = parse_category(&c)?;
    let level = Level::from_wire(f.fallback_access_level)?;
    may_grant(authz, caller, "", Resource::new(rt, "*"), level)?;
    let updated_by = caller.principal.to_string();
    let (policy, commit) = authz.write(|d| {
        let policy = AclFallbackPolicyInfo {
            policy_id: d
                .fallbacks
                .get(&c)
                .map(|p| p.policy_id.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            rule_category: c.clone(),
            fallback_access_level: level.get(),
            fallback_access_level_name: level.name().to_string(),
            updated_by,
            updated_at: now,
        };
        d.fallbacks.insert(c.clone(), policy.clone());
        let m = Mutation::put(
            Table::Acl,
            format!("{}{c}", key::FALLBACK),
            policy.encode_to_vec(),
        );
        (policy, vec![m])
    });
    Ok((
        AclResponse {
            success: true,
            message: "fallback policy updated".to_string(),
            fallback_policy: Some(policy),
            ..Default::default()
        },
        commit,
    ))
}

/// Deletes expired rules, memberships and assignments.
fn cleanup(d: &mut AclData, now: i64) -> (usize, Vec<Mutation>) {
    let mut muts = Vec::new();
    let rules: Vec<String> = d
        .rules
        .values()
        .filter(|r| expired(r.expires_at, now))
        .map(|r| r.rule_id.clone())
        .collect();
    for id in rules {
        if let Some((_, m)) = d.remove_rule(&id) {
            muts.push(m);
        }
    }
    d.members.retain(|(g, t, id), m| {
        let keep = !expired(m.expires_at, now);
        if !keep {
            muts.push(Mutation::delete(
                Table::Acl,
                edge_key(key::MEMBER, g, t, id),
            ));
        }
        keep
    });
    d.assignments.retain(|(r, t, id), a| {
        let keep = !expired(a.expires_at, now);
        if !keep {
            muts.push(Mutation::delete(
                Table::Acl,
                edge_key(key::ASSIGN, r, t, id),
            ));
        }
        keep
    });
    (muts.len(), muts)
}

/// The group or role an op names (`name`, else the request's).
fn set_name(op: &AclOperation, kind: OpType) -> Result<String, String> {
    let from_request = match kind {
        OpType::CreateGroup => op.group_request.as_ref().map(|g| g.name.as_str()),
        OpType::CreateRole => op.role_request.as_ref().map(|r| r.name.as_str()),
        _ => None,
    };
    let name = first_non_empty(&op.name, from_request);
    check_name(name)?;
    Ok(name.to_string())
}

fn check_metadata(m: &std::collections::HashMap<String, String>) -> Result<(), String> {
    if m.len() > MAX_METADATA || m.iter().any(|(k, v)| k.len() + v.len() > MAX_TEXT) {
        return Err(format!(
            "metadata is limited to {MAX_METADATA} entries of at most {MAX_TEXT} bytes"
        ));
    }
    Ok(())
}

fn create_set(
    authz: &Authz,
    caller: &Actor<'_>,
    kind: OpType,
    op: AclOperation,
    now: i64,
) -> Outcome {
    authz.gate(caller, Family::Acl, Level::ADMIN)?;
    let name = set_name(&op, kind)?;
    let group = kind == OpType::CreateGroup;
    let (description, metadata) = if group {
        let g = op.group_request.unwrap_or_default();
        (g.description, g.metadata)
    } else {
        let r = op.role_request.unwrap_or_default();
        (r.description, r.metadata)
    };
    check_text("description", &description)?;
    check_metadata(&metadata)?;
    let created_by = caller.principal.to_string();
    let what = if group { "group" } else { "role" };
    let (result, commit) = authz.write(|d| {
        let exists = if group {
            d.groups.contains_key(&name)
        } else {
            d.roles.contains_key(&name)
        };
        if exists {
            return (
                Err(format!("{what} {:?} already exists", clip(&name))),
                vec![],
            );
        }
        if d.groups.len() + d.roles.len() >= MAX_ENTRIES {
            return (Err("too many groups and roles".to_string()), vec![]);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut resp = AclResponse {
            message: format!("{what} created"),
            ..Default::default()
        };
        let m = if group {
            let g = AclGroupInfo {
                group_id: id,
                group_name: name.clone(),
                description,
                created_by,
                created_at: now,
                metadata,
            };
            d.groups.insert(name.clone(), g.clone());
            let m = Mutation::put(
                Table::Acl,
                format!("{}{name}", key::GROUP),
                g.encode_to_vec(),
            );
            resp.group = Some(g);
            m
        } else {
            let r = AclRoleInfo {
                role_id: id,
                role_name: name.clone(),
                description,
                created_by,
                created_at: now,
                metadata,
            };
            d.roles.insert(name.clone(), r.clone());
            let m = Mutation::put(
                Table::Acl,
                format!("{}{name}", key::ROLE),
                r.encode_to_vec(),
            );
            resp.role = Some(r);
            m
        };
        (Ok(resp), vec![m])
    });
    let resp = result?;
    Ok((
        AclResponse {
            success: true,
            ..resp
        },
        commit,
    ))
}

/// Deletes a group or role with its memberships or assignments and the
/// rules naming it.
fn delete_set(authz: &Authz, caller: &Actor<'_>, kind: OpType, op: AclOperation) -> Outcome {
    authz.gate(caller, Family::Acl, Level::ADMIN)?;
    let name = set_name(&op, kind)?;
    let group = kind == OpType::DeleteGroup;
    let what = if group { GROUP } else { ROLE };
    let (result, commit) = authz.write(|d| {
        let existed = if group {
            d.groups.remove(&name).is_some()
        } else {
            d.roles.remove(&name).is_some()
        };
        if !existed {
            return (Err(format!("{what} {:?} not found", clip(&name))), vec![]);
        }
        let mut muts = vec![Mutation::delete(
            Table::Acl,
            format!("{}{name}", if group { key::GROUP } else { key::ROLE }),
        )];
        if group {
            d.members.retain(|(g, t, id), _| {
                let drop = *g == name || (t == GROUP && *id == name);
                if drop {
                    muts.push(Mutation::delete(
                        Table::Acl,
                        edge_key(key::MEMBER, g, t, id),
                    ));
                }
                !drop
            });
            d.assignments.retain(|(r, t, id), _| {
                let drop = t == GROUP && *id == name;
                if drop {
                    muts.push(Mutation::delete(
                        Table::Acl,
                        edge_key(key::ASSIGN, r, t, id),
                    ));
                }
                !drop
            });
        } else {
            d.assignments.retain(|(r, t, id), _| {
                let drop = *r == name;
                if drop {
                    muts.push(Mutation::delete(
                        Table::Acl,
                        edge_key(key::ASSIGN, r, t, id),
                    ));
                }
                !drop
            });
        }
        let naming: Vec<String> = d
            .rules
            .values()
            .filter(|r| r.principal_type == what && r.principal_id == name)
            .map(|r| r.rule_id.clone())
            .collect();
        for id in naming {
            if let Some((_, m)) = d.remove_rule(&id) {
                muts.push(m);
            }
        }
        (Ok(()), muts)
    });
    result?;
    Ok((
        AclResponse {
            success: true,
            message: format!("{what} deleted"),
            ..Default::default()
        },
        commit,
    ))
}

/// Checks that `caller` may pass on every rule of group or role `name`.
fn may_pass_on(authz: &Authz, caller: &Actor<'_>, what: &str, name: &str) -> Result<(), String> {
    let rules: Vec<AclRuleInfo> = authz.read(|d| {
        d.rules
            .values()
            .filter(|r| r.principal_type == what && r.principal_id == name)
            .cloned()
            .collect()
    });
    for r in rules {
        let level = Level::from_wire(r.access_level).unwrap_or(Level::SUPERADMIN);
        may_grant(
            authz,
            caller,
            what,
            Resource::new(&r.resource_type, &r.resource_id),
            level,
        )?;
    }
    Ok(())
}

fn add_edge(
    authz: &Authz,
    caller: &Actor<'_>,
    kind: OpType,
    op: AclOperation,
    now: i64,
) -> Outcome {
    authz.gate(caller, Family::Acl, Level::ADMIN)?;
    let name = set_name(&op, kind)?;
    let group = kind == OpType::AddGroupMember;
    let what = if group { GROUP } else { ROLE };
    let (mt, mid, expires_at) = if group {
        let m = op
            .member_request
            .ok_or("member_request is required for ADD_GROUP_MEMBER")?;
        (m.member_type, m.member_id, m.expires_at)
    } else {
        let a = op
            .assignment_request
            .ok_or("assignment_request is required for ASSIGN_ROLE")?;
        (a.assignee_type, a.assignee_id, a.expires_at)
    };
    let (mt, mid) = member(&mt, &mid, group)?;
    if expires_at < 0 || (expires_at > 0 && expired(expires_at, now)) {
        return Err("expires_at is in the past".to_string());
    }
    may_pass_on(authz, caller, what, &name)?;
    let granted_by = caller.principal.to_string();
    let (result, commit) = authz.write(|d| {
        let exists = if group {
            d.groups.contains_key(&name)
        } else {
            d.roles.contains_key(&name)
        };
        if !exists {
            return (Err(format!("{what} {:?} not found", clip(&name))), vec![]);
        }
        if mt == GROUP && !d.groups.contains_key(&mid) {
            return (Err(format!("group {:?} not found", clip(&mid))), vec![]);
        }
        if group && mt == GROUP && mid == name {
            return (Err("a group cannot contain itself".to_string()), vec![]);
        }
        if d.members.len() + d.assignments.len() >= MAX_ENTRIES {
            return (
                Err("too many memberships and assignments".to_string()),
                vec![],
            );
        }
        let k = (name.clone(), mt.clone(), mid.clone());
        let mut resp = AclResponse::default();
        let m = if group {
            let info = AclGroupMemberInfo {
                group_name: name.clone(),
                member_type: mt.clone(),
                member_id: mid.clone(),
                granted_by,
                granted_at: now,
                expires_at,
            };
            d.members.insert(k, info.clone());
            resp.message = "member added".to_string();
            resp.group_members = vec![info.clone()];
            Mutation::put(
                Table::Acl,
                edge_key(key::MEMBER, &name, &mt, &mid),
                info.encode_to_vec(),
            )
        } else {
            let info = AclRoleAssignmentInfo {
                role_name: name.clone(),
                assignee_type: mt.clone(),
                assignee_id: mid.clone(),
                granted_by,
                granted_at: now,
                expires_at,
            };
            d.assignments.insert(k, info.clone());
            resp.message = "role assigned".to_string();
            resp.role_assignments = vec![info.clone()];
            Mutation::put(
                Table::Acl,
                edge_key(key::ASSIGN, &name, &mt, &mid),
                info.encode_to_vec(),
            )
        };
        (Ok(resp), vec![m])
    });
    let resp = result?;
    Ok((
        AclResponse {
            success: true,
            ..resp
        },
        commit,
    ))
}

/// A member or assignee: a principal (exact id) or, nested, a group.
fn member(t: &str, id: &str, group: bool) -> Result<Edge, String> {
    if t.eq_ignore_ascii_case(GROUP) {
        check_name(id)?;
        return Ok((GROUP.to_string(), id.to_string()));
    }
    let _ = group;
    let p = PrincipalId::parse_parts(t, id)?;
    if is_glob(&p.id) {
        return Err("members are named exactly, without * or ?".to_string());
    }
    Ok((p.ptype.name().to_string(), p.id))
}

fn remove_edge(authz: &Authz, caller: &Actor<'_>, kind: OpType, op: AclOperation) -> Outcome {
    authz.gate(caller, Family::Acl, Level::ADMIN)?;
    let name = set_name(&op, kind)?;
    let group = kind == OpType::RemoveGroupMember;
    let (t, id) = match (&op.principal, &op.member_request, &op.assignment_request) {
        (Some(p), _, _) => (p.principal_type.clone(), p.principal_id.clone()),
        (None, Some(m), _) if group => (m.member_type.clone(), m.member_id.clone()),
        (None, _, Some(a)) if !group => (a.assignee_type.clone(), a.assignee_id.clone()),
        _ => return Err("principal is required".to_string()),
    };
    let (mt, mid) = member(&t, &id, group)?;
    let (result, commit) = authz.write(|d| {
        let k = (name.clone(), mt.clone(), mid.clone());
        let (found, prefix) = if group {
            (d.members.remove(&k).is_some(), key::MEMBER)
        } else {
            (d.assignments.remove(&k).is_some(), key::ASSIGN)
        };
        if !found {
            return (Err("no such member".to_string()), vec![]);
        }
        (
            Ok(()),
            vec![Mutation::delete(
                Table::Acl,
                edge_key(prefix, &name, &mt, &mid),
            )],
        )
    });
    result?;
    Ok((
        AclResponse {
            success: true,
            message: if group {
                "member removed"
            } else {
                "role unassigned"
            }
            .to_string(),
            ..Default::default()
        },
        commit,
    ))
}
