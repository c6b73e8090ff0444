//! On-behalf-of through the SDK against the real gateway (outside dev
//! mode, with an admin key): authority grants (exchange, derive, get,
//! renew, revoke, list, resolve), contexts on sends, KV and tasks resolved
//! against them (valid, expired, revoked, forged), revocation pushes, and
//! authority requests (create, list, resolve, cancel, events).
//!
//! The subject `alice` is an agent of workspace `w` connected with the
//! admin key: a superadmin session, but as a subject it is decided as a
//! plain agent (READ_WRITE on its own workspace). The delegates are the
//! workflow engine and an orchestrator connecting with API tokens, which
//! have no rights on workspaces of their own.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aether_client::admin::{
    AccessLevel, AclPrincipal, AdminClient, AuthorityAsk, AuthorityDecision, GrantFilter,
    GrantRequest, RequestStatus,
};
use aether_client::proto::authority_request_event::EventType;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::stack::authority::{obo_context, on_behalf_of};
use aether_client::tasks::TaskSpec;
use aether_client::{
    AgentClient, ErrorKind, FrameStream, KvScope, MessageType, OrchestratorClient, OutgoingMessage,
};
use common::secured::{admin_agent as agent, orchestrator, secured, token, wfe};
use common::within;
use futures_util::StreamExt;

const NOT_VALID: &str = "authority grant is not valid for this actor and subject";

fn alice() -> AclPrincipal {
    AclPrincipal::agent("w", "admin", "alice")
}

/// `ag::w2::clerk::c1`, a plain agent connected with an API token, as an
/// admin client.
async fn clerk(url: &str) -> AdminClient {
    let clerk = AgentClient::builder("w2", "clerk", "c1")
        .unwrap()
        .gateway(url)
        .credentials(token(url, "Agent").await)
        .build();
    clerk.connect().await.unwrap();
    AdminClient::new(&clerk)
}

fn to_target(text: &str) -> OutgoingMessage {
    OutgoingMessage::to("ag::w::admin::target", text.to_string())
        .unwrap()
        .message_type(MessageType::Control)
}

/// The next frame `pick` accepts.
async fn next<T>(
    frames: &mut FrameStream,
    what: &str,
    mut pick: impl FnMut(Down) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match frames.next().await {
                Some(Ok(f)) => {
                    if let Some(t) = pick(f) {
                        return t;
                    }
                }
                Some(Err(_)) => continue,
                None => panic!("frames ended waiting for {what}"),
            }
        }
    })
    .await
}

