//! What the frame codec reads and writes: any prost message, and the
//! downstream frame with its incoming messages zero-copy.

use prost::DecodeError;
use prost::bytes::{Buf, BufMut, Bytes};

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

/// Decodes a frame whose only field is the oneof variant with one-byte
/// `key` with `fast` (given that field's body, a slice of the frame), and
/// any other frame with prost, then `other`.
pub(super) fn decode_sole_field<T, M: prost::Message + Default>(
    mut frame: impl Buf,
    key: u8,
    fast: impl FnOnce(Bytes) -> Result<T, DecodeError>,
    other: impl FnOnce(M) -> T,
) -> Result<T, DecodeError> {
    if frame.chunk().first() != Some(&key) {
        // Straight off the chunks: large fields of other frames stay
        // slices of them.
        return M::decode(frame).map(other);
    }
    let mut whole = frame.copy_to_bytes(frame.remaining());
    let mut at = 1;
    let sole = crate::shared::wire::read_varint(&whole, &mut at)
        .is_some_and(|len| len == (whole.len() - at) as u64);
    if sole {
        // The field's body, without another reference to the frame.
        whole.advance(at);
        fast(whole)
    } else {
        M::decode(whole).map(other)
    }
}
