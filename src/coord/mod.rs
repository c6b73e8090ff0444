//! Coordination primitives on the KV store: a leased [`Mutex`] with
//! monotonic fencing tokens, [`LeaderElection`], a [`Semaphore`] with leased
//! permits, and a crash-safe [`Once`].
//!
//! They work with any [`KvStore`]: every client whose principal may use KV
//! (agents, tasks, services, the workflow engine, the metrics bridge; async
//! and blocking), or [`MemoryKv`] in tests. Coordinating processes must use
//! the same key in a *shared* scope ([`KvScope::Global`], the default, or a
//! workspace scope).
//!
//! # Leases
//!
//! Every hold is a lease: a key written with `SET_NX` and a TTL, holding a
//! random owner token. A background task renews it with `COMPARE_AND_SET`
//! every [`LeaseOptions::renew_every`] (a third of the TTL by default), and
//! releases it with `COMPARE_AND_DELETE`, so a holder can never release
//! someone else's lease. If a renewal finds the lease gone or taken, or
//! cannot get through before the lease would expire, the lease is *lost*:
//! the holder's `lost()` future fires, and the work it guards should stop.
//! A crashed holder's lease simply expires.
//!
//! TTLs travel as whole seconds (rounded up), so a lease lasts at least
//! 1 s; shorter TTLs are raised to 1 s.
//!
//! # Waiting
//!
//! The protocol has no KV watch, so waiting (for a lock, a permit, a
//! leadership term, a running `Once`) is polling with jittered exponential
//! backoff, from 20 ms up to the renew interval: a freed lock is noticed
//! within about one renew interval, an expired one within the TTL plus
//! that. Waiting never spins.
//!
//! # Fencing
//!
//! A lease alone cannot stop a paused holder from acting after its lease
//! expired. Each acquisition of a [`Mutex`] (and each leadership term)
//! therefore increments a counter at `{key}/fence` and checks it still
//! holds the lease afterwards, so fencing tokens strictly increase in the
//! order the lease was held: pass the token to the store you protect and
//! have it reject tokens lower than the highest it has seen.
//!
//! ```no_run
//! # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
//! use aether_client::coord::Mutex;
//! let mutex = Mutex::new(agent.clone(), "jobs/nightly");
//! let guard = mutex.lock().await?;
//! tokio::select! {
//!     _ = guard.lost() => eprintln!("lease lost: stop writing"),
//!     _ = async { /* write with guard.fencing_token() */ } => {}
//! }
//! guard.unlock().await?;
//! # Ok(()) }
//! ```

mod backoff;
mod leader;
mod lease;
mod memory;
mod mutex;
mod once;
mod semaphore;

use std::time::Duration;

pub use crate::ops::kv::{KvScope, KvStore};
pub use leader::{LeaderElection, LeadershipEvent};
pub use memory::MemoryKv;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use semaphore::{Semaphore, SemaphorePermit};

/// The shortest lease the wire can express.
const MIN_TTL: Duration = Duration::from_secs(1);
/// The shortest renew interval.
const MIN_RENEW: Duration = Duration::from_millis(50);

/// How a primitive leases its keys.
///
/// ```
/// use std::time::Duration;
/// use aether_client::{KvScope, coord::LeaseOptions};
/// let opts = LeaseOptions::new()
///     .ttl(Duration::from_secs(10))
///     .scope(KvScope::workspace_in("ws").unwrap());
/// assert_eq!(opts.renew_interval(), Duration::from_secs(10) / 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseOptions {
    /// How long a lease lives without renewal (default 30 s; at least 1 s).
    pub ttl: Duration,
    /// How often a held lease is renewed (default a third of the TTL; at
    /// most half of it).
    pub renew_every: Option<Duration>,
    /// The KV scope of the keys (default [`KvScope::Global`]).
    pub scope: KvScope,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions {
            ttl: Duration::from_secs(30),
            renew_every: None,
            scope: KvScope::Global,
        }
    }
}

impl LeaseOptions {
    /// The defaults: a 30 s lease renewed every 10 s, in the global scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the lease TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the renew interval.
    pub fn renew_every(mut self, every: Duration) -> Self {
        self.renew_every = Some(every);
        self
    }

    /// Sets the KV scope.
    pub fn scope(mut self, scope: KvScope) -> Self {
        self.scope = scope;
        self
    }

    /// The effective TTL (at least 1 s).
    pub fn lease_ttl(&self) -> Duration {
        self.ttl.max(MIN_TTL)
    }

    /// The effective renew interval: the one set (else a third of the
    /// TTL), kept between 50 ms and half the TTL.
    pub fn renew_interval(&self) -> Duration {
        let ttl = self.lease_ttl();
        self.renew_every
            .unwrap_or(ttl / 3)
            .clamp(MIN_RENEW, ttl / 2)
    }
}

/// `{key}/{suffix}`: the keys a primitive derives from its own.
fn derived(key: &str, suffix: &str) -> String {
    format!("{key}/{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_options_are_kept_sane() {
        let d = LeaseOptions::new();
        assert_eq!(d.lease_ttl(), Duration::from_secs(30));
        assert_eq!(d.renew_interval(), Duration::from_secs(10));
        let tiny = LeaseOptions::new().ttl(Duration::from_millis(10));
        assert_eq!(tiny.lease_ttl(), MIN_TTL);
        assert_eq!(tiny.renew_interval(), MIN_TTL / 3);
        let slow = LeaseOptions::new()
            .ttl(Duration::from_secs(4))
            .renew_every(Duration::from_secs(9));
        assert_eq!(slow.renew_interval(), Duration::from_secs(2));
        let fast = LeaseOptions::new().renew_every(Duration::ZERO);
        assert_eq!(fast.renew_interval(), MIN_RENEW);
    }
}
