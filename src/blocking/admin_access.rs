//! Blocking twins of the access methods (see the async `AdminClient`).

use super::AdminClient;
use crate::admin::{AccessDecision, AccessRequest};
use crate::error::Result;

impl AdminClient {
    /// Asks whether the caller may do `request` (a denial is an
    /// `AccessDecision` with `allowed` false, not an error).
    pub fn check_access(&self, request: AccessRequest) -> Result<AccessDecision> {
        self.block_on(self.as_async().check_access(request))
    }

    /// [`check_access`](Self::check_access) for many requests at once;
    /// the decisions come in the requests' order.
    pub fn check_access_batch(&self, requests: Vec<AccessRequest>) -> Result<Vec<AccessDecision>> {
        self.block_on(self.as_async().check_access_batch(requests))
    }
}
