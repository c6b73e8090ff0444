//! The failure throttle (§1.5 rule 4): too many failed authentications
//! for one identity, or from one remote address, within a sliding window
//! start a cooldown during which every attempt for that key is refused at
//! once, before any credential is looked at (so a guesser learns nothing
//! during it). A success clears the identity's record.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::AuthThrottle;

#[derive(Default)]
struct Record {
    failures: VecDeque<Instant>,
    cooldown_until: Option<Instant>,
}

impl Record {
    fn cooling(&self, now: Instant) -> bool {
        self.cooldown_until.is_some_and(|t| now < t)
    }
}

/// Failure records by key (`id:{identity}` or `ip:{address}`).
pub(crate) struct Throttle {
    config: AuthThrottle,
    records: Mutex<HashMap<String, Record>>,
}

impl Throttle {
    pub(crate) fn new(config: AuthThrottle) -> Self {
        Throttle {
            config,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any of `keys` is cooling down.
    pub(crate) fn is_cooling(&self, keys: &[&str]) -> bool {
        let now = Instant::now();
        let records = self.records.lock();
        keys.iter()
            .any(|k| records.get(*k).is_some_and(|r| r.cooling(now)))
    }

    /// Counts a failure against `key` (allowed `limit` per window); `true`
    /// when it starts a cooldown.
    pub(crate) fn fail(&self, key: &str, limit: u32) -> bool {
        let now = Instant::now();
        let mut records = self.records.lock();
        let r = records.entry(key.to_string()).or_default();
        while r
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.config.window)
        {
            r.failures.pop_front();
        }
        r.failures.push_back(now);
        if r.failures.len() >= limit.max(1) as usize && !r.cooling(now) {
            r.failures.clear();
            r.cooldown_until = Some(now + self.config.cooldown);
            return true;
        }
        false
    }

    /// Forgets `key` (after a success).
    pub(crate) fn clear(&self, key: &str) {
        self.records.lock().remove(key);
    }

    /// Drops records with nothing left to remember.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let window = self.config.window;
        self.records.lock().retain(|_, r| {
            r.cooling(now)
                || r.failures
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
    }

    /// The configured limits.
    pub(crate) fn config(&self) -> &AuthThrottle {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn five_failures_start_a_cooldown() {
        let t = Throttle::new(AuthThrottle::default());
        for _ in 0..4 {
            assert!(!t.fail("id:a", 5));
            assert!(!t.is_cooling(&["id:a"]));
        }
        assert!(t.fail("id:a", 5));
        assert!(t.is_cooling(&["id:b", "id:a"]));
        assert!(!t.is_cooling(&["id:b"]));
        t.clear("id:a");
        assert!(!t.is_cooling(&["id:a"]));
    }

    #[test]
    fn cooldowns_end_and_records_are_swept() {
        let t = Throttle::new(
            AuthThrottle::default()
                .with_window(Duration::ZERO)
                .with_cooldown(Duration::ZERO),
        );
        assert!(t.fail("id:a", 1));
        assert!(!t.is_cooling(&["id:a"]));
        t.sweep();
        assert!(t.records.lock().is_empty());
    }
}
