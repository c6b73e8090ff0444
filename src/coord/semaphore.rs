//! A counting semaphore whose permits are leases: N slots, each a leased
//! key, so a crashed holder's permit expires instead of leaking.

use std::future::Future;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::backoff::{is_transient, poll_delays};
use super::lease::{Lease, owner_token};
use super::{KvStore, LeaseOptions, derived};
use crate::error::{Error, Result};
use crate::kv::validate_key;

/// At most `permits` holders at a time, across every process using the
/// same key (and scope).
///
/// Permit `i` is the key `{key}/permit/{i}`, taken with `SET_NX` and a TTL
/// and renewed while held, so at most `permits` holders can exist, and a
/// holder that crashes frees its permit when its lease expires (unlike a
/// counter, which leaks it). Every process must use the same `permits`.
///
/// ```no_run
/// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
/// use aether_client::coord::Semaphore;
/// let gpus = Semaphore::new(agent.clone(), "gpus", 4);
/// let permit = gpus.acquire().await?;
/// println!("using GPU slot {}", permit.slot());
/// permit.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore<K> {
    kv: K,
    key: String,
    permits: u32,
    options: LeaseOptions,
}

impl<K: KvStore> Semaphore<K> {
    /// A semaphore of `permits` on `key`, with the default lease.
    pub fn new(kv: K, key: impl Into<String>, permits: u32) -> Self {
        Self::with_options(kv, key, permits, LeaseOptions::default())
    }

    /// A semaphore of `permits` on `key` with the given lease options.
    pub fn with_options(
        kv: K,
        key: impl Into<String>,
        permits: u32,
        options: LeaseOptions,
    ) -> Self {
        Semaphore {
            kv,
            key: key.into(),
            permits,
            options,
        }
    }

    /// The number of permits.
    pub fn permits(&self) -> u32 {
        self.permits
    }

    fn slot_key(&self, slot: u32) -> String {
        derived(&self.key, &format!("permit/{slot}"))
    }

    /// Takes a free permit if there is one right now (trying the slots from
    /// a random one, so contenders spread out).
    pub async fn try_acquire(&self) -> Result<Option<SemaphorePermit>> {
        if self.permits == 0 {
            return Err(Error::invalid("a semaphore needs at least one permit"));
        }
        validate_key(&self.slot_key(self.permits - 1))?;
        let start = rand::rng().random_range(0..self.permits);
        for i in 0..self.permits {
            let slot = (start + i) % self.permits;
            let key = self.slot_key(slot);
            if let Some(lease) =
                Lease::try_acquire(&self.kv, &key, owner_token().into(), &self.options).await?
            {
                return Ok(Some(SemaphorePermit { lease, slot }));
            }
        }
        Ok(None)
    }

    /// Waits for a permit, polling with jittered backoff up to the renew
    /// interval; rides out timeouts and reconnects, fails on other errors.
    pub async fn acquire(&self) -> Result<SemaphorePermit> {
        let mut backoff = poll_delays(self.options.renew_interval());
        loop {
            match self.try_acquire().await {
                Ok(Some(permit)) => return Ok(permit),
                Ok(None) => {}
                Err(e) if is_transient(&e) => {
                    tracing::debug!(key = %self.key, error = %e, "permit attempt failed");
                }
                Err(e) => return Err(e),
            }
            backoff.wait().await;
        }
    }
}

/// A held permit of a [`Semaphore`]. Dropping it releases the permit in
/// the background.
#[derive(Debug)]
#[must_use = "the permit is released when it is dropped"]
pub struct SemaphorePermit {
    lease: Lease,
    slot: u32,
}

impl SemaphorePermit {
    /// Which slot (`0..permits`) this permit holds.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Whether the permit's lease has been lost.
    pub fn is_lost(&self) -> bool {
        self.lease.lost_token().is_cancelled()
    }

    /// Resolves when the permit's lease is lost, or once it is released.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        self.lease.lost_token().clone().cancelled_owned()
    }

    /// A token cancelled when the permit is lost or released.
    pub fn lost_token(&self) -> CancellationToken {
        self.lease.lost_token().child_token()
    }

    /// Releases the permit; fails with `ErrorKind::LeaseLost` if it had
    /// been lost.
    pub async fn release(self) -> Result<()> {
        self.lease.release().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::coord::{KvScope, MemoryKv};
    use crate::error::ErrorKind;

    fn opts() -> LeaseOptions {
        LeaseOptions::new().ttl(Duration::from_secs(2))
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_n_holders() {
        let sem = Semaphore::with_options(MemoryKv::new(), "s", 3, opts());
        let holders = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (sem, holders, peak) = (sem.clone(), holders.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    let permit = sem.acquire().await.unwrap();
                    let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    holders.fetch_sub(1, Ordering::SeqCst);
                    permit.release().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashed_holders_permit_expires() {
        let kv = MemoryKv::new();
        let sem = Semaphore::with_options(kv.clone(), "s", 1, opts());
        // A holder that crashed: its key is there, nobody renews it.
        kv.put(
            "s/permit/0",
            "crashed",
            &KvScope::Global,
            Some(Duration::from_secs(2)),
        );
        assert!(sem.try_acquire().await.unwrap().is_none());
        let permit = tokio::time::timeout(Duration::from_secs(4), sem.acquire())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(permit.slot(), 0);
    }

    #[tokio::test]
    async fn zero_permits_is_invalid() {
        let sem = Semaphore::new(MemoryKv::new(), "s", 0);
        assert_eq!(
            sem.try_acquire().await.unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
