//! The Aether v1 wire types, generated from `proto/aether/v1`.
//!
//! Every message of the published protocol is here, so nothing a gateway
//! sends is dropped on the floor. Only the prost messages are generated:
//! the SDK (`aether_client::proto`) adds the tonic client stub
//! (`aether_gateway_client`) and the embedded gateway
//! (`aether_gateway::proto`) the server stub (`aether_gateway_server`).
#![allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]

include!(concat!(env!("OUT_DIR"), "/aether.v1.rs"));

pub use crate::shared::{Header, ProxyHttpRequest, ProxyHttpResponse};
