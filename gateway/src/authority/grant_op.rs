//! `AuthorityGrantOperation` → `AuthorityGrantResponse` (§6.9).
//!
//! * EXCHANGE: the caller lends its own rights (or, with
//!   `capability/exchange_authority_grants`, those of the principal of
//!   another live session, `source_session_id`) to a delegate: the
//!   principal named by `audience_type`/`audience_id` (the caller itself
//!   when it exchanges another session's rights and names no audience).
//! * DERIVE / DERIVE_FOR_TARGET: the delegate of a grant that may be
//!   delegated passes it on, attenuated (scopes within the parent's, level
//!   and expiry no higher, one hop fewer). DERIVE_FOR_TARGET returns the
//!   live grant it derived before for the same target, if any.
//! * GET: the grant's subject, delegate and issuer (and superadmins) see
//!   it; to anyone else it does not exist.
//! * RENEW: the issuer or the subject moves the expiry, never past
//!   `renewable_until` nor past the parent's expiry.
//! * REVOKE: the issuer, the subject or the delegate; every grant derived
//!   from it is revoked too, and the live sessions of their delegates and
//!   subjects are told (`authority_grant_revocation`).
//! * LIST_MY_GRANTS (the caller is the delegate) and LIST_GRANTS_ON_ME
//!   (the caller is the subject): live grants unless `include_revoked`.
//! * BATCH_EXCHANGE: up to [`MAX_BATCH`] exchanges.
//!
//! Changes are answered once on disk; `request_id` is echoed.

use aether_protocol::proto::{
    AclAuthorityGrantInfo, AclAuthorityGrantResourceScopeEntry, AuthorityGrantDeriveRequest,
    AuthorityGrantExchangeRequest, AuthorityGrantListRequest, AuthorityGrantOperation,
    AuthorityGrantResponse, authority_grant_operation::OpType, downstream_message::Payload,
};

use super::notify;
use super::scope;
use crate::answer::Answer;
use crate::authz::Authz;
use crate::authz::Level;
use crate::authz::grants::book::live;
use crate::authz::grants::obo::max_level;
use crate::authz::grants::{DEFAULT_TTL_MS, now_ms, to_ms};
use crate::authz::principal::{PrincipalId, clip};
use crate::authz::resource::{Resource, capability, covers};
use crate::context::Context;
use crate::context::handle::SessionHandle;
use crate::store::{Commit, Mutation};

/// Most exchanges in one batch.
pub(crate) const MAX_BATCH: usize = 64;
/// Most metadata entries.
const MAX_METADATA: usize = 64;
/// Longest reason or metadata value.
const MAX_TEXT: usize = 1024;
/// Most hops a grant may be passed on.
const MAX_HOPS: i32 = 8;
/// Default and largest LIST page.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// How long clients may cache a grant they got (seconds).
const CACHE_HINT_S: i32 = 60;

/// Who asks.
pub(crate) struct Caller<'a> {
    pub(crate) handle: &'a SessionHandle,
    /// Its current workspace.
    pub(crate) workspace: &'a str,
}

impl Caller<'_> {
    fn me(&self) -> &PrincipalId {
        &self.handle.acl
    }
}

type Outcome = Result<(AuthorityGrantResponse, Commit), String>;

/// Answers `op` from `caller`.
pub(crate) fn grant_op(cx: &Context, caller: &Caller<'_>, op: AuthorityGrantOperation) -> Answer {
    let rid = op.request_id.clone();
    let outcome = match OpType::try_from(op.op) {
        Ok(kind) => run(cx, caller, kind, op),
        Err(_) => Err("unknown authority grant operation".to_string()),
    };
    let outcome = outcome.map(|(mut resp, commit)| {
        resp.success = true;
        resp.request_id.clone_from(&rid);
        if resp.grant.is_some() {
            resp.cache_hint_ttl_seconds = CACHE_HINT_S;
        }
        (resp, commit)
    });
    Answer::settle(
        outcome,
        |r| Payload::AuthorityGrant(Box::new(r)),
        move |error| AuthorityGrantResponse {
            success: false,
            error,
            request_id: rid,
            ..Default::default()
        },
    )
}

fn one(grant: AclAuthorityGrantInfo, message: &str) -> AuthorityGrantResponse {
    AuthorityGrantResponse {
        grant: Some(grant),
        message: message.to_string(),
        ..Default::default()
    }
}

