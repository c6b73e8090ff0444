//! Resolving an `AuthorizationContext` (§6.9): direct contexts are
//! ignored; an on-behalf-of context names a subject and a grant that must
//! be live, issued for that subject, and held by the caller (its
//! delegate). The decision is then the subject's, capped by the grant.

use aether_protocol::proto::{AclAuthorityGrantInfo, AuthorizationContext, ResolvedAuthorityInfo};

use super::super::Authz;
use super::super::decide::{Actor, Limit};
use super::super::level::Level;
use super::super::principal::PrincipalId;
use super::book::live;
use super::{NOT_VALID, now_ms, to_ms};

/// A resolved on-behalf-of context.
#[derive(Debug, Clone)]
pub(crate) struct OnBehalf {
    /// Whose rights are used.
    pub(crate) subject: PrincipalId,
    /// The subject's home workspace (agents and tasks), for its owner level.
    pub(crate) workspace: String,
    /// The grant's limits.
    pub(crate) limit: Limit,
    pub(crate) grant_id: String,
    pub(crate) root_grant_id: String,
    /// Unix ms.
    pub(crate) expires_at_ms: i64,
    /// The grant summary a forwarded context carries (§8.2 step 4).
    pub(crate) resolved: ResolvedAuthorityInfo,
}

impl OnBehalf {
    /// The subject as the engine decides for it (never a superadmin).
    pub(crate) fn actor(&self) -> Actor<'_> {
        Actor {
            principal: &self.subject,
            workspace: &self.workspace,
            superadmin: false,
            system: false,
            limit: Some(&self.limit),
        }
    }
}

/// The limits a grant puts on its subject's rights.
pub(crate) fn limit_of(g: &AclAuthorityGrantInfo) -> Limit {
    Limit {
        max: max_level(g.max_access_level),
        workspaces: g.workspace_scope.clone(),
        resources: g
            .resource_scope
            .iter()
            .map(|e| (e.resource_type.clone(), e.patterns.clone()))
            .collect(),
    }
}

/// A grant's `max_access_level` (0: READ_WRITE; anything else rounds up
/// to the ACL scale).
pub(crate) fn max_level(n: i32) -> Level {
    if n <= 0 {
        Level::READ_WRITE
    } else {
        Level::required(n)
    }
}

/// Resolves `ctx` for `caller`: `None` for no context or a direct one,
/// the subject and limits for a valid on-behalf-of one, the refusal's
/// text otherwise.
pub(crate) fn resolve(
    authz: &Authz,
    caller: &PrincipalId,
    ctx: Option<&AuthorizationContext>,
) -> Result<Option<OnBehalf>, String> {
    let Some(ctx) = ctx else {
        return Ok(None);
    };
    match ctx.authority_mode.as_str() {
        "" | "direct" if ctx.subject.is_none() && ctx.grant_id.is_empty() => Ok(None),
        "" | "direct" => Err(
            "invalid authorization context: direct mode carries no subject or grant".to_string(),
        ),
        "on_behalf_of" => {
            let Some(subject) = ctx.subject.as_ref() else {
                return Err("invalid authorization context: subject is required".to_string());
            };
            if ctx.grant_id.is_empty() {
                return Err("invalid authorization context: grant_id is required".to_string());
            }
            let subject = PrincipalId::parse(subject)
                .map_err(|e| format!("invalid authorization context: {e}"))?;
            let grant = authz
                .read_grants(|b| b.grants.get(&ctx.grant_id).cloned())
                .ok_or_else(|| NOT_VALID.to_string())?;
            check_grant(&grant, caller, &subject)?;
            Ok(Some(OnBehalf {
                workspace: subject.home_workspace().unwrap_or_default().to_string(),
                subject,
                limit: limit_of(&grant),
                grant_id: grant.grant_id.clone(),
                root_grant_id: grant.root_grant_id.clone(),
                expires_at_ms: to_ms(grant.expires_at),
                resolved: summary(&grant),
            }))
        }
        _ => Err("invalid authorization context: unknown authority mode".to_string()),
    }
}

/// What a forwarded context says of the grant that resolved it: its root
/// subject, audience, level cap, workspace scope and expiry.
fn summary(g: &AclAuthorityGrantInfo) -> ResolvedAuthorityInfo {
    ResolvedAuthorityInfo {
        root_subject: g.root_subject.clone().or_else(|| g.subject.clone()),
        audience_type: g.audience_type.clone(),
        audience_id: g.audience_id.clone(),
        max_access_level: max_level(g.max_access_level).get(),
        workspace_scope: g.workspace_scope.clone(),
        expires_at_ms: to_ms(g.expires_at),
    }
}

/// Whether `g` is live and lets `delegate` act for `subject`.
pub(crate) fn check_grant(
    g: &AclAuthorityGrantInfo,
    delegate: &PrincipalId,
    subject: &PrincipalId,
) -> Result<(), String> {
    let holds = g.delegate.as_ref().is_some_and(|d| delegate.is(d));
    let names = g.subject.as_ref().is_some_and(|s| subject.is(s));
    if holds && names && live(g, now_ms()) {
        Ok(())
    } else {
        Err(NOT_VALID.to_string())
    }
}
