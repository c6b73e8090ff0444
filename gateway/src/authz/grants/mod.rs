//! Authority grants and authority requests (§6.9): a principal (the
//! *subject*) lends its rights, capped, to another (the *delegate*), who
//! then acts on its behalf with an `AuthorizationContext`.
//!
//! * [`book`]: the grants and requests in memory, durable in `Table::Acl`
//!   (`grant/`, `request/`).
//! * [`obo`]: resolving an `AuthorizationContext` against the grants.
//!
//! The operations on them (which need the live sessions) are the
//! `authority` domain's.
//!
//! Choices (upstream leaves them open):
//! * `expires_at` is unix milliseconds on every grant we return (seconds
//!   are accepted on input and converted). A grant always expires: without
//!   an expiry it lasts [`DEFAULT_TTL_MS`]; a request's lasts its
//!   requested duration.
//! * `max_access_level` 0 means READ_WRITE; nothing ever exceeds the
//!   subject's own level, which is decided as for a plain session (never as
//!   a superadmin).
//! * Every failure to resolve a context (unknown, expired, revoked grant;
//!   wrong delegate, subject or audience) reads the same, so a refusal
//!   tells the caller nothing about grants it does not hold.

pub(crate) mod book;
pub(crate) mod obo;

/// How long a grant lasts when the request names no expiry (1 hour).
pub(crate) const DEFAULT_TTL_MS: i64 = 3_600_000;

/// The text of every refused on-behalf-of context.
pub(crate) const NOT_VALID: &str = "authority grant is not valid for this actor and subject";

/// The current time in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    crate::expiring::unix_ms() as i64
}

/// A wire timestamp as unix milliseconds (values that can only be seconds
/// are converted; 0 stays 0).
pub(crate) fn to_ms(t: i64) -> i64 {
    if t > 0 && t < 100_000_000_000 {
        t.saturating_mul(1000)
    } else {
        t.max(0)
    }
}
