//! End-to-end messaging benchmark: the SDK through the embedded gateway,
//! side by side with a bare tonic relay that speaks the same wire protocol.
//!
//! ```text
//! cargo bench --bench messaging                      # full run
//! cargo bench --bench messaging -- --quick           # smoke run
//! cargo bench --bench messaging -- --pairs 1,8 --runs 5
//! ```
//!
//! For each number of agent pairs it measures, on both stacks:
//!
//! * **one-way pipelined throughput**: every sender sends N messages of
//!   64 bytes to its receiver as fast as the client lets it; the clock runs
//!   from the first send to the last receipt over all pairs;
//! * **ping-pong latency**: A sends to B, B echoes back to A, A waits for
//!   the echo before sending again; every round trip goes into an HDR
//!   histogram, merged over the pairs;
//! * **CPU per one-way message**: CPU time of the whole process (clients
//!   and server, from `/proc/self/task/*/schedstat`) over the measured
//!   phase, divided by the messages delivered. On a shared, noisy machine
//!   this is steadier than msgs/s, and it says where the limit is: when
//!   the cores are saturated, throughput is cores / CPU per message.
//!
//! The two stacks:
//!
//! * **sdk**: `AgentClient`s (send with `send_message_to_agent`, receive
//!   with `on_message` / `messages()`) against `aether_gateway::start(
//!   GatewayConfig::dev())`;
//! * **bare**: raw tonic streams (an mpsc `ReceiverStream` as the request
//!   stream) against a minimal `AetherGateway::connect` relay defined here:
//!   the first frame registers the stream under its agent topic in a
//!   `HashMap`, every `SendMessage` is forwarded as an `IncomingMessage`
//!   to the stream registered for its target. No SDK, no routing rules, no
//!   mailboxes, no validation: the limit of the transport.
//!
//! Both use the same payload, message counts, tokio runtime, loopback TCP
//! (127.0.0.1 only), HTTP/2 windows and keepalive settings, and are
//! measured in the same process, alternating run by run. Each
//! configuration runs `--runs` times (3 by default) and the median is
//! reported. Every wait is bounded; a watchdog ends the process if the
//! whole benchmark overruns. `--stack sdk|bare` and `--exchange
//! one-way|ping-pong` narrow a run down, e.g. for `perf record`.
//!
//! On a shared machine the wall-clock figures move by ±20% from run to
//! run. Instructions per message do not: run each stack alone under
//! callgrind and divide the totals (the same messages on both):
//!
//! ```text
//! B=$(ls -t target/release/deps/messaging-* | grep -v '\.d$' | head -1)
//! valgrind --tool=callgrind $B --bench --quick --pairs 1 --stack sdk --exchange one-way --messages 64000
//! valgrind --tool=callgrind $B --bench --quick --pairs 1 --stack bare --exchange one-way --messages 64000
//! ```

mod support;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aether_client::proto::aether_gateway_client::AetherGatewayClient;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::init_connection::ClientType;
use aether_client::proto::upstream_message::Payload as Up;
use aether_client::proto::{
    AgentIdentity, DownstreamMessage, IncomingMessage, InitConnection, SendMessage, UpstreamMessage,
};
use aether_client::{AgentClient, MessageStream, MessageType, ReconnectPolicy};
use aether_gateway::proto::aether_gateway_server::AetherGateway;
use aether_gateway::{GatewayConfig, GatewayStats, RunningGateway};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use tonic::transport::Endpoint;
use tonic::{Request, Response, Status, Streaming};

/// Payload size of every message.
const PAYLOAD_BYTES: usize = 64;
/// Workspace of every agent.
const WS: &str = "bench";
/// Connecting one client (TCP + handshake + ack).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A run that makes no progress for this long is given up.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Hard limit of one measured phase.
const PHASE_CAP: Duration = Duration::from_secs(120);
/// Longest wait for one echo.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);
/// Closing one client.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Stopping a server.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Transport settings shared by both stacks (the SDK driver's values).
const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
const KEEPALIVE: Duration = Duration::from_secs(30);
/// Bare client request queue: the SDK's default outbound queue.
const BARE_OUTBOUND_QUEUE: usize = 8192;
/// Bare relay downstream queue per stream (backpressure beyond it).
const RELAY_QUEUE: usize = 1024;
/// Unrecorded round trips per pair before the measured ones.
const PING_WARMUP: u64 = 100;

type Res<T> = Result<T, String>;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Opts {
    pairs: Vec<usize>,
    runs: usize,
    /// One-way messages per run, over all pairs.
    total_messages: u64,
    /// Measured round trips per pair (ping-pong).
    round_trips: u64,
    quick: bool,
    sdk: bool,
    bare: bool,
    one_way: bool,
    ping_pong: bool,
}

const USAGE: &str = "usage: messaging [--quick] [--pairs 1,8,64] [--runs N] \
[--messages TOTAL] [--round-trips PER_PAIR] [--stack sdk|bare|both]
       [--exchange one-way|ping-pong|both]

  --quick            smoke run: 32k one-way messages, 300 round trips, 1 run
  --pairs LIST       agent pair counts (default 1,8,64)
  --runs N           runs per configuration; the median is reported (default 3)
  --messages N       one-way messages per run over all pairs (default 320000)
  --round-trips N    measured round trips per pair (default 3000)
  --stack S          only the SDK or only the bare relay (default both; for profiling)
  --exchange E       only one-way or only ping-pong (default both; for profiling)";

