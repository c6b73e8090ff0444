//! The task operations: one type per request, each knowing its reply.
//!
//! Queries are safe to repeat (the retry layer may resend them);
//! operations and creates are not, except a create with an idempotency key
//! and CLAIM.

use super::query::{TaskPage, TaskQuery};
use super::spec::{CreatedTask, TaskSpec};
use super::subscription::SubscribeOptions;
use crate::connection::{Expect, ReplyStream, StreamBounds};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    self, TaskInfo, task_operation::OpType as TaskOpType, task_query::OpType as QueryOp,
    task_subscription_operation::OpType as SubscriptionOp,
};
use crate::stack::{OpRequest, Operation, Reply};

/// The subject of every task refusal: `NotFound` only when the task itself
/// is missing or hidden (the gateway's `"task not found"`).
const SUBJECT: &str = "task";

/// CREATE: the created task, or `Rejected` with the gateway's error code.
pub(crate) struct CreateTask(pub(crate) TaskSpec);

impl Operation for CreateTask {
    const NAME: &'static str = "create_task";
    type Output = CreatedTask;

    fn into_request(self) -> OpRequest {
        let spec = self.0;
        let mut req = OpRequest::awaited(Self::NAME, Up::CreateTask(Box::new(spec.to_proto())))
            .idempotent(spec.is_safe_to_repeat());
        if let Some(t) = spec.call_timeout() {
            req = req.timeout(t);
        }
        req
    }

    fn decode(reply: Reply) -> Result<CreatedTask> {
        match reply.into_frame(Self::NAME)? {
            Down::CreateTask(r) => CreatedTask::from_response(*r),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

fn query_request(
    name: &'static str,
    op: QueryOp,
    task_id: String,
    filter: Option<proto::TaskFilter>,
) -> OpRequest {
    OpRequest::awaited(
        name,
        Up::TaskQuery(Box::new(proto::TaskQuery {
            op: op as i32,
            task_id,
            filter,
            request_id: String::new(),
        })),
    )
    .idempotent(true)
}

fn query_reply(name: &str, reply: Reply) -> Result<proto::TaskQueryResponse> {
    match reply.into_frame(name)? {
        Down::TaskQuery(r) if r.success => Ok(*r),
        Down::TaskQuery(r) => Err(Error::refused(name, SUBJECT, &r.error)),
        other => Err(Error::unexpected(name, &other)),
    }
}

/// GET: one task (`NotFound` when it is missing or hidden).
pub(crate) struct GetTask(pub(crate) String);

impl Operation for GetTask {
    const NAME: &'static str = "get_task";
    type Output = TaskInfo;

    fn into_request(self) -> OpRequest {
        query_request(Self::NAME, QueryOp::Get, self.0, None)
    }

    fn decode(reply: Reply) -> Result<TaskInfo> {
        query_reply(Self::NAME, reply)?
            .task
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "get_task: task not found"))
    }
}

/// LIST: one page of tasks.
pub(crate) struct QueryTasks(pub(crate) TaskQuery);

impl Operation for QueryTasks {
    const NAME: &'static str = "query_tasks";
    type Output = TaskPage;

    fn into_request(self) -> OpRequest {
        query_request(
            Self::NAME,
            QueryOp::List,
            String::new(),
            Some(self.0.to_proto()),
        )
    }

    fn decode(reply: Reply) -> Result<TaskPage> {
        Ok(TaskPage::from_response(query_reply(Self::NAME, reply)?))
    }
}

/// One of the nine task operations: the task after it (`None` when the
/// gateway did not include it).
pub(crate) struct TaskOp {
    op: TaskOpType,
    task_id: String,
    reason: String,
    wait_spec: Option<proto::WaitSpec>,
}

impl TaskOp {
    pub(crate) fn new(
        op: TaskOpType,
        task_id: &str,
        reason: String,
        wait_spec: Option<proto::WaitSpec>,
    ) -> Self {
        TaskOp {
            op,
            task_id: task_id.to_string(),
            reason,
            wait_spec,
        }
    }
}

impl Operation for TaskOp {
    const NAME: &'static str = "task_op";
    type Output = Option<TaskInfo>;

    fn into_request(self) -> OpRequest {
        // CLAIM is idempotent at the gateway; the other operations are not.
        let idempotent = self.op == TaskOpType::Claim;
        OpRequest::awaited(
            Self::NAME,
            Up::TaskOp(Box::new(proto::TaskOperation {
                op: self.op as i32,
                task_id: self.task_id,
                reason: self.reason,
                request_id: String::new(),
                wait_spec: self.wait_spec,
            })),
        )
        .idempotent(idempotent)
    }

