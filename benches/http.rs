//! HTTP and tunnels over Aether against plain loopback, side by side in
//! one run.
//!
//! ```text
//! cargo bench --features hyper --bench http              # full run
//! cargo bench --features hyper --bench http -- --quick   # smoke run
//! cargo bench --features hyper --bench http -- --only upload   # one section (small, download, upload, tunnel)
//! cargo bench --features hyper --bench http -- --only small --in-flight 1   # small GETs at 1 in flight only
//! cargo bench --features hyper --bench http -- --only download --runs 50     # 50 runs per body/tunnel row
//! cargo bench --features hyper --bench http -- --aether-only  # the Aether column alone (to profile it)
//! cargo bench --features hyper --bench http -- --in-process   # the gateway in this process, not a child
//! TOKIO_WORKER_THREADS=1 cargo bench ...   # one tokio worker per process (cross-worker wake-ups are costly on small VMs)
//! GW_TUNABLES=glibc.malloc.trim_threshold=131072 cargo bench ...  # GLIBC_TUNABLES for the gateway child only
//! ```
//!
//! One axum Router is served twice in this process: over Aether (the
//! terminator, `aether_client::http::serve`, as the service principal
//! `sv::bench::1`) and over plain loopback HTTP/1.1 (`axum::serve` on a TCP
//! listener). The gateway runs in a child process (this binary re-executed
//! with `--serve-gateway`) so its resident memory can be read apart. With
//! `--in-process` it runs in this process instead (as in the messaging
//! bench): then Aether has the one-process topology of the plain column,
//! and what is left between them is Aether's own cost, not the cost of a
//! third process's wake-ups on this machine.
//!
//! * **small GET** (`/hello`, 5 bytes): requests/s, p50/p99 latency and
//!   CPU time per request (summed over every process taking part: this
//!   one, and the gateway or relay child) at 1 and 64 requests in flight. Over Aether: the `AetherHttp` tower
//!   service of an agent client; plain: a hyper-util client (kept-alive
//!   connections).
//! * **16 MiB download** (`/bytes`) and **16 MiB upload** (`/sink`, the
//!   handler counts and discards): MB/s and CPU time per MiB (summed over
//!   the processes taking part, steadier than MB/s on a shared machine),
//!   the medians of the runs.
//! * **tunnel**: 64 MiB written through a tunnel to a listener that
//!   discards it, against the same through a raw loopback TCP connection:
//!   MB/s and CPU per MiB, the medians of the runs.
//! * **relay** (third column): the same plain HTTP and raw TCP through a
//!   userspace byte relay in a second child process (`--serve-relay`,
//!   256 KiB copy buffers). Aether crosses two hops (caller -> gateway ->
//!   service) where plain loopback crosses one; the relay is what any
//!   two-hop design costs on this machine with no framing at all, so
//!   `aether/relay` says how much of Aether's cost is its own.
//! * **gateway memory**: the gateway child's RSS after warm-up, after one
//!   16 MiB body each way (the high-water mark of the windows and lanes),
//!   and after each section: flat when nothing is retained per request; and
//!   once more 2.5 s later, after the gateway's periodic heap trim.
//!
//! Ratios are Aether / plain and Aether / relay, higher is better (latency
//! and CPU ratios are inverted to match). Nothing is asserted: the bench prints
//! what it saw. The machine is shared: read ratios from one run, not absolute
//! figures across runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_client::http::{AetherHttp, Body as AetherBody, ServeConfig, serve};
use aether_client::tunnel::{Tunnel, TunnelOptions};
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
    /// Requests in flight for the small GETs (default 1 and 64).
    in_flight: Vec<usize>,
    /// Runs of each body and tunnel row (the median is printed).
    runs: Option<usize>,
    /// Measure the Aether column only (plain and relay print 0), to profile
    /// Aether's path alone.
    aether_only: bool,
    /// Run the gateway in this process (`--in-process`) instead of a child:
    /// the same one-process topology as the plain column, as the messaging
    /// bench measures.
    in_process: bool,
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
    let in_flight = args
        .iter()
        .position(|a| a == "--in-flight")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 64]);
    Opts {
        quick: args.iter().any(|a| a == "--quick"),
        aether_only: args.iter().any(|a| a == "--aether-only"),
        in_process: args.iter().any(|a| a == "--in-process"),
        only,
        in_flight,
        runs: args
            .iter()
            .position(|a| a == "--runs")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok()),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--serve-gateway") {
        return serve_gateway();
    }
    if let Some(targets) = arg_after("--serve-relay") {
        return serve_relay(&targets);
    }
    let opts = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(opts));
}

