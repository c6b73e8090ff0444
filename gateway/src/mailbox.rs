//! Per-identity mailboxes ("lite" semantics, §2.7).
//!
//! Every durable identity topic (`ag tu ta us sv br` and the two receiver
//! topics) has a mailbox that exists whether or not its owner is online.
//! A mailbox is bounded in messages, bytes and age. **Nothing accepted is
//! dropped to make room**: a message that would exceed a bound is refused
//! ([`Offer::Full`]) and the sender is told (`ERR_MAILBOX_FULL`). Only the
//! age bound removes accepted messages (counted and logged). A message
//! leaves the mailbox when it is handed to the owner's stream.
//!
//! Durability (with a data directory): messages to a connected identity
//! are in flight in memory; messages waiting for an offline identity are
//! durable. A message pushed while the owner is offline is journaled at
//! once (`Table::Mailboxes`); one handed to the owner's stream is deleted;
//! when an owner detaches, whatever is still in its mailbox is journaled.
//! Every change is submitted under the mailbox lock, so the journal sees
//! them in memory order. [`MailboxStore::restore`] reloads the mailboxes
//! at startup (dropping what is older than the age bound).
//!
//! Pacing: while the owner is online, keeps taking messages, and its
//! mailbox is at least half full (messages or bytes), an accepted offer
//! asks the sender to pace ([`Offer::Accepted`] with `pace`): the sending
//! session pauses reading until the owner has taken the mailbox down to a
//! quarter ([`Mailbox::pace`]), so HTTP/2 flow control slows a fast sender
//! to its reader's speed. A pause lasts at most `Limits::backpressure_wait`;
//! an owner that did not get down to a quarter in that time is *lagging*
//! and paces nobody until it does, so a stalled or trickling reader costs
//! its senders at most one pause, never a freeze of their other work.

mod persist;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::{self, Relaxed};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::task::Waker;
use std::time::{Duration, Instant};

use aether_protocol::shared::SharedIncoming;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::config::Limits;
use crate::expiring::unix_ms;
use crate::stats::Stats;
use crate::store::{Mutation, Store, StoreError};
use persist::Persister;

/// Bounds applied to every mailbox.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MailboxLimits {
    pub(crate) max_messages: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_age: Duration,
}

impl MailboxLimits {
    /// Whether a mailbox holding `len` messages and `bytes` bytes is at
    /// least half full: senders to a live owner pace.
    fn above_high_water(&self, len: usize, bytes: usize) -> bool {
        len >= (self.max_messages / 2).max(1) || bytes >= (self.max_bytes / 2).max(1)
    }

    /// Whether it is above a quarter: a pause goes on.
    fn above_low_water(&self, len: usize, bytes: usize) -> bool {
        len > self.max_messages / 4 || bytes > self.max_bytes / 4
    }
}

impl From<&Limits> for MailboxLimits {
    fn from(l: &Limits) -> Self {
        MailboxLimits {
            max_messages: l.mailbox_max_messages.max(1),
            max_bytes: l.mailbox_max_bytes,
            max_age: l.mailbox_max_age,
        }
    }
}

struct Entry {
    msg: SharedIncoming,
    size: usize,
    at: Instant,
    /// The sequence number it is journaled under, if it is.
    seq: Option<u64>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Entry>,
    bytes: usize,
    /// Reader epoch that may pop (0 = nobody attached).
    owner: u64,
    waker: Option<Waker>,
    /// The owner failed to drain to a quarter within a pause: it paces
    /// nobody until it does.
    lagging: bool,
}

impl Inner {
    fn owner_online(&self) -> bool {
        self.owner != 0
    }
}

/// The answer to [`Mailbox::offer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued; with `pace`, the sender should pause ([`Mailbox::pace`]).
    Accepted {
        /// The owner is online, keeping up, and the mailbox is half full.
        pace: bool,
        /// Nobody reads the mailbox (its owner is offline).
        offline: bool,
    },
    /// Refused: it would exceed a bound. Nothing was queued or dropped.
    Full(Fullness),
}

