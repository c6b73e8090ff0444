//! Checkpoints: per-identity blobs saved, loaded, listed and deleted by
//! key, on every client.
//!
//! The gateway keys checkpoints by the caller's identity string and a user
//! key (an empty key is the gateway's `"default"` key). A pooled task gets a
//! fresh identity on each connection, so its checkpoints are not reachable
//! after a reconnect; use a unique task when that matters.

mod methods;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::proto::checkpoint_operation::OpType;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{CheckpointOperation, CheckpointResponse};
use crate::stack::{OpRequest, Operation, Reply};

/// How long a saved checkpoint lives.
///
/// ```
/// use std::time::Duration;
/// use aether_client::CheckpointTtl;
/// let ttl = CheckpointTtl::After(Duration::from_secs(3600));
/// assert_eq!(ttl, CheckpointTtl::After(Duration::from_secs(3600)));
/// assert_eq!(CheckpointTtl::default(), CheckpointTtl::ServerDefault);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CheckpointTtl {
    /// The gateway's configured default (which may be "never").
    #[default]
    ServerDefault,
    /// Kept until deleted.
    Never,
    /// Expires after this long (whole seconds on the wire, rounded up; at
    /// least 1 s).
    After(Duration),
}

impl CheckpointTtl {
    fn wire(self) -> i64 {
        match self {
            CheckpointTtl::ServerDefault => -1,
            CheckpointTtl::Never => 0,
            CheckpointTtl::After(d) => crate::ops::kv::ttl_secs(Some(d)),
        }
    }
}

/// A loaded checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkpoint {
    /// The saved bytes.
    pub data: Bytes,
    /// When it was saved (the gateway keeps whole seconds).
    pub saved_at: SystemTime,
}

