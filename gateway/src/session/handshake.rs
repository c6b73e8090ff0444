//! The connection handshake (§1.2): wait for `InitConnection`, resolve the
//! identity, check credentials, negotiate extensions, take the identity
//! lock, then send `ConnectionAck` (and a `ConfigSnapshot` to agents and
//! tasks) before the mailbox backlog.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aether_protocol::identity::{Principal, PrincipalKind, Segment};
use aether_protocol::proto::{
    BuildInfo, ConnectionAck, DownstreamMessage, InitConnection, NegotiatedExtension,
    UpstreamMessage, downstream_message, init_connection::ClientType, upstream_message,
};
use tonic::Status;

use crate::audit::{Actor, AuditEvent};
use crate::auth::{Attempt, Peer, Refused};
use crate::context::handle::{NewSession, SessionHandle, actor_type};
use crate::hub::Hub;
use crate::outbound::{Out, Outbox, Outlet};
use crate::push::Pusher;

/// `ConnectionAck.server_version`.
pub(crate) const SERVER_VERSION: &str = concat!("aether-rs-gateway ", env!("CARGO_PKG_VERSION"));

/// Why no extension is supported.
const EXTENSION_REJECTED: &str = "extension URI not supported by this gateway";

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Waits for the first upstream frame; `Ok(None)` when the client closed
/// the stream before sending anything.
async fn first_message(
    hub: &Hub,
    upstream: &mut super::Upstream,
) -> Result<Option<InitConnection>, Status> {
    let first = tokio::time::timeout(hub.cx.config.limits.init_timeout, upstream.message())
        .await
        .map_err(|_| Status::deadline_exceeded("timeout waiting for InitConnection"))??;
    match first {
        None => Ok(None),
        Some(aether_protocol::frames::Upstream::Frame(UpstreamMessage {
            payload: Some(upstream_message::Payload::Init(init)),
            ..
        })) => Ok(Some(*init)),
        Some(_) => Err(Status::invalid_argument(
            "first message must be InitConnection",
        )),
    }
}

/// The principal and generated id (pooled tasks) of a handshake.
fn resolve(init: &InitConnection) -> Result<(Principal, Option<String>), Status> {
    let client_type = init
        .client_type
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("invalid identity: unknown principal type"))?;
    let principal = Principal::from_client_type(client_type)
        .map_err(|e| Status::invalid_argument(format!("invalid identity: {e}")))?;
    Ok(match (principal, client_type) {
        (p, ClientType::Task(_)) if p.kind() == PrincipalKind::PooledTask => {
            (p, Some(uuid::Uuid::new_v4().to_string()))
        }
        (
            Principal::Orchestrator {
                implementation,
                specifier,
                supported_profiles,
            },
            _,
        ) if specifier.is_empty() => {
            let minted: String = uuid::Uuid::new_v4().to_string().chars().take(8).collect();
            let specifier = Segment::new(minted)
                .map_err(|e| Status::internal(format!("minted specifier: {e}")))?;
            (
                Principal::Orchestrator {
                    implementation,
                    specifier,
                    supported_profiles,
                },
                None,
            )
        }
        (p, _) => (p, None),
    })
}

/// One negotiation result per declared extension; the first required one
/// makes the handshake fail.
fn negotiate(init: &InitConnection) -> (Vec<NegotiatedExtension>, Option<String>) {
    let negotiated = init
        .extensions
        .iter()
        .map(|e| NegotiatedExtension {
            uri: e.uri.clone(),
            version: e.version.clone(),
            supported: false,
            rejection_reason: EXTENSION_REJECTED.to_string(),
        })
        .collect();
    let required = init
        .extensions
        .iter()
        .find(|e| e.required)
        .map(|e| e.uri.clone());
    (negotiated, required)
}

fn build_info() -> BuildInfo {
    BuildInfo {
        commit: String::new(),
        built_at: String::new(),
        runtime: "rust".to_string(),
        os: std::env::consts::OS.to_string(),
    }
}

