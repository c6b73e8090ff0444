//! Which authorization context an operation carries: the auth hook.
//!
//! For each frame that can carry an `AuthorizationContext` and has none
//! yet, the stack's auth layer stamps, in order of precedence:
//!
//! 1. the context of the innermost [`on_behalf_of`] scope the call runs in
//!    (per call, for any operation: sends, KV, tasks, HTTP, tunnels...);
//! 2. else what the client's [`AuthorizationHook`] says (by default
//!    [`StaticAuthorization`], the builder's `authorization(ctx)`, or none).
//!
//! A context set on the operation itself (`OutgoingMessage::authorization`,
//! `TaskSpec::authorization`, ...) always wins.
//!
//! ```no_run
//! # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
//! use aether_client::stack::authority::{on_behalf_of, obo_context};
//! use aether_client::admin::AclPrincipal;
//! use aether_client::KvScope;
//! let ctx = obo_context(&AclPrincipal::user("alice"), "grant-123");
//! let v = on_behalf_of(ctx, agent.kv_get("report", &KvScope::Workspace)).await?;
//! # let _ = v; Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;

use crate::admin::AclPrincipal;
use crate::connection::OpRequest;
use crate::proto::{AuthorizationContext, PrincipalRef};

tokio::task_local! {
    static SCOPED: Arc<AuthorizationContext>;
}

/// Decides the authorization context of the operations of a client that
/// have none of their own (see the [module docs](self)). Replace the
/// default with the client builder's `authorization_hook`.
pub trait AuthorizationHook: Send + Sync + 'static {
    /// The context for `req`, or `None` to send it without one.
    fn authorization(&self, req: &OpRequest) -> Option<AuthorizationContext>;
}

impl<F> AuthorizationHook for F
where
    F: Fn(&OpRequest) -> Option<AuthorizationContext> + Send + Sync + 'static,
{
    fn authorization(&self, req: &OpRequest) -> Option<AuthorizationContext> {
        self(req)
    }
}

/// The default hook: one fixed context (or none) for every operation.
#[derive(Debug, Clone, Default)]
pub struct StaticAuthorization(pub Option<AuthorizationContext>);

impl AuthorizationHook for StaticAuthorization {
    fn authorization(&self, _req: &OpRequest) -> Option<AuthorizationContext> {
        self.0.clone()
    }
}

/// An on-behalf-of context: act for `subject` under the authority grant
/// `grant_id` (which must name the caller as its delegate).
pub fn obo_context(subject: &AclPrincipal, grant_id: &str) -> AuthorizationContext {
    AuthorizationContext {
        authority_mode: "on_behalf_of".to_string(),
        subject: Some(PrincipalRef {
            principal_type: subject.kind.clone(),
            principal_id: subject.id.clone(),
        }),
        grant_id: grant_id.to_string(),
        resolved: None,
    }
}

/// Runs `f` with every operation it sends that has no context of its own
/// carrying `ctx` (async clients; the future is polled inside the scope,
/// so pass the call itself: `on_behalf_of(ctx, client.kv_get(..))`).
pub async fn on_behalf_of<F: Future>(ctx: AuthorizationContext, f: F) -> F::Output {
    SCOPED.scope(Arc::new(ctx), f).await
}

/// [`on_behalf_of`] for synchronous code: the blocking clients' calls and
/// the async clients' `_nowait` methods made inside `f` carry `ctx`.
pub fn on_behalf_of_sync<R>(ctx: AuthorizationContext, f: impl FnOnce() -> R) -> R {
    SCOPED.sync_scope(Arc::new(ctx), f)
}

/// The context of the scope the current call runs in, if any.
pub(crate) fn scoped() -> Option<Arc<AuthorizationContext>> {
    SCOPED.try_with(Arc::clone).ok()
}