/// A unix timestamp in seconds as a `SystemTime` (clamped at the epoch).
pub(crate) fn unix_seconds(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// A checkpoint frame; every checkpoint operation is safe to repeat (SAVE
/// overwrites, DELETE is idempotent).
fn request(name: &'static str, op: OpType, key: &str) -> (&'static str, CheckpointOperation) {
    (
        name,
        CheckpointOperation {
            op: op as i32,
            key: key.to_string(),
            ..Default::default()
        },
    )
}

fn awaited((name, op): (&'static str, CheckpointOperation)) -> OpRequest {
    OpRequest::awaited(name, Up::CheckpointOp(Box::new(op))).idempotent(true)
}

/// The successful reply of a call, or the error it stands for: a
/// `success=false` reply carries the gateway's reason in `error` (data over
/// the gateway's limit is `PayloadTooLarge`, anything else `Rejected`).
fn checkpoint_reply(name: &str, reply: Reply) -> Result<CheckpointResponse> {
    match reply.into_frame(name)? {
        Down::Checkpoint(r) if r.success => Ok(*r),
        Down::Checkpoint(r) => Err(Error::refused(name, "checkpoint", &r.error)),
        other => Err(Error::unexpected(name, &other)),
    }
}

/// SAVE: when the gateway stored it (whole seconds).
#[derive(Debug, Clone)]
pub(crate) struct CheckpointSave(CheckpointOperation);

impl CheckpointSave {
    pub(crate) fn new(key: &str, data: Bytes, ttl: CheckpointTtl) -> Self {
        let (_, mut op) = request(Self::NAME, OpType::Save, key);
        op.data = data;
        op.ttl = ttl.wire();
        CheckpointSave(op)
    }
}

impl Operation for CheckpointSave {
    const NAME: &'static str = "checkpoint_save";
    type Output = SystemTime;

    fn into_request(self) -> OpRequest {
        awaited((Self::NAME, self.0))
    }

    fn decode(reply: Reply) -> Result<SystemTime> {
        Ok(unix_seconds(checkpoint_reply(Self::NAME, reply)?.saved_at))
    }
}

/// LOAD: the checkpoint, `None` if there is none.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointLoad(CheckpointOperation);

impl CheckpointLoad {
    pub(crate) fn new(key: &str) -> Self {
        CheckpointLoad(request(Self::NAME, OpType::Load, key).1)
    }
}

impl Operation for CheckpointLoad {
    const NAME: &'static str = "checkpoint_load";
    type Output = Option<Checkpoint>;

    fn into_request(self) -> OpRequest {
        awaited((Self::NAME, self.0))
    }

    fn decode(reply: Reply) -> Result<Option<Checkpoint>> {
        Ok(loaded(checkpoint_reply(Self::NAME, reply)?))
    }
}

/// LIST: this identity's keys.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointList(CheckpointOperation);

impl CheckpointList {
    pub(crate) fn new() -> Self {
        CheckpointList(request(Self::NAME, OpType::List, "").1)
    }
}

impl Operation for CheckpointList {
    const NAME: &'static str = "checkpoint_list";
    type Output = Vec<String>;

    fn into_request(self) -> OpRequest {
        awaited((Self::NAME, self.0))
    }

    fn decode(reply: Reply) -> Result<Vec<String>> {
        Ok(checkpoint_reply(Self::NAME, reply)?.keys)
    }
}

/// DELETE (deleting a missing one succeeds).
#[derive(Debug, Clone)]
pub(crate) struct CheckpointDelete(CheckpointOperation);

impl CheckpointDelete {
    pub(crate) fn new(key: &str) -> Self {
        CheckpointDelete(request(Self::NAME, OpType::Delete, key).1)
    }
}

impl Operation for CheckpointDelete {
    const NAME: &'static str = "checkpoint_delete";
    type Output = ();

    fn into_request(self) -> OpRequest {
        awaited((Self::NAME, self.0))
    }

    fn decode(reply: Reply) -> Result<()> {
        checkpoint_reply(Self::NAME, reply).map(drop)
    }
}

/// A LOAD reply: the gateway answers a missing checkpoint with empty data
/// and `saved_at` 0.
fn loaded(r: CheckpointResponse) -> Option<Checkpoint> {
    if r.data.is_empty() && r.saved_at == 0 {
        return None;
    }
    Some(Checkpoint {
        data: r.data,
        saved_at: unix_seconds(r.saved_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::stack::NoWait;

    #[test]
    fn ttls_map_to_the_wire() {
        assert_eq!(CheckpointTtl::ServerDefault.wire(), -1);
        assert_eq!(CheckpointTtl::Never.wire(), 0);
        assert_eq!(CheckpointTtl::After(Duration::from_millis(10)).wire(), 1);
        assert_eq!(CheckpointTtl::After(Duration::from_secs(60)).wire(), 60);
    }

    fn op(req: OpRequest) -> CheckpointOperation {
        match req.payload() {
            Up::CheckpointOp(op) => (**op).clone(),
            other => panic!("not a checkpoint op: {other:?}"),
        }
    }

    #[test]
    fn operations_carry_their_fields() {
        let o = op(
            CheckpointSave::new("k", Bytes::from_static(b"d"), CheckpointTtl::Never).into_request(),
        );
        assert_eq!(
            (o.op, o.key.as_str(), o.data.as_ref(), o.ttl),
            (OpType::Save as i32, "k", &b"d"[..], 0)
        );
        assert_eq!(
            op(CheckpointLoad::new("").into_request()).op,
            OpType::Load as i32
        );
        assert_eq!(
            op(CheckpointDelete::new("x").into_request()).op,
            OpType::Delete as i32
        );
        assert_eq!(
            op(CheckpointList::new().into_request()).op,
            OpType::List as i32
        );
        let req = CheckpointLoad::new("k").into_request();
        assert!(req.expects_reply() && req.is_idempotent());
        let nowait = NoWait(CheckpointSave::new(
            "k",
            Bytes::new(),
            CheckpointTtl::ServerDefault,
        ));
        assert!(!nowait.into_request().expects_reply());
    }

    #[test]
    fn a_missing_checkpoint_loads_as_none() {
        assert_eq!(
            loaded(CheckpointResponse {
                success: true,
                ..Default::default()
            }),
            None
        );
        let empty_but_saved = CheckpointResponse {
            success: true,
            saved_at: 5,
            ..Default::default()
        };
        assert_eq!(
            loaded(empty_but_saved),
            Some(Checkpoint {
                data: Bytes::new(),
                saved_at: unix_seconds(5)
            })
        );
    }

    #[test]
    fn failures_keep_the_gateway_reason() {
        let r = Reply::Frame(Down::Checkpoint(Box::new(CheckpointResponse {
            error: "checkpoint store not configured".into(),
            ..Default::default()
        })));
        let err = CheckpointSave::decode(r).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected);
        assert!(err.message().contains("checkpoint store not configured"));
        assert_eq!(
            CheckpointSave::decode(Reply::Sent).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let big = Reply::Frame(Down::Checkpoint(Box::new(CheckpointResponse {
            error: "checkpoint too large: 9 bytes exceeds the limit of 8 bytes".into(),
            ..Default::default()
        })));
        assert_eq!(
            CheckpointSave::decode(big).unwrap_err().kind(),
            ErrorKind::PayloadTooLarge
        );
    }
}
