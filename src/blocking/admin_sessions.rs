//! Blocking twins of the sessions methods (see the async `AdminClient`).

use super::AdminClient;
use crate::admin::SessionFilter;
use crate::error::Result;
use crate::proto::ConnectionInfo;

impl AdminClient {
    /// The gateway's connections (needs READ on `admin/sessions`).
    pub fn list_connections(&self, filter: SessionFilter) -> Result<Vec<ConnectionInfo>> {
        self.block_on(self.as_async().list_connections(filter))
    }

    /// One connection by session id (`NotFound` when there is none).
    pub fn get_connection(&self, session_id: &str) -> Result<ConnectionInfo> {
        self.block_on(self.as_async().get_connection(session_id))
    }

    /// Disconnects a session: it receives FORCE_DISCONNECT and does not
    /// reconnect (needs ADMIN on `admin/sessions`).
    pub fn disconnect_session(&self, session_id: &str) -> Result<()> {
        self.block_on(self.as_async().disconnect_session(session_id))
    }
}
