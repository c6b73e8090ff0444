//! The blocking twin of [`crate::admin::AdminClient`]: each family's
//! blocking methods live beside this type, one `impl` block per family.

use super::Client;
use crate::clients::principal::PrincipalType;

/// [`crate::admin::AdminClient`] for threaded programs: every method blocks
/// on the wrapped blocking client's runtime.
#[derive(Clone, Debug)]
#[allow(dead_code)] // `client` and `block_on` serve the family files as they land
pub struct AdminClient {
    admin: crate::admin::AdminClient,
    client: Client,
}

impl AdminClient {
    /// Administration over `client`'s connection.
    pub fn new<P: PrincipalType>(client: &Client<P>) -> Self {
        AdminClient {
            admin: crate::admin::AdminClient::new(client.as_async()),
            client: client.erase(),
        }
    }

    /// The async admin client underneath.
    pub fn as_async(&self) -> &crate::admin::AdminClient {
        &self.admin
    }

    /// Runs a future of the async API on the client's runtime.
    #[allow(dead_code)]
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.client.block_on(f)
    }
}
