//! HTTP over Aether end to end: the tower client service, the terminator
//! serving an axum Router, through a real gateway on loopback.
#![cfg(feature = "http")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aether_client::http::{AetherHttp, Body, ServeConfig, Server, serve};
use aether_client::proxy::{Caller, ProxyErrorKind, ProxyOptions};
use aether_client::{AgentClient, ErrorKind, ServiceClient};
use axum::body::Bytes;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use common::{fast_reconnect, gateway, within};
use futures_util::{StreamExt, stream};
use http_body_util::BodyExt;
use tokio::sync::{Notify, mpsc};
use tower::{Service, ServiceBuilder, ServiceExt};

/// What the test handlers share with the test.
#[derive(Clone, Default)]
struct Hooks {
    /// `/gate` waits on this before answering.
    gate: Arc<Notify>,
    /// `/gate` says it started.
    started: Option<mpsc::UnboundedSender<()>>,
    /// `/drip` sends its pieces from here.
    drip: Option<Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Bytes>>>>,
    /// Panics so far.
    panics: Arc<AtomicUsize>,
}

fn app(hooks: Hooks) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/echo",
            post(|req: Request| async move { Response::new(req.into_body()) }),
        )
        .route(
            "/headers",
            get(|headers: HeaderMap| async move {
                let mut lines: Vec<String> = headers
                    .iter()
                    .map(|(k, v)| format!("{}={}", k, v.to_str().unwrap_or("?")))
                    .collect();
                lines.sort();
                lines.join("\n")
            }),
        )
        .route(
            "/caller",
            get(|Extension(c): Extension<Caller>| async move {
                format!("{} {} {}", c.topic, c.principal_type, c.workspace)
            }),
        )
        .route(
            "/bytes/{n}",
            get(|Path(n): Path<usize>| async move {
                let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                let pieces = stream::iter(
                    body.chunks(100_000)
                        .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                        .collect::<Vec<_>>(),
                );
                axum::body::Body::from_stream(pieces)
            }),
        )
        .route(
            "/panic",
            get({
                let panics = hooks.panics.clone();
                move || async move {
                    panics.fetch_add(1, Ordering::SeqCst);
                    panic!("handler panic (expected by the test)");
                    #[allow(unreachable_code)]
                    ""
                }
            }),
        )
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/gate",
            get({
                let hooks = hooks.clone();
                move || async move {
                    if let Some(tx) = &hooks.started {
                        let _ = tx.send(());
                    }
                    hooks.gate.notified().await;
                    "opened"
                }
            }),
        )
        .route(
            "/drip",
            get({
                let hooks = hooks.clone();
                move || async move {
                    let rx = hooks.drip.clone().expect("drip configured");
                    let pieces = stream::unfold(rx, |rx| async move {
                        let next = rx.lock().await.recv().await;
                        next.map(|b| (Ok::<_, std::io::Error>(b), rx))
                    });
                    axum::body::Body::from_stream(pieces).into_response()
                }
            }),
        )
}

struct Setup {
    gw: aether_gateway::RunningGateway,
    service: ServiceClient,
    server: Option<Server>,
    agent: AgentClient,
}

async fn agent(url: &str, name: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "caller", name)
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    a.connect().await.unwrap();
    a
}

async fn setup_with(hooks: Hooks, config: ServeConfig) -> Setup {
    let gw = gateway().await;
    let url = gw.url();
    let service = ServiceClient::builder("web", "1")
        .unwrap()
        .gateway(&url)
        .reconnect(fast_reconnect())
        .build();
    let server = serve(&service, app(hooks), config);
    service.connect().await.unwrap();
    let agent = agent(&url, "a1").await;
    Setup {
        gw,
        service,
        server: Some(server),
        agent,
    }
}

async fn setup() -> Setup {
    setup_with(Hooks::default(), ServeConfig::new()).await
}

fn get_req(uri: &str) -> http::Request<Body> {
    http::Request::get(uri).body(Body::empty()).unwrap()
}

