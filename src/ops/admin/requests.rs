//! Authority requests (`authority_request_op`, the "sudo" flow): ask a
//! subject to lend the caller rights; the subject lists what is pending
//! and approves (which issues a grant to the requester) or denies; the
//! requester may cancel. Every change reaches the live sessions of the
//! requester, the subject and the routing principal as an
//! `authority_request_event` frame ([`Client::frames`](crate::Client::frames)).

use std::time::Duration;

use super::AdminClient;
use super::acl::{AccessLevel, AclPrincipal};
use super::grants::{from_ref, to_ref};
use crate::error::{Error, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    self, AuthorityRequestListFilter, AuthorityRequestOperation,
    AuthorityRequestResourceScopeEntry, AuthorityRequestRoutingTarget,
    CreateAuthorityRequestPayload, ResolveAuthorityRequestPayload,
    authority_request_operation::OpType, resolve_authority_request_payload::Decision,
};
use crate::stack::{OpRequest, Operation, Reply};

/// Where an authority request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestStatus {
    /// Waiting for the subject.
    Pending,
    /// Approved: a grant was issued.
    Approved,
    /// Denied.
    Denied,
    /// Expired while pending.
    Expired,
    /// Cancelled by the requester.
    Cancelled,
    /// A value this SDK does not know.
    Unknown(i32),
}

impl RequestStatus {
    fn from_wire(v: i32) -> Self {
        use proto::AuthorityRequestStatus as S;
        match S::try_from(v) {
            Ok(S::Pending) => RequestStatus::Pending,
            Ok(S::Approved) => RequestStatus::Approved,
            Ok(S::Denied) => RequestStatus::Denied,
            Ok(S::Expired) => RequestStatus::Expired,
            Ok(S::Cancelled) => RequestStatus::Cancelled,
            _ => RequestStatus::Unknown(v),
        }
    }
}

/// An authority request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorityRequest {
    /// Its id.
    pub request_id: String,
    /// Where it stands.
    pub status: RequestStatus,
    /// Who asks.
    pub requester: Option<AclPrincipal>,
    /// Whose rights are asked for.
    pub subject: Option<AclPrincipal>,
    /// The workspaces asked for.
    pub workspace_scope: Vec<String>,
    /// The level asked for.
    pub level: AccessLevel,
    /// Seconds the grant should last.
    pub duration_s: i64,
    /// Why.
    pub reason: String,
    /// The grant issued on approval.
    pub granted_grant_id: String,
    /// Who resolved it.
    pub resolved_by: Option<AclPrincipal>,
    /// Unix ms when it stops being pending.
    pub expires_at_ms: i64,
}

impl From<proto::AuthorityRequest> for AuthorityRequest {
    fn from(r: proto::AuthorityRequest) -> Self {
        AuthorityRequest {
            request_id: r.request_id,
            status: RequestStatus::from_wire(r.status),
            requester: from_ref(r.requesting_actor),
            subject: from_ref(r.target_subject),
            workspace_scope: r.desired_workspace_scope,
            level: level_of_enum(r.requested_access_level),
            duration_s: r.requested_duration_seconds,
            reason: r.reason,
            granted_grant_id: r.granted_grant_id,
            resolved_by: from_ref(r.resolved_by),
            expires_at_ms: r.expires_at,
        }
    }
}

fn level_enum(l: AccessLevel) -> i32 {
    use proto::AccessLevel as E;
    (match l {
        AccessLevel::Read => E::Read,
        AccessLevel::ReadWrite => E::Readwrite,
        AccessLevel::Manage => E::Manage,
        AccessLevel::Admin => E::Admin,
        AccessLevel::SuperAdmin => E::Superadmin,
        _ => E::None,
    }) as i32
}

fn level_of_enum(v: i32) -> AccessLevel {
    use proto::AccessLevel as E;
    match E::try_from(v) {
        Ok(E::Read) => AccessLevel::Read,
        Ok(E::Readwrite) => AccessLevel::ReadWrite,
        Ok(E::Manage) => AccessLevel::Manage,
        Ok(E::Admin) => AccessLevel::Admin,
        Ok(E::Superadmin) => AccessLevel::SuperAdmin,
        _ => AccessLevel::None,
    }
}

