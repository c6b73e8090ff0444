//! What every operation stack carries: [`OpRequest`] in, [`Reply`] out.

use std::time::Duration;

use super::streams::{ReplyStream, StreamBounds};
use crate::error::{Error, Result};
use crate::frames::upstream_request_id_mut;
use crate::proto::AuthorizationContext;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;

/// What the caller of an operation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// Nothing: done once the frame is queued (fire-and-forget).
    Nothing,
    /// One reply echoing the request id.
    Reply,
    /// Many frames echoing the request id (or tunnel id), in a
    /// [`ReplyStream`] handed over as soon as the frame is queued.
    Stream(StreamBounds),
    /// One reply that names a stream (a task subscription's id), then that
    /// stream's frames.
    ReplyThenStream(StreamBounds),
}

/// What an operation stack resolves with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply {
    /// A fire-and-forget frame was queued.
    Sent,
    /// The correlated reply.
    Frame(Down),
    /// The stream of the frames correlated to the request.
    Stream(ReplyStream),
    /// The first reply, and the stream it opened.
    Subscribed(Down, ReplyStream),
}

impl Reply {
    /// The reply frame, or a protocol error naming `op` when there is none.
    pub fn into_frame(self, op: &str) -> Result<Down> {
        match self {
            Reply::Frame(f) | Reply::Subscribed(f, _) => Ok(f),
            _ => Err(Error::protocol(format!("{op}: no reply frame"))),
        }
    }

    /// The stream, or a protocol error naming `op` when there is none.
    pub fn into_stream(self, op: &str) -> Result<ReplyStream> {
        match self {
            Reply::Stream(s) | Reply::Subscribed(_, s) => Ok(s),
            _ => Err(Error::protocol(format!("{op}: no reply stream"))),
        }
    }
}

/// One operation on its way through a client's tower stack: the upstream
/// frame plus what the layers need to know about it (its name for tracing,
/// what its caller waits for, whether it is safe to repeat, its timeout).
///
/// ```
/// use aether_client::stack::OpRequest;
/// use aether_client::proto::{upstream_message::Payload, ConnectionStatusRequest, PrincipalRef};
/// let req = OpRequest::awaited(
///     "connection_status",
///     Payload::ConnectionStatusRequest(Box::new(ConnectionStatusRequest {
///         principal: Some(PrincipalRef { principal_type: "agent".into(), principal_id: "ag::w::i::s".into() }),
///         ..Default::default()
///     })),
/// )
/// .idempotent(true);
/// assert!(req.expects_reply());
/// ```
#[derive(Debug, Clone)]
pub struct OpRequest {
    // Pointer-sized: every variant of the upstream oneof is boxed.
    payload: Up,
    name: &'static str,
    idempotent: bool,
    expect: Expect,
    request_id: Option<String>,
    timeout: Option<Duration>,
}

impl OpRequest {
    /// An operation whose reply is awaited (correlated by request id).
    pub fn awaited(name: &'static str, payload: Up) -> Self {
        Self::new(name, payload, Expect::Reply)
    }

    /// A fire-and-forget frame: done once it is queued.
    pub fn fire_and_forget(name: &'static str, payload: Up) -> Self {
        Self::new(name, payload, Expect::Nothing)
    }

    /// An operation whose caller waits for `expect`.
    pub fn new(name: &'static str, payload: Up, expect: Expect) -> Self {
        OpRequest {
            payload,
            name,
            idempotent: false,
            expect,
            request_id: None,
            timeout: None,
        }
    }

    /// The same frame sent without waiting for anything (fire-and-forget);
    /// not safe to repeat, since no reply says whether it arrived.
    pub fn without_reply(mut self) -> Self {
        self.expect = Expect::Nothing;
        self.idempotent = false;
        self
    }

    /// Marks the operation safe to repeat (the retry layer may resend it).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Overrides the stack's default timeout for this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The operation's name (used in traces).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether anything correlated is awaited (a reply or a stream).
    pub fn expects_reply(&self) -> bool {
        self.expect != Expect::Nothing
    }

    /// What the caller waits for.
    pub fn expect(&self) -> Expect {
        self.expect
    }