/// How full a mailbox was when it refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fullness {
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
    pub(crate) max_messages: usize,
    pub(crate) max_bytes: usize,
    /// The owner is online and keeping up: room should come soon.
    pub(crate) draining: bool,
}

/// How a pause ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paced {
    /// The owner took the mailbox down to a quarter (or left, or the
    /// mailbox was not congested any more).
    Drained,
    /// The owner did not get there in time: it is lagging now.
    Lagging,
}

/// What a pop found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Popped {
    /// At least one message was moved out.
    Some,
    /// Empty; the waker was registered.
    Empty,
    /// Another reader owns the mailbox now.
    NotOwner,
}

/// One identity's queue of undelivered messages.
pub(crate) struct Mailbox {
    topic: String,
    limits: MailboxLimits,
    inner: Mutex<Inner>,
    /// Messages this mailbox refused because it was full.
    refusals: AtomicU64,
    /// Senders pausing until the queue drains to a quarter.
    space: Notify,
    space_waiters: AtomicUsize,
    /// Journals offline messages (`None` without a data directory).
    persist: Option<Arc<Persister>>,
}

fn size_of(msg: &SharedIncoming) -> usize {
    msg.payload.len() + msg.source_topic.len() + msg.workspace.len()
}

/// Unix ms at which an entry enqueued at `at` arrived (`now` is `unix_ms`
/// at `now_instant`).
fn enqueued_unix_ms(at: Instant, now_instant: Instant, now: u64) -> u64 {
    now.saturating_sub(now_instant.saturating_duration_since(at).as_millis() as u64)
}

impl Mailbox {
    fn new(topic: String, limits: MailboxLimits, persist: Option<Arc<Persister>>) -> Self {
        Mailbox {
            topic,
            limits,
            inner: Mutex::new(Inner::default()),
            refusals: AtomicU64::new(0),
            space: Notify::new(),
            space_waiters: AtomicUsize::new(0),
            persist,
        }
    }

    /// Records the deletion of a journaled entry that leaves the mailbox.
    fn forget(&self, e: &Entry, muts: &mut Vec<Mutation>) {
        if let Some(seq) = e.seq {
            muts.push(Persister::delete(&self.topic, seq));
        }
    }

    /// Journals every entry from the first unjournaled one on (renumbering
    /// journaled ones after it, so the stored order stays the queue order).
    fn journal_backlog(&self, inner: &mut Inner, muts: &mut Vec<Mutation>) {
        let Some(p) = &self.persist else {
            return;
        };
        let Some(first) = inner.queue.iter().position(|e| e.seq.is_none()) else {
            return;
        };
        let (now_instant, now) = (Instant::now(), unix_ms());
        for e in inner.queue.iter_mut().skip(first) {
            if let Some(old) = e.seq {
                muts.push(Persister::delete(&self.topic, old));
            }
            let seq = p.next_seq();
            let at = enqueued_unix_ms(e.at, now_instant, now);
            muts.push(Persister::put(&self.topic, seq, &e.msg, at));
            e.seq = Some(seq);
        }
    }

    /// Queues `muts` for the journal (call under the mailbox lock).
    fn submit(&self, muts: Vec<Mutation>) {
        if let Some(p) = &self.persist {
            p.submit(muts);
        }
    }

    /// Whether a sender should pause: the owner is online and keeping up,
    /// and the mailbox is at least half full.
    fn pace_needed(&self, inner: &Inner) -> bool {
        inner.owner_online()
            && !inner.lagging
            && self.limits.above_high_water(inner.queue.len(), inner.bytes)
    }

    /// Whether a pause goes on: the owner is online and keeping up, and the
    /// mailbox is above a quarter.
    fn pause_goes_on(&self, inner: &Inner) -> bool {
        inner.owner_online()
            && !inner.lagging
            && self.limits.above_low_water(inner.queue.len(), inner.bytes)
    }

