//! Services: `sv::{implementation}::{specifier}`, workspace-less.

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::Service;
use crate::error::Result;
use crate::identity::Principal;

/// A service client.
pub type ServiceClient = Client<Service>;

impl Client<Service> {
    /// A builder for a service `sv::{implementation}::{specifier}` that also
    /// consumes pooled tasks.
    pub fn builder(implementation: &str, specifier: &str) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::service(
            implementation,
            specifier,
            false,
        )?))
    }

    /// A builder for a service that is never offered pooled tasks.
    pub fn builder_no_pool_consumer(
        implementation: &str,
        specifier: &str,
    ) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::service(
            implementation,
            specifier,
            true,
        )?))
    }
}
