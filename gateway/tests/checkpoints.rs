//! Checkpoints over the wire (§4).

mod common;

use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::CheckpointOperation;
use aether_protocol::proto::checkpoint_operation::OpType;
use bytes::Bytes;
use common::state::ckpt;
use common::{Conn, GUARD, dev_gateway};

fn save(key: &str, data: &[u8], ttl: i64, rid: &str) -> CheckpointOperation {
    CheckpointOperation {
        data: Bytes::copy_from_slice(data),
        ttl,
        ..ckpt(OpType::Save, key, rid)
    }
}

#[tokio::test]
async fn save_load_list_delete() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = a.checkpoint(save("", b"state-0", -1, "s1")).await;
    assert!(r.success && r.error.is_empty());
    assert_eq!(r.request_id, "s1");
    assert!(
        r.saved_at >= before && r.saved_at <= before + 60,
        "unix seconds"
    );
    a.checkpoint(save("step", b"state-1", 0, "s2")).await;

    let r = a.checkpoint(ckpt(OpType::Load, "default", "l1")).await;
    assert_eq!(r.data, "state-0", "an empty key is \"default\"");
    assert_eq!(
        r.saved_at,
        a.checkpoint(ckpt(OpType::Load, "", "l2")).await.saved_at
    );
    let r = a.checkpoint(ckpt(OpType::List, "", "list")).await;
    assert_eq!(r.keys, ["default", "step"]);

    let r = a.checkpoint(save("step", b"state-2", 0, "s3")).await;
    assert!(r.success, "SAVE overwrites");
    assert_eq!(
        a.checkpoint(ckpt(OpType::Load, "step", "l3")).await.data,
        "state-2"
    );

    assert!(
        a.checkpoint(ckpt(OpType::Delete, "step", "d1"))
            .await
            .success
    );
    assert!(
        a.checkpoint(ckpt(OpType::Delete, "step", "d2"))
            .await
            .success,
        "idempotent"
    );
    let r = a.checkpoint(ckpt(OpType::Load, "step", "l4")).await;
    assert!(
        r.success && r.data.is_empty() && r.saved_at == 0,
        "not found"
    );
    assert_eq!(r.request_id, "l4");
}

#[tokio::test]
async fn checkpoints_are_per_identity_and_open_to_every_principal() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut a, _) = Conn::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let (mut b, _) = Conn::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    let (mut user, _) = Conn::connect(&url, &Principal::user("u", "win").unwrap()).await;
    a.checkpoint(save("k", b"a's", 0, "s")).await;
    assert!(
        b.checkpoint(ckpt(OpType::Load, "k", "l"))
            .await
            .data
            .is_empty()
    );
    assert!(
        b.checkpoint(ckpt(OpType::List, "", "ls"))
            .await
            .keys
            .is_empty()
    );
    assert!(user.checkpoint(save("k", b"user", 0, "us")).await.success);
    assert_eq!(
        user.checkpoint(ckpt(OpType::Load, "k", "ul")).await.data,
        "user"
    );
    assert_eq!(
        a.checkpoint(ckpt(OpType::Load, "k", "al")).await.data,
        "a's"
    );
}

#[tokio::test]
async fn ttl_expires_a_checkpoint() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    a.checkpoint(save("t", b"x", 1, "s")).await;
    a.checkpoint(save("keep", b"y", 3600, "s2")).await;
    let deadline = tokio::time::Instant::now() + GUARD;
    while !a
        .checkpoint(ckpt(OpType::Load, "t", "l"))
        .await
        .data
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        a.checkpoint(ckpt(OpType::List, "", "ls")).await.keys,
        ["keep"]
    );
}

#[tokio::test]
async fn refusals_are_typed_responses() {
    let gw = aether_gateway::start(
        GatewayConfig::dev().with_limits(Limits::default().with_max_checkpoint_bytes(8)),
    )
    .await
    .unwrap();
    let (mut a, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    let r = a.checkpoint(save("k", b"123456789", 0, "big")).await;
    assert!(!r.success);
    assert!(
        r.error.starts_with("checkpoint too large: 9 bytes"),
        "{}",
        r.error
    );
    assert_eq!(r.request_id, "big");
    assert!(
        a.checkpoint(save("k", b"12345678", 0, "fits"))
            .await
            .success
    );
    let mut unknown = ckpt(OpType::Load, "k", "u");
    unknown.op = 12;
    let r = a.checkpoint(unknown).await;
    assert_eq!(
        (r.success, r.error.as_str()),
        (false, "unknown checkpoint operation")
    );
    assert!(a.barrier().await.is_empty(), "no ErrorResponse follows");
}