fn arg_after(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).cloned()
}

/// Blocks until stdin closes (the parent is done or gone).
fn until_stdin_closes() {
    let mut sink = String::new();
    while std::io::stdin()
        .read_line(&mut sink)
        .map(|n| n > 0)
        .unwrap_or(false)
    {}
}

/// The relay child: for each `HOST:PORT` of the comma-separated `targets`,
/// a loopback listener whose connections are piped byte for byte to a new
/// connection to that target; prints the listeners' addresses on one line,
/// serves until stdin closes. This is the floor of any two-hop design: the
/// bytes cross the kernel twice and a userspace relay once, with no
/// framing at all.
fn serve_relay(targets: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut addrs = Vec::new();
        for target in targets.split(',') {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addrs.push(listener.local_addr().expect("addr").to_string());
            let target = target.to_string();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let target = target.clone();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                            return;
                        };
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional_with_sizes(
                            &mut inbound,
                            &mut outbound,
                            PIECE,
                            PIECE,
                        )
                        .await;
                    });
                }
            });
        }
        println!("{}", addrs.join(","));
        let _ = tokio::task::spawn_blocking(until_stdin_closes).await;
    });
}

/// The gateway child: prints its URL, serves until stdin closes.
/// The `aether-gateway` binary's allocator policy (gateway/src/main.rs:
/// `keep_freed_memory_for_reuse`, `trim_heap_periodically`), so that this
/// child measures the gateway as it ships: one heap for all threads, up to
/// 32 MiB of freed blocks below 1 MiB kept for reuse, and free pages handed
/// back to the kernel every two seconds. `GLIBC_TUNABLES` (see
/// `GW_TUNABLES`) overrides the first two.
fn allocator_as_the_gateway_binary() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("GLIBC_TUNABLES").is_none() {
            // SAFETY: `mallopt` takes no pointers and is thread-safe.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 1);
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 32 * 1024 * 1024);
            }
        }
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_secs(2));
                // SAFETY: `malloc_trim` takes no pointers and is thread-safe.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        });
    }
}

fn serve_gateway() {
    allocator_as_the_gateway_binary();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let gw = aether_gateway::start(aether_gateway::GatewayConfig::dev())
            .await
            .expect("gateway starts");
        println!("{}", gw.url());
        let _ = tokio::task::spawn_blocking(until_stdin_closes).await;
        gw.shutdown().await;
    });
}

/// A child process of this binary and the line it printed when ready.
struct Spawned {
    child: Child,
    line: String,
}

impl Spawned {
    /// Closes its stdin (it stops) and waits for it.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn start_gateway() -> GatewayChild {
    let spawned = spawn_self(&["--serve-gateway"]);
    GatewayChild {
        url: spawned.line.clone(),
        spawned,
    }
}

struct GatewayChild {
    spawned: Spawned,
    url: String,
}

/// Where the gateway under test runs.
enum Gateway {
    /// A child process (the default): its memory and CPU are read apart.
    Child(GatewayChild),
    /// This process (`--in-process`), as the messaging bench runs it.
    InProcess(aether_gateway::RunningGateway),
}

impl Gateway {
    fn url(&self) -> String {
        match self {
            Gateway::Child(child) => child.url.clone(),
            Gateway::InProcess(gw) => gw.url(),
        }
    }

    /// The child's resident memory (0 in process).
    fn rss_kib(&self) -> u64 {
        match self {
            Gateway::Child(child) => rss_kib(child.spawned.child.id()),
            Gateway::InProcess(_) => 0,
        }
    }
}

