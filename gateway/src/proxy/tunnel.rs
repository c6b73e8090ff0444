//! Tunnels (§8.3): open, data, ack and close, with their ids translated,
//! the workspace quota, the byte cap, the idle timeout and sequence checks.
//!
//! Data frames must carry consecutive seqs in each direction, starting
//! wherever the sender starts (SDKs start at 0, the upstream sidecar at 1);
//! a gap, a repeat or data after `fin` closes the tunnel for both ends with
//! `ERROR`. Any data or ack refreshes the idle deadline.

use std::time::Duration;

use aether_protocol::proto::{
    TunnelAck, TunnelClose, TunnelData, TunnelOpen, downstream_message::Payload,
};
use prost::Message;

use super::frames::{Reason, down, tunnel_close};
use super::outbox::{Effects, Push};
use super::table::{Family, Kind, NewFlow, Table};
use super::{Env, Sender, access, identity, target};

/// Longest idle timeout honoured (30 days).
const MAX_IDLE_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Seqs seen in one direction.
#[derive(Debug, Default, Clone, Copy)]
struct Direction {
    last: Option<u32>,
    fin: bool,
}

/// The state of one open tunnel.
pub(super) struct TunnelState {
    /// The caller's workspace, whose quota it counts against.
    pub(super) workspace: String,
    bytes: u64,
    /// Byte cap, both directions together (0: none).
    cap: u64,
    idle: Duration,
    from_caller: Direction,
    from_target: Direction,
}

/// A tunnel open from its caller.
pub(super) fn open(
    t: &mut Table,
    env: &Env<'_>,
    sender: &Sender<'_>,
    mut open: TunnelOpen,
    size: usize,
    fx: &mut Effects,
) {
    let limits = env.limits;
    let id = std::mem::take(&mut open.tunnel_id);
    let mut refuse = |reason: Reason, detail: String| {
        fx.pushes.push(Push::reply(
            sender.handle,
            tunnel_close(&id, reason, detail),
        ));
    };
    if id.is_empty() {
        return refuse(Reason::Error, "tunnel_id is required".into());
    }
    if size > env.max_frame {
        return refuse(
            Reason::Error,
            format!(
                "tunnel_open frame is {size} bytes; the limit is {} bytes",
                env.max_frame
            ),
        );
    }
    let workspace = sender.workspace;
    if t.tunnels_in(workspace) >= limits.max_tunnels_per_workspace {
        return refuse(
            Reason::Quota,
            format!(
                "workspace tunnel cap {} reached",
                limits.max_tunnels_per_workspace
            ),
        );
    }
    if open.proxy_chain_depth >= limits.max_chain_depth {
        return refuse(
            Reason::Error,
            format!(
                "ACL_DENIED: proxy_chain_depth_exceeded: inbound={} cap={}",
                open.proxy_chain_depth, limits.max_chain_depth
            ),
        );
    }
    let to = match target::resolve(env.cx, t, &open.target_topic) {
        Ok(to) => to,
        Err(why) => return refuse(Reason::Error, format!("SIDECAR_UNAVAILABLE: {why}")),
    };
    let grant = match access::check(
        &env.cx.authz,
        sender.handle,
        sender.workspace,
        &to,
        open.authorization.as_ref(),
    ) {
        Ok(g) => g,
        Err(why) => return refuse(Reason::Error, format!("ACL_DENIED: {why}")),
    };
    let me = &sender.handle.session_id;
    if t.by_caller(me, Family::Tunnel, &id).is_some() {
        return refuse(Reason::Error, format!("tunnel_id {id:?} is already open"));
    }
    if t.called_by(me) >= limits.max_flows_per_session {
        return refuse(
            Reason::Quota,
            format!(
                "too many requests and tunnels in flight for this session (limit {})",
                limits.max_flows_per_session
            ),
        );
    }
    identity::stamp(&mut open.metadata, sender.handle, workspace, &grant);
    open.proxy_chain_depth += 1;
    open.target_topic = to.topic.clone().unwrap_or_default();
    // Only the gateway fills in what a context resolved to: the grant
    // summary on behalf of a subject, nothing for a direct call.
    if let Some(a) = open.authorization.as_mut() {
        a.resolved = grant.on_behalf.as_ref().map(|o| o.resolved.clone());
    }
    let idle = if open.idle_timeout_ms > 0 {
        Duration::from_millis(open.idle_timeout_ms.min(MAX_IDLE_MS) as u64)
    } else {
        limits.tunnel_idle_timeout
    };
    let cap = match (
        limits.max_tunnel_bytes,
        u64::try_from(open.max_bytes).unwrap_or(0),
    ) {
        (0, own) => own,
        (gw, 0) => gw,
        (gw, own) => gw.min(own),
    };
    let state = TunnelState {
        workspace: workspace.to_string(),
        bytes: 0,
        cap,
        idle,
        from_caller: Direction::default(),
        from_target: Direction::default(),
    };
    let (wire, earliest) = t.insert(
        NewFlow {
            original: id,
            caller: sender.handle.clone(),
            target: to.clone(),
            kind: Kind::Tunnel(state),
            ttl: idle,
        },
        env.now,
    );
    fx.wake_timer |= earliest;
    open.tunnel_id = wire.to_string();
    // There is no downstream TunnelOpen: the target gets it serialized in
    // a seq-0 TunnelData under the wire id.
    let msg = down(Payload::TunnelData(Box::new(TunnelData {
        tunnel_id: wire.to_string(),
        seq: 0,
        data: open.encode_to_vec().into(),
        fin: false,
    })));
    let size = msg.encoded_len();
    let flow = t.get(&wire).expect("just inserted");
    fx.pushes.push(Push::forward(&to, msg, size, &flow.aborted));
}

