//! HTTP and tunnels over Aether against plain loopback, side by side in
//! one run.
//!
//! ```text
//! cargo bench --features hyper --bench http              # full run
//! cargo bench --features hyper --bench http -- --quick   # smoke run
//! cargo bench --features hyper --bench http -- --only upload   # one section (small, download, upload, tunnel)
//! ```
//!
//! One axum Router is served twice in this process: over Aether (the
//! terminator, `aether_client::http::serve`, as the service principal
//! `sv::bench::1`) and over plain loopback HTTP/1.1 (`axum::serve` on a TCP
//! listener). The gateway runs in a child process (this binary re-executed
//! with `--serve-gateway`) so its resident memory can be read apart.
//!
//! * **small GET** (`/hello`, 5 bytes): requests/s and p50/p99 latency at
//!   1 and 64 requests in flight. Over Aether: the `AetherHttp` tower
//!   service of an agent client; plain: a hyper-util client (kept-alive
//!   connections).
//! * **16 MiB download** (`/bytes`) and **16 MiB upload** (`/sink`, the
//!   handler counts and discards): MB/s, the median of the runs.
//! * **tunnel**: 64 MiB written through a tunnel to a listener that
//!   discards it, against the same through a raw loopback TCP connection:
//!   MB/s, the median of the runs.
//! * **gateway memory**: the gateway child's RSS after warm-up and after
//!   each section: flat when nothing is retained per request.
//!
//! Ratios are Aether / plain. Nothing is asserted: the bench prints what it
//! saw. The machine is shared: read ratios from one run, not absolute
//! figures across runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_client::http::{AetherHttp, Body as AetherBody, ServeConfig, serve};
use aether_client::tunnel::TunnelOptions;
use aether_client::{AgentClient, ServiceClient};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::routing::{get, post};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIG: usize = 16 * 1024 * 1024;
const TUNNEL_BYTES: usize = 64 * 1024 * 1024;
const PIECE: usize = 256 * 1024;

struct Opts {
    quick: bool,
    /// Run only this section (`small`, `download`, `upload`, `tunnel`), to
    /// profile one path.
    only: Option<String>,
}

impl Opts {
    fn runs(&self, section: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == section)
    }
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    Opts {
        quick: args.iter().any(|a| a == "--quick"),
        only,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--serve-gateway") {
        return serve_gateway();
    }
    let opts = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(opts));
}

/// The gateway child: prints its URL, serves until stdin closes.
fn serve_gateway() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let gw = aether_gateway::start(aether_gateway::GatewayConfig::dev())
            .await
            .expect("gateway starts");
        println!("{}", gw.url());
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await;
        gw.shutdown().await;
    });
}

struct GatewayChild {
    child: Child,
    url: String,
}

fn start_gateway() -> GatewayChild {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .arg("--serve-gateway")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("gateway child");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("gateway url");
    GatewayChild {
        url: line.trim().to_string(),
        child,
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/bytes",
            get(|| async {
                let pieces = futures_util::stream::iter(
                    (0..BIG / PIECE)
                        .map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; PIECE]))),
                );
                Body::from_stream(pieces)
            }),
        )
        .route(
            "/sink",
            post(|req: Request| async move {
                let mut body = req.into_body().into_data_stream();
                let mut n = 0usize;
                while let Some(piece) = body.next().await {
                    n += piece.map(|p| p.len()).unwrap_or(0);
                }
                n.to_string()
            }),
        )
}

/// The two ways to reach the Router.
#[derive(Clone)]
enum Way {
    Aether(AetherHttp<aether_client::principal::Agent>),
    Plain(Box<HyperClient<HttpConnector, Full<Bytes>>>, String),
}

impl Way {
    async fn get(&self, path: &str) -> usize {
        match self {
            Way::Aether(http) => {
                let req = http::Request::get(format!("aether+sv://bench--1{path}"))
                    .body(AetherBody::empty())
                    .expect("request");
                let resp = http.send(req).await.expect("aether response");
                resp.into_body()
                    .collect_bytes()
                    .await
                    .expect("aether body")
                    .len()
            }
            Way::Plain(client, base) => {
                let resp = client
                    .get(format!("{base}{path}").parse().expect("uri"))
                    .await
                    .expect("plain response");
                resp.into_body()
                    .collect()
                    .await
                    .expect("plain body")
                    .to_bytes()
                    .len()
            }
        }
    }

