//! Access checks (`AccessCheck`, `BatchAccessCheck`): ask the gateway
//! what the caller (or, with an on-behalf-of context, its subject) may do
//! on a resource, and get a receipt. Any client may check its own access.

use super::AdminClient;
use super::acl::{AccessLevel, AclPrincipal, AclResource};
use crate::error::{Error, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    AccessCheckOperation, AccessDecisionReceipt, BatchAccessCheckOperation, ResourceAccessRequest,
};
use crate::stack::{OpRequest, Operation, Reply};

/// One question: may I do `operation` on `resource` at `required`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// The resource.
    pub resource: AclResource,
    /// What the caller means to do (free text, echoed in the receipt).
    pub operation: String,
    /// The workspace the resource lives in (a grant's workspace scope
    /// applies to it).
    pub workspace: String,
    /// The level needed.
    pub required: AccessLevel,
}

impl AccessRequest {
    /// `required` on `resource`.
    pub fn new(resource: AclResource, required: AccessLevel) -> Self {
        AccessRequest {
            resource,
            operation: String::new(),
            workspace: String::new(),
            required,
        }
    }

    /// Names the operation.
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = operation.into();
        self
    }

    /// Names the workspace.
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.workspace = workspace.into();
        self
    }

    fn into_wire(self) -> ResourceAccessRequest {
        ResourceAccessRequest {
            resource_type: self.resource.kind,
            resource_id: self.resource.id,
            operation: self.operation,
            workspace: self.workspace,
            required_access_level: self.required.value(),
            correlation_id: String::new(),
        }
    }
}

/// The gateway's answer to one [`AccessRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessDecision {
    /// Whether the required level is reached.
    pub allowed: bool,
    /// The level decided.
    pub level: AccessLevel,
    /// `ALLOW` or `DENY`.
    pub decision: String,
    /// Why it was denied (`ERR_PERMISSION_DENIED`, ...), empty if allowed.
    pub denial_code: String,
    /// Who asked.
    pub actor: Option<AclPrincipal>,
    /// Whose rights were checked (the actor, or the on-behalf-of subject).
    pub subject: Option<AclPrincipal>,
    /// `direct` or `on_behalf_of`.
    pub authority_mode: String,
    /// The authority grant used, if any.
    pub grant_id: String,
    /// The receipt's id.
    pub decision_id: String,
    /// Unix ms of the decision.
    pub evaluated_at_ms: i64,
    /// Unix ms after which the decision should not be trusted (the grant's
    /// expiry), 0 if none.
    pub expires_at_ms: i64,
}

impl From<AccessDecisionReceipt> for AccessDecision {
    fn from(r: AccessDecisionReceipt) -> Self {
        let p = |r: Option<crate::proto::PrincipalRef>| {
            r.filter(|p| !p.principal_type.is_empty())
                .map(|p| AclPrincipal::new(p.principal_type, p.principal_id))
        };
        AccessDecision {
            allowed: r.allowed,
            level: AccessLevel::from_value(r.effective_access_level),
            decision: r.decision,
            denial_code: r.denial_code,
            actor: p(r.actor),
            subject: p(r.subject),
            authority_mode: r.authority_mode,
            grant_id: r.grant_id,
            decision_id: r.decision_id,
            evaluated_at_ms: r.evaluated_at_ms,
            expires_at_ms: r.expires_at_ms,
        }
    }
}

struct Check(AccessCheckOperation);

impl Operation for Check {
    const NAME: &'static str = "access_check";
    type Output = AccessDecision;

    fn into_request(self) -> OpRequest {
        OpRequest::awaited(Self::NAME, Up::AccessCheck(Box::new(self.0))).idempotent(true)
    }

    fn decode(reply: Reply) -> Result<AccessDecision> {
        match reply.into_frame(Self::NAME)? {
            Down::AccessCheckResponse(r) if r.success => r
                .decision
                .map(AccessDecision::from)
                .ok_or_else(|| Error::protocol("access_check: no decision")),
            Down::AccessCheckResponse(r) => Err(Error::refused(Self::NAME, "access", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

struct BatchCheck(BatchAccessCheckOperation);

impl Operation for BatchCheck {
    const NAME: &'static str = "batch_access_check";
    type Output = Vec<AccessDecision>;

    fn into_request(self) -> OpRequest {
        OpRequest::awaited(Self::NAME, Up::BatchAccessCheck(Box::new(self.0))).idempotent(true)
    }

    fn decode(reply: Reply) -> Result<Vec<AccessDecision>> {
        match reply.into_frame(Self::NAME)? {
            Down::BatchAccessCheckResponse(r) if r.success => {
                Ok(r.decisions.into_iter().map(AccessDecision::from).collect())
            }
            Down::BatchAccessCheckResponse(r) => {
                Err(Error::refused(Self::NAME, "access", &r.error))
            }
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

impl AdminClient {
    /// Asks whether the caller may do `request` (a denial is an
    /// `AccessDecision` with `allowed` false, not an error).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::{AccessLevel, AccessRequest, AclResource};
    /// let d = admin
    ///     .check_access(AccessRequest::new(AclResource::workspace("finance"), AccessLevel::Read))
    ///     .await?;
    /// println!("allowed: {} at {:?}", d.allowed, d.level);
    /// # Ok(()) }
    /// ```
    pub async fn check_access(&self, request: AccessRequest) -> Result<AccessDecision> {
        self.client
            .run(Check(AccessCheckOperation {
                request_id: String::new(),
                access: Some(request.into_wire()),
                authorization: None,
            }))
            .await
    }

    /// [`check_access`](Self::check_access) for many requests at once;
    /// the decisions come in the requests' order.
    pub async fn check_access_batch(
        &self,
        requests: Vec<AccessRequest>,
    ) -> Result<Vec<AccessDecision>> {
        self.client
            .run(BatchCheck(BatchAccessCheckOperation {
                request_id: String::new(),
                access: requests.into_iter().map(AccessRequest::into_wire).collect(),
                authorization: None,
            }))
            .await
    }
}