/// Data from either end.
pub(super) fn data(
    t: &mut Table,
    env: &Env<'_>,
    sender: &Sender<'_>,
    mut d: TunnelData,
    size: usize,
    fx: &mut Effects,
) {
    let me = &sender.handle.session_id;
    let Some((wire, from_caller)) = t.resolve(me, Family::Tunnel, &d.tunnel_id) else {
        // Through the sender's lane, behind any close notice of the same
        // tunnel (a quota, an idle timeout), so its first reason arrives
        // first.
        let refusal = tunnel_close(
            &d.tunnel_id,
            Reason::PeerReset,
            "tunnel pin expired or unknown",
        );
        fx.pushes.push(Push::reply(sender.handle, refusal));
        return;
    };
    if size > env.max_frame {
        let why = format!(
            "tunnel data frame is {size} bytes; the frame limit is {} bytes",
            env.max_frame
        );
        return abort(t, &wire, Reason::Quota, &why, None, fx);
    }
    let flow = t.get_mut(&wire).expect("pinned flows exist");
    let Kind::Tunnel(st) = &mut flow.kind else {
        unreachable!("a tunnel pin names a tunnel")
    };
    let dir = if from_caller {
        &mut st.from_caller
    } else {
        &mut st.from_target
    };
    if dir.fin {
        let why = format!("tunnel data (seq {}) after fin", d.seq);
        return abort(t, &wire, Reason::Error, &why, None, fx);
    }
    if let Some(last) = dir.last
        && Some(d.seq) != last.checked_add(1)
    {
        let why = match last.checked_add(1) {
            Some(n) => format!(
                "tunnel data out of order: expected seq {n}, got seq {}",
                d.seq
            ),
            None => "tunnel data seq overflow".to_string(),
        };
        return abort(t, &wire, Reason::Error, &why, None, fx);
    }
    let len = d.data.len() as u64;
    if st.cap > 0 && st.bytes + len > st.cap {
        let why = format!("tunnel byte cap {} exceeded", st.cap);
        return abort(t, &wire, Reason::Quota, &why, None, fx);
    }
    dir.last = Some(d.seq);
    dir.fin = d.fin;
    st.bytes += len;
    let idle = st.idle;
    flow.extend(env.now, idle);
    let (to, id) = if from_caller {
        (flow.target.clone(), wire.to_string())
    } else {
        (flow.caller.clone(), flow.original.clone())
    };
    d.tunnel_id = id;
    fx.pushes.push(Push::forward(
        &to,
        down(Payload::TunnelData(Box::new(d))),
        size + wire.len(),
        &flow.aborted,
    ));
}

