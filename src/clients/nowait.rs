//! Fire-and-forget operations that never wait: the frame goes through the
//! client's operation stack (so layers such as authorization stamping still
//! apply) if it can be queued right now, else the call fails with
//! `QueueFull`.

use futures_util::FutureExt;
use tower::ServiceExt;

use super::core::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::OpRequest;

/// Runs a fire-and-forget `req` through the stack without waiting. Fails
/// with [`ErrorKind::QueueFull`] when the stack is not ready at once (the
/// outbound queue is full, or a layer of yours would make it wait).
pub(crate) fn call_nowait(c: &Client, req: OpRequest) -> Result<()> {
    debug_assert!(!req.expects_reply());
    let name = req.name();
    match c.operations().oneshot(req).now_or_never() {
        Some(result) => result.map(drop),
        None => Err(Error::new(
            ErrorKind::QueueFull,
            format!("{name}: the outbound queue is full"),
        )),
    }
}
