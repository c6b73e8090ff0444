//! Checkpoint operations: per-identity blobs saved, loaded, listed and
//! deleted by key.
//!
//! The gateway keys checkpoints by the caller's identity string and a user
//! key (an empty key is the gateway's `"default"` key). A pooled task gets a
//! fresh identity on each connection, so its checkpoints are not reachable
//! after a reconnect; use a unique task when that matters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::OpRequest;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::checkpoint_operation::OpType;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{CheckpointOperation, CheckpointResponse};

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
            CheckpointTtl::After(d) => super::kv::ttl_secs(Some(d)),
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

fn request(op: OpType, key: &str) -> CheckpointOperation {
    CheckpointOperation {
        op: op as i32,
        key: key.to_string(),
        ..Default::default()
    }
}

/// SAVE (overwrites, so repeating it is harmless).
pub(crate) fn save(key: &str, data: Bytes, ttl: CheckpointTtl) -> CheckpointOperation {
    let mut op = request(OpType::Save, key);
    op.data = data;
    op.ttl = ttl.wire();
    op
}

/// LOAD.
pub(crate) fn load(key: &str) -> CheckpointOperation {
    request(OpType::Load, key)
}

/// DELETE (idempotent).
pub(crate) fn delete(key: &str) -> CheckpointOperation {
    request(OpType::Delete, key)
}

/// LIST.
pub(crate) fn list() -> CheckpointOperation {
    request(OpType::List, "")
}

/// The operation with its reply awaited. Every checkpoint operation is
/// safe to repeat (SAVE overwrites, DELETE is idempotent).
pub(crate) fn awaited(name: &'static str, op: CheckpointOperation) -> OpRequest {
    OpRequest::awaited(name, Up::CheckpointOp(Box::new(op))).idempotent(true)
}

/// The operation as a fire-and-forget frame.
pub(crate) fn nowait(name: &'static str, op: CheckpointOperation) -> OpRequest {
    OpRequest::fire_and_forget(name, Up::CheckpointOp(Box::new(op)))
}

/// The successful reply of a call, or the error it stands for: a
/// `success=false` reply carries the gateway's reason in `error`; data over
/// the gateway's limit is [`ErrorKind::PayloadTooLarge`], anything else
/// [`ErrorKind::Rejected`].
pub(crate) fn reply(name: &str, reply: Option<Down>) -> Result<CheckpointResponse> {
    match reply {
        Some(Down::Checkpoint(r)) if r.success => Ok(*r),
        Some(Down::Checkpoint(r)) if r.error.contains("too large") => Err(Error::new(
            ErrorKind::PayloadTooLarge,
            format!("{name} rejected by the gateway: {}", r.error),
        )),
        Some(Down::Checkpoint(r)) => Err(crate::clients::core::rejected(name, &r.error)),
        Some(other) => Err(crate::clients::core::unexpected(name, &other)),
        None => Err(Error::new(ErrorKind::Protocol, format!("{name}: no reply"))),
    }
}

/// A LOAD reply: the gateway answers a missing checkpoint with empty data
/// and `saved_at` 0.
pub(crate) fn loaded(r: CheckpointResponse) -> Option<Checkpoint> {
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

    #[test]
    fn ttls_map_to_the_wire() {
        assert_eq!(CheckpointTtl::ServerDefault.wire(), -1);
        assert_eq!(CheckpointTtl::Never.wire(), 0);
        assert_eq!(CheckpointTtl::After(Duration::from_millis(10)).wire(), 1);
        assert_eq!(CheckpointTtl::After(Duration::from_secs(60)).wire(), 60);
    }

    #[test]
    fn operations_carry_their_fields() {
        let op = save("k", Bytes::from_static(b"d"), CheckpointTtl::Never);
        assert_eq!(
            (op.op, op.key.as_str(), op.data.as_ref(), op.ttl),
            (OpType::Save as i32, "k", &b"d"[..], 0)
        );
        assert_eq!(load("").op, OpType::Load as i32);
        assert_eq!(delete("x").op, OpType::Delete as i32);
        assert_eq!(list().op, OpType::List as i32);
        let req = awaited("checkpoint_load", load("k"));
        assert!(req.expects_reply() && req.is_idempotent());
        assert!(
            !nowait(
                "checkpoint_save",
                save("k", Bytes::new(), CheckpointTtl::ServerDefault)
            )
            .expects_reply()
        );
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
        let r = Some(Down::Checkpoint(Box::new(CheckpointResponse {
            error: "checkpoint store not configured".into(),
            ..Default::default()
        })));
        let err = reply("checkpoint_save", r).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected);
        assert!(err.message().contains("checkpoint store not configured"));
        assert_eq!(
            reply("checkpoint_save", None).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let big = Some(Down::Checkpoint(Box::new(CheckpointResponse {
            error: "checkpoint too large: 9 bytes exceeds the limit of 8 bytes".into(),
            ..Default::default()
        })));
        assert_eq!(
            reply("checkpoint_save", big).unwrap_err().kind(),
            ErrorKind::PayloadTooLarge
        );
    }
}
