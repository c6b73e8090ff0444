//! ACL rules, fallback policies, groups, roles and explanations
//! (`ACLOperation`).
//!
//! A rule gives a principal (or a wildcard, group or role) an
//! [`AccessLevel`] on a resource. Levels are on the ACL scale (NONE 0 ...
//! SUPERADMIN 50); the gateway decides with the highest live rule, else
//! the fallback policy of the category `{principal type}_{resource type}`,
//! else its built-in default.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AdminClient;
use crate::error::{Error, Result};
use crate::identity::Principal;
use crate::proto::acl_operation::OpType;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    self, AclGrantRequest, AclGroupMemberRequest, AclGroupRequest, AclOperation, AclResponse,
    AclRoleAssignmentRequest, AclRoleRequest, AclRuleFilter, AclSetFallbackRequest, PrincipalRef,
};
use crate::stack::{OpRequest, Operation, Reply};

/// An access level on the ACL scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum AccessLevel {
    /// 0: nothing.
    #[default]
    None,
    /// 10: see, read.
    Read,
    /// 20: read and write: send, create tasks, change KV.
    ReadWrite,
    /// 30: manage: grant READ and READ_WRITE to others.
    Manage,
    /// 40: full control of the resource.
    Admin,
    /// 50: everything (granted by superadmin sessions only).
    SuperAdmin,
}

impl AccessLevel {
    /// The wire value (0, 10, 20, 30, 40, 50).
    pub fn value(self) -> i32 {
        match self {
            AccessLevel::None => 0,
            AccessLevel::Read => 10,
            AccessLevel::ReadWrite => 20,
            AccessLevel::Manage => 30,
            AccessLevel::Admin => 40,
            AccessLevel::SuperAdmin => 50,
        }
    }

    /// The level of a wire value; values between levels round down.
    pub fn from_value(v: i32) -> AccessLevel {
        match v {
            i32::MIN..=9 => AccessLevel::None,
            10..=19 => AccessLevel::Read,
            20..=29 => AccessLevel::ReadWrite,
            30..=39 => AccessLevel::Manage,
            40..=49 => AccessLevel::Admin,
            _ => AccessLevel::SuperAdmin,
        }
    }

    /// The level as the `AccessLevel` enum of authority requests (1..6).
    pub fn to_proto_enum(self) -> proto::AccessLevel {
        match self {
            AccessLevel::None => proto::AccessLevel::None,
            AccessLevel::Read => proto::AccessLevel::Read,
            AccessLevel::ReadWrite => proto::AccessLevel::Readwrite,
            AccessLevel::Manage => proto::AccessLevel::Manage,
            AccessLevel::Admin => proto::AccessLevel::Admin,
            AccessLevel::SuperAdmin => proto::AccessLevel::Superadmin,
        }
    }

    /// The level of an `AccessLevel` enum value (UNSPECIFIED is NONE).
    pub fn from_proto_enum(v: i32) -> AccessLevel {
        match proto::AccessLevel::try_from(v) {
            Ok(proto::AccessLevel::Read) => AccessLevel::Read,
            Ok(proto::AccessLevel::Readwrite) => AccessLevel::ReadWrite,
            Ok(proto::AccessLevel::Manage) => AccessLevel::Manage,
            Ok(proto::AccessLevel::Admin) => AccessLevel::Admin,
            Ok(proto::AccessLevel::Superadmin) => AccessLevel::SuperAdmin,
            _ => AccessLevel::None,
        }
    }
}

/// Who a rule names: a principal type and id (`agent`/`ag::ws::impl::spec`,
/// `user`/`alice`, ...), a `wildcard`, a `group` or a `role`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclPrincipal {
    /// `agent`, `task`, `user`, `service`, `bridge`, `orchestrator`,
    /// `workflow_engine`, `metrics_bridge`, `wildcard`, `group` or `role`.
    pub kind: String,
    /// The identity string (users: the user id); for wildcards one of
    /// `_any_agent`, `_any_task`, `_any_service`, `_any_authenticated_user`,
    /// `*`; for groups and roles the name. Principal ids may be globs
    /// (`ag::ws::*`).
    pub id: String,
}

