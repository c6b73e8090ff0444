//! KV over the wire (§3): every operation and scope, namespace isolation,
//! the failure sequences, pagination, TTL, atomicity across sessions and
//! the ConfigSnapshot.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::kv_operation::{OpType, Scope};
use aether_protocol::proto::{AuthorizationContext, KvOperation, downstream_message::Payload};
use bytes::Bytes;
use common::state::{kv, kv_put};
use common::{Conn, GUARD, dev_gateway, init};

const ALL_SCOPES: [Scope; 9] = [
    Scope::Unspecified,
    Scope::Global,
    Scope::Workspace,
    Scope::User,
    Scope::UserWorkspace,
    Scope::GlobalExclusive,
    Scope::WorkspaceExclusive,
    Scope::UserShared,
    Scope::UserWorkspaceShared,
];

fn exclusive(scope: Scope) -> bool {
    matches!(
        scope,
        Scope::User | Scope::UserWorkspace | Scope::GlobalExclusive | Scope::WorkspaceExclusive
    )
}

fn with_user(mut op: KvOperation) -> KvOperation {
    op.user_id = "u1".into();
    op
}

fn agent(spec: &str) -> Principal {
    Principal::agent("w", "impl", spec).unwrap()
}

/// Checks the `KVResponse{false}` + `KV_ERROR` pair answering `rid`.
fn assert_failure_pair(frames: &[Payload], rid: &str) {
    match frames {
        [Payload::Kv(r), Payload::Error(e)] => {
            assert!(!r.success);
            assert_eq!(r.request_id, rid);
            assert_eq!(e.code, "KV_ERROR");
            assert_eq!(e.request_id, rid);
            assert!(
                e.message
                    .starts_with("internal error processing KV operation")
            );
        }
        other => panic!("expected the failure pair, got {other:?}"),
    }
}

#[tokio::test]
async fn every_scope_puts_gets_and_deletes() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    for (i, scope) in ALL_SCOPES.into_iter().enumerate() {
        let rid = format!("p{i}");
        let r = a.kv(with_user(kv_put(scope, "k", b"v", &rid))).await;
        assert!(r.success, "{scope:?}");
        assert_eq!(r.request_id, rid);
        let r = a.kv(with_user(kv(OpType::Get, scope, "k", "g"))).await;
        assert_eq!(r.value, "v", "{scope:?}");
        let r = a.kv(with_user(kv(OpType::Delete, scope, "k", "d"))).await;
        assert!(r.success);
        let r = a.kv(with_user(kv(OpType::Get, scope, "k", "g2"))).await;
        assert!(r.success && r.value.is_empty(), "missing reads as empty");
    }
}

#[tokio::test]
async fn exclusive_scopes_are_per_caller_shared_scopes_are_shared() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut a, _) = Conn::connect(&url, &agent("a")).await;
    let (mut b, _) = Conn::connect(&url, &agent("b")).await;
    let (mut task, _) = Conn::connect(&url, &Principal::unique_task("w", "t", "1").unwrap()).await;
    let (mut svc, _) = Conn::connect(&url, &Principal::service("impl", "a", false).unwrap()).await;
    for scope in ALL_SCOPES {
        a.kv(with_user(kv_put(
            scope,
            &format!("{scope:?}"),
            b"from-a",
            "p",
        )))
        .await;
    }
    for scope in ALL_SCOPES {
        let key = format!("{scope:?}");
        let want: &[u8] = if exclusive(scope) { b"" } else { b"from-a" };
        assert_eq!(
            b.kv(with_user(kv(OpType::Get, scope, &key, "g")))
                .await
                .value,
            want,
            "{scope:?}"
        );
        assert_eq!(
            task.kv(with_user(kv(OpType::Get, scope, &key, "g")))
                .await
                .value,
            want,
            "{scope:?}"
        );
    }
    // Exclusive namespaces belong to one identity: a service with the
    // agent's implementation and specifier does not share them (upstream
    // keys them by impl|spec alone).
    assert_eq!(
        svc.kv_get(Scope::GlobalExclusive, "GlobalExclusive").await,
        ""
    );
    // Services have no workspace: workspace scopes need one named.
    let frames = svc
        .kv_frames(kv(OpType::Get, Scope::Workspace, "Workspace", "nows"), 2)
        .await;
    assert_failure_pair(&frames, "nows");
    let mut named = kv(OpType::Get, Scope::Workspace, "Workspace", "ws");
    named.workspace = "w".into();
    assert_eq!(svc.kv(named).await.value, "from-a");
    // Another workspace is another namespace.
    let (mut other, _) = Conn::connect(&url, &Principal::agent("w2", "impl", "a").unwrap()).await;
    assert_eq!(other.kv_get(Scope::Workspace, "Workspace").await, "");
    // The agent of another workspace with the same implementation and
    // specifier does not read the global-exclusive scope either.
    assert_eq!(
        other
            .kv_get(Scope::GlobalExclusive, "GlobalExclusive")
            .await,
        ""
    );
    assert_eq!(
        other
            .kv_get(Scope::WorkspaceExclusive, "WorkspaceExclusive")
            .await,
        ""
    );
}

