//! KV: scopes, keys, the operations, and the `kv_*` methods.
//!
//! The principal clients the gateway lets use KV (agents, tasks, services,
//! the workflow engine and the metrics bridge, async and blocking) have
//! `kv_*` methods; the others do not, so a KV call from a user,
//! orchestrator or bridge client is a compile error rather than a gateway
//! refusal. This module holds the shapes they share.
//!
//! # Errors
//!
//! * Keys are checked before sending (non-empty, at most
//!   [`MAX_KEY_BYTES`]): [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).
//! * No reply in time: [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) (never a silent `None`).
//! * A `KVResponse{success: false}`: [`ErrorKind::Rejected`](crate::ErrorKind::Rejected). KV replies
//!   carry no reason; the gateway sends it next, as an
//!   `ErrorResponse{KV_ERROR}` with the same request id. That frame arrives
//!   after the call has been resolved, so it reaches `on_error` (and
//!   [`Client::frames`](crate::Client::frames)) as an uncorrelated push: expect one there per
//!   refused KV call, and read its message for the reason.
//! * A refusal the gateway announces with an `ErrorResponse` first resolves
//!   the call with that error's kind: an invalid authorization context is
//!   [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied), a value over the gateway's quota
//!   (`ERR_QUOTA_001`) [`ErrorKind::PayloadTooLarge`](crate::ErrorKind::PayloadTooLarge).
//! * `_nowait` methods fail only locally (`InvalidArgument`, `QueueFull`,
//!   `NotConnected`, `Closed`); the gateway's refusal of one reaches
//!   `on_error`.
//!
//! The retry layer resends only GET, LIST, SET_CARD, PUT and DELETE;
//! counters, guarded counters, SET_NX, CAS, CAD, SET_ADD and purges are
//! never resent automatically.

mod methods;
mod ops;
mod page;
mod scope;
mod store;

pub use page::KvPage;
pub(crate) use scope::ttl_secs;
pub use scope::{KvScope, MAX_KEY_BYTES, validate_key};
pub use store::KvStore;
