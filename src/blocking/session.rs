//! Blocking twins of the session methods.

use super::Client;
use crate::clients::principal::{PrincipalType, User};
use crate::error::Result;
use crate::proto::{ConnectionFilter, ConnectionInfo};

impl<P: PrincipalType> Client<P> {
    /// Lists the gateway's sessions.
    pub fn list_sessions(&self, filter: ConnectionFilter) -> Result<Vec<ConnectionInfo>> {
        self.block_on(self.as_async().list_sessions(filter))
    }

    /// One session by id.
    pub fn get_session(&self, session_id: &str) -> Result<ConnectionInfo> {
        self.block_on(self.as_async().get_session(session_id))
    }

    /// Disconnects a session.
    pub fn disconnect_session(&self, session_id: &str) -> Result<()> {
        self.block_on(self.as_async().disconnect_session(session_id))
    }

    /// Whether a principal is connected right now.
    pub fn connection_status(&self, principal_type: &str, principal_id: &str) -> Result<bool> {
        self.block_on(
            self.as_async()
                .connection_status(principal_type, principal_id),
        )
    }
}

impl Client<User> {
    /// Joins a workspace (replayed after a reconnect).
    pub fn switch_workspace(&self, workspace: &str) -> Result<()> {
        self.block_on(self.as_async().switch_workspace(workspace))
    }

    /// The workspace last switched to.
    pub fn workspace(&self) -> Option<String> {
        self.as_async().workspace()
    }
}