fn run(cx: &Context, caller: &Caller<'_>, kind: OpType, op: AuthorityGrantOperation) -> Outcome {
    let authz = &cx.authz;
    match kind {
        OpType::Exchange => {
            let req = op.exchange_request.unwrap_or_default();
            let g = exchange_grant(cx, caller, req)?;
            let (g, commit) = store_new(authz, g)?;
            Ok((one(g, "authority grant issued"), commit))
        }
        OpType::BatchExchange => {
            let batch = op.batch_exchange_request.unwrap_or_default();
            if batch.requests.len() > MAX_BATCH {
                return Err(format!(
                    "{} exchanges in one batch; the limit is {MAX_BATCH}",
                    batch.requests.len()
                ));
            }
            let mut made = Vec::new();
            let mut error = String::new();
            for req in batch.requests {
                match exchange_grant(cx, caller, req) {
                    Ok(g) => made.push(g),
                    Err(e) => {
                        if error.is_empty() {
                            error = e;
                        }
                        if batch.stop_on_first_error {
                            break;
                        }
                    }
                }
            }
            let (grants, commit) = store_all(authz, made)?;
            Ok((
                AuthorityGrantResponse {
                    total: grants.len() as i32,
                    grants,
                    error,
                    ..Default::default()
                },
                commit,
            ))
        }
        OpType::Derive => {
            let req = op.derive_request.unwrap_or_default();
            let g = derive(authz, caller, &req)?;
            let (g, commit) = store_new(authz, g)?;
            Ok((one(g, "authority grant derived"), commit))
        }
        OpType::DeriveForTarget => {
            let t = op.derive_for_target_request.unwrap_or_default();
            let target = t.target.clone().unwrap_or_default();
            let delegate =
                PrincipalId::parse(&target).map_err(|e| format!("invalid target: {e}"))?;
            let existing = authz.read_grants(|b| {
                b.grants
                    .values()
                    .find(|g| {
                        g.parent_grant_id == t.parent_grant_id
                            && live(g, now_ms())
                            && g.delegate.as_ref().is_some_and(|d| delegate.is(d))
                            && g.issued_by.as_ref().is_some_and(|i| caller.me().is(i))
                            && g.audience_type == t.audience_type
                            && g.audience_id == t.audience_id
                    })
                    .cloned()
            });
            if let Some(g) = existing {
                return Ok((one(g, "authority grant derived"), Commit::done()));
            }
            let req = AuthorityGrantDeriveRequest {
                parent_grant_id: t.parent_grant_id,
                delegate: Some(target),
                operation_scope: t.operation_scope,
                max_access_level: t.max_access_level,
                audience_type: t.audience_type,
                audience_id: t.audience_id,
                expires_at: t.expires_at,
                renewable_until: t.renewable_until,
                may_delegate: t.may_delegate,
                remaining_hops: t.remaining_hops,
                reason: t.reason,
                ..Default::default()
            };
            let g = derive(authz, caller, &req)?;
            let (g, commit) = store_new(authz, g)?;
            Ok((one(g, "authority grant derived"), commit))
        }
        OpType::Get => {
            let g = visible(authz, caller, &op.grant_id)?;
            Ok((one(g, ""), Commit::done()))
        }
        OpType::Renew => renew(authz, caller, op),
        OpType::Revoke => revoke(cx, caller, &op.grant_id),
        OpType::ListMyGrants => Ok((
            list(authz, op.list_request.unwrap_or_default(), |g| {
                g.delegate.as_ref().is_some_and(|d| caller.me().is(d))
            }),
            Commit::done(),
        )),
        OpType::ListGrantsOnMe => Ok((
            list(authz, op.list_request.unwrap_or_default(), |g| {
                g.subject.as_ref().is_some_and(|s| caller.me().is(s))
            }),
            Commit::done(),
        )),
    }
}

/// Stores a new grant (unless the book is full).
fn store_new(
    authz: &Authz,
    g: AclAuthorityGrantInfo,
) -> Result<(AclAuthorityGrantInfo, Commit), String> {
    let (mut grants, commit) = store_all(authz, vec![g])?;
    grants
        .pop()
        .map(|g| (g, commit))
        .ok_or_else(|| "authority grant not stored".to_string())
}

fn store_all(
    authz: &Authz,
    grants: Vec<AclAuthorityGrantInfo>,
) -> Result<(Vec<AclAuthorityGrantInfo>, Commit), String> {
    let (r, commit) = authz.write_grants(|b| {
        if b.grants.len() + b.requests.len() + grants.len()
            > crate::authz::grants::book::MAX_ENTRIES
        {
            return (Err("too many authority grants".to_string()), Vec::new());
        }
        let muts: Vec<Mutation> = grants.iter().map(|g| b.put_grant(g.clone())).collect();
        (Ok(grants), muts)
    });
    r.map(|g| (g, commit))
}

