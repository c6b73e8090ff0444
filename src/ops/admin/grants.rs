//! Authority grants (`authority_grant_op`, `resolve_authority_request`):
//! lend the caller's rights, capped, to a delegate; pass a grant on;
//! renew, revoke, list and resolve grants. The delegate then acts on the
//! subject's behalf with [`AuthorityGrant::context`] (per call with
//! [`on_behalf_of`](crate::stack::authority::on_behalf_of), or as a
//! client's default).
//!
//! Revocations reach the live sessions of the grant's delegate and subject
//! as `authority_grant_revocation` frames ([`Client::frames`](crate::Client::frames)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AdminClient;
use super::acl::{AccessLevel, AclPrincipal};
use crate::error::{Error, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    AclAuthorityGrantInfo, AclAuthorityGrantResourceScopeEntry, AclRenewAuthorityGrantRequest,
    AuthorityGrantBatchExchangeRequest, AuthorityGrantDeriveForTargetRequest,
    AuthorityGrantDeriveRequest, AuthorityGrantExchangeRequest, AuthorityGrantListRequest,
    AuthorityGrantOperation, AuthorizationContext, PrincipalRef, ResolveAuthorityRequest,
    authority_grant_operation::OpType,
};
use crate::stack::{OpRequest, Operation, Reply};

pub(crate) fn to_ref(p: &AclPrincipal) -> PrincipalRef {
    PrincipalRef {
        principal_type: p.kind.clone(),
        principal_id: p.id.clone(),
    }
}

pub(crate) fn from_ref(r: Option<PrincipalRef>) -> Option<AclPrincipal> {
    r.filter(|p| !p.principal_type.is_empty())
        .map(|p| AclPrincipal::new(p.principal_type, p.principal_id))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// An authority grant: `delegate` may act for `subject`, within limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorityGrant {
    /// Its id.
    pub grant_id: String,
    /// The grant the chain started from (itself for an exchanged grant).
    pub root_grant_id: String,
    /// The grant it was derived from (empty for an exchanged grant).
    pub parent_grant_id: String,
    /// Whose rights it lends.
    pub subject: Option<AclPrincipal>,
    /// Who may use them.
    pub delegate: Option<AclPrincipal>,
    /// Who issued it.
    pub issued_by: Option<AclPrincipal>,
    /// Whether the delegate may pass it on, and how many more times.
    pub may_delegate: bool,
    /// Hops left.
    pub remaining_hops: i32,
    /// Workspace patterns it is limited to (empty: any).
    pub workspace_scope: Vec<String>,
    /// Resource type -> id patterns it is limited to.
    pub resource_scope: Vec<(String, Vec<String>)>,
    /// Operations it names (recorded, informative).
    pub operation_scope: Vec<String>,
    /// The highest level it lends.
    pub max_level: AccessLevel,
    /// The audience it was issued for.
    pub audience_type: String,
    /// The audience's id.
    pub audience_id: String,
    /// Unix ms when it expires.
    pub expires_at_ms: i64,
    /// Unix ms past which it cannot be renewed (0: no limit).
    pub renewable_until_ms: i64,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Why it was issued.
    pub reason: String,
    /// Unix ms when it was issued.
    pub created_at_ms: i64,
}

impl AuthorityGrant {
    /// The on-behalf-of context its delegate sends to use it.
    pub fn context(&self) -> AuthorizationContext {
        let subject = self
            .subject
            .clone()
            .unwrap_or_else(|| AclPrincipal::new("", ""));
        crate::stack::authority::obo_context(&subject, &self.grant_id)
    }
}

