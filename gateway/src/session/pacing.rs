//! Pacing a sender without head-of-line blocking.
//!
//! When a send leaves its receiver's mailbox congested, the session paces
//! for that receiver: until the mailbox drains to a quarter, or
//! [`Limits::backpressure_wait`](crate::Limits::backpressure_wait) passes
//! (the receiver is then lagging and paces nobody). Meanwhile the session
//! goes on reading and serving everything else (KV, tasks, sessions, sends
//! to other targets); sends to the paced target are held, in order, and
//! routed when the pause ends. What is held is bounded by
//! [`HELD_MAX_BYTES`]: beyond it the session stops reading until the pause
//! ends, so a fast sender is slowed by HTTP/2 flow control and loses
//! nothing (a reader that keeps up paces it losslessly).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;

use crate::mailbox::{Mailbox, Paced};
use crate::stats::Stats;

/// Most bytes of sends one session holds for a paused receiver.
pub(super) const HELD_MAX_BYTES: usize = 1024 * 1024;

/// One pause for a congested receiver.
pub(super) struct Pacing {
    /// The target topic, as the sender wrote it, whose sends are held.
    topic: String,
    wait: Pin<Box<dyn Future<Output = Paced> + Send + Sync>>,
    stats: Arc<Stats>,
    /// What `wait` is polled with: notes each wake-up, then wakes the
    /// session.
    woken: Arc<Woken>,
    waker: Waker,
}

/// Whether the pause's wait was woken since it was last polled.
///
/// The session polls the pause with every frame it reads; polling the
/// wait itself (a mailbox lock, a notification, a timer) each time would
/// cost more than the frame. It is polled only when it was woken (the
/// mailbox drained, the deadline passed) or never polled yet.
struct Woken {
    flag: AtomicBool,
    session: AtomicWaker,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.flag.store(true, Ordering::Release);
        self.session.wake();
    }
}

impl Pacing {
    /// Starts pacing for `receiver`, reached through `topic`, for at most
    /// `max`.
    pub(super) fn start(
        topic: String,
        receiver: Arc<Mailbox>,
        max: Duration,
        stats: &Arc<Stats>,
    ) -> Self {
        let wait = Box::pin(async move { receiver.pace(max).await });
        Self::waiting(topic, wait, stats)
    }

    /// A pause that ends with `wait`.
    fn waiting(
        topic: String,
        wait: Pin<Box<dyn Future<Output = Paced> + Send + Sync>>,
        stats: &Arc<Stats>,
    ) -> Self {
        Stats::bump(&stats.backpressure_waits);
        Stats::bump(&stats.senders_waiting);
        // Set: the wait is polled the first time.
        let woken = Arc::new(Woken {
            flag: AtomicBool::new(true),
            session: AtomicWaker::new(),
        });
        Pacing {
            topic,
            wait,
            stats: stats.clone(),
            waker: Waker::from(woken.clone()),
            woken,
        }
    }

    /// Whether a send to `target` must wait for this pause to end: it is
    /// the paced target.
    pub(super) fn holds(&self, target: &str) -> bool {
        target == self.topic
    }
}

impl Future for Pacing {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Registered before the flag is read: a wake-up after the read
        // wakes this waker.
        self.woken.session.register(cx.waker());
        if !self.woken.flag.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let this = &mut *self;
        match this
            .wait
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
        {
            Poll::Ready(Paced::Lagging) => {
                Stats::bump(&self.stats.receivers_lagging);
                Poll::Ready(())
            }
            Poll::Ready(Paced::Drained) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Pacing {
    fn drop(&mut self) {
        self.stats.senders_waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A wait that counts its polls and ends when told, keeping the waker
    /// it was polled with.
    #[derive(Default)]
    struct Probe {
        polls: AtomicUsize,
        done: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    fn probed(probe: &Arc<Probe>) -> Pacing {
        let p = probe.clone();
        let wait = std::future::poll_fn(move |cx| {
            p.polls.fetch_add(1, Ordering::Relaxed);
            if p.done.load(Ordering::Relaxed) {
                return Poll::Ready(Paced::Drained);
            }
            *p.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        });
        Pacing::waiting("ag::w::i::s".into(), Box::pin(wait), &Arc::default())
    }

    #[test]
    fn the_wait_is_polled_first_and_then_only_when_woken() {
        let probe = Arc::new(Probe::default());
        let mut pacing = probed(&probe);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut pacing).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut pacing).poll(&mut cx).is_pending());
        assert_eq!(probe.polls.load(Ordering::Relaxed), 1);

        probe.done.store(true, Ordering::Relaxed);
        let waker = probe.waker.lock().unwrap().take().expect("polled once");
        waker.wake();
        assert!(Pin::new(&mut pacing).poll(&mut cx).is_ready());
        assert_eq!(probe.polls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_wake_up_of_the_wait_wakes_the_session() {
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let session = Arc::new(Count(AtomicUsize::new(0)));
        let session_waker = Waker::from(session.clone());
        let probe = Arc::new(Probe::default());
        let mut pacing = probed(&probe);
        let mut cx = Context::from_waker(&session_waker);
        assert!(Pin::new(&mut pacing).poll(&mut cx).is_pending());
        let waker = probe.waker.lock().unwrap().take().expect("polled once");
        waker.wake();
        assert_eq!(session.0.load(Ordering::Relaxed), 1);
    }
}