#[tokio::test]
async fn unknown_scopes_are_the_workspace_scope() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    let mut odd = kv_put(Scope::Global, "k", b"v", "p");
    odd.scope = 42;
    assert!(a.kv(odd).await.success);
    assert_eq!(a.kv_get(Scope::Workspace, "k").await, "v");
    assert_eq!(a.kv_get(Scope::Unspecified, "k").await, "v");
    assert_eq!(a.kv_get(Scope::Global, "k").await, "");
}

#[tokio::test]
async fn principals_without_kv_get_the_failure_pair() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let others = [
        Principal::user("u", "win").unwrap(),
        Principal::orchestrator("o", "1", vec!["p".into()]).unwrap(),
        Principal::bridge("br", "1").unwrap(),
    ];
    for p in others {
        let (mut c, _) = Conn::connect(&url, &p).await;
        let frames = c.kv_frames(kv_put(Scope::Global, "k", b"v", "r1"), 2).await;
        assert_failure_pair(&frames, "r1");
    }
    for p in [Principal::workflow_engine(), Principal::metrics_bridge()] {
        let (mut c, _) = Conn::connect(&url, &p).await;
        assert!(c.kv(kv_put(Scope::Global, "k", b"v", "ok")).await.success);
        // No implementation and specifier: no exclusive scopes.
        let frames = c
            .kv_frames(kv_put(Scope::GlobalExclusive, "k", b"v", "ex"), 2)
            .await;
        assert_failure_pair(&frames, "ex");
    }
}

#[tokio::test]
async fn bad_requests_get_the_failure_sequences() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    let frames = a
        .kv_frames(kv_put(Scope::Global, "", b"v", "empty"), 2)
        .await;
    assert_failure_pair(&frames, "empty");
    let long = "k".repeat(257);
    let frames = a
        .kv_frames(kv_put(Scope::Global, &long, b"v", "long"), 2)
        .await;
    assert_failure_pair(&frames, "long");
    assert!(
        a.kv(kv_put(Scope::Global, &"k".repeat(256), b"v", "max"))
            .await
            .success
    );
    let frames = a
        .kv_frames(kv_put(Scope::UserShared, "k", b"v", "nouser"), 2)
        .await;
    assert_failure_pair(&frames, "nouser");
    let mut unknown = kv(OpType::Get, Scope::Global, "k", "unknown");
    unknown.op = 77;
    let frames = a.kv_frames(unknown, 2).await;
    assert_failure_pair(&frames, "unknown");
    let mut text = kv(OpType::Increment, Scope::Global, "t", "nan");
    a.kv(kv_put(Scope::Global, "t", b"abc", "p")).await;
    text.key = "t".into();
    assert_failure_pair(&a.kv_frames(text, 2).await, "nan");

    // Oversized PUT: ERR_QUOTA_001 only.
    let big = kv_put(Scope::Global, "big", &vec![7u8; 1024 * 1024 + 1], "big");
    match a.kv_frames(big, 1).await.as_slice() {
        [Payload::Error(e)] => {
            assert_eq!(e.code, "ERR_QUOTA_001");
            assert_eq!(e.request_id, "big");
            assert!(!e.retryable);
        }
        other => panic!("expected ERR_QUOTA_001, got {other:?}"),
    }
    assert!(
        a.barrier().await.is_empty(),
        "nothing else follows the quota error"
    );
    assert_eq!(a.kv_get(Scope::Global, "big").await, "");
    assert!(
        a.kv(kv_put(
            Scope::Global,
            "fits",
            &vec![7u8; 1024 * 1024],
            "fits"
        ))
        .await
        .success
    );

    // An authorization context (OBO) that does not resolve.
    let mut obo = kv_put(Scope::Global, "k", b"v", "obo");
    obo.authorization = Some(AuthorizationContext {
        authority_mode: "on_behalf_of".into(),
        ..Default::default()
    });
    match a.kv_frames(obo, 2).await.as_slice() {
        [Payload::Error(e), Payload::Kv(r)] => {
            assert_eq!(e.code, "ERR_PERMISSION_DENIED");
            assert_eq!(e.message, "invalid authorization context");
            assert_eq!(e.request_id, "obo");
            assert!(!r.success);
            assert_eq!(r.request_id, "obo");
        }
        other => panic!("expected the authorization pair, got {other:?}"),
    }
    // Without a request id: only the error.
    a.send_kv(kv_put(Scope::Global, "", b"v", "")).await;
    match a.barrier().await.as_slice() {
        [Payload::Error(e)] => {
            assert_eq!((e.code.as_str(), e.request_id.as_str()), ("KV_ERROR", ""))
        }
        other => panic!("expected one KV_ERROR, got {other:?}"),
    }
}

