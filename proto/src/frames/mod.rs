//! gRPC framing of the `Connect` stream on HTTP/2 bodies, used by both ends
//! in place of tonic's codec for that stream.
//!
//! A gRPC frame is a 5-byte header (a compression flag, always 0 here, and
//! a big-endian length) and a protobuf message. tonic copies each frame
//! twice on the way: into its encode buffer on the sending side, and into
//! its growing receive buffer on the other, growing (and copying again) for
//! large frames. On the path of a body or tunnel chunk, which crosses the
//! gateway, that is a fifth of the CPU time (`benches/http.rs`).
//!
//! * [`FrameBody`] encodes a stream of messages into a body: small frames
//!   batched into one data chunk, large bytes fields sent as the `Bytes`
//!   the message holds;
//! * [`FrameStream`] decodes a body into messages straight off its data
//!   chunks, large bytes fields as slices of them.
//!
//! Their errors and limits are tonic's, so either end works with any gRPC
//! peer (the Python SDK's grpcio included) and with tonic on the other end.
//!
//! ```
//! use aether_protocol::frames::{FrameBody, FrameStream};
//! use aether_protocol::proto::SwitchWorkspace;
//! use futures_util::stream;
//!
//! # tokio_test::block_on(async {
//! let switch = |ws: &str| SwitchWorkspace { new_workspace_id: ws.into() };
//! let body = FrameBody::response(stream::iter([Ok(switch("a")), Ok(switch("b"))]), 1024);
//! let mut frames = FrameStream::<SwitchWorkspace>::response(body, http::StatusCode::OK, 1024);
//! assert_eq!(frames.message().await.unwrap(), Some(switch("a")));
//! assert_eq!(frames.message().await.unwrap(), Some(switch("b")));
//! assert_eq!(frames.message().await.unwrap(), None); // trailers: grpc-status 0
//! # });
//! ```

mod decode;
mod downstream;
mod encode;
mod message;
mod upstream;

pub use decode::FrameStream;
pub use downstream::Downstream;
pub use encode::FrameBody;
pub use message::{DecodeFrame, EncodeFrame};
pub use upstream::Upstream;

/// A gRPC frame header: the compression flag and the length.
const HEADER_BYTES: usize = 5;

/// The gRPC service of the protocol.
pub const SERVICE: &str = "aether.v1.AetherGateway";

/// The path of its one method, `Connect`.
pub const CONNECT_PATH: &str = "/aether.v1.AetherGateway/Connect";

/// The content type of a gRPC request or response.
pub const CONTENT_TYPE: &str = "application/grpc";

#[cfg(test)]
mod tests;
