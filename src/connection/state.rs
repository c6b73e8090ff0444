//! Connection state as observed from outside the driver.

use crate::proto;

/// What the gateway told us in its `ConnectionAck`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// This connection's session id (sent back as `resume_session_id` when
    /// reconnecting).
    pub session_id: String,
    /// Whether the gateway resumed a previous session of this identity.
    pub resumed: bool,
    /// How many times this identity's session lineage has been resumed.
    pub reconnection_count: i32,
    /// The server-assigned instance id of a pooled task (empty otherwise).
    pub assigned_id: String,
    /// The identity string the gateway locked for this connection.
    pub identity: String,
    /// The gateway's version string.
    pub server_version: String,
    /// When this identity's lineage first connected (unix ms).
    pub initial_connection_unix_ms: i64,
    /// Extensions the gateway accepted.
    pub negotiated_extensions: Vec<String>,
    /// Extensions the gateway knows that we did not declare.
    pub server_supported_extensions: Vec<String>,
}

impl SessionInfo {
    pub(crate) fn from_ack(ack: &proto::ConnectionAck, identity: String) -> Self {
        SessionInfo {
            session_id: ack.session_id.clone(),
            resumed: ack.resumed,
            reconnection_count: ack.reconnection_count,
            assigned_id: ack.assigned_id.clone(),
            identity,
            server_version: ack.server_version.clone(),
            initial_connection_unix_ms: ack.initial_connection_unix_ms,
            negotiated_extensions: ack
                .negotiated_extensions
                .iter()
                .filter(|e| e.supported)
                .map(|e| e.uri.clone())
                .collect(),
            server_supported_extensions: ack.server_supported_extensions.clone(),
        }
    }
}

/// Where a client's connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// `connect()` was never called.
    Idle,
    /// The first connection attempt is in progress.
    Connecting,
    /// Connected; the ack was received.
    Connected(SessionInfo),
    /// The connection was lost; reconnect attempt `attempt` is pending.
    Reconnecting {
        /// 1-based attempt number.
        attempt: u32,
    },
    /// Permanently closed; `reason` says why.
    Closed {
        /// Why the client stopped.
        reason: String,
    },
}

impl ConnectionState {
    /// Whether the client is currently connected.
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected(_))
    }

    /// Whether the client has stopped for good.
    pub fn is_closed(&self) -> bool {
        matches!(self, ConnectionState::Closed { .. })
    }
}
