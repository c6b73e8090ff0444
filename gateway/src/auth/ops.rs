//! `TokenOperation` → `TokenResponse` (§6.5), for administrators only.
//!
//! Every reply echoes `request_id`. Refusals are `success: false` with an
//! `error` that names the rule broken, never a secret or the offending
//! value; nothing is stored. CREATE answers `plaintext_token` (shown this
//! once) and `created_token` once the token is on disk. REVOKE and DELETE
//! refuse new connections at once and end the live sessions that
//! authenticated with the token (`Signal{FORCE_DISCONNECT}` then
//! UNAUTHENTICATED "API token revoked"). Creations, revocations, deletions
//! and refused attempts are audited.

use aether_protocol::proto::{
    Signal, TokenOperation, TokenResponse, signal::SignalType, token_operation::OpType,
};
use tonic::Status;

use super::tokens::spec::NewToken;
use super::{Auth, now_s};
use crate::audit::AuditEvent;
use crate::context::Context;
use crate::context::handle::SessionHandle;

/// The refusal for a caller who is not an administrator.
pub(crate) const NOT_ADMIN: &str = "token operations require administrator privileges \
     (the admin key or a token with the admin scope)";

/// Why sessions of a revoked (or deleted, or expired) token end.
const REVOKED: &str = "API token revoked";

fn op_name(op: i32) -> &'static str {
    match OpType::try_from(op) {
        Ok(OpType::List) => "list",
        Ok(OpType::Get) => "get",
        Ok(OpType::Create) => "create",
        Ok(OpType::Delete) => "delete",
        Ok(OpType::Revoke) => "revoke",
        Err(_) => "unknown",
    }
}

/// Ends every live session authenticated with token `id`; how many.
pub(crate) fn end_sessions_of(cx: &Context, id: &str, why: &str) -> usize {
    let sessions: Vec<_> = cx
        .sessions()
        .into_iter()
        .filter(|s| s.credential.token_id() == Some(id))
        .collect();
    for s in &sessions {
        cx.remove(s);
        s.terminate(
            Some(Signal {
                r#type: SignalType::ForceDisconnect as i32,
                reason: why.to_string(),
            }),
            Status::unauthenticated(why.to_string()),
        );
    }
    sessions.len()
}

/// Ends the sessions of tokens that expired (the sweeper calls it).
pub(crate) fn end_expired(auth: &Auth, cx: &Context) {
    let now = now_s();
    if !auth.tokens.any_expired(now) {
        return;
    }
    for s in cx.sessions() {
        if let Some(id) = s.credential.token_id()
            && !auth.tokens.is_valid(id, now)
        {
            cx.remove(&s);
            s.terminate(
                Some(Signal {
                    r#type: SignalType::ForceDisconnect as i32,
                    reason: "API token expired".to_string(),
                }),
                Status::unauthenticated("API token expired"),
            );
        }
    }
}

/// Answers `op` from `caller`.
pub(crate) async fn token_op(
    auth: &Auth,
    cx: &Context,
    caller: &SessionHandle,
    op: TokenOperation,
) -> TokenResponse {
    let mut resp = TokenResponse {
        request_id: op.request_id.clone(),
        ..Default::default()
    };
    let name = op_name(op.op);
    let event = || {
        AuditEvent::new("token", name)
            .by(caller.actor())
            .resource("token", op.token_id.clone())
    };
    if !caller.administrator {
        resp.error = NOT_ADMIN.to_string();
        drop(cx.audit.record(event().failed(NOT_ADMIN)));
        return resp;
    }
    let outcome: Result<(), String> = match OpType::try_from(op.op) {
        Ok(OpType::List) => {
            let (tokens, total) = auth.tokens.list(&op.filter.unwrap_or_default());
            resp.tokens = tokens;
            resp.total_count = i32::try_from(total).unwrap_or(i32::MAX);
            return ok(resp);
        }
        Ok(OpType::Get) => match auth.tokens.get(&op.token_id) {
            Some(t) => {
                resp.token = Some(t);
                return ok(resp);
            }
            None => Err("token not found".to_string()),
        },
        Ok(OpType::Create) => match NewToken::from_request(op.create_request.clone()) {
            Err(e) => Err(e),
            Ok(spec) => match auth.tokens.create(spec, now_s()) {
                Err(e) => Err(e),
                Ok((plaintext, info, commit)) => {
                    let audit = cx.audit.record(
                        AuditEvent::new("token", "create")
                            .by(caller.actor())
                            .resource("token", info.id.clone())
                            .meta("name", info.name.clone())
                            .meta("principal_type", info.principal_type.clone())
                            .meta("scopes", info.scopes.join(",")),
                    );
                    match (commit.await, audit.await) {
                        (Ok(()), _) => {
                            resp.message = "token created".to_string();
                            resp.plaintext_token = plaintext;
                            resp.created_token = Some(info);
                            return ok(resp);
                        }
                        (Err(e), _) => Err(format!("token not stored: {e}")),
                    }
                }
            },
        },
        Ok(OpType::Revoke) | Ok(OpType::Delete) => {
            let revoke = op.op == OpType::Revoke as i32;
            let done = if revoke {
                auth.tokens.revoke(&op.token_id, now_s())
            } else {
                auth.tokens.delete(&op.token_id)
            };
            match done {
                Err(e) => Err(e),
                Ok((info, commit)) => {
                    // Marked in memory first, so a connection admitted
                    // after this scan sees the mark (see the handshake).
                    let ended = end_sessions_of(cx, &info.id, REVOKED);
                    let audit = cx.audit.record(
                        event()
                            .meta("name", info.name.clone())
                            .meta("sessions_ended", ended.to_string()),
                    );
                    match (commit.await, audit.await) {
                        (Ok(()), _) => {
                            resp.message = if revoke { "revoked" } else { "deleted" }.to_string();
                            return ok(resp);
                        }
                        (Err(e), _) => Err(format!("change not stored: {e}")),
                    }
                }
            }
        }
        Err(_) => Err("unknown token operation".to_string()),
    };
    if let Err(e) = outcome {
        if name != "get" {
            drop(cx.audit.record(event().failed(e.clone())));
        }
        resp.error = e;
    }
    resp
}

fn ok(mut resp: TokenResponse) -> TokenResponse {
    resp.success = true;
    resp
}
