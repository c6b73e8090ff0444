//! The send helpers, generated per principal client so each client offers
//! only the sends its principal type may make (the gateway's permission
//! matrix, enforced at compile time).

/// `senders!(Type { agent, task, ... })` adds the listed send helpers to a
/// principal client holding a `client: Client` field.
macro_rules! senders {
    ($ty:ident { $($what:ident),* $(,)? }) => {
        impl $ty { $( $crate::clients::senders::senders!(@one $what); )* }
    };
    (@one agent) => {
        /// Sends to one agent (`ag::{workspace}::{implementation}::{specifier}`).
        pub async fn send_message_to_agent(&self, workspace: &str, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::agent(workspace, implementation, specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one task) => {
        /// Sends to a unique task (`tu::{workspace}::{implementation}::{specifier}`).
        pub async fn send_message_to_task(&self, workspace: &str, implementation: &str, unique_specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::unique_task(workspace, implementation, unique_specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
        /// Sends to one pooled task instance (`ta::{workspace}::{implementation}::{id}`).
        pub async fn send_message_to_pooled_task(&self, workspace: &str, implementation: &str, id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::pooled_task(workspace, implementation, id)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
        /// Sends to every pooled task instance of an implementation (`tb::{workspace}::{implementation}`).
        pub async fn send_broadcast_to_tasks(&self, workspace: &str, implementation: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::task_broadcast(workspace, implementation)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one user_session) => {
        /// Sends to one user window (`us::{user_id}::{window_id}`).
        pub async fn send_message_to_user_session(&self, user_id: &str, window_id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::user_session(user_id, window_id)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one user_workspace) => {
        /// Sends to every window of a user that is on a workspace (`uw::{user_id}::{workspace}`).
        pub async fn send_message_to_user_workspace(&self, user_id: &str, workspace: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::user_workspace(user_id, workspace)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one user_broadcast) => {
        /// Sends to every window of a user, whatever its workspace (`uu::{user_id}`).
        pub async fn send_message_to_user_broadcast(&self, user_id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::user_broadcast(user_id)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one service) => {
        /// Sends to one service instance (`sv::{implementation}::{specifier}`).
        pub async fn send_message_to_service(&self, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::service(implementation, specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
        /// Sends to any one connected instance of a service (`sv::{implementation}`).
        pub async fn send_message_to_any_service(&self, implementation: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::any_service(implementation)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
        /// Sends to one bridge (`br::{implementation}::{specifier}`).
        pub async fn send_message_to_bridge(&self, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::bridge(implementation, specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one broadcasts) => {
        /// Sends to every agent of a workspace (`ga::{workspace}`).
        pub async fn send_broadcast_to_agents(&self, workspace: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::agent_broadcast(workspace)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
        /// Sends to every user window on a workspace (`gu::{workspace}`).
        pub async fn send_broadcast_to_users(&self, workspace: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::workspace_users(workspace)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
    (@one events) => {
        /// Sends an EVENT to the workflow engine (`event::*`, in this client's workspace).
        pub async fn send_event(&self, payload: impl Into<bytes::Bytes>) -> $crate::Result<()> {
            self.client.send($crate::OutgoingMessage::new($crate::identity::Topic::events(), payload).message_type($crate::MessageType::Event)).await
        }
        /// Sends a METRIC to the metrics bridge (`metric::*`); build it with [`MetricBuilder`]($crate::MetricBuilder).
        pub async fn send_metric(&self, metric: $crate::proto::Metric) -> $crate::Result<()> {
            use prost::Message as _;
            let payload = bytes::Bytes::from(metric.encode_to_vec());
            self.client.send($crate::OutgoingMessage::new($crate::identity::Topic::metrics(), payload).message_type($crate::MessageType::Metric)).await
        }
    };
    (@one raw) => {
        /// Sends a message built with [`OutgoingMessage`]($crate::OutgoingMessage);
        /// waits only for room in the outbound queue.
        pub async fn send(&self, message: $crate::OutgoingMessage) -> $crate::Result<()> {
            self.client.send(message).await
        }
        /// Sends without waiting; fails with `ErrorKind::QueueFull` when the
        /// outbound queue has no room.
        pub fn try_send(&self, message: $crate::OutgoingMessage) -> $crate::Result<()> {
            self.client.try_send(message)
        }
    };
    (@one status) => {
        /// Sends a status (CONTROL) message to an agent.
        pub async fn send_status_to_agent(&self, workspace: &str, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::agent(workspace, implementation, specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type($crate::MessageType::Control)).await
        }
        /// Sends a status (CONTROL) message to a unique task.
        pub async fn send_status_to_task(&self, workspace: &str, implementation: &str, unique_specifier: &str, payload: impl Into<bytes::Bytes>) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::unique_task(workspace, implementation, unique_specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type($crate::MessageType::Control)).await
        }
    };
    (@one commands) => {
        /// Sends a command (CONTROL) message to an agent.
        pub async fn send_command_to_agent(&self, workspace: &str, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::agent(workspace, implementation, specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type($crate::MessageType::Control)).await
        }
        /// Sends a command (CONTROL) message to a unique task.
        pub async fn send_command_to_task(&self, workspace: &str, implementation: &str, unique_specifier: &str, payload: impl Into<bytes::Bytes>) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::unique_task(workspace, implementation, unique_specifier)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type($crate::MessageType::Control)).await
        }
        /// Sends to one user window (the workflow engine's name for it).
        pub async fn send_message_to_user(&self, user_id: &str, window_id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) -> $crate::Result<()> {
            let topic = $crate::identity::Topic::user_session(user_id, window_id)?;
            self.client.send($crate::OutgoingMessage::new(topic, payload).message_type(message_type)).await
        }
    };
}

pub(crate) use senders;

/// `principal_client!(Type, "doc")` declares a principal client newtype
/// over [`Client`](crate::Client), with `Deref` to it for the common API.
macro_rules! principal_client {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty {
            client: $crate::Client,
        }

        impl $crate::clients::core::sealed::Sealed for $ty {}
        impl $crate::clients::core::PrincipalClient for $ty {
            fn from_core(client: $crate::Client) -> Self {
                $ty { client }
            }
        }

        impl std::ops::Deref for $ty {
            type Target = $crate::Client;
            fn deref(&self) -> &$crate::Client {
                &self.client
            }
        }

        impl $ty {
            /// The principal-independent client core.
            pub fn core(&self) -> &$crate::Client {
                &self.client
            }
        }
    };
}

pub(crate) use principal_client;
