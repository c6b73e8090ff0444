//! Blocking twins of the authority grant and request methods (see the
//! async `AdminClient`).

use std::time::Duration;

use super::AdminClient;
use crate::admin::{
    AclPrincipal, AuthorityAsk, AuthorityDecision, AuthorityGrant, AuthorityRequest, GrantFilter,
    GrantPage, GrantRequest, ResolvedAuthority,
};
use crate::error::Result;

impl AdminClient {
    /// Lends the caller's rights (capped by `request`) to its delegate.
    pub fn exchange_authority_grant(&self, request: GrantRequest) -> Result<AuthorityGrant> {
        self.block_on(self.as_async().exchange_authority_grant(request))
    }

    /// Many exchanges at once: the grants issued, and the first refusal's
    /// text if any was refused.
    pub fn batch_exchange_authority_grants(
        &self,
        requests: Vec<GrantRequest>,
        stop_on_first_error: bool,
    ) -> Result<(Vec<AuthorityGrant>, Option<String>)> {
        self.block_on(
            self.as_async()
                .batch_exchange_authority_grants(requests, stop_on_first_error),
        )
    }

    /// Passes on a grant the caller holds, attenuated.
    pub fn derive_authority_grant(
        &self,
        parent_grant_id: &str,
        request: GrantRequest,
    ) -> Result<AuthorityGrant> {
        self.block_on(
            self.as_async()
                .derive_authority_grant(parent_grant_id, request),
        )
    }

    /// Passes on a grant to `target` (idempotent).
    pub fn derive_authority_grant_for_target(
        &self,
        parent_grant_id: &str,
        target: &AclPrincipal,
    ) -> Result<AuthorityGrant> {
        self.block_on(
            self.as_async()
                .derive_authority_grant_for_target(parent_grant_id, target),
        )
    }

    /// A grant the caller is a party to.
    pub fn get_authority_grant(&self, grant_id: &str) -> Result<AuthorityGrant> {
        self.block_on(self.as_async().get_authority_grant(grant_id))
    }

    /// Moves a grant's expiry to unix ms `expires_at_ms`.
    pub fn renew_authority_grant(
        &self,
        grant_id: &str,
        expires_at_ms: i64,
    ) -> Result<AuthorityGrant> {
        self.block_on(
            self.as_async()
                .renew_authority_grant(grant_id, expires_at_ms),
        )
    }

    /// Extends a grant by `by`.
    pub fn extend_authority_grant(&self, grant_id: &str, by: Duration) -> Result<AuthorityGrant> {
        self.block_on(self.as_async().extend_authority_grant(grant_id, by))
    }

    /// Revokes a grant and every grant derived from it.
    pub fn revoke_authority_grant(&self, grant_id: &str) -> Result<AuthorityGrant> {
        self.block_on(self.as_async().revoke_authority_grant(grant_id))
    }

    /// The grants the caller holds.
    pub fn list_my_authority_grants(&self, filter: GrantFilter) -> Result<GrantPage> {
        self.block_on(self.as_async().list_my_authority_grants(filter))
    }

    /// The grants that lend the caller's rights.
    pub fn list_authority_grants_on_me(&self, filter: GrantFilter) -> Result<GrantPage> {
        self.block_on(self.as_async().list_authority_grants_on_me(filter))
    }

    /// Whether `grant_id` lets `actor` (the caller when `None`) act for
    /// `subject`.
    pub fn resolve_authority(
        &self,
        grant_id: &str,
        subject: &AclPrincipal,
        actor: Option<&AclPrincipal>,
    ) -> Result<ResolvedAuthority> {
        self.block_on(self.as_async().resolve_authority(grant_id, subject, actor))
    }

    /// Asks a subject to lend the caller rights.
    pub fn request_authority(&self, ask: AuthorityAsk) -> Result<AuthorityRequest> {
        self.block_on(self.as_async().request_authority(ask))
    }

    /// A request the caller is a party to.
    pub fn get_authority_request(&self, request_id: &str) -> Result<AuthorityRequest> {
        self.block_on(self.as_async().get_authority_request(request_id))
    }

    /// The pending requests routed to the caller.
    pub fn list_pending_authority_requests(
        &self,
        workspace: &str,
    ) -> Result<Vec<AuthorityRequest>> {
        self.block_on(self.as_async().list_pending_authority_requests(workspace))
    }

    /// Approves or denies a request (the subject only).
    pub fn resolve_authority_request(
        &self,
        request_id: &str,
        decision: AuthorityDecision,
    ) -> Result<AuthorityRequest> {
        self.block_on(
            self.as_async()
                .resolve_authority_request(request_id, decision),
        )
    }

    /// Sends `op` to the workflow engine through the gateway and returns
    /// its answer.
    pub fn workflow_op(
        &self,
        op: crate::proto::WorkflowOperation,
    ) -> Result<crate::proto::WorkflowResponse> {
        self.block_on(self.as_async().workflow_op(op))
    }

    /// Withdraws a pending request (the requester only).
    pub fn cancel_authority_request(
        &self,
        request_id: &str,
        reason: &str,
    ) -> Result<AuthorityRequest> {
        self.block_on(self.as_async().cancel_authority_request(request_id, reason))
    }
}
