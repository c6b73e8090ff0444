//! The gRPC codec of both ends (the SDK's client stub and the gateway's
//! server stub are generated with it): prost, with encode buffers sized so
//! that a batch of small frames is written without growing (and copying)
//! the buffer on the way, and frames decoded from their own `Bytes`.

use std::marker::PhantomData;

use prost::bytes::Buf;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Initial capacity of a stream's encode buffer (tonic's default).
pub(crate) const BUFFER: usize = 8 * 1024;
/// Frames are handed to HTTP/2 once this much is encoded: below the
/// buffer's capacity, so a small message never makes the buffer grow
/// (tonic's default, 32 KiB, makes an 8 KiB buffer double twice per batch).
pub(crate) const YIELD_AT: usize = 6 * 1024;

/// prost encoding with the buffer settings above; what the generated stubs
/// use (`codec_path`).
#[derive(Debug)]
pub struct WireCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for WireCodec<T, U> {
    fn default() -> Self {
        WireCodec(PhantomData)
    }
}

impl<T, U> Codec for WireCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = WireEncoder<T>;
    type Decoder = WireDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        WireEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        WireDecoder(PhantomData)
    }
}

/// prost encoding straight into tonic's buffer.
///
/// `prost::Message::encode` first measures the whole message to check the
/// buffer's room, then writes it, measuring every nested message again for
/// its length prefix. tonic's buffer grows as needed, so the first
/// measuring pass is skipped: the message is written at once.
#[derive(Debug)]
pub struct WireEncoder<T>(PhantomData<T>);

impl<T: prost::Message> Encoder for WireEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode_raw(buf);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(BUFFER, YIELD_AT)
    }
}

/// prost decoding from the frame's own `Bytes`.
///
/// tonic hands the decoder a view of its receive buffer (`BytesMut`);
/// reading field by field through it costs that buffer's bookkeeping for
/// every varint and string, about a third of a small frame's decoding. The
/// frame is split off the buffer once instead (no copy) and decoded from
/// the resulting `Bytes`, where each step is a pointer bump and bytes
/// fields (payloads, body and tunnel chunks) stay zero-copy slices.
#[derive(Debug)]
pub struct WireDecoder<U>(PhantomData<U>);

impl<U: prost::Message + Default> Decoder for WireDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let frame = buf.copy_to_bytes(buf.remaining());
        // An undecodable frame is INTERNAL, as gRPC's status codes say (and
        // as tonic-prost maps it).
        U::decode(frame)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

// The bounds the generated server needs, checked here.
const _: fn() = || {
    fn codec<C: Codec<Encoder: Encoder<Error = Status>, Decoder: Decoder<Error = Status>>>() {}
    codec::<WireCodec<crate::proto::DownstreamMessage, crate::proto::UpstreamMessage>>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{TunnelData, UpstreamMessage, upstream_message::Payload};
    use http_body_util::Full;
    use prost::Message;
    use prost::bytes::{BufMut, Bytes, BytesMut};
    use tonic::Code;
    use tonic::codec::Streaming;

    /// gRPC length-prefixed frames, as one request body.
    fn body(frames: &[&[u8]]) -> Full<Bytes> {
        let mut out = BytesMut::new();
        for frame in frames {
            out.put_u8(0);
            out.put_u32(frame.len() as u32);
            out.put_slice(frame);
        }
        Full::new(out.freeze())
    }

    fn tunnel_data(len: usize) -> UpstreamMessage {
        UpstreamMessage {
            active_extensions: vec!["ext".into()],
            payload: Some(Payload::TunnelData(Box::new(TunnelData {
                tunnel_id: "t-1".into(),
                seq: 7,
                data: Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
                fin: true,
            }))),
        }
    }

    #[tokio::test]
    async fn small_and_large_frames_decode_as_prost_encoded_them() {
        let (small, large) = (tunnel_data(100), tunnel_data(300 * 1024));
        let (a, b) = (small.encode_to_vec(), large.encode_to_vec());
        let mut stream = Streaming::new_request(
            WireDecoder::<UpstreamMessage>(PhantomData),
            body(&[&a, &b, &a]),
            None,
            Some(1024 * 1024),
        );
        for want in [&small, &large, &small] {
            let got = stream.message().await.expect("decodes").expect("a frame");
            assert_eq!(&got, want);
        }
        assert!(stream.message().await.expect("clean end").is_none());
    }

    #[tokio::test]
    async fn an_undecodable_frame_is_internal() {
        // Field 1 (length-delimited) claims 100 bytes where 1 follows.
        let mut stream = Streaming::new_request(
            WireDecoder::<UpstreamMessage>(PhantomData),
            body(&[&[0x0a, 100, 1]]),
            None,
            None,
        );
        let status = stream.message().await.expect_err("refused");
        assert_eq!(status.code(), Code::Internal);
    }
}
