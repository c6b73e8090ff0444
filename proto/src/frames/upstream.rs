//! The upstream frame with its sends zero-copy, as a gateway reads it.

use prost::DecodeError;
use prost::bytes::Buf;

use super::DecodeFrame;
use super::message::decode_sole_field;
use crate::proto::UpstreamMessage;
use crate::proto::upstream_message::Payload;
use crate::shared::SharedSend;

/// The key of `UpstreamMessage.send` (field 2, length-delimited).
const SEND_KEY: u8 = 0x12;

/// One frame of the `Connect` request stream as a gateway reads it: a
/// send as a [`SharedSend`] (its topic and payload slices of the frame),
/// any other frame as prost has it. A send frame with anything beside its
/// one `send` field is read as a [`Frame`](Upstream::Frame).
///
/// ```
/// use aether_protocol::frames::{DecodeFrame, Upstream};
/// use aether_protocol::proto::{SendMessage, UpstreamMessage, upstream_message::Payload};
/// use prost::Message;
///
/// let frame = UpstreamMessage {
///     payload: Some(Payload::Send(Box::new(SendMessage {
///         target_topic: "ag::ws::a::1".into(),
///         ..Default::default()
///     }))),
///     active_extensions: Vec::new(),
/// };
/// let read = Upstream::decode_frame(prost::bytes::Bytes::from(frame.encode_to_vec())).unwrap();
/// assert!(matches!(&read, Upstream::Send(s) if s.target_topic == "ag::ws::a::1"));
/// assert_eq!(UpstreamMessage::from(read), frame);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Upstream {
    /// `UpstreamMessage { send }`.
    Send(SharedSend),
    /// Any other frame.
    Frame(UpstreamMessage),
}

impl From<Upstream> for UpstreamMessage {
    fn from(frame: Upstream) -> Self {
        match frame {
            Upstream::Send(s) => UpstreamMessage {
                payload: Some(Payload::Send(Box::new(s.into()))),
                active_extensions: Vec::new(),
            },
            Upstream::Frame(f) => f,
        }
    }
}

impl DecodeFrame for Upstream {
    fn decode_frame(frame: impl Buf) -> Result<Self, DecodeError> {
        decode_sole_field(
            frame,
            SEND_KEY,
            |body| SharedSend::decode(body).map(Upstream::Send),
            Upstream::Frame,
        )
    }
}
