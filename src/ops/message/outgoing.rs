//! [`OutgoingMessage`] and the send operation.

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::Topic;
use crate::message::MessageType;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, AuthorizationContext};
use crate::stack::{OpRequest, Operation, Reply};

/// A message to send, with every option of `SendMessage`.
///
/// ```
/// use aether_client::{OutgoingMessage, MessageType, identity::Topic};
/// let msg = OutgoingMessage::new(Topic::agent("ws", "echo", "one").unwrap(), "hi")
///     .message_type(MessageType::Chat)
///     .app_workspace("ws");
/// assert_eq!(msg.topic(), "ag::ws::echo::one");
/// ```
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    topic: String,
    payload: Bytes,
    message_type: MessageType,
    app_workspace: String,
    authorization: Option<AuthorizationContext>,
}

impl OutgoingMessage {
    /// A message to a typed topic (type OPAQUE unless set).
    pub fn new(topic: Topic, payload: impl Into<Bytes>) -> Self {
        Self::raw(topic.to_string(), payload)
    }

    /// A message to an already validated wire topic (see `wire_topic`).
    pub(crate) fn raw(topic: String, payload: impl Into<Bytes>) -> Self {
        OutgoingMessage {
            topic,
            payload: payload.into(),
            message_type: MessageType::Opaque,
            app_workspace: String::new(),
            authorization: None,
        }
    }

    /// A message to a topic given as a string; it is parsed and validated.
    pub fn to(topic: &str, payload: impl Into<Bytes>) -> Result<Self> {
        let t: Topic = topic.parse()?;
        Ok(Self::new(t, payload))
    }

    /// Sets the message type.
    pub fn message_type(mut self, t: MessageType) -> Self {
        self.message_type = t;
        self
    }

    /// Declares the application workspace the message belongs to.
    pub fn app_workspace(mut self, ws: impl Into<String>) -> Self {
        self.app_workspace = ws.into();
        self
    }

    /// Sends on behalf of a subject (needs a gateway with an ACL engine).
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.authorization = Some(ctx);
        self
    }

    /// The target topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Fails with `PayloadTooLarge` when the payload exceeds `max`.
    pub(crate) fn check_size(&self, max: usize) -> Result<()> {
        if self.payload.len() > max {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "payload is {} bytes; the limit is {max}",
                    self.payload.len()
                ),
            )
            .with_code("ERR_PAYLOAD_TOO_LARGE"));
        }
        Ok(())
    }
}

/// SEND: fire-and-forget (the protocol has no delivery acknowledgement; a
/// gateway-side refusal arrives at `on_error`).
pub(crate) struct SendOp(pub(crate) OutgoingMessage);

impl Operation for SendOp {
    const NAME: &'static str = "send";
    type Output = ();

    fn into_request(self) -> OpRequest {
        let m = self.0;
        OpRequest::fire_and_forget(
            Self::NAME,
            Up::Send(Box::new(proto::SendMessage {
                target_topic: m.topic,
                payload: m.payload,
                message_type: m.message_type as i32,
                authorization: m.authorization.map(Box::new),
                app_workspace: m.app_workspace,
                checked_access: None,
                authority_continuation: None,
            })),
        )
    }

    fn decode(_: Reply) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_is_fire_and_forget_with_every_field() {
        let msg = OutgoingMessage::to("ag::ws::i::s", "hi")
            .unwrap()
            .message_type(MessageType::Chat)
            .app_workspace("app");
        let req = SendOp(msg).into_request();
        assert!(!req.expects_reply());
        let Up::Send(s) = req.payload() else {
            panic!("not a send")
        };
        assert_eq!(s.target_topic, "ag::ws::i::s");
        assert_eq!(s.payload.as_ref(), b"hi");
        assert_eq!(s.message_type, MessageType::Chat as i32);
        assert_eq!(s.app_workspace, "app");
    }

    #[test]
    fn oversized_payloads_are_refused_before_sending() {
        let msg = OutgoingMessage::to("ag::ws::i::s", vec![0u8; 11]).unwrap();
        assert!(msg.check_size(11).is_ok());
        let err = msg.check_size(10).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
        assert!(OutgoingMessage::to("nope::x", "").is_err());
    }
}
