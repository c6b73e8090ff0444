//! Generic [tower] middleware used by the Aether SDK.
//!
//! Every layer in this crate is transport agnostic: it only relies on small
//! traits that the request (or error) type implements, so the same layers can
//! wrap the real client, a test double, or any other [`Service`].
//!
//! | module | layer | what it does | request / error needs |
//! | --- | --- | --- | --- |
//! | [`trace`] | [`TraceLayer`] | one `aether.op` span per request, records outcome and latency | [`Operation`], `Error: Display` |
//! | [`timeout`] | [`TimeoutLayer`] | fails a request that takes too long | `Error: From<`[`timeout::error::Elapsed`]`>` |
//! | [`retry`] | [`RetryLayer`] | re-sends safe requests after retryable errors, with backoff and a budget | [`Idempotent`], [`RetryableError`] |
//! | [`backoff`] | | the exponential, jittered delay schedule shared by retry, reconnect and polling | |
//! | [`auth`] | [`AuthLayer`] | attaches credentials to each request | [`MakeCredentials`] |
//! | [`correlation`] | [`CorrelationLayer`] | gives each request a unique id | [`Correlate`] |
//!
//! # Stacking
//!
//! The layers are meant to be stacked outermost first in this order:
//!
//! ```text
//! trace -> timeout -> retry -> auth -> correlation -> inner service
//! ```
//!
//! * `trace` is outermost so the span covers the whole operation, retries
//!   and timeouts included.
//! * `timeout` sits above `retry`, so the deadline bounds the total time spent
//!   on a request, backoff sleeps included.
//! * `auth` and `correlation` sit below `retry`, so every attempt carries fresh
//!   credentials and, unless the caller set an id itself, its own request id:
//!   a late reply to an abandoned attempt cannot be mistaken for the reply to
//!   the next one.
//!
//! ```
//! use std::time::Duration;
//! use aether_middleware::{
//!     AuthLayer, CorrelationLayer, DefaultMakeRequestId, DefaultMakeSpan,
//!     DefaultRetryPolicy, NoCredentials, RetryLayer, TimeoutLayer, TraceLayer,
//! };
//!
//! let layers = tower::ServiceBuilder::new()
//!     .layer(TraceLayer::new(DefaultMakeSpan::new()))
//!     .layer(TimeoutLayer::new(Duration::from_secs(10)))
//!     .layer(RetryLayer::new(DefaultRetryPolicy::default()))
//!     .layer(AuthLayer::new(NoCredentials))
//!     .layer(CorrelationLayer::new(DefaultMakeRequestId::new()));
//! # let _ = layers;
//! ```
//!
//! [tower]: https://docs.rs/tower
//! [`Service`]: tower_service::Service

#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod backoff;
pub mod correlation;
pub mod retry;
pub mod timeout;
pub mod trace;

#[cfg(test)]
pub(crate) mod test_util;

pub use auth::{Auth, AuthLayer, MakeCredentials, NoCredentials};
pub use backoff::Backoff;
pub use correlation::{
    Correlate, Correlation, CorrelationLayer, DefaultMakeRequestId, MakeRequestId,
};
pub use retry::{
    DefaultRetryPolicy, Idempotent, Retry, RetryBudget, RetryLayer, RetryPolicy, RetryableError,
};
pub use timeout::{MakeTimeout, Timeout, TimeoutLayer};
pub use trace::{DefaultMakeSpan, MakeSpan, Operation, Trace, TraceLayer};
