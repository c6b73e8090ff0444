//! The send helpers, generated per principal client so each client offers
//! only the sends its principal type may make (the gateway's permission
//! matrix, enforced at compile time).

/// `senders!(async Type { agent, task, ... })` (or `blocking`) adds the listed send helpers to a
/// principal client holding a `client: Client` field.
macro_rules! senders {
    ($mode:tt $ty:ident { $($what:ident),* $(,)? }) => {
        impl $ty { $( $crate::clients::senders::senders!(@one $mode $what); )* }
    };
    (@one $mode:tt agent) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to one agent (`ag::{workspace}::{implementation}::{specifier}`).
            fn send_message_to_agent(workspace: &str, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("ag", &[("workspace", workspace), ("implementation", implementation), ("specifier", specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt task) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to a unique task (`tu::{workspace}::{implementation}::{specifier}`).
            fn send_message_to_task(workspace: &str, implementation: &str, unique_specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("tu", &[("workspace", workspace), ("implementation", implementation), ("unique_specifier", unique_specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to one pooled task instance (`ta::{workspace}::{implementation}::{id}`).
            fn send_message_to_pooled_task(workspace: &str, implementation: &str, id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("ta", &[("workspace", workspace), ("implementation", implementation), ("id", id)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to every pooled task instance of an implementation (`tb::{workspace}::{implementation}`).
            fn send_broadcast_to_tasks(workspace: &str, implementation: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("tb", &[("workspace", workspace), ("implementation", implementation)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt user_session) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to one user window (`us::{user_id}::{window_id}`).
            fn send_message_to_user_session(user_id: &str, window_id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("us", &[("user_id", user_id), ("window_id", window_id)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt user_workspace) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to every window of a user that is on a workspace (`uw::{user_id}::{workspace}`).
            fn send_message_to_user_workspace(user_id: &str, workspace: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("uw", &[("user_id", user_id), ("workspace", workspace)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt user_broadcast) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to every window of a user, whatever its workspace (`uu::{user_id}`).
            fn send_message_to_user_broadcast(user_id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("uu", &[("user_id", user_id)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt service) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to one service instance (`sv::{implementation}::{specifier}`).
            fn send_message_to_service(implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("sv", &[("implementation", implementation), ("specifier", specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to any one connected instance of a service (`sv::{implementation}`).
            fn send_message_to_any_service(implementation: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("sv", &[("implementation", implementation)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to one bridge (`br::{implementation}::{specifier}`).
            fn send_message_to_bridge(implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("br", &[("implementation", implementation), ("specifier", specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt broadcasts) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to every agent of a workspace (`ga::{workspace}`).
            fn send_broadcast_to_agents(workspace: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("ga", &[("workspace", workspace)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to every user window on a workspace (`gu::{workspace}`).
            fn send_broadcast_to_users(workspace: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("gu", &[("workspace", workspace)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
    (@one $mode:tt events) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends an EVENT to the workflow engine (`event::*`, in this client's workspace).
            fn send_event(payload: impl Into<bytes::Bytes>) {  Ok($crate::OutgoingMessage::raw("event::*".to_string(), payload).message_type($crate::MessageType::Event)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends a METRIC to the metrics bridge (`metric::*`); build it with [`MetricBuilder`]($crate::MetricBuilder).
            fn send_metric(metric: $crate::proto::Metric) { use prost::Message as _; let payload = bytes::Bytes::from(metric.encode_to_vec()); Ok($crate::OutgoingMessage::raw("metric::*".to_string(), payload).message_type($crate::MessageType::Metric)) }
        );
    };
    (@one $mode:tt raw) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends a message built with [`OutgoingMessage`]($crate::OutgoingMessage);
        /// waits only for room in the outbound queue. Success means queued: the
        /// protocol has no delivery acknowledgement, and a gateway-side
        /// rejection arrives at `on_error`.
            fn send(message: $crate::OutgoingMessage) {  Ok(message) }
        );
        /// Sends without waiting; fails with `ErrorKind::QueueFull` when the
        /// outbound queue has no room.
        pub fn try_send(&self, message: $crate::OutgoingMessage) -> $crate::Result<()> {
            self.client.try_send(message)
        }
    };
    (@one $mode:tt status) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends a status (CONTROL) message to an agent.
            fn send_status_to_agent(workspace: &str, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>) { let topic = $crate::identity::wire_topic("ag", &[("workspace", workspace), ("implementation", implementation), ("specifier", specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type($crate::MessageType::Control)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends a status (CONTROL) message to a unique task.
            fn send_status_to_task(workspace: &str, implementation: &str, unique_specifier: &str, payload: impl Into<bytes::Bytes>) { let topic = $crate::identity::wire_topic("tu", &[("workspace", workspace), ("implementation", implementation), ("unique_specifier", unique_specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type($crate::MessageType::Control)) }
        );
    };
    (@one $mode:tt commands) => {
        $crate::clients::senders::sender_fn!($mode,
        /// Sends a command (CONTROL) message to an agent.
            fn send_command_to_agent(workspace: &str, implementation: &str, specifier: &str, payload: impl Into<bytes::Bytes>) { let topic = $crate::identity::wire_topic("ag", &[("workspace", workspace), ("implementation", implementation), ("specifier", specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type($crate::MessageType::Control)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends a command (CONTROL) message to a unique task.
            fn send_command_to_task(workspace: &str, implementation: &str, unique_specifier: &str, payload: impl Into<bytes::Bytes>) { let topic = $crate::identity::wire_topic("tu", &[("workspace", workspace), ("implementation", implementation), ("unique_specifier", unique_specifier)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type($crate::MessageType::Control)) }
        );
        $crate::clients::senders::sender_fn!($mode,
        /// Sends to one user window (the workflow engine's name for it).
            fn send_message_to_user(user_id: &str, window_id: &str, payload: impl Into<bytes::Bytes>, message_type: $crate::MessageType) { let topic = $crate::identity::wire_topic("us", &[("user_id", user_id), ("window_id", window_id)])?; Ok($crate::OutgoingMessage::raw(topic, payload).message_type(message_type)) }
        );
    };
}

pub(crate) use senders;

/// One send helper, async or blocking. The body builds the message (and may
/// fail with `?` on an invalid segment); the helper then sends it.
macro_rules! sender_fn {
    (async, $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        pub async fn $name(&self, $($arg: $t),*) -> $crate::Result<()> {
            fn build($($arg: $t),*) -> $crate::Result<$crate::OutgoingMessage> $body
            let message = build($($arg),*)?;
            self.client.send(message).await
        }
    };
    (blocking, $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        pub fn $name(&self, $($arg: $t),*) -> $crate::Result<()> {
            fn build($($arg: $t),*) -> $crate::Result<$crate::OutgoingMessage> $body
            let message = build($($arg),*)?;
            self.block_on(self.client.send(message))
        }
    };
}

pub(crate) use sender_fn;

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
            type Output = $ty;
            fn build_from(builder: $crate::ClientBuilder<Self>) -> $ty {
                $ty { client: builder.build_client() }
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

/// `builders!(Type kind)` adds the builder constructors of a principal kind
/// to a client type, async or blocking alike.
macro_rules! builders {
    ($ty:ident agent) => {
        impl $ty {
            /// A builder for an agent `ag::{workspace}::{implementation}::{specifier}`;
            /// fails if a segment is invalid.
            pub fn builder(
                workspace: &str,
                implementation: &str,
                specifier: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::agent(workspace, implementation, specifier)?,
                ))
            }
        }
    };
    ($ty:ident task) => {
        impl $ty {
            /// A builder for a unique task `tu::{workspace}::{implementation}::{specifier}`.
            pub fn builder(
                workspace: &str,
                implementation: &str,
                unique_specifier: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::unique_task(
                        workspace,
                        implementation,
                        unique_specifier,
                    )?,
                ))
            }
            /// A builder for a pooled task; the gateway assigns its id at connect.
            pub fn pooled(
                workspace: &str,
                implementation: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::pooled_task(workspace, implementation)?,
                ))
            }
        }
    };
    ($ty:ident user) => {
        impl $ty {
            /// A builder for a user window `us::{user_id}::{window_id}`.
            pub fn builder(
                user_id: &str,
                window_id: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::user(user_id, window_id)?,
                ))
            }
        }
    };
    ($ty:ident orchestrator) => {
        impl $ty {
            /// A builder for an orchestrator serving `supported_profiles` (at least one).
            pub fn builder(
                implementation: &str,
                specifier: &str,
                supported_profiles: Vec<String>,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::orchestrator(
                        implementation,
                        specifier,
                        supported_profiles,
                    )?,
                ))
            }
        }
    };
    ($ty:ident workflow_engine) => {
        impl $ty {
            /// A builder for the workflow engine (a singleton per gateway).
            pub fn builder() -> $crate::ClientBuilder<$ty> {
                $crate::ClientBuilder::new($crate::identity::Principal::workflow_engine())
            }
        }
    };
    ($ty:ident metrics_bridge) => {
        impl $ty {
            /// A builder for the metrics bridge (a singleton per gateway).
            pub fn builder() -> $crate::ClientBuilder<$ty> {
                $crate::ClientBuilder::new($crate::identity::Principal::metrics_bridge())
            }
        }
    };
    ($ty:ident service) => {
        impl $ty {
            /// A builder for a service `sv::{implementation}::{specifier}` that also consumes pooled tasks.
            pub fn builder(
                implementation: &str,
                specifier: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::service(implementation, specifier, false)?,
                ))
            }
            /// A builder for a service that is never offered pooled tasks.
            pub fn builder_no_pool_consumer(
                implementation: &str,
                specifier: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::service(implementation, specifier, true)?,
                ))
            }
        }
    };
    ($ty:ident bridge) => {
        impl $ty {
            /// A builder for a bridge `br::{implementation}::{specifier}`.
            pub fn builder(
                implementation: &str,
                specifier: &str,
            ) -> $crate::Result<$crate::ClientBuilder<$ty>> {
                Ok($crate::ClientBuilder::new(
                    $crate::identity::Principal::bridge(implementation, specifier)?,
                ))
            }
        }
    };
}

pub(crate) use builders;
