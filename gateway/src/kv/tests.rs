//! Every operation through [`Kv::handle`], per scope and caller.

use std::collections::HashMap;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AuthorizationContext, DownstreamMessage, KvOperation, KvResponse,
    downstream_message::Payload,
    kv_operation::{OpType, Scope as W},
};
use bytes::Bytes;

use super::*;

fn kv() -> Kv {
    Kv::load(Store::memory(), 16).unwrap()
}

fn agent(spec: &str) -> Caller {
    Caller::of(&Principal::agent("w", "i", spec).unwrap(), "w")
}

fn op(kind: OpType, scope: W, key: &str) -> KvOperation {
    KvOperation {
        op: kind as i32,
        scope: scope as i32,
        key: key.into(),
        request_id: "r".into(),
        user_id: "u".into(),
        ..Default::default()
    }
}

fn put(key: &str, value: &'static str, scope: W) -> KvOperation {
    KvOperation {
        value: Bytes::from_static(value.as_bytes()),
        ..op(OpType::Put, scope, key)
    }
}

/// Runs `o` as a superadmin session (the access rules have their own
/// tests): KV's own checks only.
fn handle(kv: &Kv, c: &Caller, o: KvOperation) -> Answer {
    let authz = Authz::load(Store::memory()).unwrap();
    let p = crate::authz::PrincipalId::parse_parts("agent", "w::i::s").unwrap();
    kv.handle(&authz, &Actor::direct(&p, "w", true), c, o)
}

fn now(a: Answer) -> Vec<DownstreamMessage> {
    match a {
        Answer::Now(m) => m,
        Answer::Later(_) => panic!("a memory store answers at once"),
    }
}

fn resp(kv: &Kv, c: &Caller, o: KvOperation) -> KvResponse {
    let msgs = now(handle(kv, c, o));
    match msgs.as_slice() {
        [
            DownstreamMessage {
                payload: Some(Payload::Kv(r)),
                ..
            },
        ] => *r.clone(),
        other => panic!("expected one KVResponse, got {other:?}"),
    }
}

fn codes(msgs: &[DownstreamMessage]) -> Vec<String> {
    msgs.iter()
        .map(|m| match &m.payload {
            Some(Payload::Kv(r)) => format!("kv:{}:{}", r.success, r.request_id),
            Some(Payload::Error(e)) => format!("{}:{}", e.code, e.request_id),
            _ => "other".into(),
        })
        .collect()
}

fn get(kv: &Kv, c: &Caller, key: &str, scope: W) -> Bytes {
    resp(kv, c, op(OpType::Get, scope, key)).value
}

const ALL: [W; 9] = [
    W::Unspecified,
    W::Global,
    W::Workspace,
    W::User,
    W::UserWorkspace,
    W::GlobalExclusive,
    W::WorkspaceExclusive,
    W::UserShared,
    W::UserWorkspaceShared,
];

#[test]
fn every_scope_round_trips_and_echoes_the_request_id() {
    let kv = kv();
    let a = agent("a");
    for scope in ALL {
        let r = resp(&kv, &a, put("k", "v", scope));
        assert!(r.success && r.request_id == "r", "{scope:?}");
        assert_eq!(get(&kv, &a, "k", scope), "v", "{scope:?}");
    }
}

#[test]
fn exclusive_scopes_are_per_caller_and_shared_scopes_shared() {
    let kv = kv();
    let (a, b) = (agent("a"), agent("b"));
    // A service, or an agent of another workspace, with the same
    // implementation and specifier is another identity: it does not share.
    let twin = Caller::of(&Principal::service("i", "a", false).unwrap(), "");
    let other_ws = Caller::of(&Principal::agent("x", "i", "a").unwrap(), "x");
    for scope in ALL {
        resp(&kv, &a, put(&format!("{scope:?}"), "a", scope));
    }
    for scope in ALL {
        let key = format!("{scope:?}");
        let seen_by_b = get(&kv, &b, &key, scope);
        let exclusive = Scope::from_wire(scope as i32).is_exclusive();
        assert_eq!(seen_by_b, if exclusive { "" } else { "a" }, "{scope:?}");
    }
    assert_eq!(get(&kv, &twin, "GlobalExclusive", W::GlobalExclusive), "");
    assert_eq!(
        get(&kv, &other_ws, "GlobalExclusive", W::GlobalExclusive),
        ""
    );
    let same = Caller::of(&Principal::agent("w", "i", "a").unwrap(), "w");
    assert_eq!(get(&kv, &same, "GlobalExclusive", W::GlobalExclusive), "a");
    // The workspace scope defaults to the caller's workspace.
    let elsewhere = Caller::of(&Principal::agent("x", "i", "a").unwrap(), "x");
    assert_eq!(get(&kv, &elsewhere, "Workspace", W::Workspace), "");
    let mut explicit = op(OpType::Get, W::Workspace, "Workspace");
    explicit.workspace = "w".into();
    assert_eq!(resp(&kv, &elsewhere, explicit).value, "a");
}

