//! KV through the SDK against the in-process gateway: every operation and
//! scope, namespace isolation, pagination, fire-and-forget ops, and the
//! typed failures.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aether_client::proto::AuthorizationContext;
use aether_client::stack::OpRequest;
use aether_client::{
    AgentClient, ErrorKind, KvScope, MetricsBridgeClient, ServiceClient, TaskClient,
    WorkflowEngineClient,
};
use bytes::Bytes;
use common::{Proxy, gateway, within};
use futures_util::StreamExt;
use tokio::sync::mpsc;

async fn agent(url: &str, ws: &str, imp: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder(ws, imp, spec)
        .unwrap()
        .gateway(url)
        .build();
    a.connect().await.unwrap();
    a
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn get_put_delete_and_ttl() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ws", "kv", "a").await;
    let g = KvScope::Global;

    assert_eq!(a.kv_get("missing", &g).await.unwrap(), None);
    a.kv_put("k", "v1", &g, None).await.unwrap();
    assert_eq!(a.kv_get("k", &g).await.unwrap(), Some(b("v1")));
    a.kv_put("k", "v2", &g, None).await.unwrap();
    assert_eq!(a.kv_get("k", &g).await.unwrap(), Some(b("v2")));
    a.kv_delete("k", &g).await.unwrap();
    assert_eq!(a.kv_get("k", &g).await.unwrap(), None);
    a.kv_delete("k", &g).await.unwrap(); // idempotent

    // The protocol cannot tell an empty value from a missing key.
    a.kv_put("empty", Bytes::new(), &g, None).await.unwrap();
    assert_eq!(a.kv_get("empty", &g).await.unwrap(), None);

    // A TTL expires the key (whole seconds on the wire): bounded wait.
    a.kv_put("short", "x", &g, Some(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(a.kv_get("short", &g).await.unwrap(), Some(b("x")));
    within("the TTL to expire", async {
        while a.kv_get("short", &g).await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn counters_guards_and_conditional_writes() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ws", "kv", "a").await;
    let g = KvScope::Global;

    assert_eq!(a.kv_increment("n", &g, None).await.unwrap(), 1);
    assert_eq!(a.kv_increment("n", &g, None).await.unwrap(), 2);
    assert_eq!(a.kv_decrement("n", &g).await.unwrap(), 1);
    assert_eq!(a.kv_decrement("n", &g).await.unwrap(), 0);

    assert_eq!(
        a.kv_increment_if("c", 2, 3, &g, None).await.unwrap(),
        (2, true)
    );
    assert_eq!(
        a.kv_increment_if("c", 2, 3, &g, None).await.unwrap(),
        (2, false)
    );
    assert_eq!(
        a.kv_increment_if("c", 1, 3, &g, None).await.unwrap(),
        (3, true)
    );
    assert_eq!(a.kv_decrement_if("c", 3, 0, &g).await.unwrap(), (0, true));
    assert_eq!(a.kv_decrement_if("c", 1, 0, &g).await.unwrap(), (0, false));
    assert_eq!(
        a.kv_increment_if("c", 0, 9, &g, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );

    assert!(a.kv_set_nx("lock", "me", &g, None).await.unwrap());
    assert!(!a.kv_set_nx("lock", "you", &g, None).await.unwrap());
    assert!(
        !a.kv_compare_and_set("lock", "you", "x", &g, None)
            .await
            .unwrap()
    );
    assert!(
        a.kv_compare_and_set("lock", "me", "me2", &g, None)
            .await
            .unwrap()
    );
    assert!(
        !a.kv_compare_and_set("nothing", "", "x", &g, None)
            .await
            .unwrap()
    );
    assert!(!a.kv_compare_and_delete("lock", "me", &g).await.unwrap());
    assert!(a.kv_compare_and_delete("lock", "me2", &g).await.unwrap());
    assert_eq!(a.kv_get("lock", &g).await.unwrap(), None);

    assert_eq!(a.kv_set_card("set", &g).await.unwrap(), 0);
    assert_eq!(a.kv_set_add("set", "x", &g, None).await.unwrap(), (true, 1));
    assert_eq!(a.kv_set_add("set", "y", &g, None).await.unwrap(), (true, 2));
    assert_eq!(
        a.kv_set_add("set", "x", &g, None).await.unwrap(),
        (false, 2)
    );
    assert_eq!(a.kv_set_card("set", &g).await.unwrap(), 2);

    // A counter op on a value that is not a counter is refused.
    a.kv_put("text", "abc", &g, None).await.unwrap();
    assert_eq!(
        a.kv_increment("text", &g, None).await.unwrap_err().kind(),
        ErrorKind::Rejected
    );
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn every_scope_round_trips_and_namespaces_are_isolated() {
    let gw = gateway().await;
    let url = gw.url();
    let a = agent(&url, "ws1", "kv", "a").await;
    let other = agent(&url, "ws1", "kv", "other").await;
    let elsewhere = agent(&url, "ws2", "kv", "x").await;

    let scopes = [
        KvScope::Global,
        KvScope::Workspace,
        KvScope::workspace_in("wsX").unwrap(),
        KvScope::user("alice").unwrap(),
        KvScope::user_workspace("alice", "ws1").unwrap(),
        KvScope::GlobalExclusive,
        KvScope::WorkspaceExclusive,
        KvScope::workspace_exclusive_in("wsX").unwrap(),
        KvScope::user_shared("alice").unwrap(),
        KvScope::user_workspace_shared("alice", "ws1").unwrap(),
    ];
    for (i, scope) in scopes.iter().enumerate() {
        let value = format!("{}-{i}", scope.name());
        a.kv_put("shared-key", value.clone(), scope, None)
            .await
            .unwrap_or_else(|e| panic!("{scope:?}: {e}"));
        assert_eq!(
            a.kv_get("shared-key", scope).await.unwrap(),
            Some(b(&value)),
            "{scope:?}"
        );
        // Another agent (same workspace, different impl|spec) sees shared
        // scopes, never exclusive ones.
        let seen = other.kv_get("shared-key", scope).await.unwrap();
        if scope.is_exclusive() {
            assert_eq!(seen, None, "{scope:?} leaked");
        } else {
            assert_eq!(seen, Some(b(&value)), "{scope:?}");
        }
    }
    // Every scope wrote its own key: nothing overwrote anything else.
    for (i, scope) in scopes.iter().enumerate() {
        if matches!(scope, KvScope::Workspace) {
            continue; // checked with WorkspaceIn below
        }
        let expect = format!("{}-{i}", scope.name());
        assert_eq!(
            a.kv_get("shared-key", scope).await.unwrap(),
            Some(b(&expect)),
            "{scope:?}"
        );
    }
    // `Workspace` is the caller's session workspace.
    assert_eq!(
        a.kv_get("shared-key", &KvScope::workspace_in("ws1").unwrap())
            .await
            .unwrap(),
        Some(b("workspace-1"))
    );
    assert_eq!(
        elsewhere
            .kv_get("shared-key", &KvScope::Workspace)
            .await
            .unwrap(),
        None
    );
    // Listings are per namespace too.
    assert_eq!(
        a.kv_list("", &KvScope::GlobalExclusive).await.unwrap(),
        vec!["shared-key".to_string()]
    );
    assert!(
        other
            .kv_list("", &KvScope::GlobalExclusive)
            .await
            .unwrap()
            .is_empty()
    );
    for c in [a, other, elsewhere] {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn every_kv_principal_may_use_kv() {
    let gw = gateway().await;
    let url = gw.url();
    let g = KvScope::Global;
    let task = TaskClient::builder("ws", "job", "t1")
        .unwrap()
        .gateway(&url)
        .build();
    let service = ServiceClient::builder("search", "s1")
        .unwrap()
        .gateway(&url)
        .build();
    let wfe = WorkflowEngineClient::builder().gateway(&url).build();
    let metrics = MetricsBridgeClient::builder().gateway(&url).build();
    task.connect().await.unwrap();
    service.connect().await.unwrap();
    wfe.connect().await.unwrap();
    metrics.connect().await.unwrap();

    task.kv_put("from-task", "t", &g, None).await.unwrap();
    service.kv_put("from-service", "s", &g, None).await.unwrap();
    wfe.kv_put("from-wfe", "w", &g, None).await.unwrap();
    metrics.kv_put("from-metrics", "m", &g, None).await.unwrap();
    let keys: BTreeSet<String> = metrics
        .kv_list("from-", &g)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        keys,
        ["from-metrics", "from-service", "from-task", "from-wfe"]
            .map(String::from)
            .into()
    );

    // Exclusive scopes need an implementation and a specifier: the
    // workflow engine has neither, so the gateway refuses.
    let err = wfe
        .kv_get("k", &KvScope::GlobalExclusive)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    // A service has no session workspace.
    let err = service.kv_get("k", &KvScope::Workspace).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");

    task.close().await;
    service.close().await;
    wfe.close().await;
    metrics.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn purge_identity_removes_another_identitys_exclusive_keys() {
    let gw = gateway().await;
    let url = gw.url();
    let victim = agent(&url, "ws", "kv", "victim").await;
    let admin = agent(&url, "ws", "kv", "admin").await;
    let ge = KvScope::GlobalExclusive;
    for k in ["a/1", "a/2", "b/1"] {
        victim.kv_put(k, "x", &ge, None).await.unwrap();
    }
    victim
        .kv_put("a/shared", "x", &KvScope::Global, None)
        .await
        .unwrap();
    assert_eq!(
        admin
            .kv_purge_identity("ag::ws::kv::victim", "a/")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        victim.kv_list("", &ge).await.unwrap(),
        vec!["b/1".to_string()]
    );
    assert_eq!(
        admin
            .kv_purge_identity("ag::ws::kv::victim", "")
            .await
            .unwrap(),
        1
    );
    assert!(victim.kv_list("", &ge).await.unwrap().is_empty());
    // Shared data is untouched.
    assert!(
        victim
            .kv_get("a/shared", &KvScope::Global)
            .await
            .unwrap()
            .is_some()
    );
    victim.close().await;
    admin.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn listings_page_through_250_keys() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ws", "kv", "pager").await;
    let ws = KvScope::Workspace;
    let mut expected = BTreeSet::new();
    for i in 0..250 {
        let key = format!("page/{i:03}");
        a.kv_put(&key, format!("v{i}"), &ws, None).await.unwrap();
        expected.insert(key);
    }
    a.kv_put("other", "x", &ws, None).await.unwrap();

    // One page at a time, by hand.
    let first = a.kv_list_page("page/", &ws, 100, None).await.unwrap();
    assert_eq!(first.keys.len(), 100);
    assert!(first.has_more());
    assert_eq!(first.entries.len(), 100);

    // As a stream: every key once, with its value.
    let mut seen = BTreeSet::new();
    let mut stream = a.kv_list_stream("page/", &ws, 64);
    while let Some(entry) = stream.next().await {
        let (key, value) = entry.unwrap();
        let i: usize = key["page/".len()..].parse().unwrap();
        assert_eq!(value, b(&format!("v{i}")));
        assert!(seen.insert(key), "a key came twice");
    }
    assert_eq!(seen, expected);

    // All keys at once (the gateway's page default is 100).
    let all: BTreeSet<String> = a.kv_list("page/", &ws).await.unwrap().into_iter().collect();
    assert_eq!(all, expected);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn nowait_operations_are_observed_by_later_calls() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ws", "kv", "nowait").await;
    let g = KvScope::Global;
    a.kv_put_nowait("nw", "queued", &g, None).unwrap();
    assert_eq!(a.kv_get("nw", &g).await.unwrap(), Some(b("queued")));
    a.kv_increment_nowait("nw-count", &g, None).unwrap();
    a.kv_increment_nowait("nw-count", &g, None).unwrap();
    a.kv_decrement_nowait("nw-count", &g).unwrap();
    assert_eq!(a.kv_get("nw-count", &g).await.unwrap(), Some(b("1")));
    a.kv_delete_nowait("nw", &g).unwrap();
    assert_eq!(a.kv_get("nw", &g).await.unwrap(), None);
    assert_eq!(a.pending_calls(), 0);

    // Before connect: a typed error, nothing queued.
    let idle = AgentClient::builder("ws", "kv", "idle")
        .unwrap()
        .gateway(gw.url())
        .build();
    assert_eq!(
        idle.kv_put_nowait("k", "v", &g, None).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn invalid_keys_are_rejected_without_sending() {
    let gw = gateway().await;
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let a = AgentClient::builder("ws", "kv", "strict")
        .unwrap()
        .gateway(gw.url())
        .layer(tower::util::MapRequestLayer::new(move |req: OpRequest| {
            counter.fetch_add(1, Ordering::SeqCst);
            req
        }))
        .build();
    a.connect().await.unwrap();
    let g = KvScope::Global;
    let long = "k".repeat(257);
    for err in [
        a.kv_get("", &g).await.unwrap_err(),
        a.kv_put(&long, "v", &g, None).await.unwrap_err(),
        a.kv_set_nx("", "v", &g, None).await.unwrap_err(),
        a.kv_list(&long, &g).await.unwrap_err(),
        a.kv_put_nowait("", "v", &g, None).unwrap_err(),
        a.kv_purge_identity("", "").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    assert_eq!(sent.load(Ordering::SeqCst), 0);
    // 256 bytes is fine.
    a.kv_put(&"k".repeat(256), "v", &g, None).await.unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn oversized_values_are_a_typed_error_and_the_connection_survives() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ws", "kv", "big").await;
    let g = KvScope::Global;
    let err = a
        .kv_put("big", vec![0u8; 1024 * 1024 + 1], &g, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge, "{err}");
    assert_eq!(err.code(), Some("ERR_QUOTA_001"));
    a.kv_put("small", "ok", &g, None).await.unwrap();
    assert_eq!(a.kv_get("small", &g).await.unwrap(), Some(b("ok")));
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_refusal_resolves_the_call_and_its_reason_reaches_on_error() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ws", "kv", "refused").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    a.on_error(move |e| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(e);
        }
    });
    a.kv_put("text", "abc", &KvScope::Global, None)
        .await
        .unwrap();
    let err = a
        .kv_increment("text", &KvScope::Global, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    // The gateway's follow-up ErrorResponse arrives after the call was
    // resolved: it is an uncorrelated push.
    let follow_up = within("the KV_ERROR follow-up", rx.recv()).await.unwrap();
    assert_eq!(follow_up.code(), Some("KV_ERROR"));
    assert_eq!(a.pending_calls(), 0);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn an_invalid_authorization_context_is_permission_denied() {
    let gw = gateway().await;
    let a = AgentClient::builder("ws", "kv", "obo")
        .unwrap()
        .gateway(gw.url())
        // Direct mode names no grant: this one does not resolve.
        .authorization(AuthorizationContext {
            authority_mode: "direct".into(),
            grant_id: "g".into(),
            ..Default::default()
        })
        .build();
    a.connect().await.unwrap();
    let err = a.kv_get("k", &KvScope::Global).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_kv_call_that_gets_no_reply_is_a_timeout_error() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    let a = AgentClient::builder("ws", "kv", "slow")
        .unwrap()
        .gateway(proxy.url())
        .request_timeout(Duration::from_millis(300))
        .retry(1, Default::default())
        .build();
    a.connect().await.unwrap();
    proxy.freeze(true);
    let err = a.kv_get("k", &KvScope::Global).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(a.pending_calls(), 0);
    proxy.freeze(false);
    a.kv_put("k", "after", &KvScope::Global, None)
        .await
        .unwrap();
    a.close().await;
    gw.shutdown().await;
}
