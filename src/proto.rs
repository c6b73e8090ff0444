//! The Aether v1 wire types, generated from `proto/aether/v1`.
//!
//! Every message of the published protocol is here (re-exported from
//! [`aether_protocol::proto`]), so nothing a gateway sends is dropped on the
//! floor, plus the tonic client stub (`aether_gateway_client`) for a bare
//! client. The connection driver does not use the stub: it opens the
//! `Connect` stream on the channel itself, framed by
//! [`aether_protocol::frames`] so body and tunnel chunks are not copied.
//! The server stub lives in the embedded gateway
//! (`aether_gateway::proto::aether_gateway_server`).
#![allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]

pub use aether_protocol::proto::*;

tonic::include_proto!("aether.v1");
