//! HTTP over Aether and tunnels (§8): the gateway routes proxy and tunnel
//! frames between two live sessions, the *caller* and the *target*; it
//! never terminates HTTP or TCP itself.
//!
//! * **Flows and pins** ([`table`]): each request or tunnel gets a wire id
//!   `_aether/wire/<uuid>`; the target only ever sees the wire id, the
//!   caller only its own id (found through its `caller@original` pin, kept
//!   per caller session, so callers may reuse ids freely). A frame from a
//!   session that is neither end of a flow names no flow.
//! * **Targets** ([`target`]): a bare `sv::{impl}` goes to the least loaded
//!   connected instance; any other topic must be connected now, otherwise
//!   the caller is refused at once.
//! * **Who may call whom** ([`access`]): READ_WRITE on the target's
//!   workspace, as for sends.
//! * **Headers** ([`identity`]): hygiene and the trusted identity headers.
//! * **HTTP** ([`http`]) and **tunnels** ([`tunnel`]).
//! * **Delivery** ([`outbox`]): every frame for a session — forwarded
//!   frames, refusals of its own frames, the gateway's notices — goes
//!   through that session's lane. Forwarded frames and refusals enter it
//!   when it has room; otherwise they wait in the sender's outbox, and at
//!   its bound the sender's stream is no longer read. Notices (a few per
//!   flow) enter at once.
//! * **Ends**: a flow ends when its ends finish it, or when the gateway ends
//!   it — a deadline passes (request pins, tunnel idle timeouts), an end's
//!   session ends (the other end is told at once), or a frame breaks the
//!   protocol or a limit — and then both ends that remain are told.
//!
//! The table lives behind one lock, never held across an await; the
//! session directory (read) and lane locks are taken inside it, never the
//! other way round.

mod access;
mod frames;
mod http;
mod identity;
mod outbox;
mod table;
mod target;
mod tunnel;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use aether_protocol::proto::upstream_message::Payload;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::ProxyLimits;
use crate::context::Context;
use crate::context::handle::SessionHandle;
use frames::{ErrorKind, Reason};
use table::{Kind, Table};

pub(crate) use outbox::Outbox;

/// How long the timer sleeps when no deadline is filed.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// The session a frame comes from.
pub(crate) struct Sender<'a> {
    pub(crate) handle: &'a Arc<SessionHandle>,
    /// Its current workspace (users switch it).
    pub(crate) workspace: &'a str,
}

/// What the handlers read.
struct Env<'a> {
    cx: &'a Context,
    limits: &'a ProxyLimits,
    /// `Limits::max_frame_bytes`.
    max_frame: usize,
    now: Instant,
}

/// Whether `payload` is a proxy or tunnel frame (handled here, with its own
/// size limits).
pub(crate) fn is_frame(payload: Option<&Payload>) -> bool {
    matches!(
        payload,
        Some(
            Payload::ProxyHttpRequest(_)
                | Payload::ProxyHttpBodyChunk(_)
                | Payload::ProxyHttpResponse(_)
                | Payload::TunnelOpen(_)
                | Payload::TunnelData(_)
                | Payload::TunnelAck(_)
                | Payload::TunnelClose(_)
        )
    )
}

/// The proxy and tunnel router of one gateway.
pub(crate) struct Proxy {
    cx: Arc<Context>,
    table: Mutex<Table>,
    /// Wakes the timer when an earlier deadline is filed.
    timer: Arc<Notify>,
}

impl Proxy {
    pub(crate) fn new(cx: Arc<Context>) -> Self {
        Proxy {
            cx,
            table: Mutex::new(Table::default()),
            timer: Arc::new(Notify::new()),
        }
    }