/// What to ask a subject for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityAsk {
    subject: AclPrincipal,
    route_to: Option<AclPrincipal>,
    capability: String,
    workspaces: Vec<String>,
    resources: Vec<(String, Vec<String>)>,
    level: AccessLevel,
    duration: Duration,
    reason: String,
}

impl AuthorityAsk {
    /// READ_WRITE on `subject`'s behalf for 30 minutes, routed to it.
    pub fn of(subject: AclPrincipal) -> Self {
        AuthorityAsk {
            subject,
            route_to: None,
            capability: String::new(),
            workspaces: Vec::new(),
            resources: Vec::new(),
            level: AccessLevel::ReadWrite,
            duration: Duration::from_secs(1800),
            reason: String::new(),
        }
    }

    /// Routes it to `principal` rather than to the subject.
    pub fn route_to(mut self, principal: AclPrincipal) -> Self {
        self.route_to = Some(principal);
        self
    }

    /// Routes it to holders of `capability`.
    pub fn route_to_capability(mut self, capability: impl Into<String>) -> Self {
        self.capability = capability.into();
        self
    }

    /// The workspaces asked for.
    pub fn workspaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ws: I) -> Self {
        self.workspaces = ws.into_iter().map(Into::into).collect();
        self
    }

    /// Resources of `kind` asked for.
    pub fn resources<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        kind: impl Into<String>,
        patterns: I,
    ) -> Self {
        self.resources
            .push((kind.into(), patterns.into_iter().map(Into::into).collect()));
        self
    }

    /// The level asked for.
    pub fn level(mut self, level: AccessLevel) -> Self {
        self.level = level;
        self
    }

    /// How long the grant should last (whole seconds).
    pub fn lasting(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }

    /// Says why.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }
}

/// The subject's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityDecision {
    approve: bool,
    workspaces: Vec<String>,
    level: Option<AccessLevel>,
    duration: Option<Duration>,
    hops: i32,
    reason: String,
}

impl AuthorityDecision {
    /// Approve what was asked.
    pub fn approve() -> Self {
        AuthorityDecision {
            approve: true,
            workspaces: Vec::new(),
            level: None,
            duration: None,
            hops: 0,
            reason: String::new(),
        }
    }

    /// Deny.
    pub fn deny(reason: impl Into<String>) -> Self {
        AuthorityDecision {
            approve: false,
            reason: reason.into(),
            ..AuthorityDecision::approve()
        }
    }

    /// Grants these workspaces rather than the ones asked for.
    pub fn workspaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ws: I) -> Self {
        self.workspaces = ws.into_iter().map(Into::into).collect();
        self
    }

    /// Grants this level rather than the one asked for.
    pub fn level(mut self, level: AccessLevel) -> Self {
        self.level = Some(level);
        self
    }

    /// Grants this long rather than what was asked.
    pub fn lasting(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }

    /// Lets the requester pass the grant on `hops` times.
    pub fn delegable(mut self, hops: i32) -> Self {
        self.hops = hops;
        self
    }
}

struct RequestOp(AuthorityRequestOperation);

impl Operation for RequestOp {
    const NAME: &'static str = "authority_request_op";
    type Output = (Vec<AuthorityRequest>, i32);

    fn into_request(self) -> OpRequest {
        let read = matches!(
            OpType::try_from(self.0.op),
            Ok(OpType::Get | OpType::ListPending)
        );
        OpRequest::awaited(Self::NAME, Up::AuthorityRequestOp(Box::new(self.0))).idempotent(read)
    }