impl From<AclAuthorityGrantInfo> for AuthorityGrant {
    fn from(g: AclAuthorityGrantInfo) -> Self {
        AuthorityGrant {
            grant_id: g.grant_id,
            root_grant_id: g.root_grant_id,
            parent_grant_id: g.parent_grant_id,
            subject: from_ref(g.subject),
            delegate: from_ref(g.delegate),
            issued_by: from_ref(g.issued_by),
            may_delegate: g.may_delegate,
            remaining_hops: g.remaining_hops,
            workspace_scope: g.workspace_scope,
            resource_scope: g
                .resource_scope
                .into_iter()
                .map(|e| (e.resource_type, e.patterns))
                .collect(),
            operation_scope: g.operation_scope,
            max_level: AccessLevel::from_value(g.max_access_level),
            audience_type: g.audience_type,
            audience_id: g.audience_id,
            expires_at_ms: g.expires_at,
            renewable_until_ms: g.renewable_until,
            revoked: g.revoked,
            reason: g.reason,
            created_at_ms: g.created_at,
        }
    }
}

/// What a new grant should say (EXCHANGE, DERIVE).
///
/// ```
/// use std::time::Duration;
/// use aether_client::admin::{AccessLevel, AclPrincipal, GrantRequest};
/// let req = GrantRequest::to(AclPrincipal::workflow_engine())
///     .workspaces(["finance"])
///     .max_level(AccessLevel::Read)
///     .lasting(Duration::from_secs(600))
///     .reason("monthly report");
/// # let _ = req;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantRequest {
    delegate: Option<AclPrincipal>,
    source_session_id: String,
    workspace_scope: Vec<String>,
    resource_scope: Vec<(String, Vec<String>)>,
    operation_scope: Vec<String>,
    max_level: Option<AccessLevel>,
    expires_at_ms: i64,
    renewable_until_ms: i64,
    hops: i32,
    reason: String,
    while_audience_active: bool,
}

impl GrantRequest {
    /// A grant whose delegate is `delegate`.
    pub fn to(delegate: AclPrincipal) -> Self {
        GrantRequest {
            delegate: Some(delegate),
            ..Default::default()
        }
    }

    /// Lends the rights of the principal of another live session (needs
    /// `capability/exchange_authority_grants`); without a delegate, the
    /// caller is the delegate.
    pub fn from_session(mut self, session_id: impl Into<String>) -> Self {
        self.source_session_id = session_id.into();
        self
    }

    /// Limits it to these workspace patterns.
    pub fn workspaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ws: I) -> Self {
        self.workspace_scope = ws.into_iter().map(Into::into).collect();
        self
    }

    /// Limits resources of `kind` to these id patterns.
    pub fn resources<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        kind: impl Into<String>,
        patterns: I,
    ) -> Self {
        self.resource_scope
            .push((kind.into(), patterns.into_iter().map(Into::into).collect()));
        self
    }

    /// Names the operations it is for.
    pub fn operations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ops: I) -> Self {
        self.operation_scope = ops.into_iter().map(Into::into).collect();
        self
    }

    /// The highest level it lends (default READ_WRITE; derived grants:
    /// the parent's).
    pub fn max_level(mut self, level: AccessLevel) -> Self {
        self.max_level = Some(level);
        self
    }

    /// Expires at unix ms `at` (default: one hour; derived grants: the
    /// parent's expiry).
    pub fn expires_at_ms(mut self, at: i64) -> Self {
        self.expires_at_ms = at;
        self
    }

    /// Expires `d` from now.
    pub fn lasting(mut self, d: Duration) -> Self {
        self.expires_at_ms = now_ms().saturating_add(d.as_millis() as i64);
        self
    }

    /// Cannot be renewed past unix ms `at`.
    pub fn renewable_until_ms(mut self, at: i64) -> Self {
        self.renewable_until_ms = at;
        self
    }

    /// Lets the delegate pass it on `hops` more times.
    pub fn delegable(mut self, hops: i32) -> Self {
        self.hops = hops;
        self
    }

    /// Says why.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Makes it last only while its delegate is connected: on the embedded
    /// gateway it is revoked (with what was derived from it) when the
    /// delegate's last session ends, and the subject is told.
    pub fn while_audience_active(mut self) -> Self {
        self.while_audience_active = true;
        self
    }

    fn scope(&self) -> Vec<AclAuthorityGrantResourceScopeEntry> {
        self.resource_scope
            .iter()
            .map(|(t, p)| AclAuthorityGrantResourceScopeEntry {
                resource_type: t.clone(),
                patterns: p.clone(),
            })
            .collect()
    }

    fn exchange(self) -> AuthorityGrantExchangeRequest {
        let (audience_type, audience_id) = match &self.delegate {
            Some(d) => (d.kind.clone(), d.id.clone()),
            None => Default::default(),
        };
        AuthorityGrantExchangeRequest {
            source_session_id: self.source_session_id.clone(),
            workspace_scope: self.workspace_scope.clone(),
            resource_scope: self.scope(),
            operation_scope: self.operation_scope.clone(),
            max_access_level: self.max_level.map(AccessLevel::value).unwrap_or_default(),
            audience_type,
            audience_id,
            valid_while_audience_active: self.while_audience_active,
            expires_at: self.expires_at_ms,
            renewable_until: self.renewable_until_ms,
            may_delegate: self.hops > 0,
            remaining_hops: self.hops,
            reason: self.reason,
            metadata: Default::default(),
        }
    }

    fn derive(self, parent: &str) -> AuthorityGrantDeriveRequest {
        AuthorityGrantDeriveRequest {
            parent_grant_id: parent.to_string(),
            delegate: self.delegate.as_ref().map(to_ref),
            workspace_scope: self.workspace_scope.clone(),
            resource_scope: self.scope(),
            operation_scope: self.operation_scope.clone(),
            max_access_level: self.max_level.map(AccessLevel::value).unwrap_or_default(),
            expires_at: self.expires_at_ms,
            renewable_until: self.renewable_until_ms,
            may_delegate: self.hops > 0,
            remaining_hops: self.hops,
            reason: self.reason,
            ..Default::default()
        }
    }
}

