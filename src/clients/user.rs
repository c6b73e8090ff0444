//! User windows: `us::{user_id}::{window_id}`.

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::User;
use crate::error::Result;
use crate::identity::Principal;

/// A user window. Users start without a workspace;
/// [`switch_workspace`](Client::switch_workspace) joins one.
pub type UserClient = Client<User>;

impl Client<User> {
    /// A builder for a user window `us::{user_id}::{window_id}`.
    pub fn builder(user_id: &str, window_id: &str) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::user(user_id, window_id)?))
    }
}
