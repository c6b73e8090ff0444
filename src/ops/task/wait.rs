//! What a paused task waits for: [`WaitSpec`] (PAUSE), [`WaitFor`]
//! (WAIT_FOR dependencies) and [`Hibernation`] (PAUSE until woken, with a
//! checkpoint).

use crate::error::{Error, Result};
use crate::proto::{self, HibernationDescriptor, WaitReason};

/// Why and until when a task pauses ([`Client::pause_task`](crate::Client::pause_task)).
///
/// ```
/// use aether_client::tasks::WaitSpec;
/// let spec = WaitSpec::input()
///     .expected_principal("us::alice::tab-1")
///     .timeout_ms(60_000)
///     .reason("needs the user's approval");
/// assert_eq!(spec.to_proto().timeout_ms, 60_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct WaitSpec {
    spec: proto::WaitSpec,
    reason: String,
}

impl WaitSpec {
    fn with(reason: WaitReason) -> Self {
        let mut spec = proto::WaitSpec::default();
        spec.set_reason(reason);
        WaitSpec {
            spec,
            reason: String::new(),
        }
    }

    /// Waits for input (the task becomes `waiting_input`).
    pub fn input() -> Self {
        Self::with(WaitReason::Input)
    }

    /// Waits for an authority request to be resolved (`waiting_authority`).
    pub fn authority(authority_request_id: impl Into<String>) -> Self {
        let mut s = Self::with(WaitReason::Authority);
        s.spec.authority_request_id = authority_request_id.into();
        s
    }

    /// Waits for other tasks (`waiting_dependency`); prefer
    /// [`Client::wait_for_task`](crate::Client::wait_for_task).
    pub fn dependencies<I, S>(task_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut s = Self::with(WaitReason::Dependency);
        s.spec.depends_on = task_ids.into_iter().map(Into::into).collect();
        s
    }

    /// Hibernates (`hibernated`); prefer
    /// [`Client::hibernate_until`](crate::Client::hibernate_until).
    pub fn hibernation(hibernation: Hibernation) -> Self {
        let mut s = hibernation.wait;
        s.spec.hibernation = Some(hibernation.descriptor);
        s.spec.set_reason(WaitReason::Hibernation);
        s
    }

    /// The principal whose input wakes the task.
    pub fn expected_principal(mut self, identity: impl Into<String>) -> Self {
        self.spec.expected_principal = identity.into();
        self
    }

    /// Adds an input match condition.
    pub fn input_match(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.input_match.insert(key.into(), value.into());
        self
    }

    /// With dependencies: wake when any (not all) of them ends.
    pub fn wake_on_any(mut self, yes: bool) -> Self {
        self.spec.wake_on_any = yes;
        self
    }

    /// Gives up waiting after this long (ms; 0 = never).
    pub fn timeout_ms(mut self, ms: i64) -> Self {
        self.spec.timeout_ms = ms;
        self
    }

    /// Wakes at this time (unix ms; 0 = not scheduled).
    pub fn wake_at_unix_ms(mut self, ts: i64) -> Self {
        self.spec.scheduled_wake_unix_ms = ts;
        self
    }

    /// A human-readable reason recorded with the operation.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// The wait spec as sent.
    pub fn to_proto(&self) -> proto::WaitSpec {
        self.spec.clone()
    }

    pub(crate) fn into_parts(self) -> Result<(proto::WaitSpec, String)> {
        if self.spec.reason() == WaitReason::Unspecified {
            return Err(Error::invalid("a wait spec needs a reason"));
        }
        Ok((self.spec, self.reason))
    }
}

impl From<proto::WaitSpec> for WaitSpec {
    fn from(spec: proto::WaitSpec) -> Self {
        WaitSpec {
            spec,
            reason: String::new(),
        }
    }
}

/// Dependencies a task waits on ([`Client::wait_for_task`](crate::Client::wait_for_task)).
///
/// ```
/// use aether_client::tasks::WaitFor;
/// let w = WaitFor::any(["t1", "t2"]).timeout_ms(30_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct WaitFor {
    spec: WaitSpec,
}

impl WaitFor {
    /// Wakes when every one of `task_ids` has ended.
    pub fn all<I, S>(task_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WaitFor {
            spec: WaitSpec::dependencies(task_ids),
        }
    }

    /// Wakes when any one of `task_ids` has ended.
    pub fn any<I, S>(task_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WaitFor {
            spec: WaitSpec::dependencies(task_ids).wake_on_any(true),
        }
    }

    /// Gives up waiting after this long (ms; 0 = never).
    pub fn timeout_ms(mut self, ms: i64) -> Self {
        self.spec = self.spec.timeout_ms(ms);
        self
    }

    /// Wakes at this time regardless (unix ms).
    pub fn wake_at_unix_ms(mut self, ts: i64) -> Self {
        self.spec = self.spec.wake_at_unix_ms(ts);
        self
    }