/// Checks the shape of the scopes of a request.
fn check_scopes(
    workspaces: &[String],
    resources: &[AclAuthorityGrantResourceScopeEntry],
    operations: &[String],
    reason: &str,
    metadata: &std::collections::HashMap<String, String>,
) -> Result<(), String> {
    scope::check(
        workspaces,
        resources
            .iter()
            .map(|e| (e.resource_type.as_str(), e.patterns.as_slice())),
        operations,
        &scope::Labels {
            workspace: "workspace_scope: ",
            operation: "operation_scope",
        },
    )?;
    if reason.len() > MAX_TEXT {
        return Err(format!("reason is longer than {MAX_TEXT} bytes"));
    }
    if metadata.len() > MAX_METADATA
        || metadata
            .iter()
            .any(|(k, v)| k.len() > MAX_TEXT || v.len() > MAX_TEXT)
    {
        return Err("metadata is too large".to_string());
    }
    Ok(())
}

/// A grant's expiry from a request's (`0`: the default), or a refusal.
fn expiry(requested: i64, now: i64, cap: Option<i64>) -> Result<i64, String> {
    let mut at = match to_ms(requested) {
        0 => now + DEFAULT_TTL_MS,
        t => t,
    };
    if at <= now {
        return Err("expires_at is in the past".to_string());
    }
    if let Some(cap) = cap.filter(|c| *c > 0) {
        at = at.min(cap);
    }
    Ok(at)
}

fn level_checked(n: i32) -> Result<i32, String> {
    if !(0..=50).contains(&n) {
        return Err(format!("invalid max_access_level {n}"));
    }
    Ok(max_level(n).get())
}

fn exchange_grant(
    cx: &Context,
    caller: &Caller<'_>,
    req: AuthorityGrantExchangeRequest,
) -> Result<AclAuthorityGrantInfo, String> {
    check_scopes(
        &req.workspace_scope,
        &req.resource_scope,
        &req.operation_scope,
        &req.reason,
        &req.metadata,
    )?;
    let me = caller.me().clone();
    let subject =
        if req.source_session_id.is_empty() || req.source_session_id == caller.handle.session_id {
            me.clone()
        } else {
            let src = cx
                .session(&req.source_session_id)
                .ok_or_else(|| "source session not found".to_string())?;
            if src.acl != me {
                let actor = caller.handle.authz_actor(caller.workspace);
                if !cx.authz.allows(
                    &actor,
                    Resource::capability(capability::EXCHANGE_AUTHORITY_GRANTS),
                    Level::READ_WRITE,
                ) {
                    // Whether the session exists is not the caller's business.
                    return Err("source session not found".to_string());
                }
            }
            src.acl.clone()
        };
    let delegate = if req.audience_type.is_empty() && req.audience_id.is_empty() {
        if subject == me {
            return Err(
                "audience_type and audience_id name the delegate and are required".to_string(),
            );
        }
        me.clone()
    } else {
        PrincipalId::parse_parts(&req.audience_type, &req.audience_id)
            .map_err(|e| format!("invalid audience: {e}"))?
    };
    let now = now_ms();
    let expires_at = expiry(req.expires_at, now, None)?;
    let renewable_until = to_ms(req.renewable_until);
    let id = format!("grant-{}", uuid::Uuid::new_v4());
    let level = level_checked(req.max_access_level)?;
    Ok(AclAuthorityGrantInfo {
        grant_id: id.clone(),
        root_grant_id: id,
        subject: Some(subject.to_ref()),
        delegate: Some(delegate.to_ref()),
        issued_by: Some(me.to_ref()),
        root_subject: Some(subject.to_ref()),
        parent_grant_id: String::new(),
        may_delegate: req.may_delegate,
        remaining_hops: req.remaining_hops.clamp(0, MAX_HOPS),
        workspace_scope: req.workspace_scope,
        resource_scope: req.resource_scope,
        operation_scope: req.operation_scope,
        max_access_level: level,
        access_level_name: max_level(level).name().to_string(),
        audience_type: req.audience_type,
        audience_id: req.audience_id,
        valid_while_audience_active: req.valid_while_audience_active,
        expires_at,
        renewable_until,
        renewed_at: 0,
        revoked: false,
        revoked_at: 0,
        reason: req.reason,
        metadata: req.metadata,
        created_at: now,
    })
}

