//! Bridges: `br::{implementation}::{specifier}`.

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::Bridge;
use crate::error::Result;
use crate::identity::Principal;

/// A bridge, connecting another messaging system to Aether; it may send to
/// anyone, user broadcasts included. The Python SDK has no bridge client
/// (the Go and TypeScript SDKs do).
pub type BridgeClient = Client<Bridge>;

impl Client<Bridge> {
    /// A builder for a bridge `br::{implementation}::{specifier}`.
    pub fn builder(implementation: &str, specifier: &str) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::bridge(
            implementation,
            specifier,
        )?))
    }
}
