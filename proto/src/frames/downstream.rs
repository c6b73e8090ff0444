//! The downstream frame with its incoming messages zero-copy.

use prost::DecodeError;
use prost::bytes::{Buf, BufMut};

use super::message::decode_sole_field;
use super::{DecodeFrame, EncodeFrame};
use crate::proto::DownstreamMessage;
use crate::proto::downstream_message::Payload;
use crate::shared::{SharedIncoming, wire};

/// The key of `DownstreamMessage.msg` (field 1, length-delimited).
const MSG_KEY: u8 = 0x0a;

/// One frame of the `Connect` response stream, as both ends move it: an
/// incoming message as a [`SharedIncoming`] (strings shared, not copied),
/// any other frame as prost has it.
///
/// It reads and writes exactly the bytes of the `DownstreamMessage` it
/// stands for. A message frame with anything beside its one `msg` field
/// (active extensions, say) is read as a [`Frame`](Downstream::Frame).
///
/// ```
/// use aether_protocol::frames::{DecodeFrame, Downstream, EncodeFrame};
/// use aether_protocol::shared::SharedIncoming;
///
/// let msg = SharedIncoming { source_topic: "ag::ws::a::1".into(), ..Default::default() };
/// let mut wire = Vec::new();
/// Downstream::Message(msg.clone()).encode_frame(&mut wire);
/// let read = Downstream::decode_frame(prost::bytes::Bytes::from(wire)).unwrap();
/// assert_eq!(read, Downstream::Message(msg));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Downstream {
    /// `DownstreamMessage { msg }`.
    Message(SharedIncoming),
    /// Any other frame.
    Frame(DownstreamMessage),
}

impl From<DownstreamMessage> for Downstream {
    fn from(frame: DownstreamMessage) -> Self {
        Downstream::Frame(frame)
    }
}

impl From<Downstream> for DownstreamMessage {
    fn from(frame: Downstream) -> Self {
        match frame {
            Downstream::Message(m) => DownstreamMessage {
                payload: Some(Payload::Msg(Box::new(m.into()))),
                active_extensions: Vec::new(),
            },
            Downstream::Frame(f) => f,
        }
    }
}

impl EncodeFrame for Downstream {
    fn encode_frame(&self, buf: &mut impl BufMut) {
        match self {
            Downstream::Message(m) => {
                buf.put_u8(MSG_KEY);
                wire::put_varint(m.encoded_len() as u64, buf);
                m.encode_raw(buf);
            }
            Downstream::Frame(f) => f.encode_frame(buf),
        }
    }
}

impl DecodeFrame for Downstream {
    fn decode_frame(frame: impl Buf) -> Result<Self, DecodeError> {
        decode_sole_field(
            frame,
            MSG_KEY,
            |body| SharedIncoming::decode(body).map(Downstream::Message),
            Downstream::Frame,
        )
    }
}
