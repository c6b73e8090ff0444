//! The blocking twin of [`AetherHttp`](super::AetherHttp), like
//! `reqwest::blocking`.

use std::io;

use bytes::{Buf, Bytes};
use http::{Request, Response};
use http_body_util::BodyExt;

use super::AetherHttp;
use super::body::Body;
use crate::blocking::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::error::{BoxError, Result};
use crate::ops::http::ProxyOptions;

/// HTTP over Aether for threaded programs: [`send`](Self::send) blocks
/// until the response header arrives; the body is read as it arrives
/// through `std::io::Read` ([`BlockingBody`]).
///
/// ```no_run
/// # fn demo(agent: aether_client::blocking::AgentClient) -> Result<(), aether_client::BoxError> {
/// use std::io::Read;
/// use aether_client::http::BlockingHttp;
/// let http = BlockingHttp::new(&agent);
/// let resp = http.send(http::Request::get("aether+sv://web--1/hello").body(String::new())?)?;
/// let mut text = String::new();
/// resp.into_body().read_to_string(&mut text)?;
/// # Ok(()) }
/// ```
pub struct BlockingHttp<P: PrincipalType = AnyPrincipal> {
    client: Client<P>,
    http: AetherHttp<P>,
}

impl<P: PrincipalType> Clone for BlockingHttp<P> {
    fn clone(&self) -> Self {
        BlockingHttp {
            client: self.client.clone(),
            http: self.http.clone(),
        }
    }
}

impl<P: PrincipalType> std::fmt::Debug for BlockingHttp<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingHttp")
            .field("http", &self.http)
            .finish()
    }
}

impl<P: PrincipalType> BlockingHttp<P> {
    /// Requests through `client`, each to the service its URI names.
    pub fn new(client: &Client<P>) -> Self {
        BlockingHttp {
            client: client.clone(),
            http: AetherHttp::new(client.as_async()),
        }
    }

    /// Requests through `client`, all to `target`.
    pub fn with_target(client: &Client<P>, target: &str) -> Result<Self> {
        Ok(BlockingHttp {
            client: client.clone(),
            http: AetherHttp::with_target(client.as_async(), target)?,
        })
    }

    /// The options of requests that carry none of their own.
    pub fn options(mut self, options: ProxyOptions) -> Self {
        self.http = self.http.options(options);
        self
    }

    /// Sends a request; returns once its response header arrived.
    pub fn send<B>(&self, req: Request<B>) -> Result<Response<BlockingBody>>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let response = self.client.block_on(self.http.send(req))?;
        let client = self.client.erase();
        Ok(response.map(|body| BlockingBody {
            body,
            client,
            pending: Bytes::new(),
        }))
    }
}

/// A response body read as it arrives (`std::io::Read`); errors are
/// `io::Error`s carrying the [`aether_client::Error`](crate::Error).
pub struct BlockingBody {
    body: Body,
    client: Client<AnyPrincipal>,
    pending: Bytes,
}

impl std::fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingBody").finish_non_exhaustive()
    }
}

impl BlockingBody {
    /// The rest of the body.
    pub fn bytes(self) -> Result<Bytes> {
        let rest = self.client.block_on(self.body.collect_bytes())?;
        if self.pending.is_empty() {
            return Ok(rest);
        }
        let mut all = Vec::with_capacity(self.pending.len() + rest.len());
        all.extend_from_slice(&self.pending);
        all.extend_from_slice(&rest);
        Ok(all.into())
    }
}

impl io::Read for BlockingBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.client.block_on(self.body.frame()) {
                None => return Ok(0),
                Some(Err(e)) => return Err(io::Error::other(e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
        let n = buf.len().min(self.pending.len());
        self.pending.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}
