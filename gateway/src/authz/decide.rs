//! How a level is decided for a principal on a resource.
//!
//! 1. A superadmin session (the admin key; every session in dev mode)
//!    has SUPERADMIN on everything.
//! 2. The **owner** level: a principal has READ_WRITE on the workspace it
//!    is in (agents and tasks: their own; users: the one they switched
//!    to). Rules cannot take it away (revoke the credential instead).
//! 3. Otherwise the highest level of the live **rules** that name one of
//!    the principal's subjects and cover the resource; without any, the
//!    **fallback policy** of the category `{principal type}_{resource
//!    type}` if one was set; without one, the **built-in** level below.
//!    The result is the higher of 2 and 3.
//!
//! Built-in levels (each category can be changed with
//! SET_FALLBACK_POLICY): users READ_WRITE on every workspace
//! (`user_workspace`); agents, tasks and services READ_WRITE on the
//! `global` and `user-shared` KV scopes (`{type}_kv_scope`); everything
//! else NONE: another workspace, the admin families, capabilities, the
//! workflow engine's and metrics bridge's shared KV. So with no rule
//! configured a principal keeps to its own workspace and the tenant-wide
//! KV, and only superadmin sessions administer.
//!
//! 4. Acting on behalf of a subject under an authority grant, the
//!    subject's level is decided as above (never as a superadmin) and then
//!    capped by the grant's [`Limit`]: its maximum level, its workspace
//!    scope and its resource scope.

use super::level::Level;
use super::principal::{PType, PrincipalId};
use super::resource::{Resource, covers, rtype};
use super::rules::AclData;

/// Who asks, for a decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actor<'a> {
    pub(crate) principal: &'a PrincipalId,
    /// The workspace it is in now (empty for workspace-less principals).
    pub(crate) workspace: &'a str,
    /// Whether the session holds every right (admin key, dev mode).
    pub(crate) superadmin: bool,
    /// Whether it has the system-level rights of §6.1 (an authenticated
    /// orchestrator or workflow engine): session administration and audit
    /// queries (see [`gates`](super::gates)).
    pub(crate) system: bool,
    /// The limits of the authority grant it acts under, if any.
    pub(crate) limit: Option<&'a Limit>,
}

impl<'a> Actor<'a> {
    /// A principal acting for itself.
    pub(crate) fn direct(principal: &'a PrincipalId, workspace: &'a str, superadmin: bool) -> Self {
        Actor {
            principal,
            workspace,
            superadmin,
            system: false,
            limit: None,
        }
    }

    /// The same actor, with (or without) the system-level rights of §6.1.
    pub(crate) fn with_system(self, system: bool) -> Self {
        Actor { system, ..self }
    }
}

/// What an authority grant lets its holder do with the subject's rights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limit {
    /// The highest level.
    pub(crate) max: Level,
    /// Workspace patterns (empty, `*` or `_subject_workspaces`: any).
    pub(crate) workspaces: Vec<String>,
    /// Resource type -> id patterns; a type not listed is not limited.
    pub(crate) resources: Vec<(String, Vec<String>)>,
}

impl Limit {
    /// `level` on `r`, capped by this limit.
    pub(crate) fn cap(&self, r: Resource<'_>, level: Level) -> Level {
        let any = |patterns: &[String], id: &str| {
            patterns.is_empty()
                || patterns
                    .iter()
                    .any(|p| p == "_subject_workspaces" || covers(p, id))
        };
        if r.rtype == rtype::WORKSPACE && !any(&self.workspaces, r.id) {
            return Level::NONE;
        }
        for (t, patterns) in &self.resources {
            if t == r.rtype && !any(patterns, r.id) {
                return Level::NONE;
            }
        }
        level.min(self.max)
    }
}

/// Where a decided level came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Superadmin,
    Owner,
    Rule,
    Fallback,
    Builtin,
}

