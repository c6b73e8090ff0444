//! What the frame codec reads and writes: any prost message, and the
//! downstream frame with its incoming messages zero-copy.

use prost::DecodeError;
use prost::bytes::{Buf, BufMut};

/// A message [`FrameBody`](super::FrameBody) can write: its protobuf
/// encoding, without the frame header. Every prost message is one.
pub trait EncodeFrame {
    /// Writes the encoding to `buf`.
    fn encode_frame(&self, buf: &mut impl BufMut);
}

/// A message [`FrameStream`](super::FrameStream) can read from one
/// frame's bytes. Every prost message is one.
pub trait DecodeFrame: Sized {
    /// Decodes one frame (its bytes after the header).
    fn decode_frame(frame: impl Buf) -> Result<Self, DecodeError>;
}

impl<M: prost::Message> EncodeFrame for M {
    fn encode_frame(&self, buf: &mut impl BufMut) {
        self.encode_raw(buf);
    }
}

impl<M: prost::Message + Default> DecodeFrame for M {
    fn decode_frame(frame: impl Buf) -> Result<Self, DecodeError> {
        M::decode(frame)
    }
}
