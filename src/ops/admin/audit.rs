//! The audit log: query it (`AuditQuery`) and submit events to it
//! (`SubmitAuditEvent`).
//!
//! Queries need administrator (or system-level) rights on the gateway;
//! others get [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied).
//! Entries come newest first. Any client may submit events of the types
//! `message`, `kv`, `task` and `custom` for its own workspace; the gateway
//! stamps who submitted them.
//!
//! ```no_run
//! # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
//! use aether_client::admin::{AuditEventSpec, AuditFilter};
//!
//! admin.submit_audit_event(AuditEventSpec::new("custom", "report-exported").resource("report", "q3")).await?;
//! let page = admin.audit_query(AuditFilter::new().event_type("token").only_failures(true)).await?;
//! for e in &page.entries {
//!     println!("{} {} {} by {}: {}", e.audit_id, e.event_type, e.operation, e.actor_id, e.error_message);
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AdminClient;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, AuthorizationContext};
use crate::stack::{OpRequest, Operation, Reply};

/// Which entries [`AdminClient::audit_query`] returns. Every field left
/// empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AuditFilter {
    /// Entry kind (`connection`, `authentication`, `token`, `admin`,
    /// `custom`, ...).
    pub event_type: String,
    /// Actor's principal type (`agent`, `WorkflowEngine`, ...).
    pub actor_type: String,
    /// Actor's identity string.
    pub actor_id: String,
    /// Workspace.
    pub workspace: String,
    /// Operation (`connect`, `create`, `revoke`, ...).
    pub operation: String,
    /// Resource type.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: String,
    /// Entries at or after this time (second precision).
    pub since: Option<SystemTime>,
    /// Entries at or before this time (second precision).
    pub until: Option<SystemTime>,
    /// Only failed operations.
    pub only_failures: bool,
    /// Page size; 0: the gateway's default (100; at most 500).
    pub limit: u32,
    /// Entries to skip.
    pub offset: u32,
    /// Subject (on-behalf-of) principal type.
    pub subject_type: String,
    /// Subject id.
    pub subject_id: String,
    /// Authority mode (`on_behalf_of`).
    pub authority_mode: String,
    /// Authority grant id.
    pub authority_grant_id: String,
    /// Leave out these actor types.
    pub exclude_actor_types: Vec<String>,
    /// Leave out these workspaces.
    pub exclude_workspaces: Vec<String>,
    /// Leave out what services did directly.
    pub exclude_service_direct: bool,
    /// Query on behalf of a subject.
    pub authorization: Option<AuthorizationContext>,
}

impl AuditFilter {
    /// Matches every entry.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only entries of this kind.
    pub fn event_type(mut self, t: impl Into<String>) -> Self {
        self.event_type = t.into();
        self
    }
    /// Only this actor type.
    pub fn actor_type(mut self, t: impl Into<String>) -> Self {
        self.actor_type = t.into();
        self
    }
    /// Only this actor.
    pub fn actor_id(mut self, id: impl Into<String>) -> Self {
        self.actor_id = id.into();
        self
    }
    /// Only this workspace.
    pub fn workspace(mut self, ws: impl Into<String>) -> Self {
        self.workspace = ws.into();
        self
    }
    /// Only this operation.
    pub fn operation(mut self, op: impl Into<String>) -> Self {
        self.operation = op.into();
        self
    }
    /// Only this resource.
    pub fn resource(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.resource_type = kind.into();
        self.resource_id = id.into();
        self
    }
    /// Only entries in `[since, until]` (either may be `None`).
    pub fn between(mut self, since: Option<SystemTime>, until: Option<SystemTime>) -> Self {
        self.since = since;
        self.until = until;
        self
    }
    /// Only failures.
    pub fn only_failures(mut self, yes: bool) -> Self {
        self.only_failures = yes;
        self
    }
    /// Page size and offset.
    pub fn page(mut self, limit: u32, offset: u32) -> Self {
        self.limit = limit;
        self.offset = offset;
        self
    }
    /// Leaves out these actor types.
    pub fn exclude_actor_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude_actor_types = types.into_iter().map(Into::into).collect();
        self
    }
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Increasing id.
    pub audit_id: i64,
    /// When it happened (second precision).
    pub at: Option<SystemTime>,
    /// Its kind.
    pub event_type: String,
    /// Who: principal type.
    pub actor_type: String,
    /// Who: identity string.
    pub actor_id: String,
    /// What: resource type.
    pub resource_type: String,
    /// What: resource id.
    pub resource_id: String,
    /// The operation.
    pub operation: String,
    /// Where.
    pub workspace: String,
    /// The actor's session.
    pub session_id: String,
    /// The gateway that recorded it.
    pub gateway_id: String,
    /// Whether it succeeded.
    pub success: bool,
    /// Why it failed.
    pub error_message: String,
    /// Details, a JSON object of strings (may be empty).
    pub metadata_json: String,
    /// On-behalf-of subject type.
    pub subject_type: String,
    /// On-behalf-of subject id.
    pub subject_id: String,
    /// Authority mode.
    pub authority_mode: String,
    /// Authority grant id.
    pub authority_grant_id: String,
    /// `gateway` (recorded by it) or `client` (submitted).
    pub source: String,
}