impl Via {
    /// How explanations name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Via::Superadmin => "superadmin session",
            Via::Owner => "own workspace",
            Via::Rule => "explicit rule",
            Via::Fallback => "fallback policy",
            Via::Builtin => "built-in default",
        }
    }
}

/// A decided level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) level: Level,
    pub(crate) via: Via,
}

impl Decision {
    /// Whether the level reaches `need`.
    pub(crate) fn allows(self, need: Level) -> bool {
        self.level >= need
    }
}

/// The built-in level of a principal type on a resource type (no rule,
/// no fallback policy). KV scope resources are checked for the `global`
/// and `user-shared` scopes only (the workspace-bound scopes check the
/// workspace).
pub(crate) fn builtin(ptype: PType, rtype_: &str) -> Level {
    match (ptype, rtype_) {
        (PType::User, rtype::WORKSPACE) => Level::READ_WRITE,
        (PType::Agent | PType::Task | PType::Service, rtype::KV_SCOPE) => Level::READ_WRITE,
        _ => Level::NONE,
    }
}

/// The owner level of `a` on `r`.
pub(crate) fn owner(a: &Actor<'_>, r: Resource<'_>) -> Level {
    if r.rtype == rtype::WORKSPACE && !a.workspace.is_empty() && r.id == a.workspace {
        Level::READ_WRITE
    } else {
        Level::NONE
    }
}

/// The fallback category of a principal type and resource type.
pub(crate) fn category(ptype: PType, rtype: &str) -> String {
    format!("{}_{rtype}", ptype.name())
}

/// Decides `a`'s level on `r` from `data` at `now_s`.
pub(crate) fn decide(data: &AclData, a: &Actor<'_>, r: Resource<'_>, now_s: i64) -> Decision {
    let d = decide_uncapped(data, a, r, now_s);
    match a.limit {
        Some(limit) => Decision {
            level: limit.cap(r, d.level),
            via: d.via,
        },
        None => d,
    }
}

fn decide_uncapped(data: &AclData, a: &Actor<'_>, r: Resource<'_>, now_s: i64) -> Decision {
    if a.superadmin && a.limit.is_none() {
        return Decision {
            level: Level::SUPERADMIN,
            via: Via::Superadmin,
        };
    }
    let own = owner(a, r);
    let p = a.principal;
    let ruled = if data.rules.is_empty()
        || (data.only_direct_rules() && !data.has_rules_for(p.ptype.name(), &p.id))
    {
        None
    } else {
        let subjects = data.subjects(p, now_s);
        data.matching(p, &subjects, r, now_s)
            .iter()
            .filter_map(|rule| Level::from_wire(rule.access_level).ok())
            .max()
    };
    let (level, via) = match ruled {
        Some(l) => (l, Via::Rule),
        None => match fallback(data, p.ptype, r.rtype) {
            Some(l) => (l, Via::Fallback),
            None => (builtin(p.ptype, r.rtype), Via::Builtin),
        },
    };
    if own > level {
        Decision {
            level: own,
            via: Via::Owner,
        }
    } else {
        Decision { level, via }
    }
}

