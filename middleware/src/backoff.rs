//! Exponential backoff with jitter: the one delay schedule of the SDK,
//! used by the retry layer, by reconnection and by polling loops.

use std::time::Duration;

/// Exponential backoff with jitter.
///
/// The delay before retry `n` (attempt `1` is the first retry) is
/// `initial * multiplier^(n - 1)`, scaled by a random factor in
/// `[1 - jitter, 1 + jitter]`, and then capped at `max`. Jitter is applied
/// before the cap, so a delay never exceeds `max`.
///
/// ```
/// use std::time::Duration;
/// use aether_middleware::backoff::Backoff;
///
/// let backoff = Backoff { jitter: 0.0, ..Backoff::default() };
/// assert_eq!(backoff.delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay(2), Duration::from_millis(200));
/// assert_eq!(backoff.delay(30), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Upper bound for any delay.
    pub max: Duration,
    /// Growth factor between consecutive delays.
    pub multiplier: f64,
    /// Fraction (`0.0..=1.0`) by which a delay may randomly grow or shrink.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 100ms initial, 5s max, multiplier 2.0, jitter 0.2.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// A backoff from `initial` up to `max`, doubling, with 20% jitter.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            ..Backoff::default()
        }
    }

    /// The same backoff with `jitter` (clamped to `0.0..=1.0`).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The delays of successive attempts, for loops that poll or
    /// reconnect: the first is [`delay(1)`](Self::delay).
    ///
    /// ```
    /// use std::time::Duration;
    /// use aether_middleware::backoff::Backoff;
    /// let mut delays = Backoff::new(Duration::from_millis(10), Duration::from_millis(40))
    ///     .with_jitter(0.0)
    ///     .delays();
    /// assert_eq!(delays.next_delay(), Duration::from_millis(10));
    /// assert_eq!(delays.next_delay(), Duration::from_millis(20));
    /// assert_eq!(delays.next_delay(), Duration::from_millis(40));
    /// assert_eq!(delays.next_delay(), Duration::from_millis(40));
    /// delays.reset();
    /// assert_eq!(delays.next_delay(), Duration::from_millis(10));
    /// ```
    pub fn delays(self) -> Delays {
        Delays {
            backoff: self,
            attempt: 0,
        }
    }

    /// Returns the delay before retry `attempt` (1-based), with random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, rand::random::<f64>())
    }

    /// Like [`delay`](Self::delay), with the random draw supplied by the caller.
    ///
    /// `rng_value` is clamped to `0.0..=1.0`: `0.0` shrinks the delay by the
    /// full jitter, `0.5` leaves it unchanged and `1.0` grows it by the full
    /// jitter. Deterministic, which makes it suitable for tests.
    pub fn delay_with(&self, attempt: u32, rng_value: f64) -> Duration {
        let max = self.max.as_secs_f64();
        let exponent = attempt.saturating_sub(1).min(i32::MAX as u32) as i32;
        let base = self.initial.as_secs_f64() * self.multiplier.max(0.0).powi(exponent);

        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let rng_value = if rng_value.is_finite() {
            rng_value.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let secs = base * (1.0 + jitter * (2.0 * rng_value - 1.0));

        if secs.is_nan() || secs <= 0.0 {
            Duration::ZERO
        } else if secs >= max {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// Successive delays of a [`Backoff`]; see [`Backoff::delays`].
#[derive(Debug, Clone)]
pub struct Delays {
    backoff: Backoff,
    attempt: u32,
}

impl Delays {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        self.backoff.delay(self.attempt)
    }

    /// Starts over from the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Sleeps the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(1)
    }

    #[test]
    fn grows_exponentially_and_is_capped() {
        let b = Backoff {
            initial: ms(100),
            max: ms(1000),
            multiplier: 2.0,
            jitter: 0.2,
        };
        // 0.5 is the neutral draw.
        let neutral: Vec<_> = (1..=6).map(|n| b.delay_with(n, 0.5)).collect();
        assert_eq!(
            neutral,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        // Attempt 0 is treated like attempt 1.
        assert_eq!(b.delay_with(0, 0.5), ms(100));
    }

    #[test]
    fn jitter_is_applied_before_the_cap() {
        let b = Backoff {
            initial: ms(100),
            max: ms(1000),
            multiplier: 2.0,
            jitter: 0.2,
        };
        assert!(close(b.delay_with(1, 0.0), ms(80)));
        assert!(close(b.delay_with(1, 1.0), ms(120)));
        assert!(close(b.delay_with(3, 0.25), ms(360)));
        // 800ms * 1.2 = 960ms stays under the cap, 1600ms * 0.8 is capped.
        assert!(close(b.delay_with(4, 1.0), ms(960)));
        assert_eq!(b.delay_with(5, 0.0), ms(1000));
        assert_eq!(b.delay_with(5, 1.0), ms(1000));
    }

    #[test]
    fn random_delays_stay_within_bounds() {
        let b = Backoff::default();
        for attempt in 1..=10 {
            let neutral = b.delay_with(attempt, 0.5);
            for _ in 0..100 {
                let d = b.delay(attempt);
                assert!(d <= b.max, "{d:?} exceeds max");
                assert!(d.as_secs_f64() >= neutral.as_secs_f64() * 0.8 - 1e-9);
                assert!(d.as_secs_f64() <= (neutral.as_secs_f64() * 1.2).min(5.0) + 1e-9);
            }
        }
    }

    #[test]
    fn huge_attempts_do_not_overflow() {
        let b = Backoff::default();
        assert_eq!(b.delay_with(u32::MAX, 1.0), b.max);
        let zero = Backoff {
            multiplier: 0.0,
            ..Backoff::default()
        };
        assert_eq!(zero.delay_with(3, 0.5), Duration::ZERO);
    }
}
