//! Every checkpoint operation through [`Checkpoints::handle`].

use aether_protocol::proto::{
    CheckpointOperation, CheckpointResponse, checkpoint_operation::OpType,
};
use bytes::Bytes;

use super::*;

const ME: &str = "ag::w::i::s";

fn op(kind: OpType, key: &str) -> CheckpointOperation {
    CheckpointOperation {
        op: kind as i32,
        key: key.into(),
        request_id: "r".into(),
        ..Default::default()
    }
}

fn save(key: &str, data: &'static [u8], ttl: i64) -> CheckpointOperation {
    CheckpointOperation {
        data: Bytes::from_static(data),
        ttl,
        ..op(OpType::Save, key)
    }
}

fn one(msgs: Vec<DownstreamMessage>) -> CheckpointResponse {
    match msgs.as_slice() {
        [
            DownstreamMessage {
                payload: Some(Payload::Checkpoint(r)),
                ..
            },
        ] => *r.clone(),
        other => panic!("expected one CheckpointResponse, got {other:?}"),
    }
}

async fn run(c: &Checkpoints, who: &str, o: CheckpointOperation) -> CheckpointResponse {
    match c.handle(who, o) {
        Answer::Now(m) => one(m),
        Answer::Later(f) => one(f.await),
    }
}

fn memory() -> Checkpoints {
    Checkpoints::load(Store::memory(), 8).unwrap()
}

#[tokio::test]
async fn save_load_list_delete() {
    let c = memory();
    let r = run(&c, ME, save("", b"state", -1)).await;
    assert!(r.success && r.request_id == "r");
    assert!(
        r.saved_at > 1_600_000_000 && r.saved_at < 100_000_000_000,
        "unix seconds"
    );
    let saved_at = r.saved_at;
    run(&c, ME, save("b", b"x", 0)).await;
    let r = run(&c, ME, op(OpType::Load, "default")).await;
    assert_eq!((r.data.as_ref(), r.saved_at), (&b"state"[..], saved_at));
    let r = run(&c, ME, op(OpType::List, "")).await;
    assert_eq!(r.keys, ["b", "default"]);
    assert!(run(&c, ME, op(OpType::Delete, "")).await.success);
    assert!(
        run(&c, ME, op(OpType::Delete, "")).await.success,
        "idempotent"
    );
    let r = run(&c, ME, op(OpType::Load, "")).await;
    assert!(
        r.success && r.data.is_empty() && r.saved_at == 0,
        "not found"
    );
}

#[tokio::test]
async fn checkpoints_belong_to_one_identity() {
    let c = memory();
    run(&c, ME, save("k", b"mine", 0)).await;
    let r = run(&c, "ag::w::i::other", op(OpType::Load, "k")).await;
    assert!(r.data.is_empty());
    assert!(
        run(&c, "ag::w::i::other", op(OpType::List, ""))
            .await
            .keys
            .is_empty()
    );
}

#[tokio::test]
async fn refusals() {
    let c = memory();
    let r = run(&c, ME, save("k", b"too large", 0)).await;
    assert!(!r.success);
    assert!(
        r.error.starts_with("checkpoint too large: 9 bytes"),
        "{}",
        r.error
    );
    assert_eq!(r.request_id, "r");
    let mut unknown = op(OpType::Load, "k");
    unknown.op = 9;
    let r = run(&c, ME, unknown).await;
    assert_eq!(
        (r.success, r.error.as_str()),
        (false, "unknown checkpoint operation")
    );
}

#[tokio::test]
async fn ttl_expires_and_sweeps() {
    let c = memory();
    run(&c, ME, save("t", b"x", 1)).await;
    assert_eq!(run(&c, ME, op(OpType::Load, "t")).await.data, "x");
    c.sweep(unix_ms() + 1500);
    assert!(run(&c, ME, op(OpType::Load, "t")).await.data.is_empty());
    assert_eq!(c.map.read().len(), 0);
}

#[tokio::test]
async fn durable_checkpoints_survive_reloading() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = Checkpoints::load(store.clone(), 8).unwrap();
    assert!(matches!(c.handle(ME, save("k", b"v", 0)), Answer::Later(_)));
    let saved_at = run(&c, ME, save("k2", b"w", 3600)).await.saved_at;
    run(&c, ME, save("gone", b"w", 0)).await;
    run(&c, ME, op(OpType::Delete, "gone")).await;
    store.close();
    let store = Store::open(dir.path()).unwrap();
    let c = Checkpoints::load(store.clone(), 8).unwrap();
    assert_eq!(run(&c, ME, op(OpType::List, "")).await.keys, ["k", "k2"]);
    let r = run(&c, ME, op(OpType::Load, "k2")).await;
    assert_eq!((r.data.as_ref(), r.saved_at), (&b"w"[..], saved_at));
    store.close();
}
