//! `ResolveAuthorityRequest` → `ResolveAuthorityResponse`: whether a grant
//! lets an actor (the caller unless named) act for a subject, and what the
//! grant says. Resolving for another actor needs
//! `capability/resolve_authority` (READ). Every failure reads the same.

use aether_protocol::proto::{
    AuthorityGrantInfo, ResolveAuthorityRequest, ResolveAuthorityResponse, ResolvedAuthority,
};

use super::grant_op::Caller;
use crate::authz::Level;
use crate::authz::grants::obo::check_grant;
use crate::authz::grants::{NOT_VALID, to_ms};
use crate::authz::principal::PrincipalId;
use crate::authz::resource::{Resource, capability};
use crate::context::Context;

/// Answers `req` from `caller`.
pub(crate) fn resolve_authority(
    cx: &Context,
    caller: &Caller<'_>,
    req: ResolveAuthorityRequest,
) -> ResolveAuthorityResponse {
    let request_id = req.request_id.clone();
    match run(cx, caller, req) {
        Ok(authority) => ResolveAuthorityResponse {
            request_id,
            ok: true,
            error: String::new(),
            authority: Some(authority),
        },
        Err(error) => ResolveAuthorityResponse {
            request_id,
            ok: false,
            error,
            authority: None,
        },
    }
}

fn run(
    cx: &Context,
    caller: &Caller<'_>,
    req: ResolveAuthorityRequest,
) -> Result<ResolvedAuthority, String> {
    let me = &caller.handle.acl;
    let actor = match req.actor.as_ref() {
        Some(a) if !a.principal_type.is_empty() || !a.principal_id.is_empty() => {
            PrincipalId::parse(a).map_err(|e| format!("invalid actor: {e}"))?
        }
        _ => me.clone(),
    };
    if actor != *me
        && !cx.authz.allows(
            &caller.handle.authz_actor(caller.workspace),
            Resource::capability(capability::RESOLVE_AUTHORITY),
            Level::READ,
        )
    {
        return Err(
            "resolving authority for another actor requires capability/resolve_authority"
                .to_string(),
        );
    }
    let subject = PrincipalId::parse(&req.subject.clone().unwrap_or_default())
        .map_err(|e| format!("invalid subject: {e}"))?;
    let g = cx
        .authz
        .read_grants(|b| b.grants.get(&req.grant_id).cloned())
        .ok_or_else(|| NOT_VALID.to_string())?;
    check_grant(&g, &actor, &subject)?;
    let audience_matches = (req.audience_type.is_empty() || req.audience_type == g.audience_type)
        && (req.audience_id.is_empty() || req.audience_id == g.audience_id);
    if !audience_matches {
        return Err(NOT_VALID.to_string());
    }
    let root = g.root_subject.clone().unwrap_or_default();
    Ok(ResolvedAuthority {
        actor: Some(actor.to_ref()),
        subject: Some(subject.to_ref()),
        grant: Some(AuthorityGrantInfo {
            grant_id: g.grant_id.clone(),
            subject_type: subject.ptype.name().to_string(),
            subject_id: subject.id.clone(),
            root_subject_type: root.principal_type,
            root_subject_id: root.principal_id,
            audience_type: g.audience_type.clone(),
            audience_id: g.audience_id.clone(),
            max_access_level: g.max_access_level,
            workspace_scope: g.workspace_scope.clone(),
            // The proto documents seconds here.
            expires_at: to_ms(g.expires_at) / 1000,
            revoked: g.revoked,
        }),
    })
}