impl AclPrincipal {
    /// Any type and id.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        AclPrincipal {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// The principal a client connects as.
    pub fn of(p: &Principal) -> Self {
        match p {
            Principal::User { user_id, .. } => AclPrincipal::new("user", user_id.as_str()),
            other => {
                let kind = match other.kind() {
                    crate::identity::PrincipalKind::Agent => "agent",
                    crate::identity::PrincipalKind::UniqueTask
                    | crate::identity::PrincipalKind::PooledTask => "task",
                    crate::identity::PrincipalKind::Orchestrator => "orchestrator",
                    crate::identity::PrincipalKind::WorkflowEngine => "workflow_engine",
                    crate::identity::PrincipalKind::MetricsBridge => "metrics_bridge",
                    crate::identity::PrincipalKind::Bridge => "bridge",
                    _ => "service",
                };
                AclPrincipal::new(kind, other.identity_string())
            }
        }
    }

    /// The agent `ag::{workspace}::{implementation}::{specifier}`.
    pub fn agent(workspace: &str, implementation: &str, specifier: &str) -> Self {
        AclPrincipal::new(
            "agent",
            format!("ag::{workspace}::{implementation}::{specifier}"),
        )
    }

    /// The user `user_id` (every window of it).
    pub fn user(user_id: &str) -> Self {
        AclPrincipal::new("user", user_id)
    }

    /// The service `sv::{implementation}::{specifier}`.
    pub fn service(implementation: &str, specifier: &str) -> Self {
        AclPrincipal::new("service", format!("sv::{implementation}::{specifier}"))
    }

    /// The orchestrator `orc::{implementation}::{specifier}`.
    pub fn orchestrator(implementation: &str, specifier: &str) -> Self {
        AclPrincipal::new(
            "orchestrator",
            format!("orc::{implementation}::{specifier}"),
        )
    }

    /// The workflow engine.
    pub fn workflow_engine() -> Self {
        AclPrincipal::new("workflow_engine", "wfe::shard0")
    }

    /// The group `name`.
    pub fn group(name: &str) -> Self {
        AclPrincipal::new("group", name)
    }

    /// The role `name`.
    pub fn role(name: &str) -> Self {
        AclPrincipal::new("role", name)
    }

    /// A wildcard: `_any_agent`, `_any_task`, `_any_service`,
    /// `_any_authenticated_user` or `*` (any principal).
    pub fn wildcard(which: &str) -> Self {
        AclPrincipal::new("wildcard", which)
    }

    /// As a wire reference.
    pub fn to_ref(&self) -> PrincipalRef {
        PrincipalRef {
            principal_type: self.kind.clone(),
            principal_id: self.id.clone(),
        }
    }
}

impl From<&Principal> for AclPrincipal {
    fn from(p: &Principal) -> Self {
        AclPrincipal::of(p)
    }
}

/// What a rule covers: a resource type and id (ids may be globs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclResource {
    /// `workspace`, `admin`, `capability`, `kv_scope`, `kv_key`, `agent`,
    /// or a type of the application's.
    pub kind: String,
    /// The resource id (`research`, `admin/acl`, `capability/...`, ...).
    pub id: String,
}

impl AclResource {
    /// Any type and id.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        AclResource {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// A workspace (`*` for all): sending into it, its tasks, its shared KV.
    pub fn workspace(name: &str) -> Self {
        AclResource::new("workspace", name)
    }

    /// An administrative family: `workspaces`, `agents`, `tokens`, `acl`,
    /// `sessions`, `audit`, or `*` for all of them.
    pub fn admin(family: &str) -> Self {
        AclResource::new("admin", format!("admin/{family}"))
    }

    /// A capability (`query_connections`, `kv_purge_identity`,
    /// `create_workspace`, `exchange_authority_grants`,
    /// `resolve_authority`, ...).
    pub fn capability(name: &str) -> Self {
        AclResource::new("capability", format!("capability/{name}"))
    }

    /// A KV scope by name (`global`, `user-shared`).
    pub fn kv_scope(scope: &str) -> Self {
        AclResource::new("kv_scope", scope)
    }

    /// A KV key (its rule overrides the scope's level).
    pub fn kv_key(key: &str) -> Self {
        AclResource::new("kv_key", key)
    }

