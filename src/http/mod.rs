//! HTTP over Aether with the `http` ecosystem (feature `http`; `hyper` and
//! `reqwest` add their integrations).
//!
//! * [`AetherHttp`]: a `tower::Service<http::Request<B>>` sending requests
//!   to service principals (`aether+sv://IMPL--SPEC/PATH`) and streaming
//!   their responses; compose it with tower and tower-http layers.
//!   [`BlockingHttp`] is its blocking twin.
//! * [`serve`]: any `tower::Service<http::Request<Body>>` (an axum
//!   `Router` as it is) served as a service principal's HTTP endpoint:
//!   allow-list, streaming both ways, concurrency and body limits, handler
//!   timeout, panics answered 500, graceful shutdown, the
//!   [`Caller`](crate::proxy::Caller) as a request extension.
//! * `AetherMiddleware` (feature `reqwest`): reqwest-middleware that sends
//!   `aether+sv://` URLs over Aether and everything else to the network.
//! * `TunnelConnector` (feature `hyper`): hyper-util and tonic clients over
//!   tunnels; `ServeConfig::serve_tunnels` serves the same service over
//!   the tunnels opened to the service principal.
//!
//! The wire-level API underneath is [`crate::proxy`] and [`crate::tunnel`].

mod blocking;
mod body;
mod client;
#[cfg(feature = "hyper")]
mod connector;
#[cfg(feature = "reqwest")]
mod reqwest;
mod serve;
mod target;

pub use blocking::{BlockingBody, BlockingHttp};
pub use body::Body;
pub use client::{AetherHttp, ResponseFuture};
#[cfg(feature = "hyper")]
pub use connector::{TunnelConnector, TunnelStream};
#[cfg(feature = "reqwest")]
pub use reqwest::AetherMiddleware;
pub use serve::{ServeConfig, Server, serve};
pub use target::{SCHEME, target_of};
