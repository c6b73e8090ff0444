//! [`TunnelConnector`]: hyper (and tonic) connections over Aether tunnels.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;

use super::target::{SCHEME, target_of};
use crate::clients::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::error::{Error, Result};
use crate::identity::Topic;
use crate::ops::tunnel::{Tunnel, TunnelOptions};

/// A `tower::Service<http::Uri>` that dials a tunnel for each connection:
/// give it to `hyper_util::client::legacy::Client` or to tonic's
/// `Endpoint::connect_with_connector` and HTTP/1.1, HTTP/2 and gRPC run
/// over Aether to a service principal.
///
/// The tunnel goes to the URI's service (`aether+sv://IMPL--SPEC/...` is
/// `sv::IMPL::SPEC`) or to a target fixed with [`to`](Self::to) (any URI,
/// e.g. `http://backend`, is then accepted).
///
/// ```no_run
/// # async fn demo(agent: aether_client::AgentClient) -> Result<(), aether_client::BoxError> {
/// use aether_client::http::TunnelConnector;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
///
/// let connector = TunnelConnector::new(&agent);
/// let http: Client<_, http_body_util::Empty<bytes::Bytes>> =
///     Client::builder(TokioExecutor::new()).build(connector);
/// let resp = http.get("aether+sv://web--1/hello".parse()?).await?;
/// println!("{}", resp.status());
/// # Ok(()) }
/// ```
pub struct TunnelConnector<P: PrincipalType = AnyPrincipal> {
    client: Client<P>,
    target: Option<Arc<str>>,
    options: Arc<TunnelOptions>,
    http2: bool,
}

impl<P: PrincipalType> Clone for TunnelConnector<P> {
    fn clone(&self) -> Self {
        TunnelConnector {
            client: self.client.clone(),
            target: self.target.clone(),
            options: self.options.clone(),
            http2: self.http2,
        }
    }
}

impl<P: PrincipalType> std::fmt::Debug for TunnelConnector<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelConnector")
            .field("target", &self.target)
            .field("http2", &self.http2)
            .finish_non_exhaustive()
    }
}

impl<P: PrincipalType> TunnelConnector<P> {
    /// Tunnels through `client` to the service each URI names.
    pub fn new(client: &Client<P>) -> Self {
        TunnelConnector {
            client: client.clone(),
            target: None,
            options: Arc::new(TunnelOptions::new()),
            http2: false,
        }
    }

    /// Tunnels to `target` whatever the URI.
    pub fn to(mut self, target: &str) -> Result<Self> {
        let topic: Topic = target.parse()?;
        self.target = Some(topic.to_string().into());
        Ok(self)
    }

    /// The options of every tunnel it dials.
    pub fn options(mut self, options: TunnelOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// Marks its connections as HTTP/2 (prior knowledge), as a client
    /// built with `http2_only(true)` expects.
    pub fn http2(mut self, yes: bool) -> Self {
        self.http2 = yes;
        self
    }
}

impl<P: PrincipalType> tower_service::Service<Uri> for TunnelConnector<P> {
    type Response = TunnelStream;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<TunnelStream>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let client = self.client.clone();
        let options = self.options.clone();
        let http2 = self.http2;
        let target = match &self.target {
            Some(t) => Ok(t.to_string()),
            None if uri.scheme_str() == Some(SCHEME) => target_of(&uri),
            None => Err(Error::invalid(format!(
                "the connector has no fixed target and {uri} is not an {SCHEME}:// URI"
            ))),
        };
        Box::pin(async move {
            let tunnel = client.tunnel_dial(&target?, &options).await?;
            Ok(TunnelStream {
                io: TokioIo::new(tunnel),
                http2,
            })
        })
    }
}

/// A tunnel as a hyper connection (`hyper::rt::Read + Write` and
/// `Connection`).
#[derive(Debug)]
pub struct TunnelStream {
    io: TokioIo<Tunnel>,
    http2: bool,
}

impl TunnelStream {
    /// The tunnel inside.
    pub fn into_inner(self) -> Tunnel {
        self.io.into_inner()
    }
}

impl Connection for TunnelStream {
    fn connected(&self) -> Connected {
        let connected = Connected::new();
        if self.http2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl Read for TunnelStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for TunnelStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
