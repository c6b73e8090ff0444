//! [`AetherHttp`]: a `tower::Service<http::Request<B>>` that sends each
//! request over Aether to a service principal and streams its response.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode};

use super::body::{Body, to_wire};
use super::target::{path_of, target_of};
use crate::clients::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::error::{BoxError, Error, Result};
use crate::identity::Topic;
use crate::ops::http::{ProxyOptions, ProxyRequest, ProxyResponse};
use crate::proxy::Headers;
use aether_protocol::shared::Header;

/// HTTP over Aether as a tower service: `call(http::Request<B>)` sends the
/// request to a service principal through the gateway and resolves to its
/// `http::Response<`[`Body`]`>` once the response header arrives; the body
/// streams as its chunks arrive.
///
/// * **Target**: the request URI's host (`aether+sv://IMPL--SPEC/PATH`
///   reaches `sv::IMPL::SPEC`, `aether+sv://IMPL/PATH` any connected
///   instance of `sv::IMPL`), or fixed with [`with_target`](Self::with_target)
///   (then only the URI's path and query are used).
/// * **Bodies**: a request body whose size is known to be at most 256 KiB
///   goes inline; any other is streamed in 256 KiB chunks as it is
///   produced, never buffered whole.
/// * **Options** per request: a [`ProxyOptions`] request extension (time to
///   first byte, idle timeout between chunks, app workspace, authorization
///   context, max response bytes, backend) replaces the service's own.
/// * **Errors** are typed [`Error`]s; a proxy failure's kind is
///   [`ProxyErrorKind::of`](crate::proxy::ProxyErrorKind::of) the error
///   (`SIDECAR_UNAVAILABLE`, `TIMEOUT`, `PAYLOAD_TOO_LARGE`, ...).
///
/// It is always ready (the connection paces sends), cheap to clone, and
/// composes with tower and tower-http layers:
///
/// ```no_run
/// # async fn demo(agent: aether_client::AgentClient) -> Result<(), aether_client::BoxError> {
/// use std::time::Duration;
/// use aether_client::http::AetherHttp;
/// use aether_client::proxy::ProxyOptions;
/// use http::header::{HeaderValue, USER_AGENT};
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_http::set_header::SetRequestHeaderLayer;
///
/// let mut svc = ServiceBuilder::new()
///     .layer(SetRequestHeaderLayer::overriding(USER_AGENT, HeaderValue::from_static("my-agent")))
///     .service(AetherHttp::new(&agent));
/// let mut req = http::Request::get("aether+sv://search--1/health").body(String::new())?;
/// req.extensions_mut().insert(ProxyOptions::new().timeout(Duration::from_secs(5)));
/// let resp = svc.oneshot(req).await?;
/// println!("{}", resp.status());
/// # Ok(()) }
/// ```
pub struct AetherHttp<P: PrincipalType = AnyPrincipal> {
    client: Client<P>,
    target: Option<Arc<str>>,
    options: Arc<ProxyOptions>,
}

impl<P: PrincipalType> Clone for AetherHttp<P> {
    fn clone(&self) -> Self {
        AetherHttp {
            client: self.client.clone(),
            target: self.target.clone(),
            options: self.options.clone(),
        }
    }
}

impl<P: PrincipalType> std::fmt::Debug for AetherHttp<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AetherHttp")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<P: PrincipalType> AetherHttp<P> {
    /// Requests through `client`, each to the service its URI names.
    pub fn new(client: &Client<P>) -> Self {
        AetherHttp {
            client: client.clone(),
            target: None,
            options: Arc::new(ProxyOptions::default()),
        }
    }

    /// Requests through `client`, all to `target` (a topic such as
    /// `sv::web::1`, or `sv::web` for any instance).
    pub fn with_target(client: &Client<P>, target: &str) -> Result<Self> {
        let topic: Topic = target.parse()?;
        Ok(AetherHttp {
            target: Some(topic.to_string().into()),
            ..Self::new(client)
        })
    }

    /// The options of requests that carry none of their own.
    pub fn options(mut self, options: ProxyOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// Sends one request (what `call` does, as an `async fn`).
    pub async fn send<B>(&self, req: Request<B>) -> Result<Response<Body>>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        send(
            self.client.clone(),
            self.target.clone(),
            self.options.clone(),
            req,
        )
        .await
    }
}

/// The response future of [`AetherHttp`].
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<Body>>> + Send>>,
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<P, B> tower_service::Service<Request<B>> for AetherHttp<P>
where
    P: PrincipalType,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        let fut = send(
            self.client.clone(),
            self.target.clone(),
            self.options.clone(),
            req,
        );
        ResponseFuture {
            inner: Box::pin(fut),
        }
    }
}

pub(super) async fn send<P, B>(
    client: Client<P>,
    target: Option<Arc<str>>,
    options: Arc<ProxyOptions>,
    req: Request<B>,
) -> Result<Response<Body>>
where
    P: PrincipalType,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    let target = match target {
        Some(t) => t.to_string(),
        None => target_of(&parts.uri)?,
    };
    let options = parts
        .extensions
        .get::<ProxyOptions>()
        .cloned()
        .map(Arc::new)
        .unwrap_or(options);
    // The target is a validated topic: fixed when the service was made, or
    // from `target_of`.
    let request = ProxyRequest::to_validated(target, parts.method.as_str(), &path_of(&parts.uri))?
        .headers(wire_headers(&parts.headers))
        .body(to_wire(body).await?);
    let response = client.proxy_http(request, &options).await?;
    http_response(response)
}

