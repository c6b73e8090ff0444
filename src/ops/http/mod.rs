//! HTTP over Aether at the wire level: send a request to a topic and stream
//! its response ([`ProxyRequest`], [`ProxyResponse`]), or serve the
//! requests addressed to this client ([`IncomingRequests`]). The
//! `http` feature builds `http`/tower/reqwest/hyper integrations on this
//! (`aether_client::http`).
//!
//! On the wire a request is a `ProxyHttpRequest` header, followed, when
//! its body is over 256 KiB or streamed, by `ProxyHttpBodyChunk` frames;
//! the response is a `ProxyHttpResponse` header and, likewise, chunks. The
//! response frames are correlated to the request by its id on a bounded,
//! ordered stream of the connection's stream table: a slow reader slows
//! the connection rather than lose anything, and dropping a response
//! abandons its request.

mod chunks;
mod headers;
mod incoming;
mod methods;
mod options;
mod request;
mod response;

pub use headers::Headers;
pub use incoming::{
    Caller, IncomingBody, IncomingRequest, IncomingRequests, ProxyErrorKind, Responder,
    ServeOptions,
};
pub use options::{CHUNK_BYTES, ProxyOptions};
pub use request::{Body, BodyStream, ProxyRequest};
pub use response::{ProxyResponse, ResponseBody};