async fn next_error(frames: &mut FrameStream) -> aether_client::proto::ErrorResponse {
    next(frames, "an error frame", |f| match f {
        Down::Error(e) => Some(*e),
        _ => None,
    })
    .await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn sends_on_behalf_need_a_live_grant_for_this_delegate_and_subject() {
    let gw = secured().await;
    let url = gw.url();
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let target = agent(&url, "w", "target").await;
    let mut inbox = target.messages();
    let engine = wfe(&url).await;
    let mut frames = engine.frames();

    // No rights of its own.
    engine.send(to_target("direct")).await.unwrap();
    let e = next_error(&mut frames).await;
    assert_eq!(e.message, "not authorized to send to workspace w");

    let grant = subject
        .exchange_authority_grant(
            GrantRequest::to(AclPrincipal::workflow_engine()).reason("weekly report"),
        )
        .await
        .unwrap();
    assert_eq!(grant.subject, Some(alice()));
    assert_eq!(grant.max_level, AccessLevel::ReadWrite);
    assert!(grant.expires_at_ms > now_ms());

    // Valid: delivered, and the receiver learns for whom.
    engine
        .send(to_target("for alice").authorization(grant.context()))
        .await
        .unwrap();
    let m = within("the message on behalf", inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload_str(), Some("for alice"));
    let on_behalf = m.on_behalf_subject().expect("stamped");
    assert_eq!(on_behalf.principal_id, "ag::w::admin::alice");

    // Forged subject, unknown grant, wrong delegate: the same refusal.
    let forged = obo_context(
        &AclPrincipal::agent("w", "admin", "target"),
        &grant.grant_id,
    );
    engine
        .send(to_target("forged").authorization(forged))
        .await
        .unwrap();
    let e = next_error(&mut frames).await;
    assert_eq!(e.code, "ERR_PERMISSION_DENIED");
    assert_eq!(e.message, NOT_VALID);
    engine
        .send(to_target("unknown").authorization(obo_context(&alice(), "grant-nope")))
        .await
        .unwrap();
    assert_eq!(next_error(&mut frames).await.message, NOT_VALID);
    let mallory = agent(&url, "x", "mallory").await;
    let mut mallory_frames = mallory.frames();
    mallory
        .send(to_target("stolen").authorization(grant.context()))
        .await
        .unwrap();
    assert_eq!(next_error(&mut mallory_frames).await.message, NOT_VALID);

    // Revoked: the delegate is told, and the grant no longer works.
    let revoked = subject
        .revoke_authority_grant(&grant.grant_id)
        .await
        .unwrap();
    assert!(revoked.revoked);
    let r = next(&mut frames, "the revocation", |f| match f {
        Down::AuthorityGrantRevocation(r) => Some(*r),
        _ => None,
    })
    .await;
    assert_eq!(r.grant_id, grant.grant_id);
    engine
        .send(to_target("after revocation").authorization(grant.context()))
        .await
        .unwrap();
    assert_eq!(next_error(&mut frames).await.message, NOT_VALID);

    // Expired: a grant that lapses stops working (waits for the clock).
    let short = subject
        .exchange_authority_grant(
            GrantRequest::to(AclPrincipal::workflow_engine()).expires_at_ms(now_ms() + 1_200),
        )
        .await
        .unwrap();
    engine
        .send(to_target("before expiry").authorization(short.context()))
        .await
        .unwrap();
    let m = within("the message before expiry", inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload_str(), Some("before expiry"));
    while now_ms() <= short.expires_at_ms {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine
        .send(to_target("after expiry").authorization(short.context()))
        .await
        .unwrap();
    assert_eq!(next_error(&mut frames).await.message, NOT_VALID);
}

#[tokio::test]
async fn kv_and_tasks_on_behalf_are_capped_by_the_grant() {
    let gw = secured().await;
    let url = gw.url();
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let engine = wfe(&url).await;
    let ws = KvScope::workspace_in("w").unwrap();
    // (KV refusals carry no reason: Rejected; an invalid context is
    // announced first, as PermissionDenied.)
    let refused = engine.kv_put("k", "v", &ws, None).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Rejected, "{refused}");

    let read_only = subject
        .exchange_authority_grant(
            GrantRequest::to(AclPrincipal::workflow_engine()).max_level(AccessLevel::Read),
        )
        .await
        .unwrap();
    // A per-call scope: reads pass, writes exceed the grant's level.
    let got = on_behalf_of(read_only.context(), engine.kv_get("k", &ws))
        .await
        .unwrap();
    assert_eq!(got, None);
    let e = on_behalf_of(read_only.context(), engine.kv_put("k", "v", &ws, None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");

    let rw = subject
        .exchange_authority_grant(
            GrantRequest::to(AclPrincipal::workflow_engine()).workspaces(["w"]),
        )
        .await
        .unwrap();
    on_behalf_of(rw.context(), engine.kv_put("k", "v", &ws, None))
        .await
        .unwrap();
    let got = on_behalf_of(rw.context(), engine.kv_get("k", &ws))
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"v"[..]));
    // Outside the grant's workspace scope.
    let other = KvScope::workspace_in("w2").unwrap();
    let e = on_behalf_of(rw.context(), engine.kv_get("k", &other))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    // A forged context is refused, typed.
    let e = on_behalf_of(
        obo_context(&AclPrincipal::agent("w", "admin", "bob"), &rw.grant_id),
        engine.kv_get("k", &ws),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");

    // Tasks: refused directly, created on behalf (per call on the spec).
    let e = engine
        .create_task(TaskSpec::new("report").workspace("w"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let created = engine
        .create_task(
            TaskSpec::new("report")
                .workspace("w")
                .authorization(rw.context()),
        )
        .await
        .unwrap();
    assert!(!created.task_id.is_empty());
    subject.revoke_authority_grant(&rw.grant_id).await.unwrap();
    let e = engine
        .create_task(
            TaskSpec::new("report")
                .workspace("w")
                .authorization(rw.context()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.to_string().contains("revoked"), "{e}");
}

#[tokio::test]
async fn a_grant_as_the_client_default_applies_to_every_call() {
    let gw = secured().await;
    let url = gw.url();
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let grant = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::orchestrator(
            "launcher", "o2",
        )))
        .await
        .unwrap();
    let ctx = grant.context();
    let orc = OrchestratorClient::builder("launcher", "o2", vec!["local".into()])
        .unwrap()
        .gateway(&url)
        .credentials(token(&url, "Orchestrator").await)
        .authorization_hook(move |_: &aether_client::stack::OpRequest| Some(ctx.clone()))
        .build();
    orc.connect().await.unwrap();
    let created = orc
        .create_task(TaskSpec::new("t").workspace("w"))
        .await
        .unwrap();
    assert!(!created.task_id.is_empty());
}

#[tokio::test]
async fn grants_derive_renew_list_resolve_and_revoke_in_cascade() {
    let gw = secured().await;
    let url = gw.url();
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let engine = wfe(&url).await;
    let as_engine = AdminClient::new(&engine);
    let orc = orchestrator(&url, "o1").await;
    let as_orc = AdminClient::new(&orc);
    let mut orc_frames = orc.frames();
    let root = subject
        .exchange_authority_grant(
            GrantRequest::to(AclPrincipal::workflow_engine())
                .workspaces(["w"])
                .delegable(2),
        )
        .await
        .unwrap();
    // A grant that may not be delegated cannot be derived from.
    let flat = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::workflow_engine()))
        .await
        .unwrap();
    let e = as_engine
        .derive_authority_grant(
            &flat.grant_id,
            GrantRequest::to(AclPrincipal::orchestrator("launcher", "o1")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    // Wider than the parent: refused.
    let e = as_engine
        .derive_authority_grant(
            &root.grant_id,
            GrantRequest::to(AclPrincipal::orchestrator("launcher", "o1")).workspaces(["w2"]),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("exceeds"), "{e}");
    let child = as_engine
        .derive_authority_grant(
            &root.grant_id,
            GrantRequest::to(AclPrincipal::orchestrator("launcher", "o1"))
                .max_level(AccessLevel::Read),
        )
        .await
        .unwrap();
    assert_eq!(child.root_grant_id, root.grant_id);
    assert_eq!(child.parent_grant_id, root.grant_id);
    assert_eq!(child.subject, Some(alice()));
    assert_eq!(child.max_level, AccessLevel::Read);
    assert_eq!(child.remaining_hops, 1);
    assert!(child.expires_at_ms <= root.expires_at_ms);
    let again = as_engine
        .derive_authority_grant_for_target(
            &root.grant_id,
            &AclPrincipal::orchestrator("launcher", "o1"),
        )
        .await
        .unwrap();
    let same = as_engine
        .derive_authority_grant_for_target(
            &root.grant_id,
            &AclPrincipal::orchestrator("launcher", "o1"),
        )
        .await
        .unwrap();
    assert_eq!(again.grant_id, same.grant_id);
    // The same target as the DERIVE above: that grant.
    assert_eq!(again.grant_id, child.grant_id);

    // Lists: mine (delegate) and on me (subject).
    let mine = as_orc
        .list_my_authority_grants(GrantFilter::default())
        .await
        .unwrap();
    assert_eq!(mine.total, 1);
    let on_me = subject
        .list_authority_grants_on_me(GrantFilter::default())
        .await
        .unwrap();
    assert_eq!(on_me.total, 3);
    // A principal that is no party sees nothing.
    let stranger = AdminClient::new(&orchestrator(&url, "o9").await);
    let e = stranger
        .get_authority_grant(&root.grant_id)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = as_orc
        .revoke_authority_grant(&flat.grant_id)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    // Renew: moved, but never past the parent.
    let later = root.expires_at_ms + 60_000;
    let renewed = subject
        .renew_authority_grant(&root.grant_id, later)
        .await
        .unwrap();
    assert_eq!(renewed.expires_at_ms, later);
    let e = as_engine
        .renew_authority_grant(&child.grant_id, later + 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");

    // Resolve: for the holder, and refused for anyone else.
    let r = as_orc
        .resolve_authority(&child.grant_id, &alice(), None)
        .await
        .unwrap();
    assert_eq!(r.grant_id, child.grant_id);
    assert_eq!(r.max_level, AccessLevel::Read);
    assert_eq!(r.subject, Some(alice()));
    let e = as_engine
        .resolve_authority(&child.grant_id, &alice(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let e = as_engine
        .resolve_authority(
            &child.grant_id,
            &alice(),
            Some(&AclPrincipal::orchestrator("launcher", "o1")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");

    // Revoking the root revokes what was derived; its holder is told.
    subject
        .revoke_authority_grant(&root.grant_id)
        .await
        .unwrap();
    let r = next(&mut orc_frames, "the cascaded revocation", |f| match f {
        Down::AuthorityGrantRevocation(r) => Some(*r),
        _ => None,
    })
    .await;
    assert_eq!(r.root_grant_id, root.grant_id);
    assert!(r.cascade);
    let c = as_orc.get_authority_grant(&child.grant_id).await.unwrap();
    assert!(c.revoked);
    let mine = as_orc
        .list_my_authority_grants(GrantFilter::default())
        .await
        .unwrap();
    assert_eq!(mine.total, 0);
    let all = as_orc
        .list_my_authority_grants(GrantFilter {
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 1);
}

#[tokio::test]
async fn authority_requests_are_resolved_by_their_subject_with_events() {
    let gw = secured().await;
    let url = gw.url();
    let alice_client = agent(&url, "w", "alice").await;
    let mut alice_frames = alice_client.frames();
    let subject = AdminClient::new(&alice_client);
    let target = agent(&url, "w", "target").await;
    let mut inbox = target.messages();
    let engine = wfe(&url).await;
    let mut engine_frames = engine.frames();
    let as_engine = AdminClient::new(&engine);
    let orc = orchestrator(&url, "o1").await;
    let as_orc = AdminClient::new(&orc);

    let asked = as_engine
        .request_authority(
            AuthorityAsk::of(alice())
                .workspaces(["w"])
                .reason("send the weekly report")
                .lasting(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    assert_eq!(asked.status, RequestStatus::Pending);
    assert_eq!(asked.requester, Some(AclPrincipal::workflow_engine()));
    let created = next(&mut alice_frames, "the CREATED event", |f| match f {
        Down::AuthorityRequestEvent(e) => Some(*e),
        _ => None,
    })
    .await;
    assert_eq!(
        created.event_type,
        EventType::AuthorityRequestEventCreated as i32
    );
    let pending = subject.list_pending_authority_requests("").await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].request_id, asked.request_id);
    assert!(
        as_orc
            .list_pending_authority_requests("")
            .await
            .unwrap()
            .is_empty()
    );
    // Nobody but the subject lends the subject's rights.
    let e = as_orc
        .resolve_authority_request(&asked.request_id, AuthorityDecision::approve())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = as_engine
        .resolve_authority_request(&asked.request_id, AuthorityDecision::approve())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");

    let approved = subject
        .resolve_authority_request(&asked.request_id, AuthorityDecision::approve())
        .await
        .unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert!(!approved.granted_grant_id.is_empty());
    let ev = next(&mut engine_frames, "the APPROVED event", |f| match f {
        Down::AuthorityRequestEvent(e)
            if e.event_type == EventType::AuthorityRequestEventApproved as i32 =>
        {
            Some(*e)
        }
        _ => None,
    })
    .await;
    let grant_id = ev.request.unwrap().granted_grant_id;
    assert_eq!(grant_id, approved.granted_grant_id);
    let grant = as_engine.get_authority_grant(&grant_id).await.unwrap();
    assert_eq!(grant.workspace_scope, ["w"]);
    engine
        .send(to_target("approved").authorization(grant.context()))
        .await
        .unwrap();
    let m = within("the message under the approved grant", inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload_str(), Some("approved"));
    // Resolved once only.
    let e = subject
        .resolve_authority_request(&asked.request_id, AuthorityDecision::deny("late"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not pending"), "{e}");

    // Denied and cancelled requests.
    let second = as_engine
        .request_authority(AuthorityAsk::of(alice()))
        .await
        .unwrap();
    let denied = subject
        .resolve_authority_request(&second.request_id, AuthorityDecision::deny("no"))
        .await
        .unwrap();
    assert_eq!(denied.status, RequestStatus::Denied);
    assert!(denied.granted_grant_id.is_empty());
    let third = as_engine
        .request_authority(AuthorityAsk::of(alice()))
        .await
        .unwrap();
    let e = as_orc
        .cancel_authority_request(&third.request_id, "")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let cancelled = as_engine
        .cancel_authority_request(&third.request_id, "changed my mind")
        .await
        .unwrap();
    assert_eq!(cancelled.status, RequestStatus::Cancelled);
    assert!(
        subject
            .list_pending_authority_requests("")
            .await
            .unwrap()
            .is_empty()
    );
    let got = as_engine
        .get_authority_request(&asked.request_id)
        .await
        .unwrap();
    assert_eq!(got.status, RequestStatus::Approved);
}

#[tokio::test]
async fn bad_authority_input_is_refused_and_nothing_is_stored() {
    let gw = secured().await;
    let url = gw.url();
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    for bad in [
        GrantRequest::to(AclPrincipal::new("martian", "x")),
        GrantRequest::to(AclPrincipal::workflow_engine()).expires_at_ms(1),
        GrantRequest::to(AclPrincipal::workflow_engine()).workspaces(["x".repeat(600)]),
        GrantRequest::to(AclPrincipal::workflow_engine()).resources("bogus type!", ["a"]),
        GrantRequest::to(AclPrincipal::new("", "")),
    ] {
        let e = subject.exchange_authority_grant(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    }
    let e = subject
        .request_authority(AuthorityAsk::of(AclPrincipal::new("martian", "x")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    let on_me = subject
        .list_authority_grants_on_me(GrantFilter {
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(on_me.total, 0);
    assert!(
        subject
            .list_pending_authority_requests("")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn acl_operations_on_behalf_use_the_subjects_rights() {
    use aether_client::admin::{AclResource, RuleFilter};
    let gw = secured().await;
    let url = gw.url();
    let root = AdminClient::new(&agent(&url, "ops", "root").await);
    let w = AclResource::workspace("w");
    root.grant_access(AclPrincipal::user("carol"), w.clone(), AccessLevel::Read)
        .await
        .unwrap();
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let engine = wfe(&url).await;
    let as_engine = AdminClient::new(&engine);
    // Directly: the engine may not read the rules of w.
    let direct = as_engine.list_rules(RuleFilter::resource(&w)).await;
    assert!(
        direct.as_ref().map_or(true, |p| p.rules.is_empty()),
        "{direct:?}"
    );
    let grant = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::workflow_engine()))
        .await
        .unwrap();
    // On behalf of alice (who may read w): the rule on w.
    let page = on_behalf_of(
        grant.context(),
        as_engine.list_rules(RuleFilter::resource(&w)),
    )
    .await
    .unwrap();
    assert_eq!(page.rules.len(), 1);
    assert_eq!(page.rules[0].principal, AclPrincipal::user("carol"));
    // But not alice's superadmin session rights: no granting.
    let e = on_behalf_of(
        grant.context(),
        as_engine.grant_access(
            AclPrincipal::workflow_engine(),
            w.clone(),
            AccessLevel::Admin,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    // A forged context is refused.
    let e = on_behalf_of(
        obo_context(
            &AclPrincipal::agent("ops", "admin", "root"),
            &grant.grant_id,
        ),
        as_engine.list_rules(RuleFilter::resource(&w)),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains(NOT_VALID), "{e}");
}

#[tokio::test]
async fn session_administration_on_behalf_uses_the_subjects_rights() {
    use aether_client::admin::{AclResource, SessionFilter};
    let gw = secured().await;
    let url = gw.url();
    let root = AdminClient::new(&agent(&url, "ops", "root").await);
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let as_clerk = clerk(&url).await;
    let denied = |r: aether_client::Result<Vec<_>>| match r {
        Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}"),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    };
    denied(as_clerk.list_connections(SessionFilter::default()).await);
    let grant = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::agent("w2", "clerk", "c1")))
        .await
        .unwrap();
    // Alice, as a plain agent, may not list sessions either.
    denied(
        on_behalf_of(
            grant.context(),
            as_clerk.list_connections(SessionFilter::default()),
        )
        .await,
    );
    root.grant_access(alice(), AclResource::admin("sessions"), AccessLevel::Read)
        .await
        .unwrap();
    let listed = on_behalf_of(
        grant.context(),
        as_clerk.list_connections(SessionFilter::default()),
    )
    .await
    .unwrap();
    assert!(listed.len() >= 3, "{listed:?}");
    // Still only on her behalf.
    denied(as_clerk.list_connections(SessionFilter::default()).await);
    let forged = obo_context(
        &AclPrincipal::agent("ops", "admin", "root"),
        &grant.grant_id,
    );
    let e = on_behalf_of(forged, as_clerk.list_connections(SessionFilter::default()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains(NOT_VALID), "{e}");
}

#[tokio::test]
async fn audit_queries_follow_the_engine_directly_and_on_behalf() {
    use aether_client::admin::{AclResource, AuditFilter};
    let gw = secured().await;
    let url = gw.url();
    let root = AdminClient::new(&agent(&url, "ops", "root").await);
    let subject = AdminClient::new(&agent(&url, "w", "alice").await);
    let as_clerk = clerk(&url).await;
    let e = as_clerk.audit_query(AuditFilter::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let grant = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::agent("w2", "clerk", "c1")))
        .await
        .unwrap();
    // On behalf of alice, a plain agent: refused ...
    let e = on_behalf_of(grant.context(), as_clerk.audit_query(AuditFilter::new()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    // ... until a rule gives her the audit family.
    root.grant_access(alice(), AclResource::admin("audit"), AccessLevel::Read)
        .await
        .unwrap();
    on_behalf_of(grant.context(), as_clerk.audit_query(AuditFilter::new()))
        .await
        .unwrap();
    let e = as_clerk.audit_query(AuditFilter::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let e = on_behalf_of(
        obo_context(
            &AclPrincipal::agent("ops", "admin", "root"),
            &grant.grant_id,
        ),
        as_clerk.audit_query(AuditFilter::new()),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains(NOT_VALID), "{e}");
}

#[tokio::test]
async fn a_grant_valid_while_its_audience_is_active_ends_with_the_delegates_session() {
    let gw = secured().await;
    let url = gw.url();
    let alice_client = agent(&url, "w", "alice").await;
    let mut alice_frames = alice_client.frames();
    let subject = AdminClient::new(&alice_client);
    let bob = agent(&url, "w2", "bob").await;
    let grant = subject
        .exchange_authority_grant(
            GrantRequest::to(AclPrincipal::agent("w2", "admin", "bob")).while_audience_active(),
        )
        .await
        .unwrap();
    let lasting = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::agent("w2", "admin", "bob")))
        .await
        .unwrap();

    // While bob is connected, the grant works.
    let read = on_behalf_of(
        grant.context(),
        bob.kv_get("k", &KvScope::workspace_in("w").unwrap()),
    )
    .await;
    assert!(read.is_ok(), "{read:?}");

    // Bob leaves: alice is told, and the grant is revoked for good.
    bob.close().await;
    let r = next(&mut alice_frames, "the revocation", |f| match f {
        Down::AuthorityGrantRevocation(r) => Some(*r),
        _ => None,
    })
    .await;
    assert_eq!(r.grant_id, grant.grant_id);
    assert_eq!(r.reason, "audience inactive");
    assert!(
        subject
            .get_authority_grant(&grant.grant_id)
            .await
            .unwrap()
            .revoked
    );
    assert!(
        !subject
            .get_authority_grant(&lasting.grant_id)
            .await
            .unwrap()
            .revoked
    );

    // Reconnecting does not bring it back; the other grant still works.
    let bob = agent(&url, "w2", "bob").await;
    let e = on_behalf_of(
        grant.context(),
        bob.kv_get("k", &KvScope::workspace_in("w").unwrap()),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let read = on_behalf_of(
        lasting.context(),
        bob.kv_get("k", &KvScope::workspace_in("w").unwrap()),
    )
    .await;
    assert!(read.is_ok(), "{read:?}");
}
