//! An axum Router served over Aether as the service principal
//! `sv::IMPL::SPEC`.
//!
//! ```text
//! cargo run --features http --example http_service -- --gateway http://127.0.0.1:50051 [--implementation web] [--specifier 1]
//! ```
//!
//! Prints `serving sv::IMPL::SPEC` once it accepts requests; runs until
//! SIGINT or SIGTERM, then finishes the requests in flight.

#[path = "support/signal.rs"]
mod signal;

use std::time::Duration;

use aether_client::ServiceClient;
use aether_client::http::{ServeConfig, serve};
use aether_client::proxy::Caller;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use clap::Parser;
use futures_util::stream;

#[derive(Parser)]
struct Args {
    /// The gateway's URL.
    #[arg(long)]
    gateway: String,
    /// The service's implementation name.
    #[arg(long, default_value = "web")]
    implementation: String,
    /// The instance's specifier.
    #[arg(long, default_value = "1")]
    specifier: String,
}

/// The largest `/bytes/{n}`.
const MAX_BYTES: u64 = 64 << 20;

fn app() -> Router {
    Router::new()
        .route(
            "/hello",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain")],
                    "hello from aether-rs",
                )
            }),
        )
        .route("/echo", post(echo))
        .route("/headers", get(headers))
        .route("/caller", get(caller))
        .route("/bytes/{n}", get(bytes))
        .route("/status/{code}", get(status))
        .route("/slow/{ms}", get(slow))
        .route("/stream/{n}", get(lines))
}

async fn echo(req: Request) -> Response {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let mut response = Response::new(req.into_body());
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

async fn headers(headers: HeaderMap) -> Json<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.insert(name.as_str().to_ascii_lowercase(), value.into());
    }
    Json(out)
}

async fn caller(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"topic": caller.topic, "principal_type": caller.principal_type}))
}

async fn bytes(Path(n): Path<u64>) -> Response {
    if n > MAX_BYTES {
        return (
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_BYTES} bytes"),
        )
            .into_response();
    }
    const PIECE: u64 = 64 * 1024;
    let pieces = stream::iter((0..n.div_ceil(PIECE)).map(move |k| {
        let start = k * PIECE;
        let end = (start + PIECE).min(n);
        let piece: Vec<u8> = (start..end).map(|i| (i % 251) as u8).collect();
        Ok::<_, std::convert::Infallible>(Bytes::from(piece))
    }));
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, n.to_string()),
        ],
        Body::from_stream(pieces),
    )
        .into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(status) => status.into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid status").into_response(),
    }
}

async fn slow(Path(ms): Path<u64>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slow"
}

async fn lines(Path(n): Path<u32>) -> Response {
    let lines = stream::unfold(0u32, move |i| async move {
        if i >= n {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(format!("chunk {i}\n"))),
            i + 1,
        ))
    });
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(lines),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let client = ServiceClient::builder(&args.implementation, &args.specifier)?
        .gateway(&args.gateway)
        .build();
    // Serve before connecting, so that no request is missed.
    let config = ServeConfig::new();
    // With hyper, HTTP over tunnels reaches the same Router.
    #[cfg(feature = "hyper")]
    let config = config.serve_tunnels(true);
    let server = serve(&client, app(), config);
    client.connect().await?;
    println!("serving sv::{}::{}", args.implementation, args.specifier);
    signal::shutdown_signal().await;
    server.shutdown().await;
    client.close().await;
    Ok(())
}
