//! The pins (§8.1): every open HTTP request and tunnel — a *flow* — found
//! by the wire id the gateway minted for it (`_aether/wire/<uuid>`, the id
//! its target sees) or by its caller's own id (the `caller@original` pin,
//! kept per caller session), with the deadlines that end abandoned flows.
//!
//! A flow lives here exactly as long as its pins: removing it removes both
//! pins, its deadline, its place in the target's load and (tunnels) its
//! slot in the workspace quota, so nothing outlives it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::context::handle::SessionHandle;
use crate::stats::Stats;

use super::http::HttpState;
use super::tunnel::TunnelState;

/// A gateway-minted wire id.
pub(super) type Wire = Arc<str>;

/// Prefix of every wire id.
const WIRE_PREFIX: &str = "_aether/wire/";

/// A new wire id: `_aether/wire/<uuid v4>`, built in one allocation.
fn mint_wire_id() -> Wire {
    const LEN: usize = WIRE_PREFIX.len() + uuid::fmt::Hyphenated::LENGTH;
    let mut buf = [0u8; LEN];
    buf[..WIRE_PREFIX.len()].copy_from_slice(WIRE_PREFIX.as_bytes());
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut buf[WIRE_PREFIX.len()..]);
    // Both parts are ASCII.
    Wire::from(std::str::from_utf8(&buf).unwrap_or(WIRE_PREFIX))
}

/// The id space a caller's own id lives in (a caller may use the same id
/// for a request and a tunnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Http,
    Tunnel,
}

/// What a flow carries.
pub(super) enum Kind {
    Http(HttpState),
    Tunnel(TunnelState),
}

/// One open HTTP request or tunnel.
pub(super) struct Flow {
    /// The caller's own id for it.
    pub(super) original: String,
    pub(super) caller: Arc<SessionHandle>,
    pub(super) target: Arc<SessionHandle>,
    pub(super) kind: Kind,
    /// When it ends unless something extends it.
    pub(super) deadline: Instant,
    /// The deadline it is filed under in the index (at most `deadline`).
    indexed: Instant,
    /// Set when the gateway ends the flow on its own (expiry, peer loss, a
    /// protocol violation): frames of it still waiting for room are then
    /// dropped, since both ends have been told it is over.
    pub(super) aborted: Arc<AtomicBool>,
}

impl Flow {
    pub(super) fn family(&self) -> Family {
        match self.kind {
            Kind::Http(_) => Family::Http,
            Kind::Tunnel(_) => Family::Tunnel,
        }
    }

    /// Extends the deadline to at least `now + by`.
    pub(super) fn extend(&mut self, now: Instant, by: Duration) {
        self.deadline = self.deadline.max(now + by);
    }
}

/// A new flow, before it has a wire id.
pub(super) struct NewFlow {
    pub(super) original: String,
    pub(super) caller: Arc<SessionHandle>,
    pub(super) target: Arc<SessionHandle>,
    pub(super) kind: Kind,
    pub(super) ttl: Duration,
}

/// The pins of one session.
#[derive(Default)]
struct Pins {
    /// `caller@original` pins of the requests it called.
    http: HashMap<String, Wire>,
    /// `caller@original` pins of the tunnels it opened.
    tunnels: HashMap<String, Wire>,
    /// The flows it is the target of.
    serving: HashSet<Wire>,
}

impl Pins {
    fn ids(&self, family: Family) -> &HashMap<String, Wire> {
        match family {
            Family::Http => &self.http,
            Family::Tunnel => &self.tunnels,
        }
    }

    fn ids_mut(&mut self, family: Family) -> &mut HashMap<String, Wire> {
        match family {
            Family::Http => &mut self.http,
            Family::Tunnel => &mut self.tunnels,
        }
    }

    fn is_empty(&self) -> bool {
        self.http.is_empty() && self.tunnels.is_empty() && self.serving.is_empty()
    }
}

/// Every flow, its pins and deadlines.
#[derive(Default)]
pub(super) struct Table {
    flows: HashMap<Wire, Flow>,
    /// Session id -> its pins.
    sessions: HashMap<String, Pins>,
    deadlines: BTreeSet<(Instant, Wire)>,
    tunnels_per_workspace: HashMap<String, usize>,
    forward_pins: usize,
    http_flows: usize,
    /// Turns among equally loaded service instances.
    rotor: usize,
    /// When the timer will look at the deadlines next (`None` before it
    /// first has): a deadline filed later needs no wake-up.
    timer_at: Option<Instant>,
}

