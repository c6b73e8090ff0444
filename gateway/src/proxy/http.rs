//! HTTP requests (§8.2): the request header, body chunks both ways and the
//! response, with their ids translated and their order checked.
//!
//! A request is open from its header until both its request body and its
//! response are complete. Body chunks must come in order from seq 0 in
//! each direction; a gap, a duplicate or a chunk after `fin` ends the
//! request for both ends with `DECODE_FAILED`. After a chunked response
//! header only body chunks or an error response may follow.

use std::time::Duration;

use aether_protocol::proto::{
    ProxyHttpBodyChunk, ProxyHttpRequest, ProxyHttpResponse, downstream_message::Payload,
};
use aether_protocol::shared::http::MAX_HEADERS;
use prost::Message;

use super::frames::{ErrorKind, down, http_error, http_fin};
use super::outbox::{Effects, Push};
use super::table::{Family, Kind, NewFlow, Table};
use super::{Env, Sender, access, identity, target};

/// Upstream's text when a frame names no open request.
const UNKNOWN: &str = "request pin expired or unknown";

/// Longest timeout honoured when computing a pin lifetime (30 days).
const MAX_TIMEOUT_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Where a request's response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Response {
    /// No header yet.
    Awaiting,
    /// A chunked header went through; the next chunk's seq.
    Streaming(u32),
    /// Complete (inline, last chunk or an error).
    Done,
}

/// The state of one open request.
pub(super) struct HttpState {
    /// The next request-body chunk's seq while the body is streaming.
    request_next: Option<u32>,
    response: Response,
    /// How far each chunk extends the pin.
    refresh: Duration,
}

impl HttpState {
    fn finished(&self) -> bool {
        self.request_next.is_none() && self.response == Response::Done
    }
}

/// `ms` (clamped) plus `slack`, or `default` when `ms` is not positive.
fn lifetime(ms: i64, slack: Duration, default: Duration) -> Duration {
    if ms > 0 {
        Duration::from_millis(ms.min(MAX_TIMEOUT_MS) as u64) + slack
    } else {
        default
    }
}

/// A request header from its caller.
pub(super) fn request(
    t: &mut Table,
    env: &Env<'_>,
    sender: &Sender<'_>,
    mut req: ProxyHttpRequest,
    size: usize,
    fx: &mut Effects,
) {
    let limits = env.limits;
    let id = std::mem::take(&mut req.request_id);
    let mut refuse = |kind: ErrorKind, message: String| {
        fx.pushes
            .push(Push::reply(sender.handle, http_error(&id, kind, message)));
    };
    if id.is_empty() {
        return refuse(ErrorKind::DecodeFailed, "request_id is required".into());
    }
    if req.headers_skipped > 0 {
        return refuse(
            ErrorKind::PayloadTooLarge,
            format!("the request has more than {MAX_HEADERS} headers"),
        );
    }
    if req.body.len() > limits.max_body_bytes {
        return refuse(
            ErrorKind::PayloadTooLarge,
            format!(
                "request body size {} exceeds maximum of {} bytes",
                req.body.len(),
                limits.max_body_bytes
            ),
        );
    }
    let rest = size.saturating_sub(req.body.len());
    if rest > env.max_frame {
        return refuse(
            ErrorKind::PayloadTooLarge,
            format!(
                "request frame without its body is {rest} bytes; the limit is {} bytes",
                env.max_frame
            ),
        );
    }
    if req.proxy_chain_depth >= limits.max_chain_depth {
        return refuse(
            ErrorKind::AclDenied,
            format!(
                "proxy_chain_depth_exceeded: inbound={} cap={}",
                req.proxy_chain_depth, limits.max_chain_depth
            ),
        );
    }
    let to = match target::resolve(env.cx, t, &req.target_topic) {
        Ok(to) => to,
        Err(why) => return refuse(ErrorKind::SidecarUnavailable, why),
    };
    let grant = match access::check(
        &env.cx.authz,
        sender.handle,
        sender.workspace,
        &to,
        req.authorization.as_ref(),
    ) {
        Ok(g) => g,
        Err(why) => return refuse(ErrorKind::AclDenied, why),
    };
    let me = &sender.handle.session_id;
    if t.by_caller(me, Family::Http, &id).is_some() {
        return refuse(
            ErrorKind::DecodeFailed,
            format!("request_id {id:?} is already in flight"),
        );
    }
    if t.called_by(me) >= limits.max_flows_per_session {
        return refuse(
            ErrorKind::SidecarUnavailable,
            format!(
                "too many requests and tunnels in flight for this session (limit {})",
                limits.max_flows_per_session
            ),
        );
    }
    identity::stamp(&mut req.headers, sender.handle, sender.workspace, &grant);
    if req.headers.len() > MAX_HEADERS {
        // The target could not decode it.
        return refuse(
            ErrorKind::PayloadTooLarge,
            format!(
                "{} headers with the identity headers; the limit is {MAX_HEADERS}",
                req.headers.len()
            ),
        );
    }
    req.proxy_chain_depth += 1;
    req.target_topic = to.topic.clone().unwrap_or_default();
    // Only the gateway may issue access receipts (it issues none).
    req.access_receipt = None;
    // Only the gateway fills in what a context resolved to: the grant
    // summary on behalf of a subject, nothing for a direct call.
    if let Some(a) = req.authorization.as_mut() {
        a.resolved = grant.on_behalf.as_ref().map(|o| o.resolved.clone());
    }
    let ttl = lifetime(req.timeout_ms, limits.pin_slack, limits.pin_ttl);
    let refresh =
        lifetime(req.stream_idle_timeout_ms, limits.pin_slack, limits.pin_ttl).max(limits.pin_ttl);
    let state = HttpState {
        request_next: req.body_chunked.then_some(0),
        response: Response::Awaiting,
        refresh,
    };
    let (wire, earliest) = t.insert(
        NewFlow {
            original: id,
            caller: sender.handle.clone(),
            target: to.clone(),
            kind: Kind::Http(state),
            ttl,
        },
        env.now,
    );
    fx.wake_timer |= earliest;
    req.request_id = wire.to_string();
    let msg = down(Payload::ProxyHttpRequest(Box::new(req)));
    let size = msg.encoded_len();
    let flow = t.get(&wire).expect("just inserted");
    fx.pushes.push(Push::forward(&to, msg, size, &flow.aborted));
}