    fn decode(reply: Reply) -> Result<(Vec<AuthorityRequest>, i32)> {
        match reply.into_frame(Self::NAME)? {
            Down::AuthorityRequestResponse(r) if r.success => Ok(match r.request {
                Some(one) => (vec![one.into()], 1),
                None => (
                    r.requests.into_iter().map(AuthorityRequest::from).collect(),
                    r.total_count,
                ),
            }),
            Down::AuthorityRequestResponse(r) => {
                Err(Error::refused(Self::NAME, "authority request", &r.error))
            }
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

fn op(kind: OpType) -> AuthorityRequestOperation {
    AuthorityRequestOperation {
        op: kind as i32,
        ..Default::default()
    }
}

impl AdminClient {
    async fn one_request(&self, o: AuthorityRequestOperation) -> Result<AuthorityRequest> {
        let (mut rs, _) = self.client.run(RequestOp(o)).await?;
        rs.pop()
            .ok_or_else(|| Error::protocol("authority_request_op: no request in the reply"))
    }

    /// Asks a subject to lend the caller rights; the request starts
    /// pending.
    pub async fn request_authority(&self, ask: AuthorityAsk) -> Result<AuthorityRequest> {
        let mut o = op(OpType::Create);
        o.create = Some(CreateAuthorityRequestPayload {
            requesting_actor: None,
            target_subject: Some(to_ref(&ask.subject)),
            desired_workspace_scope: ask.workspaces,
            desired_resource_scope: ask
                .resources
                .into_iter()
                .map(|(t, p)| AuthorityRequestResourceScopeEntry {
                    resource_type: t,
                    patterns: p,
                })
                .collect(),
            desired_operation_scope: Vec::new(),
            requested_access_level: level_enum(ask.level),
            requested_duration_seconds: ask.duration.as_secs() as i64,
            audience_type: String::new(),
            audience_id: String::new(),
            routing_target: Some(AuthorityRequestRoutingTarget {
                principal: ask.route_to.as_ref().map(to_ref),
                capability: ask.capability,
            }),
            reason: ask.reason,
            task_id: String::new(),
            metadata: Default::default(),
        });
        self.one_request(o).await
    }

    /// A request the caller is a party to.
    pub async fn get_authority_request(&self, request_id: &str) -> Result<AuthorityRequest> {
        let mut o = op(OpType::Get);
        o.request_id = request_id.to_string();
        self.one_request(o).await
    }

    /// The pending requests routed to the caller (or naming it as
    /// subject), optionally of one workspace.
    pub async fn list_pending_authority_requests(
        &self,
        workspace: &str,
    ) -> Result<Vec<AuthorityRequest>> {
        let mut o = op(OpType::ListPending);
        o.list_filter = Some(AuthorityRequestListFilter {
            workspace: workspace.to_string(),
            ..Default::default()
        });
        Ok(self.client.run(RequestOp(o)).await?.0)
    }

    /// Approves or denies a request (the subject only); approval issues a
    /// grant whose id is in `granted_grant_id`.
    pub async fn resolve_authority_request(
        &self,
        request_id: &str,
        decision: AuthorityDecision,
    ) -> Result<AuthorityRequest> {
        let mut o = op(OpType::Resolve);
        o.request_id = request_id.to_string();
        o.resolve = Some(ResolveAuthorityRequestPayload {
            decision: if decision.approve {
                Decision::Approve
            } else {
                Decision::Deny
            } as i32,
            granted_workspace_scope: decision.workspaces,
            granted_access_level: decision.level.map(level_enum).unwrap_or_default(),
            granted_duration_seconds: decision.duration.map(|d| d.as_secs() as i64).unwrap_or(0),
            reason: decision.reason,
            may_delegate: decision.hops > 0,
            remaining_hops: decision.hops,
            ..Default::default()
        });
        self.one_request(o).await
    }

    /// Withdraws a pending request (the requester only).
    pub async fn cancel_authority_request(
        &self,
        request_id: &str,
        reason: &str,
    ) -> Result<AuthorityRequest> {
        let mut o = op(OpType::Cancel);
        o.request_id = request_id.to_string();
        o.reason = reason.to_string();
        self.one_request(o).await
    }
}
