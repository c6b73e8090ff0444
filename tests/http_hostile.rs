//! HTTP over Aether against a hostile or broken peer: raw frames out of
//! order, duplicated, for unknown requests, bodies that never end, handlers
//! that never answer. Typed errors, bounded waits, and the other side keeps
//! serving.
#![cfg(feature = "http")]

mod common;

use std::time::Duration;

use aether_client::http::{AetherHttp, Body, ServeConfig, serve};
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::upstream_message::Payload as Up;
use aether_client::proto::{self, ProxyHttpBodyChunk, ProxyHttpResponse};
use aether_client::proxy::{ProxyOptions, ServeOptions};
use aether_client::stack::{Expect, OpRequest, Reply, StreamBounds};
use aether_client::{AgentClient, ErrorKind, ServiceClient};
use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use common::{gateway, within};
use futures_util::StreamExt;

async fn agent(url: &str, name: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "hostile", name)
        .unwrap()
        .gateway(url)
        .build();
    a.connect().await.unwrap();
    a
}

fn raw(name: &'static str, payload: Up) -> OpRequest {
    OpRequest::fire_and_forget(name, payload)
}

fn response_chunk(id: &str, seq: u32, data: &'static [u8], fin: bool) -> OpRequest {
    raw(
        "chunk",
        Up::ProxyHttpBodyChunk(Box::new(ProxyHttpBodyChunk {
            request_id: id.to_string(),
            is_request: false,
            seq,
            data: Bytes::from_static(data),
            fin,
        })),
    )
}

/// A terminator written by hand: takes one request and answers it with the
/// frames a test chooses.
async fn hostile_terminator(url: &str) -> (ServiceClient, aether_client::proxy::IncomingRequests) {
    let svc = ServiceClient::builder("evil", "1")
        .unwrap()
        .gateway(url)
        .build();
    let requests = svc.http_requests(ServeOptions::new());
    svc.connect().await.unwrap();
    (svc, requests)
}

fn chunked_header(id: &str) -> OpRequest {
    raw(
        "response",
        Up::ProxyHttpResponse(Box::new(ProxyHttpResponse {
            request_id: id.to_string(),
            status_code: 200,
            body_chunked: true,
            ..Default::default()
        })),
    )
}

#[tokio::test]
async fn response_chunks_out_of_order_or_duplicated_fail_the_body() {
    let gw = gateway().await;
    let (svc, mut requests) = hostile_terminator(&gw.url()).await;
    let a = agent(&gw.url(), "a").await;
    let http = AetherHttp::new(&a);
    for (first, second) in [(1u32, 0u32), (0, 0)] {
        let call = tokio::spawn({
            let http = http.clone();
            async move {
                let resp = http
                    .send(
                        http::Request::get("aether+sv://evil--1/x")
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await?;
                resp.into_body().collect_bytes().await
            }
        });
        let req = within("the request", requests.next()).await.unwrap();
        let id = req.responder.id().to_string();
        std::mem::forget(req.responder); // answered by hand below
        svc.call(chunked_header(&id)).await.unwrap();
        svc.call(response_chunk(&id, first, b"one", false))
            .await
            .unwrap();
        svc.call(response_chunk(&id, second, b"two", true))
            .await
            .unwrap();
        let e = within("the failure", call).await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    }
}

#[tokio::test]
async fn a_response_whose_last_chunk_never_comes_times_out_when_idle() {
    let gw = gateway().await;
    let (svc, mut requests) = hostile_terminator(&gw.url()).await;
    let a = agent(&gw.url(), "a").await;
    let http = AetherHttp::new(&a);
    let call = tokio::spawn(async move {
        let mut req = http::Request::get("aether+sv://evil--1/x")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ProxyOptions::new().idle_timeout(Duration::from_millis(200)));
        let resp = http.send(req).await?;
        resp.into_body().collect_bytes().await
    });
    let req = within("the request", requests.next()).await.unwrap();
    let id = req.responder.id().to_string();
    std::mem::forget(req.responder);
    svc.call(chunked_header(&id)).await.unwrap();
    svc.call(response_chunk(&id, 0, b"partial", false))
        .await
        .unwrap();
    let e = within("the idle timeout", call).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[tokio::test]
async fn frames_for_unknown_requests_are_refused_or_ignored() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "a").await;
    // A response chunk for a request nobody made: the gateway answers the
    // sender with an error for that id, and the client keeps working.
    a.call(response_chunk("no-such-request", 0, b"x", true))
        .await
        .unwrap();
    a.call(raw(
        "response",
        Up::ProxyHttpResponse(Box::new(ProxyHttpResponse {
            request_id: "no-such-request".into(),
            status_code: 200,
            ..Default::default()
        })),
    ))
    .await
    .unwrap();
    let up = within(
        "a round trip",
        a.connection_status("agent", "ag::ws::hostile::a"),
    )
    .await;
    assert!(up.unwrap());
}

