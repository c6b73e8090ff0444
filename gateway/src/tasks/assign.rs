//! Handing tasks to connected sessions (§5.3, §5.4): pool consumers
//! (power of two choices on the number of tasks each holds), targets, and
//! orchestrators for `agent_startup` tasks. A task is claimed
//! (`pending -> assigned`) under the task lock before it is pushed, so it
//! goes to exactly one consumer.
//!
//! Pool consumers of `(workspace, implementation)` are the agents of that
//! workspace and implementation, the pooled task instances
//! (`ta::{workspace}::{implementation}::…`) and the services of that
//! implementation, all candidates of the same choice.

use std::sync::Arc;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{DownstreamMessage, TaskAssignment, downstream_message};

use super::Txn;
use super::index::Key;
use super::model::{HIBERNATION_CHECKPOINT_KEY, HIBERNATION_RESUME_KEY, Status, TaskRecord};
use super::startup::StartAgent;
use crate::context::Context;
use crate::context::handle::SessionHandle;

/// Most pending pool tasks handed to one consumer when it connects.
const POOL_PER_CONNECT: usize = 100;

/// Whether `s` consumes pool tasks of `(workspace, implementation)`:
/// agents and pooled task instances of that workspace and implementation,
/// and services of that implementation (any workspace) unless they opted
/// out.
fn consumes(s: &SessionHandle, workspace: &str, implementation: &str) -> bool {
    match &s.principal {
        Principal::Agent {
            workspace: w,
            implementation: i,
            ..
        }
        | Principal::Task {
            workspace: w,
            implementation: i,
            unique_specifier: None,
        } => w.as_str() == workspace && i.as_str() == implementation,
        Principal::Service {
            implementation: i,
            no_pool_consumer,
            ..
        } => !no_pool_consumer && i.as_str() == implementation,
        _ => false,
    }
}

fn serves(s: &SessionHandle, profile: &str) -> bool {
    matches!(&s.principal, Principal::Orchestrator { supported_profiles, .. }
        if supported_profiles.iter().any(|p| p == profile))
}

fn live(cx: &Context, pred: impl Fn(&SessionHandle) -> bool) -> Vec<Arc<SessionHandle>> {
    cx.sessions()
        .into_iter()
        .filter(|s| pred(s) && s.pusher.is_open())
        .collect()
}

fn random() -> usize {
    (uuid::Uuid::new_v4().as_u128() >> 64) as usize
}

fn wrap(a: TaskAssignment) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(downstream_message::Payload::TaskAssignment(Box::new(a))),
        active_extensions: Vec::new(),
    }
}

/// The `TaskAssignment` of a worker task (`assigned_at` in unix seconds,
/// like every task timestamp). A task woken from hibernation carries the
/// checkpoint to load and the session to resume.
fn assignment(r: &TaskRecord, now: i64) -> TaskAssignment {
    let hibernation = r.wait_spec.as_ref().and_then(|w| w.hibernation.as_ref());
    let kept = |key: &str| r.metadata.get(key).cloned().unwrap_or_default();
    TaskAssignment {
        task_id: r.id.clone(),
        task_type: r.task_type.clone(),
        assigned_to: r.assigned_to.clone(),
        metadata: r.metadata.clone(),
        assigned_at: now / 1000,
        payload: r.payload.clone().into(),
        task_class: r.task_class,
        checkpoint_key: hibernation
            .map(|h| h.checkpoint_key.clone())
            .unwrap_or_else(|| kept(HIBERNATION_CHECKPOINT_KEY)),
        resume_session_id: hibernation
            .map(|h| h.resume_session_id.clone())
            .unwrap_or_else(|| kept(HIBERNATION_RESUME_KEY)),
        ..Default::default()
    }
}