/// Which grants a LIST returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// Only grants for this audience type (empty: any).
    pub audience_type: String,
    /// Only grants for this audience id (empty: any).
    pub audience_id: String,
    /// Include revoked and expired grants.
    pub include_revoked: bool,
    /// Page size (0: the gateway's default).
    pub limit: i32,
    /// Entries to skip.
    pub offset: i32,
}

/// A page of grants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantPage {
    /// The grants.
    pub grants: Vec<AuthorityGrant>,
    /// How many matched in all.
    pub total: i32,
}

/// What `resolve_authority` found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedAuthority {
    /// Who acts.
    pub actor: Option<AclPrincipal>,
    /// For whom.
    pub subject: Option<AclPrincipal>,
    /// The grant.
    pub grant_id: String,
    /// The root subject of the chain.
    pub root_subject: Option<AclPrincipal>,
    /// The highest level lent.
    pub max_level: AccessLevel,
    /// Workspace patterns it is limited to.
    pub workspace_scope: Vec<String>,
    /// Unix **seconds** when it expires (as the wire documents).
    pub expires_at_s: i64,
}

struct GrantOp(AuthorityGrantOperation);

/// What a grant operation answers.
enum Answer {
    One(Box<AuthorityGrant>),
    Many(Vec<AuthorityGrant>, i32, String),
}

impl Operation for GrantOp {
    const NAME: &'static str = "authority_grant_op";
    type Output = Answer;

    fn into_request(self) -> OpRequest {
        let read = matches!(
            OpType::try_from(self.0.op),
            Ok(OpType::Get | OpType::ListMyGrants | OpType::ListGrantsOnMe)
        );
        OpRequest::awaited(Self::NAME, Up::AuthorityGrantOp(Box::new(self.0))).idempotent(read)
    }