fn spawn_self(args: &[&str]) -> Spawned {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    if let (Some(t), true) = (
        std::env::var_os("GW_TUNABLES"),
        args[0] == "--serve-gateway",
    ) {
        cmd.env("GLIBC_TUNABLES", t);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("gateway child");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("child's ready line");
    Spawned {
        line: line.trim().to_string(),
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

fn plain_way(base: String) -> Way {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let hyper: HyperClient<HttpConnector, Full<Bytes>> = HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build(connector);
    Way::Plain(Box::new(hyper), base)
}

/// MB/s of `TUNNEL_BYTES` written over a TCP connection to `addr` (the raw
/// sink itself, or the relay in front of it) that the sink drains.
async fn raw_tcp(sink: &Arc<tokio::net::TcpListener>, addr: &str) -> Duration {
    let (done, counted) = tokio::sync::oneshot::channel();
    let accept = {
        let sink = sink.clone();
        tokio::spawn(async move { sink.accept().await.expect("accept").0 })
    };
    let c = tokio::net::TcpStream::connect(addr).await.expect("connect");
    c.set_nodelay(true).expect("nodelay");
    let s = accept.await.expect("accepted");
    tokio::spawn(drain(s, done));
    push_through(c, TUNNEL_BYTES, counted).await
}

#[derive(Default)]
struct Small {
    per_sec: f64,
    /// CPU time per request over every process taking part.
    cpu_us: f64,
    p50_us: u64,
    p99_us: u64,
}

/// CPU time used so far by the processes `pids`, in nanoseconds: the sum
/// over their threads of `/proc/PID/task/TID/schedstat` (threads that
/// already ended are not counted; the runtimes' workers live throughout).
fn cpu_ns(pids: &[u32]) -> u64 {
    let mut total = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            total += std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                })
                .unwrap_or(0);
        }
    }
    total
}

async fn small_gets(way: &Way, in_flight: usize, total: usize, pids: &[u32]) -> Small {
    let cpu_before = cpu_ns(pids);
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
    let done = (per_worker * in_flight) as f64;
    Small {
        per_sec: done / elapsed,
        cpu_us: cpu_ns(pids).saturating_sub(cpu_before) as f64 / 1e3 / done,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
    }
}

