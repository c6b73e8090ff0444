//! A counter bumped on every message, from every thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Stripes of a [`HotCounter`]: more than the threads that usually bump
/// one at once (runtime workers).
const STRIPES: usize = 8;

/// One stripe, alone on its cache lines (128 bytes: adjacent-line
/// prefetching pairs lines on x86).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// A counter that threads bump without taking a cache line from each
/// other: each thread bumps its own stripe, and a read sums them.
///
/// A plain `AtomicU64` bumped per message by the sending session and per
/// delivery by the receiving stream moves its cache line between the two
/// cores every message (and with it every counter beside it).
#[derive(Debug, Default)]
pub(crate) struct HotCounter {
    stripes: [Stripe; STRIPES],
}

impl HotCounter {
    /// Adds one.
    pub(crate) fn bump(&self) {
        self.stripes[stripe()].0.fetch_add(1, Relaxed);
    }

    /// The total.
    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Relaxed)).sum()
    }
}

/// This thread's stripe, assigned on first use, round robin.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Relaxed) % STRIPES);
        }
        s.get()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn bumps_from_many_threads_add_up() {
        let counter = Arc::new(HotCounter::default());
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let c = counter.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.bump()))
            })
            .collect();
        for t in threads {
            t.join().expect("a bumping thread");
        }
        assert_eq!(counter.get(), 12_000);
        assert!(std::mem::align_of::<Stripe>() >= 128);
    }
}
