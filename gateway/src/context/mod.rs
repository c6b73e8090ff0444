//! The shared context every domain reads: configuration, counters,
//! mailboxes, the authorization engine, and the directory of live sessions (identity lock, resume
//! lineage, broadcast lanes, service instances), with the fan-out of
//! progress updates to the sessions that receive them.
//!
//! It knows nothing of KV, checkpoints, tasks or the agent registry; the
//! domains that need live sessions get a [`Context`] (the tasks component
//! keeps an `Arc` of it), and the hub above them holds it next to them.
//!
//! It also holds the audit log, so any domain can record what it did:
//! `cx.audit.record(AuditEvent::new(..).by(handle.actor()))`.
//!
//! Locks are never held across an await. Lock order: the task lock (taken
//! by the tasks component, which may then consult the directory), then the
//! directory, then a mailbox; never the other way round.

pub(crate) mod handle;
pub(crate) mod progress;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether_protocol::identity::Principal;
use aether_protocol::proto::{Signal, signal::SignalType};
use parking_lot::RwLock;
use tonic::Status;

use crate::audit::Audit;
use crate::authz::Authz;
use crate::clock::Clock;
use crate::config::GatewayConfig;
use crate::credential::Credential;
use crate::mailbox::{Mailbox, MailboxStore};
use crate::stats::Stats;
use handle::SessionHandle;

/// Resume bookkeeping of one identity, kept for the resume window after
/// its last session ends.
#[derive(Debug, Clone)]
struct Lineage {
    last_session_id: String,
    /// What the last session authenticated with.
    credential: Credential,
    reconnection_count: i32,
    initial_connection_unix_ms: i64,
    /// When its last session ended (`None` while one is live).
    departed: Option<Instant>,
}

/// Most departed identities whose lineage is remembered; the oldest
/// departures are forgotten first.
const MAX_DEPARTED: usize = 10_000;

/// How many entries the tables keyed by identity (or by what identities
/// bring) hold: a diagnostic of what departed identities leave behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentityTables {
    /// Live sessions (by session id).
    pub sessions: usize,
    /// Identities holding a live session.
    pub connected: usize,
    /// Identities whose resume lineage is remembered (live, or departed
    /// within [`Limits::resume_window`](crate::Limits::resume_window)).
    pub lineages: usize,
    /// Broadcast lanes with at least one subscriber.
    pub lanes: usize,
    /// Service implementations with a connected instance.
    pub services: usize,
    /// Mailboxes (one per identity topic that holds messages, is owned
    /// by a live session or is in use).
    pub mailboxes: usize,
}

/// The outcome of admitting a session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    pub(crate) resumed: bool,
    pub(crate) reconnection_count: i32,
    pub(crate) initial_connection_unix_ms: i64,
}

/// The live sessions, by session id and by identity.
#[derive(Default)]
struct Directory {
    by_id: HashMap<String, Arc<SessionHandle>>,
    by_identity: HashMap<String, Arc<SessionHandle>>,
    lineage: HashMap<String, Lineage>,
    /// Departed identities, oldest first, with their departure time (an
    /// entry is stale when the lineage was renewed since).
    departed: VecDeque<(String, Instant)>,
    /// Broadcast lane topic -> subscribed sessions.
    lanes: HashMap<String, Vec<Arc<SessionHandle>>>,
    /// Service implementation -> connected instance topics.
    services: HashMap<String, Vec<String>>,
}

impl Directory {
    fn subscribe(&mut self, handle: &Arc<SessionHandle>, lane: String) {
        let subs = self.lanes.entry(lane.clone()).or_default();
        if !subs.iter().any(|s| s.session_id == handle.session_id) {
            subs.push(handle.clone());
        }
        handle.lanes.lock().push(lane);
    }

    fn unsubscribe(&mut self, handle: &SessionHandle, lane: &str) {
        if let Some(subs) = self.lanes.get_mut(lane) {
            subs.retain(|s| s.session_id != handle.session_id);
            if subs.is_empty() {
                self.lanes.remove(lane);
            }
        }
        handle.lanes.lock().retain(|l| l != lane);
    }

    /// Removes every trace of `handle` that still belongs to it; when it
    /// held its identity, the identity's lineage starts its resume window
    /// (or is forgotten at once with a zero window).
    fn remove(&mut self, handle: &SessionHandle, resume_window: Duration) -> bool {
        let present = self.by_id.remove(&handle.session_id).is_some();
        if self
            .by_identity
            .get(&handle.identity)
            .is_some_and(|h| h.session_id == handle.session_id)
        {
            self.by_identity.remove(&handle.identity);
            self.depart(&handle.identity, resume_window);
        }
        let lanes = std::mem::take(&mut *handle.lanes.lock());
        for lane in &lanes {
            self.unsubscribe(handle, lane);
        }
        if let (Principal::Service { implementation, .. }, Some(topic)) =
            (&handle.principal, &handle.topic)
            && let Some(list) = self.services.get_mut(implementation.as_str())
        {
            list.retain(|t| t != topic);
            if list.is_empty() {
                self.services.remove(implementation.as_str());
            }
        }
        present
    }
}

