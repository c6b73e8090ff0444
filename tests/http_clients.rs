//! The other ways to send HTTP over Aether: the blocking twin and the
//! reqwest middleware (which also lets every other URL reach the network).
#![cfg(feature = "reqwest")]

mod common;

use std::io::Read;
use std::time::Duration;

use aether_client::http::{AetherMiddleware, BlockingHttp, Body, ServeConfig, serve};
use aether_client::proxy::{ProxyErrorKind, ProxyOptions};
use aether_client::{AgentClient, ErrorKind, ServiceClient};
use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{get, post};
use common::{fast_reconnect, gateway, within};

fn app(name: &'static str) -> Router {
    Router::new()
        .route("/who", get(move || async move { name }))
        .route(
            "/echo",
            post(|req: Request| async move { Response::new(req.into_body()) }),
        )
        .route(
            "/slow",
            get(|| async {
                // Never answers within the tests' timeouts; the handler
                // timeout ends it.
                std::future::pending::<()>().await;
                ""
            }),
        )
}

async fn serving(url: &str) -> (ServiceClient, aether_client::http::Server) {
    let s = ServiceClient::builder("web", "1")
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    let server = serve(
        &s,
        app("aether"),
        ServeConfig::new().handler_timeout(Duration::from_secs(5)),
    );
    s.connect().await.unwrap();
    (s, server)
}

#[tokio::test]
async fn the_middleware_sends_aether_urls_over_aether_and_the_rest_to_the_network() {
    let gw = gateway().await;
    let (_svc, _server) = serving(&gw.url()).await;
    // A plain HTTP server on loopback, for the requests that are not ours.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = format!("http://{}", tcp.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(tcp, app("network")).await });
    let agent = AgentClient::builder("ws", "reqwest", "a")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            AetherMiddleware::new(&agent)
                .map_host("mapped.internal", "sv::web")
                .unwrap(),
        )
        .build();
    let over_aether = within("aether", http.get("aether+sv://web--1/who").send())
        .await
        .unwrap();
    assert_eq!(over_aether.status(), 200);
    assert_eq!(over_aether.text().await.unwrap(), "aether");
    let mapped = within("mapped", http.get("http://mapped.internal:8080/who").send())
        .await
        .unwrap();
    assert_eq!(mapped.text().await.unwrap(), "aether");
    let network = within("network", http.get(format!("{plain}/who")).send())
        .await
        .unwrap();
    assert_eq!(network.text().await.unwrap(), "network");
    // Bodies stream through reqwest both ways.
    let data: Vec<u8> = (0..1024 * 1024).map(|i: usize| (i % 239) as u8).collect();
    let echoed = within("the echo", async {
        http.post("aether+sv://web--1/echo")
            .body(data.clone())
            .send()
            .await?
            .bytes()
            .await
            .map_err(Into::into)
    })
    .await
    .map_err(|e: reqwest_middleware::Error| e.to_string())
    .unwrap();
    assert!(echoed == data);
}

/// The SDK error inside a middleware error.
fn aether(e: &reqwest_middleware::Error) -> &aether_client::Error {
    match e {
        reqwest_middleware::Error::Middleware(inner) => inner
            .downcast_ref::<aether_client::Error>()
            .expect("an SDK error"),
        other => panic!("not a middleware error: {other}"),
    }
}

#[tokio::test]
async fn middleware_failures_are_typed_and_timeouts_apply() {
    let gw = gateway().await;
    let (_svc, _server) = serving(&gw.url()).await;
    let agent = AgentClient::builder("ws", "reqwest", "b")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AetherMiddleware::new(&agent))
        .build();
    let e = within("the refusal", http.get("aether+sv://offline--1/who").send())
        .await
        .unwrap_err();
    assert_eq!(
        ProxyErrorKind::of(aether(&e)),
        Some(ProxyErrorKind::SidecarUnavailable)
    );
    // reqwest's own per-request timeout is the time to first byte.
    let e = within(
        "the timeout",
        http.get("aether+sv://web--1/slow")
            .timeout(Duration::from_millis(150))
            .send(),
    )
    .await
    .unwrap_err();
    assert_eq!(aether(&e).kind(), ErrorKind::Timeout);
    // ProxyOptions as an extension.
    let e = within(
        "the timeout",
        http.get("aether+sv://web--1/slow")
            .with_extension(ProxyOptions::new().timeout(Duration::from_millis(150)))
            .send(),
    )
    .await
    .unwrap_err();
    assert_eq!(aether(&e).kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn the_blocking_twin_sends_and_reads_as_it_arrives() {
    let gw = gateway().await;
    let (_svc, _server) = serving(&gw.url()).await;
    let url = gw.url();
    let result = tokio::task::spawn_blocking(move || {
        let agent = aether_client::blocking::AgentClient::builder("ws", "blocking", "a")
            .unwrap()
            .gateway(&url)
            .build()
            .unwrap();
        agent.connect().unwrap();
        let http = BlockingHttp::new(&agent);
        let data: Vec<u8> = (0..600_000).map(|i: usize| (i % 233) as u8).collect();
        let resp = http
            .send(
                http::Request::post("aether+sv://web--1/echo")
                    .body(Body::from(data.clone()))
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut back = Vec::new();
        resp.into_body().read_to_end(&mut back).unwrap();
        assert!(back == data);
        let who = http
            .send(
                http::Request::get("aether+sv://web/who")
                    .body(Body::empty())
                    .unwrap(),
            )
            .unwrap()
            .into_body()
            .bytes()
            .unwrap();
        assert_eq!(who, "aether");
        let e = http
            .send(
                http::Request::get("aether+sv://offline/who")
                    .body(Body::empty())
                    .unwrap(),
            )
            .unwrap_err();
        assert_eq!(
            ProxyErrorKind::of(&e),
            Some(ProxyErrorKind::SidecarUnavailable)
        );
        agent.close();
    });
    within("the blocking client", result).await.unwrap();
}