async fn body_of(resp: http::Response<Body>) -> Bytes {
    within("the body", resp.into_body().collect_bytes())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_request_reaches_the_router_and_its_response_comes_back() {
    let s = setup().await;
    let mut http = AetherHttp::new(&s.agent);
    let ready = ServiceExt::<http::Request<Body>>::ready(&mut http)
        .await
        .unwrap();
    let resp = within(
        "the response",
        ready.call(get_req("aether+sv://web--1/hello")),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(body_of(resp).await, "hello");
    // Any instance of the implementation.
    let resp = http.call(get_req("aether+sv://web/hello")).await.unwrap();
    assert_eq!(body_of(resp).await, "hello");
    // Unknown paths are the router's 404.
    let resp = http
        .call(get_req("aether+sv://web--1/nowhere"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    drop(s.gw);
}

#[tokio::test]
async fn the_caller_is_a_typed_extension_and_identity_headers_cannot_be_forged() {
    let s = setup().await;
    let http = AetherHttp::new(&s.agent);
    let resp = http
        .send(get_req("aether+sv://web--1/caller"))
        .await
        .unwrap();
    assert_eq!(body_of(resp).await, "ag::ws::caller::a1 agent ws");
    let forged = http::Request::get("aether+sv://web--1/headers")
        .header("x-aether-caller-topic", "ag::ws::admin::root")
        .header("X-Auth-User-ID", "root")
        .header("x-custom", "kept")
        .body(Body::empty())
        .unwrap();
    let seen = String::from_utf8(body_of(http.send(forged).await.unwrap()).await.to_vec()).unwrap();
    assert!(
        seen.contains("x-aether-caller-topic=ag::ws::caller::a1"),
        "{seen}"
    );
    assert!(!seen.contains("root"), "{seen}");
    assert!(seen.contains("x-custom=kept"), "{seen}");
    assert!(seen.contains("x-auth-authority-mode=direct"), "{seen}");
}

#[tokio::test]
async fn it_composes_with_tower_http_layers() {
    use http::header::{HeaderName, HeaderValue};
    use tower_http::set_header::SetRequestHeaderLayer;
    let s = setup().await;
    let mut svc = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::overriding(
            HeaderName::from_static("x-layered"),
            HeaderValue::from_static("yes"),
        ))
        .service(AetherHttp::new(&s.agent));
    let resp =
        ServiceExt::<http::Request<Body>>::oneshot(&mut svc, get_req("aether+sv://web--1/headers"))
            .await
            .unwrap();
    let seen = body_of(resp).await;
    assert!(String::from_utf8_lossy(&seen).contains("x-layered=yes"));
}

#[tokio::test]
async fn large_bodies_stream_both_ways_intact() {
    let s = setup().await;
    let http = AetherHttp::new(&s.agent);
    // 3 MiB up, streamed (no known size), echoed back.
    let upload: Vec<u8> = (0..3 * 1024 * 1024)
        .map(|i: usize| (i % 253) as u8)
        .collect();
    let pieces: Vec<Result<Bytes, std::io::Error>> = upload
        .chunks(70_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = http_body_util::StreamBody::new(
        stream::iter(pieces).map(|r| r.map(http_body::Frame::data)),
    );
    let req = http::Request::post("aether+sv://web--1/echo")
        .body(body)
        .unwrap();
    let resp = within("the echo", http.send(req)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(body_of(resp).await, upload);
    // 5 MiB down, in many pieces.
    let resp = http
        .send(get_req("aether+sv://web--1/bytes/5242880"))
        .await
        .unwrap();
    let got = body_of(resp).await;
    assert_eq!(got.len(), 5 * 1024 * 1024);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

#[tokio::test]
async fn a_target_that_is_not_connected_fails_at_once() {
    let s = setup().await;
    let http = AetherHttp::new(&s.agent);
    let opts = ProxyOptions::new().timeout(Duration::from_secs(30));
    let mut req = get_req("aether+sv://web--9/hello");
    req.extensions_mut().insert(opts.clone());
    let started = std::time::Instant::now();
    let e = within("the refusal", http.send(req)).await.unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::SidecarUnavailable),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let mut req = get_req("aether+sv://nobody/hello");
    req.extensions_mut().insert(opts);
    let e = http.send(req).await.unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::SidecarUnavailable),
        "{e}"
    );
}

#[tokio::test]
async fn a_client_that_does_not_serve_http_refuses_at_once() {
    let s = setup().await;
    // An agent connected without a terminator.
    let other = agent(&s.gw.url(), "plain").await;
    let http = AetherHttp::with_target(&s.agent, "ag::ws::caller::plain").unwrap();
    let e = within("the refusal", http.send(get_req("/x")))
        .await
        .unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::SidecarUnavailable),
        "{e}"
    );
    other.close().await;
}

#[tokio::test]
async fn a_target_that_leaves_mid_response_fails_the_body() {
    let (tx, rx) = mpsc::unbounded_channel();
    let hooks = Hooks {
        drip: Some(Arc::new(tokio::sync::Mutex::new(rx))),
        ..Hooks::default()
    };
    let s = setup_with(hooks, ServeConfig::new()).await;
    let http = AetherHttp::new(&s.agent);
    tx.send(Bytes::from(vec![7u8; 300 * 1024])).unwrap();
    let resp = within("the header", http.send(get_req("aether+sv://web--1/drip")))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = within("the first chunk", body.frame())
        .await
        .unwrap()
        .unwrap();
    assert!(!first.into_data().unwrap().is_empty());
    // The service goes away before the end.
    s.service.close().await;
    let mut failed = None;
    while let Some(frame) = within("the end", body.frame()).await {
        if let Err(e) = frame {
            failed = Some(e);
            break;
        }
    }
    let e = failed.expect("the body fails rather than ending cleanly");
    assert!(
        matches!(
            ProxyErrorKind::of(&e),
            Some(ProxyErrorKind::SidecarUnavailable | ProxyErrorKind::UpstreamReset)
        ),
        "{e}"
    );
}

#[tokio::test]
async fn request_bodies_over_the_limit_are_refused() {
    let s = setup_with(
        Hooks::default(),
        ServeConfig::new().max_request_body(1024 * 1024),
    )
    .await;
    let http = AetherHttp::new(&s.agent);
    // Known size over the limit: refused before the handler runs.
    let big = Bytes::from(vec![1u8; 2 * 1024 * 1024]);
    let req = http::Request::post("aether+sv://web--1/echo")
        .header("content-length", big.len().to_string())
        .body(Body::full(big.clone()))
        .unwrap();
    let e = within("the refusal", http.send(req)).await.unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::PayloadTooLarge),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::PayloadTooLarge);
    // Unknown size: the body is cut off at the limit.
    let pieces = stream::iter((0..8).map(|_| {
        Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(vec![2u8; 256 * 1024])))
    }));
    let req = http::Request::post("aether+sv://web--1/echo")
        .body(http_body_util::StreamBody::new(pieces))
        .unwrap();
    let outcome = within("the refusal", async {
        match http.send(req).await {
            Err(e) => Err(e),
            Ok(resp) => resp.into_body().collect_bytes().await.map(|b| b.len()),
        }
    })
    .await;
    let e = outcome.expect_err("a body over the limit never gets through whole");
    assert_eq!(e.kind(), ErrorKind::PayloadTooLarge, "{e}");
}

