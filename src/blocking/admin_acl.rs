//! Blocking twins of the acl methods (see the async `AdminClient`).

use super::AdminClient;
use crate::admin::{
    AccessExplanation, AccessLevel, AclGrant, AclPrincipal, AclResource, AclRule, AclSet,
    FallbackPolicy, Membership, RuleFilter, RulePage,
};
use crate::error::Result;

impl AdminClient {
    /// Grants a rule (replacing the level, reason and expiry of an existing
    /// rule for the same principal and resource).
    pub fn grant(&self, grant: AclGrant) -> Result<AclRule> {
        self.block_on(self.as_async().grant(grant))
    }

    /// Grants `level` on `resource` to `principal` (no reason, no expiry).
    pub fn grant_access(
        &self,
        principal: AclPrincipal,
        resource: AclResource,
        level: AccessLevel,
    ) -> Result<AclRule> {
        self.block_on(self.as_async().grant_access(principal, resource, level))
    }

    /// Revokes a rule by id; answers the rule removed.
    pub fn revoke_rule(&self, rule_id: &str) -> Result<AclRule> {
        self.block_on(self.as_async().revoke_rule(rule_id))
    }

    /// Revokes the rule of `principal` on `resource`.
    pub fn revoke_access(
        &self,
        principal: &AclPrincipal,
        resource: &AclResource,
    ) -> Result<AclRule> {
        self.block_on(self.as_async().revoke_access(principal, resource))
    }

    /// Lists rules. Without READ on `admin/acl`, a caller may list the
    /// rules naming itself, or those on a workspace it may read.
    pub fn list_rules(&self, filter: RuleFilter) -> Result<RulePage> {
        self.block_on(self.as_async().list_rules(filter))
    }

    /// One rule (`NotFound` for a rule that is missing or not visible).
    pub fn get_rule(&self, rule_id: &str) -> Result<AclRule> {
        self.block_on(self.as_async().get_rule(rule_id))
    }

    /// The fallback policy of `category` (`agent_workspace`, ...): the one
    /// set, or the built-in default.
    pub fn fallback_policy(&self, category: &str) -> Result<FallbackPolicy> {
        self.block_on(self.as_async().fallback_policy(category))
    }

    /// Sets the fallback policy of `category`.
    pub fn set_fallback_policy(
        &self,
        category: &str,
        level: AccessLevel,
    ) -> Result<FallbackPolicy> {
        self.block_on(self.as_async().set_fallback_policy(category, level))
    }

    /// Deletes expired rules, memberships and role assignments; answers
    /// how many.
    pub fn cleanup_expired_rules(&self) -> Result<u64> {
        self.block_on(self.as_async().cleanup_expired_rules())
    }

    /// Explains `principal`'s level on `resource` against `required`
    /// (anyone may explain its own access).
    pub fn explain_access(
        &self,
        principal: &AclPrincipal,
        resource: &AclResource,
        required: AccessLevel,
    ) -> Result<AccessExplanation> {
        self.block_on(
            self.as_async()
                .explain_access(principal, resource, required),
        )
    }

    /// Creates a group (rules may then name `group`/`name`).
    pub fn create_group(&self, name: &str, description: &str) -> Result<AclSet> {
        self.block_on(self.as_async().create_group(name, description))
    }

    /// Deletes a group, its memberships and the rules naming it.
    pub fn delete_group(&self, name: &str) -> Result<()> {
        self.block_on(self.as_async().delete_group(name))
    }

    /// One group.
    pub fn get_group(&self, name: &str) -> Result<AclSet> {
        self.block_on(self.as_async().get_group(name))
    }

    /// Every group.
    pub fn list_groups(&self) -> Result<Vec<AclSet>> {
        self.block_on(self.as_async().list_groups())
    }

    /// Adds `member` (a principal, or a group to nest) to group `name`;
    /// `expires_at` in unix seconds, 0 for never.
    pub fn add_group_member(
        &self,
        name: &str,
        member: &AclPrincipal,
        expires_at: i64,
    ) -> Result<()> {
        self.block_on(self.as_async().add_group_member(name, member, expires_at))
    }

    /// Removes `member` from group `name`.
    pub fn remove_group_member(&self, name: &str, member: &AclPrincipal) -> Result<()> {
        self.block_on(self.as_async().remove_group_member(name, member))
    }

    /// The members of group `name`.
    pub fn list_group_members(&self, name: &str) -> Result<Vec<Membership>> {
        self.block_on(self.as_async().list_group_members(name))
    }

    /// The groups `principal` belongs to (nested ones included).
    pub fn list_principal_groups(&self, principal: &AclPrincipal) -> Result<Vec<AclSet>> {
        self.block_on(self.as_async().list_principal_groups(principal))
    }

    /// Creates a role (rules may then name `role`/`name`).
    pub fn create_role(&self, name: &str, description: &str) -> Result<AclSet> {
        self.block_on(self.as_async().create_role(name, description))
    }

    /// Deletes a role, its assignments and the rules naming it.
    pub fn delete_role(&self, name: &str) -> Result<()> {
        self.block_on(self.as_async().delete_role(name))
    }

    /// One role.
    pub fn get_role(&self, name: &str) -> Result<AclSet> {
        self.block_on(self.as_async().get_role(name))
    }

    /// Every role.
    pub fn list_roles(&self) -> Result<Vec<AclSet>> {
        self.block_on(self.as_async().list_roles())
    }

    /// Assigns role `name` to `assignee` (a principal or a group);
    /// `expires_at` in unix seconds, 0 for never.
    pub fn assign_role(&self, name: &str, assignee: &AclPrincipal, expires_at: i64) -> Result<()> {
        self.block_on(self.as_async().assign_role(name, assignee, expires_at))
    }

    /// Takes role `name` from `assignee`.
    pub fn unassign_role(&self, name: &str, assignee: &AclPrincipal) -> Result<()> {
        self.block_on(self.as_async().unassign_role(name, assignee))
    }

    /// The holders of role `name`.
    pub fn list_role_assignments(&self, name: &str) -> Result<Vec<Membership>> {
        self.block_on(self.as_async().list_role_assignments(name))
    }

    /// The roles `principal` holds (directly or through its groups).
    pub fn list_principal_roles(&self, principal: &AclPrincipal) -> Result<Vec<AclSet>> {
        self.block_on(self.as_async().list_principal_roles(principal))
    }
}
