//! Delivery of flow frames into the recipients' lanes, and the sender's
//! outbox of frames waiting for room.
//!
//! A frame a session sends on a flow is forwarded into the recipient's
//! lane when it has room. When it has none, the frame *parks* in the
//! sender's outbox, in a queue per recipient, and every later frame of the
//! same sender to that recipient queues behind it, so per flow order holds;
//! frames to other recipients move on. Parked frames move on as the
//! recipient's lane drains. Only when a sender's parked frames reach
//! `ProxyLimits::park_bytes` does its session stop reading its stream
//! (HTTP/2 flow control then slows the client); its other work (messages,
//! KV, tasks) is read and served until then. Refusals of a session's own
//! frames take the same way into its own lane, so a session that sends
//! bad frames without reading its stream is slowed, never buffered.
//!
//! Every push happens under the proxy table lock, so a flow's frames and
//! the gateway's notices about it enter a lane in a consistent order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use aether_protocol::proto::DownstreamMessage;
use tokio::sync::Notify;

use crate::context::handle::SessionHandle;
use crate::lane::Pushed;
use crate::stats::Stats;

/// A frame on its way to a session's lane.
pub(super) struct Push {
    pub(super) to: Arc<SessionHandle>,
    pub(super) msg: DownstreamMessage,
    pub(super) size: usize,
    /// Forwarded frames wait for room; the gateway's own notices do not.
    pub(super) forwarded: bool,
    /// The flow a forwarded frame belongs to: if the gateway aborts it while
    /// the frame waits, the frame is dropped.
    pub(super) flow: Option<Arc<AtomicBool>>,
}

impl Push {
    /// A forwarded frame of `flow`.
    pub(super) fn forward(
        to: &Arc<SessionHandle>,
        msg: DownstreamMessage,
        size: usize,
        flow: &Arc<AtomicBool>,
    ) -> Self {
        Push {
            to: to.clone(),
            msg,
            size,
            forwarded: true,
            flow: Some(flow.clone()),
        }
    }

    /// A refusal of a frame from `to` itself: through its own lane, behind
    /// any notice about the same id, and bounded like forwarded frames (a
    /// session that sends bad frames without reading is slowed, not
    /// buffered).
    pub(super) fn reply(to: &Arc<SessionHandle>, msg: DownstreamMessage) -> Self {
        use prost::Message;
        Push {
            size: msg.encoded_len(),
            to: to.clone(),
            msg,
            forwarded: true,
            flow: None,
        }
    }

    /// A notice from the gateway.
    pub(super) fn notice(to: &Arc<SessionHandle>, msg: DownstreamMessage) -> Self {
        use prost::Message;
        Push {
            size: msg.encoded_len(),
            to: to.clone(),
            msg,
            forwarded: false,
            flow: None,
        }
    }

    fn is_stale(&self) -> bool {
        self.flow.as_ref().is_some_and(|a| a.load(Relaxed))
    }

    /// Pushes a notice (or a frame of a leaving sender) regardless of room.
    pub(super) fn force(self) {
        if !self.is_stale() {
            self.to.lane().force(self.msg, self.size);
        }
    }
}

/// What handling one frame produced.
#[derive(Default)]
pub(super) struct Effects {
    /// Frames for lanes, in order.
    pub(super) pushes: Vec<Push>,
    /// A deadline earlier than every other was filed.
    pub(super) wake_timer: bool,
}

/// Frames parked for one recipient.
struct Route {
    to: Arc<SessionHandle>,
    frames: VecDeque<Push>,
}

/// One session's frames waiting for room in other sessions' lanes.
pub(crate) struct Outbox {
    routes: HashMap<String, Route>,
    bytes: usize,
    cap: usize,
    room: Arc<Notify>,
    stats: Arc<Stats>,
    /// Whether the bound is reached (the session does not read).
    holding: bool,
}

