//! The retry scheduler's rules: whether a failed attempt of a task with a
//! `RetryPolicy` runs again, and after how long.
//!
//! * Only tasks created with a `retry_policy` are retried; without one a
//!   failure is final (as upstream).
//! * `max_attempts` counts every attempt, the first included (0 = the
//!   default, 3); `TaskInfo.attempt` is the number of failed attempts.
//! * A failure may carry a status code and a retry-after. A FAIL has no
//!   fields of its own for them, so they travel in its `wait_spec` (which
//!   FAIL otherwise ignores): `wait_spec.input_match["status_code"]` (an
//!   integer) and `wait_spec.input_match["retry_after_ms"]` (milliseconds);
//!   a value that does not parse refuses the FAIL.
//! * With `retryable_status_codes`, a failure whose status code is not
//!   listed is final; a failure without a status code is retried.
//! * With `honor_retry_after`, a failure's retry-after is the delay,
//!   exactly (no jitter, no cap).
//! * Otherwise the delay follows `backoff`: FIXED is `initial_delay_ms`;
//!   EXPLICIT_SCHEDULE is `schedule_ms[n-1]` for the n-th retry (the last
//!   entry repeats; an empty schedule means `initial_delay_ms`);
//!   EXPONENTIAL and UNSPECIFIED are `initial_delay_ms * 2^(n-1)`
//!   (`initial_delay_ms` 0 means 1 s). Then `jitter_factor` (clamped to
//!   [0, 1]) scales it by a uniform factor in `[1-j, 1+j]`, and
//!   `max_delay_ms` (when positive) caps it — every strategy's delay, after
//!   the jitter, where upstream caps only the exponential one before it.

use aether_protocol::proto::{BackoffStrategy, RetryPolicy, WaitSpec};

use super::model::DEFAULT_MAX_ATTEMPTS;

/// `wait_spec.input_match` key of a FAIL's status code.
pub(crate) const STATUS_CODE_KEY: &str = "status_code";
/// `wait_spec.input_match` key of a FAIL's retry-after (ms).
pub(crate) const RETRY_AFTER_KEY: &str = "retry_after_ms";

/// Exponential base when the policy gives none.
const DEFAULT_BASE_MS: i64 = 1_000;

/// One failed attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Why (becomes the task's `error`).
    pub(crate) reason: String,
    /// The status code the worker reported, if any.
    pub(crate) status_code: Option<i32>,
    /// How long the worker was told to wait before trying again, if at all.
    pub(crate) retry_after_ms: Option<i64>,
}

impl Failure {
    /// A failure with only a reason.
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            ..Default::default()
        }
    }

    /// The failure a FAIL describes: `reason` (default "task failed") and
    /// the details in `wait_spec.input_match`.
    pub(crate) fn from_op(reason: &str, spec: Option<&WaitSpec>) -> Result<Self, String> {
        let mut f = Failure::new(if reason.is_empty() {
            "task failed"
        } else {
            reason
        });
        let Some(details) = spec.map(|s| &s.input_match) else {
            return Ok(f);
        };
        if let Some(v) = details.get(STATUS_CODE_KEY) {
            let code = v.trim().parse::<i32>().map_err(|_| {
                format!("invalid request: {STATUS_CODE_KEY} {v:?} is not an integer")
            })?;
            f.status_code = Some(code);
        }
        if let Some(v) = details.get(RETRY_AFTER_KEY) {
            let ms = v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| {
                    format!(
                        "invalid request: {RETRY_AFTER_KEY} {v:?} is not a number of milliseconds"
                    )
                })?;
            f.retry_after_ms = Some(ms);
        }
        Ok(f)
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Run again after this many milliseconds.
    Retry { delay_ms: i64 },
    /// The task fails for good; with a policy, why it is not retried.
    Final(Option<String>),
}

/// The attempts a task may make (`TaskInfo.max_attempts`).
pub(crate) fn max_attempts(policy: Option<&RetryPolicy>) -> i32 {
    policy
        .map(|p| p.max_attempts)
        .filter(|&m| m > 0)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS)
}

