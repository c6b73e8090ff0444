//! Leader election: one campaign task per participant, leadership as a
//! leased key with a fencing token per term.

use std::collections::VecDeque;

use futures_util::Stream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::backoff::poll_delays;
use super::mutex::acquire_fenced;
use super::{KvStore, LeaseOptions};
use crate::error::{ErrorKind, Result};

/// A change of leadership, as seen by one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeadershipEvent {
    /// This participant became the leader; the term's fencing token is
    /// higher than every earlier term's.
    Elected {
        /// The term's fencing token.
        fencing_token: u64,
    },
    /// This participant is no longer the leader (its lease was lost, or it
    /// resigned).
    Lost,
}

/// Where a participant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Follower,
    Leader(u64),
    /// The campaign is over (resigned, dropped, or the client closed).
    Stopped,
}

/// A participant in the election for one key: campaigns in the background
/// from [`start`](LeaderElection::start) until
/// [`resign`](LeaderElection::resign) or drop.
///
/// While another participant leads, it polls the key (jittered backoff up
/// to the renew interval); once elected it keeps the lease and reports a
/// [`LeadershipEvent`] for every change. If the leader's lease is lost (its
/// client closed or stalled), it expires and a follower takes over within
/// about the TTL plus the renew interval.
///
/// ```no_run
/// # async fn demo(service: aether_client::ServiceClient) -> aether_client::Result<()> {
/// use futures_util::StreamExt;
/// use aether_client::coord::{LeaderElection, LeadershipEvent, LeaseOptions};
/// let election = LeaderElection::start(service.clone(), "scheduler/leader", LeaseOptions::new());
/// let mut events = election.events();
/// while let Some(event) = events.next().await {
///     match event {
///         LeadershipEvent::Elected { fencing_token } => println!("leading (term {fencing_token})"),
///         LeadershipEvent::Lost => println!("following"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LeaderElection {
    key: String,
    standing: watch::Receiver<Standing>,
    stop: CancellationToken,
    campaign: Option<JoinHandle<()>>,
}

impl LeaderElection {
    /// Starts campaigning for `key` (inside a tokio runtime).
    pub fn start<K: KvStore>(kv: K, key: impl Into<String>, options: LeaseOptions) -> Self {
        let key = key.into();
        let (tx, standing) = watch::channel(Standing::Follower);
        let stop = CancellationToken::new();
        let campaign = tokio::spawn(campaign(kv, key.clone(), options, tx, stop.clone()));
        LeaderElection {
            key,
            standing,
            stop,
            campaign: Some(campaign),
        }
    }

    /// The election's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether this participant leads right now.
    pub fn is_leader(&self) -> bool {
        matches!(*self.standing.borrow(), Standing::Leader(_))
    }

    /// The current term's fencing token, while leading.
    pub fn fencing_token(&self) -> Option<u64> {
        match *self.standing.borrow() {
            Standing::Leader(token) => Some(token),
            _ => None,
        }
    }

    /// Whether the campaign has ended (after `resign`, or because the
    /// client was closed).
    pub fn is_stopped(&self) -> bool {
        *self.standing.borrow() == Standing::Stopped
    }

    /// Leadership changes from now on, starting with `Elected` if this
    /// participant leads already; ends when the campaign stops. Any number
    /// of streams may be taken; a slow reader never holds the campaign up
    /// (intermediate terms it missed show as `Lost` then `Elected`).
    pub fn events(&self) -> impl Stream<Item = LeadershipEvent> + Send + Unpin + 'static {
        let watch = Events {
            rx: self.standing.clone(),
            seen: Standing::Follower,
            queued: VecDeque::new(),
        };
        Box::pin(futures_util::stream::unfold(watch, |mut w| async move {
            loop {
                if let Some(event) = w.queued.pop_front() {
                    return Some((event, w));
                }
                if w.seen == Standing::Stopped {
                    return None;
                }
                let now = *w.rx.borrow_and_update();
                if now == w.seen {
                    if w.rx.changed().await.is_err() {
                        // The campaign is gone: treat as stopped.
                        let last = *w.rx.borrow();
                        w.observe(if last == Standing::Stopped {
                            last
                        } else {
                            Standing::Stopped
                        });
                    }
                    continue;
                }
                w.observe(now);
            }
        }))
    }

    /// Stops campaigning; if leading, releases the key so a successor need
    /// not wait for the lease to expire. Returns once done.
    pub async fn resign(mut self) -> Result<()> {
        self.stop.cancel();
        if let Some(campaign) = self.campaign.take() {
            let _ = campaign.await;
        }
        Ok(())
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        // The campaign releases the key (if held) and ends.
        self.stop.cancel();
    }
}

