//! A held lease and the task that keeps it: renews with compare-and-set,
//! detects loss, and releases with compare-and-delete.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{KvScope, KvStore, LeaseOptions};
use crate::error::{Error, ErrorKind, Result};

/// What the keeper does when told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Delete the key (if still ours).
    Release,
    /// Leave the key as it is (its holder takes it over).
    Keep,
}

/// A lease on one key. Dropping it releases the key in the background.
#[derive(Debug)]
pub(crate) struct Lease {
    key: String,
    value: Bytes,
    lost: CancellationToken,
    exit: Option<oneshot::Sender<Exit>>,
    finished: Option<oneshot::Receiver<Result<()>>>,
}

/// A fresh, unguessable owner token.
pub(crate) fn owner_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn lease_lost(key: &str) -> Error {
    Error::new(
        ErrorKind::LeaseLost,
        format!("the lease on {key:?} was lost before it was released"),
    )
}

impl Lease {
    /// Tries to take `key` with `value` (`SET_NX` + TTL); on success the
    /// lease is kept until released, dropped or lost.
    pub(crate) async fn try_acquire<K: KvStore>(
        kv: &K,
        key: &str,
        value: Bytes,
        opts: &LeaseOptions,
    ) -> Result<Option<Lease>> {
        let taken = kv
            .set_nx(key, value.clone(), &opts.scope, Some(opts.lease_ttl()))
            .await?;
        Ok(taken.then(|| Lease::keep(kv.clone(), key, value, opts)))
    }

    /// Starts keeping a lease this caller already holds.
    fn keep<K: KvStore>(kv: K, key: &str, value: Bytes, opts: &LeaseOptions) -> Lease {
        let lost = CancellationToken::new();
        let (exit_tx, exit_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let keeper = Keeper {
            kv,
            key: key.to_string(),
            value: value.clone(),
            scope: opts.scope.clone(),
            ttl: opts.lease_ttl(),
            renew: opts.renew_interval(),
            lost: lost.clone(),
        };
        tokio::spawn(keeper.run(exit_rx, done_tx));
        Lease {
            key: key.to_string(),
            value,
            lost,
            exit: Some(exit_tx),
            finished: Some(done_rx),
        }
    }

    /// The key held.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The value the key holds while the lease is ours.
    pub(crate) fn value(&self) -> &Bytes {
        &self.value
    }

    /// Fires when the lease is lost (or ends).
    pub(crate) fn lost_token(&self) -> &CancellationToken {
        &self.lost
    }

    /// Releases the key; fails with `LeaseLost` if it was lost before.
    pub(crate) async fn release(mut self) -> Result<()> {
        self.stop(Exit::Release).await
    }

    /// Stops renewing without touching the key (its holder takes it over);
    /// fails with `LeaseLost` if it was lost before.
    pub(crate) async fn disarm(mut self) -> Result<()> {
        self.stop(Exit::Keep).await
    }

    async fn stop(&mut self, how: Exit) -> Result<()> {
        if let Some(exit) = self.exit.take() {
            let _ = exit.send(how);
        }
        match self.finished.take() {
            Some(done) => done.await.unwrap_or_else(|_| Err(lease_lost(&self.key))),
            None => Ok(()),
        }
    }
}

/// The background half of a [`Lease`].
struct Keeper<K> {
    kv: K,
    key: String,
    value: Bytes,
    scope: KvScope,
    ttl: Duration,
    renew: Duration,
    lost: CancellationToken,
}

impl<K: KvStore> Keeper<K> {
    async fn run(self, mut exit: oneshot::Receiver<Exit>, done: oneshot::Sender<Result<()>>) {
        let mut renewed_at = Instant::now();
        let how = loop {
            tokio::select! {
                biased;
                how = &mut exit => break how.unwrap_or(Exit::Release),
                _ = tokio::time::sleep(self.renew) => {}
            }
            if !self.renew_once(&mut renewed_at).await {
                tracing::warn!(key = %self.key, "lease lost");
                self.lost.cancel();
                // Wait to be told, so the holder learns the lease was lost.
                let _ = exit.await;
                let _ = done.send(Err(lease_lost(&self.key)));
                return;
            }
        };
        let result = match how {
            Exit::Keep => Ok(()),
            Exit::Release => self.release().await,
        };
        self.lost.cancel();
        let _ = done.send(result);
    }

