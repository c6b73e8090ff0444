//! [`SharedSend`]: `SendMessage` with shared strings, as a gateway reads it.

use prost::bytes::Bytes;

use super::SharedStr;
use super::wire::{self, Value::Len, Value::Varint};
use crate::proto::{
    AuthorityContinuationRequest, AuthorizationContext, ResourceAccessRequest, SendMessage,
};

/// A `SendMessage` whose strings and payload are slices of the frame it
/// arrived in: a gateway reads every send without an allocation for its
/// target topic or a box for the message. The fields are `SendMessage`'s,
/// with the same numbers and meaning.
///
/// ```
/// use aether_protocol::proto::SendMessage;
/// use aether_protocol::shared::SharedSend;
/// use prost::Message;
///
/// let proto = SendMessage {
///     target_topic: "ag::ws::echo::one".into(),
///     payload: "hi".into(),
///     ..Default::default()
/// };
/// let send = SharedSend::decode(proto.encode_to_vec().into()).unwrap();
/// assert_eq!(send.target_topic, "ag::ws::echo::one");
/// assert_eq!(send.encoded_len(), proto.encoded_len());
/// assert_eq!(SendMessage::from(send), proto);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedSend {
    /// Field 1: where to.
    pub target_topic: SharedStr,
    /// Field 2: the payload.
    pub payload: Bytes,
    /// Field 3: a `MessageType` value.
    pub message_type: i32,
    /// Field 4: the authorization the sender acts under.
    pub authorization: Option<Box<AuthorizationContext>>,
    /// Field 5: the workspace the sender declares for the message.
    pub app_workspace: SharedStr,
    /// Field 6: an access check to make before delivery.
    pub checked_access: Option<Box<ResourceAccessRequest>>,
    /// Field 7: an authority continuation request.
    pub authority_continuation: Option<Box<AuthorityContinuationRequest>>,
}

impl SharedSend {
    /// Decodes a `SendMessage` from `body`; its strings and payload are
    /// slices of `body`. Fails where prost fails, with prost's error.
    pub fn decode(body: Bytes) -> Result<Self, prost::DecodeError> {
        wire::decode_or_prost::<_, SendMessage>(body, Self::decode_common)
    }

    /// Every field with the wire type prost expects, as prost reads it;
    /// `None` for anything else, which prost then decides on. Only the
    /// fields kept share `body` (one reference count each).
    fn decode_common(body: &Bytes) -> Option<Self> {
        let mut m = SharedSend::default();
        wire::read_fields(body, 7, |tag, value| {
            match (tag, value) {
                (1, Len(r)) => m.target_topic = wire::str_at(body, r)?,
                (2, Len(r)) => m.payload = body.slice(r),
                (3, Varint(v)) => m.message_type = v as i32,
                (4, Len(r)) => wire::merge(&mut m.authorization, &body[r])?,
                (5, Len(r)) => m.app_workspace = wire::str_at(body, r)?,
                (6, Len(r)) => wire::merge(&mut m.checked_access, &body[r])?,
                (7, Len(r)) => wire::merge(&mut m.authority_continuation, &body[r])?,
                _ => return None,
            }
            Some(())
        })?;
        Some(m)
    }

    /// The length of its encoding (what prost reports for the same
    /// `SendMessage`).
    pub fn encoded_len(&self) -> usize {
        wire::bytes_field_len(self.target_topic.len())
            + wire::bytes_field_len(self.payload.len())
            + wire::int32_field_len(self.message_type)
            + wire::message_field_len(self.authorization.as_deref())
            + wire::bytes_field_len(self.app_workspace.len())
            + wire::message_field_len(self.checked_access.as_deref())
            + wire::message_field_len(self.authority_continuation.as_deref())
    }
}

impl From<SendMessage> for SharedSend {
    /// Takes the strings' buffers over (no copy).
    fn from(m: SendMessage) -> Self {
        SharedSend {
            target_topic: m.target_topic.into(),
            payload: m.payload,
            message_type: m.message_type,
            authorization: m.authorization,
            app_workspace: m.app_workspace.into(),
            checked_access: m.checked_access,
            authority_continuation: m.authority_continuation,
        }
    }
}

impl From<SharedSend> for SendMessage {
    /// Copies the strings into `String`s.
    fn from(m: SharedSend) -> Self {
        SendMessage {
            target_topic: m.target_topic.into(),
            payload: m.payload,
            message_type: m.message_type,
            authorization: m.authorization,
            app_workspace: m.app_workspace.into(),
            checked_access: m.checked_access,
            authority_continuation: m.authority_continuation,
        }
    }
}
