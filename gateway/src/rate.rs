//! A per-session token bucket (off by default, see [`Limits::send_rate`](crate::Limits)).

use std::time::Instant;

use crate::config::RateLimit;

/// Tokens refill continuously at `per_second`, up to `burst`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(limit: RateLimit) -> Self {
        TokenBucket {
            rate: f64::from(limit.per_second.max(1)),
            burst: f64::from(limit.burst.max(1)),
            tokens: f64::from(limit.burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled completely (as good as a new one).
    pub(crate) fn is_full(&self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }

    /// `retry_after_ms` for a refusal: `max(10, 1000 / rate)`.
    pub(crate) fn retry_after_ms(&self) -> i64 {
        ((1000.0 / self.rate) as i64).max(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuses() {
        let mut b = TokenBucket::new(RateLimit {
            per_second: 1,
            burst: 3,
        });
        assert!((0..3).all(|_| b.try_take()));
        assert!(!b.try_take());
        assert_eq!(b.retry_after_ms(), 1000);
    }
}
