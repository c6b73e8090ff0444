//! Operations: the request type, the tower stack they run through, and the
//! correlation-id table of the protocol.

pub mod checkpoint;
pub mod ids;
pub mod kv;
mod request;
mod stack;

pub use request::{OpRequest, OpResponse};
pub use stack::{OpTimeout, OperationService, StampAuthorization};
pub(crate) use stack::{StackConfig, build};

pub(crate) fn stack_request_ids(
    m: impl aether_middleware::correlation::MakeRequestId + Send + 'static,
) -> stack::SharedRequestIds {
    stack::SharedRequestIds::new(m)
}