/// The fallback level set for the category, if any.
pub(crate) fn fallback(data: &AclData, ptype: PType, rtype: &str) -> Option<Level> {
    if data.fallbacks.is_empty() {
        return None;
    }
    data.fallbacks
        .get(&category(ptype, rtype))
        .and_then(|f| Level::from_wire(f.fallback_access_level).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::{AclFallbackPolicyInfo, AclRuleInfo};

    fn agent() -> PrincipalId {
        PrincipalId::parse_parts("agent", "ag::w::i::s").unwrap()
    }

    #[test]
    fn without_rules_a_principal_keeps_to_its_workspace() {
        let d = AclData::default();
        let p = agent();
        let a = Actor::direct(&p, "w", false);
        let ws = |w| decide(&d, &a, Resource::workspace(w), 0);
        assert_eq!(ws("w").level, Level::READ_WRITE);
        assert_eq!(ws("w").via, Via::Owner);
        assert_eq!(ws("other").level, Level::NONE);
        let global = Resource::new(rtype::KV_SCOPE, "global");
        assert_eq!(decide(&d, &a, global, 0).level, Level::READ_WRITE);
        let admin = Resource::new(rtype::ADMIN, "admin/acl");
        assert_eq!(decide(&d, &a, admin, 0).level, Level::NONE);
        let su = Actor {
            superadmin: true,
            ..a
        };
        assert_eq!(decide(&d, &su, admin, 0).level, Level::SUPERADMIN);
    }

    #[test]
    fn rules_then_fallbacks_then_builtins() {
        let mut d = AclData::default();
        let p = agent();
        let a = Actor::direct(&p, "w", false);
        d.fallbacks.insert(
            "agent_workspace".into(),
            AclFallbackPolicyInfo {
                fallback_access_level: 10,
                ..Default::default()
            },
        );
        let other = Resource::workspace("other");
        assert_eq!(
            decide(&d, &a, other, 0),
            Decision {
                level: Level::READ,
                via: Via::Fallback
            }
        );
        d.insert_rule(AclRuleInfo {
            rule_id: "r".into(),
            principal_type: "agent".into(),
            principal_id: "ag::w::i::s".into(),
            resource_type: "workspace".into(),
            resource_id: "*".into(),
            access_level: 0,
            expires_at: 50,
            ..Default::default()
        });
        // An explicit NONE beats the fallback, but not the own workspace.
        assert_eq!(decide(&d, &a, other, 10).level, Level::NONE);
        assert_eq!(
            decide(&d, &a, Resource::workspace("w"), 10).level,
            Level::READ_WRITE
        );
        // Expired: the fallback again.
        assert_eq!(decide(&d, &a, other, 60).level, Level::READ);
    }

    #[test]
    fn wildcard_and_glob_rules_apply() {
        let mut d = AclData::default();
        let p = agent();
        let a = Actor::direct(&p, "w", false);
        let rule = |id: &str, pt: &str, pid: &str, ws: &str| AclRuleInfo {
            rule_id: id.into(),
            principal_type: pt.into(),
            principal_id: pid.into(),
            resource_type: "workspace".into(),
            resource_id: ws.into(),
            access_level: 10,
            ..Default::default()
        };
        d.insert_rule(rule("any", "wildcard", "*", "open"));
        d.insert_rule(rule("glob", "agent", "ag::w::*", "team"));
        d.insert_rule(rule("other", "agent", "ag::x::*", "secret"));
        let ws = |d: &AclData, w| decide(d, &a, Resource::workspace(w), 0).level;
        assert_eq!(ws(&d, "open"), Level::READ);
        assert_eq!(ws(&d, "team"), Level::READ);
        assert_eq!(ws(&d, "secret"), Level::NONE);
        d.remove_rule("glob");
        d.remove_rule("any");
        assert_eq!(ws(&d, "team"), Level::NONE);
        assert_eq!(ws(&d, "open"), Level::NONE);
    }

    #[test]
    fn grants_cap_the_subject() {
        let d = AclData::default();
        let p = agent();
        let limit = Limit {
            max: Level::READ,
            workspaces: vec!["w".into()],
            resources: vec![("kv_scope".into(), vec!["user-*".into()])],
        };
        let a = Actor {
            limit: Some(&limit),
            ..Actor::direct(&p, "w", true)
        };
        // Never a superadmin under a grant; capped at READ.
        assert_eq!(
            decide(&d, &a, Resource::workspace("w"), 0).level,
            Level::READ
        );
        let global = Resource::new(rtype::KV_SCOPE, "global");
        assert_eq!(decide(&d, &a, global, 0).level, Level::NONE);
        let shared = Resource::new(rtype::KV_SCOPE, "user-shared");
        assert_eq!(decide(&d, &a, shared, 0).level, Level::READ);
    }
}
