//! The send methods, each on the clients whose principal may use it.
//!
//! Every send waits only for room in the outbound queue: success means
//! queued. The protocol has no delivery acknowledgement; a gateway-side
//! refusal arrives at `on_error`.

use bytes::Bytes;

use super::outgoing::{OutgoingMessage, SendOp};
use crate::clients::Client;
use crate::clients::principal::{
    PrincipalType, SendBroadcasts, SendCommands, SendEvents, SendMessages, SendStatus,
    SendToAgents, SendToServices, SendToTasks, SendToUserBroadcast, SendToUsers,
};
use crate::error::Result;
use crate::identity::wire_topic;
use crate::message::MessageType;
use crate::proto;
use crate::stack::{Operation, SmallCall};

impl<P: PrincipalType> Client<P> {
    /// Starts a send of a built message: checked, then called on the stack
    /// at once. Usually queued right there; the returned future is then
    /// ready, and pointer-sized either way (an awaiting caller's future
    /// stays small).
    pub(crate) fn start_send(&self, message: OutgoingMessage) -> Result<SmallCall> {
        message.check_size(self.core.max_payload)?;
        Ok(self.core.ops.call_small(SendOp(message).into_request()))
    }

    /// Sends a built message through the stack.
    pub(crate) async fn send_outgoing(&self, message: OutgoingMessage) -> Result<()> {
        self.start_send(message)?.await.and_then(SendOp::decode)
    }

    /// Sends a built message through the stack if it can be queued now.
    pub(crate) fn try_send_outgoing(&self, message: OutgoingMessage) -> Result<()> {
        message.check_size(self.core.max_payload)?;
        self.run_nowait(SendOp(message))
    }

