//! [`Retry`]: how the gateway retries a task after a failed attempt (a
//! builder for the wire's [`RetryPolicy`]), and [`TaskFailure`]: what a
//! worker says about a failed attempt.

use std::time::Duration;

use crate::proto::{self, BackoffStrategy, RetryPolicy};

/// `wait_spec.input_match` key a FAIL carries the failure's status code in.
pub const FAILURE_STATUS_CODE_KEY: &str = "status_code";
/// `wait_spec.input_match` key a FAIL carries the failure's retry-after in (ms).
pub const FAILURE_RETRY_AFTER_KEY: &str = "retry_after_ms";

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A task's retry policy, built step by step; give it to
/// [`TaskSpec::retry_policy`](super::TaskSpec::retry_policy).
///
/// The gateway retries a failed attempt after a delay until `max_attempts`
/// attempts (the first included) have failed. Between attempts the task is
/// QUEUED, its `attempt` counts the failed attempts, and
/// [`TaskInfoExt::next_attempt_at_unix_ms`](super::TaskInfoExt::next_attempt_at_unix_ms)
/// says when the next one starts.
///
/// ```
/// use std::time::Duration;
/// use aether_client::tasks::{Retry, TaskSpec};
/// let spec = TaskSpec::new("fetch").retry_policy(
///     Retry::exponential(Duration::from_millis(200))
///         .max_attempts(5)
///         .max_delay(Duration::from_secs(10))
///         .jitter(0.2)
///         .retryable_status_codes([429, 502, 503])
///         .honor_retry_after(true),
/// );
/// # let _ = spec;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    policy: RetryPolicy,
}

impl Retry {
    fn with(backoff: BackoffStrategy, initial: Duration) -> Self {
        Retry {
            policy: RetryPolicy {
                backoff: backoff as i32,
                initial_delay_ms: ms(initial),
                ..Default::default()
            },
        }
    }

    /// The same delay before every retry.
    pub fn fixed(delay: Duration) -> Self {
        Retry::with(BackoffStrategy::Fixed, delay)
    }

    /// `initial`, then twice as long before each further retry.
    pub fn exponential(initial: Duration) -> Self {
        Retry::with(BackoffStrategy::Exponential, initial)
    }

    /// These delays, in order (the last one repeats).
    pub fn schedule(delays: impl IntoIterator<Item = Duration>) -> Self {
        let mut r = Retry::with(BackoffStrategy::ExplicitSchedule, Duration::ZERO);
        r.policy.schedule_ms = delays.into_iter().map(ms).collect();
        r
    }

    /// Attempts in all, the first included (the gateway's default is 3).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.policy.max_attempts = i32::try_from(n).unwrap_or(i32::MAX);
        self
    }

    /// The longest delay.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.policy.max_delay_ms = ms(d);
        self
    }

    /// Spreads each delay by a random factor in `[1 - j, 1 + j]` (`j` in 0..=1).
    pub fn jitter(mut self, j: f64) -> Self {
        self.policy.jitter_factor = j;
        self
    }

    /// Only failures with these status codes are retried (failures without
    /// a status code still are).
    pub fn retryable_status_codes(mut self, codes: impl IntoIterator<Item = i32>) -> Self {
        self.policy.retryable_status_codes = codes.into_iter().collect();
        self
    }

    /// A failure's retry-after, when it has one, is the delay.
    pub fn honor_retry_after(mut self, yes: bool) -> Self {
        self.policy.honor_retry_after = yes;
        self
    }

    /// The wire policy.
    pub fn to_proto(&self) -> RetryPolicy {
        self.policy.clone()
    }
}

impl From<Retry> for RetryPolicy {
    fn from(r: Retry) -> Self {
        r.policy
    }
}

/// What a worker says about a failed attempt: why, and optionally the
/// status code it got and how long it was told to wait. The gateway
/// matches the code against the task's retryable status codes and uses the
/// retry-after as the delay when the policy honours it. See
/// [`Client::fail_task_with`](crate::Client::fail_task_with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFailure {
    reason: String,
    status_code: Option<i32>,
    retry_after: Option<Duration>,
}

impl TaskFailure {
    /// A failure with this reason (the task's `error`).
    pub fn new(reason: impl Into<String>) -> Self {
        TaskFailure {
            reason: reason.into(),
            ..Default::default()
        }
    }

    /// The status code of the failure (e.g. an HTTP status).
    pub fn status_code(mut self, code: i32) -> Self {
        self.status_code = Some(code);
        self
    }

    /// How long the worker was told to wait before trying again.
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    /// The reason and the `wait_spec` a FAIL carries them in (`None` when
    /// there is nothing but the reason).
    pub(crate) fn into_parts(self) -> (String, Option<proto::WaitSpec>) {
        let mut details = std::collections::HashMap::new();
        if let Some(code) = self.status_code {
            details.insert(FAILURE_STATUS_CODE_KEY.to_string(), code.to_string());
        }
        if let Some(d) = self.retry_after {
            details.insert(FAILURE_RETRY_AFTER_KEY.to_string(), ms(d).to_string());
        }
        let spec = (!details.is_empty()).then(|| proto::WaitSpec {
            input_match: details,
            ..Default::default()
        });
        (self.reason, spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_map_onto_the_wire() {
        let p: RetryPolicy = Retry::exponential(Duration::from_millis(200))
            .max_attempts(5)
            .max_delay(Duration::from_secs(2))
            .jitter(0.1)
            .retryable_status_codes([503])
            .honor_retry_after(true)
            .into();
        assert_eq!(p.backoff(), BackoffStrategy::Exponential);
        assert_eq!(
            (p.initial_delay_ms, p.max_attempts, p.max_delay_ms),
            (200, 5, 2_000)
        );
        assert_eq!(p.retryable_status_codes, [503]);
        assert!(p.honor_retry_after && p.jitter_factor == 0.1);
        let s = Retry::schedule([Duration::from_millis(5), Duration::from_secs(1)]).to_proto();
        assert_eq!(s.backoff(), BackoffStrategy::ExplicitSchedule);
        assert_eq!(s.schedule_ms, [5, 1_000]);
        assert_eq!(
            Retry::fixed(Duration::from_secs(1)).to_proto().backoff(),
            BackoffStrategy::Fixed
        );
    }

    #[test]
    fn failures_travel_in_the_wait_spec() {
        assert_eq!(TaskFailure::new("x").into_parts(), ("x".to_string(), None));
        let (reason, spec) = TaskFailure::new("busy")
            .status_code(503)
            .retry_after(Duration::from_millis(1500))
            .into_parts();
        assert_eq!(reason, "busy");
        let m = spec.expect("details").input_match;
        assert_eq!(m[FAILURE_STATUS_CODE_KEY], "503");
        assert_eq!(m[FAILURE_RETRY_AFTER_KEY], "1500");
    }
}