#[tokio::test]
async fn counters_guards_cas_and_sets() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    let g = Scope::Global;
    assert_eq!(
        a.kv(kv(OpType::Increment, g, "c", "i1"))
            .await
            .counter_value,
        1
    );
    assert_eq!(
        a.kv(kv(OpType::Increment, g, "c", "i2"))
            .await
            .counter_value,
        2
    );
    assert_eq!(
        a.kv(kv(OpType::Decrement, g, "c", "d1"))
            .await
            .counter_value,
        1
    );
    assert_eq!(a.kv_get(g, "c").await, "1", "stored as a decimal string");
    assert_eq!(
        a.kv(kv(OpType::Decrement, g, "neg", "d2"))
            .await
            .counter_value,
        -1
    );

    let guarded = |op, delta, guard, rid: &str| KvOperation {
        delta_value: delta,
        guard_value: guard,
        ..kv(op, g, "sem", rid)
    };
    let r = a.kv(guarded(OpType::IncrementIf, 0, 2, "a")).await;
    assert_eq!((r.counter_value, r.applied), (1, true));
    let r = a.kv(guarded(OpType::IncrementIf, 1, 2, "b")).await;
    assert_eq!((r.counter_value, r.applied), (2, true));
    let r = a.kv(guarded(OpType::IncrementIf, 1, 2, "c")).await;
    assert_eq!((r.counter_value, r.applied), (2, false));
    let r = a.kv(guarded(OpType::DecrementIf, 2, 0, "d")).await;
    assert_eq!((r.counter_value, r.applied), (0, true));
    let r = a.kv(guarded(OpType::DecrementIf, 1, 0, "e")).await;
    assert_eq!((r.counter_value, r.applied), (0, false));
    assert_failure_pair(
        &a.kv_frames(guarded(OpType::IncrementIf, -1, 9, "neg"), 2)
            .await,
        "neg",
    );

    let nx = |v: &[u8], rid: &str| KvOperation {
        op: OpType::SetNx as i32,
        ..kv_put(g, "lock", v, rid)
    };
    assert!(a.kv(nx(b"me", "n1")).await.applied);
    assert!(!a.kv(nx(b"you", "n2")).await.applied);
    let cas = |expected: &[u8], v: &[u8], rid: &str| KvOperation {
        op: OpType::CompareAndSet as i32,
        expected_value: Bytes::copy_from_slice(expected),
        ..kv_put(g, "lock", v, rid)
    };
    assert!(!a.kv(cas(b"you", b"x", "c1")).await.applied);
    assert!(a.kv(cas(b"me", b"me2", "c2")).await.applied);
    let cad = |expected: &[u8], rid: &str| KvOperation {
        expected_value: Bytes::copy_from_slice(expected),
        ..kv(OpType::CompareAndDelete, g, "lock", rid)
    };
    assert!(!a.kv(cad(b"me", "x1")).await.applied);
    assert!(a.kv(cad(b"me2", "x2")).await.applied);
    assert_eq!(a.kv_get(g, "lock").await, "");

    let add = |m: &[u8], rid: &str| KvOperation {
        op: OpType::SetAdd as i32,
        ..kv_put(g, "set", m, rid)
    };
    let r = a.kv(add(b"b", "s1")).await;
    assert_eq!((r.applied, r.counter_value), (true, 1));
    let r = a.kv(add(b"a", "s2")).await;
    assert_eq!((r.applied, r.counter_value), (true, 2));
    let r = a.kv(add(b"a", "s3")).await;
    assert_eq!((r.applied, r.counter_value), (false, 2));
    assert_eq!(
        a.kv(kv(OpType::SetCard, g, "set", "card"))
            .await
            .counter_value,
        2
    );
    assert_eq!(
        a.kv(kv(OpType::SetCard, g, "none", "card0"))
            .await
            .counter_value,
        0
    );
    assert_eq!(a.kv_get(g, "set").await, "[\"a\",\"b\"]");
}