    /// A human-readable reason recorded with the operation.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.spec = self.spec.reason(reason);
        self
    }

    pub(crate) fn into_parts(self) -> Result<(proto::WaitSpec, String)> {
        if self.spec.spec.depends_on.is_empty() {
            return Err(Error::invalid(
                "wait_for_task needs at least one dependency",
            ));
        }
        if self.spec.spec.depends_on.iter().any(String::is_empty) {
            return Err(Error::invalid("a dependency task id is empty"));
        }
        self.spec.into_parts()
    }
}

/// Hibernation: the task sleeps (its worker may exit) until woken, and
/// resumes from a checkpoint ([`Client::hibernate_until`](crate::Client::hibernate_until)).
/// The checkpoint must exist (save it first); the gateway then pushes
/// `TaskHibernated` to the worker.
///
/// ```
/// use aether_client::tasks::Hibernation;
/// let h = Hibernation::new("state-v1")
///     .wake_at_unix_ms(1_900_000_000_000)
///     .wake_on_event("order.paid");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Hibernation {
    descriptor: HibernationDescriptor,
    wait: WaitSpec,
}

impl Hibernation {
    /// Hibernates, to resume from the checkpoint `checkpoint_key`.
    pub fn new(checkpoint_key: impl Into<String>) -> Self {
        Hibernation {
            descriptor: HibernationDescriptor {
                checkpoint_key: checkpoint_key.into(),
                ..Default::default()
            },
            wait: WaitSpec::with(WaitReason::Hibernation),
        }
    }

    /// Wakes at this time (unix ms).
    pub fn wake_at_unix_ms(mut self, ts: i64) -> Self {
        self.wait = self.wait.wake_at_unix_ms(ts);
        self
    }

    /// Gives up after this long (ms).
    pub fn timeout_ms(mut self, ms: i64) -> Self {
        self.wait = self.wait.timeout_ms(ms);
        self
    }

    /// The session to resume on wake.
    pub fn resume_session_id(mut self, id: impl Into<String>) -> Self {
        self.descriptor.resume_session_id = id.into();
        self
    }

    /// Adds an event type that wakes the task.
    pub fn wake_on_event(mut self, event_type: impl Into<String>) -> Self {
        self.descriptor.wake_event_types.push(event_type.into());
        self
    }

    /// The escalation policy name.
    pub fn escalation_policy(mut self, policy: impl Into<String>) -> Self {
        self.descriptor.escalation_policy = policy.into();
        self
    }

    /// A human-readable reason recorded with the operation.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.wait = self.wait.reason(reason);
        self
    }

    pub(crate) fn into_parts(self) -> Result<(proto::WaitSpec, String)> {
        if self.descriptor.checkpoint_key.is_empty() {
            return Err(Error::invalid("hibernation needs a checkpoint key"));
        }
        WaitSpec::hibernation(self).into_parts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_specs_carry_their_reason() {
        let (spec, why) = WaitSpec::input().reason("ask").into_parts().unwrap();
        assert_eq!(spec.reason(), WaitReason::Input);
        assert_eq!(why, "ask");
        let (spec, _) = WaitSpec::authority("ar1").into_parts().unwrap();
        assert_eq!(spec.reason(), WaitReason::Authority);
        assert_eq!(spec.authority_request_id, "ar1");
        assert!(
            WaitSpec::from(proto::WaitSpec::default())
                .into_parts()
                .is_err()
        );
    }

    #[test]
    fn wait_for_needs_dependencies() {
        assert!(WaitFor::all(Vec::<String>::new()).into_parts().is_err());
        assert!(WaitFor::all([""]).into_parts().is_err());
        let (spec, _) = WaitFor::any(["a", "b"]).timeout_ms(5).into_parts().unwrap();
        assert_eq!(spec.reason(), WaitReason::Dependency);
        assert!(spec.wake_on_any);
        assert_eq!(spec.depends_on, vec!["a", "b"]);
        assert_eq!(spec.timeout_ms, 5);
    }

    #[test]
    fn hibernation_needs_a_checkpoint() {
        assert!(Hibernation::new("").into_parts().is_err());
        let (spec, why) = Hibernation::new("ck")
            .wake_at_unix_ms(7)
            .timeout_ms(9)
            .resume_session_id("s")
            .wake_on_event("e")
            .escalation_policy("p")
            .reason("nap")
            .into_parts()
            .unwrap();
        assert_eq!(spec.reason(), WaitReason::Hibernation);
        assert_eq!(spec.scheduled_wake_unix_ms, 7);
        assert_eq!(spec.timeout_ms, 9);
        let h = spec.hibernation.unwrap();
        assert_eq!(h.checkpoint_key, "ck");
        assert_eq!(h.resume_session_id, "s");
        assert_eq!(h.wake_event_types, vec!["e"]);
        assert_eq!(h.escalation_policy, "p");
        assert_eq!(why, "nap");
    }
}
