//! Per-identity mailboxes ("lite" semantics, §2.7).
//!
//! Every durable identity topic (`ag tu ta us sv br` and the two receiver
//! topics) has a mailbox that exists whether or not its owner is online.
//! A mailbox is bounded in messages, bytes and age; what overflows is
//! dropped oldest-first, counted and logged. A message leaves the mailbox
//! when it is handed to the owner's stream.
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
//! Backpressure: when the owner is online and its mailbox holds more than
//! half its message bound, [`Mailbox::congested`] is true and the sending
//! session waits ([`Mailbox::wait_for_space`], bounded by
//! `Limits::backpressure_wait`) before reading its next frame, so HTTP/2
//! flow control slows a fast sender down instead of the mailbox dropping
//! what an online, reading receiver has not consumed yet.

mod persist;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::task::Waker;
use std::time::{Duration, Instant};

use aether_protocol::proto::IncomingMessage;
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
    /// The length above which a sender to an online owner waits.
    fn high_water(&self) -> usize {
        (self.max_messages / 2).max(1)
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
    msg: IncomingMessage,
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
    /// Messages this mailbox dropped because it was full.
    overflow_drops: AtomicU64,
    /// Senders waiting for the queue to drain below the high-water mark.
    space: Notify,
    space_waiters: AtomicUsize,
    /// Journals offline messages (`None` without a data directory).
    persist: Option<Arc<Persister>>,
}

