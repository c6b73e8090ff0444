//! One request served: the wire request as an `http::Request<Body>` with
//! its caller, the service called within the deadline, its response (or
//! its failure) sent back.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use http::{Request, Response, Uri};
use tower::ServiceExt;

use super::super::body::{Body, to_wire};
use super::super::client::{http_headers, wire_headers};
use super::config::ServeConfig;
use crate::error::BoxError;
use crate::ops::http::{IncomingRequest, ProxyErrorKind, Responder};

/// What the handler's response header must arrive within.
fn deadline(config: &ServeConfig, caller: Option<Duration>) -> Option<Duration> {
    match (config.handler_timeout, caller) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Serves one request with `service`; every path answers the caller.
pub(super) async fn handle<S, B>(service: S, req: IncomingRequest, config: Arc<ServeConfig>)
where
    S: tower_service::Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let IncomingRequest {
        method,
        path,
        headers,
        caller,
        timeout,
        body,
        responder,
        ..
    } = req;
    let declared = headers
        .get("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_request_body) {
        let why = format!("the request body exceeds {} bytes", config.max_request_body);
        let _ = responder.error(ProxyErrorKind::PayloadTooLarge, &why).await;
        return;
    }
    let tripped = Arc::new(AtomicBool::new(false));
    let body = Body::incoming(body).limited(config.max_request_body, tripped.clone());
    let request = match build_request(&method, &path, headers, body) {
        Ok(mut r) => {
            r.extensions_mut().insert(caller);
            r
        }
        Err(why) => {
            let _ = responder.error(ProxyErrorKind::DecodeFailed, &why).await;
            return;
        }
    };
    let response = match call(service, request, deadline(&config, timeout)).await {
        Outcome::Answered(response) => Some(response),
        Outcome::Late(d) => {
            let why = format!("the handler did not answer within {d:?}");
            let _ = responder.error(ProxyErrorKind::Timeout, &why).await;
            return;
        }
        Outcome::Failed(e) => {
            tracing::warn!(error = %e, %method, %path, "the HTTP handler failed");
            None
        }
        Outcome::Panicked => {
            tracing::error!(%method, %path, "the HTTP handler panicked");
            None
        }
    };
    let Some(response) = response else {
        return internal_error(responder).await;
    };
    if tripped.load(Ordering::Acquire) {
        let why = format!("the request body exceeds {} bytes", config.max_request_body);
        let _ = responder.error(ProxyErrorKind::PayloadTooLarge, &why).await;
        return;
    }
    let (parts, body) = response.into_parts();
    let body = match to_wire(body).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, %method, %path, "the HTTP response body failed");
            return internal_error(responder).await;
        }
    };
    let sent = responder
        .respond(parts.status.as_u16(), wire_headers(&parts.headers), body)
        .await;
    if let Err(e) = sent {
        tracing::debug!(error = %e, %method, %path, "the HTTP response was not delivered");
    }
}

/// How a handler's call ended.
enum Outcome<R> {
    Answered(R),
    Late(Duration),
    Failed(BoxError),
    Panicked,
}

/// Calls the service within `deadline`, catching its panics.
async fn call<S, R>(service: S, request: Request<Body>, deadline: Option<Duration>) -> Outcome<R>
where
    S: tower_service::Service<Request<Body>, Response = R>,
    S::Error: Into<BoxError>,
{
    let call = AssertUnwindSafe(service.oneshot(request)).catch_unwind();
    let outcome = match deadline {
        Some(d) => match tokio::time::timeout(d, call).await {
            Ok(outcome) => outcome,
            Err(_) => return Outcome::Late(d),
        },
        None => call.await,
    };
    match outcome {
        Ok(Ok(response)) => Outcome::Answered(response),
        Ok(Err(e)) => Outcome::Failed(e.into()),
        Err(_panic) => Outcome::Panicked,
    }
}

/// A 500 for a handler that failed or panicked: the service keeps serving.
async fn internal_error(responder: Responder) {
    let headers = [("content-type".to_string(), "text/plain".to_string())].into();
    let _ = responder
        .respond(500, headers, "internal server error")
        .await;
}

fn build_request(
    method: &str,
    path: &str,
    headers: crate::proxy::Headers,
    body: Body,
) -> Result<Request<Body>, String> {
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("invalid method {method:?}"))?;
    let uri: Uri = path.parse().map_err(|_| format!("invalid path {path:?}"))?;
    let headers = http_headers(headers).map_err(|e| e.to_string())?;
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_deadline_wins() {
        let config = ServeConfig::new().handler_timeout(Duration::from_secs(60));
        assert_eq!(
            deadline(&config, Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(deadline(&config, None), Some(Duration::from_secs(60)));
        let open = ServeConfig::new().handler_timeout(None);
        assert_eq!(deadline(&open, None), None);
    }

    #[test]
    fn undecodable_requests_are_refused() {
        assert!(build_request("GET", "/ok?x=1", Default::default(), Body::empty()).is_ok());
        assert!(build_request("G ET", "/", Default::default(), Body::empty()).is_err());
        assert!(build_request("GET", "/a b", Default::default(), Body::empty()).is_err());
    }
}