impl Table {
    /// Adds a flow; returns its wire id and whether its deadline comes
    /// before the timer's next look (the timer must be woken).
    pub(super) fn insert(&mut self, f: NewFlow, now: Instant) -> (Wire, bool) {
        let wire = mint_wire_id();
        let deadline = now + f.ttl;
        let family = match &f.kind {
            Kind::Http(_) => {
                self.http_flows += 1;
                Family::Http
            }
            Kind::Tunnel(t) => {
                *self
                    .tunnels_per_workspace
                    .entry(t.workspace.clone())
                    .or_default() += 1;
                Family::Tunnel
            }
        };
        self.pins_mut(&f.caller.session_id)
            .ids_mut(family)
            .insert(f.original.clone(), wire.clone());
        self.forward_pins += 1;
        self.pins_mut(&f.target.session_id)
            .serving
            .insert(wire.clone());
        self.deadlines.insert((deadline, wire.clone()));
        let earliest = self.timer_at.is_none_or(|at| deadline < at);
        if earliest {
            self.timer_at = Some(deadline);
        }
        self.flows.insert(
            wire.clone(),
            Flow {
                original: f.original,
                caller: f.caller,
                target: f.target,
                kind: f.kind,
                deadline,
                indexed: deadline,
                aborted: Arc::new(AtomicBool::new(false)),
            },
        );
        (wire, earliest)
    }

    fn pins_mut(&mut self, session_id: &str) -> &mut Pins {
        if !self.sessions.contains_key(session_id) {
            self.sessions
                .insert(session_id.to_string(), Pins::default());
        }
        self.sessions
            .get_mut(session_id)
            .expect("inserted just above")
    }

    /// The flow `session_id` called with its own id `id`.
    pub(super) fn by_caller(&self, session_id: &str, family: Family, id: &str) -> Option<Wire> {
        self.sessions.get(session_id)?.ids(family).get(id).cloned()
    }

    /// The flow with wire id `wire` if `session_id` is its target.
    pub(super) fn served_by(&self, session_id: &str, family: Family, wire: &str) -> Option<Wire> {
        let (w, f) = self.flows.get_key_value(wire)?;
        (f.family() == family && f.target.session_id == session_id).then(|| w.clone())
    }

    /// The flow `id` names for `session_id`: its own id for a flow it
    /// called, else the wire id of one it serves; with whether it is the
    /// caller.
    pub(super) fn resolve(
        &self,
        session_id: &str,
        family: Family,
        id: &str,
    ) -> Option<(Wire, bool)> {
        if let Some(w) = self.by_caller(session_id, family, id) {
            return Some((w, true));
        }
        self.served_by(session_id, family, id).map(|w| (w, false))
    }

    pub(super) fn get(&self, wire: &str) -> Option<&Flow> {
        self.flows.get(wire)
    }

    pub(super) fn get_mut(&mut self, wire: &str) -> Option<&mut Flow> {
        self.flows.get_mut(wire)
    }

    /// Removes a flow with every pin and index entry it has.
    pub(super) fn remove(&mut self, wire: &str) -> Option<Flow> {
        let (wire, flow) = self.flows.remove_entry(wire)?;
        self.deadlines.remove(&(flow.indexed, wire.clone()));
        let family = flow.family();
        if let Some(p) = self.sessions.get_mut(&flow.caller.session_id)
            && p.ids_mut(family).remove(&flow.original).is_some()
        {
            self.forward_pins -= 1;
        }
        if let Some(p) = self.sessions.get_mut(&flow.target.session_id) {
            p.serving.remove(&wire);
        }
        match &flow.kind {
            Kind::Http(_) => self.http_flows -= 1,
            Kind::Tunnel(t) => {
                if let Some(n) = self.tunnels_per_workspace.get_mut(&t.workspace) {
                    *n -= 1;
                    if *n == 0 {
                        self.tunnels_per_workspace.remove(&t.workspace);
                    }
                }
            }
        }
        Some(flow)
    }

