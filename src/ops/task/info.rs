//! [`TaskInfoExt`]: what the gateway keeps in a task's metadata for it,
//! read as typed values.

use crate::proto::TaskInfo;

/// `TaskInfo.metadata` key holding the unix ms of a task's next attempt
/// while a retry is scheduled (the wire's `TaskInfo` has no field for it).
pub const NEXT_ATTEMPT_AT_KEY: &str = "_next_attempt_at_unix_ms";
/// `TaskInfo.metadata` key holding the checkpoint a woken hibernated task
/// resumes from.
pub const HIBERNATION_CHECKPOINT_KEY: &str = "_hibernation_checkpoint_key";

/// Typed readings of a [`TaskInfo`] beyond its fields.
pub trait TaskInfoExt {
    /// When the next attempt starts (unix ms), while a failed attempt
    /// waits for its retry.
    fn next_attempt_at_unix_ms(&self) -> Option<i64>;

    /// Whether a retry is scheduled.
    fn is_retry_scheduled(&self) -> bool {
        self.next_attempt_at_unix_ms().is_some()
    }

    /// How many attempts have failed (`attempt`) and how many the task may
    /// make in all (`max_attempts`).
    fn attempts(&self) -> (u32, u32);

    /// The checkpoint a task woken from hibernation resumes from.
    fn hibernation_checkpoint_key(&self) -> Option<&str>;
}

impl TaskInfoExt for TaskInfo {
    fn next_attempt_at_unix_ms(&self) -> Option<i64> {
        self.metadata.get(NEXT_ATTEMPT_AT_KEY)?.parse().ok()
    }

    fn attempts(&self) -> (u32, u32) {
        let n = |v: i32| u32::try_from(v).unwrap_or(0);
        (n(self.attempt), n(self.max_attempts))
    }

    fn hibernation_checkpoint_key(&self) -> Option<&str> {
        self.metadata
            .get(HIBERNATION_CHECKPOINT_KEY)
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reserved_keys() {
        let mut t = TaskInfo {
            attempt: 2,
            max_attempts: 3,
            ..Default::default()
        };
        assert_eq!(t.next_attempt_at_unix_ms(), None);
        assert!(!t.is_retry_scheduled());
        t.metadata
            .insert(NEXT_ATTEMPT_AT_KEY.into(), "1700000000123".into());
        t.metadata
            .insert(HIBERNATION_CHECKPOINT_KEY.into(), "ck".into());
        assert_eq!(t.next_attempt_at_unix_ms(), Some(1_700_000_000_123));
        assert!(t.is_retry_scheduled());
        assert_eq!(t.attempts(), (2, 3));
        assert_eq!(t.hibernation_checkpoint_key(), Some("ck"));
    }
}