    /// Pauses until the owner has taken the mailbox down to a quarter (or
    /// left), at most `max`; when it did not get there in time it is marked
    /// lagging and paces nobody until it does.
    pub(crate) async fn pace(&self, max: Duration) -> Paced {
        let deadline = tokio::time::Instant::now() + max;
        self.space_waiters.fetch_add(1, Relaxed);
        let outcome = loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.pause_goes_on(&self.inner.lock()) {
                break Paced::Drained;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let mut inner = self.inner.lock();
                if !self.pause_goes_on(&inner) {
                    break Paced::Drained;
                }
                inner.lagging = true;
                break Paced::Lagging;
            }
        };
        self.space_waiters.fetch_sub(1, Relaxed);
        if outcome == Paced::Lagging {
            tracing::warn!(
                topic = %self.topic,
                "receiver is not keeping up: its senders stop pausing for it, and messages \
                 beyond its mailbox bounds are refused"
            );
        }
        outcome
    }

    fn release_space(&self) {
        if self.space_waiters.load(Relaxed) > 0 {
            self.space.notify_waiters();
        }
    }

    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().queue.len()
    }

    /// Bytes waiting (payloads, source topics and workspaces).
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// Messages refused because the mailbox was full.
    pub(crate) fn refusals(&self) -> u64 {
        self.refusals.load(Relaxed)
    }

    fn expire(&self, inner: &mut Inner, now: Instant, muts: &mut Vec<Mutation>) -> u64 {
        let mut n = 0;
        while let Some(front) = inner.queue.front() {
            if now.saturating_duration_since(front.at) <= self.limits.max_age {
                break;
            }
            if let Some(e) = inner.queue.pop_front() {
                inner.bytes -= e.size;
                self.forget(&e, muts);
                n += 1;
            }
        }
        n
    }

    /// Queues `msg` unless it would exceed a bound; a full mailbox refuses
    /// it and drops nothing.
    pub(crate) fn offer(&self, msg: SharedIncoming, stats: &Stats) -> Offer {
        let size = size_of(&msg);
        let now = Instant::now();
        let (expired, offer, waker) = {
            let mut muts = Vec::new();
            let mut inner = self.inner.lock();
            let offline = !inner.owner_online();
            let expired = self.expire(&mut inner, now, &mut muts);
            if inner.queue.len() >= self.limits.max_messages
                || inner.bytes.saturating_add(size) > self.limits.max_bytes
            {
                self.submit(muts);
                let full = Fullness {
                    messages: inner.queue.len(),
                    bytes: inner.bytes,
                    max_messages: self.limits.max_messages,
                    max_bytes: self.limits.max_bytes,
                    draining: inner.owner_online() && !inner.lagging,
                };
                (expired, Offer::Full(full), None)
            } else {
                // The owner is offline: the message waits, durably.
                let seq = match &self.persist {
                    Some(p) if !inner.owner_online() => {
                        let seq = p.next_seq();
                        muts.push(Persister::put(&self.topic, seq, &msg, unix_ms()));
                        Some(seq)
                    }
                    _ => None,
                };
                inner.bytes += size;
                inner.queue.push_back(Entry {
                    msg,
                    size,
                    at: now,
                    seq,
                });
                self.submit(muts);
                let pace = self.pace_needed(&inner);
                (
                    expired,
                    Offer::Accepted { pace, offline },
                    inner.waker.take(),
                )
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        if expired > 0 {
            self.count_expired(expired, stats);
        }
        if let Offer::Full(_) = &offer {
            let before = self.refusals.fetch_add(1, Relaxed);
            // Log the first refusal, then once per 1024, so a flood does
            // not turn into a flood of log lines (each sender is told).
            if before.is_multiple_of(1024) {
                tracing::warn!(
                    topic = %self.topic,
                    refused_total = before + 1,
                    "mailbox full: refusing new messages"
                );
            }
        }
        offer
    }

    fn count_expired(&self, n: u64, stats: &Stats) {
        let before = stats.mailbox_expired.fetch_add(n, Relaxed);
        if before / 1024 != (before + n) / 1024 || before == 0 {
            tracing::warn!(
                topic = %self.topic,
                expired = n,
                max_age = ?self.limits.max_age,
                "messages outlived the mailbox age bound and were removed"
            );
        }
    }

    /// Makes `epoch` the only reader allowed to pop.
    pub(crate) fn attach(&self, epoch: u64) {
        let mut inner = self.inner.lock();
        inner.owner = epoch;
        inner.waker = None;
        // A new reader gets a fresh chance to pace its senders.
        inner.lagging = false;
    }

    /// Releases the mailbox if `epoch` still owns it; what is left in it
    /// is journaled.
    pub(crate) fn detach(&self, epoch: u64) {
        {
            let mut inner = self.inner.lock();
            if inner.owner == epoch {
                inner.owner = 0;
                inner.waker = None;
                let mut muts = Vec::new();
                self.journal_backlog(&mut inner, &mut muts);
                self.submit(muts);
            }
        }
        // Nobody reads any more: senders stop waiting.
        self.release_space();
    }

    /// Moves up to `max` messages and about `max_bytes` bytes (at least one
    /// message) into `out`, or registers `waker` when empty.
    pub(crate) fn pop_into(
        &self,
        epoch: u64,
        out: &mut VecDeque<SharedIncoming>,
        max: usize,
        max_bytes: usize,
        waker: &Waker,
        stats: &Stats,
    ) -> Popped {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        if inner.owner != epoch {
            return Popped::NotOwner;
        }
        let mut muts = Vec::new();
        let expired = self.expire(inner, Instant::now(), &mut muts);
        if expired > 0 {
            self.count_expired(expired, stats);
        }
        if inner.queue.is_empty() {
            self.submit(muts);
            match &inner.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => inner.waker = Some(waker.clone()),
            }
            return Popped::Empty;
        }
        let mut n = 0;
        let mut bytes = 0usize;
        for e in inner.queue.iter().take(max) {
            if n > 0 && bytes + e.size > max_bytes {
                break;
            }
            bytes += e.size;
            n += 1;
        }
        for e in inner.queue.drain(..n) {
            inner.bytes -= e.size;
            // Handed to the owner's stream: no longer waiting.
            if let Some(seq) = e.seq {
                muts.push(Persister::delete(&self.topic, seq));
            }
            out.push_back(e.msg);
        }
        self.submit(muts);
        let drained = !self.limits.above_low_water(inner.queue.len(), inner.bytes);
        if drained {
            // Caught up: it paces its senders again.
            inner.lagging = false;
        }
        drop(guard);
        if drained {
            self.release_space();
        }
        Popped::Some
    }

    /// Puts messages that were popped but never sent back at the front, in
    /// their original order.
    pub(crate) fn unpop(&self, msgs: &mut VecDeque<SharedIncoming>) {
        if msgs.is_empty() {
            return;
        }
        let now = Instant::now();
        let waker = {
            let mut inner = self.inner.lock();
            while let Some(msg) = msgs.pop_back() {
                let size = size_of(&msg);
                inner.bytes += size;
                inner.queue.push_front(Entry {
                    msg,
                    size,
                    at: now,
                    seq: None,
                });
            }
            if inner.owner == 0 {
                let mut muts = Vec::new();
                self.journal_backlog(&mut inner, &mut muts);
                self.submit(muts);
            }
            inner.waker.take()
        };
        // A new owner may be parked on an empty mailbox.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Every mailbox, by topic.
pub(crate) struct MailboxStore {
    limits: MailboxLimits,
    map: RwLock<HashMap<String, Arc<Mailbox>>>,
    persist: Option<Arc<Persister>>,
    /// Bumped whenever a mailbox leaves the map: until it changes, a
    /// mailbox looked up earlier is still the one of its topic
    /// ([`RecentMailbox`]).
    generation: AtomicU64,
}

/// A sender's last target mailbox, so that a run of sends to one target
/// looks it up once, not once per message (a lock, a hash of the topic).
/// It is used only while no mailbox has left the store since the lookup:
/// mailboxes are only ever added to the map when absent, so until one is
/// removed, a topic's entry does not change.
#[derive(Default)]
pub(crate) struct RecentMailbox(Option<(u64, Arc<Mailbox>)>);

impl RecentMailbox {
    /// The mailbox of `topic`, if it exists: the last one, when it still
    /// is, else from `store`.
    pub(crate) fn get(&mut self, store: &MailboxStore, topic: &str) -> Option<&Arc<Mailbox>> {
        // Read before the lookup: a removal after it makes this stale.
        let generation = store.generation.load(Ordering::Acquire);
        let fresh = matches!(&self.0, Some((g, mb)) if *g == generation && mb.topic == topic);
        if !fresh {
            self.0 = store.get(topic).map(|mb| (generation, mb));
        }
        self.0.as_ref().map(|(_, mb)| mb)
    }
}

impl MailboxStore {
    /// An empty, memory-only store whose mailboxes use `limits`.
    pub(crate) fn new(limits: MailboxLimits) -> Self {
        MailboxStore {
            limits,
            map: RwLock::new(HashMap::new()),
            persist: None,
            generation: AtomicU64::new(0),
        }
    }

    /// The mailboxes journaled in `store` (none when it is memory-only);
    /// messages older than the age bound are dropped. A mailbox above its
    /// bounds (they were lowered) keeps everything and refuses new
    /// messages until it drains.
    pub(crate) fn restore(limits: MailboxLimits, store: &Store) -> Result<Self, StoreError> {
        if !store.is_durable() {
            return Ok(MailboxStore::new(limits));
        }
        let rows = persist::load(store)?;
        let last_seq = rows.iter().map(|r| r.seq).max().unwrap_or(0);
        let mut mailboxes = MailboxStore::new(limits);
        mailboxes.persist = Some(Arc::new(Persister::new(store.clone(), last_seq)));
        let (now_instant, now) = (Instant::now(), unix_ms());
        let mut muts = Vec::new();
        let mut kept = 0usize;
        for r in rows {
            let age = Duration::from_millis(now.saturating_sub(r.enqueued_unix_ms));
            if age > limits.max_age {
                muts.push(Persister::delete(&r.topic, r.seq));
                continue;
            }
            let mb = mailboxes.get_or_create(&r.topic);
            let mut inner = mb.inner.lock();
            let size = size_of(&r.msg);
            inner.bytes += size;
            inner.queue.push_back(Entry {
                msg: r.msg,
                size,
                at: now_instant.checked_sub(age).unwrap_or(now_instant),
                seq: Some(r.seq),
            });
            kept += 1;
        }
        if let Some(p) = &mailboxes.persist {
            p.submit(muts);
        }
        if kept > 0 {
            tracing::info!(
                messages = kept,
                "restored messages waiting for offline identities"
            );
        }
        Ok(mailboxes)
    }

    /// The mailbox of `topic`, if it exists.
    pub(crate) fn get(&self, topic: &str) -> Option<Arc<Mailbox>> {
        self.map.read().get(topic).cloned()
    }

    /// The mailbox of `topic`, created on first use.
    pub(crate) fn get_or_create(&self, topic: &str) -> Arc<Mailbox> {
        if let Some(m) = self.get(topic) {
            return m;
        }
        self.map
            .write()
            .entry(topic.to_string())
            .or_insert_with(|| {
                Arc::new(Mailbox::new(
                    topic.to_string(),
                    self.limits,
                    self.persist.clone(),
                ))
            })
            .clone()
    }

    /// Forgets the mailbox of `topic` if it holds nothing.
    pub(crate) fn remove_if_empty(&self, topic: &str) {
        let mut map = self.map.write();
        if map.get(topic).is_some_and(|m| m.len() == 0) {
            map.remove(topic);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// How many mailboxes exist.
    pub(crate) fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Every mailbox (for gauges).
    pub(crate) fn all(&self) -> Vec<Arc<Mailbox>> {
        self.map.read().values().cloned().collect()
    }

    /// Forgets every mailbox that is empty, has no owner and is held by
    /// nothing but this store: nobody can be about to push to it (a sender
    /// holds its `Arc` while it pushes) or to attach to it (a session
    /// holds it from its handshake on), and it is created again on use.
    pub(crate) fn reclaim(&self) {
        let mut map = self.map.write();
        let before = map.len();
        map.retain(|_, mb| {
            if Arc::strong_count(mb) > 1 {
                return true;
            }
            let inner = mb.inner.lock();
            !inner.queue.is_empty() || inner.owner_online()
        });
        if map.len() < before {
            self.generation.fetch_add(1, Ordering::Release);
        }
        if map.capacity() > 64 && map.len() < map.capacity() / 4 {
            map.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(n: u8) -> SharedIncoming {
        SharedIncoming {
            payload: Bytes::from(vec![n]),
            ..Default::default()
        }
    }

    fn limits(max_messages: usize, max_bytes: usize) -> MailboxLimits {
        MailboxLimits {
            max_messages,
            max_bytes,
            max_age: Duration::from_secs(60),
        }
    }

    fn drain(m: &Mailbox, stats: &Stats) -> Vec<u8> {
        let mut out = VecDeque::new();
        let waker = futures_util::task::noop_waker();
        m.attach(1);
        let _ = m.pop_into(1, &mut out, usize::MAX, usize::MAX, &waker, stats);
        out.iter().map(|m| m.payload[0]).collect()
    }

    fn accepted(o: Offer) -> bool {
        matches!(o, Offer::Accepted { .. })
    }

    #[test]
    fn a_full_mailbox_refuses_the_newest_and_drops_nothing() {
        let stats = Stats::default();
        let m = Mailbox::new("ag::w::i::s".into(), limits(3, usize::MAX), None);
        let offers: Vec<bool> = (0..5).map(|i| accepted(m.offer(msg(i), &stats))).collect();
        assert_eq!(offers, vec![true, true, true, false, false]);
        assert_eq!(m.refusals(), 2);
        assert_eq!(drain(&m, &stats), vec![0, 1, 2]);
        // Room again.
        assert!(accepted(m.offer(msg(9), &stats)));
    }

    #[test]
    fn the_byte_bound_refuses_too() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(100, 2), None);
        let offers: Vec<bool> = (0..4).map(|i| accepted(m.offer(msg(i), &stats))).collect();
        assert_eq!(offers, vec![true, true, false, false]);
        match m.offer(msg(5), &stats) {
            Offer::Full(f) => {
                assert_eq!((f.messages, f.bytes, f.max_bytes), (2, 2, 2));
                assert!(!f.draining, "nobody reads it");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(drain(&m, &stats), vec![0, 1]);
    }

    #[test]
    fn senders_pace_only_for_a_live_owner_above_half() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(8, usize::MAX), None);
        let pace = |o: Offer| matches!(o, Offer::Accepted { pace: true, .. });
        // Offline: never.
        assert!(!(0..6).any(|i| pace(m.offer(msg(i), &stats))));
        assert_eq!(drain(&m, &stats).len(), 6);
        // Online (drain attached epoch 1): from half full on.
        let paced: Vec<bool> = (0..5).map(|i| pace(m.offer(msg(i), &stats))).collect();
        assert_eq!(paced, vec![false, false, false, true, true]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_ends_when_the_owner_drains_to_a_quarter() {
        let stats = Arc::new(Stats::default());
        let m = Arc::new(Mailbox::new("t".into(), limits(8, usize::MAX), None));
        m.attach(1);
        for i in 0..5 {
            m.offer(msg(i), &stats);
        }
        let reader = {
            let (m, stats) = (m.clone(), stats.clone());
            tokio::spawn(async move {
                let waker = futures_util::task::noop_waker();
                let mut out = VecDeque::new();
                // Three down leaves two: a quarter of eight.
                m.pop_into(1, &mut out, 3, usize::MAX, &waker, &stats);
                out.len()
            })
        };
        assert_eq!(m.pace(Duration::from_secs(3600)).await, Paced::Drained);
        assert_eq!(reader.await.unwrap(), 3);
        assert_eq!(m.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_owner_that_does_not_drain_in_time_is_lagging_until_it_catches_up() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(8, usize::MAX), None);
        m.attach(1);
        for i in 0..4 {
            m.offer(msg(i), &stats);
        }
        assert_eq!(m.pace(Duration::from_millis(50)).await, Paced::Lagging);
        // Lagging: no more pauses, and the rest of the room is used.
        for i in 4..8 {
            assert_eq!(
                m.offer(msg(i), &stats),
                Offer::Accepted {
                    pace: false,
                    offline: false
                }
            );
        }
        assert!(matches!(m.offer(msg(8), &stats), Offer::Full(f) if !f.draining));
        // Caught up to a quarter: pacing again.
        let waker = futures_util::task::noop_waker();
        let mut out = VecDeque::new();
        m.pop_into(1, &mut out, 6, usize::MAX, &waker, &stats);
        for i in 0..2 {
            m.offer(msg(i), &stats);
        }
        assert_eq!(
            m.offer(msg(9), &stats),
            Offer::Accepted {
                pace: true,
                offline: false
            }
        );
    }

    #[test]
    fn a_pop_takes_at_most_its_bytes_but_always_one() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(10, usize::MAX), None);
        for i in 0..4 {
            m.offer(msg(i), &stats);
        }
        m.attach(1);
        let waker = futures_util::task::noop_waker();
        let mut out = VecDeque::new();
        m.pop_into(1, &mut out, 10, 2, &waker, &stats);
        assert_eq!(out.len(), 2);
        m.pop_into(1, &mut out, 10, 0, &waker, &stats);
        assert_eq!(out.len(), 3, "one even over the byte budget");
    }

    #[test]
    fn only_the_owner_pops_and_unpop_restores_order() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(10, usize::MAX), None);
        for i in 0..4 {
            m.offer(msg(i), &stats);
        }
        let waker = futures_util::task::noop_waker();
        let mut out = VecDeque::new();
        assert_eq!(
            m.pop_into(7, &mut out, 2, usize::MAX, &waker, &stats),
            Popped::NotOwner
        );
        m.attach(7);
        assert_eq!(
            m.pop_into(7, &mut out, 2, usize::MAX, &waker, &stats),
            Popped::Some
        );
        m.unpop(&mut out);
        assert_eq!(drain(&m, &stats), vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn offline_messages_are_journaled_and_restored_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Stats::default();
        let lim = limits(10, usize::MAX);
        let waker = futures_util::task::noop_waker();
        let store = Store::open(dir.path()).unwrap();
        {
            let boxes = MailboxStore::restore(lim, &store).unwrap();
            let mb = boxes.get_or_create("ag::w::i::s");
            for i in 0..3 {
                mb.offer(msg(i), &stats);
            }
            mb.attach(1);
            let mut out = VecDeque::new();
            assert_eq!(
                mb.pop_into(1, &mut out, 2, usize::MAX, &waker, &stats),
                Popped::Some
            );
            mb.offer(msg(3), &stats);
            // Only the first reached the wire; the second goes back.
            out.pop_front();
            mb.unpop(&mut out);
            mb.detach(1);
        }
        store.close();
        let store = Store::open(dir.path()).unwrap();
        {
            let boxes = MailboxStore::restore(lim, &store).unwrap();
            let mb = boxes.get("ag::w::i::s").unwrap();
            assert_eq!(drain(&mb, &stats), vec![1, 2, 3]);
            // Handed over: gone from the journal; new ones continue the sequence.
            mb.detach(1);
            mb.offer(msg(4), &stats);
        }
        store.close();
        let store = Store::open(dir.path()).unwrap();
        let boxes = MailboxStore::restore(lim, &store).unwrap();
        let mb = boxes.get("ag::w::i::s").unwrap();
        assert_eq!(drain(&mb, &stats), vec![4]);
        store.close();
    }

    #[tokio::test]
    async fn restoring_respects_the_age_bound() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Stats::default();
        let store = Store::open(dir.path()).unwrap();
        let boxes = MailboxStore::restore(limits(10, usize::MAX), &store).unwrap();
        boxes.get_or_create("t").offer(msg(1), &stats);
        drop(boxes);
        store.close();
        let store = Store::open(dir.path()).unwrap();
        let zero_age = MailboxLimits {
            max_age: Duration::ZERO,
            ..limits(10, usize::MAX)
        };
        std::thread::sleep(Duration::from_millis(2));
        let boxes = MailboxStore::restore(zero_age, &store).unwrap();
        assert!(boxes.get("t").is_none());
        store.close();
        let store = Store::open(dir.path()).unwrap();
        assert!(
            store
                .load(crate::store::Table::Mailboxes)
                .unwrap()
                .is_empty()
        );
        store.close();
    }

    #[test]
    fn old_messages_expire() {
        let stats = Stats::default();
        let m = Mailbox::new(
            "t".into(),
            MailboxLimits {
                max_messages: 10,
                max_bytes: usize::MAX,
                max_age: Duration::ZERO,
            },
            None,
        );
        m.offer(msg(1), &stats);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(drain(&m, &stats), Vec::<u8>::new());
        assert_eq!(stats.snapshot().mailbox_expired, 1);
    }

    #[test]
    fn the_recent_mailbox_is_the_stores_until_one_leaves_it() {
        let store = MailboxStore::new(limits(10, 1 << 20));
        let mut recent = RecentMailbox::default();
        assert!(recent.get(&store, "t").is_none(), "no mailbox yet");
        let first = store.get_or_create("t");
        let got = recent.get(&store, "t").cloned().expect("found");
        assert!(Arc::ptr_eq(&got, &first));
        // Another topic is looked up, not mistaken for the last one.
        let other = store.get_or_create("u");
        assert!(Arc::ptr_eq(recent.get(&store, "u").expect("found"), &other));
        assert!(Arc::ptr_eq(recent.get(&store, "t").expect("found"), &first));
        // The mailbox leaves the store and a new one takes its topic: the
        // recent one is not used any more.
        drop(got);
        store.remove_if_empty("t");
        let second = store.get_or_create("t");
        let now = recent.get(&store, "t").expect("found");
        assert!(Arc::ptr_eq(now, &second) && !Arc::ptr_eq(now, &first));
    }

    #[test]
    fn a_recent_mailbox_is_not_reclaimed_while_a_sender_holds_it() {
        let store = MailboxStore::new(limits(10, 1 << 20));
        let mut recent = RecentMailbox::default();
        drop(store.get_or_create("t"));
        assert!(recent.get(&store, "t").is_some());
        store.reclaim();
        assert_eq!(store.len(), 1, "held by the sender");
        // The sender moves on: the empty, ownerless mailbox goes.
        drop(store.get_or_create("u"));
        assert!(recent.get(&store, "u").is_some());
        store.reclaim();
        assert!(store.get("t").is_none());
        assert!(store.get("u").is_some());
    }
}