    fn env(&self) -> Env<'_> {
        let limits = &self.cx.config.limits;
        Env {
            cx: &self.cx,
            limits: &limits.proxy,
            max_frame: limits.max_frame_bytes,
            now: Instant::now(),
        }
    }

    /// Makes a session reachable as a target and as a recipient (after its
    /// handshake, so nothing overtakes its `ConnectionAck`).
    pub(crate) fn session_started(&self, handle: &SessionHandle) {
        handle.lane().open(
            self.cx.config.limits.proxy.lane_bytes,
            self.cx.stats.clone(),
        );
    }

    /// A fresh outbox for a session.
    pub(crate) fn outbox(&self) -> Outbox {
        Outbox::new(
            self.cx.config.limits.proxy.park_bytes,
            self.cx.stats.clone(),
        )
    }

    /// Handles one proxy or tunnel frame of `size` encoded bytes from
    /// `sender`. Everything it causes, refusals to the sender included,
    /// goes through lanes.
    pub(crate) fn handle(
        &self,
        sender: &Sender<'_>,
        outbox: &mut Outbox,
        payload: Payload,
        size: usize,
    ) {
        let env = self.env();
        let mut fx = outbox::Effects::default();
        let mut t = self.table.lock();
        match payload {
            Payload::ProxyHttpRequest(r) => http::request(&mut t, &env, sender, *r, size, &mut fx),
            Payload::ProxyHttpBodyChunk(c) => http::chunk(&mut t, &env, sender, *c, size, &mut fx),
            Payload::ProxyHttpResponse(r) => {
                http::response(&mut t, &env, sender, *r, size, &mut fx)
            }
            Payload::TunnelOpen(o) => tunnel::open(&mut t, &env, sender, *o, size, &mut fx),
            Payload::TunnelData(d) => tunnel::data(&mut t, &env, sender, *d, size, &mut fx),
            Payload::TunnelAck(a) => tunnel::ack(&mut t, &env, sender, *a, &mut fx),
            Payload::TunnelClose(c) => tunnel::close(&mut t, sender, *c, &mut fx),
            _ => debug_assert!(false, "not a proxy frame"),
        }
        for push in fx.pushes {
            outbox.deliver(push);
        }
        outbox.update();
        t.publish(&self.cx.stats);
        drop(t);
        if fx.wake_timer {
            self.timer.notify_one();
        }
    }

    /// Moves a session's parked frames on as far as there is room.
    pub(crate) fn flush(&self, outbox: &mut Outbox) {
        let _t = self.table.lock();
        outbox.flush();
        outbox.update();
    }

    /// A session ended: what it had parked goes out, its lane closes, and
    /// the other end of each of its flows is told at once (§8.5; tunnels
    /// get `PEER_RESET`, where upstream waits for the survivor's next frame).
    pub(crate) fn session_ended(&self, handle: &SessionHandle, mut outbox: Outbox) {
        let mut fx = outbox::Effects::default();
        let mut t = self.table.lock();
        outbox.force_all();
        handle.lane().close();
        let me = handle.session_id.as_str();
        let topic = identity::caller_topic(handle);
        for wire in t.flows_of(me) {
            match t.get(&wire).map(|f| &f.kind) {
                Some(Kind::Http(_)) => {
                    let why = format!("peer session ended ({topic})");
                    http::abort(
                        &mut t,
                        &wire,
                        ErrorKind::SidecarUnavailable,
                        &why,
                        Some(me),
                        &mut fx,
                    );
                }
                Some(Kind::Tunnel(_)) => {
                    let why = "tunnel peer disconnected";
                    tunnel::abort(&mut t, &wire, Reason::PeerReset, why, Some(me), &mut fx);
                }
                None => {}
            }
        }
        t.forget_session(me);
        for push in fx.pushes {
            push.force();
        }
        t.publish(&self.cx.stats);
    }

    /// Ends the flows whose deadline passed; returns when to look again
    /// (the next deadline, or after [`IDLE_TICK`] when none is filed).
    fn expire(&self, now: Instant) -> Instant {
        let mut fx = outbox::Effects::default();
        let mut t = self.table.lock();
        for wire in t.expired(now) {
            match t.get(&wire).map(|f| &f.kind) {
                Some(Kind::Http(_)) => {
                    let why = "proxy request expired: no activity within its pin lifetime";
                    http::abort(&mut t, &wire, ErrorKind::Timeout, why, None, &mut fx);
                }
                Some(Kind::Tunnel(st)) => {
                    let why = format!("tunnel idle for {} ms", tunnel::idle_of(st).as_millis());
                    tunnel::abort(&mut t, &wire, Reason::IdleTimeout, &why, None, &mut fx);
                }
                None => {}
            }
        }
        for push in fx.pushes {
            push.force();
        }
        t.publish(&self.cx.stats);
        let next = t.next_deadline().unwrap_or(now + IDLE_TICK);
        t.timer_set_for(next);
        next
    }
}

/// Ends flows as their deadlines pass, until the gateway is gone.
pub(crate) async fn run_timers(proxy: Weak<Proxy>) {
    loop {
        let Some(p) = proxy.upgrade() else {
            return;
        };
        let until = p.expire(Instant::now());
        let wake = p.timer.clone();
        drop(p);
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_frames_are_recognised() {
        assert!(is_frame(Some(&Payload::TunnelAck(Box::default()))));
        assert!(!is_frame(Some(&Payload::Send(Box::default()))));
        assert!(!is_frame(None));
    }
}