#[test]
fn refusals_follow_the_failure_sequences() {
    let kv = kv();
    let a = agent("a");
    let user = Caller::of(&Principal::user("u", "w").unwrap(), "");
    let fail = ["kv:false:r", "KV_ERROR:r"];
    assert_eq!(
        codes(&now(handle(&kv, &user, put("k", "v", W::Global)))),
        fail
    );
    assert_eq!(codes(&now(handle(&kv, &a, put("", "v", W::Global)))), fail);
    assert_eq!(
        codes(&now(handle(&kv, &a, put(&"k".repeat(257), "v", W::Global)))),
        fail
    );
    let mut no_user = put("k", "v", W::UserShared);
    no_user.user_id.clear();
    assert_eq!(codes(&now(handle(&kv, &a, no_user))), fail);
    let mut unknown = op(OpType::Get, W::Global, "k");
    unknown.op = 99;
    assert_eq!(codes(&now(handle(&kv, &a, unknown))), fail);
    let pooled = Caller::of(&Principal::pooled_task("w", "i").unwrap(), "w");
    assert_eq!(
        codes(&now(handle(
            &kv,
            &pooled,
            put("k", "v", W::GlobalExclusive)
        ))),
        fail
    );
    let mut obo = put("k", "v", W::Global);
    obo.authorization = Some(AuthorizationContext::default());
    assert_eq!(
        codes(&now(handle(&kv, &a, obo))),
        ["ERR_PERMISSION_DENIED:r", "kv:false:r"]
    );
    let big = KvOperation {
        value: Bytes::from(vec![0; 17]),
        ..op(OpType::Put, W::Global, "k")
    };
    assert_eq!(codes(&now(handle(&kv, &a, big))), ["ERR_QUOTA_001:r"]);
    let mut nowait = put("", "v", W::Global);
    nowait.request_id.clear();
    assert_eq!(codes(&now(handle(&kv, &a, nowait))), ["KV_ERROR:"]);
    assert_eq!(get(&kv, &a, "k", W::Global), "", "nothing was written");
}

#[test]
fn counters_sets_and_guards_through_the_handler() {
    let kv = kv();
    let a = agent("a");
    assert_eq!(
        resp(&kv, &a, op(OpType::Increment, W::Global, "c")).counter_value,
        1
    );
    assert_eq!(
        resp(&kv, &a, op(OpType::Decrement, W::Global, "c")).counter_value,
        0
    );
    let mut inc_if = op(OpType::IncrementIf, W::Global, "c");
    inc_if.guard_value = 1;
    assert!(resp(&kv, &a, inc_if.clone()).applied);
    assert!(!resp(&kv, &a, inc_if).applied);
    let mut dec_if = op(OpType::DecrementIf, W::Global, "c");
    dec_if.guard_value = 0;
    assert!(resp(&kv, &a, dec_if.clone()).applied);
    assert!(!resp(&kv, &a, dec_if).applied);
    assert!(
        resp(
            &kv,
            &a,
            KvOperation {
                op: OpType::SetNx as i32,
                ..put("n", "1", W::Global)
            }
        )
        .applied
    );
    let cas = KvOperation {
        op: OpType::CompareAndSet as i32,
        expected_value: Bytes::from_static(b"1"),
        ..put("n", "2", W::Global)
    };
    assert!(resp(&kv, &a, cas).applied);
    let cad = KvOperation {
        expected_value: Bytes::from_static(b"2"),
        ..op(OpType::CompareAndDelete, W::Global, "n")
    };
    assert!(resp(&kv, &a, cad).applied);
    let add = KvOperation {
        op: OpType::SetAdd as i32,
        ..put("s", "m", W::Global)
    };
    assert!(resp(&kv, &a, add.clone()).applied);
    assert!(!resp(&kv, &a, add).applied);
    assert_eq!(
        resp(&kv, &a, op(OpType::SetCard, W::Global, "s")).counter_value,
        1
    );
    resp(&kv, &a, put("x", "1", W::Global));
    assert!(resp(&kv, &a, op(OpType::Delete, W::Global, "x")).success);
    assert_eq!(get(&kv, &a, "x", W::Global), "");
}

