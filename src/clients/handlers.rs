//! Handler registration: one slot per kind of push; registering again
//! replaces the handler.

use std::future::Future;

use super::client::Client;
use super::principal::PrincipalType;
use crate::connection::SessionInfo;
use crate::error::Error;
use crate::handlers::{Handler, Handlers, handler};
use crate::message::Message;
use crate::proto;

impl<P: PrincipalType> Client<P> {
    fn set_handler<T>(&self, slot: fn(&mut Handlers) -> &mut Option<Handler<T>>, h: Handler<T>) {
        self.core.dispatch.update(|hs| *slot(hs) = Some(h));
    }

    /// Every message, after its typed handler (if any).
    pub fn on_message<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_message, handler(f));
        self
    }

    /// CHAT messages.
    pub fn on_chat_message<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_chat_message, handler(f));
        self
    }

    /// CONTROL messages.
    pub fn on_control_message<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_control_message, handler(f));
        self
    }

    /// TOOL_CALL messages.
    pub fn on_tool_call<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_tool_call, handler(f));
        self
    }

    /// EVENT messages.
    pub fn on_event<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_event, handler(f));
        self
    }

    /// METRIC messages.
    pub fn on_metric<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_metric, handler(f));
        self
    }

    /// The `ConfigSnapshot` pushed after the ack (agents and tasks).
    pub fn on_config<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::ConfigSnapshot) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_config, handler(f));
        self
    }

    /// Signals (forced or graceful disconnects).
    pub fn on_signal<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::Signal) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_signal, handler(f));
        self
    }

    /// Gateway errors not tied to a call (e.g. a rejected send), and
    /// [`Lagged`](crate::ErrorKind::Lagged) errors when pushes were lost.
    pub fn on_error<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(Error) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_error, handler(f));
        self
    }

    /// The connection came up (once per transition).
    pub fn on_connect<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(SessionInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_connect, handler(f));
        self
    }

    /// The connection went down, with the reason (once per transition).
    pub fn on_disconnect<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_disconnect, handler(f));
        self
    }

    /// Task assignments pushed to this client.
    pub fn on_task_assignment<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskAssignment) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_task_assignment, handler(f));
        self
    }

    /// Progress updates.
    pub fn on_progress<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::ProgressUpdate) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_progress, handler(f));
        self
    }

    /// Task subscription events (every subscription of this client).
    pub fn on_task_event<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_task_event, handler(f));
        self
    }

    /// A task of this client was hibernated (its worker may stop).
    pub fn on_task_hibernated<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskHibernated) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_task_hibernated, handler(f));
        self
    }

    /// Authority request lifecycle events pushed to this client (a request
    /// it made, or one it must decide, was created, approved, denied,
    /// expired or cancelled).
    pub fn on_authority_request_event<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::AuthorityRequestEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_authority_request_event, handler(f));
        self
    }

    /// An authority grant this client holds or acts under was revoked.
    pub fn on_authority_grant_revocation<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::AuthorityGrantRevocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_authority_grant_revocation, handler(f));
        self
    }

    /// Workflow operations the gateway forwards to this client (the
    /// workflow engine), to be answered with a `WorkflowResponse`.
    pub fn on_workflow_op<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::WorkflowOperation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.set_handler(|h| &mut h.on_workflow_op, handler(f));
        self
    }

    /// The reference SDK's name for [`on_task_event`](Self::on_task_event):
    /// every task event of every subscription of this client.
    pub fn register_task_event_handler<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_task_event(f)
    }
}
