//! The Aether v1 wire types, generated from `proto/aether/v1`.
//!
//! Every message of the published protocol is here, so nothing a gateway
//! sends is dropped on the floor. Client stubs (`aether_gateway_client`) and
//! server stubs (`aether_gateway_server`) are both generated; the embedded
//! gateway uses the latter.
#![allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]

tonic::include_proto!("aether.v1");