    fn decode(reply: Reply) -> Result<Option<TaskInfo>> {
        match reply.into_frame(Self::NAME)? {
            Down::TaskOp(r) if r.success => Ok(r.task),
            Down::TaskOp(r) => {
                let why = if r.error.is_empty() {
                    &r.message
                } else {
                    &r.error
                };
                Err(Error::refused(Self::NAME, SUBJECT, why))
            }
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

/// PROGRESS: fire-and-forget.
pub(crate) struct ReportProgress(pub(crate) proto::ProgressReport);

impl Operation for ReportProgress {
    const NAME: &'static str = "progress";
    type Output = ();

    fn into_request(self) -> OpRequest {
        OpRequest::fire_and_forget(Self::NAME, Up::Progress(Box::new(self.0)))
    }

    fn decode(_: Reply) -> Result<()> {
        Ok(())
    }
}

/// SUBSCRIBE: the subscription id, and the stream of its events (keyed by
/// the reader as soon as the reply names it).
#[derive(Clone)]
pub(crate) struct SubscribeTask {
    task_id: String,
    recursive: bool,
    start: i64,
    bounds: StreamBounds,
}

impl SubscribeTask {
    pub(crate) fn new(task_id: &str, opts: &SubscribeOptions, start: i64) -> Self {
        SubscribeTask {
            task_id: task_id.to_string(),
            recursive: opts.recursive,
            start,
            bounds: StreamBounds::new(opts.buffer, 16 * 1024 * 1024),
        }
    }
}

impl Operation for SubscribeTask {
    const NAME: &'static str = "subscribe_to_task";
    type Output = (String, ReplyStream);

    fn into_request(self) -> OpRequest {
        OpRequest::new(
            Self::NAME,
            Up::TaskSubscriptionOp(Box::new(proto::TaskSubscriptionOperation {
                op: SubscriptionOp::Subscribe as i32,
                task_id: self.task_id,
                recursive: self.recursive,
                start_timestamp_unix_ms: self.start,
                ..Default::default()
            })),
            Expect::ReplyThenStream(self.bounds),
        )
    }

    fn decode(reply: Reply) -> Result<(String, ReplyStream)> {
        let Reply::Subscribed(frame, stream) = reply else {
            return Err(Error::protocol("subscribe_to_task: no subscription stream"));
        };
        match frame {
            Down::TaskSubscriptionResponse(r) if r.success && !r.subscription_id.is_empty() => {
                Ok((r.subscription_id, stream))
            }
            Down::TaskSubscriptionResponse(r) if r.success => Err(Error::protocol(
                "subscribe_to_task: the gateway returned no subscription id",
            )),
            Down::TaskSubscriptionResponse(r) => Err(Error::refused(Self::NAME, SUBJECT, &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

/// UNSUBSCRIBE.
pub(crate) struct UnsubscribeTask(pub(crate) String);

impl Operation for UnsubscribeTask {
    const NAME: &'static str = "unsubscribe_from_task";
    type Output = ();

    fn into_request(self) -> OpRequest {
        OpRequest::awaited(
            Self::NAME,
            Up::TaskSubscriptionOp(Box::new(proto::TaskSubscriptionOperation {
                op: SubscriptionOp::Unsubscribe as i32,
                subscription_id: self.0,
                ..Default::default()
            })),
        )
    }

    fn decode(reply: Reply) -> Result<()> {
        match reply.into_frame(Self::NAME)? {
            Down::TaskSubscriptionResponse(r) if r.success => Ok(()),
            Down::TaskSubscriptionResponse(r) => Err(Error::refused(Self::NAME, SUBJECT, &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_safety_follows_the_gateway() {
        assert!(GetTask("t".into()).into_request().is_idempotent());
        assert!(QueryTasks(TaskQuery::new()).into_request().is_idempotent());
        assert!(
            TaskOp::new(TaskOpType::Claim, "t", String::new(), None)
                .into_request()
                .is_idempotent()
        );
        assert!(
            !TaskOp::new(TaskOpType::Complete, "t", String::new(), None)
                .into_request()
                .is_idempotent()
        );
        assert!(
            !ReportProgress(Default::default())
                .into_request()
                .expects_reply()
        );
        let sub = SubscribeTask::new("t", &SubscribeOptions::new(), 0).into_request();
        assert!(matches!(sub.expect(), Expect::ReplyThenStream(_)));
    }

    #[test]
    fn refusals_name_a_missing_task_only_when_it_is_the_task() {
        let refused = |error: &str| {
            Reply::Frame(Down::TaskOp(Box::new(proto::TaskOperationResponse {
                error: error.into(),
                ..Default::default()
            })))
        };
        assert_eq!(
            TaskOp::decode(refused("task not found"))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            TaskOp::decode(refused("dependency not found: t2"))
                .unwrap_err()
                .kind(),
            ErrorKind::Rejected
        );
    }
}