/// Whether pattern `child` stays within `parents` (empty or `*`: anything).
fn within(parents: &[String], child: &str) -> bool {
    parents.is_empty()
        || parents
            .iter()
            .any(|p| p == "*" || p == child || (!child.contains(['*', '?']) && covers(p, child)))
}

/// A derived grant's scope: the parent's when none is asked for, else the
/// one asked for if the parent's covers every entry of it.
fn narrow(parent: &[String], asked: &[String], what: &str) -> Result<Vec<String>, String> {
    if asked.is_empty() {
        Ok(parent.to_vec())
    } else if asked.iter().all(|a| within(parent, a)) {
        Ok(asked.to_vec())
    } else {
        Err(format!("{what} exceeds the parent authority grant"))
    }
}

fn derive(
    authz: &Authz,
    caller: &Caller<'_>,
    req: &AuthorityGrantDeriveRequest,
) -> Result<AclAuthorityGrantInfo, String> {
    check_scopes(
        &req.workspace_scope,
        &req.resource_scope,
        &req.operation_scope,
        &req.reason,
        &req.metadata,
    )?;
    let me = caller.me().clone();
    let parent = authz
        .read_grants(|b| b.grants.get(&req.parent_grant_id).cloned())
        .filter(|g| live(g, now_ms()) && g.delegate.as_ref().is_some_and(|d| me.is(d)))
        .ok_or_else(|| "parent authority grant not found".to_string())?;
    if !parent.may_delegate || parent.remaining_hops <= 0 {
        return Err("the parent authority grant may not be delegated".to_string());
    }
    let delegate = PrincipalId::parse(&req.delegate.clone().unwrap_or_default())
        .map_err(|e| format!("invalid delegate: {e}"))?;
    let workspace_scope = narrow(
        &parent.workspace_scope,
        &req.workspace_scope,
        "workspace_scope",
    )?;
    let mut resource_scope = parent.resource_scope.clone();
    for e in &req.resource_scope {
        match resource_scope
            .iter_mut()
            .find(|p| p.resource_type == e.resource_type)
        {
            Some(p) if e.patterns.iter().all(|c| within(&p.patterns, c)) => {
                p.patterns = e.patterns.clone();
            }
            Some(_) => {
                return Err("resource_scope exceeds the parent authority grant".to_string());
            }
            None => resource_scope.push(e.clone()),
        }
    }
    let operation_scope = narrow(
        &parent.operation_scope,
        &req.operation_scope,
        "operation_scope",
    )?;
    let parent_level = max_level(parent.max_access_level);
    let level = match req.max_access_level {
        0 => parent_level,
        n => max_level(level_checked(n)?).min(parent_level),
    };
    let now = now_ms();
    let parent_expiry = to_ms(parent.expires_at);
    let expires_at = match req.expires_at {
        0 => parent_expiry,
        t => expiry(t, now, Some(parent_expiry))?,
    };
    let hops = match req.remaining_hops {
        n if n <= 0 => parent.remaining_hops - 1,
        n => n.min(parent.remaining_hops - 1),
    };
    let renewable_until = match (to_ms(req.renewable_until), to_ms(parent.renewable_until)) {
        (0, p) => p,
        (c, 0) => c,
        (c, p) => c.min(p),
    };
    let id = format!("grant-{}", uuid::Uuid::new_v4());
    Ok(AclAuthorityGrantInfo {
        grant_id: id,
        root_grant_id: parent.root_grant_id.clone(),
        subject: parent.subject.clone(),
        delegate: Some(delegate.to_ref()),
        issued_by: Some(me.to_ref()),
        root_subject: parent.root_subject.clone(),
        parent_grant_id: parent.grant_id.clone(),
        may_delegate: req.may_delegate && hops > 0,
        remaining_hops: hops,
        workspace_scope,
        resource_scope,
        operation_scope,
        max_access_level: level.get(),
        access_level_name: level.name().to_string(),
        audience_type: req.audience_type.clone(),
        audience_id: req.audience_id.clone(),
        valid_while_audience_active: req.valid_while_audience_active,
        expires_at,
        renewable_until,
        renewed_at: 0,
        revoked: false,
        revoked_at: 0,
        reason: req.reason.clone(),
        metadata: req.metadata.clone(),
        created_at: now,
    })
}