    /// Forgets a session that ended, once its flows are removed (its pins
    /// stay, empty, while it lives: a session that makes request after
    /// request does not rebuild them each time).
    pub(super) fn forget_session(&mut self, session_id: &str) {
        if let Some(pins) = self.sessions.remove(session_id) {
            debug_assert!(
                pins.is_empty(),
                "a session's flows end before it is forgotten"
            );
        }
    }

    /// Sessions with pins kept.
    #[cfg(test)]
    pub(super) fn sessions_kept(&self) -> usize {
        self.sessions.len()
    }

    /// Flows `session_id` is the target of (its load).
    pub(super) fn load(&self, session_id: &str) -> usize {
        self.sessions.get(session_id).map_or(0, |p| p.serving.len())
    }

    /// Flows `session_id` has open as caller.
    pub(super) fn called_by(&self, session_id: &str) -> usize {
        self.sessions
            .get(session_id)
            .map_or(0, |p| p.http.len() + p.tunnels.len())
    }

    /// Live tunnels opened by callers in `workspace`.
    pub(super) fn tunnels_in(&self, workspace: &str) -> usize {
        self.tunnels_per_workspace
            .get(workspace)
            .copied()
            .unwrap_or(0)
    }

    /// Every flow `session_id` takes part in, as caller or target.
    pub(super) fn flows_of(&self, session_id: &str) -> Vec<Wire> {
        let Some(p) = self.sessions.get(session_id) else {
            return Vec::new();
        };
        let mut out: Vec<Wire> = p.serving.iter().cloned().collect();
        for w in p.http.values().chain(p.tunnels.values()) {
            if !p.serving.contains(w) {
                out.push(w.clone());
            }
        }
        out
    }

