//! Workflow operations (`workflow_op`): the gateway relays them to the
//! connected workflow engine and relays its answer back. The raw
//! operation is the escape hatch for every op type (rules, workflows,
//! schedules, executions, state machines, joins).

use super::AdminClient;
use crate::error::{Error, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{WorkflowOperation, WorkflowResponse};
use crate::stack::{OpRequest, Operation, Reply};

struct Workflow(WorkflowOperation);

impl Operation for Workflow {
    const NAME: &'static str = "workflow_op";
    type Output = WorkflowResponse;

    fn into_request(self) -> OpRequest {
        OpRequest::awaited(Self::NAME, Up::WorkflowOp(Box::new(self.0)))
    }

    fn decode(reply: Reply) -> Result<WorkflowResponse> {
        match reply.into_frame(Self::NAME)? {
            Down::WorkflowResponse(r) if r.success => Ok(*r),
            Down::WorkflowResponse(r) => Err(Error::refused(Self::NAME, "workflow", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

impl AdminClient {
    /// Sends `op` to the workflow engine through the gateway and returns
    /// its answer; an answer with `success` false (or no engine connected)
    /// is an error carrying the engine's text.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::proto::{workflow_operation::OpType, WorkflowOperation};
    /// let rules = admin
    ///     .workflow_op(WorkflowOperation {
    ///         op: OpType::ListRules as i32,
    ///         workspace: "finance".into(),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = rules; Ok(()) }
    /// ```
    pub async fn workflow_op(&self, op: WorkflowOperation) -> Result<WorkflowResponse> {
        self.client.run(Workflow(op)).await
    }
}
