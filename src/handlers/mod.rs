//! Handlers for what the gateway pushes, and streams of pushes.
//!
//! Pushes are served by one dispatch task per client, in arrival order,
//! through a bounded queue of its own. The reader never runs a handler: it
//! hands pushes over and goes back to reading, so a handler may call any
//! SDK operation (its reply is read while the handler waits) without
//! deadlocking. A message fires its typed handler (`on_chat_message`,
//! `on_control_message`, `on_tool_call`, `on_event`, `on_metric`) first and
//! then `on_message`. A handler that panics is isolated: the panic is
//! logged and dispatch goes on.
//!
//! Nothing is dropped silently: a slow handler slows the connection down
//! (and the gateway slows the sender); only when handlers fall behind
//! while calls await replies and the client's overflow budget is spent is
//! a push lost, and then `on_error` receives a
//! [`Lagged`](crate::ErrorKind::Lagged) error saying how many.

mod dispatcher;
mod stream;

use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

use futures_util::future::BoxFuture;

pub(crate) use dispatcher::Dispatcher;
pub use stream::{FrameStream, MessageStream};

use crate::connection::SessionInfo;
use crate::message::Message;
use crate::proto;

/// A registered handler, type-erased.
pub(crate) enum Handler<T> {
    /// One whose futures are complete when made (`std::future::ready`,
    /// `futures::future::ready`): run inline, nothing boxed per call.
    Ready(Arc<dyn Fn(T) + Send + Sync>),
    /// Any other: each call's future is boxed and awaited.
    Async(Arc<dyn Fn(T) -> BoxFuture<'static, ()> + Send + Sync>),
}

impl<T> Clone for Handler<T> {
    fn clone(&self) -> Self {
        match self {
            Handler::Ready(f) => Handler::Ready(f.clone()),
            Handler::Async(f) => Handler::Async(f.clone()),
        }
    }
}

/// Whether every `Fut` is complete when made: a ready future.
fn completes_when_made<Fut: 'static>() -> bool {
    let fut = TypeId::of::<Fut>();
    fut == TypeId::of::<std::future::Ready<()>>()
        || fut == TypeId::of::<futures_util::future::Ready<()>>()
}

pub(crate) fn handler<T, F, Fut>(f: F) -> Handler<T>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if completes_when_made::<Fut>() {
        return Handler::Ready(Arc::new(move |t| {
            // A ready future completes on its first poll; no waker is used.
            let fut = std::pin::pin!(f(t));
            let _ = fut.poll(&mut Context::from_waker(Waker::noop()));
        }));
    }
    Handler::Async(Arc::new(move |t| Box::pin(f(t))))
}

/// The registered handlers; one per slot, a new registration replaces the old.
#[derive(Default, Clone)]
pub(crate) struct Handlers {
    pub(crate) on_message: Option<Handler<Message>>,
    pub(crate) on_chat_message: Option<Handler<Message>>,
    pub(crate) on_control_message: Option<Handler<Message>>,
    pub(crate) on_tool_call: Option<Handler<Message>>,
    pub(crate) on_event: Option<Handler<Message>>,
    pub(crate) on_metric: Option<Handler<Message>>,
    pub(crate) on_config: Option<Handler<proto::ConfigSnapshot>>,
    pub(crate) on_signal: Option<Handler<proto::Signal>>,
    pub(crate) on_error: Option<Handler<crate::Error>>,
    pub(crate) on_connect: Option<Handler<SessionInfo>>,
    pub(crate) on_disconnect: Option<Handler<String>>,
    pub(crate) on_task_assignment: Option<Handler<proto::TaskAssignment>>,
    pub(crate) on_progress: Option<Handler<proto::ProgressUpdate>>,
    pub(crate) on_task_event: Option<Handler<proto::TaskEvent>>,
    pub(crate) on_task_hibernated: Option<Handler<proto::TaskHibernated>>,
    pub(crate) on_authority_request_event: Option<Handler<proto::AuthorityRequestEvent>>,
    pub(crate) on_authority_grant_revocation: Option<Handler<proto::AuthorityGrantRevocation>>,
    pub(crate) on_workflow_op: Option<Handler<proto::WorkflowOperation>>,
}

impl Handlers {
    pub(crate) fn typed_for(&self, msg: &Message) -> Option<&Handler<Message>> {
        use crate::message::MessageType as T;
        match msg.message_type() {
            T::Chat => self.on_chat_message.as_ref(),
            T::Control => self.on_control_message.as_ref(),
            T::ToolCall => self.on_tool_call.as_ref(),
            T::Event => self.on_event.as_ref(),
            T::Metric => self.on_metric.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn ready_handlers_run_inline_and_others_are_awaited() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let ready = handler(move |n: usize| {
            h.fetch_add(n, Ordering::Relaxed);
            std::future::ready(())
        });
        let Handler::Ready(f) = ready else {
            panic!("a std ready future is run inline")
        };
        f(2);
        assert_eq!(hits.load(Ordering::Relaxed), 2);

        let also_ready = handler(|_: usize| futures_util::future::ready(()));
        assert!(matches!(also_ready, Handler::Ready(_)));
        let awaited = handler(|_: usize| async {});
        assert!(matches!(awaited, Handler::Async(_)));
    }
}
