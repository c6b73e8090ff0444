//! Sending a body as `ProxyHttpBodyChunk` frames: pieces of at most
//! 256 KiB, numbered from 0, the last one marked `fin` (an empty body is
//! one empty `fin` chunk). A body in memory marks its last piece; a
//! streamed body sends each piece as soon as it is produced (a server-sent
//! event is not held back until the next one) and ends with an empty `fin`
//! chunk. Each frame waits only for room in the outbound queue, so a large
//! upload is paced by the connection.

use bytes::Bytes;
use futures_util::StreamExt;

use super::options::CHUNK_BYTES;
use super::request::{Body, chunk};
use crate::clients::Client;
use crate::clients::principal::PrincipalType;
use crate::error::{Error, ErrorKind, Result};

/// Sends `body` as the chunks of request/response `id`.
pub(crate) async fn send_body<P: PrincipalType>(
    client: &Client<P>,
    id: &str,
    is_request: bool,
    body: Body,
) -> Result<()> {
    let mut sender = Chunker {
        client,
        id,
        is_request,
        seq: 0,
        held: None,
    };
    match body {
        Body::Full(bytes) => {
            sender.feed(bytes).await?;
            sender.finish().await
        }
        Body::Stream(mut stream) => {
            while let Some(piece) = stream.next().await {
                let piece = piece.map_err(body_failed)?;
                sender.feed(piece).await?;
                if let Some(held) = sender.held.take() {
                    sender.send(held, false).await?;
                }
            }
            sender.finish().await
        }
    }
}

/// Holds back one piece, so the last one can carry `fin`.
struct Chunker<'a, P: PrincipalType> {
    client: &'a Client<P>,
    id: &'a str,
    is_request: bool,
    seq: u32,
    held: Option<Bytes>,
}

impl<P: PrincipalType> Chunker<'_, P> {
    async fn feed(&mut self, mut bytes: Bytes) -> Result<()> {
        while !bytes.is_empty() {
            let piece = bytes.split_to(bytes.len().min(CHUNK_BYTES));
            if let Some(previous) = self.held.replace(piece) {
                self.send(previous, false).await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        let last = self.held.take().unwrap_or_default();
        self.send(last, true).await
    }

    async fn send(&mut self, data: Bytes, fin: bool) -> Result<()> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.client
            .call(chunk(self.id, self.is_request, seq, data, fin))
            .await
            .map(drop)
    }
}

/// A body that failed, as an SDK error: one that carries an SDK error (a
/// body streamed over Aether, however wrapped) keeps its kind.
fn body_failed(e: crate::BoxError) -> Error {
    let mut kind = ErrorKind::InvalidArgument;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
    while let Some(c) = cause {
        if let Some(sdk) = c.downcast_ref::<Error>() {
            kind = sdk.kind();
            break;
        }
        cause = c.source();
    }
    Error::new(kind, format!("the body failed: {e}")).with_source(e)
}
