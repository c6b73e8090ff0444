use std::time::Duration;

use super::RetryBudget;
use crate::backoff::Backoff;

/// Implemented by requests to say whether sending them twice is harmless.
pub trait Idempotent {
    /// Returns `true` if the request may be sent again after a failure.
    fn is_safe_to_repeat(&self) -> bool;
}

/// Implemented by errors to say whether the failed operation may be retried.
pub trait RetryableError {
    /// Returns `true` if the error is transient and a retry may succeed.
    fn is_retryable(&self) -> bool;

    /// Minimum delay the server asked for before the next attempt, if any.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// Decides whether and when a request is retried.
///
/// A fresh clone of the policy is made for every request handled by
/// [`Retry`](super::Retry), so per-request state can live in the policy.
///
/// Before each attempt, [`Retry`](super::Retry) calls
/// [`clone_request`](Self::clone_request) to keep a copy for a possible next
/// attempt; if it returns `None`, that attempt is the last one. After an
/// attempt for which a copy exists, [`retry`](Self::retry) is called with
/// its result.
pub trait RetryPolicy<Req, Res, E>: Clone {
    /// Called after attempt number `attempt` (starting at 1) completed with
    /// `result`. Returns the delay before the next attempt, or `None` to stop
    /// and hand `result` to the caller.
    fn retry(&mut self, req: &Req, result: &Result<Res, E>, attempt: u32) -> Option<Duration>;

    /// Returns a copy of `req` to send on the next attempt, or `None` if the
    /// request must not be retried.
    fn clone_request(&self, req: &Req) -> Option<Req>;
}

/// The standard [`RetryPolicy`]: exponential backoff, an attempt limit and an
/// optional shared [`RetryBudget`].
///
/// A failed attempt is retried only if the request
/// [is safe to repeat](Idempotent::is_safe_to_repeat), the error
/// [is retryable](RetryableError::is_retryable), fewer than `max_attempts`
/// attempts were made, and the budget (if any) allows it. The delay is the
/// larger of [`Backoff::delay`] and the error's
/// [`retry_after`](RetryableError::retry_after). Successful responses are
/// never retried.
///
/// Every request that is safe to repeat is [deposited](RetryBudget::deposit)
/// into the budget once, and every retry [withdraws](RetryBudget::withdraw)
/// from it: retries are budgeted against the traffic that could be retried,
/// and requests that never can be (the hot path of fire-and-forget sends)
/// never touch the budget's lock.
///
/// ```
/// use std::time::Duration;
/// use aether_middleware::backoff::Backoff;
/// use aether_middleware::retry::{DefaultRetryPolicy, RetryBudget};
///
/// let policy = DefaultRetryPolicy::new(Backoff::default(), 4)
///     .with_budget(RetryBudget::new(Duration::from_secs(10), 10, 0.2));
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
pub struct DefaultRetryPolicy {
    /// Delay between attempts.
    pub backoff: Backoff,
    /// Total number of attempts, the first one included.
    pub max_attempts: u32,
    /// Budget shared by all requests, if any.
    pub budget: Option<RetryBudget>,
}

impl DefaultRetryPolicy {
    /// Creates a policy without a budget.
    pub fn new(backoff: Backoff, max_attempts: u32) -> Self {
        DefaultRetryPolicy {
            backoff,
            max_attempts,
            budget: None,
        }
    }

    /// Sets the shared retry budget.
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    fn deposit(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }
}

impl Default for DefaultRetryPolicy {
    /// [`Backoff::default`], 3 attempts, no budget.
    fn default() -> Self {
        DefaultRetryPolicy::new(Backoff::default(), 3)
    }
}

impl<Req, Res, E> RetryPolicy<Req, Res, E> for DefaultRetryPolicy
where
    Req: Idempotent + Clone,
    E: RetryableError,
{
    fn retry(&mut self, req: &Req, result: &Result<Res, E>, attempt: u32) -> Option<Duration> {
        if attempt <= 1 {
            self.deposit();
        }
        let error = result.as_ref().err()?;
        if !req.is_safe_to_repeat() || !error.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        if let Some(budget) = &self.budget
            && !budget.withdraw()
        {
            return None;
        }
        let delay = self.backoff.delay(attempt);
        Some(match error.retry_after() {
            Some(after) => delay.max(after),
            None => delay,
        })
    }

    fn clone_request(&self, req: &Req) -> Option<Req> {
        if req.is_safe_to_repeat() && self.max_attempts > 1 {
            Some(req.clone())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TestError, TestReq};

    fn policy(max_attempts: u32) -> DefaultRetryPolicy {
        DefaultRetryPolicy::new(
            Backoff {
                jitter: 0.0,
                ..Backoff::default()
            },
            max_attempts,
        )
    }

    type R = Result<&'static str, TestError>;

    #[test]
    fn decisions() {
        let mut p = policy(3);
        let safe = TestReq::new("get");
        let unsafe_req = TestReq::new("put").unsafe_to_repeat();
        let ok: R = Ok("x");
        let transient: R = Err(TestError::Transient);
        let fatal: R = Err(TestError::Fatal);

        assert_eq!(p.retry(&safe, &ok, 1), None);
        assert_eq!(p.retry(&safe, &fatal, 1), None);
        assert_eq!(p.retry(&unsafe_req, &transient, 1), None);
        assert_eq!(
            p.retry(&safe, &transient, 1),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            p.retry(&safe, &transient, 2),
            Some(Duration::from_millis(200))
        );
        assert_eq!(p.retry(&safe, &transient, 3), None);

        let after: R = Err(TestError::TransientAfter(Duration::from_secs(2)));
        assert_eq!(p.retry(&safe, &after, 1), Some(Duration::from_secs(2)));
        let short: R = Err(TestError::TransientAfter(Duration::from_millis(1)));
        assert_eq!(p.retry(&safe, &short, 2), Some(Duration::from_millis(200)));

        assert!(RetryPolicy::<TestReq, &str, TestError>::clone_request(&p, &safe).is_some());
        assert!(RetryPolicy::<TestReq, &str, TestError>::clone_request(&p, &unsafe_req).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_once_per_request() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5);
        let mut p = policy(5).with_budget(budget.clone());
        let ok: R = Ok("x");
        // Two retryable requests fund one retry; requests that can never be
        // retried do not count.
        let unsafe_req = TestReq::new("put").unsafe_to_repeat();
        for _ in 0..10 {
            assert!(
                RetryPolicy::<TestReq, &str, TestError>::clone_request(&p, &unsafe_req).is_none()
            );
        }
        let transient: R = Err(TestError::Transient);
        assert!(
            p.retry(&TestReq::new("get"), &transient, 1).is_none(),
            "nothing deposited yet"
        );
        p.retry(&TestReq::new("get"), &ok, 1);
        // Later attempts of the same request do not deposit again.
        let transient: R = Err(TestError::Transient);
        assert!(p.retry(&TestReq::new("get"), &transient, 2).is_some());
        assert!(p.retry(&TestReq::new("get"), &transient, 3).is_none());
    }
}