fn involves(g: &AclAuthorityGrantInfo, p: &PrincipalId) -> bool {
    [
        g.subject.as_ref(),
        g.delegate.as_ref(),
        g.issued_by.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|r| p.is(r))
}

/// The grant `id` if the caller may see it.
fn visible(authz: &Authz, caller: &Caller<'_>, id: &str) -> Result<AclAuthorityGrantInfo, String> {
    authz
        .read_grants(|b| b.grants.get(id).cloned())
        .filter(|g| caller.handle.administrator || involves(g, caller.me()))
        .ok_or_else(|| format!("authority grant {:?} not found", clip(id)))
}

fn renew(authz: &Authz, caller: &Caller<'_>, op: AuthorityGrantOperation) -> Outcome {
    let req = op.renew_request.unwrap_or_default();
    let id = if req.grant_id.is_empty() {
        op.grant_id
    } else {
        req.grant_id
    };
    let g = visible(authz, caller, &id)?;
    let me = caller.me();
    let may = caller.handle.administrator
        || [g.issued_by.as_ref(), g.subject.as_ref()]
            .into_iter()
            .flatten()
            .any(|r| me.is(r));
    if !may {
        return Err("only the issuer or the subject renews an authority grant".to_string());
    }
    if g.revoked {
        return Err("the authority grant is revoked".to_string());
    }
    let now = now_ms();
    let wanted = match (to_ms(req.expires_at), req.extend_seconds) {
        (0, 0) => return Err("expires_at or extend_seconds is required".to_string()),
        (0, s) if s < 0 => return Err("extend_seconds must be positive".to_string()),
        (0, s) => to_ms(g.expires_at).max(now) + i64::from(s) * 1000,
        (t, _) => t,
    };
    if wanted <= now {
        return Err("expires_at is in the past".to_string());
    }
    let renewable = to_ms(g.renewable_until);
    if renewable > 0 && wanted > renewable {
        return Err("expires_at is past renewable_until".to_string());
    }
    if !g.parent_grant_id.is_empty() {
        let parent = authz.read_grants(|b| {
            b.grants
                .get(&g.parent_grant_id)
                .map(|p| to_ms(p.expires_at))
        });
        if parent.is_some_and(|p| wanted > p) {
            return Err("expires_at is past the parent authority grant's".to_string());
        }
    }
    let (g, commit) = authz.write_grants(|b| match b.grants.get(&id).cloned() {
        Some(mut g) if !g.revoked => {
            g.expires_at = wanted;
            g.renewed_at = now;
            let m = b.put_grant(g.clone());
            (Some(g), vec![m])
        }
        _ => (None, Vec::new()),
    });
    let g = g.ok_or_else(|| "the authority grant is revoked".to_string())?;
    Ok((one(g, "authority grant renewed"), commit))
}

fn revoke(cx: &Context, caller: &Caller<'_>, id: &str) -> Outcome {
    let authz = &cx.authz;
    let g = visible(authz, caller, id)?;
    if g.revoked {
        return Ok((one(g, "authority grant revoked"), Commit::done()));
    }
    let now = now_ms();
    let (revoked, commit) = authz.write_grants(|b| b.revoke_tree(id, now));
    let cascade = revoked.len() > 1;
    notify::revoked(cx, &revoked, "revoked", cascade);
    let first = revoked
        .into_iter()
        .next()
        .ok_or_else(|| format!("authority grant {:?} not found", clip(id)))?;
    Ok((one(first, "authority grant revoked"), commit))
}

fn list(
    authz: &Authz,
    req: AuthorityGrantListRequest,
    mine: impl Fn(&AclAuthorityGrantInfo) -> bool,
) -> AuthorityGrantResponse {
    let now = now_ms();
    let limit = match req.limit {
        n if n <= 0 => DEFAULT_LIMIT,
        n => (n as usize).min(MAX_LIMIT),
    };
    let offset = req.offset.max(0) as usize;
    let matched: Vec<AclAuthorityGrantInfo> = authz.read_grants(|b| {
        b.grants
            .values()
            .filter(|g| mine(g))
            .filter(|g| req.include_revoked || live(g, now))
            .filter(|g| req.audience_type.is_empty() || g.audience_type == req.audience_type)
            .filter(|g| req.audience_id.is_empty() || g.audience_id == req.audience_id)
            .cloned()
            .collect()
    });
    AuthorityGrantResponse {
        total: matched.len() as i32,
        grants: matched.into_iter().skip(offset).take(limit).collect(),
        ..Default::default()
    }
}