    /// One renewal; false when the lease is lost.
    async fn renew_once(&self, renewed_at: &mut Instant) -> bool {
        let attempt = self.kv.compare_and_set(
            &self.key,
            self.value.clone(),
            self.value.clone(),
            &self.scope,
            Some(self.ttl),
        );
        match tokio::time::timeout(self.renew, attempt).await {
            Ok(Ok(true)) => {
                *renewed_at = Instant::now();
                true
            }
            // Gone or taken.
            Ok(Ok(false)) => false,
            // The client is closed for good: no renewal will get through.
            Ok(Err(e)) if e.kind() == ErrorKind::Closed => false,
            // Transient: still ours unless the next attempt comes too late.
            Ok(Err(e)) => {
                tracing::debug!(key = %self.key, error = %e, "lease renewal failed");
                renewed_at.elapsed() + self.renew < self.ttl
            }
            Err(_) => renewed_at.elapsed() + self.renew < self.ttl,
        }
    }

    async fn release(&self) -> Result<()> {
        let deleted = self
            .kv
            .compare_and_delete(&self.key, self.value.clone(), &self.scope)
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(lease_lost(&self.key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::MemoryKv;

    fn opts() -> LeaseOptions {
        LeaseOptions::new().ttl(Duration::from_secs(3))
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_is_renewed_and_released() {
        let kv = MemoryKv::new();
        let g = KvScope::Global;
        let lease = Lease::try_acquire(&kv, "l", "me".into(), &opts())
            .await
            .unwrap()
            .unwrap();
        assert!(
            Lease::try_acquire(&kv, "l", "you".into(), &opts())
                .await
                .unwrap()
                .is_none()
        );
        // Well past the TTL: still held, thanks to renewals.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(kv.get("l", &g).await.unwrap().as_deref(), Some(&b"me"[..]));
        assert!(!lease.lost_token().is_cancelled());
        lease.release().await.unwrap();
        assert_eq!(kv.get("l", &g).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_taken_lease_is_lost_and_never_deleted() {
        let kv = MemoryKv::new();
        let g = KvScope::Global;
        let lease = Lease::try_acquire(&kv, "l", "me".into(), &opts())
            .await
            .unwrap()
            .unwrap();
        kv.put("l", "thief", &g, None);
        lease.lost_token().cancelled().await;
        assert_eq!(
            lease.release().await.unwrap_err().kind(),
            ErrorKind::LeaseLost
        );
        assert_eq!(
            kv.get("l", &g).await.unwrap().as_deref(),
            Some(&b"thief"[..])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_lease_releases_it() {
        let kv = MemoryKv::new();
        let lease = Lease::try_acquire(&kv, "l", "me".into(), &opts())
            .await
            .unwrap()
            .unwrap();
        let lost = lease.lost_token().clone();
        drop(lease);
        lost.cancelled().await;
        assert_eq!(kv.get("l", &KvScope::Global).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_store_loses_the_lease_before_it_expires() {
        let kv = MemoryKv::new();
        let lease = Lease::try_acquire(&kv, "l", "me".into(), &opts())
            .await
            .unwrap()
            .unwrap();
        let start = Instant::now();
        kv.set_unavailable(true);
        lease.lost_token().cancelled().await;
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_disarmed_lease_keeps_its_key() {
        let kv = MemoryKv::new();
        let lease = Lease::try_acquire(&kv, "l", "me".into(), &opts())
            .await
            .unwrap()
            .unwrap();
        lease.disarm().await.unwrap();
        assert!(kv.get("l", &KvScope::Global).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(kv.get("l", &KvScope::Global).await.unwrap(), None);
    }
}
