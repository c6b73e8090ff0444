//! The gRPC codec of both ends (the SDK's client stub and the gateway's
//! server stub are generated with it): prost, with encode buffers sized so
//! that a batch of small frames is written without growing (and copying)
//! the buffer on the way.

use std::marker::PhantomData;

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, Decoder, Encoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Initial capacity of a stream's encode buffer (tonic's default).
const BUFFER: usize = 8 * 1024;
/// Frames are handed to HTTP/2 once this much is encoded: below the
/// buffer's capacity, so a small message never makes the buffer grow
/// (tonic's default, 32 KiB, makes an 8 KiB buffer double twice per batch).
const YIELD_AT: usize = 6 * 1024;

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
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(BUFFER, YIELD_AT))
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(BufferSettings::default())
    }
}

// The bounds the generated server needs, checked here.
const _: fn() = || {
    fn codec<C: Codec<Encoder: Encoder<Error = Status>, Decoder: Decoder<Error = Status>>>() {}
    codec::<WireCodec<crate::proto::DownstreamMessage, crate::proto::UpstreamMessage>>();
};
