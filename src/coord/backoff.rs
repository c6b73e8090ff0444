//! Polling delays (the SDK's one [`Backoff`], jittered and capped) and
//! which failures a poll loop rides out.

use std::time::Duration;

use aether_middleware::backoff::{Backoff, Delays};

use crate::error::{Error, ErrorKind};

/// The first polling delay.
const FIRST: Duration = Duration::from_millis(20);

/// Delays for polling a key: from 20 ms, doubling up to `cap`, each with
/// +/- 50% jitter (never above `cap`).
pub(crate) fn poll_delays(cap: Duration) -> Delays {
    Backoff::new(FIRST, cap.max(FIRST))
        .with_jitter(0.5)
        .delays()
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
        let mut b = poll_delays(cap);
        let delays: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(10) && delays[0] <= Duration::from_millis(31));
        for d in &delays {
            assert!(*d <= cap + Duration::from_millis(1), "{d:?}");
            assert!(*d >= Duration::from_millis(10), "{d:?}");
        }
        assert!(delays[9] >= cap / 2);
    }
}
