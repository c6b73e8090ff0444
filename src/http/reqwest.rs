//! [`AetherMiddleware`]: reqwest-middleware that sends `aether+sv://` URLs
//! (and the hosts you map) over Aether and every other request to the
//! network.

use std::collections::HashMap;
use std::sync::Arc;

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use super::client::send;
use super::target::{SCHEME, target_of_host};
use crate::clients::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::error::{Error, Result};
use crate::identity::Topic;
use crate::ops::http::ProxyOptions;

/// A reqwest-middleware [`Middleware`]: requests to `aether+sv://IMPL--SPEC/PATH`
/// go to the service `sv::IMPL::SPEC` over Aether (`aether+sv://IMPL/PATH`
/// to any instance of `sv::IMPL`), as do requests to a host mapped with
/// [`map_host`](Self::map_host); every other request goes on to the
/// network untouched.
///
/// Per request, a [`ProxyOptions`] extension (`RequestBuilder::with_extension`)
/// sets the options; otherwise reqwest's own per-request `timeout` becomes
/// the time to first byte. Aether failures are
/// `reqwest_middleware::Error::Middleware` wrapping an
/// [`aether_client::Error`](crate::Error) (downcast it for its kind and
/// code, e.g. `SIDECAR_UNAVAILABLE`).
///
/// ```no_run
/// # async fn demo(agent: aether_client::AgentClient) -> Result<(), aether_client::BoxError> {
/// use aether_client::http::AetherMiddleware;
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(AetherMiddleware::new(&agent).map_host("search.internal", "sv::search")?)
///     .build();
/// let hello = http.get("aether+sv://web--1/hello").send().await?.text().await?;
/// let found = http.get("http://search.internal/q?term=rust").send().await?;
/// # Ok(()) }
/// ```
pub struct AetherMiddleware<P: PrincipalType = AnyPrincipal> {
    client: Client<P>,
    hosts: HashMap<String, Arc<str>>,
    options: Arc<ProxyOptions>,
}

impl<P: PrincipalType> std::fmt::Debug for AetherMiddleware<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AetherMiddleware")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl<P: PrincipalType> AetherMiddleware<P> {
    /// `aether+sv://` URLs over `client`.
    pub fn new(client: &Client<P>) -> Self {
        AetherMiddleware {
            client: client.clone(),
            hosts: HashMap::new(),
            options: Arc::new(ProxyOptions::default()),
        }
    }

    /// Requests to `host` (any scheme and port) go to `target` (a topic,
    /// e.g. `sv::search` or `sv::search::2`) over Aether.
    pub fn map_host(mut self, host: &str, target: &str) -> Result<Self> {
        let topic: Topic = target.parse()?;
        self.hosts
            .insert(host.to_ascii_lowercase(), topic.to_string().into());
        Ok(self)
    }

    /// The options of requests that carry none of their own.
    pub fn options(mut self, options: ProxyOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// The Aether target of a URL, if it goes over Aether.
    fn target(&self, url: &reqwest::Url) -> Option<Result<String>> {
        let host = url.host_str().unwrap_or_default();
        if url.scheme() == SCHEME {
            return Some(target_of_host(host));
        }
        self.hosts
            .get(&host.to_ascii_lowercase())
            .map(|t| Ok(t.to_string()))
    }
}

#[async_trait::async_trait]
impl<P: PrincipalType> Middleware for AetherMiddleware<P> {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let Some(target) = self.target(req.url()) else {
            return next.run(req, extensions).await;
        };
        let target = target.map_err(reqwest_middleware::Error::middleware)?;
        let options = match extensions.get::<ProxyOptions>() {
            Some(o) => Arc::new(o.clone()),
            None => match req.timeout() {
                Some(t) if self.options.timeout.is_none() => {
                    Arc::new((*self.options).clone().timeout(*t))
                }
                _ => self.options.clone(),
            },
        };
        let path = match req.url().query() {
            Some(q) => format!("{}?{q}", req.url().path()),
            None => req.url().path().to_string(),
        };
        let body = req
            .body_mut()
            .take()
            .unwrap_or_else(|| reqwest::Body::from(Vec::new()));
        let mut request = http::Request::new(body);
        *request.method_mut() = req.method().clone();
        *request.uri_mut() = path.parse().map_err(|e| {
            reqwest_middleware::Error::middleware(Error::invalid(format!(
                "invalid path {path:?}: {e}"
            )))
        })?;
        *request.headers_mut() = std::mem::take(req.headers_mut());
        let response = send(self.client.clone(), Some(target.into()), options, request)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        Ok(reqwest::Response::from(response.map(reqwest::Body::wrap)))
    }
}