fn size_of(msg: &IncomingMessage) -> usize {
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
            overflow_drops: AtomicU64::new(0),
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

    /// Whether the owner is online and its backlog is above the high-water
    /// mark: a sender should wait before sending more.
    pub(crate) fn congested(&self) -> bool {
        let inner = self.inner.lock();
        inner.owner != 0 && inner.queue.len() >= self.limits.high_water()
    }

    /// Waits until the mailbox is no longer congested, at most `max`.
    pub(crate) async fn wait_for_space(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        self.space_waiters.fetch_add(1, Relaxed);
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.congested() {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        self.space_waiters.fetch_sub(1, Relaxed);
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

    /// Messages dropped because the mailbox was full.
    pub(crate) fn overflow_drops(&self) -> u64 {
        self.overflow_drops.load(Relaxed)
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

    /// Drops the oldest entries while a bound is exceeded; how many.
    fn enforce_bounds(&self, inner: &mut Inner, muts: &mut Vec<Mutation>) -> u64 {
        let mut dropped = 0u64;
        while inner.queue.len() > self.limits.max_messages
            || (inner.bytes > self.limits.max_bytes && !inner.queue.is_empty())
        {
            if let Some(e) = inner.queue.pop_front() {
                inner.bytes -= e.size;
                self.forget(&e, muts);
                dropped += 1;
            }
        }
        dropped
    }

    /// Appends `msg`, dropping the oldest messages if a bound is exceeded;
    /// returns whether nobody reads the mailbox (its owner is offline).
    pub(crate) fn push(&self, msg: IncomingMessage, stats: &Stats) -> bool {
        let size = size_of(&msg);
        let now = Instant::now();
        let (expired, dropped, waker, offline) = {
            let mut muts = Vec::new();
            let mut inner = self.inner.lock();
            let offline = inner.owner == 0;
            let expired = self.expire(&mut inner, now, &mut muts);
            // The owner is offline: the message waits, durably.
            let seq = match &self.persist {
                Some(p) if inner.owner == 0 => {
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
            let dropped = self.enforce_bounds(&mut inner, &mut muts);
            self.submit(muts);
            (expired, dropped, inner.waker.take(), offline)
        };
        if let Some(w) = waker {
            w.wake();
        }
        if expired > 0 {
            stats.mailbox_expired.fetch_add(expired, Relaxed);
        }
        if dropped > 0 {
            stats.mailbox_overflow_drops.fetch_add(dropped, Relaxed);
            let before = self.overflow_drops.fetch_add(dropped, Relaxed);
            let total = before + dropped;
            // Log the first drop, then once per 1024 drops, so a flood does
            // not turn into a flood of log lines.
            if before == 0 || before / 1024 != total / 1024 {
                tracing::warn!(
                    topic = %self.topic,
                    dropped_total = total,
                    "mailbox full: dropped the oldest message(s)"
                );
            }
        }
        offline
    }

    /// Makes `epoch` the only reader allowed to pop.
    pub(crate) fn attach(&self, epoch: u64) {
        let mut inner = self.inner.lock();
        inner.owner = epoch;
        inner.waker = None;
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

    /// Moves up to `max` messages into `out`, or registers `waker` when empty.
    pub(crate) fn pop_into(
        &self,
        epoch: u64,
        out: &mut VecDeque<IncomingMessage>,
        max: usize,
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
            stats.mailbox_expired.fetch_add(expired, Relaxed);
        }
        if inner.queue.is_empty() {
            self.submit(muts);
            match &inner.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => inner.waker = Some(waker.clone()),
            }
            return Popped::Empty;
        }
        let n = inner.queue.len().min(max);
        for e in inner.queue.drain(..n) {
            inner.bytes -= e.size;
            // Handed to the owner's stream: no longer waiting.
            if let Some(seq) = e.seq {
                muts.push(Persister::delete(&self.topic, seq));
            }
            out.push_back(e.msg);
        }
        self.submit(muts);
        let drained = inner.queue.len() < self.limits.high_water();
        drop(guard);
        if drained {
            self.release_space();
        }
        Popped::Some
    }

    /// Puts messages that were popped but never sent back at the front, in
    /// their original order.
    pub(crate) fn unpop(&self, msgs: &mut VecDeque<IncomingMessage>) {
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
}

impl MailboxStore {
    /// An empty, memory-only store whose mailboxes use `limits`.
    pub(crate) fn new(limits: MailboxLimits) -> Self {
        MailboxStore {
            limits,
            map: RwLock::new(HashMap::new()),
            persist: None,
        }
    }

    /// The mailboxes journaled in `store` (none when it is memory-only);
    /// messages older than the age bound are dropped, and every mailbox is
    /// trimmed to its bounds.
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
            mb.enforce_bounds(&mut inner, &mut muts);
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(n: u8) -> IncomingMessage {
        IncomingMessage {
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
        let _ = m.pop_into(1, &mut out, usize::MAX, &waker, stats);
        out.iter().map(|m| m.payload[0]).collect()
    }

    #[test]
    fn overflow_drops_oldest_and_counts() {
        let stats = Stats::default();
        let m = Mailbox::new("ag::w::i::s".into(), limits(3, usize::MAX), None);
        for i in 0..5 {
            m.push(msg(i), &stats);
        }
        assert_eq!(m.overflow_drops(), 2);
        assert_eq!(stats.snapshot().mailbox_overflow_drops, 2);
        assert_eq!(drain(&m, &stats), vec![2, 3, 4]);
    }

    #[test]
    fn byte_bound_drops_oldest() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(100, 2), None);
        for i in 0..4 {
            m.push(msg(i), &stats);
        }
        assert_eq!(drain(&m, &stats), vec![2, 3]);
    }

    #[test]
    fn only_the_owner_pops_and_unpop_restores_order() {
        let stats = Stats::default();
        let m = Mailbox::new("t".into(), limits(10, usize::MAX), None);
        for i in 0..4 {
            m.push(msg(i), &stats);
        }
        let waker = futures_util::task::noop_waker();
        let mut out = VecDeque::new();
        assert_eq!(m.pop_into(7, &mut out, 2, &waker, &stats), Popped::NotOwner);
        m.attach(7);
        assert_eq!(m.pop_into(7, &mut out, 2, &waker, &stats), Popped::Some);
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
                mb.push(msg(i), &stats);
            }
            mb.attach(1);
            let mut out = VecDeque::new();
            assert_eq!(mb.pop_into(1, &mut out, 2, &waker, &stats), Popped::Some);
            mb.push(msg(3), &stats);
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
            mb.push(msg(4), &stats);
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
        boxes.get_or_create("t").push(msg(1), &stats);
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
        m.push(msg(1), &stats);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(drain(&m, &stats), Vec::<u8>::new());
        assert_eq!(stats.snapshot().mailbox_expired, 1);
    }
}
