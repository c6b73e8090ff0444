//! Protocol messages whose strings share memory instead of copying it.
//!
//! `IncomingMessage`, the frame every delivered message travels in, has
//! two strings. Decoded by prost, each is a fresh `String`: an allocation
//! and a copy per message at every receiver. Built by a gateway, each is
//! a copy of the sender's topic and workspace per message. On the
//! messaging path those copies were a third of the allocations.
//!
//! [`SharedIncoming`] is the same message with its strings as
//! [`SharedStr`]: decoded, they are slices of the frame they arrived in;
//! built by a gateway, they are the sender's, shared by reference count.
//! It encodes to exactly the bytes prost writes for `IncomingMessage`,
//! and decodes what prost decodes (anything its fast path does not know,
//! it hands to prost). [`SharedSend`] is `SendMessage` read the same
//! way, so a gateway reads every send without copying its target topic.
//!
//! ```
//! use aether_protocol::shared::SharedIncoming;
//! use aether_protocol::proto::IncomingMessage;
//! use prost::Message;
//!
//! let proto = IncomingMessage {
//!     source_topic: "ag::ws::echo::one".into(),
//!     payload: "hello".into(),
//!     workspace: "ws".into(),
//!     ..Default::default()
//! };
//! let wire = prost::bytes::Bytes::from(proto.encode_to_vec());
//! let shared = SharedIncoming::decode(wire.clone()).unwrap();
//! assert_eq!(&*shared.source_topic, "ag::ws::echo::one");
//! assert_eq!(shared.to_vec(), wire); // the same bytes back
//! assert_eq!(IncomingMessage::from(shared), proto);
//! ```

pub mod http;
mod incoming;
mod send;
mod shared_str;
pub(crate) mod wire;

pub use http::{Header, ProxyHttpRequest, ProxyHttpResponse};
pub use incoming::SharedIncoming;
pub use send::SharedSend;
pub use shared_str::SharedStr;

#[cfg(test)]
mod tests;
