//! Blocking twins of the API-token methods of
//! [`crate::admin::AdminClient`].

use super::AdminClient;
use crate::admin::{ApiToken, MintedToken, TokenListOptions, TokenPage, TokenSpec};
use crate::error::Result;

impl AdminClient {
    /// Mints an API token; its secret is in the result, and only there.
    ///
    /// ```no_run
    /// # fn demo(admin: aether_client::blocking::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::TokenSpec;
    /// let minted = admin.create_token(TokenSpec::new("metrics", "MetricsBridge"))?;
    /// # let _ = minted;
    /// # Ok(()) }
    /// ```
    pub fn create_token(&self, spec: TokenSpec) -> Result<MintedToken> {
        self.block_on(self.as_async().create_token(spec))
    }

    /// Lists tokens (without their secrets).
    pub fn list_tokens(&self, options: TokenListOptions) -> Result<TokenPage> {
        self.block_on(self.as_async().list_tokens(options))
    }

    /// One token by id (`NotFound` when there is none).
    pub fn get_token(&self, token_id: &str) -> Result<ApiToken> {
        self.block_on(self.as_async().get_token(token_id))
    }

    /// Revokes a token and ends the sessions that used it.
    pub fn revoke_token(&self, token_id: &str) -> Result<()> {
        self.block_on(self.as_async().revoke_token(token_id))
    }

    /// Deletes a token.
    pub fn delete_token(&self, token_id: &str) -> Result<()> {
        self.block_on(self.as_async().delete_token(token_id))
    }
}
