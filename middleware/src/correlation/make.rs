use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Makes request ids for [`Correlation`](super::Correlation).
///
/// Implemented for any `FnMut() -> String`.
pub trait MakeRequestId {
    /// Returns a new request id.
    fn make_request_id(&mut self) -> String;
}

impl<F> MakeRequestId for F
where
    F: FnMut() -> String,
{
    fn make_request_id(&mut self) -> String {
        self()
    }
}

/// Default request ids: `{prefix}-{n:x}`.
///
/// `prefix` is 8 random hex characters chosen once per process and `n` comes
/// from a counter shared by every `DefaultMakeRequestId` made with
/// [`new`](Self::new) (and their clones). Ids are therefore unique within
/// the process, across reconnects and across clients, and very likely
/// unique across processes.
///
/// ```
/// use aether_middleware::correlation::{DefaultMakeRequestId, MakeRequestId};
///
/// let mut ids = DefaultMakeRequestId::with_prefix("0badf00d");
/// assert_eq!(ids.make_request_id(), "0badf00d-0");
/// assert_eq!(ids.clone().make_request_id(), "0badf00d-1");
/// ```
#[derive(Debug, Clone)]
pub struct DefaultMakeRequestId {
    prefix: Arc<str>,
    counter: Arc<AtomicU64>,
}

impl DefaultMakeRequestId {
    /// Uses the process-wide prefix and counter.
    pub fn new() -> Self {
        static SHARED: OnceLock<DefaultMakeRequestId> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let prefix = format!("{:08x}", rand::random::<u32>());
                Self::with_prefix(&prefix)
            })
            .clone()
    }

    /// Uses `prefix` and a fresh counter starting at 0; meant for tests.
    ///
    /// Ids are only unique among clones of the returned value.
    pub fn with_prefix(prefix: &str) -> Self {
        DefaultMakeRequestId {
            prefix: Arc::from(prefix),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The prefix shared by all ids this value makes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Default for DefaultMakeRequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl MakeRequestId for DefaultMakeRequestId {
    fn make_request_id(&mut self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:x}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_across_clones_and_share_the_prefix() {
        let mut a = DefaultMakeRequestId::new();
        let mut b = a.clone();
        let mut c = DefaultMakeRequestId::new();
        let prefix = a.prefix().to_string();
        assert_eq!(prefix.len(), 8);
        assert!(prefix.chars().all(|ch| ch.is_ascii_hexdigit()));

        let mut seen = HashSet::new();
        for i in 0..10_000 {
            let id = match i % 3 {
                0 => a.make_request_id(),
                1 => b.make_request_id(),
                _ => c.make_request_id(),
            };
            assert!(id.starts_with(&format!("{prefix}-")), "{id}");
            assert!(seen.insert(id), "duplicate id");
        }
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn ids_are_unique_across_threads() {
        let ids = DefaultMakeRequestId::with_prefix("deadbeef");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let mut ids = ids.clone();
                std::thread::spawn(move || {
                    (0..1000).map(|_| ids.make_request_id()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for id in h.join().expect("thread") {
                assert!(seen.insert(id));
            }
        }
        assert_eq!(seen.len(), 4000);
    }

    #[test]
    fn closures_are_hooks() {
        let mut n = 0;
        let mut make = move || {
            n += 1;
            format!("id{n}")
        };
        assert_eq!(MakeRequestId::make_request_id(&mut make), "id1");
        assert_eq!(MakeRequestId::make_request_id(&mut make), "id2");
    }
}