impl Txn<'_> {
    /// The least loaded of two random candidates.
    fn pick(&self, mut cands: Vec<Arc<SessionHandle>>) -> Option<Arc<SessionHandle>> {
        match cands.len() {
            0 => None,
            1 => cands.pop(),
            n => {
                let a = random() % n;
                let b = (a + 1 + random() % (n - 1)) % n;
                let load =
                    |s: &SessionHandle| self.st.table.count(&Key::Active(s.identity.clone()));
                let (ca, cb) = (cands[a].clone(), cands[b].clone());
                Some(if load(&cb) < load(&ca) { cb } else { ca })
            }
        }
    }

    /// Claims `r` for `s` and pushes the assignment.
    pub(crate) fn hand_to(&mut self, mut r: TaskRecord, s: &SessionHandle) -> TaskRecord {
        r.assigned_to = s.identity.clone();
        r.set_state(Status::Assigned, self.now);
        self.put(r.clone());
        self.fx.push(&s.pusher, wrap(assignment(&r, self.now)));
        r
    }

    /// Pushes the assignment of `r` (as stored) to `s`.
    pub(crate) fn push_assignment(&mut self, r: &TaskRecord, s: &SessionHandle) {
        self.fx.push(&s.pusher, wrap(assignment(r, self.now)));
    }

    /// Offers pending pool task `r` to a connected consumer; returns the
    /// task as stored (assigned when one was found).
    pub(crate) fn offer_pool(&mut self, r: TaskRecord) -> TaskRecord {
        let (ws, imp) = (r.workspace.clone(), r.target_implementation.clone());
        let cands = live(self.cx, |s| consumes(s, &ws, &imp));
        match self.pick(cands) {
            Some(s) => self.hand_to(r, &s),
            None => r,
        }
    }

    /// Offers pending startup task `r` to a connected orchestrator serving
    /// its profile; the assignment carries a fresh task token for the
    /// agent in `launch_params["auth_token"]`.
    pub(crate) fn offer_startup(&mut self, r: TaskRecord) -> TaskRecord {
        let profile = r.profile.clone();
        let cands = live(self.cx, |s| serves(s, &profile));
        match self.pick(cands) {
            Some(s) => self.hand_startup(r, &s),
            None => r,
        }
    }

    fn hand_startup(&mut self, mut r: TaskRecord, orc: &SessionHandle) -> TaskRecord {
        let (token, m) = self.st.tokens.mint(&r.startup_target(), &r.id, self.now);
        self.write(m);
        r.assigned_to = orc.identity.clone();
        r.set_state(Status::Assigned, self.now);
        self.put(r.clone());
        let mut launch_params = r.launch_params.clone();
        launch_params.insert("auth_token".to_string(), token);
        let a = TaskAssignment {
            task_id: r.id.clone(),
            task_type: r.task_type.clone(),
            assigned_to: r.assigned_to.clone(),
            metadata: r.metadata.clone(),
            assigned_at: self.now / 1000,
            profile: r.profile.clone(),
            launch_params,
            target_implementation: r.target_implementation.clone(),
            workspace: r.workspace.clone(),
            specifier: r.target_specifier.clone(),
            payload: r.payload.clone().into(),
            task_class: r.task_class,
            ..Default::default()
        };
        self.fx.push(&orc.pusher, wrap(a));
        r
    }

    /// Hands a newly connected session the work waiting for it: its
    /// pending targeted tasks, its assigned but unclaimed tasks again
    /// (at-least-once), pending pool tasks it consumes (up to 100), and,
    /// for orchestrators, pending startup tasks of their profiles.
    pub(crate) fn deliver_waiting_work(&mut self, s: &SessionHandle) {
        for id in self.st.table.ids(&Key::Assigned(s.identity.clone())) {
            if let Some(r) = self.get(&id).filter(|r| !r.is_startup()) {
                self.fx.push(&s.pusher, wrap(assignment(&r, self.now)));
            }
        }
        for id in self.st.table.ids(&Key::Target(s.identity.clone())) {
            if let Some(r) = self.get(&id) {
                self.hand_to(r, s);
            }
        }
        let pools = self.st.table.keys_where(|k| match k {
            Key::Pool(ws, imp) => consumes(s, ws, imp),
            _ => false,
        });
        let mut pending: Vec<TaskRecord> = pools
            .iter()
            .flat_map(|k| self.st.table.ids(k))
            .filter_map(|id| self.get(&id))
            .collect();
        pending.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        for r in pending.into_iter().take(POOL_PER_CONNECT) {
            self.hand_to(r, s);
        }
        if let Principal::Orchestrator {
            supported_profiles, ..
        } = &s.principal
        {
            for p in supported_profiles {
                for id in self.st.table.ids(&Key::Startup(p.clone())) {
                    if let Some(r) = self.get(&id) {
                        self.hand_startup(r, s);
                    }
                }
            }
        }
    }

    /// Offers a task that became `pending` again (RETRY), by its mode:
    /// pool tasks to a consumer, startup tasks to an orchestrator, targeted
    /// tasks to their target if it is connected (else, when their create
    /// started the target through an orchestrator, it is started again the
    /// same way); others wait (a self-assigned task can be claimed).
    pub(crate) fn redeliver(&mut self, r: TaskRecord) -> TaskRecord {
        use aether_protocol::proto::TaskAssignmentMode as M;
        if r.is_startup() {
            return self.offer_startup(r);
        }
        match M::try_from(r.mode) {
            Ok(M::Pool) => self.offer_pool(r),
            Ok(M::Targeted) => match self.cx.session_by_identity(&r.target_agent_id) {
                Some(s) => self.hand_to(r, &s),
                None => {
                    if r.orchestrated {
                        self.restart_target(&r);
                    }
                    r
                }
            },
            _ => r,
        }
    }

    /// Offers a task whose next run is due by itself (a scheduled retry, a
    /// woken hibernated task): as [`redeliver`](Self::redeliver), except
    /// that a self-assigned task goes back to its creator (pushed now when
    /// it is connected, else when it connects).
    pub(crate) fn requeue(&mut self, mut r: TaskRecord) -> TaskRecord {
        use aether_protocol::proto::TaskAssignmentMode as M;
        if r.is_startup() || matches!(M::try_from(r.mode), Ok(M::Pool | M::Targeted)) {
            return self.redeliver(r);
        }
        r.assigned_to = r.creator.clone();
        r.set_state(Status::Assigned, self.now);
        self.put(r.clone());
        if let Some(s) = self.cx.session_by_identity(&r.creator) {
            self.push_assignment(&r, &s);
        }
        r
    }

    /// Starts the offline target of `r` as its create did.
    fn restart_target(&mut self, r: &TaskRecord) {
        let Ok(aether_protocol::identity::Topic::Agent {
            workspace,
            implementation,
            specifier,
        }) = r.target_agent_id.parse()
        else {
            return;
        };
        let metadata = [
            ("trigger".to_string(), "task_retry".to_string()),
            ("target_task_id".to_string(), r.id.clone()),
        ]
        .into();
        let started = self.start_agent(StartAgent {
            unique_task: false,
            workspace: &workspace,
            implementation: &implementation,
            specifier: &specifier,
            defaults: &r.startup_defaults,
            overrides: &r.launch_params,
            creator: &r.creator,
            metadata,
        });
        if let Err(e) = started {
            tracing::warn!(task = %r.id, error = %e, "could not start the target of a task again");
        }
    }

    /// Returns the pool tasks `identity` held without claiming them to the
    /// pool (it left and is not back), offering each to another consumer.
    pub(crate) fn return_unclaimed(&mut self, identity: &str) {
        for id in self.st.table.ids(&Key::Assigned(identity.to_string())) {
            let Some(mut r) = self.get(&id) else { continue };
            if r.mode != aether_protocol::proto::TaskAssignmentMode::Pool as i32 || r.is_startup() {
                continue;
            }
            r.assigned_to.clear();
            r.set_state(Status::Pending, self.now);
            self.put(r.clone());
            self.offer_pool(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_carry_the_task() {
        let r = TaskRecord {
            id: "t".into(),
            task_type: "x".into(),
            assigned_to: "ag::w::i::s".into(),
            payload: b"p".to_vec(),
            ..Default::default()
        };
        let a = assignment(&r, 5_000);
        assert_eq!(a.assigned_at, 5);
        assert_eq!(&a.payload[..], b"p");
        assert_eq!(a.assigned_to, "ag::w::i::s");
    }
}
