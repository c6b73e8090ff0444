//! Errors produced by [`Timeout`](super::Timeout).

/// The request did not complete before its deadline.
///
/// Only the timeout middleware creates this error; it reaches callers
/// converted into the inner service's error type through `From`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request timed out")]
pub struct Elapsed(pub(crate) ());

impl Elapsed {
    pub(crate) fn new() -> Self {
        Elapsed(())
    }
}