    fn decode(reply: Reply) -> Result<Answer> {
        match reply.into_frame(Self::NAME)? {
            Down::AuthorityGrant(r) if r.success => match r.grant {
                Some(g) => Ok(Answer::One(Box::new(g.into()))),
                None => Ok(Answer::Many(
                    r.grants.into_iter().map(AuthorityGrant::from).collect(),
                    r.total,
                    r.error,
                )),
            },
            Down::AuthorityGrant(r) => Err(Error::refused(Self::NAME, "authority grant", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

struct Resolve(ResolveAuthorityRequest);

impl Operation for Resolve {
    const NAME: &'static str = "resolve_authority";
    type Output = ResolvedAuthority;

    fn into_request(self) -> OpRequest {
        OpRequest::awaited(Self::NAME, Up::ResolveAuthorityRequest(Box::new(self.0)))
            .idempotent(true)
    }

    fn decode(reply: Reply) -> Result<ResolvedAuthority> {
        match reply.into_frame(Self::NAME)? {
            Down::ResolveAuthorityResponse(r) if r.ok => {
                let a = r.authority.unwrap_or_default();
                let g = a.grant.unwrap_or_default();
                let root = (!g.root_subject_type.is_empty())
                    .then(|| AclPrincipal::new(g.root_subject_type, g.root_subject_id));
                Ok(ResolvedAuthority {
                    actor: from_ref(a.actor),
                    subject: from_ref(a.subject),
                    grant_id: g.grant_id,
                    root_subject: root,
                    max_level: AccessLevel::from_value(g.max_access_level),
                    workspace_scope: g.workspace_scope,
                    expires_at_s: g.expires_at,
                })
            }
            Down::ResolveAuthorityResponse(r) => Err(Error::new(
                crate::ErrorKind::PermissionDenied,
                format!("{} refused by the gateway: {}", Self::NAME, r.error),
            )),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

fn op(kind: OpType) -> AuthorityGrantOperation {
    AuthorityGrantOperation {
        op: kind as i32,
        ..Default::default()
    }
}

impl AdminClient {
    async fn grant_op(&self, o: AuthorityGrantOperation) -> Result<Answer> {
        self.client.run(GrantOp(o)).await
    }

    async fn one_grant(&self, o: AuthorityGrantOperation) -> Result<AuthorityGrant> {
        match self.grant_op(o).await? {
            Answer::One(g) => Ok(*g),
            Answer::Many(..) => Err(Error::protocol("authority_grant_op: no grant in the reply")),
        }
    }

    async fn grant_page(&self, o: AuthorityGrantOperation) -> Result<GrantPage> {
        match self.grant_op(o).await? {
            Answer::Many(grants, total, _) => Ok(GrantPage { grants, total }),
            Answer::One(g) => Ok(GrantPage {
                grants: vec![*g],
                total: 1,
            }),
        }
    }

    /// Lends the caller's rights (capped by `request`) to its delegate.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::{AclPrincipal, GrantRequest};
    /// let grant = admin
    ///     .exchange_authority_grant(GrantRequest::to(AclPrincipal::workflow_engine()))
    ///     .await?;
    /// // The workflow engine then sends with `grant.context()`.
    /// # let _ = grant; Ok(()) }
    /// ```
    pub async fn exchange_authority_grant(&self, request: GrantRequest) -> Result<AuthorityGrant> {
        let mut o = op(OpType::Exchange);
        o.exchange_request = Some(request.exchange());
        self.one_grant(o).await
    }

    /// Many exchanges at once: the grants issued, and the first refusal's
    /// text if any was refused.
    pub async fn batch_exchange_authority_grants(
        &self,
        requests: Vec<GrantRequest>,
        stop_on_first_error: bool,
    ) -> Result<(Vec<AuthorityGrant>, Option<String>)> {
        let mut o = op(OpType::BatchExchange);
        o.batch_exchange_request = Some(AuthorityGrantBatchExchangeRequest {
            requests: requests.into_iter().map(GrantRequest::exchange).collect(),
            stop_on_first_error,
        });
        match self.grant_op(o).await? {
            Answer::Many(grants, _, error) => Ok((grants, (!error.is_empty()).then_some(error))),
            Answer::One(g) => Ok((vec![*g], None)),
        }
    }

    /// Passes on a grant the caller holds (as its delegate), attenuated.
    pub async fn derive_authority_grant(
        &self,
        parent_grant_id: &str,
        request: GrantRequest,
    ) -> Result<AuthorityGrant> {
        let mut o = op(OpType::Derive);
        o.derive_request = Some(request.derive(parent_grant_id));
        self.one_grant(o).await
    }

    /// Passes on a grant to `target`, or returns the live grant derived
    /// for it before (idempotent).
    pub async fn derive_authority_grant_for_target(
        &self,
        parent_grant_id: &str,
        target: &AclPrincipal,
    ) -> Result<AuthorityGrant> {
        let mut o = op(OpType::DeriveForTarget);
        o.derive_for_target_request = Some(AuthorityGrantDeriveForTargetRequest {
            parent_grant_id: parent_grant_id.to_string(),
            target: Some(to_ref(target)),
            ..Default::default()
        });
        self.one_grant(o).await
    }

    /// A grant the caller is a party to.
    pub async fn get_authority_grant(&self, grant_id: &str) -> Result<AuthorityGrant> {
        let mut o = op(OpType::Get);
        o.grant_id = grant_id.to_string();
        self.one_grant(o).await
    }

    /// Moves a grant's expiry to unix ms `expires_at_ms`.
    pub async fn renew_authority_grant(
        &self,
        grant_id: &str,
        expires_at_ms: i64,
    ) -> Result<AuthorityGrant> {
        let mut o = op(OpType::Renew);
        o.grant_id = grant_id.to_string();
        o.renew_request = Some(AclRenewAuthorityGrantRequest {
            grant_id: grant_id.to_string(),
            expires_at: expires_at_ms,
            extend_seconds: 0,
        });
        self.one_grant(o).await
    }

    /// Extends a grant by `by` (whole seconds).
    pub async fn extend_authority_grant(
        &self,
        grant_id: &str,
        by: Duration,
    ) -> Result<AuthorityGrant> {
        let mut o = op(OpType::Renew);
        o.grant_id = grant_id.to_string();
        o.renew_request = Some(AclRenewAuthorityGrantRequest {
            grant_id: grant_id.to_string(),
            expires_at: 0,
            extend_seconds: i32::try_from(by.as_secs()).unwrap_or(i32::MAX),
        });
        self.one_grant(o).await
    }

    /// Revokes a grant and every grant derived from it.
    pub async fn revoke_authority_grant(&self, grant_id: &str) -> Result<AuthorityGrant> {
        let mut o = op(OpType::Revoke);
        o.grant_id = grant_id.to_string();
        self.one_grant(o).await
    }

    /// The grants the caller holds (it is their delegate).
    pub async fn list_my_authority_grants(&self, filter: GrantFilter) -> Result<GrantPage> {
        let mut o = op(OpType::ListMyGrants);
        o.list_request = Some(list_request(filter));
        self.grant_page(o).await
    }

    /// The grants that lend the caller's rights (it is their subject).
    pub async fn list_authority_grants_on_me(&self, filter: GrantFilter) -> Result<GrantPage> {
        let mut o = op(OpType::ListGrantsOnMe);
        o.list_request = Some(list_request(filter));
        self.grant_page(o).await
    }

    /// Whether `grant_id` lets `actor` (the caller when `None`) act for
    /// `subject`; a grant that does not is a
    /// [`PermissionDenied`](crate::ErrorKind::PermissionDenied) error.
    pub async fn resolve_authority(
        &self,
        grant_id: &str,
        subject: &AclPrincipal,
        actor: Option<&AclPrincipal>,
    ) -> Result<ResolvedAuthority> {
        self.client
            .run(Resolve(ResolveAuthorityRequest {
                request_id: String::new(),
                actor: actor.map(to_ref),
                grant_id: grant_id.to_string(),
                subject: Some(to_ref(subject)),
                audience_type: String::new(),
                audience_id: String::new(),
            }))
            .await
    }
}

fn list_request(f: GrantFilter) -> AuthorityGrantListRequest {
    AuthorityGrantListRequest {
        audience_type: f.audience_type,
        audience_id: f.audience_id,
        include_revoked: f.include_revoked,
        limit: f.limit,
        offset: f.offset,
    }
}
