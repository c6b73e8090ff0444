//! Sessions: list, look up and disconnect the gateway's sessions, ask
//! whether a principal is connected, and switch a user's workspace.

mod methods;

use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::session_operation::OpType;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, ConnectionFilter, ConnectionInfo, SessionOperationResponse};
use crate::stack::{OpRequest, Operation, Reply};

/// A SessionOperation: LIST and GET are safe to repeat, DISCONNECT is not.
fn session_request(
    name: &'static str,
    op: OpType,
    session_id: String,
    filter: Option<ConnectionFilter>,
) -> OpRequest {
    OpRequest::awaited(
        name,
        Up::SessionOp(Box::new(proto::SessionOperation {
            op: op as i32,
            session_id,
            filter,
            ..Default::default()
        })),
    )
    .idempotent(op != OpType::Disconnect)
}

fn session_reply(name: &str, reply: Reply) -> Result<SessionOperationResponse> {
    match reply.into_frame(name)? {
        Down::SessionResponse(r) if r.success => Ok(*r),
        Down::SessionResponse(r) => Err(Error::refused(name, "session", &r.error)),
        other => Err(Error::unexpected(name, &other)),
    }
}

/// LIST: the sessions matching a filter.
pub(crate) struct ListSessions(pub(crate) ConnectionFilter);

impl Operation for ListSessions {
    const NAME: &'static str = "list_sessions";
    type Output = Vec<ConnectionInfo>;

    fn into_request(self) -> OpRequest {
        session_request(Self::NAME, OpType::List, String::new(), Some(self.0))
    }

    fn decode(reply: Reply) -> Result<Vec<ConnectionInfo>> {
        Ok(session_reply(Self::NAME, reply)?.connections)
    }
}

/// GET: one session (`NotFound` when there is none).
pub(crate) struct GetSession(pub(crate) String);

impl Operation for GetSession {
    const NAME: &'static str = "get_session";
    type Output = ConnectionInfo;

    fn into_request(self) -> OpRequest {
        session_request(Self::NAME, OpType::Get, self.0, None)
    }

    fn decode(reply: Reply) -> Result<ConnectionInfo> {
        session_reply(Self::NAME, reply)?
            .connection
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "get_session: session not found"))
    }
}

/// DISCONNECT: the session receives FORCE_DISCONNECT.
pub(crate) struct DisconnectSession(pub(crate) String);

impl Operation for DisconnectSession {
    const NAME: &'static str = "disconnect_session";
    type Output = ();

    fn into_request(self) -> OpRequest {
        session_request(Self::NAME, OpType::Disconnect, self.0, None)
    }

    fn decode(reply: Reply) -> Result<()> {
        session_reply(Self::NAME, reply).map(drop)
    }
}

/// Whether a principal is connected right now.
pub(crate) struct ConnectionStatus {
    pub(crate) principal_type: String,
    pub(crate) principal_id: String,
}

impl Operation for ConnectionStatus {
    const NAME: &'static str = "connection_status";
    type Output = bool;

    fn into_request(self) -> OpRequest {
        OpRequest::awaited(
            Self::NAME,
            Up::ConnectionStatusRequest(Box::new(proto::ConnectionStatusRequest {
                request_id: String::new(),
                principal: Some(proto::PrincipalRef {
                    principal_type: self.principal_type,
                    principal_id: self.principal_id,
                }),
            })),
        )
        .idempotent(true)
    }

    fn decode(reply: Reply) -> Result<bool> {
        match reply.into_frame(Self::NAME)? {
            Down::ConnectionStatusResponse(r) if r.ok => Ok(r.connected),
            Down::ConnectionStatusResponse(r) => {
                Err(Error::refused(Self::NAME, "principal", &r.error))
            }
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

/// SWITCH_WORKSPACE: fire-and-forget (the gateway sends no reply).
pub(crate) struct SwitchWorkspace(pub(crate) String);

impl Operation for SwitchWorkspace {
    const NAME: &'static str = "switch_workspace";
    type Output = ();

    fn into_request(self) -> OpRequest {
        OpRequest::fire_and_forget(
            Self::NAME,
            Up::SwitchWorkspace(Box::new(proto::SwitchWorkspace {
                new_workspace_id: self.0,
            })),
        )
    }

    fn decode(_: Reply) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_disconnect_is_unsafe_to_repeat() {
        assert!(
            ListSessions(ConnectionFilter::default())
                .into_request()
                .is_idempotent()
        );
        assert!(GetSession("s".into()).into_request().is_idempotent());
        assert!(!DisconnectSession("s".into()).into_request().is_idempotent());
        assert!(!SwitchWorkspace("w".into()).into_request().expects_reply());
    }

    #[test]
    fn refusals_and_missing_sessions_are_typed() {
        let missing = Reply::Frame(Down::SessionResponse(Box::new(SessionOperationResponse {
            success: false,
            error: "session not found: s9".into(),
            ..Default::default()
        })));
        assert_eq!(
            GetSession::decode(missing).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let empty = Reply::Frame(Down::SessionResponse(Box::new(SessionOperationResponse {
            success: true,
            ..Default::default()
        })));
        assert_eq!(
            GetSession::decode(empty).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let denied = Reply::Frame(Down::SessionResponse(Box::new(SessionOperationResponse {
            success: false,
            error: "not allowed".into(),
            ..Default::default()
        })));
        assert_eq!(
            DisconnectSession::decode(denied).unwrap_err().kind(),
            ErrorKind::Rejected
        );
    }
}
