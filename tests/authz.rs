//! Authorization through the SDK against the real gateway (outside dev
//! mode, with an admin key): every administrative gate refused, then
//! allowed once a rule grants it; the attacks of issue 8 that are
//! authorization (each fails against a gateway without the engine);
//! durability of rules, fallback policies and workspaces.
//!
//! Principals without rights connect with API tokens the administrator
//! mints (`connect` scope): agents, and the orchestrator and workflow
//! engine, which keep only the system-level rights of §6.1 (session
//! administration, audit queries); the administrator is an agent with the
//! admin key.

mod common;

use std::time::Duration;

use aether_client::admin::{
    AccessLevel, AccessRequest, AclGrant, AclPrincipal, AclResource, AdminClient, AgentLaunch,
    AgentRegistration, RuleFilter, SessionFilter, WorkspaceSpec,
};
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::tasks::{TaskQuery, TaskSpec};
use aether_client::{AgentClient, Credentials, ErrorKind, FrameStream, KvScope, MessageType};
use aether_gateway::GatewayConfig;
use common::secured::{KEY, admin_agent, orchestrator, secured, token, wfe};
use common::within;
use futures_util::StreamExt;

async fn admin(url: &str) -> AdminClient {
    AdminClient::new(&admin_agent(url, "ops", "root").await)
}

/// An agent with a token: no rights beyond its own workspace.
async fn plain_agent(url: &str, ws: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder(ws, "clerk", spec)
        .unwrap()
        .gateway(url)
        .credentials(token(url, "Agent").await)
        .build();
    a.connect().await.expect("agent connects");
    a
}

fn denied<T: std::fmt::Debug>(r: aether_client::Result<T>) {
    match r {
        Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}"),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// The next `ErrorResponse` pushed to a client (sends are answered only
/// on refusal).
async fn next_error(frames: &mut FrameStream) -> aether_client::proto::ErrorResponse {
    within("an error frame", async {
        loop {
            match frames.next().await {
                Some(Ok(Down::Error(e))) => return *e,
                Some(_) => continue,
                None => panic!("stream ended"),
            }
        }
    })
    .await
}

#[tokio::test]
async fn session_administration_needs_the_sessions_family() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let clerk = plain_agent(&url, "w2", "c1").await;
    let as_clerk = AdminClient::new(&clerk);
    let victim = admin_agent(&url, "w", "victim").await;
    let victim_id = victim.session().unwrap().session_id;

    // Refused: listing every session, force-disconnecting any session.
    denied(as_clerk.list_connections(SessionFilter::default()).await);
    denied(as_clerk.disconnect_session(&victim_id).await);

    // READ lists; DISCONNECT still needs ADMIN.
    let clerk_p = AclPrincipal::agent("w2", "clerk", "c1");
    root.grant_access(
        clerk_p.clone(),
        AclResource::admin("sessions"),
        AccessLevel::Read,
    )
    .await
    .unwrap();
    let listed = as_clerk
        .list_connections(SessionFilter::default())
        .await
        .unwrap();
    assert!(listed.iter().any(|c| c.session_id == victim_id));
    denied(as_clerk.disconnect_session(&victim_id).await);
    root.grant_access(clerk_p, AclResource::admin("sessions"), AccessLevel::Admin)
        .await
        .unwrap();
    as_clerk.disconnect_session(&victim_id).await.unwrap();
    within("the victim to stop", victim.wait_until_disconnected()).await;
    // Its own session is always visible to a principal.
    let own = clerk.session().unwrap().session_id;
    let other = plain_agent(&url, "w3", "c2").await;
    let own_other = other.session().unwrap().session_id;
    AdminClient::new(&other)
        .get_connection(&own_other)
        .await
        .unwrap();
    denied(AdminClient::new(&other).get_connection(&own).await);
}

#[tokio::test]
async fn authenticated_system_principals_keep_session_administration() {
    let gw = secured().await;
    let url = gw.url();
    let _root = admin(&url).await;
    let engine = wfe(&url).await;
    let as_engine = AdminClient::new(&engine);
    let listed = as_engine
        .list_connections(SessionFilter::default())
        .await
        .unwrap();
    assert!(listed.len() >= 2, "{listed:?}");
    // But nothing else: no workspaces family.
    denied(
        as_engine
            .create_workspace(WorkspaceSpec::new("mine").unwrap())
            .await,
    );
}

