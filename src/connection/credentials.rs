//! Credentials carried in `InitConnection.credentials`, keyed exactly as the
//! reference SDK sends them.

use std::collections::HashMap;

/// A credential map for the handshake.
///
/// ```
/// use aether_client::Credentials;
/// let c = Credentials::new().with_api_key("k").with_tenant("acme");
/// assert_eq!(c.as_map().get("x-api-key").map(String::as_str), Some("k"));
/// assert_eq!(c.as_map().get("x-tenant-id").map(String::as_str), Some("acme"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(HashMap<String, String>);

impl Credentials {
    /// An empty credential map (enough for a gateway in dev mode).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a long-lived API key (`x-api-key`).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.0.insert("x-api-key".into(), key.into());
        self
    }

    /// Adds an orchestration task token (`token`), as minted by the gateway
    /// for a worker it asked an orchestrator to launch.
    pub fn with_task_token(mut self, token: impl Into<String>) -> Self {
        self.0.insert("token".into(), token.into());
        self
    }

    /// Adds an OAuth/JWT bearer token (`authorization: Bearer <t>`).
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.0
            .insert("authorization".into(), format!("Bearer {}", token.into()));
        self
    }

    /// Adds the tenant id (`x-tenant-id`, informational).
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.0.insert("x-tenant-id".into(), tenant.into());
        self
    }

    /// Adds any other key.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The map as sent.
    pub fn as_map(&self) -> &HashMap<String, String> {
        &self.0
    }

    pub(crate) fn to_map(&self) -> HashMap<String, String> {
        self.0.clone()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Credentials {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Credentials(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}
