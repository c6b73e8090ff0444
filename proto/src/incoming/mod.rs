//! Incoming messages without a copy of their strings per message.
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
//! it hands to prost).
//!
//! ```
//! use aether_protocol::incoming::SharedIncoming;
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

mod shared_str;
pub(crate) mod wire;

pub use shared_str::SharedStr;

use prost::Message as _;
use prost::bytes::{BufMut, Bytes};

use crate::proto::{AccessDecisionReceipt, ForwardedAuthorization, IncomingMessage, PrincipalRef};
use wire::{LEN, VARINT};

/// An `IncomingMessage` whose strings share memory (see the
/// [module](self)). The fields are `IncomingMessage`'s, with the same
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
        match Self::decode_common(body.clone()) {
            Some(message) => Ok(message),
            None => IncomingMessage::decode(body).map(Self::from),
        }
    }

    /// The fields of `IncomingMessage`, each with its own wire type, and
    /// unknown fields skipped, as prost reads them; `None` for anything
    /// else (a malformed or unusual frame), which prost then decides on.
    fn decode_common(mut buf: Bytes) -> Option<Self> {
        let mut m = SharedIncoming::default();
        while !buf.is_empty() {
            let key = wire::take_varint(&mut buf)?;
            let (tag, wire_type) = (key >> 3, (key & 7) as u8);
            match (tag, wire_type) {
                (1, LEN) => {
                    m.source_topic = SharedStr::from_utf8(wire::take_len(&mut buf)?).ok()?
                }
                (2, LEN) => m.payload = wire::take_len(&mut buf)?,
                // int32 on the wire: the low 32 bits of the varint.
                (3, VARINT) => m.message_type = wire::take_varint(&mut buf)? as i32,
                (4, LEN) => m.workspace = SharedStr::from_utf8(wire::take_len(&mut buf)?).ok()?,
                (5, LEN) => merge(&mut m.on_behalf_subject, wire::take_len(&mut buf)?)?,
                (6, LEN) => merge(&mut m.access_receipt, wire::take_len(&mut buf)?)?,
                (7, LEN) => merge(&mut m.forwarded_authorization, wire::take_len(&mut buf)?)?,
                (8.., _) if key <= u64::from(u32::MAX) => wire::skip(wire_type, &mut buf)?,
                _ => return None,
            }
        }
        Some(m)
    }

    /// The length of its encoding.
    pub fn encoded_len(&self) -> usize {
        let mut len = bytes_field_len(self.source_topic.len())
            + bytes_field_len(self.payload.len())
            + bytes_field_len(self.workspace.len());
        if self.message_type != 0 {
            len += 1 + wire::varint_len(self.message_type as u64);
        }
        len + message_field_len(self.on_behalf_subject.as_deref())
            + message_field_len(self.access_receipt.as_deref())
            + message_field_len(self.forwarded_authorization.as_deref())
    }

    /// Writes its encoding (the bytes prost writes for the same
    /// `IncomingMessage`) to `buf`. The payload is handed over with
    /// [`BufMut::put`], so a buffer that keeps large `Bytes` as they are
    /// does so here too.
    pub fn encode_raw(&self, buf: &mut impl BufMut) {
        put_str(1, &self.source_topic, buf);
        if !self.payload.is_empty() {
            wire::put_varint(wire::key(2, LEN), buf);
            wire::put_varint(self.payload.len() as u64, buf);
            buf.put(self.payload.clone());
        }
        if self.message_type != 0 {
            wire::put_varint(wire::key(3, VARINT), buf);
            // int32 on the wire: negative values sign-extended to 64 bits.
            wire::put_varint(self.message_type as u64, buf);
        }
        put_str(4, &self.workspace, buf);
        put_message(5, self.on_behalf_subject.as_deref(), buf);
        put_message(6, self.access_receipt.as_deref(), buf);
        put_message(7, self.forwarded_authorization.as_deref(), buf);
    }

    /// Its encoding in a vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_raw(&mut out);
        out
    }
}

fn merge<M: prost::Message + Default>(slot: &mut Option<Box<M>>, body: Bytes) -> Option<()> {
    slot.get_or_insert_with(Box::default).merge(body).ok()
}

/// A length-delimited field of `len` bytes (none when empty: proto3
/// leaves defaults out). Every tag here is below 16: a one-byte key.
fn bytes_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + wire::varint_len(len as u64) + len
    }
}

/// A message field (one-byte key), when set.
fn message_field_len<M: prost::Message>(m: Option<&M>) -> usize {
    m.map_or(0, |m| {
        let len = m.encoded_len();
        1 + wire::varint_len(len as u64) + len
    })
}

fn put_str(tag: u32, s: &SharedStr, buf: &mut impl BufMut) {
    if !s.is_empty() {
        wire::put_varint(wire::key(tag, LEN), buf);
        wire::put_varint(s.len() as u64, buf);
        buf.put_slice(s.as_bytes());
    }
}

fn put_message<M: prost::Message>(tag: u32, m: Option<&M>, buf: &mut impl BufMut) {
    if let Some(m) = m {
        wire::put_varint(wire::key(tag, LEN), buf);
        wire::put_varint(m.encoded_len() as u64, buf);
        m.encode_raw(buf);
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

#[cfg(test)]
mod tests;