fn mb_per_sec(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// A body or tunnel row: the median MB/s of its runs, and the median CPU
/// time per MiB moved, summed over every process taking part.
#[derive(Default, Clone, Copy)]
struct Bulk {
    mb_s: f64,
    cpu_us_per_mib: f64,
}

impl Bulk {
    /// Times `runs` transfers of `bytes` each made by `once`.
    async fn measure<F, Fut>(runs: usize, bytes: usize, pids: &[u32], mut once: F) -> Bulk
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Duration>,
    {
        let (mut rates, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let before = cpu_ns(pids);
            rates.push(mb_per_sec(bytes, once().await));
            let mib = bytes as f64 / (1024.0 * 1024.0);
            cpu.push(cpu_ns(pids).saturating_sub(before) as f64 / 1e3 / mib);
        }
        Bulk {
            mb_s: median(rates),
            cpu_us_per_mib: median(cpu),
        }
    }
}

async fn download(way: &Way, runs: usize, pids: &[u32]) -> Bulk {
    Bulk::measure(runs, BIG, pids, || async {
        let t = Instant::now();
        assert_eq!(way.get("/bytes").await, BIG);
        t.elapsed()
    })
    .await
}

async fn upload(way: &Way, runs: usize, pids: &[u32]) -> Bulk {
    let data = Bytes::from(vec![3u8; BIG]);
    Bulk::measure(runs, BIG, pids, || async {
        let t = Instant::now();
        assert_eq!(way.upload(data.clone()).await, BIG);
        t.elapsed()
    })
    .await
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

/// [`push_through`] with the tunnel's chunk API: one shared piece, sent
/// as it is.
async fn push_chunks(
    mut t: Tunnel,
    bytes: usize,
    counted: tokio::sync::oneshot::Receiver<usize>,
) -> Duration {
    let piece = Bytes::from(vec![9u8; PIECE]);
    let t0 = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(PIECE);
        t.write_chunk(piece.slice(..n)).await.expect("write");
        left -= n;
    }
    t.shutdown().await.expect("shutdown");
    assert_eq!(counted.await.expect("count"), bytes);
    t0.elapsed()
}

/// [`drain`] with the tunnel's chunk API.
async fn drain_chunks(mut t: Tunnel, done: tokio::sync::oneshot::Sender<usize>) {
    let mut n = 0;
    while let Ok(Some(chunk)) = t.read_chunk().await {
        n += chunk.len();
    }
    let _ = done.send(n);
}

#[allow(clippy::too_many_lines)]
async fn run(opts: Opts) {
    let gw = if opts.in_process {
        Gateway::InProcess(
            aether_gateway::start(aether_gateway::GatewayConfig::dev())
                .await
                .expect("gateway starts"),
        )
    } else {
        Gateway::Child(start_gateway())
    };
    let gw_url = gw.url();
    let (small_total, big_runs, tunnel_runs) = if opts.quick {
        (500, 1, 1)
    } else {
        (20_000, 5, 5)
    };
    let (big_runs, tunnel_runs) = opts
        .runs
        .map_or((big_runs, tunnel_runs), |n| (n.max(1), n.max(1)));

    // The service principal serving the Router over Aether, and the agent.
    let service = ServiceClient::builder("bench", "1")
        .expect("identity")
        .gateway(&gw_url)
        .build();
    let _server = serve(&service, app(), ServeConfig::new());
    let tunnels = tokio::sync::Mutex::new(service.tunnel_listener());
    service.connect().await.expect("service connects");
    let agent = AgentClient::builder("bench", "http", "a")
        .expect("identity")
        .gateway(&gw_url)
        .build();
    agent.connect().await.expect("agent connects");
    let aether = Way::Aether(AetherHttp::new(&agent));

    // The same Router on plain loopback HTTP/1.1, directly and through the
    // relay child; the raw TCP sink for the tunnel rows.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let http_addr = tcp.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(tcp, app()).await });
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let raw_addr = raw.local_addr().expect("addr").to_string();
    let raw = Arc::new(raw);
    let relay = spawn_self(&["--serve-relay", &format!("{http_addr},{raw_addr}")]);
    let (relay_http, relay_raw) = relay.line.split_once(',').expect("two relay addresses");
    let (relay_http, relay_raw) = (relay_http.to_string(), relay_raw.to_string());
    let plain = plain_way(format!("http://{http_addr}"));
    let relayed = plain_way(format!("http://{relay_http}"));

    // Warm-up, then the gateway's memory baseline.
    let me = std::process::id();
    let relay_pid = relay.child.id();
    let aether_pids = match &gw {
        Gateway::Child(child) => vec![me, child.spawned.child.id()],
        Gateway::InProcess(_) => vec![me],
    };
    let (plain_pids, relay_pids) = ([me], [me, relay_pid]);
    for (way, pids) in [
        (&aether, &aether_pids[..]),
        (&plain, &plain_pids[..]),
        (&relayed, &relay_pids[..]),
    ] {
        small_gets(way, 8, 400, pids).await;
    }
    let mut memory = vec![("after warm-up", gw.rss_kib())];

    println!(
        "HTTP over Aether vs plain loopback HTTP/1.1 (same axum Router), {} mode",
        if opts.quick { "quick" } else { "full" }
    );
    println!(
        "(relay: plain HTTP/TCP through a userspace byte relay in a child process, \
         the floor of any two-hop design)"
    );
    println!(
        "{:<36} {:>11} {:>11} {:>11} {:>13} {:>13}",
        "", "aether", "plain", "relay", "aether/plain", "aether/relay"
    );
    let row = |label: String, a: f64, p: f64, r: f64| {
        println!(
            "{label:<36} {a:>11.1} {p:>11.1} {r:>11.1} {:>13.2} {:>13.2}",
            a / p,
            a / r
        );
    };
    for in_flight in opts
        .in_flight
        .clone()
        .into_iter()
        .filter(|_| opts.runs("small"))
    {
        let total = if in_flight == 1 {
            small_total / 4
        } else {
            small_total
        };
        let a = small_gets(&aether, in_flight, total, &aether_pids).await;
        let (p, r) = if opts.aether_only {
            (Small::default(), Small::default())
        } else {
            (
                small_gets(&plain, in_flight, total, &plain_pids).await,
                small_gets(&relayed, in_flight, total, &relay_pids).await,
            )
        };
        row(
            format!("small GET x{in_flight} (req/s)"),
            a.per_sec,
            p.per_sec,
            r.per_sec,
        );
        // Latency ratios are inverted so that, as above, higher is better.
        let us = |v: u64| v.max(1) as f64;
        println!(
            "{:<36} {:>11} {:>11} {:>11} {:>13.2} {:>13.2}",
            format!("small GET x{in_flight} p50 (us)"),
            a.p50_us,
            p.p50_us,
            r.p50_us,
            us(p.p50_us) / us(a.p50_us),
            us(r.p50_us) / us(a.p50_us)
        );
        println!(
            "{:<36} {:>11} {:>11} {:>11} {:>13.2} {:>13.2}",
            format!("small GET x{in_flight} p99 (us)"),
            a.p99_us,
            p.p99_us,
            r.p99_us,
            us(p.p99_us) / us(a.p99_us),
            us(r.p99_us) / us(a.p99_us)
        );
        println!(
            "{:<36} {:>11.1} {:>11.1} {:>11.1} {:>13.2} {:>13.2}",
            format!("small GET x{in_flight} CPU (us/req)"),
            a.cpu_us,
            p.cpu_us,
            r.cpu_us,
            p.cpu_us / a.cpu_us,
            r.cpu_us / a.cpu_us
        );
    }
    memory.push(("after small GETs", gw.rss_kib()));
    let bulk_row = |label: &str, a: Bulk, p: Bulk, r: Bulk| {
        row(format!("{label} (MB/s)"), a.mb_s, p.mb_s, r.mb_s);
        // Inverted like latency: higher is better.
        println!(
            "{:<36} {:>11.1} {:>11.1} {:>11.1} {:>13.2} {:>13.2}",
            format!("{label} CPU (us/MiB)"),
            a.cpu_us_per_mib,
            p.cpu_us_per_mib,
            r.cpu_us_per_mib,
            p.cpu_us_per_mib / a.cpu_us_per_mib,
            r.cpu_us_per_mib / a.cpu_us_per_mib
        );
    };
    if opts.runs("download") {
        // One body first: the memory it leaves is the high-water mark the
        // other runs must not raise.
        download(&aether, 1, &aether_pids).await;
        upload(&aether, 1, &aether_pids).await;
        memory.push(("after one 16 MiB body each way", gw.rss_kib()));
        let a = download(&aether, big_runs, &aether_pids).await;
        let (p, r) = if opts.aether_only {
            (Bulk::default(), Bulk::default())
        } else {
            (
                download(&plain, big_runs, &plain_pids).await,
                download(&relayed, big_runs, &relay_pids).await,
            )
        };
        bulk_row("16 MiB download", a, p, r);
    }
    if opts.runs("upload") {
        let a = upload(&aether, big_runs, &aether_pids).await;
        let (p, r) = if opts.aether_only {
            (Bulk::default(), Bulk::default())
        } else {
            (
                upload(&plain, big_runs, &plain_pids).await,
                upload(&relayed, big_runs, &relay_pids).await,
            )
        };
        bulk_row("16 MiB upload", a, p, r);
    }
    memory.push(("after all 16 MiB bodies", gw.rss_kib()));

    // Tunnels against raw TCP, direct and relayed.
    if opts.runs("tunnel") {
        // A tunnel from the agent to the service, and its far end.
        let pair = || async {
            let t = agent
                .tunnel_dial("sv::bench::1", &TunnelOptions::new())
                .await
                .expect("dial");
            let far = tunnels.lock().await.accept().await.expect("accepted");
            (t, far.tunnel)
        };
        let a = Bulk::measure(tunnel_runs, TUNNEL_BYTES, &aether_pids, || async {
            let (done, counted) = tokio::sync::oneshot::channel();
            let (t, far) = pair().await;
            tokio::spawn(drain(far, done));
            push_through(t, TUNNEL_BYTES, counted).await
        })
        .await;
        let (p, r) = if opts.aether_only {
            (Bulk::default(), Bulk::default())
        } else {
            (
                Bulk::measure(tunnel_runs, TUNNEL_BYTES, &plain_pids, || {
                    raw_tcp(&raw, &raw_addr)
                })
                .await,
                Bulk::measure(tunnel_runs, TUNNEL_BYTES, &relay_pids, || {
                    raw_tcp(&raw, &relay_raw)
                })
                .await,
            )
        };
        bulk_row("64 MiB tunnel vs TCP", a, p, r);
        // The same through the tunnel's chunk API (`write_chunk`,
        // `read_chunk`): no copy on either end beyond the sockets', as TCP.
        let a = Bulk::measure(tunnel_runs, TUNNEL_BYTES, &aether_pids, || async {
            let (done, counted) = tokio::sync::oneshot::channel();
            let (t, far) = pair().await;
            tokio::spawn(drain_chunks(far, done));
            push_chunks(t, TUNNEL_BYTES, counted).await
        })
        .await;
        bulk_row("64 MiB tunnel (chunks) vs TCP", a, p, r);
    }
    memory.push(("after tunnels", gw.rss_kib()));
    // The gateway keeps freed blocks for reuse while busy and hands them
    // back every two seconds (`allocator_as_the_gateway_binary`).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    memory.push(("2.5 s later (periodic trim)", gw.rss_kib()));

    println!();
    if opts.in_process {
        println!("gateway RSS: not apart (the gateway runs in this process)");
    } else {
        println!("gateway RSS (KiB):");
        for (when, kib) in &memory {
            println!("  {when:<32} {kib:>10}");
        }
    }
    relay.stop();
    match gw {
        Gateway::Child(child) => child.spawned.stop(),
        Gateway::InProcess(gw) => gw.shutdown().await,
    }
}
