//! Task, progress and registry helpers over a raw stream: a [`Peer`] keeps
//! the frames it was not asked for, so interleaved pushes are never lost.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentResponse, ConfigSnapshot, ConnectionAck, CreateTaskRequest,
    CreateTaskResponse, ErrorResponse, InitConnection, ProgressReport, ProgressUpdate,
    TaskAssignment, TaskEvent, TaskFilter, TaskInfo, TaskOperation, TaskOperationResponse,
    TaskQuery, TaskQueryResponse, TaskSubscriptionOperation, TaskSubscriptionOperationResponse,
    WaitSpec, downstream_message::Payload, task_operation, task_query, upstream_message,
};
use tonic::Status;

use crate::common::{Conn, init, up};

/// A stream plus the frames not consumed yet.
pub struct Peer {
    pub c: Conn,
    stash: VecDeque<Payload>,
    seq: u64,
}

/// `Payload` extractors.
pub fn assignment(p: &Payload) -> Option<TaskAssignment> {
    match p {
        Payload::TaskAssignment(a) => Some(*a.clone()),
        _ => None,
    }
}

pub fn event(p: &Payload) -> Option<TaskEvent> {
    match p {
        Payload::TaskEvent(e) => Some(*e.clone()),
        _ => None,
    }
}

pub fn progress(p: &Payload) -> Option<ProgressUpdate> {
    match p {
        Payload::ProgressUpdate(u) => Some(*u.clone()),
        _ => None,
    }
}

pub fn error(p: &Payload) -> Option<ErrorResponse> {
    match p {
        Payload::Error(e) => Some(*e.clone()),
        _ => None,
    }
}

impl Peer {
    pub fn new(c: Conn) -> Peer {
        Peer {
            c,
            stash: VecDeque::new(),
            seq: 0,
        }
    }

    /// Connects as `p` (agents and tasks: the config snapshot is consumed).
    pub async fn connect(url: &str, p: &Principal) -> Peer {
        Peer::new(Conn::connect(url, p).await.0)
    }

    /// Connects with `init`; returns the ack and, for agents and tasks, the
    /// config snapshot.
    pub async fn connect_with(
        url: &str,
        init: InitConnection,
    ) -> Result<(Peer, ConnectionAck, Option<ConfigSnapshot>), Status> {
        let agent_or_task = matches!(
            init.client_type,
            Some(aether_protocol::proto::init_connection::ClientType::Agent(
                _
            )) | Some(aether_protocol::proto::init_connection::ClientType::Task(_))
        );
        let mut c = Conn::open(url, init).await;
        let ack = match c.next().await? {
            Some(m) => match m.payload {
                Some(Payload::ConnectionAck(a)) => a,
                other => panic!("expected ack, got {other:?}"),
            },
            None => panic!("stream ended before the ack"),
        };
        let config = if agent_or_task {
            match c.payload().await {
                Payload::Config(cfg) => Some(*cfg),
                other => panic!("expected config, got {other:?}"),
            }
        } else {
            None
        };
        Ok((Peer::new(c), *ack, config))
    }

    /// Connects as `p` with `credentials`.
    pub async fn connect_with_credentials(
        url: &str,
        p: &Principal,
        credentials: &[(&str, &str)],
    ) -> Result<(Peer, Option<ConfigSnapshot>), Status> {
        let mut i = init(p);
        i.credentials = credentials
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>();
        Peer::connect_with(url, i).await.map(|(p, _, c)| (p, c))
    }

    /// The first frame (stashed or new) `f` accepts; others are stashed.
    pub async fn take<T>(&mut self, f: impl Fn(&Payload) -> Option<T>) -> T {
        if let Some(i) = self.stash.iter().position(|p| f(p).is_some()) {
            let p = self.stash.remove(i).expect("index in range");
            return f(&p).expect("matched");
        }
        loop {
            let p = self.c.payload().await;
            match f(&p) {
                Some(t) => return t,
                None => self.stash.push_back(p),
            }
        }
    }

    /// Waits until the gateway processed everything sent so far, stashing
    /// what arrived meanwhile.
    pub async fn sync(&mut self) {
        let seen = self.c.barrier().await;
        self.stash.extend(seen);
    }

    /// Every stashed frame `f` accepts (after a sync), removed from the stash.
    pub async fn drain<T>(&mut self, f: impl Fn(&Payload) -> Option<T>) -> Vec<T> {
        self.sync().await;
        let mut out = Vec::new();
        let mut keep = VecDeque::new();
        for p in self.stash.drain(..) {
            match f(&p) {
                Some(t) => out.push(t),
                None => keep.push_back(p),
            }
        }
        self.stash = keep;
        out
    }

    fn rid(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{}", self.seq)
    }

    pub async fn send(&self, p: upstream_message::Payload) {
        self.c.send(up(p)).await;
    }