/// A body chunk, from the caller (`is_request`) or from the target.
pub(super) fn chunk(
    t: &mut Table,
    env: &Env<'_>,
    sender: &Sender<'_>,
    mut c: ProxyHttpBodyChunk,
    size: usize,
    fx: &mut Effects,
) {
    let me = &sender.handle.session_id;
    let wire = if c.is_request {
        t.by_caller(me, Family::Http, &c.request_id)
    } else {
        t.served_by(me, Family::Http, &c.request_id)
    };
    let Some(wire) = wire else {
        // Through the sender's lane, behind any abort notice of the same
        // request, so the sender learns the first reason first.
        let refusal = http_error(&c.request_id, ErrorKind::SidecarUnavailable, UNKNOWN);
        fx.pushes.push(Push::reply(sender.handle, refusal));
        return;
    };
    if size > env.max_frame {
        let why = format!(
            "body chunk frame is {size} bytes; the frame limit is {} bytes",
            env.max_frame
        );
        return abort(t, &wire, ErrorKind::PayloadTooLarge, &why, None, fx);
    }
    let flow = t.get_mut(&wire).expect("pinned flows exist");
    let Kind::Http(st) = &mut flow.kind else {
        unreachable!("an HTTP pin names an HTTP flow")
    };
    let expected = if c.is_request {
        st.request_next
    } else {
        match st.response {
            Response::Streaming(n) => Some(n),
            Response::Awaiting | Response::Done => None,
        }
    };
    let direction = if c.is_request { "request" } else { "response" };
    let n = match expected {
        Some(n) if c.seq == n => n,
        Some(n) => {
            let why = format!(
                "{direction} body chunk out of order: expected seq {n}, got seq {}",
                c.seq
            );
            return abort(t, &wire, ErrorKind::DecodeFailed, &why, None, fx);
        }
        None => {
            let why = if c.is_request {
                format!(
                    "request body chunk {} without a streaming request body",
                    c.seq
                )
            } else {
                format!(
                    "response body chunk {} without a chunked response header",
                    c.seq
                )
            };
            return abort(t, &wire, ErrorKind::DecodeFailed, &why, None, fx);
        }
    };
    let next = match (c.fin, n.checked_add(1)) {
        (true, _) => None,
        (false, Some(m)) => Some(m),
        (false, None) => {
            let why = format!("{direction} body has too many chunks");
            return abort(t, &wire, ErrorKind::DecodeFailed, &why, None, fx);
        }
    };
    if c.is_request {
        st.request_next = next;
    } else {
        st.response = next.map_or(Response::Done, Response::Streaming);
    }
    let finished = st.finished();
    let refresh = st.refresh;
    flow.extend(env.now, refresh);
    let (to, id) = if c.is_request {
        (flow.target.clone(), wire.to_string())
    } else {
        (flow.caller.clone(), flow.original.clone())
    };
    c.request_id = id;
    let size = size + wire.len();
    fx.pushes.push(Push::forward(
        &to,
        down(Payload::ProxyHttpBodyChunk(Box::new(c))),
        size,
        &flow.aborted,
    ));
    if finished {
        t.remove(&wire);
    }
}

