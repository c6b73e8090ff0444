//! `AccessCheck` and `BatchAccessCheck`: what the caller (or, on behalf
//! of a subject, the subject under the grant's limits) may do on a
//! resource, answered as an `AccessDecisionReceipt`. Anyone may check its
//! own access; a denial is a receipt with `allowed` false, not an error.

use aether_protocol::proto::{
    AccessCheckOperation, AccessCheckResponse, AccessDecisionReceipt, BatchAccessCheckOperation,
    BatchAccessCheckResponse, ResourceAccessRequest,
};

use super::grants::obo::OnBehalf;
use super::principal::check_id;
use super::resource::check_type;
use super::{Actor, Authz, Level, Resource};

/// Most requests in one batch.
const MAX_BATCH: usize = 256;

/// What the receipt says about who decided.
pub(crate) struct Parties<'a> {
    pub(crate) actor: &'a super::PrincipalId,
    /// `direct` or `on_behalf_of`.
    pub(crate) mode: &'a str,
    pub(crate) grant_id: &'a str,
    pub(crate) root_grant_id: &'a str,
    /// Unix ms when the grant expires (0: none).
    pub(crate) expires_at_ms: i64,
}

impl<'a> Parties<'a> {
    /// `actor` acting on behalf of `o`'s subject.
    pub(crate) fn on_behalf(actor: &'a super::PrincipalId, o: &'a OnBehalf) -> Self {
        Parties {
            actor,
            mode: "on_behalf_of",
            grant_id: &o.grant_id,
            root_grant_id: &o.root_grant_id,
            expires_at_ms: o.expires_at_ms,
        }
    }
}

fn receipt(
    authz: &Authz,
    who: &Actor<'_>,
    parties: &Parties<'_>,
    req: ResourceAccessRequest,
) -> Result<AccessDecisionReceipt, String> {
    check_type(&req.resource_type)?;
    check_id("resource_id", &req.resource_id)?;
    let need = Level::required(req.required_access_level);
    let d = authz.decide(who, Resource::new(&req.resource_type, &req.resource_id));
    let allowed = d.allows(need);
    Ok(AccessDecisionReceipt {
        decision_id: uuid::Uuid::new_v4().to_string(),
        allowed,
        decision: if allowed { "ALLOW" } else { "DENY" }.to_string(),
        effective_access_level: d.level.get(),
        actor: Some(parties.actor.to_ref()),
        subject: Some(who.principal.to_ref()),
        root_subject: Some(who.principal.to_ref()),
        authority_mode: parties.mode.to_string(),
        grant_id: parties.grant_id.to_string(),
        root_grant_id: parties.root_grant_id.to_string(),
        evaluated_at_ms: crate::expiring::unix_ms() as i64,
        expires_at_ms: parties.expires_at_ms,
        denial_code: if allowed {
            String::new()
        } else {
            "ERR_PERMISSION_DENIED".to_string()
        },
        delivery_target: String::new(),
        request: Some(req),
    })
}

/// Answers an `AccessCheck` for `who`.
pub(crate) fn access_check(
    authz: &Authz,
    who: &Actor<'_>,
    parties: &Parties<'_>,
    op: AccessCheckOperation,
) -> AccessCheckResponse {
    let mut resp = AccessCheckResponse {
        request_id: op.request_id,
        ..Default::default()
    };
    match op.access {
        None => resp.error = "access is required".to_string(),
        Some(req) => match receipt(authz, who, parties, req) {
            Ok(r) => {
                resp.success = true;
                resp.decision = Some(r);
            }
            Err(e) => resp.error = e,
        },
    }
    resp
}

/// Answers a `BatchAccessCheck` for `who`: all decided, or none.
pub(crate) fn batch_access_check(
    authz: &Authz,
    who: &Actor<'_>,
    parties: &Parties<'_>,
    op: BatchAccessCheckOperation,
) -> BatchAccessCheckResponse {
    let mut resp = BatchAccessCheckResponse {
        request_id: op.request_id,
        ..Default::default()
    };
    if op.access.len() > MAX_BATCH {
        resp.error = format!(
            "{} requests in one batch; the limit is {MAX_BATCH}",
            op.access.len()
        );
        return resp;
    }
    let decided: Result<Vec<_>, String> = op
        .access
        .into_iter()
        .map(|r| receipt(authz, who, parties, r))
        .collect();
    match decided {
        Ok(d) => {
            resp.success = true;
            resp.decisions = d;
        }
        Err(e) => resp.error = e,
    }
    resp
}
