//! Administration over any connected client: [`AdminClient`] groups the
//! gateway's administrative operation families (tokens, workspaces, ACL
//! rules, authority grants and requests, audit, the agent registry,
//! sessions), each in a file of this folder as `impl AdminClient` blocks
//! with typed results. The gateway decides what the connection's
//! principal may do; a refusal is a typed [`Error`](crate::Error).

mod access;
mod acl;
mod agents;
mod audit;
mod grants;
mod requests;
mod sessions;
mod tokens;
mod workflows;
mod workspaces;

pub use access::{AccessDecision, AccessRequest};
pub use acl::{
    AccessExplanation, AccessLevel, AclGrant, AclPrincipal, AclResource, AclRule, AclSet,
    Contribution, FallbackPolicy, Membership, RuleFilter, RulePage,
};
pub use agents::{
    AgentLaunch, AgentRegistration, ConnectedOrchestrator, RegisteredAgent, ResourceSchema,
};
pub use audit::{AuditEntry, AuditEventSpec, AuditFilter, AuditPage, QueryAudit, SubmitAuditEvent};
pub use grants::{AuthorityGrant, GrantFilter, GrantPage, GrantRequest, ResolvedAuthority};
pub use requests::{AuthorityAsk, AuthorityDecision, AuthorityRequest, RequestStatus};
pub use sessions::SessionFilter;
pub use tokens::{
    ApiToken, CreateToken, DeleteToken, GetToken, ListTokens, MintedToken, RevokeToken,
    TokenListOptions, TokenPage, TokenSecret, TokenSpec,
};
pub use workspaces::{Workspace, WorkspaceSpec};

use crate::clients::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};

/// The administrative operations, sent over an existing client's
/// connection (any principal; the gateway authorizes each call).
///
/// ```no_run
/// # async fn demo(orchestrator: aether_client::OrchestratorClient) -> aether_client::Result<()> {
/// use aether_client::admin::AdminClient;
/// let admin = AdminClient::new(&orchestrator);
/// # let _ = admin;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AdminClient {
    client: Client<AnyPrincipal>,
}

impl AdminClient {
    /// Administration over `client`'s connection.
    pub fn new<P: PrincipalType>(client: &Client<P>) -> Self {
        AdminClient {
            client: client.erase(),
        }
    }

    /// The client whose connection carries the operations.
    pub fn client(&self) -> &Client<AnyPrincipal> {
        &self.client
    }
}
