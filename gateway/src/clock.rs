//! The gateway's clock for task timestamps and timers: unix milliseconds
//! that advance with tokio's clock.
//!
//! It reads the wall clock once, when the gateway starts, and from then on
//! adds the time tokio's clock says has passed. Timestamps written into
//! task records and the deadlines the task timers sleep until therefore
//! come from one clock, which also runs under tokio's paused test time
//! (`#[tokio::test(start_paused = true)]`): a timer an hour away fires
//! when the test's clock has advanced an hour.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Longest sleep a deadline is turned into (a deadline further away is
/// re-examined when this one ends).
const FAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Unix milliseconds, moving with tokio's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Unix ms when the clock was made.
    base_ms: i64,
    /// tokio's instant at that moment.
    base: Instant,
}

impl Clock {
    /// A clock reading the wall clock now (call it inside the runtime the
    /// gateway runs on, so paused test time applies).
    pub(crate) fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        Clock {
            base_ms,
            base: Instant::now(),
        }
    }

    /// Now, in unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        let passed = i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(passed)
    }

    /// The tokio instant at unix ms `at` (now or later: a past deadline is
    /// due at once; one beyond a year is capped there).
    pub(crate) fn instant_at(&self, at: i64) -> Instant {
        let now = Instant::now();
        let wait = u64::try_from(at.saturating_sub(self.now_ms())).unwrap_or(0);
        let wait = Duration::from_millis(wait).min(FAR);
        now.checked_add(wait).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let c = Clock::new();
        let t0 = c.now_ms();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(c.now_ms() - t0, 3_600_000);
        let due = c.instant_at(c.now_ms() + 1500);
        assert_eq!(due - Instant::now(), Duration::from_millis(1500));
        assert!(c.instant_at(0) <= Instant::now());
        assert_eq!(c.instant_at(i64::MAX) - Instant::now(), FAR);
    }
}
