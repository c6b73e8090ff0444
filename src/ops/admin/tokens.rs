//! API tokens (`TokenOperation`): mint one for a principal type, list,
//! look up, revoke and delete them. Only an administrator of the gateway
//! may (on the embedded gateway: a session authenticated with the admin
//! key or with a token that has the `admin` scope); others get
//! [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied).
//!
//! A minted token's secret is shown once, in [`MintedToken::secret`]; the
//! gateway keeps only its digest. Present it as the API key of any client
//! of the principal type it was minted for:
//!
//! ```no_run
//! # async fn demo(admin: aether_client::admin::AdminClient, url: String) -> aether_client::Result<()> {
//! use aether_client::admin::TokenSpec;
//! use aether_client::{AgentClient, Credentials};
//!
//! let minted = admin
//!     .create_token(TokenSpec::new("payroll worker", "Agent").workspace_patterns(["payroll"]))
//!     .await?;
//! let agent = AgentClient::builder("payroll", "worker", "w1")?
//!     .gateway(url)
//!     .credentials(Credentials::new().with_api_key(minted.secret.expose()))
//!     .build();
//! agent.connect().await?;
//! admin.revoke_token(&minted.token.id).await?;   // the agent is disconnected at once
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AdminClient;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::token_operation::OpType;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, TokenResponse};
use crate::stack::{OpRequest, Operation, Reply};

/// What to mint: a name, the principal type it authenticates (`"Agent"`,
/// `"Task"`, `"User"`, `"Service"`, `"WorkflowEngine"`,
/// `"MetricsBridge"`, `"Orchestrator"`, `"Bridge"`; the embedded gateway
/// ignores case), and optional limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenSpec {
    /// A name for people (the token list shows it).
    pub name: String,
    /// The principal type the token authenticates.
    pub principal_type: String,
    /// Workspaces the principal may be in (`*`, `team-*`); empty: all.
    pub workspace_patterns: Vec<String>,
    /// Scopes; empty: the gateway's default (`connect`).
    pub scopes: Vec<String>,
    /// Lifetime in whole hours; 0: no expiry.
    pub expires_in_hours: u32,
    /// The bound id (`created_by` on the wire): only the principal with
    /// this id may use the token. Required for user tokens (the user id).
    pub bound_id: String,
}

impl TokenSpec {
    /// A token for any principal of `principal_type`, in any workspace,
    /// without expiry.
    pub fn new(name: impl Into<String>, principal_type: impl Into<String>) -> Self {
        TokenSpec {
            name: name.into(),
            principal_type: principal_type.into(),
            workspace_patterns: Vec::new(),
            scopes: Vec::new(),
            expires_in_hours: 0,
            bound_id: String::new(),
        }
    }

    /// Limits the token to workspaces matching these patterns.
    pub fn workspace_patterns<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.workspace_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the scopes (`connect`, `admin` on the embedded gateway).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Lets the token expire after `hours`.
    pub fn expires_in_hours(mut self, hours: u32) -> Self {
        self.expires_in_hours = hours;
        self
    }

    /// Binds the token to one principal id (a user id for user tokens; the
    /// identity string or the implementation for the others).
    pub fn bound_id(mut self, id: impl Into<String>) -> Self {
        self.bound_id = id.into();
        self
    }
}

/// A token's secret, shown once. Its `Debug` output is redacted; use
/// [`expose`](Self::expose) to present it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// The secret, to pass as an API key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// A token as the gateway describes it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiToken {
    /// Its id (for get, revoke, delete).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The principal type it authenticates.
    pub principal_type: String,
    /// Workspaces it is limited to.
    pub workspace_patterns: Vec<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// The bound id (`created_by` on the wire); empty when unbound.
    pub bound_id: String,
    /// When it expires (`None`: never).
    pub expires_at: Option<SystemTime>,
    /// When a connection last used it.
    pub last_used_at: Option<SystemTime>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<SystemTime>,
    /// When it was minted.
    pub created_at: Option<SystemTime>,
    /// When it last changed.
    pub updated_at: Option<SystemTime>,
}

fn unix_s(s: i64) -> Option<SystemTime> {
    u64::try_from(s)
        .ok()
        .filter(|s| *s > 0)
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

impl From<proto::TokenInfo> for ApiToken {
    fn from(t: proto::TokenInfo) -> Self {
        ApiToken {
            id: t.id,
            name: t.name,
            principal_type: t.principal_type,
            workspace_patterns: t.workspace_patterns,
            scopes: t.scopes,
            bound_id: t.created_by,
            expires_at: unix_s(t.expires_at),
            last_used_at: unix_s(t.last_used_at),
            revoked: t.revoked,
            revoked_at: unix_s(t.revoked_at),
            created_at: unix_s(t.created_at),
            updated_at: unix_s(t.updated_at),
        }
    }
}

/// A freshly minted token: its secret (shown once) and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MintedToken {
    /// Present it as the API key.
    pub secret: TokenSecret,
    /// What the gateway keeps.
    pub token: ApiToken,
}

