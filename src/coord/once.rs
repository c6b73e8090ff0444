//! Run an action once across processes, with a two-phase marker: a leased
//! "running" marker while it runs, then a "done" marker.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::backoff::{is_transient, poll_delays};
use super::lease::{Lease, owner_token};
use super::{KvStore, LeaseOptions};
use crate::error::{Error, Result};
use crate::kv::validate_key;

/// The marker's value once the action has run.
const DONE: &[u8] = b"done";
/// The prefix of the marker's value while the action runs.
const RUNNING: &str = "running:";

/// Runs an action once among every process using the same key (and scope).
///
/// The first caller writes a *running* marker (a lease, renewed while the
/// action runs) and runs the action; on success the marker becomes *done*,
/// on failure it is removed so a later caller retries. Callers arriving
/// meanwhile wait (polling) and then return without running it. If the
/// runner crashes, its running marker expires and the next caller runs the
/// action: a crash never marks it done.
///
/// If a runner's lease is lost while the action runs (it stalled past the
/// TTL), another caller may run the action too: size the TTL for pauses,
/// not for the action's length (renewal covers that).
///
/// ```no_run
/// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
/// use aether_client::coord::Once;
/// let migrate = Once::new(agent.clone(), "migrations/v2");
/// let ran = migrate.call(|| async { /* migrate */ Ok::<_, aether_client::Error>(42) }).await?;
/// println!("{}", if ran.is_some() { "migrated" } else { "already migrated" });
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Once<K> {
    kv: K,
    key: String,
    options: LeaseOptions,
    done_ttl: Option<Duration>,
}

impl<K: KvStore> Once<K> {
    /// A once-marker at `key` with the default lease.
    pub fn new(kv: K, key: impl Into<String>) -> Self {
        Self::with_options(kv, key, LeaseOptions::default())
    }

    /// A once-marker at `key` with the given lease options.
    pub fn with_options(kv: K, key: impl Into<String>, options: LeaseOptions) -> Self {
        Once {
            kv,
            key: key.into(),
            options,
            done_ttl: None,
        }
    }

    /// Lets the done marker expire after `ttl`, so the action runs at most
    /// once per window (default: forever).
    pub fn done_ttl(mut self, ttl: Duration) -> Self {
        self.done_ttl = Some(ttl);
        self
    }

    /// Whether the action has run (and its marker has not expired).
    pub async fn is_done(&self) -> Result<bool> {
        Ok(self
            .kv
            .get(&self.key, &self.options.scope)
            .await?
            .is_some_and(|v| v == DONE))
    }

    /// Forgets that the action ran, so the next call runs it again; whether
    /// there was a done marker. A running action is not disturbed.
    pub async fn reset(&self) -> Result<bool> {
        self.kv
            .compare_and_delete(&self.key, Bytes::from_static(DONE), &self.options.scope)
            .await
    }