    async fn upload(&self, data: Bytes) -> usize {
        match self {
            Way::Aether(http) => {
                let pieces = (0..data.len() / PIECE).map(|i| {
                    Ok::<_, std::io::Error>(http_body::Frame::data(
                        data.slice(i * PIECE..(i + 1) * PIECE),
                    ))
                });
                let body = http_body_util::StreamBody::new(futures_util::stream::iter(
                    pieces.collect::<Vec<_>>(),
                ));
                let req = http::Request::post("aether+sv://bench--1/sink")
                    .body(body)
                    .expect("request");
                let resp = http.send(req).await.expect("aether response");
                let n = resp.into_body().collect_bytes().await.expect("aether body");
                String::from_utf8_lossy(&n).parse().unwrap_or(0)
            }
            Way::Plain(client, base) => {
                let req = http::Request::post(format!("{base}/sink"))
                    .body(Full::new(data))
                    .expect("request");
                let resp = client.request(req).await.expect("plain response");
                let n = resp
                    .into_body()
                    .collect()
                    .await
                    .expect("plain body")
                    .to_bytes();
                String::from_utf8_lossy(&n).parse().unwrap_or(0)
            }
        }
    }
}

struct Small {
    per_sec: f64,
    p50_us: u64,
    p99_us: u64,
}

async fn small_gets(way: &Way, in_flight: usize, total: usize) -> Small {
    let started = Instant::now();
    let per_worker = total / in_flight;
    let workers = (0..in_flight).map(|_| {
        let way = way.clone();
        tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            for _ in 0..per_worker {
                let t = Instant::now();
                assert_eq!(way.get("/hello").await, 5);
                let _ = hist.record(t.elapsed().as_micros() as u64);
            }
            hist
        })
    });
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    for h in futures_util::future::join_all(workers).await {
        hist.add(h.expect("worker")).expect("merge");
    }
    let elapsed = started.elapsed().as_secs_f64();
    Small {
        per_sec: (per_worker * in_flight) as f64 / elapsed,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
    }
}

fn mb_per_sec(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn download(way: &Way, runs: usize) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        assert_eq!(way.get("/bytes").await, BIG);
        rates.push(mb_per_sec(BIG, t.elapsed()));
    }
    median(rates)
}

async fn upload(way: &Way, runs: usize) -> f64 {
    let data = Bytes::from(vec![3u8; BIG]);
    let mut rates = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        assert_eq!(way.upload(data.clone()).await, BIG);
        rates.push(mb_per_sec(BIG, t.elapsed()));
    }
    median(rates)
}

/// Writes `bytes` into `w`, shuts it down, and waits for the sink's count.
async fn push_through<W: tokio::io::AsyncWrite + Unpin>(
    mut w: W,
    bytes: usize,
    counted: tokio::sync::oneshot::Receiver<usize>,
) -> Duration {
    let piece = vec![9u8; PIECE];
    let t = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(PIECE);
        w.write_all(&piece[..n]).await.expect("write");
        left -= n;
    }
    w.shutdown().await.expect("shutdown");
    assert_eq!(counted.await.expect("count"), bytes);
    t.elapsed()
}

async fn drain<R: tokio::io::AsyncRead + Unpin>(
    mut r: R,
    done: tokio::sync::oneshot::Sender<usize>,
) {
    let mut buf = vec![0u8; PIECE];
    let mut n = 0;
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let _ = done.send(n);
}

