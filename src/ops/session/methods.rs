//! The session methods, on every client; workspaces on user windows.

use super::{ConnectionStatus, DisconnectSession, GetSession, ListSessions, SwitchWorkspace};
use crate::clients::Client;
use crate::clients::principal::{PrincipalType, User};
use crate::error::Result;
use crate::identity::Segment;
use crate::proto::{ConnectionFilter, ConnectionInfo};

impl<P: PrincipalType> Client<P> {
    /// Lists the gateway's sessions, optionally filtered.
    pub async fn list_sessions(&self, filter: ConnectionFilter) -> Result<Vec<ConnectionInfo>> {
        self.run(ListSessions(filter)).await
    }

    /// One session by id (`NotFound` when there is none).
    pub async fn get_session(&self, session_id: &str) -> Result<ConnectionInfo> {
        self.run(GetSession(session_id.to_string())).await
    }

    /// Disconnects a session (it receives FORCE_DISCONNECT).
    pub async fn disconnect_session(&self, session_id: &str) -> Result<()> {
        self.run(DisconnectSession(session_id.to_string())).await
    }

    /// Whether a principal (by type and identity string, e.g. `"agent"`,
    /// `"ag::ws::impl::spec"`) is connected to the gateway right now.
    pub async fn connection_status(
        &self,
        principal_type: &str,
        principal_id: &str,
    ) -> Result<bool> {
        self.run(ConnectionStatus {
            principal_type: principal_type.to_string(),
            principal_id: principal_id.to_string(),
        })
        .await
    }
}

impl Client<User> {
    /// Joins a workspace: the window then receives `gu::{ws}` and
    /// `uw::{user}::{ws}` messages. The gateway sends no reply; the choice
    /// is remembered and replayed after a reconnect.
    pub async fn switch_workspace(&self, workspace: &str) -> Result<()> {
        Segment::new(workspace)?;
        self.connection().set_workspace(Some(workspace.to_string()));
        self.run(SwitchWorkspace(workspace.to_string())).await
    }

    /// The workspace last switched to.
    pub fn workspace(&self) -> Option<String> {
        self.connection().workspace()
    }
}