fn parse_args() -> Opts {
    let mut opts = Opts {
        pairs: vec![1, 8, 64],
        runs: 3,
        total_messages: 320_000,
        round_trips: 3_000,
        quick: false,
        sdk: true,
        bare: true,
        one_way: true,
        ping_pong: true,
    };
    let (mut runs, mut messages, mut rts) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> String {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match flag.as_str() {
            "--quick" => opts.quick = true,
            "--pairs" => {
                let v = value("--pairs");
                opts.pairs = v
                    .split(',')
                    .map(|p| match p.trim().parse::<usize>() {
                        Ok(n) if n > 0 => n,
                        _ => fail(&format!("bad pair count {p:?}")),
                    })
                    .collect();
            }
            "--runs" => runs = Some(parse_num(&value("--runs"), "--runs")),
            "--messages" => messages = Some(parse_num(&value("--messages"), "--messages")),
            "--round-trips" => rts = Some(parse_num(&value("--round-trips"), "--round-trips")),
            "--stack" => match value("--stack").as_str() {
                "sdk" => (opts.sdk, opts.bare) = (true, false),
                "bare" => (opts.sdk, opts.bare) = (false, true),
                "both" => (opts.sdk, opts.bare) = (true, true),
                v => fail(&format!("bad --stack {v:?}")),
            },
            "--exchange" => match value("--exchange").as_str() {
                "one-way" => (opts.one_way, opts.ping_pong) = (true, false),
                "ping-pong" => (opts.one_way, opts.ping_pong) = (false, true),
                "both" => (opts.one_way, opts.ping_pong) = (true, true),
                v => fail(&format!("bad --exchange {v:?}")),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            // `cargo bench` passes `--bench`; a positional argument is
            // cargo's bench name filter. Neither concerns us.
            "--bench" => {}
            f if f.starts_with('-') => fail(&format!("unknown flag {f}")),
            _ => {}
        }
    }
    if opts.quick {
        opts.runs = 1;
        opts.total_messages = 32_000;
        opts.round_trips = 300;
    }
    if let Some(r) = runs {
        opts.runs = r as usize;
    }
    if let Some(m) = messages {
        opts.total_messages = m;
    }
    if let Some(r) = rts {
        opts.round_trips = r;
    }
    opts
}

fn parse_num(v: &str, name: &str) -> u64 {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => n,
        _ => fail(&format!("{name}: expected a positive number, got {v:?}")),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("messaging bench: {msg}\n{USAGE}");
    std::process::exit(2);
}

// ---------------------------------------------------------------------------
// Shared measurement helpers
// ---------------------------------------------------------------------------

/// Counts what one receiver got, and when it got the last one.
struct Sink {
    base: Instant,
    count: AtomicU64,
    last_ns: AtomicU64,
}

impl Sink {
    fn new(base: Instant) -> Arc<Self> {
        Arc::new(Sink {
            base,
            count: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
        })
    }

    fn hit(&self) {
        let ns = self.base.elapsed().as_nanos() as u64;
        self.last_ns.store(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Release);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

/// Waits until every sink counted `each` messages. `false` when the
/// messages stopped coming (no progress for [`STALL_TIMEOUT`]) or the phase
/// overran [`PHASE_CAP`].
async fn wait_counts(sinks: &[Arc<Sink>], each: u64) -> bool {
    let want = each * sinks.len() as u64;
    let hard = Instant::now() + PHASE_CAP;
    let mut last_total = u64::MAX;
    let mut last_change = Instant::now();
    loop {
        let total: u64 = sinks.iter().map(|s| s.count().min(each)).sum();
        if total >= want {
            return true;
        }
        let now = Instant::now();
        if total != last_total {
            last_total = total;
            last_change = now;
        } else if now.duration_since(last_change) > STALL_TIMEOUT {
            return false;
        }
        if now > hard {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// CPU time used so far by every live thread of this process, in ns
/// (Linux: the first field of `/proc/self/task/*/schedstat`).
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        // A thread may exit between the listing and the read: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

async fn within<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> Res<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("timed out after {limit:?} waiting for {what}"))
}

fn new_histogram() -> Histogram<u64> {
    // 1 ns .. 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Something that sends `n` messages to its paired receiver.
trait OneWaySender: Send + 'static {
    fn send_n(&mut self, n: u64) -> impl Future<Output = Res<()>> + Send;
}

/// Something that does one round trip: send, then await the echo.
trait Pinger: Send + 'static {
    fn ping(&mut self) -> impl Future<Output = Res<()>> + Send;
}

/// Outcome of one one-way run.
#[derive(Debug, Clone, Default)]
struct OneWay {
    msgs_per_s: f64,
    delivered: u64,
    lost: u64,
    /// CPU time of the whole process per delivered message (µs).
    cpu_us_per_msg: Option<f64>,
    /// Average number of cores busy during the measured phase.
    cores_busy: Option<f64>,
    notes: Vec<String>,
}

/// Outcome of one ping-pong run.
struct PingPong {
    hist: Histogram<u64>,
    notes: Vec<String>,
}

/// Runs the senders: all send `n` at once; returns them (to reuse) and errors.
async fn run_senders<S: OneWaySender>(
    senders: Vec<S>,
    n: u64,
    gate: Option<watch::Receiver<bool>>,
) -> Vec<JoinHandle<(S, Res<()>)>> {
    senders
        .into_iter()
        .map(|mut s| {
            let mut gate = gate.clone();
            tokio::spawn(async move {
                if let Some(g) = gate.as_mut()
                    && g.wait_for(|go| *go).await.is_err()
                {
                    return (s, Err("start gate dropped".to_string()));
                }
                let r = s.send_n(n).await;
                (s, r)
            })
        })
        .collect()
}

/// Joins sender tasks (bounded); returns the senders and the first error.
async fn join_senders<S: OneWaySender>(
    handles: Vec<JoinHandle<(S, Res<()>)>>,
) -> (Vec<S>, Option<String>) {
    let mut senders = Vec::new();
    let mut error = None;
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout(PHASE_CAP, h).await {
            Ok(Ok((s, r))) => {
                senders.push(s);
                if let Err(e) = r {
                    error.get_or_insert(e);
                }
            }
            Ok(Err(e)) => {
                error.get_or_insert(format!("sender task failed: {e}"));
            }
            Err(_) => {
                abort.abort();
                error.get_or_insert("sender did not finish in time".to_string());
            }
        }
    }
    (senders, error)
}

/// Warm-up, then the measured one-way phase.
async fn drive_one_way<S: OneWaySender>(
    senders: Vec<S>,
    sinks: &[Arc<Sink>],
    warm: u64,
    n: u64,
) -> Res<OneWay> {
    let pairs = sinks.len() as u64;
    let mut out = OneWay::default();

    // Warm-up: connections, windows, allocator, caches.
    let handles = run_senders(senders, warm, None).await;
    let (senders, err) = join_senders(handles).await;
    if let Some(e) = err {
        return Err(format!("warm-up: {e}"));
    }
    if !wait_counts(sinks, warm).await {
        let got: u64 = sinks.iter().map(|s| s.count()).sum();
        out.notes
            .push(format!("warm-up lost {} messages", warm * pairs - got));
    }
    let before: u64 = sinks.iter().map(|s| s.count()).sum();

    // Measured phase: senders wait at a gate so they start together.
    let (go_tx, go_rx) = watch::channel(false);
    let handles = run_senders(senders, n, Some(go_rx)).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cpu_before = process_cpu_ns();
    let start_ns = sinks[0].base.elapsed().as_nanos() as u64;
    let _ = go_tx.send(true);
    let complete = wait_counts(sinks, warm + n).await;
    let cpu_after = process_cpu_ns();
    let (_senders, err) = join_senders(handles).await;
    if let Some(e) = err {
        out.notes.push(format!("send error: {e}"));
    }
    let end_ns = sinks
        .iter()
        .map(|s| s.last_ns.load(Ordering::Relaxed))
        .max()
        .unwrap_or(start_ns);
    let after: u64 = sinks.iter().map(|s| s.count()).sum();
    out.delivered = after - before;
    out.lost = (n * pairs).saturating_sub(out.delivered);
    if !complete {
        out.notes.push(format!(
            "incomplete: {} of {} messages arrived",
            out.delivered,
            n * pairs
        ));
    }
    let secs = (end_ns.saturating_sub(start_ns)) as f64 / 1e9;
    out.msgs_per_s = if secs > 0.0 {
        out.delivered as f64 / secs
    } else {
        0.0
    };
    // Only meaningful when the run completed: a stalled run idles.
    if let (true, Some(a), Some(b)) = (complete, cpu_before, cpu_after)
        && out.delivered > 0
        && secs > 0.0
    {
        let cpu = b.saturating_sub(a) as f64;
        out.cpu_us_per_msg = Some(cpu / 1e3 / out.delivered as f64);
        out.cores_busy = Some(cpu / 1e9 / secs);
    }
    Ok(out)
}

/// Warm-up, then `rounds` measured round trips per pair, all pairs at once.
async fn drive_ping_pong<P: Pinger>(pingers: Vec<P>, rounds: u64) -> PingPong {
    let pairs = pingers.len();
    let (go_tx, go_rx) = watch::channel(false);
    let (warm_tx, mut warm_rx) = mpsc::channel::<()>(pairs.max(1));
    let handles: Vec<_> = pingers
        .into_iter()
        .map(|mut p| {
            let mut gate = go_rx.clone();
            let warm_tx = warm_tx.clone();
            tokio::spawn(async move {
                let warm = async {
                    for _ in 0..PING_WARMUP {
                        p.ping().await?;
                    }
                    Ok::<_, String>(())
                }
                .await;
                // Report either way, so the start never waits for a failed pair.
                let _ = warm_tx.send(()).await;
                drop(warm_tx);
                warm.map_err(|e| format!("warm-up: {e}"))?;
                if gate.wait_for(|go| *go).await.is_err() {
                    return Err("start gate dropped".to_string());
                }
                let mut hist = new_histogram();
                for _ in 0..rounds {
                    let t0 = Instant::now();
                    p.ping().await?;
                    hist.saturating_record(t0.elapsed().as_nanos() as u64);
                }
                Ok::<_, String>(hist)
            })
        })
        .collect();
    // Start the measured round trips once every pair is warm (bounded).
    drop(warm_tx);
    let all_warm = async {
        for _ in 0..pairs {
            if warm_rx.recv().await.is_none() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(PHASE_CAP, all_warm).await;
    let _ = go_tx.send(true);
    let mut merged = new_histogram();
    let mut notes = Vec::new();
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout(PHASE_CAP, h).await {
            Ok(Ok(Ok(hist))) => {
                let _ = merged.add(&hist);
            }
            Ok(Ok(Err(e))) => notes.push(format!("pair failed: {e}")),
            Ok(Err(e)) => notes.push(format!("pair task failed: {e}")),
            Err(_) => {
                abort.abort();
                notes.push("pair did not finish in time".to_string());
            }
        }
    }
    notes.dedup();
    PingPong {
        hist: merged,
        notes,
    }
}

// ---------------------------------------------------------------------------
// The SDK stack: AgentClient + embedded gateway
// ---------------------------------------------------------------------------

fn sdk_agent(url: &str, implementation: &str, spec: &str) -> Res<AgentClient> {
    Ok(AgentClient::builder(WS, implementation, spec)
        .map_err(|e| e.to_string())?
        .gateway(url)
        .reconnect(ReconnectPolicy::disabled())
        .connect_timeout(CONNECT_TIMEOUT)
        .build())
}

async fn sdk_connect_all(clients: &[AgentClient]) -> Res<()> {
    let results = within(
        "SDK connects",
        CONNECT_TIMEOUT * 2,
        join_all(clients.iter().map(|c| c.connect())),
    )
    .await?;
    for r in results {
        r.map_err(|e| format!("connect: {e}"))?;
    }
    Ok(())
}

async fn sdk_close_all(clients: &[AgentClient]) {
    let _ = tokio::time::timeout(
        CLOSE_TIMEOUT * 2,
        join_all(clients.iter().map(|c| c.close())),
    )
    .await;
}

async fn stop_gateway(gw: RunningGateway) {
    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, gw.shutdown()).await;
}

/// Notes on losses the gateway and the clients counted.
fn sdk_loss_notes(stats: &GatewayStats, receivers: &[AgentClient]) -> Vec<String> {
    let mut notes = Vec::new();
    if stats.refused.mailbox_full > 0 {
        notes.push(format!(
            "gateway mailboxes refused {} (full)",
            stats.refused.mailbox_full
        ));
    }
    if stats.send_errors > 0 {
        notes.push(format!("gateway rejected {} sends", stats.send_errors));
    }
    let dropped: u64 = receivers.iter().map(|c| c.dropped_pushes()).sum();
    if dropped > 0 {
        notes.push(format!("client dispatch queues dropped {dropped}"));
    }
    notes
}

struct SdkSender {
    client: AgentClient,
    target_spec: String,
    payload: Bytes,
}

impl OneWaySender for SdkSender {
    async fn send_n(&mut self, n: u64) -> Res<()> {
        for _ in 0..n {
            self.client
                .send_message_to_agent(
                    WS,
                    "rcv",
                    &self.target_spec,
                    self.payload.clone(),
                    MessageType::Opaque,
                )
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
        Ok(())
    }
}

async fn sdk_one_way(pairs: usize, warm: u64, n: u64, payload: &Bytes) -> Res<OneWay> {
    let gw = aether_gateway::start(GatewayConfig::dev())
        .await
        .map_err(|e| format!("gateway: {e}"))?;
    let url = gw.url();
    let base = Instant::now();
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    let mut sinks = Vec::new();
    let built: Res<()> = (|| {
        for i in 0..pairs {
            let spec = i.to_string();
            let rcv = sdk_agent(&url, "rcv", &spec)?;
            let sink = Sink::new(base);
            let s = sink.clone();
            rcv.on_message(move |_m| {
                s.hit();
                std::future::ready(())
            });
            sinks.push(sink);
            receivers.push(rcv);
            senders.push(sdk_agent(&url, "snd", &spec)?);
        }
        Ok(())
    })();
    let all: Vec<AgentClient> = receivers.iter().chain(&senders).cloned().collect();
    let result = async {
        built?;
        sdk_connect_all(&receivers).await?;
        sdk_connect_all(&senders).await?;
        let one_way_senders = senders
            .iter()
            .enumerate()
            .map(|(i, c)| SdkSender {
                client: c.clone(),
                target_spec: i.to_string(),
                payload: payload.clone(),
            })
            .collect();
        let mut r = drive_one_way(one_way_senders, &sinks, warm, n).await?;
        r.notes.extend(sdk_loss_notes(&gw.stats(), &receivers));
        Ok(r)
    }
    .await;
    sdk_close_all(&all).await;
    drop(all);
    drop(senders);
    drop(receivers);
    stop_gateway(gw).await;
    result
}

struct SdkPinger {
    client: AgentClient,
    echoes: MessageStream,
    target_spec: String,
    payload: Bytes,
}

impl Pinger for SdkPinger {
    async fn ping(&mut self) -> Res<()> {
        self.client
            .send_message_to_agent(
                WS,
                "pong",
                &self.target_spec,
                self.payload.clone(),
                MessageType::Opaque,
            )
            .await
            .map_err(|e| format!("send: {e}"))?;
        match tokio::time::timeout(ECHO_TIMEOUT, self.echoes.next()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("the message stream ended".to_string()),
            Err(_) => Err(format!("no echo within {ECHO_TIMEOUT:?}")),
        }
    }
}

async fn sdk_ping_pong(pairs: usize, rounds: u64, payload: &Bytes) -> Res<PingPong> {
    let gw = aether_gateway::start(GatewayConfig::dev())
        .await
        .map_err(|e| format!("gateway: {e}"))?;
    let url = gw.url();
    let mut pings = Vec::new();
    let mut pongs = Vec::new();
    let built: Res<()> = (|| {
        for i in 0..pairs {
            let spec = i.to_string();
            let pong = sdk_agent(&url, "pong", &spec)?;
            // B's handler echoes every message back to A. It holds a clone
            // of B; the handler is replaced before closing to break the
            // cycle.
            let echo = pong.clone();
            let back: Arc<str> = spec.clone().into();
            pong.on_message(move |m| {
                let echo = echo.clone();
                let back = back.clone();
                async move {
                    let _ = echo
                        .send_message_to_agent(
                            WS,
                            "ping",
                            &back,
                            m.payload().clone(),
                            MessageType::Opaque,
                        )
                        .await;
                }
            });
            pongs.push(pong);
            pings.push(sdk_agent(&url, "ping", &spec)?);
        }
        Ok(())
    })();
    let all: Vec<AgentClient> = pings.iter().chain(&pongs).cloned().collect();
    let result = async {
        built?;
        sdk_connect_all(&pongs).await?;
        sdk_connect_all(&pings).await?;
        let pingers = pings
            .iter()
            .enumerate()
            .map(|(i, c)| SdkPinger {
                client: c.clone(),
                echoes: c.messages(),
                target_spec: i.to_string(),
                payload: payload.clone(),
            })
            .collect();
        let mut r = drive_ping_pong(pingers, rounds).await;
        r.notes.extend(sdk_loss_notes(&gw.stats(), &pings));
        Ok(r)
    }
    .await;
    for p in &pongs {
        p.on_message(|_m| std::future::ready(()));
    }
    sdk_close_all(&all).await;
    drop(all);
    drop(pings);
    drop(pongs);
    stop_gateway(gw).await;
    result
}

// ---------------------------------------------------------------------------
// The bare stack: raw tonic streams + a minimal relay
// ---------------------------------------------------------------------------

type DownTx = mpsc::Sender<Result<DownstreamMessage, Status>>;

/// The limit: register by the first frame, forward by a map lookup.
#[derive(Default, Clone)]
struct Relay {
    routes: Arc<Mutex<HashMap<String, DownTx>>>,
}

#[tonic::async_trait]
impl AetherGateway for Relay {
    type ConnectStream = ReceiverStream<Result<DownstreamMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<UpstreamMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let upstream = request.into_inner();
        let (tx, rx) = mpsc::channel(RELAY_QUEUE);
        tokio::spawn(relay_session(self.routes.clone(), upstream, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn agent_topic(id: &AgentIdentity) -> String {
    format!(
        "ag::{}::{}::{}",
        id.workspace, id.implementation, id.specifier
    )
}

async fn relay_session(
    routes: Arc<Mutex<HashMap<String, DownTx>>>,
    mut upstream: Streaming<UpstreamMessage>,
    tx: DownTx,
) {
    let me = match upstream.message().await {
        Ok(Some(UpstreamMessage {
            payload: Some(Up::Init(init)),
            ..
        })) => match *init {
            InitConnection {
                client_type: Some(ClientType::Agent(id)),
                ..
            } => agent_topic(&id),
            _ => return,
        },
        _ => return,
    };
    routes
        .lock()
        .expect("routes lock")
        .insert(me.clone(), tx.clone());
    let ack = DownstreamMessage {
        payload: Some(Down::ConnectionAck(Box::default())),
        active_extensions: Vec::new(),
    };
    if tx.send(Ok(ack)).await.is_ok() {
        while let Ok(Some(frame)) = upstream.message().await {
            let Some(Up::Send(send)) = frame.payload else {
                continue;
            };
            let target = routes
                .lock()
                .expect("routes lock")
                .get(&send.target_topic)
                .cloned();
            if let Some(target) = target {
                let msg = DownstreamMessage {
                    payload: Some(Down::Msg(Box::new(IncomingMessage {
                        source_topic: me.clone(),
                        payload: send.payload,
                        message_type: send.message_type,
                        ..Default::default()
                    }))),
                    active_extensions: Vec::new(),
                };
                let _ = target.send(Ok(msg)).await;
            }
        }
    }
    routes.lock().expect("routes lock").remove(&me);
}

/// One raw connection: the request queue and the response stream.
struct BareConn {
    tx: mpsc::Sender<UpstreamMessage>,
    inbound: Streaming<DownstreamMessage>,
}

fn send_frame(target: &str, payload: Bytes) -> UpstreamMessage {
    UpstreamMessage {
        payload: Some(Up::Send(Box::new(SendMessage {
            target_topic: target.to_string(),
            payload,
            message_type: MessageType::Opaque as i32,
            ..Default::default()
        }))),
        active_extensions: Vec::new(),
    }
}

async fn bare_connect(url: &str, implementation: &str, spec: &str) -> Res<BareConn> {
    let attempt = async {
        // The SDK driver's endpoint settings.
        let channel = Endpoint::from_shared(url.to_string())
            .map_err(|e| format!("endpoint: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(STREAM_WINDOW))
            .initial_connection_window_size(Some(CONNECTION_WINDOW))
            .http2_keep_alive_interval(KEEPALIVE)
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut client = AetherGatewayClient::new(channel)
            .max_decoding_message_size(16 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        let (tx, rx) = mpsc::channel(BARE_OUTBOUND_QUEUE);
        let init = UpstreamMessage {
            payload: Some(Up::Init(Box::new(InitConnection {
                client_type: Some(ClientType::Agent(AgentIdentity {
                    workspace: WS.to_string(),
                    implementation: implementation.to_string(),
                    specifier: spec.to_string(),
                })),
                ..Default::default()
            }))),
            active_extensions: Vec::new(),
        };
        tx.send(init)
            .await
            .map_err(|_| "request stream closed".to_string())?;
        let mut inbound = client
            .connect(Request::new(ReceiverStream::new(rx)))
            .await
            .map_err(|s| format!("Connect: {s}"))?
            .into_inner();
        match inbound.message().await {
            Ok(Some(DownstreamMessage {
                payload: Some(Down::ConnectionAck(_)),
                ..
            })) => Ok(BareConn { tx, inbound }),
            other => Err(format!("expected a ConnectionAck, got {other:?}")),
        }
    };
    within("a bare connection", CONNECT_TIMEOUT, attempt).await?
}

async fn bare_connect_all(url: &str, implementation: &str, pairs: usize) -> Res<Vec<BareConn>> {
    join_all((0..pairs).map(|i| {
        let spec = i.to_string();
        async move { bare_connect(url, implementation, &spec).await }
    }))
    .await
    .into_iter()
    .collect()
}

struct BareSender {
    tx: mpsc::Sender<UpstreamMessage>,
    target: String,
    payload: Bytes,
}

impl OneWaySender for BareSender {
    async fn send_n(&mut self, n: u64) -> Res<()> {
        for _ in 0..n {
            self.tx
                .send(send_frame(&self.target, self.payload.clone()))
                .await
                .map_err(|_| "request stream closed".to_string())?;
        }
        Ok(())
    }
}

async fn bare_one_way(pairs: usize, warm: u64, n: u64, payload: &Bytes) -> Res<OneWay> {
    let relay = support::BareServer::start(Relay::default(), "relay server").await?;
    let base = Instant::now();
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    let mut keep: Vec<mpsc::Sender<UpstreamMessage>> = Vec::new();
    let result = async {
        let receivers = bare_connect_all(&relay.url, "rcv", pairs).await?;
        let senders = bare_connect_all(&relay.url, "snd", pairs).await?;
        let mut sinks = Vec::new();
        for conn in receivers {
            let sink = Sink::new(base);
            let s = sink.clone();
            let mut inbound = conn.inbound;
            keep.push(conn.tx);
            readers.push(tokio::spawn(async move {
                while let Ok(Some(m)) = inbound.message().await {
                    if let Some(Down::Msg(_)) = m.payload {
                        s.hit();
                    }
                }
            }));
            sinks.push(sink);
        }
        let one_way_senders = senders
            .into_iter()
            .enumerate()
            .map(|(i, conn)| {
                let mut inbound = conn.inbound;
                // Senders get nothing, but keep their response streams read.
                readers.push(tokio::spawn(async move {
                    while let Ok(Some(_)) = inbound.message().await {}
                }));
                BareSender {
                    tx: conn.tx,
                    target: format!("ag::{WS}::rcv::{i}"),
                    payload: payload.clone(),
                }
            })
            .collect();
        drive_one_way(one_way_senders, &sinks, warm, n).await
    }
    .await;
    drop(keep);
    for r in &readers {
        r.abort();
    }
    relay.stop().await;
    result
}

struct BarePinger {
    conn: BareConn,
    target: String,
    payload: Bytes,
}

impl Pinger for BarePinger {
    async fn ping(&mut self) -> Res<()> {
        self.conn
            .tx
            .send(send_frame(&self.target, self.payload.clone()))
            .await
            .map_err(|_| "request stream closed".to_string())?;
        match tokio::time::timeout(ECHO_TIMEOUT, self.conn.inbound.message()).await {
            Ok(Ok(Some(DownstreamMessage {
                payload: Some(Down::Msg(_)),
                ..
            }))) => Ok(()),
            Ok(Ok(other)) => Err(format!("unexpected frame {other:?}")),
            Ok(Err(s)) => Err(format!("stream failed: {s}")),
            Err(_) => Err(format!("no echo within {ECHO_TIMEOUT:?}")),
        }
    }
}

async fn bare_ping_pong(pairs: usize, rounds: u64, payload: &Bytes) -> Res<PingPong> {
    let relay = support::BareServer::start(Relay::default(), "relay server").await?;
    let mut echoers: Vec<JoinHandle<()>> = Vec::new();
    let result = async {
        let pongs = bare_connect_all(&relay.url, "pong", pairs).await?;
        let pings = bare_connect_all(&relay.url, "ping", pairs).await?;
        for (i, conn) in pongs.into_iter().enumerate() {
            let BareConn { tx, mut inbound } = conn;
            let back = format!("ag::{WS}::ping::{i}");
            echoers.push(tokio::spawn(async move {
                while let Ok(Some(m)) = inbound.message().await {
                    if let Some(Down::Msg(m)) = m.payload
                        && tx.send(send_frame(&back, m.payload)).await.is_err()
                    {
                        break;
                    }
                }
            }));
        }
        let pingers = pings
            .into_iter()
            .enumerate()
            .map(|(i, conn)| BarePinger {
                conn,
                target: format!("ag::{WS}::pong::{i}"),
                payload: payload.clone(),
            })
            .collect();
        Ok(drive_ping_pong(pingers, rounds).await)
    }
    .await;
    for e in &echoers {
        e.abort();
    }
    relay.stop().await;
    result
}

// ---------------------------------------------------------------------------
// Driver and report
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Row {
    pairs: usize,
    sdk_tput: Vec<f64>,
    bare_tput: Vec<f64>,
    sdk_p50: Vec<f64>,
    sdk_p99: Vec<f64>,
    bare_p50: Vec<f64>,
    bare_p99: Vec<f64>,
    sdk_lost: u64,
    bare_lost: u64,
    sdk_cpu: Vec<f64>,
    bare_cpu: Vec<f64>,
    sdk_cores: Vec<f64>,
    bare_cores: Vec<f64>,
    notes: Vec<String>,
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    Some(if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    })
}

fn grouped(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn record_one_way(row: &mut Row, sdk: bool, run: usize, r: Res<OneWay>) {
    let label = if sdk { "sdk " } else { "bare" };
    match r {
        Ok(ow) => {
            eprintln!(
                "  pairs={:<3} run {} {label} one-way: {:>12} msg/s  delivered {} lost {}  cpu {} us/msg on {} cores{}",
                row.pairs,
                run + 1,
                grouped(ow.msgs_per_s),
                ow.delivered,
                ow.lost,
                cell(ow.cpu_us_per_msg, |v| format!("{v:.2}")),
                cell(ow.cores_busy, |v| format!("{v:.2}")),
                if ow.notes.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", ow.notes.join("; "))
                }
            );
            let (tput, lost, cpu, cores) = if sdk {
                (
                    &mut row.sdk_tput,
                    &mut row.sdk_lost,
                    &mut row.sdk_cpu,
                    &mut row.sdk_cores,
                )
            } else {
                (
                    &mut row.bare_tput,
                    &mut row.bare_lost,
                    &mut row.bare_cpu,
                    &mut row.bare_cores,
                )
            };
            tput.push(ow.msgs_per_s);
            *lost += ow.lost;
            cpu.extend(ow.cpu_us_per_msg);
            cores.extend(ow.cores_busy);
            for n in ow.notes {
                row.notes
                    .push(format!("{} one-way run {}: {n}", label.trim(), run + 1));
            }
        }
        Err(e) => {
            eprintln!(
                "  pairs={} run {} {label} one-way FAILED: {e}",
                row.pairs,
                run + 1
            );
            row.notes.push(format!(
                "{} one-way run {} failed: {e}",
                label.trim(),
                run + 1
            ));
        }
    }
}

fn record_ping_pong(row: &mut Row, sdk: bool, run: usize, r: Res<PingPong>) {
    let label = if sdk { "sdk " } else { "bare" };
    match r {
        Ok(pp) => {
            let (p50, p99) = if pp.hist.is_empty() {
                (f64::NAN, f64::NAN)
            } else {
                (
                    us(pp.hist.value_at_quantile(0.50)),
                    us(pp.hist.value_at_quantile(0.99)),
                )
            };
            eprintln!(
                "  pairs={:<3} run {} {label} ping-pong: {} round trips  p50 {p50:.1} us  p99 {p99:.1} us  max {:.1} us{}",
                row.pairs,
                run + 1,
                pp.hist.len(),
                us(pp.hist.max()),
                if pp.notes.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", pp.notes.join("; "))
                }
            );
            if !pp.hist.is_empty() {
                if sdk {
                    row.sdk_p50.push(p50);
                    row.sdk_p99.push(p99);
                } else {
                    row.bare_p50.push(p50);
                    row.bare_p99.push(p99);
                }
            }
            for n in pp.notes {
                row.notes
                    .push(format!("{} ping-pong run {}: {n}", label.trim(), run + 1));
            }
        }
        Err(e) => {
            eprintln!(
                "  pairs={} run {} {label} ping-pong FAILED: {e}",
                row.pairs,
                run + 1
            );
            row.notes.push(format!(
                "{} ping-pong run {} failed: {e}",
                label.trim(),
                run + 1
            ));
        }
    }
}

async fn run_all(opts: &Opts) -> Vec<Row> {
    let payload = Bytes::from(vec![0x5a_u8; PAYLOAD_BYTES]);
    let mut rows = Vec::new();
    for &pairs in &opts.pairs {
        let n = (opts.total_messages / pairs as u64).max(1);
        let warm = (n / 10).max(1);
        let mut row = Row {
            pairs,
            ..Row::default()
        };
        eprintln!(
            "pairs={pairs}: one-way {n} msgs/pair (+{warm} warm-up), ping-pong {} round trips/pair (+{PING_WARMUP} warm-up)",
            opts.round_trips
        );
        // Alternate the stacks run by run so drift in machine load hits both.
        for run in 0..opts.runs {
            let (first_sdk, second_sdk) = if run % 2 == 0 {
                (true, false)
            } else {
                (false, true)
            };
            for sdk in [first_sdk, second_sdk] {
                if !opts.one_way || (sdk && !opts.sdk) || (!sdk && !opts.bare) {
                    continue;
                }
                let r = if sdk {
                    sdk_one_way(pairs, warm, n, &payload).await
                } else {
                    bare_one_way(pairs, warm, n, &payload).await
                };
                record_one_way(&mut row, sdk, run, r);
            }
        }
        for run in 0..opts.runs {
            let (first_sdk, second_sdk) = if run % 2 == 0 {
                (true, false)
            } else {
                (false, true)
            };
            for sdk in [first_sdk, second_sdk] {
                if !opts.ping_pong || (sdk && !opts.sdk) || (!sdk && !opts.bare) {
                    continue;
                }
                let r = if sdk {
                    sdk_ping_pong(pairs, opts.round_trips, &payload).await
                } else {
                    bare_ping_pong(pairs, opts.round_trips, &payload).await
                };
                record_ping_pong(&mut row, sdk, run, r);
            }
        }
        rows.push(row);
    }
    rows
}

fn cell(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "n/a".to_string())
}

fn print_table(opts: &Opts, rows: &[Row]) {
    println!();
    println!(
        "aether-rs messaging benchmark (payload {PAYLOAD_BYTES} B, median of {})",
        opts.runs
    );
    println!(
        "{:>5} | {:>17} | {:>18} | {:>5} | {:>10} | {:>10} | {:>11} | {:>11}",
        "pairs",
        "sdk one-way msg/s",
        "bare one-way msg/s",
        "ratio",
        "sdk p50 us",
        "sdk p99 us",
        "bare p50 us",
        "bare p99 us"
    );
    println!(
        "{:->5}-+-{:->17}-+-{:->18}-+-{:->5}-+-{:->10}-+-{:->10}-+-{:->11}-+-{:->11}",
        "", "", "", "", "", "", "", ""
    );
    for r in rows {
        let sdk = median(&r.sdk_tput);
        let bare = median(&r.bare_tput);
        let ratio = match (sdk, bare) {
            (Some(s), Some(b)) if b > 0.0 => Some(s / b),
            _ => None,
        };
        let f1 = |v: f64| format!("{v:.1}");
        println!(
            "{:>5} | {:>17} | {:>18} | {:>5} | {:>10} | {:>10} | {:>11} | {:>11}",
            r.pairs,
            cell(sdk, grouped) + if r.sdk_lost > 0 { "*" } else { "" },
            cell(bare, grouped) + if r.bare_lost > 0 { "*" } else { "" },
            cell(ratio, |v| format!("{v:.2}")),
            cell(median(&r.sdk_p50), f1),
            cell(median(&r.sdk_p99), f1),
            cell(median(&r.bare_p50), f1),
            cell(median(&r.bare_p99), f1),
        );
    }
    if rows.iter().any(|r| r.sdk_lost > 0 || r.bare_lost > 0) {
        println!(
            "* messages were lost in at least one run (see notes); msg/s counts delivered messages"
        );
    }
    println!();
    println!("one-way CPU cost (whole process: clients + server), median of runs:");
    println!(
        "{:>5} | {:>15} | {:>16} | {:>9} | {:>16} | {:>17}",
        "pairs",
        "sdk cpu us/msg",
        "bare cpu us/msg",
        "cpu ratio",
        "sdk cores busy",
        "bare cores busy"
    );
    for r in rows {
        let (sc, bc) = (median(&r.sdk_cpu), median(&r.bare_cpu));
        let ratio = match (sc, bc) {
            (Some(s), Some(b)) if b > 0.0 => Some(s / b),
            _ => None,
        };
        let f2 = |v: f64| format!("{v:.2}");
        println!(
            "{:>5} | {:>15} | {:>16} | {:>9} | {:>16} | {:>17}",
            r.pairs,
            cell(sc, f2),
            cell(bc, f2),
            cell(ratio, f2),
            cell(median(&r.sdk_cores), f2),
            cell(median(&r.bare_cores), f2),
        );
    }
    println!();
    println!("per-run one-way msg/s (sdk | bare):");
    for r in rows {
        let list = |v: &[f64]| v.iter().map(|x| grouped(*x)).collect::<Vec<_>>().join(", ");
        println!(
            "  pairs={:<3} sdk [{}] | bare [{}]   lost: sdk {} bare {}",
            r.pairs,
            list(&r.sdk_tput),
            list(&r.bare_tput),
            r.sdk_lost,
            r.bare_lost
        );
    }
    let notes: Vec<_> = rows
        .iter()
        .flat_map(|r| {
            r.notes
                .iter()
                .map(move |n| format!("pairs={}: {n}", r.pairs))
        })
        .collect();
    if !notes.is_empty() {
        println!();
        println!("notes:");
        for n in notes {
            println!("  {n}");
        }
    }
}

/// `git rev-parse --short HEAD` of the source tree, plus how many tracked
/// files differ from it, when git is available.
fn source_revision() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .map_or(0, |s| s.lines().count());
            if dirty == 0 {
                rev.trim().to_string()
            } else {
                format!(
                    "{} + uncommitted changes in {dirty} tracked files",
                    rev.trim()
                )
            }
        }
        None => "unknown (git unavailable)".to_string(),
    }
}

fn main() {
    let opts = parse_args();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let argv: Vec<String> = std::env::args().collect();

    // Every wait below is bounded; this is the outer bound of them all.
    let budget = if opts.quick {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(1800)
    };
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        eprintln!("messaging bench: watchdog: still running after {budget:?}; aborting");
        std::process::exit(3);
    });

    println!("command: {}", argv.join(" "));
    println!("source: {}", source_revision());
    println!(
        "machine: {cores} cores available; tokio multi-thread runtime with {cores} workers; loopback 127.0.0.1"
    );
    println!(
        "config: pairs {:?}, runs {}, one-way {} msgs/run, ping-pong {} round trips/pair{}",
        opts.pairs,
        opts.runs,
        opts.total_messages,
        opts.round_trips,
        if opts.quick { " (quick)" } else { "" }
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let rows = rt.block_on(run_all(&opts));
    rt.shutdown_timeout(Duration::from_secs(5));
    print_table(&opts, &rows);
    println!();
    println!("total time {:.1} s", started.elapsed().as_secs_f64());
}
