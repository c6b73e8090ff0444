//! Blocking twins of the send methods.

use bytes::Bytes;

use super::Client;
use crate::clients::principal::{
    SendBroadcasts, SendCommands, SendEvents, SendMessages, SendStatus, SendToAgents,
    SendToServices, SendToTasks, SendToUserBroadcast, SendToUsers,
};
use crate::error::Result;
use crate::message::MessageType;
use crate::ops::message::OutgoingMessage;
use crate::proto;

impl<P: SendToAgents> Client<P> {
    /// Sends to one agent (`ag::{workspace}::{implementation}::{specifier}`).
    pub fn send_message_to_agent(
        &self,
        workspace: &str,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_agent(
            workspace,
            implementation,
            specifier,
            payload,
            message_type,
        ))
    }
}

impl<P: SendToTasks> Client<P> {
    /// Sends to a unique task (`tu::{workspace}::{implementation}::{specifier}`).
    pub fn send_message_to_task(
        &self,
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_task(
            workspace,
            implementation,
            unique_specifier,
            payload,
            message_type,
        ))
    }

    /// Sends to one pooled task instance (`ta::{workspace}::{implementation}::{id}`).
    pub fn send_message_to_pooled_task(
        &self,
        workspace: &str,
        implementation: &str,
        id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_pooled_task(
            workspace,
            implementation,
            id,
            payload,
            message_type,
        ))
    }

    /// Sends to every pooled task instance of an implementation (`tb::{workspace}::{implementation}`).
    pub fn send_broadcast_to_tasks(
        &self,
        workspace: &str,
        implementation: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_broadcast_to_tasks(
            workspace,
            implementation,
            payload,
            message_type,
        ))
    }
}

impl<P: SendToUsers> Client<P> {
    /// Sends to one user window (`us::{user_id}::{window_id}`).
    pub fn send_message_to_user_session(
        &self,
        user_id: &str,
        window_id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_user_session(
            user_id,
            window_id,
            payload,
            message_type,
        ))
    }

    /// Sends to every window of a user that is on a workspace (`uw::{user_id}::{workspace}`).
    pub fn send_message_to_user_workspace(
        &self,
        user_id: &str,
        workspace: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_user_workspace(
            user_id,
            workspace,
            payload,
            message_type,
        ))
    }
}

impl<P: SendToUserBroadcast> Client<P> {
    /// Sends to every window of a user, whatever its workspace (`uu::{user_id}`).
    pub fn send_message_to_user_broadcast(
        &self,
        user_id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_user_broadcast(
            user_id,
            payload,
            message_type,
        ))
    }
}

impl<P: SendToServices> Client<P> {
    /// Sends to one service instance (`sv::{implementation}::{specifier}`).
    pub fn send_message_to_service(
        &self,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_service(
            implementation,
            specifier,
            payload,
            message_type,
        ))
    }

    /// Sends to any one connected instance of a service (`sv::{implementation}`).
    pub fn send_message_to_any_service(
        &self,
        implementation: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_any_service(
            implementation,
            payload,
            message_type,
        ))
    }

    /// Sends to one bridge (`br::{implementation}::{specifier}`).
    pub fn send_message_to_bridge(
        &self,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_bridge(
            implementation,
            specifier,
            payload,
            message_type,
        ))
    }
}

impl<P: SendBroadcasts> Client<P> {
    /// Sends to every agent of a workspace (`ga::{workspace}`).
    pub fn send_broadcast_to_agents(
        &self,
        workspace: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(
            self.as_async()
                .send_broadcast_to_agents(workspace, payload, message_type),
        )
    }

    /// Sends to every user window on a workspace (`gu::{workspace}`).
    pub fn send_broadcast_to_users(
        &self,
        workspace: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(
            self.as_async()
                .send_broadcast_to_users(workspace, payload, message_type),
        )
    }
}

impl<P: SendStatus> Client<P> {
    /// Sends a status (CONTROL) message to an agent.
    pub fn send_status_to_agent(
        &self,
        workspace: &str,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.block_on(self.as_async().send_status_to_agent(
            workspace,
            implementation,
            specifier,
            payload,
        ))
    }

    /// Sends a status (CONTROL) message to a unique task.
    pub fn send_status_to_task(
        &self,
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.block_on(self.as_async().send_status_to_task(
            workspace,
            implementation,
            unique_specifier,
            payload,
        ))
    }
}

impl<P: SendCommands> Client<P> {
    /// Sends a command (CONTROL) message to an agent.
    pub fn send_command_to_agent(
        &self,
        workspace: &str,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.block_on(self.as_async().send_command_to_agent(
            workspace,
            implementation,
            specifier,
            payload,
        ))
    }

    /// Sends a command (CONTROL) message to a unique task.
    pub fn send_command_to_task(
        &self,
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.block_on(self.as_async().send_command_to_task(
            workspace,
            implementation,
            unique_specifier,
            payload,
        ))
    }

    /// Sends to one user window (the workflow engine's name for
    /// [`send_message_to_user_session`](Self::send_message_to_user_session)).
    pub fn send_message_to_user(
        &self,
        user_id: &str,
        window_id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        self.block_on(self.as_async().send_message_to_user(
            user_id,
            window_id,
            payload,
            message_type,
        ))
    }
}

impl<P: SendEvents> Client<P> {
    /// Sends an EVENT to the workflow engine.
    pub fn send_event(&self, payload: impl Into<Bytes>) -> Result<()> {
        self.block_on(self.as_async().send_event(payload))
    }

    /// Sends a METRIC to the metrics bridge.
    pub fn send_metric(&self, metric: proto::Metric) -> Result<()> {
        self.block_on(self.as_async().send_metric(metric))
    }
}

impl<P: SendMessages> Client<P> {
    /// Sends a message built with [`OutgoingMessage`]; waits only for room
    /// in the outbound queue.
    pub fn send(&self, message: OutgoingMessage) -> Result<()> {
        self.block_on(self.as_async().send(message))
    }

    /// Sends without waiting; fails with `QueueFull` when the outbound
    /// queue has no room.
    pub fn try_send(&self, message: OutgoingMessage) -> Result<()> {
        self.block_on(async { self.as_async().try_send(message) })
    }
}