#[tokio::test]
async fn paths_outside_the_allow_list_are_denied() {
    let s = setup_with(Hooks::default(), ServeConfig::new().allow_paths(["/hello"])).await;
    let http = AetherHttp::new(&s.agent);
    assert_eq!(
        http.send(get_req("aether+sv://web--1/hello"))
            .await
            .unwrap()
            .status(),
        200
    );
    let e = http
        .send(get_req("aether+sv://web--1/headers"))
        .await
        .unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::AclDenied),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_service_keeps_serving() {
    let hooks = Hooks::default();
    let panics = hooks.panics.clone();
    let s = setup_with(hooks, ServeConfig::new()).await;
    let http = AetherHttp::new(&s.agent);
    for _ in 0..3 {
        let resp = within("the 500", http.send(get_req("aether+sv://web--1/panic")))
            .await
            .unwrap();
        assert_eq!(resp.status(), 500);
    }
    assert_eq!(panics.load(Ordering::SeqCst), 3);
    let resp = http.send(get_req("aether+sv://web--1/fail")).await.unwrap();
    assert_eq!(resp.status(), 500);
    let resp = http
        .send(get_req("aether+sv://web--1/hello"))
        .await
        .unwrap();
    assert_eq!(body_of(resp).await, "hello");
}

#[tokio::test]
async fn timeouts_are_typed_errors() {
    let hooks = Hooks::default();
    let gate = hooks.gate.clone();
    let s = setup_with(
        hooks,
        ServeConfig::new().handler_timeout(Duration::from_millis(300)),
    )
    .await;
    let http = AetherHttp::new(&s.agent);
    // The caller's time to first byte.
    let mut req = get_req("aether+sv://web--1/gate");
    req.extensions_mut()
        .insert(ProxyOptions::new().timeout(Duration::from_millis(100)));
    let e = within("the caller's timeout", http.send(req))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // The terminator's handler timeout.
    let e = within(
        "the handler timeout",
        http.send(get_req("aether+sv://web--1/gate")),
    )
    .await
    .unwrap_err();
    assert_eq!(ProxyErrorKind::of(&e), Some(ProxyErrorKind::Timeout), "{e}");
    gate.notify_waiters();
}