/// Which tokens [`AdminClient::list_tokens`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenListOptions {
    /// Page size; 0: the gateway's default (100).
    pub limit: u32,
    /// Tokens to skip.
    pub offset: u32,
    /// Include revoked tokens.
    pub include_revoked: bool,
}

impl TokenListOptions {
    /// Sets the page size.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
    /// Sets how many to skip.
    pub fn offset(mut self, n: u32) -> Self {
        self.offset = n;
        self
    }
    /// Includes revoked tokens.
    pub fn include_revoked(mut self, yes: bool) -> Self {
        self.include_revoked = yes;
        self
    }
}

/// One page of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPage {
    /// The tokens of this page.
    pub tokens: Vec<ApiToken>,
    /// How many tokens match in all (upstream gateways may report the
    /// page's size).
    pub total_count: u32,
}

fn request(name: &'static str, op: proto::TokenOperation) -> OpRequest {
    let repeatable = matches!(
        OpType::try_from(op.op),
        Ok(OpType::List | OpType::Get | OpType::Revoke)
    );
    OpRequest::awaited(name, Up::TokenOp(Box::new(op))).idempotent(repeatable)
}

fn reply(name: &str, reply: Reply) -> Result<TokenResponse> {
    match reply.into_frame(name)? {
        Down::Token(r) if r.success => Ok(*r),
        Down::Token(r) => Err(Error::refused(name, "token", &r.error)),
        other => Err(Error::unexpected(name, &other)),
    }
}

/// CREATE: mints a token.
#[derive(Debug, Clone)]
pub struct CreateToken(pub TokenSpec);

impl Operation for CreateToken {
    const NAME: &'static str = "create_token";
    type Output = MintedToken;

    fn into_request(self) -> OpRequest {
        let s = self.0;
        request(
            Self::NAME,
            proto::TokenOperation {
                op: OpType::Create as i32,
                create_request: Some(proto::TokenCreateRequest {
                    name: s.name,
                    principal_type: s.principal_type,
                    workspace_patterns: s.workspace_patterns,
                    scopes: s.scopes,
                    expires_in_hours: i32::try_from(s.expires_in_hours).unwrap_or(i32::MAX),
                    created_by: s.bound_id,
                }),
                ..Default::default()
            },
        )
    }

    fn decode(r: Reply) -> Result<MintedToken> {
        let r = reply(Self::NAME, r)?;
        let token = r.created_token.ok_or_else(|| {
            Error::new(ErrorKind::Protocol, "create_token: the reply has no token")
        })?;
        if r.plaintext_token.is_empty() {
            return Err(Error::new(
                ErrorKind::Protocol,
                "create_token: the reply has no secret",
            ));
        }
        Ok(MintedToken {
            secret: TokenSecret(r.plaintext_token),
            token: token.into(),
        })
    }
}

/// LIST: a page of tokens.
#[derive(Debug, Clone, Default)]
pub struct ListTokens(pub TokenListOptions);

impl Operation for ListTokens {
    const NAME: &'static str = "list_tokens";
    type Output = TokenPage;

    fn into_request(self) -> OpRequest {
        let o = self.0;
        request(
            Self::NAME,
            proto::TokenOperation {
                op: OpType::List as i32,
                filter: Some(proto::TokenFilter {
                    limit: i32::try_from(o.limit).unwrap_or(i32::MAX),
                    offset: i32::try_from(o.offset).unwrap_or(i32::MAX),
                    include_revoked: o.include_revoked,
                }),
                ..Default::default()
            },
        )
    }

    fn decode(r: Reply) -> Result<TokenPage> {
        let r = reply(Self::NAME, r)?;
        Ok(TokenPage {
            total_count: u32::try_from(r.total_count).unwrap_or(0),
            tokens: r.tokens.into_iter().map(ApiToken::from).collect(),
        })
    }
}

fn by_id(op: OpType, id: String) -> proto::TokenOperation {
    proto::TokenOperation {
        op: op as i32,
        token_id: id,
        ..Default::default()
    }
}

/// GET: one token (`NotFound` when there is none).
#[derive(Debug, Clone)]
pub struct GetToken(pub String);

impl Operation for GetToken {
    const NAME: &'static str = "get_token";
    type Output = ApiToken;

    fn into_request(self) -> OpRequest {
        request(Self::NAME, by_id(OpType::Get, self.0))
    }

    fn decode(r: Reply) -> Result<ApiToken> {
        reply(Self::NAME, r)?
            .token
            .map(ApiToken::from)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "get_token: token not found"))
    }
}

/// REVOKE: the token stops authenticating; its sessions end.
#[derive(Debug, Clone)]
pub struct RevokeToken(pub String);

