//! The hub: one gateway's state, wired together. It holds the shared
//! [`Context`] (configuration, counters, mailboxes, live sessions) and the
//! domain components beside it (KV, checkpoints, tasks, the agent
//! registry, workspaces, the HTTP proxy and tunnels, authentication, the
//! workflow relay), each loaded from the durable [`Store`] (the proxy
//! holds nothing durable), and hands every domain what it needs of the
//! others (the tasks component gets the context and the checkpoints).
//! Sessions and the server sit above it.
//!
//! Locks are never held across an await. Lock order: the task lock, then
//! the session directory, then a mailbox; never the other way round. The
//! KV, checkpoint, registry and workspace locks come after any of those
//! and take no other lock but the ACL's and the store's; the ACL lock
//! (authorization decisions) takes only the store's (a journal
//! submission), which is always last. The proxy table lock is taken alone
//! or before the directory (read) and the sessions' lanes, which take no
//! other lock.

use std::sync::Arc;

use crate::audit::Audit;
use crate::auth::{Auth, SetupError};
use crate::authz::Authz;
use crate::checkpoint::Checkpoints;
use crate::config::GatewayConfig;
use crate::context::Context;
use crate::error::GatewayError;
use crate::kv::Kv;
use crate::mailbox::MailboxStore;
use crate::proxy::Proxy;
use crate::registry::Registry as AgentRegistry;
use crate::store::Store;
use crate::tasks::Tasks;
use crate::workflow::WorkflowRelay;
use crate::workspaces::Workspaces;

/// Shared state of one gateway.
pub(crate) struct Hub {
    /// Configuration, counters, mailboxes and the live sessions.
    pub(crate) cx: Arc<Context>,
    /// The KV store (§3).
    pub(crate) kv: Kv,
    /// Checkpoints (§4).
    pub(crate) checkpoints: Arc<Checkpoints>,
    /// Tasks and orchestration (§5).
    pub(crate) tasks: Arc<Tasks>,
    /// The agent registry (§6.4).
    pub(crate) agents: AgentRegistry,
    /// HTTP proxying and tunnels (§8).
    pub(crate) proxy: Arc<Proxy>,
    /// Created workspaces (§6.3).
    pub(crate) workspaces: Workspaces,
    /// Workflow operations relayed to the workflow engine (§6.6).
    pub(crate) workflows: Arc<WorkflowRelay>,
    /// Authentication: API tokens, mapped certificates, the throttle.
    pub(crate) auth: Auth,
    /// Durable state (memory-only without a data directory).
    pub(crate) store: Store,
}

impl Hub {
    /// A hub for `config`, with the state journaled in `store`.
    pub(crate) fn new(config: GatewayConfig, store: Store) -> Result<Self, GatewayError> {
        let data_dir = config.data_dir.clone();
        let stored = |e| GatewayError::from_store(data_dir.as_deref(), e);
        let auth = Auth::new(&config, store.clone()).map_err(|e| match e {
            SetupError::Config(why) => GatewayError::Config(why),
            SetupError::Store(e) => stored(e),
        })?;
        let limits = &config.limits;
        let workflow_timeout = limits.workflow_timeout;
        let mailboxes = MailboxStore::restore(limits.into(), &store).map_err(stored)?;
        let kv = Kv::load(store.clone(), limits.max_kv_value_bytes).map_err(stored)?;
        let checkpoints = Arc::new(
            Checkpoints::load(store.clone(), limits.max_checkpoint_bytes).map_err(stored)?,
        );
        let audit = Audit::load(store.clone(), limits.audit_max_entries).map_err(stored)?;
        let authz = Arc::new(Authz::load(store.clone()).map_err(stored)?);
        let cx = Arc::new(Context::new(config, mailboxes, audit, authz));
        let tasks =
            Arc::new(Tasks::load(store.clone(), cx.clone(), checkpoints.clone()).map_err(stored)?);
        let agents = AgentRegistry::load(store.clone()).map_err(stored)?;
        let proxy = Arc::new(Proxy::new(cx.clone()));
        let workspaces = Workspaces::load(store.clone()).map_err(stored)?;
        let workflows = WorkflowRelay::new(workflow_timeout);
        Ok(Hub {
            workflows,
            workspaces,
            proxy,
            cx,
            kv,
            checkpoints,
            tasks,
            agents,
            auth,
            store,
        })
    }

    /// Removes expired KV entries and checkpoints and what departed
    /// identities left behind, ends the sessions of expired API tokens and
    /// forgets stale throttle records.
    pub(crate) fn sweep(&self) {
        let now = crate::expiring::unix_ms();
        self.kv.sweep(now);
        self.checkpoints.sweep(now);
        self.cx.reclaim();
        self.auth.sweep();
        crate::auth::ops::end_expired(&self.auth, &self.cx);
    }
}