    /// A registered agent implementation.
    pub fn agent(implementation: &str) -> Self {
        AclResource::new("agent", implementation)
    }
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AclRule {
    /// Its id.
    pub id: String,
    /// Who it names.
    pub principal: AclPrincipal,
    /// What it covers.
    pub resource: AclResource,
    /// The level it gives.
    pub level: AccessLevel,
    /// Who granted it (the granting session's principal).
    pub granted_by: String,
    /// Unix seconds.
    pub granted_at: i64,
    /// Unix seconds; 0: never expires.
    pub expires_at: i64,
    /// Why.
    pub reason: String,
}

impl From<proto::AclRuleInfo> for AclRule {
    fn from(r: proto::AclRuleInfo) -> Self {
        AclRule {
            id: r.rule_id,
            principal: AclPrincipal::new(r.principal_type, r.principal_id),
            resource: AclResource::new(r.resource_type, r.resource_id),
            level: AccessLevel::from_value(r.access_level),
            granted_by: r.granted_by,
            granted_at: r.granted_at,
            expires_at: r.expires_at,
            reason: r.reason,
        }
    }
}

/// A rule to grant: principal, resource, level, and optionally a reason
/// and an expiry.
///
/// ```
/// use aether_client::admin::{AccessLevel, AclGrant, AclPrincipal, AclResource};
/// use std::time::Duration;
/// let grant = AclGrant::new(
///     AclPrincipal::agent("ops", "reporter", "r1"),
///     AclResource::workspace("finance"),
///     AccessLevel::Read,
/// )
/// .reason("monthly report")
/// .expires_in(Duration::from_secs(3600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclGrant {
    principal: AclPrincipal,
    resource: AclResource,
    level: AccessLevel,
    reason: String,
    expires_at: i64,
}

impl AclGrant {
    /// `principal` gets `level` on `resource`.
    pub fn new(principal: AclPrincipal, resource: AclResource, level: AccessLevel) -> Self {
        AclGrant {
            principal,
            resource,
            level,
            reason: String::new(),
            expires_at: 0,
        }
    }

    /// Why (kept with the rule).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Expires at `t`.
    pub fn expires_at(mut self, t: SystemTime) -> Self {
        self.expires_at = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self
    }

    /// Expires `d` from now.
    pub fn expires_in(self, d: Duration) -> Self {
        self.expires_at(SystemTime::now() + d)
    }
}

/// Which rules to list (every field optional) and the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    /// Rules naming this principal (an empty id: any of the type).
    pub principal: Option<AclPrincipal>,
    /// Rules on this resource type.
    pub resource_type: String,
    /// Rules on this resource id (exactly as stored).
    pub resource_id: String,
    /// Page size (0: the gateway's default, 100).
    pub limit: u32,
    /// Rules to skip.
    pub offset: u32,
}

impl RuleFilter {
    /// The rules naming `principal`.
    pub fn principal(principal: AclPrincipal) -> Self {
        RuleFilter {
            principal: Some(principal),
            ..Default::default()
        }
    }

    /// The rules on `resource`.
    pub fn resource(resource: &AclResource) -> Self {
        RuleFilter {
            resource_type: resource.kind.clone(),
            resource_id: resource.id.clone(),
            ..Default::default()
        }
    }
}

/// A page of rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RulePage {
    /// The rules of this page.
    pub rules: Vec<AclRule>,
    /// How many rules match in all.
    pub total: usize,
}

/// A fallback policy: the level of a category when no rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FallbackPolicy {
    /// `{principal type}_{resource type}`, such as `agent_workspace`.
    pub category: String,
    /// The level.
    pub level: AccessLevel,
    /// Whether this is the gateway's built-in default (never set).
    pub builtin: bool,
    /// Who set it.
    pub updated_by: String,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<proto::AclFallbackPolicyInfo> for FallbackPolicy {
    fn from(p: proto::AclFallbackPolicyInfo) -> Self {
        FallbackPolicy {
            builtin: p.policy_id == "builtin",
            category: p.rule_category,
            level: AccessLevel::from_value(p.fallback_access_level),
            updated_by: p.updated_by,
            updated_at: p.updated_at,
        }
    }
}

/// Why a principal has the level it has on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessExplanation {
    /// The principal explained.
    pub principal: String,
    /// The subjects that stand for it (itself, wildcards, groups, roles).
    pub subjects: Vec<String>,
    /// The rules that name one of them and cover the resource.
    pub contributions: Vec<Contribution>,
    /// Whether the required level is reached.
    pub allowed: bool,
    /// The level decided.
    pub effective_level: AccessLevel,
    /// Whether a fallback policy or built-in default decided.
    pub fallback_applied: bool,
    /// In words.
    pub reason: String,
}

