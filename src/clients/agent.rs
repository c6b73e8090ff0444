//! Agents: `ag::{workspace}::{implementation}::{specifier}`.

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::Agent;
use crate::error::Result;
use crate::identity::Principal;

/// An agent client.
///
/// ```no_run
/// # async fn demo() -> aether_client::Result<()> {
/// use aether_client::{AgentClient, MessageType};
/// let agent = AgentClient::builder("ws", "echo", "one")?.gateway("http://127.0.0.1:50051").build();
/// agent.on_chat_message(|m| async move { println!("chat from {}", m.source_topic()) });
/// agent.connect().await?;
/// agent.send_message_to_agent("ws", "echo", "two", "hello", MessageType::Chat).await?;
/// agent.close().await;
/// # Ok(()) }
/// ```
pub type AgentClient = Client<Agent>;

impl Client<Agent> {
    /// A builder for an agent `ag::{workspace}::{implementation}::{specifier}`;
    /// fails if a segment is invalid.
    pub fn builder(
        workspace: &str,
        implementation: &str,
        specifier: &str,
    ) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::agent(
            workspace,
            implementation,
            specifier,
        )?))
    }
}