#[tokio::test]
async fn connection_status_of_others_needs_a_capability() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let clerk = plain_agent(&url, "w2", "c1").await;
    let _agent = admin_agent(&url, "w", "a").await;
    assert!(
        clerk
            .connection_status("agent", "ag::w2::clerk::c1")
            .await
            .unwrap()
    );
    denied(clerk.connection_status("agent", "ag::w::admin::a").await);
    root.grant_access(
        AclPrincipal::agent("w2", "clerk", "c1"),
        AclResource::capability("query_connections"),
        AccessLevel::Read,
    )
    .await
    .unwrap();
    assert!(
        clerk
            .connection_status("agent", "ag::w::admin::a")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn workspaces_need_the_workspaces_family_and_are_listed_when_created() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    // Created before anyone connects to it: listed.
    let created = root
        .create_workspace(
            WorkspaceSpec::new("research")
                .unwrap()
                .display_name("Research")
                .metadata("owner", "lab-3"),
        )
        .await
        .unwrap();
    assert!(created.is_created());
    let all = root.list_workspaces(0, 0).await.unwrap();
    let research = all.iter().find(|w| w.id == "research").expect("listed");
    assert_eq!(research.display_name, "Research");
    assert_eq!(research.metadata["owner"], "lab-3");
    assert_eq!(research.active_agents, 0);
    // Created twice: refused, nothing overwritten.
    let again = root
        .create_workspace(WorkspaceSpec::new("research").unwrap().display_name("X"))
        .await;
    assert_eq!(again.unwrap_err().kind(), ErrorKind::Rejected);
    assert_eq!(
        root.get_workspace("research").await.unwrap().display_name,
        "Research"
    );

    // Without rights: nothing listed, nothing created or changed.
    let engine = wfe(&url).await;
    let as_engine = AdminClient::new(&engine);
    assert!(as_engine.list_workspaces(0, 0).await.unwrap().is_empty());
    denied(as_engine.get_workspace("research").await);
    denied(
        as_engine
            .create_workspace(WorkspaceSpec::new("mine").unwrap())
            .await,
    );
    denied(
        as_engine
            .update_workspace(WorkspaceSpec::new("research").unwrap().description("pwned"))
            .await,
    );
    denied(as_engine.delete_workspace("research").await);

    // The capability creates; READ on a workspace lists and gets it; ADMIN
    // on it updates and deletes it.
    let engine_p = AclPrincipal::workflow_engine();
    root.grant_access(
        engine_p.clone(),
        AclResource::capability("create_workspace"),
        AccessLevel::ReadWrite,
    )
    .await
    .unwrap();
    as_engine
        .create_workspace(WorkspaceSpec::new("mine").unwrap())
        .await
        .unwrap();
    root.grant_access(
        engine_p.clone(),
        AclResource::workspace("research"),
        AccessLevel::Read,
    )
    .await
    .unwrap();
    let seen: Vec<String> = as_engine
        .list_workspaces(0, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(seen, ["research"]);
    denied(
        as_engine
            .update_workspace(WorkspaceSpec::new("research").unwrap().description("d"))
            .await,
    );
    root.grant_access(
        engine_p,
        AclResource::workspace("research"),
        AccessLevel::Admin,
    )
    .await
    .unwrap();
    let updated = as_engine
        .update_workspace(WorkspaceSpec::new("research").unwrap().description("d"))
        .await
        .unwrap();
    assert_eq!(
        (updated.description.as_str(), updated.display_name.as_str()),
        ("d", "Research")
    );
    as_engine.delete_workspace("research").await.unwrap();
    assert_eq!(
        root.delete_workspace("research").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn an_orchestrator_cannot_register_or_launch_agents_without_grants() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    root.register_agent(
        AgentRegistration::new("payroll")
            .unwrap()
            .profile("local")
            .description("pays people"),
    )
    .await
    .unwrap();
    let orc = orchestrator(&url, "o1").await;
    let as_orc = AdminClient::new(&orc);
    // Refused: overwriting a registration, launching an agent (whose
    // startup task carries a token that connects as it), listing.
    denied(
        as_orc
            .register_agent(AgentRegistration::new("payroll").unwrap().profile("evil"))
            .await,
    );
    let launch = || AgentLaunch {
        workspace: "secretws".into(),
        specifier: "v1".into(),
        ..Default::default()
    };
    denied(as_orc.launch_agent("payroll", launch()).await);
    denied(as_orc.list_agents().await);
    assert_eq!(root.get_agent("payroll").await.unwrap().profile, "local");

    // MANAGE on the implementation registers it; LAUNCH also needs MANAGE
    // on the workspace the agent starts in.
    let me = AclPrincipal::orchestrator("launcher", "o1");
    root.grant_access(
        me.clone(),
        AclResource::agent("payroll"),
        AccessLevel::Manage,
    )
    .await
    .unwrap();
    as_orc
        .update_agent(
            AgentRegistration::new("payroll")
                .unwrap()
                .profile("local")
                .description("v2"),
        )
        .await
        .unwrap();
    assert_eq!(as_orc.get_agent("payroll").await.unwrap().description, "v2");
    denied(as_orc.launch_agent("payroll", launch()).await);
    root.grant_access(me, AclResource::workspace("secretws"), AccessLevel::Manage)
        .await
        .unwrap();
    let task = as_orc.launch_agent("payroll", launch()).await.unwrap();
    assert!(!task.is_empty());
}

#[tokio::test]
async fn acl_administration_is_gated_and_cannot_escalate() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let engine = wfe(&url).await;
    let as_engine = AdminClient::new(&engine);
    let me = AclPrincipal::workflow_engine();
    let target = AclPrincipal::agent("w", "worker", "1");

    denied(as_engine.list_rules(RuleFilter::default()).await);
    denied(
        as_engine
            .grant_access(me.clone(), AclResource::admin("*"), AccessLevel::Admin)
            .await,
    );
    denied(as_engine.fallback_policy("agent_workspace").await);
    // One's own rules and access may always be read.
    assert_eq!(
        as_engine
            .list_rules(RuleFilter::principal(me.clone()))
            .await
            .unwrap()
            .total,
        0
    );
    let own = as_engine
        .explain_access(&me, &AclResource::workspace("w"), AccessLevel::Read)
        .await
        .unwrap();
    assert!(!own.allowed);

    // READ on the ACL reads; ADMIN changes; nobody grants what it lacks.
    root.grant_access(me.clone(), AclResource::admin("acl"), AccessLevel::Read)
        .await
        .unwrap();
    assert!(
        as_engine
            .list_rules(RuleFilter::default())
            .await
            .unwrap()
            .total
            >= 1
    );
    denied(
        as_engine
            .grant_access(
                target.clone(),
                AclResource::workspace("w2"),
                AccessLevel::Read,
            )
            .await,
    );
    root.grant_access(me.clone(), AclResource::admin("acl"), AccessLevel::Admin)
        .await
        .unwrap();
    let rule = as_engine
        .grant_access(
            target.clone(),
            AclResource::workspace("w2"),
            AccessLevel::Read,
        )
        .await
        .unwrap();
    assert_eq!(rule.granted_by, "workflow_engine:wfe::shard0");
    // Escalation: admin/* and SUPERADMIN stay out of reach.
    denied(
        as_engine
            .grant_access(me.clone(), AclResource::admin("*"), AccessLevel::Admin)
            .await,
    );
    denied(
        as_engine
            .grant_access(
                target.clone(),
                AclResource::workspace("w2"),
                AccessLevel::SuperAdmin,
            )
            .await,
    );
    // Nor through a group that holds more.
    root.create_group("admins", "full admins").await.unwrap();
    root.grant_access(
        AclPrincipal::group("admins"),
        AclResource::admin("*"),
        AccessLevel::Admin,
    )
    .await
    .unwrap();
    denied(as_engine.add_group_member("admins", &me, 0).await);
    root.add_group_member("admins", &target, 0).await.unwrap();
    let explained = root
        .explain_access(&target, &AclResource::admin("agents"), AccessLevel::Admin)
        .await
        .unwrap();
    assert!(explained.allowed, "{explained:?}");
    assert!(explained.subjects.iter().any(|s| s == "group:admins"));
    // Fallback policies: the built-in default, then a set one.
    let builtin = root.fallback_policy("agent_workspace").await.unwrap();
    assert!(builtin.builtin && builtin.level == AccessLevel::None);
    let set = as_engine
        .set_fallback_policy("agent_workspace", AccessLevel::Read)
        .await
        .unwrap();
    assert!(!set.builtin && set.level == AccessLevel::Read);
    as_engine.revoke_rule(&rule.id).await.unwrap();
    assert_eq!(
        root.get_rule(&rule.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn shared_kv_of_a_workspace_needs_rights_on_it() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let owner = admin_agent(&url, "w", "owner").await;
    let ws = KvScope::workspace_in("w").unwrap();
    owner.kv_put("plan", "secret", &ws, None).await.unwrap();
    owner
        .kv_put("shared", "tenant", &KvScope::Global, None)
        .await
        .unwrap();

    // The workflow engine reads and overwrites nobody's shared KV.
    let engine = wfe(&url).await;
    assert_eq!(
        engine.kv_get("plan", &ws).await.unwrap_err().kind(),
        ErrorKind::Rejected
    );
    assert!(engine.kv_put("plan", "pwned", &ws, None).await.is_err());
    assert!(engine.kv_get("shared", &KvScope::Global).await.is_err());
    assert!(
        engine
            .kv_put("shared", "pwned", &KvScope::Global, None)
            .await
            .is_err()
    );
    // Its coordination keys it may always use.
    engine
        .kv_put("_sys/coord/leader", "me", &KvScope::Global, None)
        .await
        .unwrap();

    // READ reads, READ_WRITE writes.
    let me = AclPrincipal::workflow_engine();
    root.grant_access(me.clone(), AclResource::workspace("w"), AccessLevel::Read)
        .await
        .unwrap();
    assert_eq!(
        engine.kv_get("plan", &ws).await.unwrap().as_deref(),
        Some(&b"secret"[..])
    );
    assert!(engine.kv_put("plan", "pwned", &ws, None).await.is_err());
    root.grant_access(
        me.clone(),
        AclResource::workspace("w"),
        AccessLevel::ReadWrite,
    )
    .await
    .unwrap();
    engine.kv_put("plan", "v2", &ws, None).await.unwrap();
    // A key rule overrides the scope's level.
    root.grant_access(me, AclResource::kv_key("plan"), AccessLevel::Read)
        .await
        .unwrap();
    assert!(engine.kv_put("plan", "v3", &ws, None).await.is_err());
    assert_eq!(
        owner.kv_get("plan", &ws).await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );
    // Another workspace stays closed.
    let other = KvScope::workspace_in("other").unwrap();
    assert!(engine.kv_get("plan", &other).await.is_err());
}

#[tokio::test]
async fn purging_another_identity_needs_a_capability() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let victim = admin_agent(&url, "w", "victim").await;
    victim
        .kv_put("state", "precious", &KvScope::GlobalExclusive, None)
        .await
        .unwrap();
    let engine = wfe(&url).await;
    assert!(
        engine
            .kv_purge_identity("ag::w::admin::victim", "")
            .await
            .is_err()
    );
    assert_eq!(
        victim
            .kv_get("state", &KvScope::GlobalExclusive)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"precious"[..])
    );
    root.grant_access(
        AclPrincipal::workflow_engine(),
        AclResource::capability("kv_purge_identity"),
        AccessLevel::ReadWrite,
    )
    .await
    .unwrap();
    assert_eq!(
        engine
            .kv_purge_identity("ag::w::admin::victim", "")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn exclusive_namespaces_never_collide() {
    let gw = secured().await;
    let url = gw.url();
    let connect = |ws: &'static str, implementation: &'static str| {
        let url = url.clone();
        async move {
            let a = AgentClient::builder(ws, implementation, "y")
                .unwrap()
                .gateway(&url)
                .credentials(Credentials::new().with_api_key(KEY))
                .build();
            a.connect().await.unwrap();
            a
        }
    };
    // `a:b` and `a_b` were one namespace once `:` became `_`.
    let colon = connect("w", "a:b").await;
    let underscore = connect("w", "a_b").await;
    colon
        .kv_put("k", "colon", &KvScope::GlobalExclusive, None)
        .await
        .unwrap();
    assert_eq!(
        underscore
            .kv_get("k", &KvScope::GlobalExclusive)
            .await
            .unwrap(),
        None
    );
    // `ag::wsA::x::y` and `ag::wsB::x::y` are two identities (two can be
    // connected at once), so they own two global-exclusive namespaces.
    let a = connect("wsA", "x").await;
    let b = connect("wsB", "x").await;
    a.kv_put("k", "A", &KvScope::GlobalExclusive, None)
        .await
        .unwrap();
    assert_eq!(
        b.kv_get("k", &KvScope::GlobalExclusive).await.unwrap(),
        None
    );
    assert_eq!(
        a.kv_get("k", &KvScope::GlobalExclusive)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"A"[..])
    );
}

#[tokio::test]
async fn sends_into_a_workspace_need_rights_on_it() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let target = admin_agent(&url, "w", "target").await;
    let mut inbox = target.messages();
    let engine = wfe(&url).await;
    let mut frames = engine.frames();
    engine
        .send_message_to_agent("w", "admin", "target", "refused", MessageType::Control)
        .await
        .unwrap();
    let e = next_error(&mut frames).await;
    assert_eq!(e.code, "ERR_PERMISSION_DENIED");
    assert_eq!(e.message, "not authorized to send to workspace w");
    root.grant_access(
        AclPrincipal::workflow_engine(),
        AclResource::workspace("w"),
        AccessLevel::ReadWrite,
    )
    .await
    .unwrap();
    engine
        .send_message_to_agent("w", "admin", "target", "allowed", MessageType::Control)
        .await
        .unwrap();
    let m = within("the allowed message", inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload_str(), Some("allowed"));
}

#[tokio::test]
async fn tasks_of_other_workspaces_are_not_listed() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let secret = admin_agent(&url, "secret", "a").await;
    let hidden = secret
        .create_task(
            TaskSpec::new("payroll-run")
                .workspace("secret")
                .metadata("salary", "1000000"),
        )
        .await
        .unwrap();
    let orc = orchestrator(&url, "o1").await;
    // Creating a task needs READ_WRITE on its workspace.
    let refused = orc.create_task(TaskSpec::new("t").workspace("w")).await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::PermissionDenied);
    root.grant_access(
        AclPrincipal::orchestrator("launcher", "o1"),
        AclResource::workspace("w"),
        AccessLevel::ReadWrite,
    )
    .await
    .unwrap();
    let mine = orc
        .create_task(TaskSpec::new("t").workspace("w"))
        .await
        .unwrap();
    // LIST shows what GET shows: its own workspace's, not the secret one's.
    let listed = orc
        .query_tasks(TaskQuery::new().workspace("secret"))
        .await
        .unwrap();
    assert!(listed.tasks.is_empty(), "{:?}", listed.tasks);
    assert_eq!(
        orc.get_task(&hidden.task_id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let listed = orc
        .query_tasks(TaskQuery::new().workspace("w"))
        .await
        .unwrap();
    assert_eq!(listed.tasks.len(), 1);
    assert_eq!(listed.tasks[0].task_id, mine.task_id);
}

#[tokio::test]
async fn access_checks_answer_for_the_caller() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let engine = wfe(&url).await;
    let as_engine = AdminClient::new(&engine);
    let doc = AclResource::new("app.docs", "reports/q3");
    let d = as_engine
        .check_access(AccessRequest::new(doc.clone(), AccessLevel::Read))
        .await
        .unwrap();
    assert!(!d.allowed);
    root.grant_access(
        AclPrincipal::workflow_engine(),
        doc.clone(),
        AccessLevel::Read,
    )
    .await
    .unwrap();
    let ds = as_engine
        .check_access_batch(vec![
            AccessRequest::new(doc.clone(), AccessLevel::Read),
            AccessRequest::new(doc, AccessLevel::ReadWrite),
        ])
        .await
        .unwrap();
    assert_eq!(
        ds.iter().map(|d| d.allowed).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(ds[0].level, AccessLevel::Read);
    assert_eq!(ds[0].decision, "ALLOW");
}

#[tokio::test]
async fn rules_policies_and_workspaces_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        GatewayConfig::default()
            .with_admin_key(KEY)
            .with_data_dir(dir.path())
    };
    let rule_id = {
        let gw = common::gateway_with(config()).await;
        let root = admin(&gw.url()).await;
        root.create_workspace(WorkspaceSpec::new("kept").unwrap().display_name("Kept"))
            .await
            .unwrap();
        root.set_fallback_policy("workflow_engine_kv_scope", AccessLevel::Read)
            .await
            .unwrap();
        root.create_role("readers", "").await.unwrap();
        root.assign_role("readers", &AclPrincipal::workflow_engine(), 0)
            .await
            .unwrap();
        let rule = root
            .grant(
                AclGrant::new(
                    AclPrincipal::role("readers"),
                    AclResource::workspace("kept"),
                    AccessLevel::Read,
                )
                .reason("kept across restarts")
                .expires_in(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
        gw.shutdown().await;
        rule.id
    };
    let gw = common::gateway_with(config()).await;
    let url = gw.url();
    let root = admin(&url).await;
    let rule = root.get_rule(&rule_id).await.unwrap();
    assert_eq!(rule.reason, "kept across restarts");
    assert!(rule.expires_at > 0);
    let ws = root.get_workspace("kept").await.unwrap();
    assert_eq!(ws.display_name, "Kept");
    assert!(
        root.list_workspaces(0, 0)
            .await
            .unwrap()
            .iter()
            .any(|w| w.id == "kept")
    );
    assert_eq!(
        root.fallback_policy("workflow_engine_kv_scope")
            .await
            .unwrap()
            .level,
        AccessLevel::Read
    );
    // And they still decide: the role's rule reads the workspace.
    let engine = wfe(&url).await;
    let ws_kv = KvScope::workspace_in("kept").unwrap();
    assert_eq!(engine.kv_get("nothing", &ws_kv).await.unwrap(), None);
    assert!(engine.kv_put("x", "y", &ws_kv, None).await.is_err());
    // The fallback policy reads global KV.
    assert_eq!(
        engine.kv_get("nothing", &KvScope::Global).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn bad_admin_input_is_refused_and_nothing_is_stored() {
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let bad = [
        AclGrant::new(
            AclPrincipal::new("martian", "x"),
            AclResource::workspace("w"),
            AccessLevel::Read,
        ),
        AclGrant::new(
            AclPrincipal::agent("w", "i", "s"),
            AclResource::new("Not A Type", "x"),
            AccessLevel::Read,
        ),
        AclGrant::new(
            AclPrincipal::new("agent", "a\u{0}b"),
            AclResource::workspace("w"),
            AccessLevel::Read,
        ),
        AclGrant::new(
            AclPrincipal::agent("w", "i", "s"),
            AclResource::workspace(&"x".repeat(10_000)),
            AccessLevel::Read,
        ),
        AclGrant::new(
            AclPrincipal::group("nonexistent"),
            AclResource::workspace("w"),
            AccessLevel::Read,
        ),
        AclGrant::new(
            AclPrincipal::wildcard("_any_martian"),
            AclResource::workspace("w"),
            AccessLevel::Read,
        ),
    ];
    for g in bad {
        let e = root.grant(g).await.unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Rejected | ErrorKind::NotFound),
            "{e}"
        );
        assert!(e.to_string().len() < 400, "error text stays short: {e}");
    }
    assert!(root.fallback_policy("nonsense").await.is_err());
    assert!(
        root.set_fallback_policy("agent_Bad Type", AccessLevel::Read)
            .await
            .is_err()
    );
    assert!(
        root.create_workspace(
            WorkspaceSpec::new("ok")
                .unwrap()
                .metadata("k", "v".repeat(5000))
        )
        .await
        .is_err()
    );
    assert_eq!(
        root.list_rules(RuleFilter::default()).await.unwrap().total,
        0
    );
    assert!(
        root.list_workspaces(0, 0)
            .await
            .unwrap()
            .iter()
            .all(|w| w.id != "ok")
    );
}

#[tokio::test]
async fn revoked_and_expired_rules_stop_sends_at_once() {
    // The gateway reuses a session's last allowed send decision; a change
    // of the ACL or an expiry must end it.
    let gw = secured().await;
    let url = gw.url();
    let root = admin(&url).await;
    let target = admin_agent(&url, "w", "target").await;
    let mut inbox = target.messages();
    let clerk = plain_agent(&url, "w2", "c1").await;
    let mut frames = clerk.frames();
    let send = |text: &'static str| {
        clerk.send_message_to_agent("w", "admin", "target", text, MessageType::Control)
    };
    let rule = root
        .grant_access(
            AclPrincipal::agent("w2", "clerk", "c1"),
            AclResource::workspace("w"),
            AccessLevel::ReadWrite,
        )
        .await
        .unwrap();
    for text in ["one", "two"] {
        send(text).await.unwrap();
        let m = within("an allowed message", inbox.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.payload_str(), Some(text));
    }
    root.revoke_rule(&rule.id).await.unwrap();
    send("after revocation").await.unwrap();
    let e = next_error(&mut frames).await;
    assert_eq!(e.message, "not authorized to send to workspace w");

    let expiring = root
        .grant(
            AclGrant::new(
                AclPrincipal::agent("w2", "clerk", "c1"),
                AclResource::workspace("w"),
                AccessLevel::ReadWrite,
            )
            .expires_in(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    send("before expiry").await.unwrap();
    let m = within("the message before expiry", inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload_str(), Some("before expiry"));
    // Waits for the clock to pass the rule's expiry (unix seconds).
    let now_s = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    while now_s() < expiring.expires_at {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send("after expiry").await.unwrap();
    let e = next_error(&mut frames).await;
    assert_eq!(e.message, "not authorized to send to workspace w");
}
