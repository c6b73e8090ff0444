//! `/metrics` in the Prometheus text format (version 0.0.4), served over
//! HTTP/1.1 on the opt-in `GatewayConfig::metrics_addr`.
//!
//! Everything is read when scraped: counters are the gateway's relaxed
//! atomics, gauges over mailboxes and tables are computed then, so the
//! delivery path pays nothing for them. The endpoint itself is bounded:
//! at most [`MAX_SCRAPERS`] connections at once (more are closed), headers
//! within 10 s, `GET /metrics` only (404 elsewhere, 405 for other
//! methods).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::hub::Hub;
use crate::stats::{Histogram, Reason};

/// Most scrapes served at once.
const MAX_SCRAPERS: usize = 16;
/// How long a scraper may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A body of one chunk.
struct Full(Option<Bytes>);

impl http_body::Body for Full {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full> {
    let mut r = Response::new(Full(Some(Bytes::from(body))));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Serves `/metrics` on `listener` until the task is aborted.
pub(super) async fn serve(listener: TcpListener, hub: std::sync::Weak<Hub>) {
    let permits = Arc::new(Semaphore::new(MAX_SCRAPERS));
    loop {
        let (io, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(io);
            continue;
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let hub = hub.clone();
                async move { Ok::<_, Infallible>(handle(&req, hub.upgrade().as_deref())) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(io), service)
                .await;
            drop(permit);
        });
    }
}

fn handle(req: &Request<Incoming>, hub: Option<&Hub>) -> Response<Full> {
    let text = "text/plain; charset=utf-8";
    if req.uri().path() != "/metrics" {
        return respond(
            StatusCode::NOT_FOUND,
            text,
            "not found; try /metrics\n".into(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, text, "GET only\n".into());
    }
    match hub {
        Some(hub) => respond(StatusCode::OK, "text/plain; version=0.0.4", render(hub)),
        None => respond(StatusCode::SERVICE_UNAVAILABLE, text, "stopped\n".into()),
    }
}

/// Writes one metric family of a single sample.
fn family(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: Option<&Histogram>) {
    let (buckets, count, sum) = h.map(Histogram::read).unwrap_or_default();
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (bound, n) in Histogram::BOUNDS.iter().zip(buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

/// The whole exposition.
pub(crate) fn render(hub: &Hub) -> String {
    let cx = &hub.cx;
    let s = cx.stats.snapshot();
    let tables = cx.identity_tables();
    let (mut mb_messages, mut mb_bytes) = (0usize, 0usize);
    for mb in cx.mailboxes.all() {
        mb_messages += mb.len();
        mb_bytes += mb.bytes();
    }
    let mut out = String::with_capacity(8 * 1024);
    let o = &mut out;
    let p = "aether_gateway";
    family(
        o,
        &format!("{p}_sessions_active"),
        "gauge",
        "Sessions connected now (handshake completed).",
        s.sessions_active,
    );
    family(
        o,
        &format!("{p}_sessions_total"),
        "counter",
        "Sessions admitted since start.",
        s.sessions_total,
    );
    family(
        o,
        &format!("{p}_messages_routed_total"),
        "counter",
        "SendMessages accepted.",
        s.messages_routed,
    );
    family(
        o,
        &format!("{p}_messages_delivered_total"),
        "counter",
        "Messages handed to a session's stream.",
        s.messages_delivered,
    );
    family(
        o,
        &format!("{p}_messages_unroutable_total"),
        "counter",
        "Accepted messages to a broadcast lane nobody was subscribed to.",
        s.messages_unroutable,
    );
    let name = format!("{p}_messages_refused_total");
    let _ = writeln!(
        o,
        "# HELP {name} Sends and deliveries refused with an ErrorResponse, by reason."
    );
    let _ = writeln!(o, "# TYPE {name} counter");
    for r in Reason::ALL {
        let _ = writeln!(
            o,
            "{name}{{reason=\"{}\"}} {}",
            r.label(),
            cx.stats.refused(r)
        );
    }
    family(
        o,
        &format!("{p}_mailbox_expired_total"),
        "counter",
        "Messages removed by the mailbox age bound.",
        s.mailbox_expired,
    );
    family(
        o,
        &format!("{p}_mailboxes"),
        "gauge",
        "Mailboxes that exist now.",
        tables.mailboxes,
    );
    family(
        o,
        &format!("{p}_mailbox_messages"),
        "gauge",
        "Messages waiting in all mailboxes.",
        mb_messages,
    );
    family(
        o,
        &format!("{p}_mailbox_bytes"),
        "gauge",
        "Bytes (payloads, source topics, workspaces) waiting in all mailboxes.",
        mb_bytes,
    );
    family(
        o,
        &format!("{p}_senders_pausing"),
        "gauge",
        "Sessions pausing now for a receiver to drain its mailbox.",
        s.senders_waiting,
    );
    family(
        o,
        &format!("{p}_sender_pauses_total"),
        "counter",
        "Pauses of a sender for a receiver that keeps up.",
        s.backpressure_waits,
    );
    family(
        o,
        &format!("{p}_receivers_lagging_total"),
        "counter",
        "Pauses that ended with the receiver marked lagging.",
        s.receivers_lagging,
    );
    family(
        o,
        &format!("{p}_slow_consumers_total"),
        "counter",
        "Sessions ended because pushes to them backed up beyond their bound.",
        s.slow_consumers,
    );
    family(
        o,
        &format!("{p}_connections_open"),
        "gauge",
        "TCP connections open now.",
        s.connections_open,
    );
    family(
        o,
        &format!("{p}_connections_total"),
        "counter",
        "TCP connections accepted within the limit.",
        s.connections_total,
    );
    family(
        o,
        &format!("{p}_connections_refused_total"),
        "counter",
        "Connections closed at once by the connection limit.",
        s.connections_refused,
    );
    family(
        o,
        &format!("{p}_connections_timed_out_total"),
        "counter",
        "Connections closed because no handshake completed in time.",
        s.connections_timed_out,
    );
    family(
        o,
        &format!("{p}_accept_errors_total"),
        "counter",
        "Accept errors that paused the listener (e.g. out of file descriptors).",
        s.accept_errors,
    );
    family(
        o,
        &format!("{p}_identity_lineages"),
        "gauge",
        "Identities whose resume lineage is remembered.",
        tables.lineages,
    );
    family(
        o,
        &format!("{p}_pending_proxies"),
        "gauge",
        "Proxied HTTP requests and tunnels in flight.",
        s.proxy_requests_active + s.tunnels_active,
    );
    family(
        o,
        &format!("{p}_proxy_queued_bytes"),
        "gauge",
        "Bytes of HTTP-proxy and tunnel frames held by the gateway.",
        s.proxy_queued_bytes,
    );
    family(
        o,
        &format!("{p}_task_timers_pending"),
        "gauge",
        "Task timers waiting (retries, wakes, timeouts, grace windows, purges).",
        s.task_timers_pending,
    );
    histogram(
        o,
        &format!("{p}_durable_commit_seconds"),
        "Time from a durable change's submission to its commit on disk (none without a data directory).",
        hub.store.commit_latency(),
    );
    out
}

/// Binds `addr` and serves `/metrics` in the background.
pub(super) async fn start(
    addr: SocketAddr,
    hub: &Arc<Hub>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(serve(listener, Arc::downgrade(hub)));
    tracing::info!(addr = %bound, "metrics on /metrics");
    Ok((bound, task))
}