impl From<proto::AuditEntry> for AuditEntry {
    fn from(e: proto::AuditEntry) -> Self {
        AuditEntry {
            audit_id: e.audit_id,
            at: u64::try_from(e.timestamp)
                .ok()
                .filter(|s| *s > 0)
                .map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            event_type: e.event_type,
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            operation: e.operation,
            workspace: e.workspace,
            session_id: e.session_id,
            gateway_id: e.gateway_id,
            success: e.success,
            error_message: e.error_message,
            metadata_json: e.metadata_json,
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            authority_mode: e.authority_mode,
            authority_grant_id: e.authority_grant_id,
            source: e.source,
        }
    }
}

/// One page of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// How many entries match in all (upstream gateways report the page's
    /// size).
    pub total_count: u32,
}

/// An event to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEventSpec {
    /// `message`, `kv`, `task` or `custom`.
    pub event_type: String,
    /// What was done.
    pub operation: String,
    /// To what: resource type.
    pub resource_type: String,
    /// To what: resource id.
    pub resource_id: String,
    /// Where (empty: the client's workspace).
    pub workspace: String,
    /// Whether it succeeded.
    pub success: bool,
    /// Why it failed.
    pub error_message: String,
    /// Details.
    pub metadata: HashMap<String, String>,
}

impl AuditEventSpec {
    /// A successful `operation` of kind `event_type`.
    pub fn new(event_type: impl Into<String>, operation: impl Into<String>) -> Self {
        AuditEventSpec {
            event_type: event_type.into(),
            operation: operation.into(),
            resource_type: String::new(),
            resource_id: String::new(),
            workspace: String::new(),
            success: true,
            error_message: String::new(),
            metadata: HashMap::new(),
        }
    }
    /// What it was done to.
    pub fn resource(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.resource_type = kind.into();
        self.resource_id = id.into();
        self
    }
    /// Where it happened.
    pub fn workspace(mut self, ws: impl Into<String>) -> Self {
        self.workspace = ws.into();
        self
    }
    /// Marks it failed.
    pub fn failed(mut self, error: impl Into<String>) -> Self {
        self.success = false;
        self.error_message = error.into();
        self
    }
    /// Adds a detail.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

fn unix_s(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// AuditQuery: a page of entries.
#[derive(Debug, Clone, Default)]
pub struct QueryAudit(pub AuditFilter);

impl Operation for QueryAudit {
    const NAME: &'static str = "audit_query";
    type Output = AuditPage;

    fn into_request(self) -> OpRequest {
        let f = self.0;
        OpRequest::awaited(
            Self::NAME,
            Up::AuditQuery(Box::new(proto::AuditQuery {
                request_id: String::new(),
                start_time: unix_s(f.since),
                end_time: unix_s(f.until),
                event_type: f.event_type,
                actor_type: f.actor_type,
                actor_id: f.actor_id,
                resource_type: f.resource_type,
                resource_id: f.resource_id,
                operation: f.operation,
                workspace: f.workspace,
                only_failures: f.only_failures,
                limit: i32::try_from(f.limit).unwrap_or(i32::MAX),
                offset: i32::try_from(f.offset).unwrap_or(i32::MAX),
                subject_type: f.subject_type,
                subject_id: f.subject_id,
                authority_mode: f.authority_mode,
                authority_grant_id: f.authority_grant_id,
                authorization: f.authorization,
                exclude_actor_types: f.exclude_actor_types,
                exclude_workspaces: f.exclude_workspaces,
                exclude_service_direct: f.exclude_service_direct,
            })),
        )
        .idempotent(true)
    }

    fn decode(reply: Reply) -> Result<AuditPage> {
        match reply.into_frame(Self::NAME)? {
            Down::AuditResponse(r) if r.success => Ok(AuditPage {
                total_count: u32::try_from(r.total_count).unwrap_or(0),
                entries: r.entries.into_iter().map(AuditEntry::from).collect(),
            }),
            Down::AuditResponse(r) => Err(Error::refused(Self::NAME, "audit", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

/// SubmitAuditEvent: records an event.
#[derive(Debug, Clone)]
pub struct SubmitAuditEvent(pub AuditEventSpec);

impl Operation for SubmitAuditEvent {
    const NAME: &'static str = "submit_audit_event";
    type Output = ();

    fn into_request(self) -> OpRequest {
        let e = self.0;
        OpRequest::awaited(
            Self::NAME,
            Up::SubmitAuditEvent(Box::new(proto::SubmitAuditEventRequest {
                event_type: e.event_type,
                operation: e.operation,
                resource_type: e.resource_type,
                resource_id: e.resource_id,
                workspace: e.workspace,
                success: e.success,
                error_message: e.error_message,
                metadata: e.metadata,
                client_request_id: String::new(),
            })),
        )
    }

    fn decode(reply: Reply) -> Result<()> {
        match reply.into_frame(Self::NAME)? {
            Down::SubmitAuditEventResponse(r) if r.success => Ok(()),
            Down::SubmitAuditEventResponse(r) => {
                let message = format!(
                    "{} rejected by the gateway: {}",
                    Self::NAME,
                    r.error_message
                );
                let err = match r.error_code.as_str() {
                    "ERR_AUDIT_TYPE_FORBIDDEN" => {
                        Error::new(ErrorKind::InvalidArgument, message).with_code(r.error_code)
                    }
                    _ => Error::from_error_response(&proto::ErrorResponse {
                        code: r.error_code,
                        message,
                        retryable: false,
                        retry_after_ms: 0,
                        request_id: r.client_request_id,
                    }),
                };
                Err(err)
            }
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

impl AdminClient {
    /// A page of audit entries, newest first.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::AuditFilter;
    /// let refused = admin
    ///     .audit_query(AuditFilter::new().event_type("authentication").page(50, 0))
    ///     .await?;
    /// println!("{} refused connections", refused.total_count);
    /// # Ok(()) }
    /// ```
    pub async fn audit_query(&self, filter: AuditFilter) -> Result<AuditPage> {
        self.client.run(QueryAudit(filter)).await
    }

    /// Records an event in the gateway's audit log; returns once it is
    /// stored.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::AuditEventSpec;
    /// admin
    ///     .submit_audit_event(AuditEventSpec::new("kv", "bulk-delete").resource("prefix", "jobs/").meta("keys", "120"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn submit_audit_event(&self, event: AuditEventSpec) -> Result<()> {
        self.client.run(SubmitAuditEvent(event)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_typed() {
        let denied = QueryAudit::decode(Reply::Frame(Down::AuditResponse(Box::new(
            proto::AuditQueryResponse {
                error: "audit queries require admin privileges or workspace access".into(),
                ..Default::default()
            },
        ))));
        assert_eq!(denied.unwrap_err().kind(), ErrorKind::PermissionDenied);
        let submit = |code: &str| {
            SubmitAuditEvent::decode(Reply::Frame(Down::SubmitAuditEventResponse(Box::new(
                proto::SubmitAuditEventResponse {
                    error_code: code.into(),
                    error_message: "no".into(),
                    ..Default::default()
                },
            ))))
            .unwrap_err()
            .kind()
        };
        assert_eq!(
            submit("ERR_AUDIT_TYPE_FORBIDDEN"),
            ErrorKind::InvalidArgument
        );
        assert_eq!(submit("ERR_PERMISSION_DENIED"), ErrorKind::PermissionDenied);
        assert_eq!(submit("ERR_AUDIT_RATE_LIMITED"), ErrorKind::RateLimited);
    }

    #[test]
    fn filters_become_queries() {
        let since = UNIX_EPOCH + Duration::from_secs(5);
        let req =
            QueryAudit(AuditFilter::new().between(Some(since), None).page(7, 2)).into_request();
        assert!(req.is_idempotent());
    }
}