/// Headers that describe one hop, not the request: never forwarded.
pub(crate) fn is_hop_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "host"
    )
}

/// An `http` header map as the wire carries it: one value per name, repeated
/// values joined with `, `, hop-by-hop headers left out.
pub(crate) fn wire_headers(headers: &HeaderMap) -> Headers {
    let mut out = Headers::with_capacity(headers.keys_len());
    for name in headers.keys() {
        if is_hop_header(name) {
            continue;
        }
        let mut values = headers.get_all(name).iter();
        let mut value = values
            .next()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        for more in values {
            value.push_str(", ");
            value.push_str(&String::from_utf8_lossy(more.as_bytes()));
        }
        out.push_distinct(name.as_str(), value);
    }
    out
}

/// The identity headers the gateway mints on every request (in its
/// casing), parsed once: the names `http` would otherwise lower-case into
/// a new allocation per request.
static MINTED: [HeaderName; 12] = [
    HeaderName::from_static("x-aether-caller-topic"),
    HeaderName::from_static("x-aether-actor-topic"),
    HeaderName::from_static("x-auth-tenant-id"),
    HeaderName::from_static("x-auth-workspace-access"),
    HeaderName::from_static("x-auth-user-id"),
    HeaderName::from_static("x-auth-principal-type"),
    HeaderName::from_static("x-auth-actor-type"),
    HeaderName::from_static("x-auth-actor-id"),
    HeaderName::from_static("x-auth-authority-mode"),
    HeaderName::from_static("x-auth-subject-type"),
    HeaderName::from_static("x-auth-subject-id"),
    HeaderName::from_static("x-auth-grant-id"),
];

fn header_name(name: &str) -> Result<HeaderName> {
    let minted = name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-");
    if let Some(known) = MINTED
        .iter()
        .filter(|_| minted)
        .find(|m| m.as_str().len() == name.len() && m.as_str().eq_ignore_ascii_case(name))
    {
        return Ok(known.clone());
    }
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::protocol(format!("invalid header name {name:?}")))
}

/// Wire headers as an `http` header map; a name or value HTTP cannot carry
/// is a protocol error of the peer. Values keep their wire buffers.
pub(crate) fn http_headers(headers: Headers) -> Result<HeaderMap> {
    let mut out = HeaderMap::with_capacity(headers.len());
    for Header { name, value } in headers.into_wire() {
        let header_name = header_name(&name)?;
        if is_hop_header(&header_name) {
            continue;
        }
        let header_value = HeaderValue::from_maybe_shared(value.as_bytes().clone())
            .map_err(|_| Error::protocol(format!("invalid value of header {name:?}")))?;
        // The last of a repeated name wins, as `Headers::get` reads it.
        out.insert(header_name, header_value);
    }
    Ok(out)
}

fn http_response(response: ProxyResponse) -> Result<Response<Body>> {
    let status = StatusCode::from_u16(response.status)
        .map_err(|_| Error::protocol(format!("invalid HTTP status {}", response.status)))?;
    let mut out = Response::new(Body::response(response.body));
    *out.status_mut() = status;
    *out.headers_mut() = http_headers(response.headers)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_join_and_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.append("accept", HeaderValue::from_static("a"));
        h.append("accept", HeaderValue::from_static("b"));
        h.insert("connection", HeaderValue::from_static("close"));
        h.insert("host", HeaderValue::from_static("web--1"));
        let wire = wire_headers(&h);
        assert_eq!(wire.get("accept"), Some("a, b"));
        assert!(!wire.contains("connection"));
        assert!(!wire.contains("host"));
    }

    #[test]
    fn minted_names_in_any_casing_become_their_http_names() {
        let wire = Headers::from([
            ("X-Auth-Tenant-ID".to_string(), "team".to_string()),
            (
                "x-aether-actor-topic".to_string(),
                "ag::t::i::a".to_string(),
            ),
            ("X-Custom".to_string(), "v".to_string()),
            ("Content-Type".to_string(), "text/plain".to_string()),
        ]);
        let h = http_headers(wire).unwrap();
        assert_eq!(h.get("x-auth-tenant-id").unwrap(), "team");
        assert_eq!(h.get("x-aether-actor-topic").unwrap(), "ag::t::i::a");
        assert_eq!(h.get("x-custom").unwrap(), "v");
        assert_eq!(h.get(http::header::CONTENT_TYPE).unwrap(), "text/plain");
        assert_eq!(h.len(), 4);
        for m in &MINTED {
            let upper = m.as_str().to_ascii_uppercase();
            assert_eq!(&header_name(&upper).unwrap(), m);
        }
    }

    #[test]
    fn a_repeated_name_reads_as_its_last_value_everywhere() {
        let wire = Headers::from_wire(
            vec![
                Header::from_static("content-length", "1"),
                Header::from_static("Content-Length", "2"),
            ],
            0,
        );
        assert_eq!(wire.get("content-length"), Some("2"));
        let h = http_headers(wire).unwrap();
        assert_eq!(h.get_all(http::header::CONTENT_LENGTH).iter().count(), 1);
        assert_eq!(h.get(http::header::CONTENT_LENGTH).unwrap(), "2");
    }

    #[test]
    fn headers_http_cannot_carry_are_protocol_errors() {
        let bad = Headers::from([("bad name".to_string(), "v".to_string())]);
        assert_eq!(
            http_headers(bad).unwrap_err().kind(),
            crate::ErrorKind::Protocol
        );
        let bad_value = Headers::from([("x".to_string(), "a\nb".to_string())]);
        assert!(http_headers(bad_value).is_err());
    }
}