    fn send_to(
        &self,
        topic: String,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<SmallCall> {
        self.start_send(OutgoingMessage::raw(topic, payload).message_type(message_type))
    }
}

impl<P: SendToAgents> Client<P> {
    /// Sends to one agent (`ag::{workspace}::{implementation}::{specifier}`).
    pub async fn send_message_to_agent(
        &self,
        workspace: &str,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic(
            "ag",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("specifier", specifier),
            ],
        )?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendToTasks> Client<P> {
    /// Sends to a unique task (`tu::{workspace}::{implementation}::{specifier}`).
    pub async fn send_message_to_task(
        &self,
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic(
            "tu",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("unique_specifier", unique_specifier),
            ],
        )?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to one pooled task instance (`ta::{workspace}::{implementation}::{id}`).
    pub async fn send_message_to_pooled_task(
        &self,
        workspace: &str,
        implementation: &str,
        id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic(
            "ta",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("id", id),
            ],
        )?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to every pooled task instance of an implementation (`tb::{workspace}::{implementation}`).
    pub async fn send_broadcast_to_tasks(
        &self,
        workspace: &str,
        implementation: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic(
            "tb",
            &[("workspace", workspace), ("implementation", implementation)],
        )?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendToUsers> Client<P> {
    /// Sends to one user window (`us::{user_id}::{window_id}`).
    pub async fn send_message_to_user_session(
        &self,
        user_id: &str,
        window_id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("us", &[("user_id", user_id), ("window_id", window_id)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to every window of a user that is on a workspace (`uw::{user_id}::{workspace}`).
    pub async fn send_message_to_user_workspace(
        &self,
        user_id: &str,
        workspace: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("uw", &[("user_id", user_id), ("workspace", workspace)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendToUserBroadcast> Client<P> {
    /// Sends to every window of a user, whatever its workspace (`uu::{user_id}`).
    pub async fn send_message_to_user_broadcast(
        &self,
        user_id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("uu", &[("user_id", user_id)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendToServices> Client<P> {
    /// Sends to one service instance (`sv::{implementation}::{specifier}`).
    pub async fn send_message_to_service(
        &self,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic(
            "sv",
            &[("implementation", implementation), ("specifier", specifier)],
        )?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to any one connected instance of a service (`sv::{implementation}`).
    pub async fn send_message_to_any_service(
        &self,
        implementation: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("sv", &[("implementation", implementation)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to one bridge (`br::{implementation}::{specifier}`).
    pub async fn send_message_to_bridge(
        &self,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic(
            "br",
            &[("implementation", implementation), ("specifier", specifier)],
        )?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendBroadcasts> Client<P> {
    /// Sends to every agent of a workspace (`ga::{workspace}`).
    pub async fn send_broadcast_to_agents(
        &self,
        workspace: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("ga", &[("workspace", workspace)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to every user window on a workspace (`gu::{workspace}`).
    pub async fn send_broadcast_to_users(
        &self,
        workspace: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("gu", &[("workspace", workspace)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendStatus> Client<P> {
    /// Sends a status (CONTROL) message to an agent.
    pub async fn send_status_to_agent(
        &self,
        workspace: &str,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let topic = wire_topic(
            "ag",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("specifier", specifier),
            ],
        )?;
        self.send_to(topic, payload, MessageType::Control)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends a status (CONTROL) message to a unique task.
    pub async fn send_status_to_task(
        &self,
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let topic = wire_topic(
            "tu",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("unique_specifier", unique_specifier),
            ],
        )?;
        self.send_to(topic, payload, MessageType::Control)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendCommands> Client<P> {
    /// Sends a command (CONTROL) message to an agent.
    pub async fn send_command_to_agent(
        &self,
        workspace: &str,
        implementation: &str,
        specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let topic = wire_topic(
            "ag",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("specifier", specifier),
            ],
        )?;
        self.send_to(topic, payload, MessageType::Control)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends a command (CONTROL) message to a unique task.
    pub async fn send_command_to_task(
        &self,
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let topic = wire_topic(
            "tu",
            &[
                ("workspace", workspace),
                ("implementation", implementation),
                ("unique_specifier", unique_specifier),
            ],
        )?;
        self.send_to(topic, payload, MessageType::Control)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends to one user window (the workflow engine's name for
    /// [`send_message_to_user_session`](Self::send_message_to_user_session)).
    pub async fn send_message_to_user(
        &self,
        user_id: &str,
        window_id: &str,
        payload: impl Into<Bytes>,
        message_type: MessageType,
    ) -> Result<()> {
        let topic = wire_topic("us", &[("user_id", user_id), ("window_id", window_id)])?;
        self.send_to(topic, payload, message_type)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendEvents> Client<P> {
    /// Sends an EVENT to the workflow engine (`event::*`, in this client's
    /// workspace).
    pub async fn send_event(&self, payload: impl Into<Bytes>) -> Result<()> {
        self.send_to("event::*".to_string(), payload, MessageType::Event)?
            .await
            .and_then(SendOp::decode)
    }

    /// Sends a METRIC to the metrics bridge (`metric::*`); build it with
    /// [`MetricBuilder`](crate::MetricBuilder).
    pub async fn send_metric(&self, metric: proto::Metric) -> Result<()> {
        use prost::Message as _;
        let payload = Bytes::from(metric.encode_to_vec());
        self.send_to("metric::*".to_string(), payload, MessageType::Metric)?
            .await
            .and_then(SendOp::decode)
    }
}

impl<P: SendMessages> Client<P> {
    /// Sends a message built with [`OutgoingMessage`]; waits only for room
    /// in the outbound queue. Success means queued: the protocol has no
    /// delivery acknowledgement, and a gateway-side rejection arrives at
    /// `on_error`.
    pub async fn send(&self, message: OutgoingMessage) -> Result<()> {
        self.send_outgoing(message).await
    }

    /// Sends without waiting: the frame goes through the same stack as
    /// every send (authorization stamping and your layers included) if it
    /// can be queued right now; otherwise it fails with
    /// [`ErrorKind::QueueFull`](crate::ErrorKind::QueueFull) and nothing is
    /// sent. Call it from within a tokio runtime.
    pub fn try_send(&self, message: OutgoingMessage) -> Result<()> {
        self.try_send_outgoing(message)
    }
}