#[tokio::test]
async fn purge_identity_removes_another_callers_exclusive_keys() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut a, _) = Conn::connect(&url, &agent("a")).await;
    let (mut b, _) = Conn::connect(&url, &agent("b")).await;
    for k in ["x1", "x2", "y1"] {
        a.kv(kv_put(Scope::GlobalExclusive, k, b"v", "p")).await;
    }
    b.kv(kv_put(Scope::GlobalExclusive, "x1", b"mine", "p"))
        .await;
    let purge = |prefix: &str, scope, rid: &str| KvOperation {
        target_identity: "ag::w::impl::a".into(),
        ..kv(OpType::PurgeIdentity, scope, prefix, rid)
    };
    let r = b.kv(purge("x", Scope::GlobalExclusive, "p1")).await;
    assert_eq!(r.counter_value, 2);
    assert!(
        r.keys.is_empty() && r.kv_map.is_empty(),
        "nothing is returned"
    );
    assert_eq!(a.kv_get(Scope::GlobalExclusive, "x1").await, "");
    assert_eq!(a.kv_get(Scope::GlobalExclusive, "y1").await, "v");
    assert_eq!(b.kv_get(Scope::GlobalExclusive, "x1").await, "mine");
    assert_failure_pair(
        &b.kv_frames(purge("", Scope::Global, "shared"), 2).await,
        "shared",
    );
    let mut no_target = purge("", Scope::GlobalExclusive, "none");
    no_target.target_identity.clear();
    assert_failure_pair(&b.kv_frames(no_target, 2).await, "none");
}

#[tokio::test]
async fn list_walks_250_keys_in_three_pages() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    for i in 0..250 {
        a.send_kv(kv_put(
            Scope::Workspace,
            &format!("item/{i:03}"),
            format!("{i}").as_bytes(),
            "p",
        ))
        .await;
    }
    a.send_kv(kv_put(Scope::Workspace, "other", b"x", "p"))
        .await;
    assert!(a.kv_replies(251).await.iter().all(|r| r.success));
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let mut op = kv(OpType::List, Scope::Workspace, "item/", "list");
        op.limit = 100;
        op.cursor = cursor.clone();
        let r = a.kv(op).await;
        pages += 1;
        assert!(r.success);
        assert_eq!(r.keys.len(), r.kv_map.len());
        for k in &r.keys {
            assert!(seen.insert(k.clone()), "duplicate {k}");
            let n: usize = k["item/".len()..].parse().unwrap();
            assert_eq!(r.kv_map[k], n.to_string());
        }
        if !r.has_more {
            assert!(r.next_cursor.is_empty());
            assert_eq!(r.keys.len(), 50);
            break;
        }
        assert_eq!(r.keys.len(), 100);
        assert!(!r.next_cursor.is_empty());
        cursor = r.next_cursor;
    }
    assert_eq!((pages, seen.len()), (3, 250));
    let default_page = a.kv(kv(OpType::List, Scope::Workspace, "", "all")).await;
    assert_eq!(default_page.keys.len(), 100, "the default page is 100");
    assert!(default_page.has_more);
}

