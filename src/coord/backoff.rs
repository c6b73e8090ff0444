//! Polling delays: jittered exponential backoff, capped.

use std::time::Duration;

use rand::Rng;

use crate::error::{Error, ErrorKind};

/// The first polling delay.
const FIRST: Duration = Duration::from_millis(20);

/// Delays for polling a key: each is drawn from `[d/2, d]`, where `d`
/// doubles from 20 ms up to `cap`.
#[derive(Debug, Clone)]
pub(crate) struct PollBackoff {
    next: Duration,
    cap: Duration,
}

impl PollBackoff {
    /// Backoff up to `cap`.
    pub(crate) fn new(cap: Duration) -> Self {
        let cap = cap.max(FIRST);
        PollBackoff { next: FIRST, cap }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(self.cap);
        let half = d / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter)
    }

    /// Sleeps the next delay.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

/// Whether a waiting primitive should keep polling after `e`: the request
/// timed out, the stream dropped, or the gateway was unreachable (the
/// client reconnects). Anything else (closed client, bad key, refusal) ends
/// the wait.
pub(crate) fn is_transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Timeout
            | ErrorKind::ConnectionLost { .. }
            | ErrorKind::Unreachable
            | ErrorKind::QueueFull
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter() {
        let cap = Duration::from_millis(300);
        let mut b = PollBackoff::new(cap);
        let delays: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(10) && delays[0] <= Duration::from_millis(21));
        for d in &delays {
            assert!(*d <= cap + Duration::from_millis(1), "{d:?}");
            assert!(*d >= Duration::from_millis(10), "{d:?}");
        }
        assert!(delays[9] >= cap / 2);
    }
}
