//! What the rest of the gateway knows about a live session.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aether_protocol::identity::{Principal, PrincipalKind};
use aether_protocol::proto::Signal;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::audit::Actor;
use crate::authz::{Actor as AuthzActor, PrincipalId};
use crate::credential::Credential;
use crate::lane::Lane;
use crate::mailbox::Mailbox;
use crate::outbound::{Kill, Outlet};
use crate::push::Pusher;

/// Message of the status that ends a session from outside.
const DISCONNECTED_BY_ADMIN: &str = "session disconnected by administrator";

/// A live session, shared between its task and the registry.
pub(crate) struct SessionHandle {
    pub(crate) session_id: String,
    /// Identity string (the lock key).
    pub(crate) identity: String,
    /// Identity topic, if the principal has one.
    pub(crate) topic: Option<String>,
    pub(crate) principal: Principal,
    pub(crate) kind: PrincipalKind,
    /// Whether this session has the system-level rights of §6.1 (session
    /// administration, audit queries): administrators, and authenticated
    /// orchestrators and workflow engines.
    pub(crate) admin: bool,
    /// Whether this session is an administrator (admin key, a token with
    /// the `admin` scope, or dev mode): it may manage API tokens, and the
    /// authorization engine treats it as a superadmin.
    pub(crate) administrator: bool,
    /// How the session authenticated.
    pub(crate) credential: Credential,
    /// The principal as the ACL names it.
    pub(crate) acl: PrincipalId,
    /// Current workspace (users change it with `SwitchWorkspace`).
    pub(crate) workspace: Mutex<String>,
    /// Broadcast lanes this session is subscribed to.
    pub(crate) lanes: Mutex<Vec<String>>,
    pub(crate) connected_at_unix_s: i64,
    pub(crate) connected_at: Instant,
    pub(crate) mailbox: Option<Arc<Mailbox>>,
    outlet: Arc<Outlet>,
    /// Cancelled when the session is ended from outside (the outlet's).
    pub(crate) cancel: CancellationToken,
    /// Pushes (task assignments, progress, task events) to this session.
    pub(crate) pusher: Pusher,
    /// The task this worker was started for (it connected with a task token).
    pub(crate) worker_task: Option<String>,
}

/// Fields needed to build a [`SessionHandle`].
pub(crate) struct NewSession {
    pub(crate) session_id: String,
    pub(crate) identity: String,
    pub(crate) topic: Option<String>,
    pub(crate) principal: Principal,
    pub(crate) admin: bool,
    pub(crate) administrator: bool,
    pub(crate) credential: Credential,
    pub(crate) mailbox: Option<Arc<Mailbox>>,
    pub(crate) outlet: Arc<Outlet>,
    pub(crate) pusher: Pusher,
    pub(crate) worker_task: Option<String>,
}

impl SessionHandle {
    /// A handle for a session that is being admitted.
    pub(crate) fn new(n: NewSession) -> Self {
        let workspace = n.principal.workspace().unwrap_or_default().to_string();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let acl = PrincipalId::of_session(&n.principal, &n.identity);
        SessionHandle {
            session_id: n.session_id,
            identity: n.identity,
            topic: n.topic,
            kind: n.principal.kind(),
            acl,
            principal: n.principal,
            admin: n.admin,
            administrator: n.administrator,
            credential: n.credential,
            workspace: Mutex::new(workspace),
            lanes: Mutex::new(Vec::new()),
            connected_at_unix_s: now,
            connected_at: Instant::now(),
            mailbox: n.mailbox,
            cancel: n.outlet.cancel_token().clone(),
            outlet: n.outlet,
            pusher: n.pusher,
            worker_task: n.worker_task,
        }
    }

    /// Ends the session: its stream yields `signal` (if any), then ends with
    /// `status`; its task stops reading.
    pub(crate) fn terminate(&self, signal: Option<Signal>, status: Status) {
        // Also cancels `cancel`.
        self.outlet.kill(Kill { signal, status });
    }

    /// Whether the session was ended from outside (cheap: no lock, unlike
    /// polling `cancel`).
    pub(crate) fn is_terminated(&self) -> bool {
        self.outlet.is_killed()
    }

    /// Ends the session with CANCELLED "session disconnected by administrator".
    pub(crate) fn cancel_by_admin(&self, signal: Option<Signal>) {
        self.terminate(signal, Status::cancelled(DISCONNECTED_BY_ADMIN));
    }

    /// The lane proxy and tunnel frames take to this session's stream.
    pub(crate) fn lane(&self) -> &Lane {
        &self.outlet.lane
    }

    /// This session as the authorization engine sees it, in `workspace`
    /// (its current one): a superadmin if it is an administrator; with the
    /// system-level rights of §6.1 if it has them.
    pub(crate) fn authz_actor<'a>(&'a self, workspace: &'a str) -> AuthzActor<'a> {
        AuthzActor::direct(&self.acl, workspace, self.administrator).with_system(self.admin)
    }

    /// This session as the actor of an audit entry.
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            actor_type: actor_type(self.kind).to_string(),
            actor_id: self.identity.clone(),
            session_id: self.session_id.clone(),
            workspace: self.workspace.lock().clone(),
        }
    }

    /// The user id of a user session.
    pub(crate) fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User { user_id, .. } => Some(user_id),
            _ => None,
        }
    }
}

/// The audit actor type of a principal kind (snake case).
pub(crate) fn actor_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Agent => "agent",
        PrincipalKind::UniqueTask | PrincipalKind::PooledTask => "task",
        PrincipalKind::User => "user",
        PrincipalKind::Orchestrator => "orchestrator",
        PrincipalKind::WorkflowEngine => "workflow_engine",
        PrincipalKind::MetricsBridge => "metrics_bridge",
        PrincipalKind::Bridge => "bridge",
        PrincipalKind::Service => "service",
        _ => "unknown",
    }
}