impl Directory {
    /// `identity` has no live session any more.
    fn depart(&mut self, identity: &str, resume_window: Duration) {
        if resume_window.is_zero() {
            self.lineage.remove(identity);
            return;
        }
        let now = Instant::now();
        if let Some(l) = self.lineage.get_mut(identity) {
            l.departed = Some(now);
            self.departed.push_back((identity.to_string(), now));
        }
        while self.departed.len() > MAX_DEPARTED {
            self.forget_oldest();
        }
    }

    /// Forgets the oldest departure, if its lineage was not renewed since.
    fn forget_oldest(&mut self) {
        if let Some((identity, at)) = self.departed.pop_front()
            && self
                .lineage
                .get(&identity)
                .is_some_and(|l| l.departed == Some(at))
        {
            self.lineage.remove(&identity);
        }
    }

    /// Forgets lineages whose resume window ended.
    fn expire_lineages(&mut self, resume_window: Duration, now: Instant) {
        while self
            .departed
            .front()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) >= resume_window)
        {
            self.forget_oldest();
        }
        // Departure entries renewed long ago would otherwise pile up.
        if self.departed.capacity() > 64 && self.departed.len() < self.departed.capacity() / 4 {
            self.departed.shrink_to_fit();
        }
    }
}

/// Broadcast lanes a principal joins at connect (§2.2, live-only lanes).
fn initial_lanes(principal: &Principal) -> Vec<String> {
    match principal {
        Principal::Agent { workspace, .. } => vec![format!("ga::{workspace}")],
        Principal::Task {
            workspace,
            implementation,
            unique_specifier: None,
        } => vec![format!("tb::{workspace}::{implementation}")],
        Principal::User { user_id, .. } => vec![format!("uu::{user_id}")],
        _ => Vec::new(),
    }
}

/// Lanes a user window on `workspace` joins.
fn workspace_lanes(user_id: &str, workspace: &str) -> [String; 2] {
    [
        format!("gu::{workspace}"),
        format!("uw::{user_id}::{workspace}"),
    ]
}

/// What every domain shares: configuration, counters, mailboxes, the
/// authorization engine and the live sessions.
pub(crate) struct Context {
    pub(crate) config: GatewayConfig,
    /// Who may do what.
    pub(crate) authz: Arc<Authz>,
    /// Task timestamps and timers.
    pub(crate) clock: Clock,
    pub(crate) stats: Arc<Stats>,
    pub(crate) mailboxes: MailboxStore,
    /// The audit log (§6.8).
    pub(crate) audit: Audit,
    /// Per-identity rate limits, when configured.
    pub(crate) identity_rates: Option<crate::identity_rate::IdentityRates>,
    directory: RwLock<Directory>,
    closing: AtomicBool,
    rng: AtomicU64,
}

impl Context {
    /// A context for `config` with the (restored) `mailboxes`, `audit`
    /// log and authorization engine, fresh counters, and no session yet.
    pub(crate) fn new(
        config: GatewayConfig,
        mailboxes: MailboxStore,
        audit: Audit,
        authz: Arc<Authz>,
    ) -> Self {
        let seed = {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(0u64) | 1
        };
        Context {
            identity_rates: config
                .limits
                .identity_rate
                .map(crate::identity_rate::IdentityRates::new),
            config,
            authz,
            clock: Clock::new(),
            stats: Arc::new(Stats::default()),
            mailboxes,
            audit,
            directory: RwLock::new(Directory::default()),
            closing: AtomicBool::new(false),
            rng: AtomicU64::new(seed),
        }
    }