fn downstream(payload: downstream_message::Payload) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    }
}

async fn send(tx: &Outbox, msg: DownstreamMessage) -> Result<(), Status> {
    tx.reply(msg)
        .await
        .map_err(|_| Status::cancelled("client went away"))
}

/// Records a refused connection in the audit log (attempts refused by the
/// throttle without a look are not, so a guesser cannot flood the log).
fn audit_refusal(hub: &Hub, principal: &Principal, identity: &str, peer: &Peer, r: &Refused) {
    if r.throttled {
        return;
    }
    let mut event = AuditEvent::new("authentication", "authenticate")
        .by(Actor {
            actor_type: actor_type(principal.kind()).to_string(),
            actor_id: identity.to_string(),
            session_id: String::new(),
            workspace: principal.workspace().unwrap_or_default().to_string(),
        })
        .resource("identity", identity)
        .failed(r.status.message())
        .meta("method", r.method)
        .meta("reason", r.reason);
    if let Some(ip) = peer.ip {
        event = event.meta("peer", ip.to_string());
    }
    if r.cooldown_started {
        event = event.meta("cooldown_started", "true");
    }
    drop(hub.cx.audit.record(event));
}

/// Runs the handshake; `Ok(None)` when the client left before `init`.
pub(crate) async fn perform(
    hub: &Hub,
    upstream: &mut super::Upstream,
    tx: &Outbox,
    outlet: Arc<Outlet>,
    peer: &Peer,
) -> Result<Option<Arc<SessionHandle>>, Status> {
    let Some(init) = first_message(hub, upstream).await? else {
        return Ok(None);
    };
    let (principal, assigned_id) = resolve(&init)?;
    let session_id = uuid::Uuid::new_v4().to_string();
    let identity = principal.identity_string_with(assigned_id.as_deref());
    let attempt = Attempt {
        principal: &principal,
        identity: &identity,
        credentials: &init.credentials,
        peer,
    };
    // A task token this gateway minted admits its worker (§1.5 rule 1).
    let authenticated = hub.auth.authenticate(&attempt, |token| {
        hub.tasks.check_task_token(token, &identity)
    });
    let auth = match authenticated {
        Ok(a) => a,
        Err(refused) => {
            audit_refusal(hub, &principal, &identity, peer, &refused);
            return Err(refused.status);
        }
    };
    let (negotiated_extensions, required) = negotiate(&init);
    let mut ack = ConnectionAck {
        session_id: session_id.clone(),
        resumed: false,
        assigned_id: assigned_id.clone().unwrap_or_default(),
        negotiated_extensions,
        server_supported_extensions: Vec::new(),
        server_version: SERVER_VERSION.to_string(),
        server_build_info: Some(build_info()),
        initial_connection_unix_ms: now_ms(),
        reconnection_count: 0,
    };
    if let Some(uri) = required {
        // Checked before the identity lock, so a doomed connection never
        // takes over (and kills) a live session.
        send(
            tx,
            downstream(downstream_message::Payload::ConnectionAck(Box::new(ack))),
        )
        .await?;
        return Err(Status::failed_precondition(format!(
            "ERR_EXTENSION_UNSUPPORTED: extension required but not supported: {uri}"
        )));
    }
    let topic = principal.topic_with(assigned_id.as_deref());
    let mailbox = topic.as_deref().map(|t| hub.cx.mailboxes.get_or_create(t));
    let handle = Arc::new(SessionHandle::new(NewSession {
        session_id,
        identity,
        topic,
        principal,
        admin: auth.system,
        administrator: auth.administrator,
        credential: auth.credential,
        mailbox,
        outlet,
        pusher: Pusher::new(tx),
        worker_task: auth.worker_task,
    }));
    let admission = match hub.cx.admit(
        &handle,
        &init.resume_session_id,
        ack.initial_connection_unix_ms,
    ) {
        Ok(a) => a,
        Err(status) => {
            let mut actor = handle.actor();
            actor.session_id.clear();
            drop(
                hub.cx.audit.record(
                    AuditEvent::new("connection", "connect")
                        .by(actor)
                        .resource("session", "")
                        .failed(status.message())
                        .meta("method", handle.credential.method()),
                ),
            );
            return Err(status);
        }
    };
    // A token revoked while this connection was being checked: its
    // revocation marked it before ending the sessions it found, so either
    // it found this one or this sees the mark.
    if let Some(id) = handle.credential.token_id()
        && !hub.auth.tokens.is_valid(id, crate::auth::now_s())
    {
        hub.cx.remove(&handle);
        return Err(Status::unauthenticated("API token revoked"));
    }
    ack.resumed = admission.resumed;
    ack.reconnection_count = admission.reconnection_count;
    ack.initial_connection_unix_ms = admission.initial_connection_unix_ms;
    tracing::info!(
        identity = %handle.identity,
        session_id = %handle.session_id,
        resumed = ack.resumed,
        method = handle.credential.method(),
        "session connected"
    );
    let mut event = AuditEvent::new("connection", "connect")
        .by(handle.actor())
        .resource("session", handle.session_id.clone())
        .meta("method", handle.credential.method())
        .meta("resumed", ack.resumed.to_string());
    if let Some(id) = handle.credential.token_id() {
        event = event.meta("token_id", id);
    }
    drop(hub.cx.audit.record(event));
    let result = async {
        send(
            tx,
            downstream(downstream_message::Payload::ConnectionAck(Box::new(ack))),
        )
        .await?;
        if matches!(
            handle.kind,
            PrincipalKind::Agent | PrincipalKind::UniqueTask | PrincipalKind::PooledTask
        ) {
            let workspace = handle.workspace.lock().clone();
            let caller = crate::kv::Caller::of(&handle.principal, &workspace);
            // `task_context` (§3.8): agents started for an `agent_startup` task.
            let task_context = (handle.kind == PrincipalKind::Agent)
                .then(|| hub.tasks.task_context(&handle.identity));
            let config = hub.kv.config_snapshot(&caller, task_context);
            send(
                tx,
                downstream(downstream_message::Payload::Config(Box::new(config))),
            )
            .await?;
        }
        if let Some(mb) = &handle.mailbox {
            tx.control(Out::Attach(mb.clone()))
                .map_err(|_| Status::cancelled("client went away"))?;
        }
        Ok::<(), Status>(())
    }
    .await;
    if let Err(e) = result {
        hub.cx.remove(&handle);
        return Err(e);
    }
    Ok(Some(handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::{ExtensionDeclaration, OrchestratorIdentity, TaskIdentity};

    #[test]
    fn pooled_tasks_get_an_id_and_orchestrators_a_specifier() {
        let init = InitConnection {
            client_type: Some(ClientType::Task(TaskIdentity {
                workspace: "w".into(),
                implementation: "i".into(),
                unique_specifier: String::new(),
            })),
            ..Default::default()
        };
        let (p, id) = resolve(&init).unwrap();
        assert_eq!(p.kind(), PrincipalKind::PooledTask);
        assert_eq!(id.map(|s| s.len()), Some(36));

        let init = InitConnection {
            client_type: Some(ClientType::Orchestrator(OrchestratorIdentity {
                implementation: "o".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let (p, _) = resolve(&init).unwrap();
        assert_eq!(p.identity_string().len(), "orc::o::".len() + 8);
    }

    #[test]
    fn unset_client_type_is_an_invalid_identity() {
        let err = resolve(&InitConnection::default()).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(err.message(), "invalid identity: unknown principal type");
    }

    #[test]
    fn every_extension_is_rejected() {
        let init = InitConnection {
            extensions: vec![
                ExtensionDeclaration {
                    uri: "a".into(),
                    ..Default::default()
                },
                ExtensionDeclaration {
                    uri: "b".into(),
                    required: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let (n, required) = negotiate(&init);
        assert_eq!(n.len(), 2);
        assert!(n.iter().all(|e| !e.supported));
        assert_eq!(required.as_deref(), Some("b"));
    }
}
