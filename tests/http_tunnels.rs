//! hyper and tonic over Aether tunnels: the `TunnelConnector` under
//! hyper-util's client (HTTP/1.1 and HTTP/2) and tonic's channel, and the
//! terminator serving an axum Router and a tonic service over tunnels.
#![cfg(feature = "hyper")]

mod common;

use aether_client::http::{ServeConfig, TunnelConnector, serve};
use aether_client::proto::aether_gateway_client::AetherGatewayClient;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::{DownstreamMessage, ErrorResponse, UpstreamMessage};
use aether_client::proxy::Caller;
use aether_client::{AgentClient, ServiceClient};
use aether_gateway::proto::aether_gateway_server::{AetherGateway, AetherGatewayServer};
use axum::body::Bytes;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use common::{fast_reconnect, gateway, within};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello over a tunnel" }))
        .route(
            "/echo",
            post(|req: Request| async move { Response::new(req.into_body()) }),
        )
        .route(
            "/caller",
            get(|Extension(c): Extension<Caller>| async move {
                format!("{} {}", c.topic, c.principal_type)
            }),
        )
}

async fn service(url: &str, implementation: &str) -> (ServiceClient, aether_client::http::Server) {
    let s = ServiceClient::builder(implementation, "1")
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    let server = serve(&s, app(), ServeConfig::new().serve_tunnels(true));
    s.connect().await.unwrap();
    (s, server)
}

async fn agent(url: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "hyper", "a")
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    a.connect().await.unwrap();
    a
}

#[tokio::test]
async fn hyper_http1_runs_over_tunnels() {
    let gw = gateway().await;
    let (_svc, _server) = service(&gw.url(), "web").await;
    let a = agent(&gw.url()).await;
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(TunnelConnector::new(&a));
    let resp = within(
        "GET",
        client.get("aether+sv://web--1/hello".parse().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "hello over a tunnel");
    // The caller, as the gateway minted it into the tunnel's open.
    let resp = client
        .get("aether+sv://web--1/caller".parse().unwrap())
        .await
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "ag::ws::hyper::a agent");
    // A large body both ways, on a kept-alive connection.
    let data: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|i: usize| (i % 241) as u8)
        .collect();
    let req = http::Request::post("aether+sv://web--1/echo")
        .body(Full::new(Bytes::from(data.clone())))
        .unwrap();
    let resp = within("POST", client.request(req)).await.unwrap();
    let body = within("the echo", resp.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    assert!(body == data);
}

#[tokio::test]
async fn hyper_http2_runs_over_tunnels() {
    let gw = gateway().await;
    let (_svc, _server) = service(&gw.url(), "web").await;
    let a = agent(&gw.url()).await;
    let connector = TunnelConnector::new(&a)
        .to("sv::web::1")
        .unwrap()
        .http2(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(connector);
    let responses = within(
        "16 multiplexed requests",
        futures_util::future::join_all(
            (0..16).map(|_| client.get("http://web/hello".parse().unwrap())),
        ),
    )
    .await;
    for resp in responses {
        let resp = resp.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hello over a tunnel");
    }
}

/// A tonic service to call over a tunnel: echoes each frame's position.
struct Echo;

#[tonic::async_trait]
impl AetherGateway for Echo {
    type ConnectStream =
        futures_util::stream::BoxStream<'static, Result<DownstreamMessage, tonic::Status>>;

    async fn connect(
        &self,
        request: tonic::Request<tonic::Streaming<UpstreamMessage>>,
    ) -> Result<tonic::Response<Self::ConnectStream>, tonic::Status> {
        let replies = request.into_inner().enumerate().map(|(i, up)| {
            up.map(|_| DownstreamMessage {
                payload: Some(Down::Error(Box::new(ErrorResponse {
                    message: format!("echo {i}"),
                    ..Default::default()
                }))),
                ..Default::default()
            })
        });
        Ok(tonic::Response::new(replies.boxed()))
    }
}

#[tokio::test]
async fn tonic_grpc_runs_over_a_tunnel() {
    let gw = gateway().await;
    let svc = ServiceClient::builder("grpc", "1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let _server = serve(
        &svc,
        AetherGatewayServer::new(Echo),
        ServeConfig::new().serve_tunnels(true),
    );
    svc.connect().await.unwrap();
    let a = agent(&gw.url()).await;
    let connector = TunnelConnector::new(&a)
        .to("sv::grpc::1")
        .unwrap()
        .http2(true);
    let channel = within(
        "the channel",
        tonic::transport::Endpoint::from_static("http://grpc.aether")
            .connect_with_connector(connector),
    )
    .await
    .unwrap();
    let mut grpc = AetherGatewayClient::new(channel);
    let ups = futures_util::stream::iter((0..3).map(|_| UpstreamMessage::default()));
    let replies = within("the call", grpc.connect(ups))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<String> = within(
        "the replies",
        replies
            .map(|r| match r.unwrap().payload {
                Some(Down::Error(e)) => e.message,
                other => panic!("unexpected {other:?}"),
            })
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(got, ["echo 0", "echo 1", "echo 2"]);
}
