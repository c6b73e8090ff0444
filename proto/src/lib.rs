//! # aether-protocol
//!
//! The Aether v1 wire protocol, shared by the Rust SDK (`aether-client`) and
//! the embedded gateway (`aether-gateway`) without either depending on the
//! other:
//!
//! * [`proto`]: the prost message types generated from
//!   `proto/aether/v1/*.proto` (messages only; the SDK generates the tonic
//!   client stub and the gateway the server stub, both against these types);
//! * [`identity`]: typed, validated principals, segments and topics, with the
//!   gateway's identifier rules;
//! * [`frames`]: the `Connect` stream's gRPC framing on HTTP/2 bodies,
//!   without tonic's copies (an `unsafe impl`, a delegating `BufMut`, is
//!   there);
//! * [`shared`]: `IncomingMessage`, `SendMessage` and the HTTP frames
//!   with their strings shared rather than copied per message
//!   ([`SharedStr`](shared::SharedStr) reads its checked UTF-8 without
//!   checking again: the crate's other `unsafe`).
//!
//! ```
//! use aether_protocol::identity::Principal;
//! use aether_protocol::proto::InitConnection;
//!
//! let agent = Principal::agent("ws", "echo", "one").unwrap();
//! assert_eq!(agent.identity_string(), "ag::ws::echo::one");
//! let init = InitConnection {
//!     client_type: Some(agent.to_client_type()),
//!     ..Default::default()
//! };
//! assert_eq!(Principal::from_client_type(init.client_type.as_ref().unwrap()), Ok(agent));
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![deny(unreachable_pub)]

pub mod codec;
pub mod frames;
pub mod identity;
pub mod proto;
pub mod shared;