/// One reader's view of the standing.
struct Events {
    rx: watch::Receiver<Standing>,
    seen: Standing,
    queued: VecDeque<LeadershipEvent>,
}

impl Events {
    fn observe(&mut self, now: Standing) {
        if let Standing::Leader(_) = self.seen
            && now != self.seen
        {
            self.queued.push_back(LeadershipEvent::Lost);
        }
        if let Standing::Leader(fencing_token) = now {
            self.queued
                .push_back(LeadershipEvent::Elected { fencing_token });
        }
        self.seen = now;
    }
}

async fn campaign<K: KvStore>(
    kv: K,
    key: String,
    options: LeaseOptions,
    standing: watch::Sender<Standing>,
    stop: CancellationToken,
) {
    let mut backoff = poll_delays(options.renew_interval());
    loop {
        let attempt = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            a = acquire_fenced(&kv, &key, &options) => a,
        };
        match attempt {
            Ok(Some((term, fencing_token))) => {
                backoff = poll_delays(options.renew_interval());
                standing.send_replace(Standing::Leader(fencing_token));
                let lost = term.lost_token().clone();
                tokio::select! {
                    _ = stop.cancelled() => {
                        let _ = term.release().await;
                        break;
                    }
                    _ = lost.cancelled() => {
                        standing.send_replace(Standing::Follower);
                        drop(term);
                    }
                }
            }
            Ok(None) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Closed | ErrorKind::InvalidArgument) => {
                tracing::warn!(key = %key, error = %e, "leader election stopped");
                break;
            }
            Err(e) => tracing::debug!(key = %key, error = %e, "leader election attempt failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = backoff.wait() => {}
        }
    }
    standing.send_replace(Standing::Stopped);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;
    use crate::coord::{KvScope, MemoryKv};

    fn opts() -> LeaseOptions {
        LeaseOptions::new().ttl(Duration::from_secs(3))
    }

    #[tokio::test(start_paused = true)]
    async fn one_leader_then_a_successor_after_resigning() {
        let kv = MemoryKv::new();
        let a = LeaderElection::start(kv.clone(), "lead", opts());
        let mut a_events = a.events();
        assert_eq!(
            a_events.next().await,
            Some(LeadershipEvent::Elected { fencing_token: 1 })
        );
        let b = LeaderElection::start(kv.clone(), "lead", opts());
        let mut b_events = b.events();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(a.is_leader() && !b.is_leader());
        a.resign().await.unwrap();
        assert_eq!(a_events.next().await, Some(LeadershipEvent::Lost));
        assert_eq!(a_events.next().await, None);
        assert_eq!(
            b_events.next().await,
            Some(LeadershipEvent::Elected { fencing_token: 2 })
        );
        assert_eq!(b.fencing_token(), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_term_is_reported_and_won_again() {
        let kv = MemoryKv::new();
        let a = LeaderElection::start(kv.clone(), "lead", opts());
        let mut events = a.events();
        assert_eq!(
            events.next().await,
            Some(LeadershipEvent::Elected { fencing_token: 1 })
        );
        kv.put(
            "lead",
            "usurper",
            &KvScope::Global,
            Some(Duration::from_secs(2)),
        );
        assert_eq!(events.next().await, Some(LeadershipEvent::Lost));
        assert_eq!(
            events.next().await,
            Some(LeadershipEvent::Elected { fencing_token: 2 })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_reader_sees_the_current_term() {
        let kv = MemoryKv::new();
        let a = LeaderElection::start(kv, "lead", opts());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut events = a.events();
        assert_eq!(
            events.next().await,
            Some(LeadershipEvent::Elected { fencing_token: 1 })
        );
        drop(a);
        assert_eq!(events.next().await, Some(LeadershipEvent::Lost));
        assert_eq!(events.next().await, None);
    }
}
