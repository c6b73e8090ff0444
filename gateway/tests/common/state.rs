//! Raw KV and checkpoint helpers.

use aether_protocol::proto::kv_operation::{OpType, Scope};
use aether_protocol::proto::{
    CheckpointOperation, CheckpointResponse, ConfigSnapshot, KvOperation, KvResponse,
    checkpoint_operation, downstream_message::Payload, upstream_message,
};
use bytes::Bytes;

use super::{Conn, up};

/// A KV operation with a request id.
pub fn kv(op: OpType, scope: Scope, key: &str, rid: &str) -> KvOperation {
    KvOperation {
        op: op as i32,
        scope: scope as i32,
        key: key.to_string(),
        request_id: rid.to_string(),
        ..Default::default()
    }
}

/// A PUT.
pub fn kv_put(scope: Scope, key: &str, value: &[u8], rid: &str) -> KvOperation {
    KvOperation {
        value: Bytes::copy_from_slice(value),
        ..kv(OpType::Put, scope, key, rid)
    }
}

/// A checkpoint operation with a request id.
pub fn ckpt(op: checkpoint_operation::OpType, key: &str, rid: &str) -> CheckpointOperation {
    CheckpointOperation {
        op: op as i32,
        key: key.to_string(),
        request_id: rid.to_string(),
        ..Default::default()
    }
}

impl Conn {
    /// Sends a KV operation without waiting.
    pub async fn send_kv(&self, op: KvOperation) {
        self.send(up(upstream_message::Payload::KvOp(Box::new(op))))
            .await;
    }

    /// Sends `op` and returns the next frame, which must be its `KVResponse`.
    pub async fn kv(&mut self, op: KvOperation) -> KvResponse {
        let rid = op.request_id.clone();
        self.send_kv(op).await;
        match self.payload().await {
            Payload::Kv(r) => {
                assert_eq!(r.request_id, rid, "reply to another request");
                *r
            }
            other => panic!("expected a KVResponse for {rid}, got {other:?}"),
        }
    }

    /// The next `n` frames, which must all be `KVResponse`s (in any order).
    pub async fn kv_replies(&mut self, n: usize) -> Vec<KvResponse> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match self.payload().await {
                Payload::Kv(r) => out.push(*r),
                other => panic!("expected a KVResponse, got {other:?}"),
            }
        }
        out
    }

    /// Sends `op` and returns the next `n` frames.
    pub async fn kv_frames(&mut self, op: KvOperation, n: usize) -> Vec<Payload> {
        self.send_kv(op).await;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.payload().await);
        }
        out
    }

    /// A GET's value.
    pub async fn kv_get(&mut self, scope: Scope, key: &str) -> Bytes {
        let r = self.kv(kv(OpType::Get, scope, key, "get")).await;
        assert!(r.success, "GET {key} failed");
        r.value
    }

    /// Sends `op` and returns its `CheckpointResponse` (the next frame).
    pub async fn checkpoint(&mut self, op: CheckpointOperation) -> CheckpointResponse {
        let rid = op.request_id.clone();
        self.send(up(upstream_message::Payload::CheckpointOp(Box::new(op))))
            .await;
        match self.payload().await {
            Payload::Checkpoint(r) => {
                assert_eq!(r.request_id, rid, "reply to another request");
                *r
            }
            other => panic!("expected a CheckpointResponse for {rid}, got {other:?}"),
        }
    }

    /// The `ConfigSnapshot` that must be the next frame.
    pub async fn config(&mut self) -> ConfigSnapshot {
        match self.payload().await {
            Payload::Config(c) => *c,
            other => panic!("expected a ConfigSnapshot, got {other:?}"),
        }
    }
}
