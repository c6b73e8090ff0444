//! The dispatch task: serves pushes to handlers in order, off the reader.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Poll, ready};

use futures_util::{FutureExt, StreamExt};
use parking_lot::RwLock;

use super::{Handler, Handlers};
use crate::connection::{Connection, Push, PushFilter, PushReceiver, Slot};
use crate::error::Error;
use crate::message::Message;
use crate::proto::downstream_message::Payload;

/// The handler registry of one client, served by its dispatch task.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    registry: Arc<Registry>,
}

/// The current handlers, and a version that changes with them, so the
/// dispatch task takes the lock only when they changed.
#[derive(Default)]
struct Registry {
    handlers: RwLock<Arc<Handlers>>,
    version: AtomicU64,
}

impl Dispatcher {
    /// Subscribes to every push of `connection` and starts the dispatch
    /// task on the current runtime; the task ends when the connection is
    /// gone.
    pub(crate) fn spawn(connection: &Connection) -> Self {
        let registry = Arc::new(Registry::default());
        let pushes = connection.subscribe(PushFilter::Everything);
        tokio::spawn(run(registry.clone(), pushes));
        Dispatcher { registry }
    }

    /// Changes the handlers.
    pub(crate) fn update(&self, f: impl FnOnce(&mut Handlers)) {
        let mut guard = self.registry.handlers.write();
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
        self.registry.version.fetch_add(1, Ordering::Release);
    }
}

async fn run(registry: Arc<Registry>, mut pushes: PushReceiver) {
    let mut seen = registry.version.load(Ordering::Acquire);
    let mut current = registry.handlers.read().clone();
    loop {
        // Messages whose handlers complete when called are served in the
        // poll that took them out (the usual case): no future per message,
        // and the message is not moved through one. The first push that
        // needs awaiting comes out of the poll.
        let next = std::future::poll_fn(|cx| {
            loop {
                let slot = ready!(pushes.poll_next_unpin(cx));
                let version = registry.version.load(Ordering::Acquire);
                if version != seen {
                    seen = version;
                    current = registry.handlers.read().clone();
                }
                match slot {
                    Some(Slot::Item(Push::Message(msg))) => {
                        if let Some(msg) = serve_message_now(&current, msg) {
                            return Poll::Ready(Some(Slot::Item(Push::Message(msg))));
                        }
                    }
                    other => return Poll::Ready(other),
                }
            }
        })
        .await;
        match next {
            None => return,
            Some(Slot::Item(push)) => serve(&current, push).await,
            Some(Slot::Lost(n)) => match &current.on_error {
                Some(f) => call("on_error", f, Error::lagged(n)).await,
                None => tracing::error!(lost = n, "handlers fell behind: pushes were lost"),
            },
        }
    }
}

async fn call<T>(name: &'static str, h: &Handler<T>, arg: T) {
    // A panic is caught where it happens: in the handler's body, or in its
    // future.
    let outcome = match h {
        Handler::Ready(f) => std::panic::catch_unwind(AssertUnwindSafe(|| f(arg))),
        Handler::Async(f) => match std::panic::catch_unwind(AssertUnwindSafe(|| f(arg))) {
            Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
            Err(panic) => Err(panic),
        },
    };
    if let Err(panic) = outcome {
        report_panic(name, panic);
    }
}

/// Calls a handler that completes when called, catching a panic.
#[inline]
fn call_now<T>(name: &'static str, f: &(dyn Fn(T) + Send + Sync), arg: T) {
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| f(arg))) {
        report_panic(name, panic);
    }
}

fn report_panic(name: &'static str, panic: Box<dyn std::any::Any + Send>) {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(handler = name, panic = %what, "handler panicked; dispatch continues");
}

/// Serves a message at once when every handler it goes to completes when
/// called (the usual case): no future is built for it, and the message is
/// not moved into one. Gives it back when a handler is asynchronous.
#[inline]
fn serve_message_now(h: &Handlers, msg: Message) -> Option<Message> {
    let typed = h.typed_for(&msg);
    let all = h.on_message.as_ref();
    match (typed, all) {
        (Some(Handler::Ready(typed)), Some(Handler::Ready(all))) => {
            call_now("typed message handler", &**typed, msg.clone());
            call_now("on_message", &**all, msg);
        }
        (Some(Handler::Ready(typed)), None) => call_now("typed message handler", &**typed, msg),
        (None, Some(Handler::Ready(all))) => call_now("on_message", &**all, msg),
        (None, None) => {}
        _ => return Some(msg),
    }
    None
}

