//! The tower stack every operation runs through, and the contract of a
//! typed operation.
//!
//! An operation is a request type that knows its upstream frame and how to
//! decode its reply into a typed result ([`Operation`]). Running one turns
//! it into an [`OpRequest`] (the frame plus what the layers need: its name,
//! what its caller waits for, whether it is safe to repeat, its timeout),
//! passes that through the client's stack
//!
//! ```text
//! [your layers] -> trace -> timeout -> retry (idempotent ops only) -> auth -> correlation -> multiplexer
//! ```
//!
//! and decodes the [`Reply`] with [`Operation::decode`]. (Without layers
//! of yours, a fire-and-forget frame those layers would only queue, with no
//! subscriber taking their `aether.op` spans and room in the outbound
//! queue, is queued at once, without building their futures.) Every client
//! method is such an operation; [`Client::run`](crate::Client::run) runs
//! your own, and [`Client::call`](crate::Client::call) sends a raw
//! [`OpRequest`].
//!
//! ```
//! use aether_client::proto::{self, downstream_message::Payload as Down, upstream_message::Payload as Up};
//! use aether_client::stack::{Operation, OpRequest, Reply};
//! use aether_client::{Error, ErrorKind, Result};
//!
//! /// Whether a principal is connected, as a typed operation of your own.
//! struct IsConnected(String);
//!
//! impl Operation for IsConnected {
//!     const NAME: &'static str = "is_connected";
//!     type Output = bool;
//!
//!     fn into_request(self) -> OpRequest {
//!         OpRequest::awaited(
//!             Self::NAME,
//!             Up::ConnectionStatusRequest(Box::new(proto::ConnectionStatusRequest {
//!                 principal: Some(proto::PrincipalRef {
//!                     principal_type: "agent".into(),
//!                     principal_id: self.0,
//!                 }),
//!                 ..Default::default()
//!             })),
//!         )
//!         .idempotent(true)
//!     }
//!
//!     fn decode(reply: Reply) -> Result<bool> {
//!         match reply.into_frame(Self::NAME)? {
//!             Down::ConnectionStatusResponse(r) => Ok(r.connected),
//!             _ => Err(Error::new(ErrorKind::Protocol, "unexpected reply")),
//!         }
//!     }
//! }
//!
//! # async fn demo(agent: aether_client::AgentClient) -> Result<()> {
//! let up = agent.run(IsConnected("ag::ws::echo::two".into())).await?;
//! # Ok(()) }
//! ```

pub mod authority;
mod build;

pub use crate::connection::{Expect, OpRequest, Reply, ReplyStream, StreamBounds};
pub use build::{OpTimeout, OperationService, StampAuthorization};
pub(crate) use build::{SharedRequestIds, SmallCall, Stack, StackConfig, StackFuture, build};

use crate::error::Result;

/// A request type that knows its frame and its reply.
///
/// `into_request` builds what enters the stack; `decode` turns the stack's
/// [`Reply`] into the typed result (a refusal in a typed reply becomes an
/// error here; an `ErrorResponse` answering the request already arrives as
/// an error).
pub trait Operation {
    /// The operation's name, in traces and errors.
    const NAME: &'static str;
    /// What a successful call yields.
    type Output: Send + 'static;
    /// The request as it enters the stack.
    fn into_request(self) -> OpRequest;
    /// The typed result of the stack's reply.
    fn decode(reply: Reply) -> Result<Self::Output>;
}

/// Any operation sent without waiting for its reply: the frame carries no
/// request id, and the call is done once the frame is queued.
#[derive(Debug, Clone)]
pub(crate) struct NoWait<O>(pub(crate) O);

impl<O: Operation> Operation for NoWait<O> {
    const NAME: &'static str = O::NAME;
    type Output = ();

    fn into_request(self) -> OpRequest {
        self.0.into_request().without_reply()
    }

    fn decode(_: Reply) -> Result<()> {
        Ok(())
    }
}
