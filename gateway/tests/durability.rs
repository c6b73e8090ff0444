//! Durability: every acknowledged KV write and checkpoint, and every
//! message waiting for an offline identity, survives a crash (`kill -9` of
//! the binary), a graceful restart and a dropped gateway.

mod common;

use aether_gateway::GatewayConfig;
use aether_protocol::identity::Principal;
use aether_protocol::proto::checkpoint_operation::OpType as CkptOp;
use aether_protocol::proto::kv_operation::{OpType, Scope};
use aether_protocol::proto::{CheckpointOperation, KvOperation, MessageType};
use bytes::Bytes;
use common::state::{ckpt, kv, kv_put};
use common::{Conn, GUARD, kill_9, spawn_binary};

const OFFLINE: &str = "ag::w::impl::offline";

fn agent(spec: &str) -> Principal {
    Principal::agent("w", "impl", spec).unwrap()
}

/// Writes the state every test checks, waiting for every acknowledgement.
async fn write_state(url: &str) {
    let (mut a, _) = Conn::connect(url, &agent("a")).await;
    // 64 writes in flight at once, acknowledged in any order.
    for i in 0..64 {
        a.send_kv(kv_put(
            Scope::Global,
            &format!("bulk/{i:02}"),
            b"x",
            &format!("b{i}"),
        ))
        .await;
    }
    for i in 0..5 {
        a.send_kv(kv(
            OpType::Increment,
            Scope::Global,
            "counter",
            &format!("i{i}"),
        ))
        .await;
    }
    let replies = a.kv_replies(69).await;
    assert!(replies.iter().all(|r| r.success));
    let mut counts: Vec<i64> = replies
        .iter()
        .map(|r| r.counter_value)
        .filter(|&n| n > 0)
        .collect();
    counts.sort();
    assert_eq!(counts, [1, 2, 3, 4, 5]);

    a.kv(kv_put(
        Scope::WorkspaceExclusive,
        "mine",
        b"exclusive",
        "we",
    ))
    .await;
    let mut ttl = kv_put(Scope::Global, "ttl", b"long", "ttl");
    ttl.ttl = 3600;
    a.kv(ttl).await;
    a.kv(KvOperation {
        op: OpType::SetAdd as i32,
        ..kv_put(Scope::Global, "set", b"member", "sa")
    })
    .await;
    a.kv(kv_put(Scope::Global, "gone", b"x", "g1")).await;
    a.kv(kv(OpType::Delete, Scope::Global, "gone", "g2")).await;

    a.checkpoint(CheckpointOperation {
        data: Bytes::from_static(b"ckpt-state"),
        ..ckpt(CkptOp::Save, "", "c1")
    })
    .await;
    a.checkpoint(CheckpointOperation {
        data: Bytes::from_static(b"deleted"),
        ..ckpt(CkptOp::Save, "old", "c2")
    })
    .await;
    a.checkpoint(ckpt(CkptOp::Delete, "old", "c3")).await;

    // Messages to an identity that never connected wait durably.
    for m in [&b"m1"[..], b"m2", b"m3"] {
        a.send_message(OFFLINE, m, MessageType::Chat).await;
    }
    // The journal commits in order: this acknowledgement covers the sends.
    a.kv(kv_put(Scope::Global, "fence", b"f", "fence")).await;
}

/// Checks everything `write_state` wrote, and takes the offline messages.
async fn check_state(url: &str) {
    let (mut a, _) = Conn::connect(url, &agent("a")).await;
    let list = a
        .kv(KvOperation {
            limit: 1000,
            ..kv(OpType::List, Scope::Global, "bulk/", "l")
        })
        .await;
    assert_eq!(list.keys.len(), 64);
    assert_eq!(a.kv_get(Scope::Global, "counter").await, "5");
    assert_eq!(
        a.kv_get(Scope::WorkspaceExclusive, "mine").await,
        "exclusive"
    );
    assert_eq!(a.kv_get(Scope::Global, "ttl").await, "long");
    assert_eq!(a.kv_get(Scope::Global, "set").await, "[\"member\"]");
    assert_eq!(a.kv_get(Scope::Global, "gone").await, "");
    assert_eq!(a.kv_get(Scope::Global, "fence").await, "f");
    let r = a.checkpoint(ckpt(CkptOp::Load, "", "l1")).await;
    assert_eq!(r.data, "ckpt-state");
    assert!(r.saved_at > 0);
    assert_eq!(
        a.checkpoint(ckpt(CkptOp::List, "", "l2")).await.keys,
        ["default"]
    );
    // Increments continue from the stored value.
    assert_eq!(
        a.kv(kv(OpType::Increment, Scope::Global, "counter", "i"))
            .await
            .counter_value,
        6
    );

    let (mut off, _) = Conn::connect(url, &Principal::agent("w", "impl", "offline").unwrap()).await;
    for want in ["m1", "m2", "m3"] {
        let m = off.msg().await;
        assert_eq!(m.payload, want);
        assert_eq!(m.source_topic, "ag::w::impl::a");
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = spawn_binary(dir.path(), &[]).await;
    write_state(&url).await;
    kill_9(child).await;

    let (mut child, url) = spawn_binary(dir.path(), &[]).await;
    check_state(&url).await;
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn state_survives_an_in_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || GatewayConfig::dev().with_data_dir(dir.path());
    let gw = aether_gateway::start(config()).await.unwrap();
    write_state(&gw.url()).await;
    gw.shutdown().await;

    let gw = aether_gateway::start(config()).await.unwrap();
    check_state(&gw.url()).await;
    gw.shutdown().await;

    // Delivered messages are gone; a new one is the first to arrive.
    let gw = aether_gateway::start(config()).await.unwrap();
    let (a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    a.send_message(OFFLINE, b"m4", MessageType::Chat).await;
    let (mut off, _) = Conn::connect(
        &gw.url(),
        &Principal::agent("w", "impl", "offline").unwrap(),
    )
    .await;
    assert_eq!(off.msg().await.payload, "m4");
    gw.shutdown().await;
}

#[tokio::test]
async fn a_dropped_gateway_releases_its_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = || GatewayConfig::dev().with_data_dir(dir.path());
    let gw = aether_gateway::start(config()).await.unwrap();
    {
        let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
        a.kv(kv_put(Scope::Global, "k", b"v", "p")).await;
    }
    drop(gw);
    let gw = aether_gateway::start(config())
        .await
        .expect("the database was released");
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    assert_eq!(a.kv_get(Scope::Global, "k").await, "v");
}

#[tokio::test]
async fn a_mailbox_left_by_its_owner_is_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || GatewayConfig::dev().with_data_dir(dir.path());
    let gw = aether_gateway::start(config()).await.unwrap();
    let (mut a, _) = Conn::connect(&gw.url(), &agent("a")).await;
    {
        let (mut owner, _) = Conn::connect(&gw.url(), &agent("owner")).await;
        owner.barrier().await;
    }
    // Wait (bounded) until the gateway saw the owner leave.
    let deadline = tokio::time::Instant::now() + GUARD;
    while gw.stats().sessions_active > 1 {
        assert!(tokio::time::Instant::now() < deadline, "owner never left");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    a.send_message("ag::w::impl::owner", b"later", MessageType::Chat)
        .await;
    a.barrier().await;
    gw.shutdown().await;
    let gw = aether_gateway::start(config()).await.unwrap();
    let (mut owner, _) = Conn::connect(&gw.url(), &agent("owner")).await;
    assert_eq!(owner.msg().await.payload, "later");
}