async fn serve(h: &Handlers, push: Push) {
    match push {
        Push::Connected(info) => {
            if let Some(f) = &h.on_connect {
                call("on_connect", f, *info).await;
            }
        }
        Push::Disconnected(reason) => {
            if let Some(f) = &h.on_disconnect {
                call("on_disconnect", f, reason).await;
            }
        }
        Push::Message(msg) => match (h.typed_for(&msg), &h.on_message) {
            (Some(typed), Some(all)) => {
                call("typed message handler", typed, msg.clone()).await;
                call("on_message", all, msg).await;
            }
            (Some(typed), None) => call("typed message handler", typed, msg).await,
            (None, Some(all)) => call("on_message", all, msg).await,
            (None, None) => {}
        },
        Push::Frame(frame) => serve_frame(h, frame).await,
    }
}

async fn serve_frame(h: &Handlers, frame: Payload) {
    match frame {
        Payload::Config(c) => {
            if let Some(f) = &h.on_config {
                call("on_config", f, *c).await;
            }
        }
        Payload::Signal(s) => {
            if let Some(f) = &h.on_signal {
                call("on_signal", f, *s).await;
            }
        }
        Payload::Error(e) => match &h.on_error {
            Some(f) => call("on_error", f, Error::from_error_response(&e)).await,
            None => tracing::warn!(code = %e.code, message = %e.message, "gateway error"),
        },
        Payload::TaskAssignment(a) => {
            if let Some(f) = &h.on_task_assignment {
                call("on_task_assignment", f, *a).await;
            }
        }
        Payload::ProgressUpdate(p) => {
            if let Some(f) = &h.on_progress {
                call("on_progress", f, *p).await;
            }
        }
        Payload::TaskEvent(e) => {
            if let Some(f) = &h.on_task_event {
                call("on_task_event", f, *e).await;
            }
        }
        Payload::TaskHibernated(t) => {
            if let Some(f) = &h.on_task_hibernated {
                call("on_task_hibernated", f, *t).await;
            }
        }
        Payload::AuthorityRequestEvent(e) => {
            if let Some(f) = &h.on_authority_request_event {
                call("on_authority_request_event", f, *e).await;
            }
        }
        Payload::AuthorityGrantRevocation(r) => {
            if let Some(f) = &h.on_authority_grant_revocation {
                call("on_authority_grant_revocation", f, *r).await;
            }
        }
        Payload::WorkflowOp(op) => {
            if let Some(f) = &h.on_workflow_op {
                call("on_workflow_op", f, *op).await;
            }
        }
        other => tracing::debug!(
            "uncorrelated frame with no handler: {}",
            crate::frames::downstream_name(&other)
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::handlers::handler;

    #[tokio::test]
    async fn a_panic_in_a_handler_is_contained_wherever_it_happens() {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let in_body = handler(move |n: usize| {
            if n == 0 {
                panic!("in the body");
            }
            r.fetch_add(1, Ordering::Relaxed);
            std::future::ready(())
        });
        call("test", &in_body, 0).await;
        call("test", &in_body, 1).await;
        let before_future = handler(|_: usize| -> futures_util::future::BoxFuture<'static, ()> {
            panic!("before the future")
        });
        call("test", &before_future, 0).await;
        let in_future = handler(|_: usize| async { panic!("in the future") });
        call("test", &in_future, 0).await;
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn messages_to_ready_handlers_are_served_at_once_in_order() {
        use parking_lot::Mutex;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (typed, all) = (calls.clone(), calls.clone());
        let handlers = Handlers {
            on_chat_message: Some(handler(move |m: Message| {
                typed.lock().push(("typed", m.payload().clone()));
                if m.payload().as_ref() == b"boom" {
                    panic!("a typed handler panics");
                }
                std::future::ready(())
            })),
            on_message: Some(handler(move |m: Message| {
                all.lock().push(("all", m.payload().clone()));
                std::future::ready(())
            })),
            ..Default::default()
        };
        let chat = |body: &'static str| {
            Message::from(crate::proto::IncomingMessage {
                payload: body.into(),
                message_type: crate::message::MessageType::Chat as i32,
                ..Default::default()
            })
        };
        assert!(serve_message_now(&handlers, chat("hi")).is_none());
        // A panic in the first handler still lets the second run.
        assert!(serve_message_now(&handlers, chat("boom")).is_none());
        let seen: Vec<_> = calls.lock().iter().map(|(h, b)| (*h, b.clone())).collect();
        assert_eq!(
            seen,
            [
                ("typed", "hi".into()),
                ("all", "hi".into()),
                ("typed", "boom".into()),
                ("all", "boom".into())
            ]
        );
        // An asynchronous handler gets the message on the awaited path.
        let awaited = Handlers {
            on_message: Some(handler(|_m: Message| async {})),
            ..Default::default()
        };
        assert!(serve_message_now(&awaited, chat("later")).is_some());
    }
}