#[test]
fn list_pages_and_purge_of_another_identity() {
    let kv = kv();
    let (a, b) = (agent("a"), agent("b"));
    for i in 0..5 {
        resp(&kv, &a, put(&format!("p{i}"), "v", W::GlobalExclusive));
    }
    let mut list = op(OpType::List, W::GlobalExclusive, "p");
    list.limit = 3;
    let page = resp(&kv, &a, list.clone());
    assert_eq!(page.keys, ["p0", "p1", "p2"]);
    assert!(page.has_more);
    list.cursor = page.next_cursor;
    let page = resp(&kv, &a, list);
    assert_eq!(page.keys, ["p3", "p4"]);
    assert!(!page.has_more && page.next_cursor.is_empty());
    assert_eq!(page.kv_map.get("p4").map(|v| v.as_ref()), Some(&b"v"[..]));

    let purge = |scope, target: &str, prefix: &str| KvOperation {
        target_identity: target.into(),
        ..op(OpType::PurgeIdentity, scope, prefix)
    };
    let fail = ["kv:false:r", "KV_ERROR:r"];
    assert_eq!(
        codes(&now(handle(&kv, &b, purge(W::Global, "ag::w::i::a", "")))),
        fail
    );
    assert_eq!(
        codes(&now(handle(&kv, &b, purge(W::GlobalExclusive, "", "")))),
        fail
    );
    assert_eq!(
        resp(&kv, &b, purge(W::GlobalExclusive, "ag::w::i::a", "p4")).counter_value,
        1
    );
    assert_eq!(
        resp(&kv, &b, purge(W::GlobalExclusive, "ag::w::i::a", "")).counter_value,
        4
    );
    assert_eq!(get(&kv, &a, "p0", W::GlobalExclusive), "");
}

#[test]
fn config_snapshot_has_the_callers_exclusive_entries() {
    let kv = kv();
    let a = agent("a");
    for i in 0..120 {
        resp(&kv, &a, put(&format!("g{i:03}"), "v", W::GlobalExclusive));
    }
    resp(&kv, &a, put("wk", "w", W::WorkspaceExclusive));
    resp(&kv, &a, put("shared", "s", W::Global));
    resp(&kv, &agent("b"), put("other", "o", W::GlobalExclusive));
    let ctx = HashMap::from([("task_id".to_string(), "t".to_string())]);
    let snap = kv.config_snapshot(&a, Some(ctx.clone()));
    assert_eq!(snap.global_exclusive_kv.len(), 100);
    assert!(snap.global_exclusive_kv.contains_key("g000"));
    assert!(!snap.global_exclusive_kv.contains_key("g100"));
    assert_eq!(snap.workspace_exclusive_kv.len(), 1);
    assert!(snap.kv.is_empty() && snap.global_kv.is_empty());
    assert_eq!(snap.task_context, ctx);
    let pooled = Caller::of(&Principal::pooled_task("w", "i").unwrap(), "w");
    let empty = kv.config_snapshot(&pooled, None);
    assert!(empty.global_exclusive_kv.is_empty() && empty.task_context.is_empty());
}

#[test]
fn sweeping_removes_expired_entries() {
    let kv = kv();
    let a = agent("a");
    let mut o = put("t", "v", W::Global);
    o.ttl = 1;
    resp(&kv, &a, o);
    kv.sweep(unix_ms() + 2000);
    assert_eq!(kv.map.read().len(), 0);
}

#[tokio::test]
async fn durable_changes_survive_reloading() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kv = Kv::load(store.clone(), 16).unwrap();
    let a = agent("a");
    for o in [
        put("k", "v", W::WorkspaceExclusive),
        op(OpType::Increment, W::Global, "c"),
        op(OpType::Increment, W::Global, "c"),
    ] {
        match handle(&kv, &a, o) {
            Answer::Later(f) => assert!(codes(&f.await)[0].starts_with("kv:true")),
            Answer::Now(m) => panic!("a durable write waits for its commit: {m:?}"),
        }
    }
    store.close();
    let store = Store::open(dir.path()).unwrap();
    let kv = Kv::load(store.clone(), 16).unwrap();
    assert_eq!(get(&kv, &a, "k", W::WorkspaceExclusive), "v");
    assert_eq!(get(&kv, &a, "c", W::Global), "2");
    store.close();
}