#[allow(clippy::too_many_lines)]
async fn run(opts: Opts) {
    let gw = start_gateway();
    let pid = gw.child.id();
    let (small_total, big_runs, tunnel_runs) = if opts.quick {
        (500, 1, 1)
    } else {
        (20_000, 5, 5)
    };

    // The service principal serving the Router over Aether, and the agent.
    let service = ServiceClient::builder("bench", "1")
        .expect("identity")
        .gateway(&gw.url)
        .build();
    let _server = serve(&service, app(), ServeConfig::new());
    let mut tunnels = service.tunnel_listener();
    service.connect().await.expect("service connects");
    let agent = AgentClient::builder("bench", "http", "a")
        .expect("identity")
        .gateway(&gw.url)
        .build();
    agent.connect().await.expect("agent connects");
    let aether = Way::Aether(AetherHttp::new(&agent));

    // The same Router on plain loopback HTTP/1.1.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", tcp.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(tcp, app()).await });
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let hyper: HyperClient<HttpConnector, Full<Bytes>> = HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build(connector);
    let plain = Way::Plain(Box::new(hyper), base);

    // Warm-up, then the gateway's memory baseline.
    for way in [&aether, &plain] {
        small_gets(way, 8, 400).await;
    }
    let mut memory = vec![("after warm-up", rss_kib(pid))];

    println!(
        "HTTP over Aether vs plain loopback HTTP/1.1 (same axum Router), {} mode",
        if opts.quick { "quick" } else { "full" }
    );
    println!("{:<34} {:>14} {:>14} {:>8}", "", "aether", "plain", "ratio");
    for in_flight in [1usize, 64].into_iter().filter(|_| opts.runs("small")) {
        let total = if in_flight == 1 {
            small_total / 4
        } else {
            small_total
        };
        let a = small_gets(&aether, in_flight, total).await;
        let p = small_gets(&plain, in_flight, total).await;
        println!(
            "{:<34} {:>14.0} {:>14.0} {:>8.2}",
            format!("small GET x{in_flight} (req/s)"),
            a.per_sec,
            p.per_sec,
            a.per_sec / p.per_sec
        );
        println!(
            "{:<34} {:>14} {:>14} {:>8.2}",
            format!("small GET x{in_flight} p50 (us)"),
            a.p50_us,
            p.p50_us,
            a.p50_us as f64 / p.p50_us.max(1) as f64
        );
        println!(
            "{:<34} {:>14} {:>14} {:>8.2}",
            format!("small GET x{in_flight} p99 (us)"),
            a.p99_us,
            p.p99_us,
            a.p99_us as f64 / p.p99_us.max(1) as f64
        );
    }
    memory.push(("after small GETs", rss_kib(pid)));
    if opts.runs("download") {
        let (a, p) = (
            download(&aether, big_runs).await,
            download(&plain, big_runs).await,
        );
        println!(
            "{:<34} {:>14.1} {:>14.1} {:>8.2}",
            "16 MiB download (MB/s)",
            a,
            p,
            a / p
        );
    }
    if opts.runs("upload") {
        let (a, p) = (
            upload(&aether, big_runs).await,
            upload(&plain, big_runs).await,
        );
        println!(
            "{:<34} {:>14.1} {:>14.1} {:>8.2}",
            "16 MiB upload (MB/s)",
            a,
            p,
            a / p
        );
    }
    memory.push(("after 16 MiB bodies", rss_kib(pid)));

    // Tunnels against raw TCP.
    let mut tunnel_rates = Vec::new();
    let mut tcp_rates = Vec::new();
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let raw_addr = raw.local_addr().expect("addr");
    let raw = Arc::new(raw);
    for _ in (0..tunnel_runs).filter(|_| opts.runs("tunnel")) {
        let (done, counted) = tokio::sync::oneshot::channel();
        let t = agent
            .tunnel_dial("sv::bench::1", &TunnelOptions::new())
            .await
            .expect("dial");
        let incoming = tunnels.accept().await.expect("accepted");
        tokio::spawn(drain(incoming.tunnel, done));
        tunnel_rates.push(mb_per_sec(
            TUNNEL_BYTES,
            push_through(t, TUNNEL_BYTES, counted).await,
        ));

        let (done, counted) = tokio::sync::oneshot::channel();
        let accept = {
            let raw = raw.clone();
            tokio::spawn(async move { raw.accept().await.expect("accept").0 })
        };
        let c = tokio::net::TcpStream::connect(raw_addr)
            .await
            .expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let s = accept.await.expect("accepted");
        tokio::spawn(drain(s, done));
        tcp_rates.push(mb_per_sec(
            TUNNEL_BYTES,
            push_through(c, TUNNEL_BYTES, counted).await,
        ));
    }
    if opts.runs("tunnel") {
        let (a, p) = (median(tunnel_rates), median(tcp_rates));
        println!(
            "{:<34} {:>14.1} {:>14.1} {:>8.2}",
            "64 MiB tunnel vs TCP (MB/s)",
            a,
            p,
            a / p
        );
    }
    memory.push(("after tunnels", rss_kib(pid)));

    println!();
    println!("gateway RSS (KiB):");
    for (when, kib) in &memory {
        println!("  {when:<24} {kib:>10}");
    }
    let mut child = gw.child;
    drop(child.stdin.take());
    let _ = child.wait();
}