    /// A pseudo-random number (xorshift; good enough to pick an instance).
    fn random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }

    /// Takes the identity lock for `handle` (§1.6), registers it and joins
    /// its initial lanes.
    ///
    /// A live identity is taken over only by a resume that names its
    /// session id **and** holds the credential that session authenticated
    /// with (the same API token, certificate, task, the admin key; in dev
    /// mode two credential-less sessions count as the same holder): a
    /// session id alone proves nothing, since session administration lists
    /// them. Any other claim on a live identity is `ALREADY_EXISTS`, with
    /// the same text whether or not the session id was right.
    pub(crate) fn admit(
        &self,
        handle: &Arc<SessionHandle>,
        resume_session_id: &str,
        now_ms: i64,
    ) -> Result<Admission, Status> {
        let mut dir = self.directory.write();
        if self.closing.load(Ordering::Acquire) {
            return Err(Status::unavailable("server shutting down"));
        }
        let lineage = dir.lineage.get(&handle.identity).cloned();
        // A zero resume window forgets an identity when it departs, so only
        // a live session's lineage can be resumed (a takeover).
        let resuming = !resume_session_id.is_empty()
            && lineage.as_ref().is_some_and(|l| {
                l.last_session_id == resume_session_id
                    && l.credential.same_holder(&handle.credential)
            });
        if let Some(live) = dir.by_identity.get(&handle.identity).cloned() {
            if resume_session_id.is_empty()
                || live.session_id != resume_session_id
                || !live.credential.same_holder(&handle.credential)
            {
                return Err(Status::already_exists(format!(
                    "DuplicateIdentityError: identity ({}) already connected",
                    handle.identity
                )));
            }
            if dir.remove(&live, self.config.limits.resume_window) {
                self.stats.sessions_active.fetch_sub(1, Ordering::Relaxed);
            }
            live.cancel_by_admin(None);
        }
        let admission = match lineage {
            Some(l) if resuming => Admission {
                resumed: true,
                reconnection_count: l.reconnection_count.saturating_add(1),
                initial_connection_unix_ms: l.initial_connection_unix_ms,
            },
            _ => Admission {
                resumed: false,
                reconnection_count: 0,
                initial_connection_unix_ms: now_ms,
            },
        };
        dir.lineage.insert(
            handle.identity.clone(),
            Lineage {
                last_session_id: handle.session_id.clone(),
                credential: handle.credential.clone(),
                reconnection_count: admission.reconnection_count,
                initial_connection_unix_ms: admission.initial_connection_unix_ms,
                departed: None,
            },
        );
        dir.by_id.insert(handle.session_id.clone(), handle.clone());
        dir.by_identity
            .insert(handle.identity.clone(), handle.clone());
        for lane in initial_lanes(&handle.principal) {
            dir.subscribe(handle, lane);
        }
        if let (Principal::Service { implementation, .. }, Some(topic)) =
            (&handle.principal, &handle.topic)
        {
            dir.services
                .entry(implementation.to_string())
                .or_default()
                .push(topic.clone());
        }
        Stats::bump(&self.stats.sessions_total);
        self.stats.sessions_active.fetch_add(1, Ordering::Relaxed);
        Ok(admission)
    }

    /// Unregisters a session that ended (idempotent).
    pub(crate) fn remove(&self, handle: &SessionHandle) {
        let present = {
            let mut dir = self.directory.write();
            let present = dir.remove(handle, self.config.limits.resume_window);
            if matches!(
                handle.principal,
                Principal::Task {
                    unique_specifier: None,
                    ..
                }
            ) {
                // A pooled task's identity is minted per connection and can
                // never be resumed or addressed again.
                dir.lineage.remove(&handle.identity);
            }
            present
        };
        if present {
            self.stats.sessions_active.fetch_sub(1, Ordering::Relaxed);
        }
        if matches!(
            handle.principal,
            Principal::Task {
                unique_specifier: None,
                ..
            }
        ) && let Some(topic) = &handle.topic
        {
            self.mailboxes.remove_if_empty(topic);
        }
    }

    /// Moves a user window to `workspace`: leaves the old `gu`/`uw` lanes
    /// and joins the new ones.
    pub(crate) fn switch_workspace(&self, handle: &Arc<SessionHandle>, workspace: &str) {
        let Some(user_id) = handle.user_id() else {
            return;
        };
        let mut dir = self.directory.write();
        let old = std::mem::replace(&mut *handle.workspace.lock(), workspace.to_string());
        if old == workspace {
            return;
        }
        if !old.is_empty() {
            for lane in workspace_lanes(user_id, &old) {
                dir.unsubscribe(handle, &lane);
            }
        }
        if !workspace.is_empty() && dir.by_id.contains_key(&handle.session_id) {
            for lane in workspace_lanes(user_id, workspace) {
                dir.subscribe(handle, lane);
            }
        }
    }

    /// Calls `f` with the mailbox of every session subscribed to `lane`;
    /// returns how many there were.
    pub(crate) fn for_each_subscriber(&self, lane: &str, mut f: impl FnMut(&Mailbox)) -> usize {
        let dir = self.directory.read();
        let Some(subs) = dir.lanes.get(lane) else {
            return 0;
        };
        let mut n = 0;
        for s in subs {
            if let Some(mb) = &s.mailbox {
                f(mb);
                n += 1;
            }
        }
        n
    }

    /// The topic of a randomly chosen connected instance of service `implementation`.
    pub(crate) fn pick_service(&self, implementation: &str) -> Option<String> {
        let dir = self.directory.read();
        let list = dir.services.get(implementation)?;
        if list.is_empty() {
            return None;
        }
        let i = (self.random() % list.len() as u64) as usize;
        list.get(i).cloned()
    }

    /// The live sessions of the connected instances of service
    /// `implementation`.
    pub(crate) fn service_instances(&self, implementation: &str) -> Vec<Arc<SessionHandle>> {
        let dir = self.directory.read();
        let Some(topics) = dir.services.get(implementation) else {
            return Vec::new();
        };
        topics
            .iter()
            .filter_map(|t| dir.by_identity.get(t).cloned())
            .collect()
    }

    /// The live session with this id.
    pub(crate) fn session(&self, session_id: &str) -> Option<Arc<SessionHandle>> {
        self.directory.read().by_id.get(session_id).cloned()
    }

    /// Every live session.
    pub(crate) fn sessions(&self) -> Vec<Arc<SessionHandle>> {
        self.directory.read().by_id.values().cloned().collect()
    }

    /// The live session holding `identity`.
    pub(crate) fn session_by_identity(&self, identity: &str) -> Option<Arc<SessionHandle>> {
        self.directory.read().by_identity.get(identity).cloned()
    }

    /// Whether `identity` holds a live session.
    pub(crate) fn is_connected(&self, identity: &str) -> bool {
        self.directory.read().by_identity.contains_key(identity)
    }

    /// Whether any window of user `user_id` is connected.
    pub(crate) fn user_connected(&self, user_id: &str) -> bool {
        let lane = format!("uu::{user_id}");
        self.directory
            .read()
            .lanes
            .get(&lane)
            .is_some_and(|s| !s.is_empty())
    }

    /// Refuses new sessions and ends every live one with
    /// `Signal{GRACEFUL_DISCONNECT, "server shutting down"}` then CANCELLED.
    pub(crate) fn shut_down_sessions(&self) {
        let sessions = {
            let dir = self.directory.write();
            self.closing.store(true, Ordering::Release);
            dir.by_id.values().cloned().collect::<Vec<_>>()
        };
        for s in sessions {
            s.cancel_by_admin(Some(Signal {
                r#type: SignalType::GracefulDisconnect as i32,
                reason: "server shutting down".to_string(),
            }));
        }
    }

    /// Forgets what departed identities left behind: lineages past their
    /// resume window, and mailboxes that are empty, unowned and unused.
    pub(crate) fn reclaim(&self) {
        self.directory
            .write()
            .expire_lineages(self.config.limits.resume_window, Instant::now());
        self.mailboxes.reclaim();
    }

    /// The sizes of the tables keyed by identity.
    pub(crate) fn identity_tables(&self) -> IdentityTables {
        let dir = self.directory.read();
        IdentityTables {
            sessions: dir.by_id.len(),
            connected: dir.by_identity.len(),
            lineages: dir.lineage.len(),
            lanes: dir.lanes.len(),
            services: dir.services.len(),
            mailboxes: self.mailboxes.len(),
        }
    }

    /// Whether the gateway is shutting down.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(dir: &mut Directory, identity: &str) {
        dir.lineage.insert(
            identity.to_string(),
            Lineage {
                last_session_id: format!("{identity}-session"),
                credential: crate::credential::Credential::Open,
                reconnection_count: 0,
                initial_connection_unix_ms: 0,
                departed: None,
            },
        );
    }

    #[test]
    fn a_departed_lineage_lasts_its_resume_window() {
        let window = Duration::from_secs(60);
        let mut dir = Directory::default();
        live(&mut dir, "a");
        live(&mut dir, "b");
        dir.depart("a", window);
        let start = Instant::now();
        dir.expire_lineages(window, start);
        assert!(dir.lineage.contains_key("a"), "within its window");
        // b departs later; a comes back (renewed) and departs again later.
        dir.depart("b", window);
        live(&mut dir, "a");
        dir.expire_lineages(window, start + window * 2);
        assert!(dir.lineage.contains_key("a"), "renewed: still live");
        assert!(!dir.lineage.contains_key("b"), "b's window ended");
        assert!(dir.departed.is_empty());
    }

    #[test]
    fn departures_are_capped_and_a_zero_window_forgets_at_once() {
        let window = Duration::from_secs(3600);
        let mut dir = Directory::default();
        for i in 0..MAX_DEPARTED + 5 {
            let id = format!("id-{i}");
            live(&mut dir, &id);
            dir.depart(&id, window);
        }
        assert_eq!(dir.lineage.len(), MAX_DEPARTED);
        assert!(!dir.lineage.contains_key("id-0"), "the oldest went first");
        live(&mut dir, "z");
        dir.depart("z", Duration::ZERO);
        assert!(!dir.lineage.contains_key("z"));
    }
}
