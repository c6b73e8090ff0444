//! One folder per operation family: its request types (each an
//! [`Operation`](crate::stack::Operation) that knows its reply), their
//! decoding, and the client-facing methods, async and blocking, on the
//! clients whose principal may use them.

pub mod admin;
pub(crate) mod checkpoint;
pub mod http;
pub mod kv;
pub(crate) mod message;
pub(crate) mod session;
pub mod task;
pub mod tunnel;
