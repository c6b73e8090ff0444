//! Sessions, for administrators: list the gateway's connections, look one
//! up, disconnect one (`SessionOperation`; the same operations every
//! client has as `list_sessions`, `get_session`, `disconnect_session`).

use super::AdminClient;
use crate::error::Result;
use crate::proto::{ConnectionFilter, ConnectionInfo, PrincipalType};

/// Which connections to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only principals of this type.
    pub principal_type: Option<PrincipalType>,
    /// Only sessions on this workspace.
    pub workspace: String,
    /// Page size (0: all).
    pub limit: u32,
    /// Sessions to skip.
    pub offset: u32,
}

impl AdminClient {
    /// The gateway's connections (needs READ on `admin/sessions`).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::SessionFilter;
    /// for c in admin.list_connections(SessionFilter::default()).await? {
    ///     println!("{} since {}", c.identity, c.connected_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_connections(&self, filter: SessionFilter) -> Result<Vec<ConnectionInfo>> {
        self.client
            .list_sessions(ConnectionFilter {
                r#type: filter.principal_type.unwrap_or(PrincipalType::Unspecified) as i32,
                workspace: filter.workspace,
                limit: i32::try_from(filter.limit).unwrap_or(i32::MAX),
                offset: i32::try_from(filter.offset).unwrap_or(i32::MAX),
            })
            .await
    }

    /// One connection by session id (`NotFound` when there is none).
    pub async fn get_connection(&self, session_id: &str) -> Result<ConnectionInfo> {
        self.client.get_session(session_id).await
    }

    /// Disconnects a session: it receives FORCE_DISCONNECT and does not
    /// reconnect (needs ADMIN on `admin/sessions`).
    pub async fn disconnect_session(&self, session_id: &str) -> Result<()> {
        self.client.disconnect_session(session_id).await
    }
}
