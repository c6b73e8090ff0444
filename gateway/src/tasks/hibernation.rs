//! The hibernation precondition (§5.8 PAUSE with HIBERNATION): the named
//! checkpoint must exist for the task's assignee.

use aether_protocol::proto::{
    CheckpointOperation, checkpoint_operation::OpType, downstream_message::Payload,
};

use crate::answer::Answer;
use crate::checkpoint::Checkpoints;

/// Checks that `identity` has checkpoint `key` in `checkpoints` (read
/// through the checkpoint store's own LOAD, which writes nothing).
pub(crate) fn require_checkpoint(
    checkpoints: &Checkpoints,
    identity: &str,
    key: &str,
) -> Result<(), String> {
    let load = CheckpointOperation {
        op: OpType::Load as i32,
        key: key.to_string(),
        ..Default::default()
    };
    let found = match checkpoints.handle(identity, load) {
        Answer::Now(frames) => frames.iter().any(
            |f| matches!(&f.payload, Some(Payload::Checkpoint(c)) if c.success && c.saved_at > 0),
        ),
        Answer::Later(_) => false,
    };
    if found {
        Ok(())
    } else {
        Err(format!(
            "hibernation checkpoint {key:?} not found for {identity:?}"
        ))
    }
}