/// A credit grant from either end; dropped when it names no tunnel (acks
/// race with closes and never produce errors).
pub(super) fn ack(
    t: &mut Table,
    env: &Env<'_>,
    sender: &Sender<'_>,
    mut a: TunnelAck,
    fx: &mut Effects,
) {
    let me = &sender.handle.session_id;
    let Some((wire, from_caller)) = t.resolve(me, Family::Tunnel, &a.tunnel_id) else {
        tracing::debug!(tunnel_id = %a.tunnel_id, "tunnel ack for no open tunnel dropped");
        return;
    };
    let flow = t.get_mut(&wire).expect("pinned flows exist");
    let Kind::Tunnel(st) = &flow.kind else {
        unreachable!("a tunnel pin names a tunnel")
    };
    let idle = st.idle;
    flow.extend(env.now, idle);
    let (to, id) = if from_caller {
        (flow.target.clone(), wire.to_string())
    } else {
        (flow.caller.clone(), flow.original.clone())
    };
    a.tunnel_id = id;
    let msg = down(Payload::TunnelAck(Box::new(a)));
    let size = msg.encoded_len();
    fx.pushes.push(Push::forward(&to, msg, size, &flow.aborted));
}

/// A close from either end: forwarded, and the tunnel's pins and quota
/// slot released. Dropped when it names no tunnel (both ends may close at
/// once).
pub(super) fn close(t: &mut Table, sender: &Sender<'_>, mut c: TunnelClose, fx: &mut Effects) {
    let me = &sender.handle.session_id;
    let Some((wire, from_caller)) = t.resolve(me, Family::Tunnel, &c.tunnel_id) else {
        tracing::debug!(tunnel_id = %c.tunnel_id, "tunnel close for no open tunnel dropped");
        return;
    };
    let flow = t.remove(&wire).expect("pinned flows exist");
    let (to, id) = if from_caller {
        (&flow.target, wire.to_string())
    } else {
        (&flow.caller, flow.original.clone())
    };
    c.tunnel_id = id;
    let msg = down(Payload::TunnelClose(Box::new(c)));
    let size = msg.encoded_len();
    // Not tied to the flow's abort flag: it is the flow's last frame.
    fx.pushes.push(Push {
        to: to.clone(),
        msg,
        size,
        forwarded: true,
        flow: None,
    });
}

/// Closes a tunnel for both ends (except one whose session `departed`)
/// with `reason`.
pub(super) fn abort(
    t: &mut Table,
    wire: &str,
    reason: Reason,
    detail: &str,
    departed: Option<&str>,
    fx: &mut Effects,
) {
    let Some(flow) = t.remove(wire) else {
        return;
    };
    flow.aborted
        .store(true, std::sync::atomic::Ordering::Relaxed);
    if departed != Some(flow.caller.session_id.as_str()) {
        fx.pushes.push(Push::notice(
            &flow.caller,
            tunnel_close(&flow.original, reason, detail),
        ));
    }
    if departed != Some(flow.target.session_id.as_str()) {
        fx.pushes.push(Push::notice(
            &flow.target,
            tunnel_close(wire, reason, detail),
        ));
    }
}

/// The idle timeout of an open tunnel.
pub(super) fn idle_of(st: &TunnelState) -> Duration {
    st.idle
}

#[cfg(test)]
impl TunnelState {
    /// A fresh tunnel of `workspace` with idle timeout `idle`.
    pub(super) fn fresh(workspace: &str, idle: Duration) -> Self {
        TunnelState {
            workspace: workspace.to_string(),
            bytes: 0,
            cap: 0,
            idle,
            from_caller: Direction::default(),
            from_target: Direction::default(),
        }
    }
}
