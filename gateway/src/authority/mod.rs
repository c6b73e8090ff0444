//! Authority operations (§6.9) on the grants and requests the
//! authorization engine keeps (`authz::grants`): they need the live
//! sessions (whose principal asks, which sessions to tell).
//!
//! * [`grant_op`]: `AuthorityGrantOperation` (EXCHANGE, DERIVE, GET,
//!   RENEW, REVOKE, the two LISTs, BATCH_EXCHANGE, DERIVE_FOR_TARGET).
//! * [`request_op`]: `AuthorityRequestOperation` (the "sudo" flow).
//! * [`resolve_op`]: the `ResolveAuthorityRequest` operation.
//! * [`notify`]: revocation and request-event pushes to live sessions.
//! * [`audience`]: grants valid only while their audience is active end
//!   with its last session.

pub(crate) mod audience;
pub(crate) mod grant_op;
pub(crate) mod notify;
pub(crate) mod request_op;
pub(crate) mod resolve_op;
mod scope;