    /// Creates a task (a request id is added when missing).
    pub async fn create(&mut self, mut req: CreateTaskRequest) -> CreateTaskResponse {
        if req.request_id.is_empty() {
            req.request_id = self.rid("create");
        }
        let rid = req.request_id.clone();
        self.send(upstream_message::Payload::CreateTask(Box::new(req)))
            .await;
        *self
            .take(|p| match p {
                Payload::CreateTask(r) if r.request_id == rid => Some(r.clone()),
                _ => None,
            })
            .await
    }

    /// Creates a task and returns its id (it must succeed).
    pub async fn create_ok(&mut self, req: CreateTaskRequest) -> String {
        let r = self.create(req).await;
        assert!(r.success, "create failed: {r:?}");
        r.task_id
    }

    pub async fn query(&mut self, mut q: TaskQuery) -> TaskQueryResponse {
        q.request_id = self.rid("query");
        let rid = q.request_id.clone();
        self.send(upstream_message::Payload::TaskQuery(Box::new(q)))
            .await;
        *self
            .take(|p| match p {
                Payload::TaskQuery(r) if r.request_id == rid => Some(r.clone()),
                _ => None,
            })
            .await
    }

    /// GET; `None` when the gateway says "task not found".
    pub async fn get(&mut self, id: &str) -> Option<TaskInfo> {
        let r = self
            .query(TaskQuery {
                op: task_query::OpType::Get as i32,
                task_id: id.to_string(),
                ..Default::default()
            })
            .await;
        if r.success {
            r.task
        } else {
            assert_eq!(r.error, "task not found");
            None
        }
    }

    pub async fn list(&mut self, filter: TaskFilter) -> TaskQueryResponse {
        self.query(TaskQuery {
            op: task_query::OpType::List as i32,
            filter: Some(filter),
            ..Default::default()
        })
        .await
    }

    pub async fn op_with(
        &mut self,
        op: task_operation::OpType,
        id: &str,
        reason: &str,
        wait_spec: Option<WaitSpec>,
    ) -> TaskOperationResponse {
        let rid = self.rid("op");
        self.send(upstream_message::Payload::TaskOp(Box::new(TaskOperation {
            op: op as i32,
            task_id: id.to_string(),
            reason: reason.to_string(),
            request_id: rid.clone(),
            wait_spec,
        })))
        .await;
        *self
            .take(|p| match p {
                Payload::TaskOp(r) if r.request_id == rid => Some(r.clone()),
                _ => None,
            })
            .await
    }

    pub async fn op(&mut self, op: task_operation::OpType, id: &str) -> TaskOperationResponse {
        self.op_with(op, id, "", None).await
    }

    pub async fn subscription(
        &mut self,
        mut op: TaskSubscriptionOperation,
    ) -> TaskSubscriptionOperationResponse {
        op.client_request_id = self.rid("sub");
        let rid = op.client_request_id.clone();
        self.send(upstream_message::Payload::TaskSubscriptionOp(Box::new(op)))
            .await;
        *self
            .take(|p| match p {
                Payload::TaskSubscriptionResponse(r) if r.client_request_id == rid => {
                    Some(r.clone())
                }
                _ => None,
            })
            .await
    }

    pub async fn agent_op(&mut self, mut op: AgentOperation) -> AgentResponse {
        op.request_id = self.rid("agent");
        let rid = op.request_id.clone();
        self.send(upstream_message::Payload::AgentOp(Box::new(op)))
            .await;
        *self
            .take(|p| match p {
                Payload::Agent(r) if r.request_id == rid => Some(r.clone()),
                _ => None,
            })
            .await
    }

    pub async fn report(&self, r: ProgressReport) {
        self.send(upstream_message::Payload::Progress(Box::new(r)))
            .await;
    }

    pub async fn assignment(&mut self) -> TaskAssignment {
        self.take(assignment).await
    }

    pub async fn event(&mut self) -> TaskEvent {
        self.take(event).await
    }

    pub async fn progress(&mut self) -> ProgressUpdate {
        self.take(progress).await
    }

    pub async fn error(&mut self) -> ErrorResponse {
        self.take(error).await
    }
}

/// A SELF_ASSIGN create in `ws`.
pub fn self_assign(ws: &str, task_type: &str) -> CreateTaskRequest {
    CreateTaskRequest {
        task_type: task_type.to_string(),
        workspace: ws.to_string(),
        ..Default::default()
    }
}

/// A POOL create for `implementation` in `ws`.
pub fn pool(ws: &str, implementation: &str) -> CreateTaskRequest {
    CreateTaskRequest {
        task_type: "work".into(),
        workspace: ws.to_string(),
        assignment_mode: aether_protocol::proto::TaskAssignmentMode::Pool as i32,
        target_implementation: implementation.to_string(),
        ..Default::default()
    }
}

/// A TARGETED create for `target`.
pub fn targeted(target: &str) -> CreateTaskRequest {
    CreateTaskRequest {
        task_type: "work".into(),
        assignment_mode: aether_protocol::proto::TaskAssignmentMode::Targeted as i32,
        target_agent_id: target.to_string(),
        ..Default::default()
    }
}