impl Outbox {
    pub(super) fn new(cap: usize, stats: Arc<Stats>) -> Self {
        Outbox {
            routes: HashMap::new(),
            bytes: 0,
            cap: cap.max(1),
            room: Arc::new(Notify::new()),
            stats,
            holding: false,
        }
    }

    /// Whether the parked frames reached the bound: the session must stop
    /// reading until they move on.
    pub(crate) fn is_full(&self) -> bool {
        self.holding
    }

    /// Whether frames are waiting.
    pub(crate) fn is_parked(&self) -> bool {
        !self.routes.is_empty()
    }

    /// Notified when a lane a parked frame waits for has room.
    pub(crate) fn room(&self) -> &Notify {
        &self.room
    }

    /// Delivers a push from this session (table lock held).
    pub(super) fn deliver(&mut self, push: Push) {
        if let Some(route) = self.routes.get_mut(push.to.session_id.as_str()) {
            self.bytes += push.size;
            self.stats
                .proxy_queued_bytes
                .fetch_add(push.size as u64, Relaxed);
            route.frames.push_back(push);
            return;
        }
        if !push.forwarded {
            push.force();
            return;
        }
        let Push {
            to,
            msg,
            size,
            forwarded,
            flow,
        } = push;
        match to.lane().push(msg, size, &self.room) {
            Pushed::Queued | Pushed::Closed => {}
            Pushed::Full(msg) => {
                self.bytes += size;
                self.stats
                    .proxy_queued_bytes
                    .fetch_add(size as u64, Relaxed);
                let mut frames = VecDeque::new();
                frames.push_back(Push {
                    to: to.clone(),
                    msg,
                    size,
                    forwarded,
                    flow,
                });
                self.routes
                    .insert(to.session_id.clone(), Route { to, frames });
            }
        }
    }

    /// Moves parked frames on while their lanes have room (table lock held).
    pub(super) fn flush(&mut self) {
        let mut moved = 0;
        self.routes.retain(|_, route| {
            let lane = route.to.lane();
            while let Some(push) = route.frames.pop_front() {
                if push.is_stale() {
                    moved += push.size;
                    continue;
                }
                if !push.forwarded {
                    moved += push.size;
                    push.force();
                    continue;
                }
                let Push {
                    to,
                    msg,
                    size,
                    forwarded,
                    flow,
                } = push;
                match lane.push(msg, size, &self.room) {
                    Pushed::Queued => moved += size,
                    Pushed::Closed => {
                        // The recipient left; its flows are being ended.
                        moved += size + route.frames.iter().map(|p| p.size).sum::<usize>();
                        route.frames.clear();
                    }
                    Pushed::Full(msg) => {
                        route.frames.push_front(Push {
                            to,
                            msg,
                            size,
                            forwarded,
                            flow,
                        });
                        return true;
                    }
                }
            }
            false
        });
        self.bytes -= moved;
        self.stats
            .proxy_queued_bytes
            .fetch_sub(moved as u64, Relaxed);
    }

    /// Pushes everything parked regardless of room: the session is leaving
    /// and what it sent must reach the survivors before the notice of its
    /// departure (table lock held).
    pub(super) fn force_all(&mut self) {
        for (_, route) in self.routes.drain() {
            for push in route.frames {
                push.force();
            }
        }
        self.stats
            .proxy_queued_bytes
            .fetch_sub(self.bytes as u64, Relaxed);
        self.bytes = 0;
        self.update();
    }

    /// Starts or stops holding the session's reads as the bound is crossed.
    pub(super) fn update(&mut self) {
        let full = self.bytes >= self.cap;
        if full == self.holding {
            return;
        }
        self.holding = full;
        if full {
            Stats::bump(&self.stats.proxy_backpressure_waits);
            Stats::bump(&self.stats.proxy_senders_waiting);
        } else {
            self.stats.proxy_senders_waiting.fetch_sub(1, Relaxed);
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.stats
            .proxy_queued_bytes
            .fetch_sub(self.bytes as u64, Relaxed);
        if self.holding {
            self.stats.proxy_senders_waiting.fetch_sub(1, Relaxed);
        }
    }
}