#[tokio::test]
async fn hostile_request_bodies_fail_the_handler_not_the_terminator() {
    let gw = gateway().await;
    let svc = ServiceClient::builder("web", "1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let app = Router::new()
        .route(
            "/echo",
            post(|req: Request| async move { Response::new(req.into_body()) }),
        )
        .route("/hello", get(|| async { "hello" }))
        .route("/never", get(std::future::pending::<&'static str>));
    let config = ServeConfig::new()
        .body_idle_timeout(Duration::from_millis(300))
        .handler_timeout(Duration::from_millis(300));
    let _server = serve(&svc, app, config);
    svc.connect().await.unwrap();
    let a = agent(&gw.url(), "raw").await;

    // A chunked request whose chunks come out of order, then one whose
    // last chunk never comes.
    for chunks in [vec![(1u32, false), (0, true)], vec![(0, false)]] {
        let header = OpRequest::new(
            "proxy_http",
            Up::ProxyHttpRequest(Box::new(proto::ProxyHttpRequest {
                target_topic: "sv::web::1".into(),
                method: "POST".into(),
                path: "/echo".into(),
                body_chunked: true,
                ..Default::default()
            })),
            Expect::Stream(StreamBounds::new(16, 1 << 20)),
        );
        let Reply::Stream(mut replies) = a.call(header).await.unwrap() else {
            panic!("a stream was asked for")
        };
        let id = replies.id().unwrap();
        for (seq, fin) in chunks {
            a.call(raw(
                "chunk",
                Up::ProxyHttpBodyChunk(Box::new(ProxyHttpBodyChunk {
                    request_id: id.clone(),
                    is_request: true,
                    seq,
                    data: Bytes::from_static(b"abc"),
                    fin,
                })),
            ))
            .await
            .unwrap();
        }
        // The caller hears a failure: an error instead of the response, or
        // a response whose body then fails.
        let failed = within("the failure", async {
            while let Some(frame) = replies.next().await {
                match frame {
                    Err(_) => return true,
                    Ok(Down::ProxyHttpResponse(r)) if r.error.is_some() => return true,
                    Ok(Down::ProxyHttpBodyChunk(c)) if c.fin => return false,
                    Ok(Down::ProxyHttpResponse(r)) if !r.body_chunked => return false,
                    Ok(_) => {}
                }
            }
            true
        })
        .await;
        assert!(
            failed,
            "a broken request body never yields a clean response"
        );
    }
    // A handler that never answers: the caller gets TIMEOUT, bounded.
    let http = AetherHttp::new(&a);
    let e = within(
        "the handler timeout",
        http.send(
            http::Request::get("aether+sv://web--1/never")
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        aether_client::proxy::ProxyErrorKind::of(&e),
        Some(aether_client::proxy::ProxyErrorKind::Timeout)
    );
    // And the terminator still serves.
    let ok = http
        .send(
            http::Request::get("aether+sv://web--1/hello")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.into_body().collect_bytes().await.unwrap(), "hello");
}

#[tokio::test]
async fn more_headers_than_a_frame_may_carry_are_refused_before_sending_both_ways() {
    use aether_client::proxy::{Headers, ProxyErrorKind, ProxyRequest};
    let gw = gateway().await;
    let (svc, mut requests) = hostile_terminator(&gw.url()).await;
    let a = agent(&gw.url(), "a").await;
    let too_many: Headers = (0..=Headers::MAX)
        .map(|i| (format!("x-h{i}"), "v"))
        .collect();

    // A request with too many: an invalid-input error, and the connection
    // (which the frame would have ended at the gateway) keeps working.
    let req = ProxyRequest::new("sv::evil::1", "GET", "/x")
        .unwrap()
        .headers(too_many.clone());
    let e = a.proxy_http(req, &ProxyOptions::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");

    // A response with too many: the caller learns PAYLOAD_TOO_LARGE.
    let call = tokio::spawn({
        let a = a.clone();
        async move {
            let req = ProxyRequest::new("sv::evil::1", "GET", "/y").unwrap();
            a.proxy_http(req, &ProxyOptions::new())
                .await
                .map(|r| r.status)
        }
    });
    let req = within("the request", requests.next()).await.unwrap();
    assert_eq!(req.path, "/y", "the refused request never left");
    let e = req.responder.respond(200, too_many, "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let e = within("the answer", call).await.unwrap().unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::PayloadTooLarge),
        "{e}"
    );

    // A terminator that sends too many anyway (a raw frame): the gateway
    // refuses that response alone, and both connections carry on.
    let call = tokio::spawn({
        let a = a.clone();
        async move {
            let req = ProxyRequest::new("sv::evil::1", "GET", "/z").unwrap();
            a.proxy_http(req, &ProxyOptions::new())
                .await
                .map(|r| r.status)
        }
    });
    let req = within("the request", requests.next()).await.unwrap();
    let id = req.responder.id().to_string();
    std::mem::forget(req.responder); // answered by hand below
    let headers = (0..=Headers::MAX)
        .map(|i| proto::Header::new(format!("x-h{i}"), "v"))
        .collect();
    let frame = raw(
        "response",
        Up::ProxyHttpResponse(Box::new(ProxyHttpResponse {
            request_id: id,
            status_code: 200,
            headers,
            ..Default::default()
        })),
    );
    svc.call(frame).await.unwrap();
    let e = within("the refusal", call).await.unwrap().unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(&e),
        Some(ProxyErrorKind::PayloadTooLarge),
        "{e}"
    );
    assert!(e.to_string().contains("more than"), "{e}");
    let call = tokio::spawn({
        let a = a.clone();
        async move {
            let req = ProxyRequest::new("sv::evil::1", "GET", "/last").unwrap();
            a.proxy_http(req, &ProxyOptions::new())
                .await
                .map(|r| r.status)
        }
    });
    let req = within("the last request", requests.next()).await.unwrap();
    req.responder
        .respond(204, Headers::new(), "")
        .await
        .unwrap();
    assert_eq!(within("the last answer", call).await.unwrap().unwrap(), 204);
}
