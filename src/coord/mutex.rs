//! A distributed mutex: a leased key plus a monotonic fencing token.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use super::backoff::{is_transient, poll_delays};
use super::lease::{Lease, owner_token};
use super::{KvStore, LeaseOptions, derived};
use crate::error::{Error, ErrorKind, Result};
use crate::kv::validate_key;

/// A mutex shared by every process that uses the same key (and scope).
///
/// [`lock`](Mutex::lock) waits for the lease; the [`MutexGuard`] it returns
/// carries a fencing token that strictly increases from one holder to the
/// next, and a [`lost`](MutexGuard::lost) future that fires if the lease is
/// lost while held. Dropping the guard releases the lock in the background;
/// [`unlock`](MutexGuard::unlock) releases it and reports whether the lease
/// was still held. One `Mutex` may be used by many tasks at once: each
/// acquisition is a separate holder.
///
/// Keys: the lock itself at `key`, the fencing counter at `{key}/fence`
/// (never expires).
///
/// ```no_run
/// # async fn demo(task: aether_client::TaskClient) -> aether_client::Result<()> {
/// use std::time::Duration;
/// use aether_client::coord::{LeaseOptions, Mutex};
/// let mutex = Mutex::with_options(task.clone(), "reports/daily", LeaseOptions::new().ttl(Duration::from_secs(10)));
/// if let Some(guard) = mutex.try_lock().await? {
///     println!("holding with fencing token {}", guard.fencing_token());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Mutex<K> {
    kv: K,
    key: String,
    options: LeaseOptions,
}

impl<K: KvStore> Mutex<K> {
    /// A mutex on `key` with the default lease (30 s, global scope).
    pub fn new(kv: K, key: impl Into<String>) -> Self {
        Self::with_options(kv, key, LeaseOptions::default())
    }

    /// A mutex on `key` with the given lease options.
    pub fn with_options(kv: K, key: impl Into<String>, options: LeaseOptions) -> Self {
        Mutex {
            kv,
            key: key.into(),
            options,
        }
    }

    /// The lock's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Takes the lock if it is free right now.
    pub async fn try_lock(&self) -> Result<Option<MutexGuard>> {
        Ok(acquire_fenced(&self.kv, &self.key, &self.options)
            .await?
            .map(|(lease, fencing_token)| MutexGuard {
                lease,
                fencing_token,
            }))
    }

    /// Waits for the lock, polling with jittered backoff up to the renew
    /// interval; rides out timeouts and reconnects, fails on other errors.
    /// Cancel it by dropping the future (or with a timeout).
    pub async fn lock(&self) -> Result<MutexGuard> {
        let mut backoff = poll_delays(self.options.renew_interval());
        loop {
            match self.try_lock().await {
                Ok(Some(guard)) => return Ok(guard),
                Ok(None) => {}
                Err(e) if is_transient(&e) => {
                    tracing::debug!(key = %self.key, error = %e, "lock attempt failed");
                }
                Err(e) => return Err(e),
            }
            backoff.wait().await;
        }
    }
}

/// Takes `key` and draws a fencing token; the token counts only if the
/// lease was still held after it was drawn, which makes tokens increase in
/// the order the lease was held.
pub(crate) async fn acquire_fenced<K: KvStore>(
    kv: &K,
    key: &str,
    options: &LeaseOptions,
) -> Result<Option<(Lease, u64)>> {
    let fence_key = derived(key, "fence");
    validate_key(key)?;
    validate_key(&fence_key)?;
    let Some(lease) = Lease::try_acquire(kv, key, owner_token().into(), options).await? else {
        return Ok(None);
    };
    let drawn = kv.increment(&fence_key, &options.scope).await;
    let still_ours = match &drawn {
        Ok(_) => kv.get(key, &options.scope).await,
        Err(_) => Ok(None),
    };
    match (drawn, still_ours) {
        (Ok(token), Ok(Some(v))) if v == *lease.value() => {
            let token = u64::try_from(token).map_err(|_| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("the fencing counter {fence_key:?} is negative"),
                )
            })?;
            Ok(Some((lease, token)))
        }
        (Ok(_), Ok(_)) => Ok(None),
        (Err(e), _) | (_, Err(e)) => {
            let _ = lease.release().await;
            Err(e)
        }
    }
}

/// A held [`Mutex`]. Dropping it releases the lock in the background.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct MutexGuard {
    lease: Lease,
    fencing_token: u64,
}

impl MutexGuard {
    /// This holder's fencing token: higher than every earlier holder's.
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// The lock's key.
    pub fn key(&self) -> &str {
        self.lease.key()
    }

    /// Whether the lease has been lost.
    pub fn is_lost(&self) -> bool {
        self.lease.lost_token().is_cancelled()
    }

    /// Resolves when the lease is lost (taken, expired, or impossible to
    /// renew in time), or once the guard is released.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        self.lease.lost_token().clone().cancelled_owned()
    }

    /// A token cancelled when the lease is lost or released, to hand to the
    /// guarded work (cancelling it does not affect the lease).
    pub fn lost_token(&self) -> CancellationToken {
        self.lease.lost_token().child_token()
    }

    /// Releases the lock; fails with `ErrorKind::LeaseLost` if the lease
    /// had been lost (the guarded work may have overlapped another holder).
    pub async fn unlock(self) -> Result<()> {
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

    #[tokio::test(start_paused = true)]
    async fn holders_exclude_each_other_with_increasing_tokens() {
        let kv = MemoryKv::new();
        let mutex = Mutex::new(kv.clone(), "m");
        let inside = Arc::new(AtomicUsize::new(0));
        let tokens = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (mutex, inside, tokens) = (mutex.clone(), inside.clone(), tokens.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    let guard = mutex.lock().await.unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    tokens.lock().push(guard.fencing_token());
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    guard.unlock().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let tokens = tokens.lock().clone();
        assert_eq!(tokens, (1..=24).collect::<Vec<u64>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_deleted_lock_is_reported_lost() {
        let kv = MemoryKv::new();
        let guard = Mutex::new(kv.clone(), "m").lock().await.unwrap();
        let token = guard.lost_token();
        kv.remove("m", &KvScope::Global);
        guard.lost().await;
        assert!(guard.is_lost() && token.is_cancelled());
        assert_eq!(
            guard.unlock().await.unwrap_err().kind(),
            ErrorKind::LeaseLost
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_guard_frees_the_lock() {
        let kv = MemoryKv::new();
        let mutex = Mutex::new(kv, "m");
        let first = mutex.lock().await.unwrap();
        assert!(mutex.try_lock().await.unwrap().is_none());
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), mutex.lock())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.fencing_token(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn lock_rides_out_an_outage() {
        let kv = MemoryKv::new();
        kv.set_unavailable(true);
        let mutex = Mutex::new(kv.clone(), "m");
        let waiter = tokio::spawn(async move { mutex.lock().await.map(|g| g.fencing_token()) });
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!waiter.is_finished());
        kv.set_unavailable(false);
        assert_eq!(waiter.await.unwrap().unwrap(), 1);
    }

    #[tokio::test]
    async fn keys_too_long_for_the_fence_are_rejected_up_front() {
        let mutex = Mutex::new(MemoryKv::new(), "k".repeat(251));
        assert_eq!(
            mutex.try_lock().await.unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
