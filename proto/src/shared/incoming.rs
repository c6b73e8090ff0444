//! [`SharedIncoming`]: `IncomingMessage` with shared strings.

use prost::bytes::{BufMut, Bytes};

use super::SharedStr;
use super::wire::{self, Value::Len, Value::Varint};
use crate::proto::{AccessDecisionReceipt, ForwardedAuthorization, IncomingMessage, PrincipalRef};

/// An `IncomingMessage` whose strings share memory (see the
/// [module](super)). The fields are `IncomingMessage`'s, with the same
/// numbers and meaning.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedIncoming {
    /// Field 1: the sender's identity topic.
    pub source_topic: SharedStr,
    /// Field 2: the payload.
    pub payload: Bytes,
    /// Field 3: a `MessageType` value.
    pub message_type: i32,
    /// Field 4: the workspace the message was sent in.
    pub workspace: SharedStr,
    /// Field 5: the subject the sender acted for.
    pub on_behalf_subject: Option<Box<PrincipalRef>>,
    /// Field 6: the access decision that admitted it.
    pub access_receipt: Option<Box<AccessDecisionReceipt>>,
    /// Field 7: authorization forwarded to the receiver.
    pub forwarded_authorization: Option<Box<ForwardedAuthorization>>,
}

impl SharedIncoming {
    /// Decodes an `IncomingMessage` from `body`; its strings and payload
    /// are slices of `body`. Fails where prost fails, with prost's error.
    pub fn decode(body: Bytes) -> Result<Self, prost::DecodeError> {
        wire::decode_or_prost::<_, IncomingMessage>(body, Self::decode_common)
    }

    /// Every field with the wire type prost expects, as prost reads it;
    /// `None` for anything else (a malformed or unusual body), which prost
    /// then decides on. Only the fields kept share `body` (one reference
    /// count each).
    fn decode_common(body: &Bytes) -> Option<Self> {
        let mut m = SharedIncoming::default();
        wire::read_fields(body, 7, |tag, value| {
            match (tag, value) {
                (1, Len(r)) => m.source_topic = wire::str_at(body, r)?,
                (2, Len(r)) => m.payload = body.slice(r),
                // int32 on the wire: the low 32 bits of the varint.
                (3, Varint(v)) => m.message_type = v as i32,
                (4, Len(r)) => m.workspace = wire::str_at(body, r)?,
                (5, Len(r)) => wire::merge(&mut m.on_behalf_subject, &body[r])?,
                (6, Len(r)) => wire::merge(&mut m.access_receipt, &body[r])?,
                (7, Len(r)) => wire::merge(&mut m.forwarded_authorization, &body[r])?,
                _ => return None,
            }
            Some(())
        })?;
        Some(m)
    }

    /// The length of its encoding.
    pub fn encoded_len(&self) -> usize {
        wire::bytes_field_len(self.source_topic.len())
            + wire::bytes_field_len(self.payload.len())
            + wire::int32_field_len(self.message_type)
            + wire::bytes_field_len(self.workspace.len())
            + wire::message_field_len(self.on_behalf_subject.as_deref())
            + wire::message_field_len(self.access_receipt.as_deref())
            + wire::message_field_len(self.forwarded_authorization.as_deref())
    }

    /// Writes its encoding (the bytes prost writes for the same
    /// `IncomingMessage`) to `buf`. The payload is handed over with
    /// [`BufMut::put`], so a buffer that keeps large `Bytes` as they are
    /// does so here too.
    pub fn encode_raw(&self, buf: &mut impl BufMut) {
        wire::put_str(1, &self.source_topic, buf);
        wire::put_bytes(2, &self.payload, buf);
        wire::put_int32(3, self.message_type, buf);
        wire::put_str(4, &self.workspace, buf);
        wire::put_message(5, self.on_behalf_subject.as_deref(), buf);
        wire::put_message(6, self.access_receipt.as_deref(), buf);
        wire::put_message(7, self.forwarded_authorization.as_deref(), buf);
    }

    /// Its encoding in a vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_raw(&mut out);
        out
    }
}

impl From<IncomingMessage> for SharedIncoming {
    /// Takes the strings' buffers over (no copy).
    fn from(m: IncomingMessage) -> Self {
        SharedIncoming {
            source_topic: m.source_topic.into(),
            payload: m.payload,
            message_type: m.message_type,
            workspace: m.workspace.into(),
            on_behalf_subject: m.on_behalf_subject,
            access_receipt: m.access_receipt,
            forwarded_authorization: m.forwarded_authorization,
        }
    }
}

impl From<SharedIncoming> for IncomingMessage {
    /// Copies the strings into `String`s.
    fn from(m: SharedIncoming) -> Self {
        IncomingMessage {
            source_topic: m.source_topic.into(),
            payload: m.payload,
            message_type: m.message_type,
            workspace: m.workspace.into(),
            on_behalf_subject: m.on_behalf_subject,
            access_receipt: m.access_receipt,
            forwarded_authorization: m.forwarded_authorization,
        }
    }
}