#[tokio::test]
async fn ttl_entries_expire() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    let mut op = kv_put(Scope::Global, "short", b"v", "p");
    op.ttl = 1;
    a.kv(op).await;
    a.kv(kv_put(Scope::Global, "long", b"v", "p2")).await;
    assert_eq!(a.kv_get(Scope::Global, "short").await, "v");
    let deadline = tokio::time::Instant::now() + GUARD;
    while !a.kv_get(Scope::Global, "short").await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = a.kv(kv(OpType::List, Scope::Global, "", "l")).await;
    assert_eq!(list.keys, ["long"]);
    let mut inc = kv(OpType::Increment, Scope::Global, "short", "i");
    inc.ttl = 60;
    assert_eq!(
        a.kv(inc).await.counter_value,
        1,
        "an expired counter restarts"
    );
}

#[tokio::test]
async fn guarded_increments_are_atomic_across_sessions() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut tasks = Vec::new();
    for s in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (mut c, _) = Conn::connect(&url, &agent(&format!("s{s}"))).await;
            for i in 0..40 {
                let op = KvOperation {
                    guard_value: 100,
                    ..kv(
                        OpType::IncrementIf,
                        Scope::Global,
                        "permits",
                        &format!("{s}-{i}"),
                    )
                };
                c.send_kv(op).await;
            }
            let mut applied = 0;
            for _ in 0..40 {
                match c.payload().await {
                    Payload::Kv(r) => applied += usize::from(r.applied),
                    other => panic!("expected KV, got {other:?}"),
                }
            }
            applied
        }));
    }
    let mut applied = 0;
    for t in tasks {
        applied += t.await.unwrap();
    }
    assert_eq!(applied, 100, "exactly the ceiling was granted");
    let (mut a, _) = Conn::connect(&url, &agent("check")).await;
    assert_eq!(a.kv_get(Scope::Global, "permits").await, "100");
}

#[tokio::test]
async fn config_snapshot_carries_the_callers_exclusive_entries() {
    let gw = dev_gateway().await;
    let url = gw.url();
    {
        let (mut a, _) = Conn::connect(&url, &agent("a")).await;
        for i in 0..105 {
            a.send_kv(kv_put(
                Scope::GlobalExclusive,
                &format!("g{i:03}"),
                b"G",
                "p",
            ))
            .await;
        }
        a.send_kv(kv_put(Scope::WorkspaceExclusive, "wk", b"W", "w"))
            .await;
        a.send_kv(kv_put(Scope::Global, "shared", b"S", "s")).await;
        let mut elsewhere = kv_put(Scope::WorkspaceExclusive, "other-ws", b"O", "o");
        elsewhere.workspace = "w2".into();
        a.send_kv(elsewhere).await;
        assert!(a.kv_replies(108).await.iter().all(|r| r.success));
    }
    let mut a = Conn::open(&url, init(&agent("a"))).await;
    a.ack().await;
    let snap = a.config().await;
    assert_eq!(snap.global_exclusive_kv.len(), 100, "first 100 only");
    assert_eq!(snap.global_exclusive_kv["g000"], "G");
    assert_eq!(snap.workspace_exclusive_kv.len(), 1);
    assert_eq!(snap.workspace_exclusive_kv["wk"], "W");
    assert!(snap.kv.is_empty() && snap.global_kv.is_empty() && snap.task_context.is_empty());
    // A task with the same implementation and specifier is another
    // identity: it does not see them.
    let mut t = Conn::open(
        &url,
        init(&Principal::unique_task("w", "impl", "a").unwrap()),
    )
    .await;
    t.ack().await;
    assert!(t.config().await.workspace_exclusive_kv.is_empty());
    // Another caller sees nothing.
    let mut b = Conn::open(&url, init(&agent("b"))).await;
    b.ack().await;
    let snap = b.config().await;
    assert!(snap.global_exclusive_kv.is_empty() && snap.workspace_exclusive_kv.is_empty());
}

#[tokio::test]
async fn a_small_value_limit_is_configurable() {
    let gw = aether_gateway::start(
        GatewayConfig::dev().with_limits(Limits::default().with_max_kv_value_bytes(4)),
    )
    .await
    .unwrap();
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    assert!(
        a.kv(kv_put(Scope::Global, "k", b"1234", "ok"))
            .await
            .success
    );
    match a
        .kv_frames(kv_put(Scope::Global, "k", b"12345", "big"), 1)
        .await
        .as_slice()
    {
        [Payload::Error(e)] => assert_eq!(e.code, "ERR_QUOTA_001"),
        other => panic!("expected ERR_QUOTA_001, got {other:?}"),
    }
}