    /// Whether the operation is safe to repeat.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The per-call timeout, if set.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The request id assigned so far.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The upstream frame.
    pub fn payload(&self) -> &Up {
        &self.payload
    }

    /// The upstream frame, mutably (for layers that stamp it).
    pub fn payload_mut(&mut self) -> &mut Up {
        &mut self.payload
    }

    /// Sets the frame's `authorization` to `ctx` when its type carries one
    /// and it is not set yet; returns whether it was set.
    pub fn stamp_authorization(&mut self, ctx: &AuthorizationContext) -> bool {
        if let Up::Send(x) = &mut self.payload {
            if x.authorization.is_some() {
                return false;
            }
            x.authorization = Some(Box::new(ctx.clone()));
            return true;
        }
        match self.authorization_mut() {
            Some(slot @ None) => {
                *slot = Some(ctx.clone());
                true
            }
            _ => false,
        }
    }

    /// Whether the frame can carry an authorization context and has none.
    pub fn lacks_authorization(&mut self) -> bool {
        if let Up::Send(x) = &self.payload {
            return x.authorization.is_none();
        }
        matches!(self.authorization_mut(), Some(None))
    }

    /// The `authorization` field of the frame, for the types that hold it
    /// inline (every type but `SendMessage`, which boxes it: use
    /// [`stamp_authorization`](Self::stamp_authorization)).
    pub fn authorization_mut(&mut self) -> Option<&mut Option<AuthorizationContext>> {
        Some(match &mut self.payload {
            Up::KvOp(x) => &mut x.authorization,
            Up::CreateTask(x) => &mut x.authorization,
            Up::SessionOp(x) => &mut x.authorization,
            Up::AclOp(x) => &mut x.authorization,
            Up::WorkflowOp(x) => &mut x.authorization,
            Up::AuditQuery(x) => &mut x.authorization,
            Up::ProxyHttpRequest(x) => &mut x.authorization,
            Up::TunnelOpen(x) => &mut x.authorization,
            Up::AccessCheck(x) => &mut x.authorization,
            Up::BatchAccessCheck(x) => &mut x.authorization,
            _ => return None,
        })
    }

    pub(crate) fn into_parts(self) -> (Up, Option<String>, Expect) {
        (self.payload, self.request_id, self.expect)
    }

    /// Takes the frame out; [`Shell::fill`] puts the request back together.
    pub(crate) fn take_payload(self) -> (Up, Shell) {
        let OpRequest {
            payload,
            name,
            idempotent,
            expect,
            request_id,
            timeout,
        } = self;
        let shell = Shell {
            name,
            idempotent,
            expect,
            request_id,
            timeout,
        };
        (payload, shell)
    }
}

/// An [`OpRequest`] without its frame.
pub(crate) struct Shell {
    name: &'static str,
    idempotent: bool,
    expect: Expect,
    request_id: Option<String>,
    timeout: Option<Duration>,
}

impl Shell {
    /// The request again, with `payload` as its frame.
    pub(crate) fn fill(self, payload: Up) -> OpRequest {
        let Shell {
            name,
            idempotent,
            expect,
            request_id,
            timeout,
        } = self;
        OpRequest {
            payload,
            name,
            idempotent,
            expect,
            request_id,
            timeout,
        }
    }
}

impl aether_middleware::correlation::Correlate for OpRequest {
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    fn needs_request_id(&self) -> bool {
        self.expects_reply()
    }
    fn set_request_id(&mut self, id: String) {
        if let Some(field) = upstream_request_id_mut(&mut self.payload) {
            field.clone_from(&id);
        }
        self.request_id = Some(id);
    }
}

impl aether_middleware::retry::Idempotent for OpRequest {
    fn is_safe_to_repeat(&self) -> bool {
        self.idempotent
    }
}

impl aether_middleware::trace::Operation for OpRequest {
    fn operation_name(&self) -> &'static str {
        self.name
    }
    fn trace_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_stay_small_as_they_move_through_the_layers() {
        // Every oneof variant is boxed (build.rs), so the frame is a
        // pointer and a tag, and a request moves cheaply.
        assert!(std::mem::size_of::<Up>() <= 16);
        assert!(std::mem::size_of::<OpRequest>() <= 128);
    }
}