    /// Flows whose deadline has passed (still in the table).
    pub(super) fn expired(&mut self, now: Instant) -> Vec<Wire> {
        let mut out = Vec::new();
        while let Some((at, wire)) = self.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(flow) = self.flows.get_mut(&wire) else {
                continue;
            };
            if flow.deadline > at {
                // Extended since it was filed: file it again.
                flow.indexed = flow.deadline;
                self.deadlines.insert((flow.deadline, wire));
            } else {
                out.push(wire);
            }
        }
        out
    }

    /// The earliest deadline filed.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Notes when the timer looks next (it sleeps until then).
    pub(super) fn timer_set_for(&mut self, at: Instant) {
        self.timer_at = Some(at);
    }

    /// A number that changes at every call, to take turns.
    pub(super) fn turn(&mut self) -> usize {
        self.rotor = self.rotor.wrapping_add(1);
        self.rotor
    }

    /// Publishes the gauges.
    pub(super) fn publish(&self, stats: &Stats) {
        let flows = self.flows.len() as u64;
        let http = self.http_flows as u64;
        stats
            .proxy_pins
            .store(flows + self.forward_pins as u64, Relaxed);
        stats.proxy_requests_active.store(http, Relaxed);
        stats.tunnels_active.store(flows - http, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::identity::Principal;

    use crate::context::handle::NewSession;
    use crate::push::Pusher;

    fn session(spec: &str) -> Arc<SessionHandle> {
        let (tx, outlet, _stream) = crate::outbound::channel(
            crate::outbound::QueueLimits {
                reply_items: 1,
                reply_bytes: 1 << 20,
                push_items: 1,
                push_bytes: 1 << 20,
            },
            Arc::new(Stats::default()),
        );
        let principal = Principal::service("t", spec, false).unwrap();
        Arc::new(SessionHandle::new(NewSession {
            session_id: format!("s-{spec}"),
            identity: principal.identity_string(),
            topic: principal.topic_with(None),
            principal,
            admin: false,
            administrator: false,
            credential: crate::credential::Credential::Open,
            mailbox: None,
            outlet,
            pusher: Pusher::new(&tx),
            worker_task: None,
        }))
    }

    #[test]
    fn the_timer_is_woken_only_for_a_deadline_before_its_next_look() {
        let (caller, target) = (session("c"), session("t"));
        let mut t = Table::default();
        let now = Instant::now();
        let file = |t: &mut Table, id: &str, ttl: u64| {
            let flow = NewFlow {
                original: id.into(),
                caller: caller.clone(),
                target: target.clone(),
                kind: Kind::Http(HttpState::fresh()),
                ttl: Duration::from_secs(ttl),
            };
            t.insert(flow, now).1
        };
        // Before the timer has looked, any deadline wakes it.
        assert!(file(&mut t, "a", 30));
        // It now looks at `now + 30 s` at the latest: later ones wait.
        assert!(!file(&mut t, "b", 60));
        assert!(file(&mut t, "c", 10));
        // The timer sleeps for a second when nothing is due sooner.
        t.timer_set_for(now + Duration::from_secs(1));
        assert!(!file(&mut t, "d", 5));
        assert!(!file(&mut t, "e", 1), "due exactly when it looks anyway");
    }

    #[test]
    fn pins_are_found_from_both_ends_and_removed_together() {
        let (caller, target) = (session("c"), session("t"));
        let mut t = Table::default();
        let now = Instant::now();
        let new = |kind| NewFlow {
            original: "same-id".into(),
            caller: caller.clone(),
            target: target.clone(),
            kind,
            ttl: Duration::from_secs(10),
        };
        let (http, first) = t.insert(new(Kind::Http(HttpState::fresh())), now);
        assert!(first && http.starts_with(WIRE_PREFIX));
        let tunnel_kind = Kind::Tunnel(TunnelState::fresh("ws", Duration::from_secs(1)));
        let (tunnel, _) = t.insert(new(tunnel_kind), now);
        // One id, two families.
        assert_eq!(
            t.by_caller("s-c", Family::Http, "same-id"),
            Some(http.clone())
        );
        assert_eq!(
            t.resolve("s-c", Family::Tunnel, "same-id"),
            Some((tunnel.clone(), true))
        );
        assert_eq!(
            t.resolve("s-t", Family::Tunnel, &tunnel),
            Some((tunnel.clone(), false))
        );
        // The caller cannot use a wire id, nor the wrong family.
        assert_eq!(t.served_by("s-c", Family::Tunnel, &tunnel), None);
        assert_eq!(t.served_by("s-t", Family::Http, &tunnel), None);
        assert_eq!(
            (t.load("s-t"), t.called_by("s-c"), t.tunnels_in("ws")),
            (2, 2, 1)
        );
        assert_eq!(t.flows_of("s-c").len(), 2);
        let stats = Stats::default();
        t.publish(&stats);
        assert_eq!(stats.proxy_pins.load(Relaxed), 4);

        assert!(t.remove(&tunnel).is_some());
        assert!(t.remove(&http).is_some());
        assert!(t.remove(&http).is_none());
        assert_eq!(
            (t.load("s-t"), t.called_by("s-c"), t.tunnels_in("ws")),
            (0, 0, 0)
        );
        assert!(t.deadlines.is_empty());
        // The sessions' emptied pins stay while they live, and go with them.
        assert_eq!(t.sessions_kept(), 2);
        t.forget_session("s-c");
        t.forget_session("s-t");
        assert_eq!(t.sessions_kept(), 0);
        t.publish(&stats);
        assert_eq!(stats.proxy_pins.load(Relaxed), 0);
    }

    #[test]
    fn deadlines_expire_unless_extended() {
        let (caller, target) = (session("c"), session("t"));
        let mut t = Table::default();
        let now = Instant::now();
        let secs = Duration::from_secs;
        let mut add = |id: &str, ttl| {
            t.insert(
                NewFlow {
                    original: id.into(),
                    caller: caller.clone(),
                    target: target.clone(),
                    kind: Kind::Http(HttpState::fresh()),
                    ttl,
                },
                now,
            )
            .0
        };
        let (long, short) = (add("long", secs(10)), add("short", secs(1)));
        assert_eq!(t.next_deadline(), Some(now + secs(1)));
        assert!(t.expired(now).is_empty());
        assert_eq!(t.expired(now + secs(2)), vec![short.clone()]);
        t.remove(&short);
        // Extended: filed again at its new deadline, not expired.
        t.get_mut(&long).unwrap().extend(now + secs(5), secs(10));
        assert!(t.expired(now + secs(11)).is_empty());
        assert_eq!(t.next_deadline(), Some(now + secs(15)));
        // Extending never shortens.
        t.get_mut(&long).unwrap().extend(now, secs(1));
        assert_eq!(t.expired(now + secs(16)), vec![long.clone()]);
        t.remove(&long);
        assert_eq!(t.next_deadline(), None);
    }
}