    /// Runs `action` unless it has run: `Some(output)` if this call ran it,
    /// `None` if it had already run (or another caller ran it while this
    /// one waited). An error of the action is returned and leaves the
    /// action not done.
    pub async fn call<T, E, F, Fut>(&self, action: F) -> Result<Option<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        validate_key(&self.key)?;
        let mut backoff = poll_delays(self.options.renew_interval());
        let lease = loop {
            match self.try_claim().await {
                Ok(Claim::Done) => return Ok(None),
                Ok(Claim::Won(lease)) => break lease,
                Ok(Claim::Running) => {}
                Err(e) if is_transient(&e) => {
                    tracing::debug!(key = %self.key, error = %e, "once: claim attempt failed");
                }
                Err(e) => return Err(e.into()),
            }
            backoff.wait().await;
        };
        match action().await {
            Ok(output) => {
                self.mark_done(lease).await;
                Ok(Some(output))
            }
            Err(e) => {
                // Not done: let the next caller try.
                let _ = lease.release().await;
                Err(e)
            }
        }
    }

    /// One look at the marker, claiming it if there is none.
    async fn try_claim(&self) -> Result<Claim> {
        let scope = &self.options.scope;
        match self.kv.get(&self.key, scope).await? {
            Some(v) if v == DONE => Ok(Claim::Done),
            Some(_) => Ok(Claim::Running),
            None => {
                let running = Bytes::from(format!("{RUNNING}{}", owner_token()));
                Ok(
                    match Lease::try_acquire(&self.kv, &self.key, running, &self.options).await? {
                        Some(lease) => Claim::Won(lease),
                        None => Claim::Running,
                    },
                )
            }
        }
    }

    /// Turns this runner's running marker into the done marker, while the
    /// lease is still kept (so it cannot expire meanwhile). The action has
    /// run whatever happens here; a failure only means a later caller may
    /// run it again, so it is logged rather than returned.
    async fn mark_done(&self, lease: Lease) {
        let scope = &self.options.scope;
        let running = lease.value().clone();
        let done = Bytes::from_static(DONE);
        let mut backoff = poll_delays(self.options.renew_interval());
        let marked = loop {
            let cas = self
                .kv
                .compare_and_set(
                    &self.key,
                    running.clone(),
                    done.clone(),
                    scope,
                    self.done_ttl,
                )
                .await;
            match cas {
                Err(e) if is_transient(&e) && !lease.lost_token().is_cancelled() => {
                    backoff.wait().await;
                }
                other => break other,
            }
        };
        // The keeper may have seen the marker change to done: not a loss.
        let _ = lease.disarm().await;
        let marked = match marked {
            // The running marker expired under us: the action did run, so
            // mark it done unless another runner has started.
            Ok(false) => self.kv.set_nx(&self.key, done, scope, self.done_ttl).await,
            other => other,
        };
        match marked {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                key = %self.key,
                "once: the lease was lost while the action ran; another caller may run it too"
            ),
            Err(e) => tracing::warn!(
                key = %self.key,
                error = %e,
                "once: the action ran but could not be marked done; a later caller may run it again"
            ),
        }
    }
}

/// What a look at the marker found.
enum Claim {
    /// The action has run.
    Done,
    /// Someone runs it now.
    Running,
    /// This caller claimed it.
    Won(Lease),
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::coord::{KvScope, MemoryKv};

    fn opts() -> LeaseOptions {
        LeaseOptions::new().ttl(Duration::from_secs(2))
    }

    #[tokio::test(start_paused = true)]
    async fn runs_once_among_concurrent_callers() {
        let once = Once::with_options(MemoryKv::new(), "o", opts());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (once, runs) = (once.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                once.call(|| async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    // Longer than the TTL: renewal keeps the marker.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok::<_, Error>(())
                })
                .await
                .unwrap()
            }));
        }
        let mut ran = 0;
        for t in tasks {
            ran += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!((ran, runs.load(Ordering::SeqCst)), (1, 1));
        assert!(once.is_done().await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_action_is_not_done() {
        let once = Once::with_options(MemoryKv::new(), "o", opts());
        let err = once
            .call(|| async { Err::<(), _>(Error::invalid("boom")) })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "boom");
        assert!(!once.is_done().await.unwrap());
        assert_eq!(
            once.call(|| async { Ok::<_, Error>(7) }).await.unwrap(),
            Some(7)
        );
        assert_eq!(
            once.call(|| async { Ok::<_, Error>(8) }).await.unwrap(),
            None
        );
        assert!(once.reset().await.unwrap());
        assert_eq!(
            once.call(|| async { Ok::<_, Error>(9) }).await.unwrap(),
            Some(9)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashed_runner_does_not_mark_it_done() {
        let kv = MemoryKv::new();
        // A runner that crashed mid-run: its marker is leased, not renewed.
        kv.put(
            "o",
            "running:dead",
            &KvScope::Global,
            Some(Duration::from_secs(2)),
        );
        let once = Once::with_options(kv, "o", opts());
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            once.call(|| async { Ok::<_, Error>(1) }),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(out, Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn done_markers_can_expire() {
        let once =
            Once::with_options(MemoryKv::new(), "o", opts()).done_ttl(Duration::from_secs(60));
        assert_eq!(
            once.call(|| async { Ok::<_, Error>(()) }).await.unwrap(),
            Some(())
        );
        assert_eq!(
            once.call(|| async { Ok::<_, Error>(()) }).await.unwrap(),
            None
        );
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(
            once.call(|| async { Ok::<_, Error>(()) }).await.unwrap(),
            Some(())
        );
    }
}