impl Operation for RevokeToken {
    const NAME: &'static str = "revoke_token";
    type Output = ();

    fn into_request(self) -> OpRequest {
        request(Self::NAME, by_id(OpType::Revoke, self.0))
    }

    fn decode(r: Reply) -> Result<()> {
        reply(Self::NAME, r).map(drop)
    }
}

/// DELETE: the token is forgotten (and stops authenticating).
#[derive(Debug, Clone)]
pub struct DeleteToken(pub String);

impl Operation for DeleteToken {
    const NAME: &'static str = "delete_token";
    type Output = ();

    fn into_request(self) -> OpRequest {
        request(Self::NAME, by_id(OpType::Delete, self.0))
    }

    fn decode(r: Reply) -> Result<()> {
        reply(Self::NAME, r).map(drop)
    }
}

impl AdminClient {
    /// Mints an API token; its secret is in the result, and only there.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::TokenSpec;
    /// let minted = admin
    ///     .create_token(TokenSpec::new("alice's laptop", "User").bound_id("alice").expires_in_hours(24))
    ///     .await?;
    /// println!("token {} (secret shown once)", minted.token.id);
    /// # Ok(()) }
    /// ```
    pub async fn create_token(&self, spec: TokenSpec) -> Result<MintedToken> {
        self.client.run(CreateToken(spec)).await
    }

    /// Lists tokens (without their secrets).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::TokenListOptions;
    /// let page = admin.list_tokens(TokenListOptions::default().include_revoked(true)).await?;
    /// for t in &page.tokens {
    ///     println!("{} {} revoked={}", t.id, t.name, t.revoked);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_tokens(&self, options: TokenListOptions) -> Result<TokenPage> {
        self.client.run(ListTokens(options)).await
    }

    /// One token by id ([`ErrorKind::NotFound`] when there is none).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// let t = admin.get_token("tok_0123").await?;
    /// println!("last used {:?}", t.last_used_at);
    /// # Ok(()) }
    /// ```
    pub async fn get_token(&self, token_id: &str) -> Result<ApiToken> {
        self.client.run(GetToken(token_id.to_string())).await
    }

    /// Revokes a token: new connections with it are refused, and the
    /// gateway ends the live sessions that used it. Revoking twice is fine.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// admin.revoke_token("tok_0123").await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke_token(&self, token_id: &str) -> Result<()> {
        self.client.run(RevokeToken(token_id.to_string())).await
    }

    /// Deletes a token (revoking it first, in effect); a second delete is
    /// [`ErrorKind::NotFound`].
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// admin.delete_token("tok_0123").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_token(&self, token_id: &str) -> Result<()> {
        self.client.run(DeleteToken(token_id.to_string())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(r: TokenResponse) -> Reply {
        Reply::Frame(Down::Token(Box::new(r)))
    }

    #[test]
    fn requests_carry_the_spec_and_repeat_only_when_safe() {
        let req = CreateToken(
            TokenSpec::new("n", "Agent")
                .workspace_patterns(["w"])
                .scopes(["admin"])
                .expires_in_hours(2)
                .bound_id("b"),
        )
        .into_request();
        assert!(!req.is_idempotent());
        assert!(ListTokens::default().into_request().is_idempotent());
        assert!(GetToken("t".into()).into_request().is_idempotent());
        assert!(RevokeToken("t".into()).into_request().is_idempotent());
        assert!(!DeleteToken("t".into()).into_request().is_idempotent());
    }

    #[test]
    fn replies_decode_and_refusals_are_typed() {
        let minted = CreateToken::decode(frame(TokenResponse {
            success: true,
            plaintext_token: "aet_secret".into(),
            created_token: Some(proto::TokenInfo {
                id: "tok_1".into(),
                created_by: "alice".into(),
                created_at: 10,
                ..Default::default()
            }),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(minted.secret.expose(), "aet_secret");
        assert!(!format!("{minted:?}").contains("aet_secret"));
        assert_eq!(minted.token.bound_id, "alice");
        assert_eq!(
            minted.token.created_at,
            Some(UNIX_EPOCH + Duration::from_secs(10))
        );
        assert_eq!(minted.token.expires_at, None);
        let missing = GetToken::decode(frame(TokenResponse {
            error: "token not found".into(),
            ..Default::default()
        }));
        assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
        let denied = RevokeToken::decode(frame(TokenResponse {
            error: "token operations require administrator privileges".into(),
            ..Default::default()
        }));
        assert_eq!(denied.unwrap_err().kind(), ErrorKind::PermissionDenied);
        let invalid = CreateToken::decode(frame(TokenResponse {
            error: "name is required".into(),
            ..Default::default()
        }));
        assert_eq!(invalid.unwrap_err().kind(), ErrorKind::Rejected);
    }
}
