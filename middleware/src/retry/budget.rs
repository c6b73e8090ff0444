use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Number of slots the sliding window is split into.
const SLOTS: usize = 10;

/// Limits retries to a fraction of recent traffic.
///
/// A token bucket over a sliding window of `ttl`, in the spirit of tower's
/// `TpsBudget`: every request [`deposit`](Self::deposit)s `retry_percent`
/// of a token, every retry [`withdraw`](Self::withdraw)s one whole token.
/// On top of that, a reserve of `min_per_sec * ttl` retries is always
/// available so that low-traffic clients can still retry. Deposits and
/// withdrawals older than `ttl` are forgotten.
///
/// Clones share the same budget. Time is read from [`tokio::time::Instant`],
/// so the budget follows paused time in tests.
///
/// ```
/// use std::time::Duration;
/// use aether_middleware::retry::RetryBudget;
///
/// // No reserve, one retry allowed per ten requests.
/// let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.1);
/// assert!(!budget.withdraw());
/// for _ in 0..10 {
///     budget.deposit();
/// }
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    shared: Arc<Shared>,
}

struct Shared {
    slot_len: Duration,
    reserve: f64,
    deposit_amount: f64,
    window: Mutex<Window>,
}

#[derive(Default, Clone, Copy)]
struct Slot {
    deposits: u64,
    withdrawals: u64,
}

struct Window {
    slots: [Slot; SLOTS],
    current: usize,
    current_start: Instant,
}

impl RetryBudget {
    /// Creates a budget.
    ///
    /// * `ttl`: how long deposits and withdrawals count (at least 1ms).
    /// * `min_per_sec`: retries per second allowed regardless of traffic.
    /// * `retry_percent`: retries allowed as a fraction of requests, e.g.
    ///   `0.2` for one retry per five requests. Negative or non-finite
    ///   values count as `0.0`.
    pub fn new(ttl: Duration, min_per_sec: u32, retry_percent: f32) -> Self {
        let ttl = ttl.max(Duration::from_millis(1));
        let retry_percent = if retry_percent.is_finite() {
            f64::from(retry_percent.max(0.0))
        } else {
            0.0
        };
        RetryBudget {
            shared: Arc::new(Shared {
                slot_len: ttl / SLOTS as u32,
                reserve: f64::from(min_per_sec) * ttl.as_secs_f64(),
                deposit_amount: retry_percent,
                window: Mutex::new(Window {
                    slots: [Slot::default(); SLOTS],
                    current: 0,
                    current_start: Instant::now(),
                }),
            }),
        }
    }

    /// Records a request, growing the budget.
    pub fn deposit(&self) {
        let mut window = self.shared.window.lock();
        let slot = self.shared.rotate(&mut window);
        slot.deposits = slot.deposits.saturating_add(1);
    }

    /// Tries to spend one retry; returns `false` if the budget is exhausted.
    pub fn withdraw(&self) -> bool {
        let mut window = self.shared.window.lock();
        self.shared.rotate(&mut window);
        let (deposits, withdrawals) = window.slots.iter().fold((0u64, 0u64), |(d, w), s| {
            (d + s.deposits, w + s.withdrawals)
        });
        let balance =
            self.shared.reserve + deposits as f64 * self.shared.deposit_amount - withdrawals as f64;
        if balance >= 1.0 {
            let current = window.current;
            window.slots[current].withdrawals += 1;
            true
        } else {
            false
        }
    }
}

impl Shared {
    /// Drops slots that fell out of the window and returns the current one.
    fn rotate<'a>(&self, window: &'a mut Window) -> &'a mut Slot {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(window.current_start);
        let steps = (elapsed.as_nanos() / self.slot_len.as_nanos().max(1)) as u64;
        if steps > 0 {
            for _ in 0..steps.min(SLOTS as u64) {
                window.current = (window.current + 1) % SLOTS;
                window.slots[window.current] = Slot::default();
            }
            if steps >= SLOTS as u64 {
                window.current_start = now;
            } else {
                window.current_start += self.slot_len * steps as u32;
            }
        }
        &mut window.slots[window.current]
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ttl", &(self.shared.slot_len * SLOTS as u32))
            .field("reserve", &self.shared.reserve)
            .field("retry_percent", &self.shared.deposit_amount)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reserve_allows_min_per_sec() {
        let budget = RetryBudget::new(Duration::from_secs(2), 3, 0.0);
        for _ in 0..6 {
            assert!(budget.withdraw());
        }
        assert!(!budget.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_fund_retries_and_clones_share() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5);
        let clone = budget.clone();
        assert!(!budget.withdraw());
        clone.deposit();
        assert!(!budget.withdraw());
        clone.deposit();
        assert!(budget.withdraw());
        assert!(!clone.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn old_entries_expire_after_ttl() {
        let budget = RetryBudget::new(Duration::from_secs(1), 1, 0.0);
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(!budget.withdraw());
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(budget.withdraw());
        assert!(!budget.withdraw());

        // Deposits expire too.
        let budget = RetryBudget::new(Duration::from_secs(1), 0, 1.0);
        budget.deposit();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!budget.withdraw());
    }
}