/// One rule's part in an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contribution {
    /// The subject the rule names (`type:id`).
    pub subject: String,
    /// The rule.
    pub rule_id: String,
    /// Its level.
    pub level: AccessLevel,
    /// The resource it covers (`type:id`).
    pub resource: String,
    /// Whether it has expired (and so does not count).
    pub expired: bool,
}

impl From<proto::AclAccessExplanationInfo> for AccessExplanation {
    fn from(e: proto::AclAccessExplanationInfo) -> Self {
        AccessExplanation {
            principal: e.principal,
            subjects: e.subjects,
            contributions: e
                .contributions
                .into_iter()
                .map(|c| Contribution {
                    subject: c.subject,
                    rule_id: c.rule_id,
                    level: AccessLevel::from_value(c.access_level),
                    resource: c.resource,
                    expired: c.expired,
                })
                .collect(),
            allowed: e.allowed,
            effective_level: AccessLevel::from_value(e.effective_access_level),
            fallback_applied: e.fallback_applied,
            reason: e.reason,
        }
    }
}

/// A group or a role.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AclSet {
    /// Its id.
    pub id: String,
    /// Its name (what rules and memberships use).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Free key-value metadata.
    pub metadata: HashMap<String, String>,
}

impl From<proto::AclGroupInfo> for AclSet {
    fn from(g: proto::AclGroupInfo) -> Self {
        AclSet {
            id: g.group_id,
            name: g.group_name,
            description: g.description,
            created_by: g.created_by,
            created_at: g.created_at,
            metadata: g.metadata,
        }
    }
}

impl From<proto::AclRoleInfo> for AclSet {
    fn from(r: proto::AclRoleInfo) -> Self {
        AclSet {
            id: r.role_id,
            name: r.role_name,
            description: r.description,
            created_by: r.created_by,
            created_at: r.created_at,
            metadata: r.metadata,
        }
    }
}

/// A member of a group, or a holder of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Membership {
    /// The group or role.
    pub set: String,
    /// The member (a principal, or a nested group).
    pub member: AclPrincipal,
    /// Who added it.
    pub granted_by: String,
    /// Unix seconds.
    pub granted_at: i64,
    /// Unix seconds; 0: never.
    pub expires_at: i64,
}

/// One `ACLOperation`; reads are safe to repeat.
pub(crate) struct AclCall(pub(crate) AclOperation);

impl Operation for AclCall {
    const NAME: &'static str = "acl_op";
    type Output = AclResponse;

    fn into_request(self) -> OpRequest {
        let read = matches!(
            OpType::try_from(self.0.op),
            Ok(OpType::ListRules
                | OpType::GetRule
                | OpType::GetFallbackPolicy
                | OpType::GetGroup
                | OpType::ListGroups
                | OpType::GetRole
                | OpType::ListRoles
                | OpType::ListGroupMembers
                | OpType::ListRoleAssignments
                | OpType::ListPrincipalGroups
                | OpType::ListPrincipalRoles
                | OpType::ExplainAccess)
        );
        OpRequest::awaited(Self::NAME, Up::AclOp(Box::new(self.0))).idempotent(read)
    }