/// A response header (or a closing error) from the target.
pub(super) fn response(
    t: &mut Table,
    env: &Env<'_>,
    sender: &Sender<'_>,
    mut r: ProxyHttpResponse,
    size: usize,
    fx: &mut Effects,
) {
    let me = &sender.handle.session_id;
    let Some(wire) = t.served_by(me, Family::Http, &r.request_id) else {
        let refusal = http_error(&r.request_id, ErrorKind::SidecarUnavailable, UNKNOWN);
        fx.pushes.push(Push::reply(sender.handle, refusal));
        return;
    };
    if size > env.max_frame {
        let why = format!(
            "response frame is {size} bytes; the frame limit is {} bytes",
            env.max_frame
        );
        return abort(t, &wire, ErrorKind::PayloadTooLarge, &why, None, fx);
    }
    if r.headers_skipped > 0 {
        let why = format!("the response has more than {MAX_HEADERS} headers");
        return abort(t, &wire, ErrorKind::PayloadTooLarge, &why, None, fx);
    }
    let flow = t.get_mut(&wire).expect("pinned flows exist");
    let Kind::Http(st) = &mut flow.kind else {
        unreachable!("an HTTP pin names an HTTP flow")
    };
    st.response = match (st.response, r.error.is_some()) {
        (Response::Done, _) => {
            let why = "a response after the response was complete";
            return abort(t, &wire, ErrorKind::DecodeFailed, why, None, fx);
        }
        (_, true) => Response::Done,
        (Response::Awaiting, false) if r.body_chunked => Response::Streaming(0),
        (Response::Awaiting, false) => Response::Done,
        (Response::Streaming(_), false) => {
            let why = "a second response header during a chunked response";
            return abort(t, &wire, ErrorKind::DecodeFailed, why, None, fx);
        }
    };
    let finished = st.finished();
    let refresh = st.refresh;
    flow.extend(env.now, refresh);
    r.request_id = flow.original.clone();
    let size = r.encoded_len() + 8;
    let to = flow.caller.clone();
    fx.pushes.push(Push::forward(
        &to,
        down(Payload::ProxyHttpResponse(Box::new(r))),
        size,
        &flow.aborted,
    ));
    if finished {
        t.remove(&wire);
    }
}

/// Ends a request for both ends with an error: the caller (unless it has
/// its complete response) gets `ProxyHttpResponse{error}` then a closing
/// chunk under its id, the target the same under the wire id (§8.5). The
/// end whose session `departed` gets nothing.
pub(super) fn abort(
    t: &mut Table,
    wire: &str,
    kind: ErrorKind,
    message: &str,
    departed: Option<&str>,
    fx: &mut Effects,
) {
    let Some(flow) = t.remove(wire) else {
        return;
    };
    flow.aborted
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let Kind::Http(st) = &flow.kind else {
        return;
    };
    let gone = |h: &crate::context::handle::SessionHandle| departed == Some(h.session_id.as_str());
    if st.response != Response::Done && !gone(&flow.caller) {
        let seq = match st.response {
            Response::Streaming(n) => n,
            _ => 0,
        };
        fx.pushes.push(Push::notice(
            &flow.caller,
            http_error(&flow.original, kind, message),
        ));
        fx.pushes
            .push(Push::notice(&flow.caller, http_fin(&flow.original, seq)));
    }
    if !gone(&flow.target) {
        fx.pushes
            .push(Push::notice(&flow.target, http_error(wire, kind, message)));
        fx.pushes
            .push(Push::notice(&flow.target, http_fin(wire, 0)));
    }
}

#[cfg(test)]
impl HttpState {
    /// A request awaiting its response, with an inline body.
    pub(super) fn fresh() -> Self {
        HttpState {
            request_next: None,
            response: Response::Awaiting,
            refresh: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_lifetimes() {
        let (slack, default) = (Duration::from_secs(30), Duration::from_secs(60));
        assert_eq!(lifetime(0, slack, default), default);
        assert_eq!(lifetime(-5, slack, default), default);
        assert_eq!(
            lifetime(1500, slack, default),
            Duration::from_millis(31_500)
        );
        assert_eq!(
            lifetime(i64::MAX, slack, default),
            Duration::from_millis(MAX_TIMEOUT_MS as u64) + slack
        );
    }
}