/// The verdict after `failed` failed attempts (this one included) under
/// `policy`; `unit` is a uniform sample of [0, 1) for the jitter.
pub(crate) fn decide(policy: Option<&RetryPolicy>, failed: i32, f: &Failure, unit: f64) -> Verdict {
    let Some(p) = policy else {
        return Verdict::Final(None);
    };
    let max = max_attempts(Some(p));
    if failed >= max {
        return Verdict::Final(Some(format!("attempts exhausted ({failed} of {max})")));
    }
    if let Some(code) = f.status_code
        && !p.retryable_status_codes.is_empty()
        && !p.retryable_status_codes.contains(&code)
    {
        return Verdict::Final(Some(format!("status code {code} is not retryable")));
    }
    if p.honor_retry_after
        && let Some(ms) = f.retry_after_ms
    {
        return Verdict::Retry { delay_ms: ms };
    }
    Verdict::Retry {
        delay_ms: backoff(p, failed, unit),
    }
}

/// The delay before retry number `n` (1 = the first retry).
pub(crate) fn backoff(p: &RetryPolicy, n: i32, unit: f64) -> i64 {
    let n = n.max(1);
    let computed = match BackoffStrategy::try_from(p.backoff) {
        Ok(BackoffStrategy::Fixed) => p.initial_delay_ms,
        Ok(BackoffStrategy::ExplicitSchedule) => {
            let idx = usize::try_from(n - 1).unwrap_or(0);
            match p.schedule_ms.get(idx).or(p.schedule_ms.last()) {
                Some(ms) => *ms,
                None => p.initial_delay_ms,
            }
        }
        _ => {
            let base = if p.initial_delay_ms > 0 {
                p.initial_delay_ms
            } else {
                DEFAULT_BASE_MS
            };
            let exp = u32::try_from(n - 1).unwrap_or(0).min(62);
            base.saturating_mul(1i64 << exp)
        }
    }
    .max(0);
    let j = if p.jitter_factor.is_finite() {
        p.jitter_factor.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut delay = computed;
    if j > 0.0 && computed > 0 {
        let factor = 1.0 + (unit.clamp(0.0, 1.0) * 2.0 - 1.0) * j;
        // `as` saturates for floats out of range.
        delay = (computed as f64 * factor).max(0.0) as i64;
    }
    if p.max_delay_ms > 0 {
        delay = delay.min(p.max_delay_ms);
    }
    delay
}

/// A uniform sample of [0, 1).
pub(crate) fn unit_sample() -> f64 {
    let bits = (uuid::Uuid::new_v4().as_u128() >> 64) as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff: BackoffStrategy) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            backoff: backoff as i32,
            initial_delay_ms: 100,
            ..Default::default()
        }
    }

    #[test]
    fn backoff_strategies() {
        let e = policy(BackoffStrategy::Exponential);
        assert_eq!(
            (1..=4).map(|n| backoff(&e, n, 0.5)).collect::<Vec<_>>(),
            [100, 200, 400, 800]
        );
        let capped = RetryPolicy {
            max_delay_ms: 300,
            ..e.clone()
        };
        assert_eq!(backoff(&capped, 4, 0.5), 300);
        let unspecified = RetryPolicy {
            initial_delay_ms: 0,
            ..policy(BackoffStrategy::Unspecified)
        };
        assert_eq!(backoff(&unspecified, 2, 0.5), 2_000, "1 s base, doubled");
        assert_eq!(backoff(&e, i32::MAX, 0.5), i64::MAX, "saturates");
        let f = policy(BackoffStrategy::Fixed);
        assert_eq!(backoff(&f, 1, 0.5), 100);
        assert_eq!(backoff(&f, 7, 0.5), 100);
        let s = RetryPolicy {
            schedule_ms: vec![10, 50, 90],
            ..policy(BackoffStrategy::ExplicitSchedule)
        };
        assert_eq!(
            (1..=5).map(|n| backoff(&s, n, 0.5)).collect::<Vec<_>>(),
            [10, 50, 90, 90, 90]
        );
        let empty = policy(BackoffStrategy::ExplicitSchedule);
        assert_eq!(backoff(&empty, 3, 0.5), 100);
        let negative = RetryPolicy {
            schedule_ms: vec![-5],
            ..policy(BackoffStrategy::ExplicitSchedule)
        };
        assert_eq!(backoff(&negative, 1, 0.5), 0);
    }

    #[test]
    fn jitter_stays_within_its_factor_and_under_the_cap() {
        let p = RetryPolicy {
            jitter_factor: 0.5,
            ..policy(BackoffStrategy::Fixed)
        };
        assert_eq!(backoff(&p, 1, 0.0), 50);
        assert_eq!(backoff(&p, 1, 0.5), 100);
        assert_eq!(backoff(&p, 1, 0.999_999), 149);
        let wild = RetryPolicy {
            jitter_factor: 7.0,
            max_delay_ms: 150,
            ..policy(BackoffStrategy::Fixed)
        };
        assert_eq!(backoff(&wild, 1, 0.0), 0, "clamped to 1: down to zero");
        assert_eq!(backoff(&wild, 1, 0.999), 150, "capped after the jitter");
        let nan = RetryPolicy {
            jitter_factor: f64::NAN,
            ..policy(BackoffStrategy::Fixed)
        };
        assert_eq!(backoff(&nan, 1, 0.9), 100);
        for _ in 0..1000 {
            let u = unit_sample();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn verdicts() {
        let plain = Failure::new("boom");
        assert_eq!(decide(None, 1, &plain, 0.5), Verdict::Final(None));
        let p = RetryPolicy {
            max_attempts: 3,
            retryable_status_codes: vec![429, 503],
            honor_retry_after: true,
            ..policy(BackoffStrategy::Fixed)
        };
        assert_eq!(
            decide(Some(&p), 1, &plain, 0.5),
            Verdict::Retry { delay_ms: 100 }
        );
        assert_eq!(
            decide(Some(&p), 3, &plain, 0.5),
            Verdict::Final(Some("attempts exhausted (3 of 3)".into()))
        );
        let not_found = Failure {
            status_code: Some(404),
            ..plain.clone()
        };
        assert_eq!(
            decide(Some(&p), 1, &not_found, 0.5),
            Verdict::Final(Some("status code 404 is not retryable".into()))
        );
        let busy = Failure {
            status_code: Some(503),
            retry_after_ms: Some(7_000),
            ..plain.clone()
        };
        assert_eq!(
            decide(Some(&p), 1, &busy, 0.5),
            Verdict::Retry { delay_ms: 7_000 }
        );
        let ignored = RetryPolicy {
            honor_retry_after: false,
            ..p.clone()
        };
        assert_eq!(
            decide(Some(&ignored), 1, &busy, 0.5),
            Verdict::Retry { delay_ms: 100 }
        );
        // A policy left at its defaults: 3 attempts, exponential from 1 s.
        let default = RetryPolicy::default();
        assert_eq!(max_attempts(Some(&default)), 3);
        assert_eq!(max_attempts(None), 3);
        assert_eq!(
            decide(Some(&default), 2, &plain, 0.5),
            Verdict::Retry { delay_ms: 2_000 }
        );
    }

    #[test]
    fn failures_from_a_fail_op() {
        assert_eq!(Failure::from_op("", None).unwrap().reason, "task failed");
        let spec = WaitSpec {
            input_match: [
                (STATUS_CODE_KEY.to_string(), " 503".to_string()),
                (RETRY_AFTER_KEY.to_string(), "250".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        let f = Failure::from_op("busy", Some(&spec)).unwrap();
        assert_eq!(
            (f.reason.as_str(), f.status_code, f.retry_after_ms),
            ("busy", Some(503), Some(250))
        );
        for (k, v) in [
            (STATUS_CODE_KEY, "five"),
            (RETRY_AFTER_KEY, "-1"),
            (RETRY_AFTER_KEY, "soon"),
        ] {
            let bad = WaitSpec {
                input_match: [(k.to_string(), v.to_string())].into(),
                ..Default::default()
            };
            let e = Failure::from_op("x", Some(&bad)).unwrap_err();
            assert!(e.starts_with("invalid request:"), "{e}");
        }
    }
}