    fn decode(reply: Reply) -> Result<AclResponse> {
        match reply.into_frame(Self::NAME)? {
            Down::Acl(r) if r.success => Ok(*r),
            Down::Acl(r) => Err(Error::refused(Self::NAME, "rule", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

fn op(kind: OpType) -> AclOperation {
    AclOperation {
        op: kind as i32,
        ..Default::default()
    }
}

fn named(kind: OpType, name: &str) -> AclOperation {
    AclOperation {
        name: name.to_string(),
        ..op(kind)
    }
}

fn missing(what: &str) -> Error {
    Error::protocol(format!("acl_op: the reply carries no {what}"))
}

impl AdminClient {
    async fn acl(&self, req: AclOperation) -> Result<AclResponse> {
        self.client.run(AclCall(req)).await
    }

    /// Grants a rule (replacing the level, reason and expiry of an existing
    /// rule for the same principal and resource).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::{AccessLevel, AclGrant, AclPrincipal, AclResource};
    /// let rule = admin
    ///     .grant(AclGrant::new(
    ///         AclPrincipal::agent("ops", "reporter", "r1"),
    ///         AclResource::workspace("finance"),
    ///         AccessLevel::ReadWrite,
    ///     ))
    ///     .await?;
    /// admin.revoke_rule(&rule.id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn grant(&self, grant: AclGrant) -> Result<AclRule> {
        let req = AclOperation {
            grant_request: Some(AclGrantRequest {
                principal_type: grant.principal.kind,
                principal_id: grant.principal.id,
                resource_type: grant.resource.kind,
                resource_id: grant.resource.id,
                access_level: grant.level.value(),
                granted_by: String::new(),
                reason: grant.reason,
                expires_at: grant.expires_at,
            }),
            ..op(OpType::Grant)
        };
        let resp = self.acl(req).await?;
        resp.rule.map(AclRule::from).ok_or_else(|| missing("rule"))
    }

    /// Grants `level` on `resource` to `principal` (no reason, no expiry).
    pub async fn grant_access(
        &self,
        principal: AclPrincipal,
        resource: AclResource,
        level: AccessLevel,
    ) -> Result<AclRule> {
        self.grant(AclGrant::new(principal, resource, level)).await
    }

    /// Revokes a rule by id; answers the rule removed.
    pub async fn revoke_rule(&self, rule_id: &str) -> Result<AclRule> {
        let req = AclOperation {
            rule_id: rule_id.to_string(),
            ..op(OpType::Revoke)
        };
        let resp = self.acl(req).await?;
        resp.rule.map(AclRule::from).ok_or_else(|| missing("rule"))
    }

    /// Revokes the rule of `principal` on `resource`.
    pub async fn revoke_access(
        &self,
        principal: &AclPrincipal,
        resource: &AclResource,
    ) -> Result<AclRule> {
        let req = AclOperation {
            rule_filter: Some(AclRuleFilter {
                principal_type: principal.kind.clone(),
                principal_id: principal.id.clone(),
                resource_type: resource.kind.clone(),
                resource_id: resource.id.clone(),
                ..Default::default()
            }),
            ..op(OpType::Revoke)
        };
        let resp = self.acl(req).await?;
        resp.rule.map(AclRule::from).ok_or_else(|| missing("rule"))
    }

    /// Lists rules. Without READ on `admin/acl`, a caller may list the
    /// rules naming itself, or those on a workspace it may read.
    pub async fn list_rules(&self, filter: RuleFilter) -> Result<RulePage> {
        let (principal_type, principal_id) =
            filter.principal.map(|p| (p.kind, p.id)).unwrap_or_default();
        let req = AclOperation {
            rule_filter: Some(AclRuleFilter {
                principal_type,
                principal_id,
                resource_type: filter.resource_type,
                resource_id: filter.resource_id,
                limit: i32::try_from(filter.limit).unwrap_or(i32::MAX),
                offset: i32::try_from(filter.offset).unwrap_or(i32::MAX),
            }),
            ..op(OpType::ListRules)
        };
        let resp = self.acl(req).await?;
        Ok(RulePage {
            total: usize::try_from(resp.total_rules).unwrap_or(0),
            rules: resp.rules.into_iter().map(AclRule::from).collect(),
        })
    }

    /// One rule (`NotFound` for a rule that is missing or not visible).
    pub async fn get_rule(&self, rule_id: &str) -> Result<AclRule> {
        let req = AclOperation {
            rule_id: rule_id.to_string(),
            ..op(OpType::GetRule)
        };
        let resp = self.acl(req).await?;
        resp.rule.map(AclRule::from).ok_or_else(|| missing("rule"))
    }

    /// The fallback policy of `category` (`agent_workspace`, ...): the one
    /// set, or the built-in default.
    pub async fn fallback_policy(&self, category: &str) -> Result<FallbackPolicy> {
        let req = AclOperation {
            rule_category: category.to_string(),
            ..op(OpType::GetFallbackPolicy)
        };
        let resp = self.acl(req).await?;
        resp.fallback_policy
            .map(FallbackPolicy::from)
            .ok_or_else(|| missing("fallback policy"))
    }

    /// Sets the fallback policy of `category`.
    pub async fn set_fallback_policy(
        &self,
        category: &str,
        level: AccessLevel,
    ) -> Result<FallbackPolicy> {
        let req = AclOperation {
            fallback_request: Some(AclSetFallbackRequest {
                rule_category: category.to_string(),
                fallback_access_level: level.value(),
                updated_by: String::new(),
            }),
            ..op(OpType::SetFallbackPolicy)
        };
        let resp = self.acl(req).await?;
        resp.fallback_policy
            .map(FallbackPolicy::from)
            .ok_or_else(|| missing("fallback policy"))
    }

    /// Deletes expired rules, memberships and role assignments; answers
    /// how many.
    pub async fn cleanup_expired_rules(&self) -> Result<u64> {
        let resp = self.acl(op(OpType::CleanupExpired)).await?;
        Ok(resp
            .cleanup_result
            .map(|c| u64::try_from(c.deleted_count).unwrap_or(0))
            .unwrap_or(0))
    }

    /// Explains `principal`'s level on `resource` against `required`
    /// (anyone may explain its own access).
    pub async fn explain_access(
        &self,
        principal: &AclPrincipal,
        resource: &AclResource,
        required: AccessLevel,
    ) -> Result<AccessExplanation> {
        let req = AclOperation {
            principal: Some(principal.to_ref()),
            resource_type: resource.kind.clone(),
            resource_id: resource.id.clone(),
            required_level: required.value(),
            ..op(OpType::ExplainAccess)
        };
        let resp = self.acl(req).await?;
        resp.explanation
            .map(AccessExplanation::from)
            .ok_or_else(|| missing("explanation"))
    }

    /// Creates a group (rules may then name `group`/`name`).
    pub async fn create_group(&self, name: &str, description: &str) -> Result<AclSet> {
        let req = AclOperation {
            group_request: Some(AclGroupRequest {
                name: name.to_string(),
                description: description.to_string(),
                ..Default::default()
            }),
            ..named(OpType::CreateGroup, name)
        };
        let resp = self.acl(req).await?;
        resp.group.map(AclSet::from).ok_or_else(|| missing("group"))
    }

    /// Deletes a group, its memberships and the rules naming it.
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        self.acl(named(OpType::DeleteGroup, name)).await.map(drop)
    }

    /// One group.
    pub async fn get_group(&self, name: &str) -> Result<AclSet> {
        let resp = self.acl(named(OpType::GetGroup, name)).await?;
        resp.group.map(AclSet::from).ok_or_else(|| missing("group"))
    }

    /// Every group.
    pub async fn list_groups(&self) -> Result<Vec<AclSet>> {
        let resp = self.acl(op(OpType::ListGroups)).await?;
        Ok(resp.groups.into_iter().map(AclSet::from).collect())
    }

    /// Adds `member` (a principal, or a group to nest) to group `name`;
    /// `expires_at` in unix seconds, 0 for never.
    pub async fn add_group_member(
        &self,
        name: &str,
        member: &AclPrincipal,
        expires_at: i64,
    ) -> Result<()> {
        let req = AclOperation {
            member_request: Some(AclGroupMemberRequest {
                member_type: member.kind.clone(),
                member_id: member.id.clone(),
                granted_by: String::new(),
                expires_at,
            }),
            ..named(OpType::AddGroupMember, name)
        };
        self.acl(req).await.map(drop)
    }

    /// Removes `member` from group `name`.
    pub async fn remove_group_member(&self, name: &str, member: &AclPrincipal) -> Result<()> {
        let req = AclOperation {
            principal: Some(member.to_ref()),
            ..named(OpType::RemoveGroupMember, name)
        };
        self.acl(req).await.map(drop)
    }

    /// The members of group `name`.
    pub async fn list_group_members(&self, name: &str) -> Result<Vec<Membership>> {
        let resp = self.acl(named(OpType::ListGroupMembers, name)).await?;
        Ok(resp
            .group_members
            .into_iter()
            .map(|m| Membership {
                set: m.group_name,
                member: AclPrincipal::new(m.member_type, m.member_id),
                granted_by: m.granted_by,
                granted_at: m.granted_at,
                expires_at: m.expires_at,
            })
            .collect())
    }

    /// The groups `principal` belongs to (nested ones included).
    pub async fn list_principal_groups(&self, principal: &AclPrincipal) -> Result<Vec<AclSet>> {
        let req = AclOperation {
            principal: Some(principal.to_ref()),
            ..op(OpType::ListPrincipalGroups)
        };
        let resp = self.acl(req).await?;
        Ok(resp.groups.into_iter().map(AclSet::from).collect())
    }

    /// Creates a role (rules may then name `role`/`name`).
    pub async fn create_role(&self, name: &str, description: &str) -> Result<AclSet> {
        let req = AclOperation {
            role_request: Some(AclRoleRequest {
                name: name.to_string(),
                description: description.to_string(),
                ..Default::default()
            }),
            ..named(OpType::CreateRole, name)
        };
        let resp = self.acl(req).await?;
        resp.role.map(AclSet::from).ok_or_else(|| missing("role"))
    }

    /// Deletes a role, its assignments and the rules naming it.
    pub async fn delete_role(&self, name: &str) -> Result<()> {
        self.acl(named(OpType::DeleteRole, name)).await.map(drop)
    }

    /// One role.
    pub async fn get_role(&self, name: &str) -> Result<AclSet> {
        let resp = self.acl(named(OpType::GetRole, name)).await?;
        resp.role.map(AclSet::from).ok_or_else(|| missing("role"))
    }

    /// Every role.
    pub async fn list_roles(&self) -> Result<Vec<AclSet>> {
        let resp = self.acl(op(OpType::ListRoles)).await?;
        Ok(resp.roles.into_iter().map(AclSet::from).collect())
    }

    /// Assigns role `name` to `assignee` (a principal or a group);
    /// `expires_at` in unix seconds, 0 for never.
    pub async fn assign_role(
        &self,
        name: &str,
        assignee: &AclPrincipal,
        expires_at: i64,
    ) -> Result<()> {
        let req = AclOperation {
            assignment_request: Some(AclRoleAssignmentRequest {
                assignee_type: assignee.kind.clone(),
                assignee_id: assignee.id.clone(),
                granted_by: String::new(),
                expires_at,
            }),
            ..named(OpType::AssignRole, name)
        };
        self.acl(req).await.map(drop)
    }

    /// Takes role `name` from `assignee`.
    pub async fn unassign_role(&self, name: &str, assignee: &AclPrincipal) -> Result<()> {
        let req = AclOperation {
            principal: Some(assignee.to_ref()),
            ..named(OpType::UnassignRole, name)
        };
        self.acl(req).await.map(drop)
    }

    /// The holders of role `name`.
    pub async fn list_role_assignments(&self, name: &str) -> Result<Vec<Membership>> {
        let resp = self.acl(named(OpType::ListRoleAssignments, name)).await?;
        Ok(resp
            .role_assignments
            .into_iter()
            .map(|a| Membership {
                set: a.role_name,
                member: AclPrincipal::new(a.assignee_type, a.assignee_id),
                granted_by: a.granted_by,
                granted_at: a.granted_at,
                expires_at: a.expires_at,
            })
            .collect())
    }

    /// The roles `principal` holds (directly or through its groups).
    pub async fn list_principal_roles(&self, principal: &AclPrincipal) -> Result<Vec<AclSet>> {
        let req = AclOperation {
            principal: Some(principal.to_ref()),
            ..op(OpType::ListPrincipalRoles)
        };
        let resp = self.acl(req).await?;
        Ok(resp.roles.into_iter().map(AclSet::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip() {
        for l in [
            AccessLevel::None,
            AccessLevel::Read,
            AccessLevel::ReadWrite,
            AccessLevel::Manage,
            AccessLevel::Admin,
            AccessLevel::SuperAdmin,
        ] {
            assert_eq!(AccessLevel::from_value(l.value()), l);
            assert_eq!(AccessLevel::from_proto_enum(l.to_proto_enum() as i32), l);
        }
        assert!(AccessLevel::Admin > AccessLevel::Read);
        assert_eq!(AccessLevel::from_value(15), AccessLevel::Read);
    }

    #[test]
    fn principals_and_resources() {
        let p = Principal::agent("w", "i", "s").unwrap();
        assert_eq!(AclPrincipal::of(&p), AclPrincipal::agent("w", "i", "s"));
        let u = Principal::user("alice", "tab").unwrap();
        assert_eq!(AclPrincipal::of(&u), AclPrincipal::user("alice"));
        assert_eq!(AclResource::admin("*").id, "admin/*");
        assert_eq!(
            AclResource::capability("query_connections").id,
            "capability/query_connections"
        );
    }
}
