//! Authentication (§1.5, issue 8): every attack of the issue that is about
//! who may connect, each refused, and the legitimate path beside it.
//!
//! The gateways here run outside dev mode with the admin key `sesame`
//! unless a test says otherwise.

mod common;
#[path = "common/tasks.rs"]
mod th;

use std::time::Duration;

use aether_gateway::{AuthThrottle, GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::init_connection::ClientType;
use aether_protocol::proto::{
    AgentIdentity, AgentOperation, AgentRegistrationInfo, CreateTaskRequest, InitConnection,
    agent_operation, task_operation, token_operation::OpType,
};
use common::auth::{by_id, mint, token_op};
use common::{Conn, GUARD, init};
use th::{Peer, targeted};
use tonic::Code;

const KEY: &str = "sesame";

async fn gateway() -> aether_gateway::RunningGateway {
    aether_gateway::start(GatewayConfig::default().with_admin_key(KEY))
        .await
        .expect("gateway starts")
}

fn with(p: &Principal, creds: &[(&str, &str)]) -> InitConnection {
    let mut i = init(p);
    for (k, v) in creds {
        i.credentials.insert(k.to_string(), v.to_string());
    }
    i
}

/// The status a connection attempt ends with (OK when it got an ack).
async fn attempt(url: &str, i: InitConnection) -> (Code, String) {
    let mut c = Conn::open(url, i).await;
    match c.next().await {
        Err(s) => (s.code(), s.message().to_string()),
        Ok(Some(_)) => (Code::Ok, String::new()),
        Ok(None) => panic!("stream ended without a status"),
    }
}

/// An administrator's stream (a user window with the admin key).
async fn admin(url: &str) -> Conn {
    let mut c = Conn::open(
        url,
        with(
            &Principal::user("root", "console").unwrap(),
            &[("x-api-key", KEY)],
        ),
    )
    .await;
    c.ack().await;
    c
}

#[tokio::test]
async fn anonymous_system_principals_are_refused_outside_dev() {
    let gw = gateway().await;
    let url = gw.url();
    let orchestrator = Principal::orchestrator("launcher", "o1", vec!["local".into()]).unwrap();
    for p in [
        Principal::workflow_engine(),
        Principal::metrics_bridge(),
        orchestrator.clone(),
    ] {
        let (code, msg) = attempt(&url, init(&p)).await;
        assert_eq!(code, Code::Unauthenticated, "{}", p.identity_string());
        assert_eq!(
            msg,
            format!(
                "anonymous connection as {} requires credentials",
                p.kind().name()
            )
        );
    }
    // With a credential they connect: the admin key, or a token minted for
    // their type (and only their type).
    let mut root = admin(&url).await;
    let (wfe_token, _) = mint(&mut root, "WorkflowEngine", &[], "").await;
    let (mb_token, _) = mint(&mut root, "metrics_bridge", &[], "").await;
    let (orc_token, _) = mint(&mut root, "ORCHESTRATOR", &[], "").await;
    assert_eq!(
        attempt(
            &url,
            with(&Principal::workflow_engine(), &[("api_key", &mb_token)])
        )
        .await
        .0,
        Code::PermissionDenied
    );
    let mut wfe = Conn::open(
        &url,
        with(&Principal::workflow_engine(), &[("api_key", &wfe_token)]),
    )
    .await;
    wfe.ack().await;
    let mut mb = Conn::open(
        &url,
        with(&Principal::metrics_bridge(), &[("x-api-key", &mb_token)]),
    )
    .await;
    mb.ack().await;
    let mut orc = Conn::open(&url, with(&orchestrator, &[("api_key", &orc_token)])).await;
    orc.ack().await;
    // A token-authenticated orchestrator keeps §6.1's session rights but may
    // not mint tokens.
    let r = token_op(&mut orc, common::auth::create("Agent", &[], "")).await;
    assert!(!r.success);
    assert!(
        r.error
            .starts_with("token operations require administrator privileges"),
        "{}",
        r.error
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn singletons_cannot_be_occupied_or_taken_over_anonymously() {
    let gw = gateway().await;
    let url = gw.url();
    let mut root = admin(&url).await;
    let (agent_token, _) = mint(&mut root, "Agent", &[], "").await;
    for singleton in [Principal::workflow_engine(), Principal::metrics_bridge()] {
        // The attacker cannot occupy it: anonymous, or with another type's token.
        assert_eq!(
            attempt(&url, init(&singleton)).await.0,
            Code::Unauthenticated
        );
        assert_eq!(
            attempt(&url, with(&singleton, &[("api_key", &agent_token)]))
                .await
                .0,
            Code::PermissionDenied
        );
        // So the real one connects...
        let mut real = Conn::open(&url, with(&singleton, &[("x-api-key", KEY)])).await;
        let ack = real.ack().await;
        // ...and cannot be taken over with its session id by anyone who does
        // not hold its credential.
        let mut takeover = init(&singleton);
        takeover.resume_session_id = ack.session_id.clone();
        assert_eq!(attempt(&url, takeover).await.0, Code::Unauthenticated);
        assert!(real.barrier().await.is_empty(), "the real one is untouched");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn a_session_id_alone_never_takes_over_a_live_session() {
    let gw = gateway().await;
    let url = gw.url();
    let mut root = admin(&url).await;
    let (mine, _) = mint(&mut root, "Agent", &["pay*"], "").await;
    let (theirs, _) = mint(&mut root, "Agent", &["*"], "").await;
    let p = Principal::agent("payroll", "runner", "r1").unwrap();
    let (mut live, ack, _) = Peer::connect_with(&url, with(&p, &[("api_key", &mine)]))
        .await
        .expect("admitted");
    // Another valid token (or the admin key) with the session id: a
    // duplicate, with the same text as without the id.
    for creds in [[("api_key", theirs.as_str())], [("api_key", KEY)]] {
        let mut i = with(&p, &creds);
        i.resume_session_id = ack.session_id.clone();
        let (code, msg) = attempt(&url, i).await;
        assert_eq!(code, Code::AlreadyExists);
        assert_eq!(
            msg,
            "DuplicateIdentityError: identity (ag::payroll::runner::r1) already connected"
        );
    }
    live.sync().await;
    // The holder of the same token resumes (and the old stream ends).
    let mut i = with(&p, &[("api_key", &mine)]);
    i.resume_session_id = ack.session_id.clone();
    let (_resumed, ack2, _) = Peer::connect_with(&url, i).await.expect("resumed");
    assert!(ack2.resumed);
    let s = live.c.status().await;
    assert_eq!(s.code(), Code::Cancelled);

    // In dev mode too, a session that authenticated cannot be taken over by
    // one that did not.
    let dev = aether_gateway::start(GatewayConfig::dev().with_admin_key(KEY))
        .await
        .unwrap();
    let q = Principal::agent("w", "i", "s").unwrap();
    let (mut held, ack, _) = Peer::connect_with(&dev.url(), with(&q, &[("api_key", KEY)]))
        .await
        .expect("admitted");
    let mut anon = init(&q);
    anon.resume_session_id = ack.session_id;
    assert_eq!(attempt(&dev.url(), anon).await.0, Code::AlreadyExists);
    held.sync().await;
    gw.shutdown().await;
    dev.shutdown().await;
}

#[tokio::test]
async fn key_guessing_is_throttled_per_identity_and_per_address() {
    let limits = Limits::default().with_auth_throttle(
        AuthThrottle::default()
            .with_peer_failures(12)
            .with_cooldown(Duration::from_millis(300)),
    );
    let gw = aether_gateway::start(
        GatewayConfig::default()
            .with_admin_key(KEY)
            .with_limits(limits),
    )
    .await
    .unwrap();
    let url = gw.url();
    let target = Principal::agent("w", "i", "victim").unwrap();
    for _ in 0..5 {
        let (code, msg) = attempt(&url, with(&target, &[("api_key", "guess")])).await;
        assert_eq!(code, Code::Unauthenticated);
        assert_eq!(msg, "credential authentication failed: invalid API key");
    }
    // The sixth attempt is refused before the key is looked at, even the
    // right key; other identities are not affected yet.
    let (code, msg) = attempt(&url, with(&target, &[("api_key", KEY)])).await;
    assert_eq!(
        (code, msg.as_str()),
        (
            Code::Unauthenticated,
            "auth temporarily throttled after repeated failures"
        )
    );
    let other = Principal::agent("w", "i", "bystander").unwrap();
    assert_eq!(
        attempt(&url, with(&other, &[("api_key", KEY)])).await.0,
        Code::Ok
    );
    // Rotating identities does not help: the address is throttled too.
    for n in 0..7 {
        let p = Principal::agent("w", "i", format!("rot{n}")).unwrap();
        attempt(&url, with(&p, &[("api_key", "guess")])).await;
    }
    let fresh = Principal::agent("w", "i", "fresh").unwrap();
    let (_, msg) = attempt(&url, with(&fresh, &[("api_key", KEY)])).await;
    assert_eq!(msg, "auth temporarily throttled after repeated failures");
    // After the cooldown the right key is admitted again.
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        if attempt(&url, with(&target, &[("api_key", KEY)])).await.0 == Code::Ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cooldown never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn task_tokens_admit_only_their_identity_and_only_while_the_task_lives() {
    let gw = gateway().await;
    let url = gw.url();
    let boss = Principal::agent("secretws", "boss", "b").unwrap();
    let (mut creator, _) = Peer::connect_with_credentials(&url, &boss, &[("api_key", KEY)])
        .await
        .unwrap();
    let r = creator
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Register as i32,
            agent: Some(AgentRegistrationInfo {
                implementation: "payroll".into(),
                launch_params: [("profile".to_string(), "local".to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success, "{r:?}");
    let orc = Principal::orchestrator("launcher", "o1", vec!["local".into()]).unwrap();
    // An anonymous orchestrator never gets to see a token.
    assert_eq!(attempt(&url, init(&orc)).await.0, Code::Unauthenticated);
    let (mut orc, _) = Peer::connect_with_credentials(&url, &orc, &[("api_key", KEY)])
        .await
        .unwrap();
    let created = creator
        .create(CreateTaskRequest {
            ..targeted("ag::secretws::payroll::v1")
        })
        .await;
    assert!(created.success, "{created:?}");
    let start = orc.assignment().await;
    let token = start
        .launch_params
        .get("auth_token")
        .cloned()
        .expect("token");

    // Not for another identity, not as an API key, not through an alias.
    let other = Principal::agent("secretws", "payroll", "v2").unwrap();
    assert_eq!(
        attempt(&url, with(&other, &[("token", &token)])).await.0,
        Code::PermissionDenied
    );
    let worker = Principal::agent("secretws", "payroll", "v1").unwrap();
    assert_eq!(
        attempt(&url, with(&worker, &[("api_key", &token)])).await.0,
        Code::Unauthenticated
    );
    let alias = InitConnection {
        client_type: Some(ClientType::Agent(AgentIdentity {
            workspace: "secretws:".into(),
            implementation: ":payroll".into(),
            specifier: "v1".into(),
        })),
        credentials: [("token".to_string(), token.clone())].into(),
        ..Default::default()
    };
    assert_eq!(attempt(&url, alias).await.0, Code::InvalidArgument);

    // Its own identity is admitted; once the task ends the token is dead.
    let (w, _) = Peer::connect_with_credentials(&url, &worker, &[("token", &token)])
        .await
        .unwrap();
    let done = creator
        .op(task_operation::OpType::Complete, &start.task_id)
        .await;
    assert!(done.success, "{done:?}");
    drop(w);
    assert_eq!(
        attempt(&url, with(&worker, &[("token", &token)])).await.0,
        Code::Unauthenticated
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn colon_edged_segments_are_refused() {
    let gw = common::dev_gateway().await;
    for (ws, imp) in [("pay:", "roll"), ("pay", ":roll")] {
        let i = InitConnection {
            client_type: Some(ClientType::Agent(AgentIdentity {
                workspace: ws.into(),
                implementation: imp.into(),
                specifier: "s".into(),
            })),
            ..Default::default()
        };
        let (code, msg) = attempt(&gw.url(), i).await;
        assert_eq!(code, Code::InvalidArgument);
        assert_eq!(msg, "invalid identity: segment begins or ends with `:`");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn token_lifecycle_with_revocation_of_a_live_session() {
    let gw = gateway().await;
    let url = gw.url();
    let mut root = admin(&url).await;
    let (secret, id) = mint(&mut root, "Agent", &["team-*"], "").await;
    assert!(secret.starts_with("aet_") && secret.len() == 68);

    // LIST and GET never show the secret.
    let list = token_op(&mut root, by_id(OpType::List, "")).await;
    assert!(list.success);
    assert_eq!(list.total_count, 1);
    assert_eq!(list.tokens[0].id, id);
    assert_eq!(list.tokens[0].principal_type, "Agent");
    assert_eq!(list.tokens[0].scopes, ["connect"]);
    assert!(list.plaintext_token.is_empty());

    // Type, workspace and bound id are checked.
    let agent = Principal::agent("team-red", "bot", "b1").unwrap();
    let (mut live, _) = Peer::connect_with_credentials(&url, &agent, &[("x-api-key", &secret)])
        .await
        .unwrap();
    let get = token_op(&mut root, by_id(OpType::Get, &id)).await;
    assert!(get.token.unwrap().last_used_at > 0);
    let cases = [
        (
            Principal::agent("payroll", "bot", "b1").unwrap(),
            "API key not authorized for workspace payroll",
        ),
        (
            Principal::service("bot", "b1", false).unwrap(),
            "API key principal type mismatch",
        ),
    ];
    for (p, why) in cases {
        let (code, msg) = attempt(&url, with(&p, &[("api_key", &secret)])).await;
        assert_eq!((code, msg.as_str()), (Code::PermissionDenied, why));
    }
    let (bound, _) = mint(&mut root, "User", &[], "alice").await;
    assert_eq!(
        attempt(
            &url,
            with(
                &Principal::user("mallory", "w").unwrap(),
                &[("api_key", &bound)]
            )
        )
        .await,
        (
            Code::PermissionDenied,
            "API key principal id mismatch".to_string()
        )
    );
    let (mut alice, _) = Peer::connect_with_credentials(
        &url,
        &Principal::user("alice", "w").unwrap(),
        &[("api_key", &bound)],
    )
    .await
    .unwrap();
    alice.sync().await;

    // Revoking ends the live session at once and refuses new connections.
    let r = token_op(&mut root, by_id(OpType::Revoke, &id)).await;
    assert!(r.success, "{}", r.error);
    assert_eq!(r.message, "revoked");
    let s = live.c.status().await;
    assert_eq!(
        (s.code(), s.message()),
        (Code::Unauthenticated, "API token revoked")
    );
    let (code, msg) = attempt(&url, with(&agent, &[("api_key", &secret)])).await;
    assert_eq!(
        (code, msg.as_str()),
        (
            Code::Unauthenticated,
            "credential authentication failed: invalid API key"
        )
    );
    let list = token_op(&mut root, by_id(OpType::List, "")).await;
    assert_eq!(list.total_count, 1, "revoked tokens are hidden by default");
    // DELETE forgets it; a second DELETE is "token not found".
    assert!(
        token_op(&mut root, by_id(OpType::Delete, &id))
            .await
            .success
    );
    let again = token_op(&mut root, by_id(OpType::Delete, &id)).await;
    assert_eq!(
        (again.success, again.error.as_str()),
        (false, "token not found")
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn only_administrators_manage_tokens_and_bad_requests_store_nothing() {
    let gw = gateway().await;
    let url = gw.url();
    let mut root = admin(&url).await;
    // A token with the admin scope is an administrator too.
    let mut req = common::auth::create("User", &[], "ops");
    if let Some(c) = req.create_request.as_mut() {
        c.scopes = vec!["admin".into()];
    }
    let r = token_op(&mut root, req).await;
    assert!(r.success, "{}", r.error);
    let mut ops = Conn::open(
        &url,
        with(
            &Principal::user("ops", "w").unwrap(),
            &[("api_key", &r.plaintext_token)],
        ),
    )
    .await;
    ops.ack().await;
    let (plain, _) = mint(&mut ops, "Agent", &[], "").await;
    let mut worker = Conn::open(
        &url,
        with(
            &Principal::agent("w", "i", "s").unwrap(),
            &[("api_key", &plain)],
        ),
    )
    .await;
    worker.ack().await;
    let r = token_op(&mut worker, common::auth::create("Agent", &[], "")).await;
    assert!(!r.success && r.error.contains("administrator"));

    let before = token_op(&mut root, by_id(OpType::List, ""))
        .await
        .total_count;
    let huge = "x".repeat(100_000);
    let bad: Vec<aether_protocol::proto::TokenOperation> = vec![
        by_id(OpType::Create, ""), // no create_request
        common::auth::create(&huge, &[], ""),
        common::auth::create("Agent", &[&huge], ""),
        common::auth::create("User", &[], ""),
        common::auth::create("Agent", &["a b"], ""),
        aether_protocol::proto::TokenOperation {
            op: 99,
            ..Default::default()
        },
    ];
    for op in bad {
        let r = token_op(&mut root, op).await;
        assert!(!r.success);
        assert!(!r.request_id.is_empty());
        assert!(r.error.len() < 200, "short, no echo: {}", r.error);
        assert!(r.plaintext_token.is_empty() && r.created_token.is_none());
    }
    let after = token_op(&mut root, by_id(OpType::List, ""))
        .await
        .total_count;
    assert_eq!(before, after, "nothing stored");
    gw.shutdown().await;
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        GatewayConfig::default()
            .with_admin_key(KEY)
            .with_data_dir(dir.path())
    };
    let gw = aether_gateway::start(config()).await.unwrap();
    let mut root = admin(&gw.url()).await;
    let (kept, _) = mint(&mut root, "Agent", &[], "").await;
    let (gone, gone_id) = mint(&mut root, "Agent", &[], "").await;
    assert!(
        token_op(&mut root, by_id(OpType::Revoke, &gone_id))
            .await
            .success
    );
    drop(root);
    gw.shutdown().await;

    let gw = aether_gateway::start(config()).await.unwrap();
    let url = gw.url();
    let p = Principal::agent("w", "i", "s").unwrap();
    assert_eq!(
        attempt(&url, with(&p, &[("api_key", &gone)])).await.0,
        Code::Unauthenticated
    );
    assert_eq!(
        attempt(&url, with(&p, &[("api_key", &kept)])).await.0,
        Code::Ok
    );
    // The database holds digests only.
    gw.shutdown().await;
    let raw = std::fs::read(dir.path().join("aether.redb")).unwrap();
    for secret in [&kept, &gone] {
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}