#[tokio::test]
async fn an_idle_response_body_times_out() {
    let (tx, rx) = mpsc::unbounded_channel();
    let hooks = Hooks {
        drip: Some(Arc::new(tokio::sync::Mutex::new(rx))),
        ..Hooks::default()
    };
    let s = setup_with(hooks, ServeConfig::new()).await;
    let http = AetherHttp::new(&s.agent);
    tx.send(Bytes::from(vec![1u8; 300 * 1024])).unwrap();
    let mut req = get_req("aether+sv://web--1/drip");
    req.extensions_mut()
        .insert(ProxyOptions::new().idle_timeout(Duration::from_millis(200)));
    let resp = within("the header", http.send(req)).await.unwrap();
    let e = within("the idle timeout", resp.into_body().collect_bytes())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    drop(tx);
}

#[tokio::test]
async fn response_bodies_over_the_callers_limit_fail() {
    let s = setup().await;
    let http = AetherHttp::new(&s.agent);
    let mut req = get_req("aether+sv://web--1/bytes/1048576");
    req.extensions_mut()
        .insert(ProxyOptions::new().max_response_bytes(100_000));
    let outcome = within("the response", async {
        http.send(req).await?.into_body().collect_bytes().await
    })
    .await;
    assert_eq!(outcome.unwrap_err().kind(), ErrorKind::PayloadTooLarge);
}

#[tokio::test]
async fn a_thousand_concurrent_requests_all_succeed() {
    let s = setup().await;
    let http = AetherHttp::new(&s.agent);
    let results = within(
        "1,000 responses",
        futures_util::future::join_all((0..1000).map(|i| {
            let http = http.clone();
            async move {
                let req = http::Request::post("aether+sv://web--1/echo")
                    .body(Body::from(format!("request {i}")))
                    .unwrap();
                let resp = http.send(req).await?;
                resp.into_body().collect_bytes().await.map(|b| (i, b))
            }
        })),
    )
    .await;
    for r in results {
        let (i, body) = r.unwrap();
        assert_eq!(body, format!("request {i}"));
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_requests_in_flight() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let hooks = Hooks {
        started: Some(started_tx),
        ..Hooks::default()
    };
    let gate = hooks.gate.clone();
    let mut s = setup_with(hooks, ServeConfig::new()).await;
    let http = AetherHttp::new(&s.agent);
    let in_flight = tokio::spawn({
        let http = http.clone();
        async move { http.send(get_req("aether+sv://web--1/gate")).await }
    });
    within("the handler to start", started.recv())
        .await
        .unwrap();
    let server = s.server.take().unwrap();
    assert_eq!(server.in_flight(), 1);
    let shutdown = tokio::spawn(server.shutdown());
    // New requests are refused while the one in flight finishes.
    let refused = loop {
        match within("a refusal", http.send(get_req("aether+sv://web--1/hello"))).await {
            Err(e) => break e,
            // The shutdown may not have begun yet.
            Ok(_) => tokio::task::yield_now().await,
        }
    };
    assert_eq!(
        ProxyErrorKind::of(&refused),
        Some(ProxyErrorKind::SidecarUnavailable)
    );
    assert!(!shutdown.is_finished());
    gate.notify_waiters();
    let resp = within("the request in flight", in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body_of(resp).await, "opened");
    within("the shutdown", shutdown).await.unwrap();
    // Afterwards the client refuses HTTP at once.
    let e = within("a refusal", http.send(get_req("aether+sv://web--1/hello")))
        .await
        .unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::SidecarUnavailable)
    );
}

#[tokio::test]
async fn uris_that_name_no_service_are_invalid() {
    let s = setup().await;
    let http = AetherHttp::new(&s.agent);
    let e = http.send(get_req("http://example.com/")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = http.send(get_req("/relative")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}
