//! KV and checkpoint benchmark: awaited SDK calls against the embedded
//! gateway, durable (redb under a temporary data dir, fsync'd through the
//! journal) and memory-only, side by side with a bare tonic server that
//! answers the same frames from a `HashMap`.
//!
//! ```text
//! cargo bench --bench kv                       # full run
//! cargo bench --bench kv -- --quick            # smoke run
//! cargo bench --bench kv -- --target durable --section kv --op put --windows 64 --runs 1
//! ```
//!
//! What it measures, on each target:
//!
//! * **KV**: `kv_put` and `kv_get` of a 16-byte key and a 100-byte value,
//!   every call awaited for its reply. "in flight" is the number of tasks
//!   per client, each issuing one call after another (so 64 in flight keeps
//!   64 calls outstanding on one client); with 2 clients, both run at once
//!   (two connections) and the rates are their sum. ops/s counts completed
//!   calls from the start gate to the last reply; p50 / p99 are the
//!   latencies of single calls (from issue to reply, queueing included).
//!   Before the rows run, every key of the key space is written once
//!   (unmeasured), so gets always hit.
//! * **CPU per op**: CPU time of the whole process (clients, gateway and
//!   its journal thread, from `/proc/self/task/*/schedstat`) over the
//!   measured phase, divided by the ops completed.
//! * **Checkpoints**: `checkpoint_save` then `checkpoint_load` of payloads
//!   of a few sizes, one awaited call at a time, over a few rotating keys;
//!   MB/s is payload bytes (10^6 B) per second.
//!
//! The targets:
//!
//! * **durable**: `aether_gateway::start(GatewayConfig::dev().with_data_dir(tmp))`,
//!   a fresh temporary directory per run: a change is acknowledged once
//!   the journal committed (fsync'd) it;
//! * **memory**: `GatewayConfig::dev()` (no data dir): the same code path
//!   without the journal, so the difference is the cost of durability;
//! * **bare**: a minimal `AetherGateway::connect` server defined here, which
//!   answers each `KVOperation` / `CheckpointOperation` from a `HashMap`
//!   (no SDK, no durability, no validation), and a raw client that
//!   correlates replies by request id with the same number of calls in
//!   flight: the limit of the transport.
//!
//! Every target uses the same tokio runtime, loopback TCP (127.0.0.1 only),
//! HTTP/2 windows and keepalive settings. Each configuration runs `--runs`
//! times (3 by default) and the median is reported; the order of the
//! targets rotates from run to run so drift in machine load hits all of
//! them. Every wait is bounded (per-call timeouts, a time cap per row) and
//! a watchdog ends the process if the whole benchmark overruns.
//!
//! Reading the numbers on a VM or a shared machine: durable writes are
//! bounded by the latency of `fdatasync`, which another process writing
//! to the same disk can raise many times over; rows with one call in
//! flight mostly measure thread wake-ups, which are several times slower
//! when the vCPUs are idle than when they are busy. The header prints the
//! load average at the start and the end for this reason.

mod support;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aether_client::proto::aether_gateway_client::AetherGatewayClient;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::init_connection::ClientType;
use aether_client::proto::upstream_message::Payload as Up;
use aether_client::proto::{
    AgentIdentity, CheckpointOperation, CheckpointResponse, DownstreamMessage, InitConnection,
    KvOperation, KvResponse, UpstreamMessage, checkpoint_operation, kv_operation,
};
use aether_client::{AgentClient, CheckpointTtl, KvScope, ReconnectPolicy};
use aether_gateway::GatewayConfig;
use aether_gateway::proto::aether_gateway_server::AetherGateway;
use bytes::Bytes;
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use tonic::transport::Endpoint;
use tonic::{Request, Response, Status, Streaming};

/// Key length (`k` + 15 digits).
const KEY_BYTES: usize = 16;
/// Value length of every PUT.
const VALUE_BYTES: usize = 100;
/// Distinct keys; all are written before the rows run.
const KEYSPACE: u64 = 10_000;
/// Checkpoint keys saved in rotation (per payload size).
const CHECKPOINT_KEYS: u64 = 8;
/// Workspace of every client.
const WS: &str = "bench";
/// Connecting one client (TCP + handshake + ack).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one reply (the SDK's request timeout, the bare
/// client's per-call bound).
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// A measured phase stops issuing calls after this long.
const ROW_CAP: Duration = Duration::from_secs(60);
/// Longest wait for the tasks of a phase after it started.
const JOIN_CAP: Duration = Duration::from_secs(90);
/// Closing one client.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Stopping a server.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Transport settings shared by every target (the SDK driver's values).
const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
const KEEPALIVE: Duration = Duration::from_secs(30);
/// Bare client request queue: the SDK's default outbound queue.
const BARE_OUTBOUND_QUEUE: usize = 8192;
/// Bare server reply queue per stream.
const BARE_REPLY_QUEUE: usize = 1024;
/// Calls in flight while writing the key space before the rows.
const PREFILL_WINDOW: usize = 64;

type Res<T> = Result<T, String>;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Target {
    Durable,
    Memory,
    Bare,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Durable => "durable",
            Target::Memory => "memory",
            Target::Bare => "bare",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KvOp {
    Put,
    Get,
}

impl KvOp {
    fn name(self) -> &'static str {
        match self {
            KvOp::Put => "put",
            KvOp::Get => "get",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum CkOp {
    Save,
    Load,
}

impl CkOp {
    fn name(self) -> &'static str {
        match self {
            CkOp::Save => "save",
            CkOp::Load => "load",
        }
    }
}

/// One KV configuration: operation, clients, calls in flight per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct KvRow {
    op: KvOp,
    clients: usize,
    window: usize,
}

/// One checkpoint configuration: operation and payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CkRow {
    op: CkOp,
    size: usize,
}

#[derive(Debug, Clone)]
struct Opts {
    runs: usize,
    /// Measured ops per KV row with more than one call in flight.
    ops: u64,
    /// Measured ops per KV row with one call in flight per client.
    serial_ops: u64,
    windows: Vec<usize>,
    clients: Vec<usize>,
    kv_ops: Vec<KvOp>,
    /// Checkpoint payload sizes in bytes.
    sizes: Vec<usize>,
    /// Payload bytes per checkpoint row.
    checkpoint_bytes: u64,
    targets: Vec<Target>,
    kv: bool,
    checkpoints: bool,
    /// Where the temporary data dirs go (default: the system temp dir).
    data_parent: Option<PathBuf>,
    quick: bool,
}

const USAGE: &str = "usage: kv [--quick] [--runs N] [--ops N] [--serial-ops N]
          [--windows 1,64] [--clients 1,2] [--op put|get|both]
          [--sizes-kib 64,1024] [--checkpoint-mib N]
          [--target durable|memory|bare|sdk|all] [--section kv|checkpoint|both]
          [--data-parent DIR]

  --quick            smoke run: 1 run, 5000/500 KV ops, 8 MiB per checkpoint row
  --runs N           runs per configuration; the median is reported (default 3)
  --ops N            measured KV ops per row with >1 call in flight (default 100000)
  --serial-ops N     measured KV ops per row with 1 call in flight (default 10000)
  --windows LIST     calls in flight per client (default 1,64)
  --clients LIST     concurrent clients (default 1,2)
  --op O             only puts or only gets (default both)
  --sizes-kib LIST   checkpoint payload sizes in KiB (default 64,1024)
  --checkpoint-mib N payload MiB saved (and loaded) per checkpoint row (default 64)
  --target T         only one target; sdk = durable and memory (default all)
  --section S        only KV or only checkpoints (default both)
  --data-parent DIR  parent of the temporary data dirs (default: system temp dir)";

fn parse_args() -> Opts {
    let mut opts = Opts {
        runs: 3,
        ops: 100_000,
        serial_ops: 10_000,
        windows: vec![1, 64],
        clients: vec![1, 2],
        kv_ops: vec![KvOp::Put, KvOp::Get],
        sizes: vec![64 * 1024, 1024 * 1024],
        checkpoint_bytes: 64 * 1024 * 1024,
        targets: vec![Target::Durable, Target::Memory, Target::Bare],
        kv: true,
        checkpoints: true,
        data_parent: None,
        quick: false,
    };
    let (mut runs, mut ops, mut serial, mut ck_mib) = (None, None, None, None);
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
            "--runs" => runs = Some(parse_num(&value("--runs"), "--runs")),
            "--ops" => ops = Some(parse_num(&value("--ops"), "--ops")),
            "--serial-ops" => serial = Some(parse_num(&value("--serial-ops"), "--serial-ops")),
            "--windows" => opts.windows = parse_list(&value("--windows"), "--windows"),
            "--clients" => opts.clients = parse_list(&value("--clients"), "--clients"),
            "--sizes-kib" => {
                opts.sizes = parse_list(&value("--sizes-kib"), "--sizes-kib")
                    .into_iter()
                    .map(|k| k * 1024)
                    .collect();
            }
            "--checkpoint-mib" => {
                ck_mib = Some(parse_num(&value("--checkpoint-mib"), "--checkpoint-mib"));
            }
            "--op" => {
                opts.kv_ops = match value("--op").as_str() {
                    "put" => vec![KvOp::Put],
                    "get" => vec![KvOp::Get],
                    "both" => vec![KvOp::Put, KvOp::Get],
                    v => fail(&format!("bad --op {v:?}")),
                }
            }
            "--target" => {
                opts.targets = match value("--target").as_str() {
                    "durable" => vec![Target::Durable],
                    "memory" => vec![Target::Memory],
                    "bare" => vec![Target::Bare],
                    "sdk" => vec![Target::Durable, Target::Memory],
                    "all" => vec![Target::Durable, Target::Memory, Target::Bare],
                    v => fail(&format!("bad --target {v:?}")),
                }
            }
            "--section" => {
                (opts.kv, opts.checkpoints) = match value("--section").as_str() {
                    "kv" => (true, false),
                    "checkpoint" | "checkpoints" => (false, true),
                    "both" => (true, true),
                    v => fail(&format!("bad --section {v:?}")),
                }
            }
            "--data-parent" => opts.data_parent = Some(PathBuf::from(value("--data-parent"))),
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
        opts.ops = 5_000;
        opts.serial_ops = 500;
        opts.checkpoint_bytes = 8 * 1024 * 1024;
    }
    if let Some(r) = runs {
        opts.runs = r as usize;
    }
    if let Some(n) = ops {
        opts.ops = n;
    }
    if let Some(n) = serial {
        opts.serial_ops = n;
    }
    if let Some(m) = ck_mib {
        opts.checkpoint_bytes = m * 1024 * 1024;
    }
    opts
}

fn parse_num(v: &str, name: &str) -> u64 {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => n,
        _ => fail(&format!("{name}: expected a positive number, got {v:?}")),
    }
}

fn parse_list(v: &str, name: &str) -> Vec<usize> {
    v.split(',')
        .map(|p| parse_num(p.trim(), name) as usize)
        .collect()
}

fn fail(msg: &str) -> ! {
    eprintln!("kv bench: {msg}\n{USAGE}");
    std::process::exit(2);
}

impl Opts {
    fn kv_rows(&self) -> Vec<KvRow> {
        let mut rows = Vec::new();
        if !self.kv {
            return rows;
        }
        for &op in &self.kv_ops {
            for &clients in &self.clients {
                for &window in &self.windows {
                    rows.push(KvRow {
                        op,
                        clients,
                        window,
                    });
                }
            }
        }
        rows
    }

    fn ck_rows(&self) -> Vec<CkRow> {
        let mut rows = Vec::new();
        if !self.checkpoints {
            return rows;
        }
        for &size in &self.sizes {
            for op in [CkOp::Save, CkOp::Load] {
                rows.push(CkRow { op, size });
            }
        }
        rows
    }

    fn kv_ops_for(&self, row: KvRow) -> u64 {
        if row.window == 1 {
            self.serial_ops
        } else {
            self.ops
        }
    }

    fn checkpoint_ops_for(&self, size: usize) -> u64 {
        (self.checkpoint_bytes / size.max(1) as u64).max(16)
    }
}

// ---------------------------------------------------------------------------
// Measurement helpers
// ---------------------------------------------------------------------------

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

/// The 1, 5 and 15 minute load averages (Linux), to judge how busy the
/// machine was: the numbers of a shared machine move with its load.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
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

fn kv_key(i: u64) -> String {
    let k = format!("k{:015}", i % KEYSPACE);
    debug_assert_eq!(k.len(), KEY_BYTES);
    k
}

fn checkpoint_key(size: usize, i: u64) -> String {
    format!("ck-{size}-{}", i % CHECKPOINT_KEYS)
}

/// The four awaited operations, on the SDK or on the bare client.
trait Ops: Clone + Send + Sync + 'static {
    fn put(&self, key: String, value: Bytes) -> impl Future<Output = Res<()>> + Send;
    /// The length of the value read (0 when missing).
    fn get(&self, key: String) -> impl Future<Output = Res<usize>> + Send;
    fn save(&self, key: String, data: Bytes) -> impl Future<Output = Res<()>> + Send;
    /// The length of the checkpoint read (0 when missing).
    fn load(&self, key: String) -> impl Future<Output = Res<usize>> + Send;
}

/// What one measured phase gave.
struct Phase {
    hist: Histogram<u64>,
    done: u64,
    secs: f64,
    cpu_ns: Option<u64>,
    capped: bool,
    errors: Vec<String>,
}

impl Phase {
    fn ops_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.done as f64 / self.secs
        } else {
            0.0
        }
    }
}

struct TaskOut {
    hist: Histogram<u64>,
    done: u64,
    end: Instant,
    capped: bool,
    error: Option<String>,
}

/// Runs `total` KV calls of `op` over `clients` with `window` tasks per
/// client, all released at once; each task issues one awaited call after
/// another.
async fn kv_phase<T: Ops>(
    clients: &[T],
    op: KvOp,
    window: usize,
    total: u64,
    value: &Bytes,
) -> Phase {
    let next = Arc::new(AtomicU64::new(0));
    // The gate carries the deadline of the phase.
    let (gate_tx, gate_rx) = watch::channel(None::<Instant>);
    let mut handles = Vec::new();
    for c in clients {
        for _ in 0..window {
            let c = c.clone();
            let next = next.clone();
            let value = value.clone();
            let mut gate = gate_rx.clone();
            handles.push(tokio::spawn(async move {
                let mut out = TaskOut {
                    hist: new_histogram(),
                    done: 0,
                    end: Instant::now(),
                    capped: false,
                    error: None,
                };
                let deadline = match gate.wait_for(|d| d.is_some()).await {
                    Ok(d) => d.expect("set"),
                    Err(_) => {
                        out.error = Some("start gate dropped".into());
                        return out;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    if Instant::now() >= deadline {
                        out.capped = true;
                        break;
                    }
                    let key = kv_key(i);
                    let t0 = Instant::now();
                    let r = match op {
                        KvOp::Put => c.put(key, value.clone()).await,
                        KvOp::Get => match c.get(key).await {
                            Ok(VALUE_BYTES) => Ok(()),
                            Ok(n) => Err(format!("get returned {n} bytes, not {VALUE_BYTES}")),
                            Err(e) => Err(e),
                        },
                    };
                    match r {
                        Ok(()) => {
                            out.hist.saturating_record(t0.elapsed().as_nanos() as u64);
                            out.done += 1;
                        }
                        Err(e) => {
                            out.error = Some(format!("{} {i}: {e}", op.name()));
                            break;
                        }
                    }
                }
                out.end = Instant::now();
                out
            }));
        }
    }
    finish_phase(handles, gate_tx).await
}

/// Opens the gate, waits (bounded) for the tasks and sums what they did.
async fn finish_phase(
    handles: Vec<JoinHandle<TaskOut>>,
    gate_tx: watch::Sender<Option<Instant>>,
) -> Phase {
    // Let every task reach the gate.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cpu_before = process_cpu_ns();
    let start = Instant::now();
    let _ = gate_tx.send(Some(start + ROW_CAP));
    let mut phase = Phase {
        hist: new_histogram(),
        done: 0,
        secs: 0.0,
        cpu_ns: None,
        capped: false,
        errors: Vec::new(),
    };
    let mut end = start;
    let hard = start + JOIN_CAP;
    for h in handles {
        let abort = h.abort_handle();
        let left = hard.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, h).await {
            Ok(Ok(out)) => {
                let _ = phase.hist.add(&out.hist);
                phase.done += out.done;
                phase.capped |= out.capped;
                end = end.max(out.end);
                phase.errors.extend(out.error);
            }
            Ok(Err(e)) => phase.errors.push(format!("task failed: {e}")),
            Err(_) => {
                abort.abort();
                phase.errors.push("task did not finish in time".into());
                end = Instant::now();
            }
        }
    }
    let cpu_after = process_cpu_ns();
    phase.secs = end.duration_since(start).as_secs_f64();
    if let (Some(a), Some(b)) = (cpu_before, cpu_after)
        && phase.errors.is_empty()
    {
        phase.cpu_ns = Some(b.saturating_sub(a));
    }
    phase.errors.sort();
    phase.errors.dedup();
    phase
}

/// `n` sequential awaited checkpoint calls of `op` with `size`-byte data.
async fn checkpoint_phase<T: Ops>(c: &T, op: CkOp, size: usize, n: u64, data: &Bytes) -> Phase {
    let (gate_tx, mut gate_rx) = watch::channel(None::<Instant>);
    let c = c.clone();
    let data = data.clone();
    let handle = tokio::spawn(async move {
        let mut out = TaskOut {
            hist: new_histogram(),
            done: 0,
            end: Instant::now(),
            capped: false,
            error: None,
        };
        let deadline = match gate_rx.wait_for(|d| d.is_some()).await {
            Ok(d) => d.expect("set"),
            Err(_) => {
                out.error = Some("start gate dropped".into());
                return out;
            }
        };
        for i in 0..n {
            if Instant::now() >= deadline {
                out.capped = true;
                break;
            }
            let key = checkpoint_key(size, i);
            let t0 = Instant::now();
            let r = match op {
                CkOp::Save => c.save(key, data.clone()).await,
                CkOp::Load => match c.load(key).await {
                    Ok(len) if len == size => Ok(()),
                    Ok(len) => Err(format!("load returned {len} bytes, not {size}")),
                    Err(e) => Err(e),
                },
            };
            match r {
                Ok(()) => {
                    out.hist.saturating_record(t0.elapsed().as_nanos() as u64);
                    out.done += 1;
                }
                Err(e) => {
                    out.error = Some(format!("{} {i}: {e}", op.name()));
                    break;
                }
            }
        }
        out.end = Instant::now();
        out
    });
    finish_phase(vec![handle], gate_tx).await
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Samples {
    /// ops/s (KV) or MB/s (checkpoints).
    rate: Vec<f64>,
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
    cpu_us_per_op: Vec<f64>,
    cores_busy: Vec<f64>,
}

#[derive(Default)]
struct Results {
    kv: HashMap<(KvRow, Target), Samples>,
    ck: HashMap<(CkRow, Target), Samples>,
    notes: Vec<String>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Samples {
    fn record(&mut self, phase: &Phase, rate: f64) {
        if phase.done == 0 {
            return;
        }
        self.rate.push(rate);
        self.p50_us.push(us(phase.hist.value_at_quantile(0.50)));
        self.p99_us.push(us(phase.hist.value_at_quantile(0.99)));
        if let Some(cpu) = phase.cpu_ns
            && phase.secs > 0.0
        {
            self.cpu_us_per_op
                .push(cpu as f64 / 1e3 / phase.done as f64);
            self.cores_busy.push(cpu as f64 / 1e9 / phase.secs);
        }
    }
}

fn phase_notes(phase: &Phase, wanted: u64) -> Vec<String> {
    let mut notes = phase.errors.clone();
    if phase.capped {
        notes.push(format!(
            "time cap {ROW_CAP:?} reached after {} of {wanted} ops",
            phase.done
        ));
    } else if phase.done < wanted && phase.errors.is_empty() {
        notes.push(format!("only {} of {wanted} ops completed", phase.done));
    }
    notes
}

// ---------------------------------------------------------------------------
// One run of one target
// ---------------------------------------------------------------------------

/// Writes the key space, then measures every KV and checkpoint row.
async fn measure<T: Ops>(
    clients: &[T],
    target: Target,
    run: usize,
    opts: &Opts,
    res: &mut Results,
) -> Res<()> {
    let value = Bytes::from(vec![0x5a_u8; VALUE_BYTES]);
    let kv_rows = opts.kv_rows();
    if !kv_rows.is_empty() {
        let prefill = kv_phase(&clients[..1], KvOp::Put, PREFILL_WINDOW, KEYSPACE, &value).await;
        if !prefill.errors.is_empty() || prefill.done < KEYSPACE {
            return Err(format!(
                "writing the key space: {} of {KEYSPACE} puts; {}",
                prefill.done,
                prefill.errors.join("; ")
            ));
        }
    }
    for row in kv_rows {
        let total = opts.kv_ops_for(row);
        let n_clients = row.clients.min(clients.len());
        let warm = (total / 10).clamp(1, 1000);
        let w = kv_phase(&clients[..n_clients], row.op, row.window, warm, &value).await;
        let label = format!(
            "run {} {:<7} {} {}x{:<3}",
            run + 1,
            target.name(),
            row.op.name(),
            row.clients,
            row.window
        );
        if !w.errors.is_empty() {
            let e = format!("{label}: warm-up failed: {}", w.errors.join("; "));
            eprintln!("  {e}");
            res.notes.push(e);
            continue;
        }
        let phase = kv_phase(&clients[..n_clients], row.op, row.window, total, &value).await;
        let rate = phase.ops_per_s();
        let notes = phase_notes(&phase, total);
        eprintln!(
            "  {label}: {:>9} ops/s  p50 {:>8.1} us  p99 {:>8.1} us  cpu {} us/op{}",
            grouped(rate),
            us(phase.hist.value_at_quantile(0.5)),
            us(phase.hist.value_at_quantile(0.99)),
            cell(
                phase
                    .cpu_ns
                    .map(|c| c as f64 / 1e3 / phase.done.max(1) as f64),
                |v| format!("{v:.1}")
            ),
            if notes.is_empty() {
                String::new()
            } else {
                format!("  [{}]", notes.join("; "))
            }
        );
        res.notes
            .extend(notes.into_iter().map(|n| format!("{label}: {n}")));
        res.kv
            .entry((row, target))
            .or_default()
            .record(&phase, rate);
    }
    // Checkpoints: for each size, the saves write the keys the loads read.
    for &size in &opts.sizes {
        if !opts.checkpoints {
            break;
        }
        let data = Bytes::from(vec![0xa5_u8; size]);
        let n = opts.checkpoint_ops_for(size);
        let warm = (n / 10).max(CHECKPOINT_KEYS);
        for op in [CkOp::Save, CkOp::Load] {
            let row = CkRow { op, size };
            let label = format!(
                "run {} {:<7} checkpoint {} {}",
                run + 1,
                target.name(),
                op.name(),
                size_name(size)
            );
            let w = checkpoint_phase(&clients[0], op, size, warm, &data).await;
            if !w.errors.is_empty() {
                let e = format!("{label}: warm-up failed: {}", w.errors.join("; "));
                eprintln!("  {e}");
                res.notes.push(e);
                continue;
            }
            let phase = checkpoint_phase(&clients[0], op, size, n, &data).await;
            let mbps = if phase.secs > 0.0 {
                phase.done as f64 * size as f64 / phase.secs / 1e6
            } else {
                0.0
            };
            let notes = phase_notes(&phase, n);
            eprintln!(
                "  {label}: {mbps:>8.1} MB/s  {} ops  p50 {:.1} us  p99 {:.1} us{}",
                phase.done,
                us(phase.hist.value_at_quantile(0.5)),
                us(phase.hist.value_at_quantile(0.99)),
                if notes.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", notes.join("; "))
                }
            );
            res.notes
                .extend(notes.into_iter().map(|n| format!("{label}: {n}")));
            res.ck
                .entry((row, target))
                .or_default()
                .record(&phase, mbps);
        }
    }
    Ok(())
}

async fn run_target(target: Target, run: usize, opts: &Opts, res: &mut Results) {
    let n_clients = opts.clients.iter().copied().max().unwrap_or(1).max(1);
    let r = match target {
        Target::Durable | Target::Memory => sdk_run(target, n_clients, run, opts, res).await,
        Target::Bare => bare_run(n_clients, run, opts, res).await,
    };
    if let Err(e) = r {
        let e = format!("run {} {}: FAILED: {e}", run + 1, target.name());
        eprintln!("  {e}");
        res.notes.push(e);
    }
}

// ---------------------------------------------------------------------------
// The SDK: AgentClient + embedded gateway
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Sdk {
    client: AgentClient,
}

fn err_string(e: aether_client::Error) -> String {
    e.to_string()
}

impl Ops for Sdk {
    async fn put(&self, key: String, value: Bytes) -> Res<()> {
        self.client
            .kv_put(&key, value, &KvScope::Global, None)
            .await
            .map_err(err_string)
    }

    async fn get(&self, key: String) -> Res<usize> {
        self.client
            .kv_get(&key, &KvScope::Global)
            .await
            .map(|v| v.map_or(0, |b| b.len()))
            .map_err(err_string)
    }

    async fn save(&self, key: String, data: Bytes) -> Res<()> {
        self.client
            .checkpoint_save(&key, data, CheckpointTtl::Never)
            .await
            .map(drop)
            .map_err(err_string)
    }

    async fn load(&self, key: String) -> Res<usize> {
        self.client
            .checkpoint_load(&key)
            .await
            .map(|c| c.map_or(0, |c| c.data.len()))
            .map_err(err_string)
    }
}

async fn sdk_run(
    target: Target,
    n_clients: usize,
    run: usize,
    opts: &Opts,
    res: &mut Results,
) -> Res<()> {
    let tmp = match target {
        Target::Durable => {
            let mut b = tempfile::Builder::new();
            b.prefix("aether-kvbench-");
            let dir = match &opts.data_parent {
                Some(p) => b.tempdir_in(p),
                None => b.tempdir(),
            }
            .map_err(|e| format!("temporary data dir: {e}"))?;
            Some(dir)
        }
        _ => None,
    };
    let config = match &tmp {
        Some(dir) => GatewayConfig::dev().with_data_dir(dir.path()),
        None => GatewayConfig::dev(),
    };
    let gw = aether_gateway::start(config)
        .await
        .map_err(|e| format!("gateway: {e}"))?;
    let url = gw.url();
    let mut clients = Vec::new();
    let result = async {
        for i in 0..n_clients {
            let client = AgentClient::builder(WS, "kvbench", &i.to_string())
                .map_err(|e| e.to_string())?
                .gateway(&url)
                .reconnect(ReconnectPolicy::disabled())
                .connect_timeout(CONNECT_TIMEOUT)
                .request_timeout(OP_TIMEOUT)
                .build();
            clients.push(Sdk { client });
        }
        let connected = within(
            "SDK connects",
            CONNECT_TIMEOUT * 2,
            join_all(clients.iter().map(|c| c.client.connect())),
        )
        .await?;
        for r in connected {
            r.map_err(|e| format!("connect: {e}"))?;
        }
        measure(&clients, target, run, opts, res).await
    }
    .await;
    let _ = tokio::time::timeout(
        CLOSE_TIMEOUT * 2,
        join_all(clients.iter().map(|c| c.client.close())),
    )
    .await;
    drop(clients);
    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, gw.shutdown()).await;
    // The journal is flushed and the database released: remove the dir.
    drop(tmp);
    result
}

// ---------------------------------------------------------------------------
// The bare stack: a HashMap behind a minimal tonic server, a raw client
// ---------------------------------------------------------------------------

type DownTx = mpsc::Sender<Result<DownstreamMessage, Status>>;

/// The limit: answer each KV / checkpoint frame from a map, nothing else.
#[derive(Default, Clone)]
struct BareGateway {
    kv: Arc<Mutex<HashMap<String, Bytes>>>,
    checkpoints: Arc<Mutex<HashMap<String, Bytes>>>,
}

#[tonic::async_trait]
impl AetherGateway for BareGateway {
    type ConnectStream = ReceiverStream<Result<DownstreamMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<UpstreamMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let upstream = request.into_inner();
        let (tx, rx) = mpsc::channel(BARE_REPLY_QUEUE);
        tokio::spawn(self.clone().session(upstream, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

impl BareGateway {
    async fn session(self, mut upstream: Streaming<UpstreamMessage>, tx: DownTx) {
        // The first frame opens the session; any will do.
        if !matches!(upstream.message().await, Ok(Some(_))) {
            return;
        }
        let ack = DownstreamMessage {
            payload: Some(Down::ConnectionAck(Box::default())),
            active_extensions: Vec::new(),
        };
        if tx.send(Ok(ack)).await.is_err() {
            return;
        }
        while let Ok(Some(frame)) = upstream.message().await {
            let reply = match frame.payload {
                Some(Up::KvOp(op)) => Down::Kv(Box::new(self.kv_op(*op))),
                Some(Up::CheckpointOp(op)) => Down::Checkpoint(Box::new(self.checkpoint_op(*op))),
                _ => continue,
            };
            let msg = DownstreamMessage {
                payload: Some(reply),
                active_extensions: Vec::new(),
            };
            if tx.send(Ok(msg)).await.is_err() {
                break;
            }
        }
    }

    fn kv_op(&self, op: KvOperation) -> KvResponse {
        let mut resp = KvResponse {
            success: true,
            request_id: op.request_id,
            ..Default::default()
        };
        match kv_operation::OpType::try_from(op.op) {
            Ok(kv_operation::OpType::Put) => {
                self.kv.lock().expect("kv lock").insert(op.key, op.value);
            }
            Ok(kv_operation::OpType::Get) => {
                if let Some(v) = self.kv.lock().expect("kv lock").get(&op.key) {
                    resp.value = v.clone();
                }
            }
            _ => resp.success = false,
        }
        resp
    }

    fn checkpoint_op(&self, op: CheckpointOperation) -> CheckpointResponse {
        let mut resp = CheckpointResponse {
            success: true,
            request_id: op.request_id,
            ..Default::default()
        };
        match checkpoint_operation::OpType::try_from(op.op) {
            Ok(checkpoint_operation::OpType::Save) => {
                self.checkpoints
                    .lock()
                    .expect("checkpoint lock")
                    .insert(op.key, op.data);
                resp.saved_at = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
            }
            Ok(checkpoint_operation::OpType::Load) => {
                if let Some(d) = self
                    .checkpoints
                    .lock()
                    .expect("checkpoint lock")
                    .get(&op.key)
                {
                    resp.data = d.clone();
                    resp.saved_at = 1;
                }
            }
            _ => resp.success = false,
        }
        resp
    }
}

type Pending = Mutex<HashMap<String, oneshot::Sender<Down>>>;

/// A raw client: one request queue, replies matched by request id.
#[derive(Clone)]
struct Bare {
    tx: mpsc::Sender<UpstreamMessage>,
    pending: Arc<Pending>,
    ids: Arc<AtomicU64>,
}

impl Bare {
    async fn call(&self, make: impl FnOnce(String) -> Up) -> Res<Down> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed).to_string();
        let (done, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(id.clone(), done);
        let frame = UpstreamMessage {
            payload: Some(make(id.clone())),
            active_extensions: Vec::new(),
        };
        let forget = || {
            self.pending.lock().expect("pending lock").remove(&id);
        };
        if self.tx.send(frame).await.is_err() {
            forget();
            return Err("request stream closed".into());
        }
        match tokio::time::timeout(OP_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err("the response stream ended".into()),
            Err(_) => {
                forget();
                Err(format!("no reply within {OP_TIMEOUT:?}"))
            }
        }
    }

    async fn kv(&self, op: kv_operation::OpType, key: String, value: Bytes) -> Res<KvResponse> {
        let reply = self
            .call(|request_id| {
                Up::KvOp(Box::new(KvOperation {
                    op: op as i32,
                    scope: kv_operation::Scope::Global as i32,
                    key,
                    value,
                    request_id,
                    ..Default::default()
                }))
            })
            .await?;
        match reply {
            Down::Kv(r) if r.success => Ok(*r),
            other => Err(format!("unexpected reply {other:?}")),
        }
    }

    async fn checkpoint(
        &self,
        op: checkpoint_operation::OpType,
        key: String,
        data: Bytes,
    ) -> Res<CheckpointResponse> {
        let reply = self
            .call(|request_id| {
                Up::CheckpointOp(Box::new(CheckpointOperation {
                    op: op as i32,
                    key,
                    data,
                    request_id,
                    ..Default::default()
                }))
            })
            .await?;
        match reply {
            Down::Checkpoint(r) if r.success => Ok(*r),
            other => Err(format!("unexpected reply {other:?}")),
        }
    }
}

impl Ops for Bare {
    async fn put(&self, key: String, value: Bytes) -> Res<()> {
        self.kv(kv_operation::OpType::Put, key, value)
            .await
            .map(drop)
    }

    async fn get(&self, key: String) -> Res<usize> {
        self.kv(kv_operation::OpType::Get, key, Bytes::new())
            .await
            .map(|r| r.value.len())
    }

    async fn save(&self, key: String, data: Bytes) -> Res<()> {
        self.checkpoint(checkpoint_operation::OpType::Save, key, data)
            .await
            .map(drop)
    }

    async fn load(&self, key: String) -> Res<usize> {
        self.checkpoint(checkpoint_operation::OpType::Load, key, Bytes::new())
            .await
            .map(|r| r.data.len())
    }
}

/// Connects a raw client; returns it and its response reader task.
async fn bare_connect(url: &str, spec: &str) -> Res<(Bare, JoinHandle<()>)> {
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
                    implementation: "kvbench".to_string(),
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
            })) => {}
            other => return Err(format!("expected a ConnectionAck, got {other:?}")),
        }
        let pending: Arc<Pending> = Arc::default();
        let reader = tokio::spawn(read_replies(inbound, pending.clone()));
        Ok((
            Bare {
                tx,
                pending,
                ids: Arc::default(),
            },
            reader,
        ))
    };
    within("a bare connection", CONNECT_TIMEOUT, attempt).await?
}

async fn read_replies(mut inbound: Streaming<DownstreamMessage>, pending: Arc<Pending>) {
    while let Ok(Some(m)) = inbound.message().await {
        let Some(payload) = m.payload else { continue };
        let id = match &payload {
            Down::Kv(r) => &r.request_id,
            Down::Checkpoint(r) => &r.request_id,
            _ => continue,
        };
        let waiter = pending.lock().expect("pending lock").remove(id);
        if let Some(w) = waiter {
            let _ = w.send(payload);
        }
    }
    // Fail whatever still waits.
    pending.lock().expect("pending lock").clear();
}

async fn bare_run(n_clients: usize, run: usize, opts: &Opts, res: &mut Results) -> Res<()> {
    let server = support::BareServer::start(BareGateway::default(), "bare server").await?;
    let mut readers = Vec::new();
    let result = async {
        let conns = join_all((0..n_clients).map(|i| {
            let url = server.url.clone();
            async move { bare_connect(&url, &i.to_string()).await }
        }))
        .await
        .into_iter()
        .collect::<Res<Vec<_>>>()?;
        let mut clients = Vec::new();
        for (c, reader) in conns {
            clients.push(c);
            readers.push(reader);
        }
        measure(&clients, Target::Bare, run, opts, res).await
    }
    .await;
    for r in &readers {
        r.abort();
    }
    server.stop().await;
    result
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

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

fn cell(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "n/a".to_string())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn size_name(size: usize) -> String {
    if size >= 1024 * 1024 && size.is_multiple_of(1024 * 1024) {
        format!("{} MiB", size / (1024 * 1024))
    } else if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

struct Report<'a> {
    opts: &'a Opts,
    res: &'a Results,
}

impl Report<'_> {
    fn kv(&self, row: KvRow, t: Target, f: impl Fn(&Samples) -> &Vec<f64>) -> Option<f64> {
        self.res.kv.get(&(row, t)).and_then(|s| median(f(s)))
    }

    fn ck(&self, row: CkRow, t: Target, f: impl Fn(&Samples) -> &Vec<f64>) -> Option<f64> {
        self.res.ck.get(&(row, t)).and_then(|s| median(f(s)))
    }

    fn print(&self) {
        let kv_rows = self.opts.kv_rows();
        let f0 = |v: f64| grouped(v);
        let f1 = |v: f64| format!("{v:.1}");
        let f2 = |v: f64| format!("{v:.2}");
        if !kv_rows.is_empty() {
            println!();
            println!(
                "KV throughput: awaited calls, key {KEY_BYTES} B, value {VALUE_BYTES} B, median of {} runs",
                self.opts.runs
            );
            println!(
                "(in flight = calls outstanding per client; with 2 clients the rate is their sum)"
            );
            println!(
                "{:>3} | {:>7} | {:>9} | {:>13} | {:>12} | {:>10} | {:>10} | {:>11}",
                "op",
                "clients",
                "in flight",
                "durable ops/s",
                "memory ops/s",
                "bare ops/s",
                "dur/memory",
                "memory/bare"
            );
            println!(
                "{:->3}-+-{:->7}-+-{:->9}-+-{:->13}-+-{:->12}-+-{:->10}-+-{:->10}-+-{:->11}",
                "", "", "", "", "", "", "", ""
            );
            for &row in &kv_rows {
                let d = self.kv(row, Target::Durable, |s| &s.rate);
                let m = self.kv(row, Target::Memory, |s| &s.rate);
                let b = self.kv(row, Target::Bare, |s| &s.rate);
                println!(
                    "{:>3} | {:>7} | {:>9} | {:>13} | {:>12} | {:>10} | {:>10} | {:>11}",
                    row.op.name(),
                    row.clients,
                    row.window,
                    cell(d, f0),
                    cell(m, f0),
                    cell(b, f0),
                    cell(ratio(d, m), f2),
                    cell(ratio(m, b), f2),
                );
            }
            println!();
            println!("KV latency per call (us), median of runs:");
            println!(
                "{:>3} | {:>7} | {:>9} | {:>11} | {:>11} | {:>10} | {:>10} | {:>8} | {:>8}",
                "op",
                "clients",
                "in flight",
                "durable p50",
                "durable p99",
                "memory p50",
                "memory p99",
                "bare p50",
                "bare p99"
            );
            println!(
                "{:->3}-+-{:->7}-+-{:->9}-+-{:->11}-+-{:->11}-+-{:->10}-+-{:->10}-+-{:->8}-+-{:->8}",
                "", "", "", "", "", "", "", "", ""
            );
            for &row in &kv_rows {
                println!(
                    "{:>3} | {:>7} | {:>9} | {:>11} | {:>11} | {:>10} | {:>10} | {:>8} | {:>8}",
                    row.op.name(),
                    row.clients,
                    row.window,
                    cell(self.kv(row, Target::Durable, |s| &s.p50_us), f1),
                    cell(self.kv(row, Target::Durable, |s| &s.p99_us), f1),
                    cell(self.kv(row, Target::Memory, |s| &s.p50_us), f1),
                    cell(self.kv(row, Target::Memory, |s| &s.p99_us), f1),
                    cell(self.kv(row, Target::Bare, |s| &s.p50_us), f1),
                    cell(self.kv(row, Target::Bare, |s| &s.p99_us), f1),
                );
            }
            println!();
            println!(
                "KV CPU cost (whole process: clients + server + journal thread), median of runs:"
            );
            println!(
                "{:>3} | {:>7} | {:>9} | {:>11} | {:>11} | {:>11} | {:>9} | {:>9} | {:>9}",
                "op",
                "clients",
                "in flight",
                "durable cpu",
                "memory cpu",
                "bare cpu",
                "durable",
                "memory",
                "bare"
            );
            println!(
                "{:>3} | {:>7} | {:>9} | {:>11} | {:>11} | {:>11} | {:>9} | {:>9} | {:>9}",
                "", "", "", "us/op", "us/op", "us/op", "cores", "cores", "cores"
            );
            println!(
                "{:->3}-+-{:->7}-+-{:->9}-+-{:->11}-+-{:->11}-+-{:->11}-+-{:->9}-+-{:->9}-+-{:->9}",
                "", "", "", "", "", "", "", "", ""
            );
            for &row in &kv_rows {
                println!(
                    "{:>3} | {:>7} | {:>9} | {:>11} | {:>11} | {:>11} | {:>9} | {:>9} | {:>9}",
                    row.op.name(),
                    row.clients,
                    row.window,
                    cell(self.kv(row, Target::Durable, |s| &s.cpu_us_per_op), f2),
                    cell(self.kv(row, Target::Memory, |s| &s.cpu_us_per_op), f2),
                    cell(self.kv(row, Target::Bare, |s| &s.cpu_us_per_op), f2),
                    cell(self.kv(row, Target::Durable, |s| &s.cores_busy), f2),
                    cell(self.kv(row, Target::Memory, |s| &s.cores_busy), f2),
                    cell(self.kv(row, Target::Bare, |s| &s.cores_busy), f2),
                );
            }
        }
        let ck_rows = self.opts.ck_rows();
        if !ck_rows.is_empty() {
            println!();
            println!(
                "Checkpoints: sequential awaited calls, MB/s = 10^6 payload bytes/s, median of {} runs",
                self.opts.runs
            );
            println!(
                "{:>4} | {:>8} | {:>4} | {:>12} | {:>11} | {:>9} | {:>11} | {:>10} | {:>8}",
                "op",
                "size",
                "ops",
                "durable MB/s",
                "memory MB/s",
                "bare MB/s",
                "durable p50",
                "memory p50",
                "bare p50"
            );
            println!(
                "{:>4} | {:>8} | {:>4} | {:>12} | {:>11} | {:>9} | {:>11} | {:>10} | {:>8}",
                "", "", "/run", "", "", "", "us", "us", "us"
            );
            println!(
                "{:->4}-+-{:->8}-+-{:->4}-+-{:->12}-+-{:->11}-+-{:->9}-+-{:->11}-+-{:->10}-+-{:->8}",
                "", "", "", "", "", "", "", "", ""
            );
            for &row in &ck_rows {
                println!(
                    "{:>4} | {:>8} | {:>4} | {:>12} | {:>11} | {:>9} | {:>11} | {:>10} | {:>8}",
                    row.op.name(),
                    size_name(row.size),
                    self.opts.checkpoint_ops_for(row.size),
                    cell(self.ck(row, Target::Durable, |s| &s.rate), f1),
                    cell(self.ck(row, Target::Memory, |s| &s.rate), f1),
                    cell(self.ck(row, Target::Bare, |s| &s.rate), f1),
                    cell(self.ck(row, Target::Durable, |s| &s.p50_us), f0),
                    cell(self.ck(row, Target::Memory, |s| &s.p50_us), f0),
                    cell(self.ck(row, Target::Bare, |s| &s.p50_us), f0),
                );
            }
        }
        self.print_per_run();
        self.print_targets();
        if !self.res.notes.is_empty() {
            println!();
            println!("notes:");
            for n in &self.res.notes {
                println!("  {n}");
            }
        }
    }

    fn print_per_run(&self) {
        let kv_rows = self.opts.kv_rows();
        if kv_rows.is_empty() || self.opts.runs < 2 {
            return;
        }
        println!();
        println!("per-run KV ops/s (durable | memory | bare):");
        let list = |row: KvRow, t: Target| {
            self.res
                .kv
                .get(&(row, t))
                .map(|s| {
                    s.rate
                        .iter()
                        .map(|x| grouped(*x))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        for row in kv_rows {
            println!(
                "  {} {}x{:<3} [{}] | [{}] | [{}]",
                row.op.name(),
                row.clients,
                row.window,
                list(row, Target::Durable),
                list(row, Target::Memory),
                list(row, Target::Bare)
            );
        }
    }

    fn print_targets(&self) {
        let has = |t| self.opts.targets.contains(&t);
        if !self.opts.kv || !has(Target::Durable) {
            return;
        }
        let rate = |op, clients, window| {
            self.kv(
                KvRow {
                    op,
                    clients,
                    window,
                },
                Target::Durable,
                |s| &s.rate,
            )
        };
        let verdict = |ok: Option<bool>| match ok {
            Some(true) => "MET",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        println!();
        println!("targets (durable gateway, medians):");
        for op in [KvOp::Put, KvOp::Get] {
            let r = rate(op, 1, 64);
            println!(
                "  >= 20,000 awaited {} ops/s with 64 in flight on one client: {} ops/s -> {}",
                op.name(),
                cell(r, grouped),
                verdict(r.map(|r| r >= 20_000.0))
            );
        }
        let serial = rate(KvOp::Put, 1, 1);
        let windowed = rate(KvOp::Put, 1, 64);
        let x = ratio(windowed, serial);
        println!(
            "  durable puts do not serialize the gateway (64 in flight >= 10x 1 in flight): {} vs {} ops/s = {}x -> {}",
            cell(windowed, grouped),
            cell(serial, grouped),
            cell(x, |v| format!("{v:.1}")),
            verdict(x.map(|x| x >= 10.0))
        );
        let two_serial = rate(KvOp::Put, 2, 1);
        let x2 = ratio(two_serial, serial);
        println!(
            "  two clients with 1 put in flight each vs one (ideal 2x, 1x = serialized): {} vs {} ops/s = {}x",
            cell(two_serial, grouped),
            cell(serial, grouped),
            cell(x2, |v| format!("{v:.2}")),
        );
        let two_windowed = rate(KvOp::Put, 2, 64);
        println!(
            "  two clients with 64 puts in flight each vs one: {} vs {} ops/s = {}x",
            cell(two_windowed, grouped),
            cell(windowed, grouped),
            cell(ratio(two_windowed, windowed), |v| format!("{v:.2}")),
        );
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

async fn run_all(opts: &Opts) -> Results {
    let mut res = Results::default();
    for run in 0..opts.runs {
        eprintln!("run {}/{}", run + 1, opts.runs);
        // Rotate the order of the targets run by run.
        let mut order = opts.targets.clone();
        let len = order.len().max(1);
        order.rotate_left(run % len);
        for target in order {
            run_target(target, run, opts, &mut res).await;
        }
    }
    res
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
        eprintln!("kv bench: watchdog: still running after {budget:?}; aborting");
        std::process::exit(3);
    });

    println!("command: {}", argv.join(" "));
    println!("source: {}", source_revision());
    println!(
        "machine: {cores} cores available; tokio multi-thread runtime with {cores} workers (+ the gateway's journal thread); loopback 127.0.0.1"
    );
    println!(
        "config: runs {}, KV ops/row {} (1 in flight: {}), in flight {:?}, clients {:?}, key space {KEYSPACE}, checkpoint sizes {:?} with {} MiB/row, targets {:?}{}",
        opts.runs,
        opts.ops,
        opts.serial_ops,
        opts.windows,
        opts.clients,
        opts.sizes.iter().map(|s| size_name(*s)).collect::<Vec<_>>(),
        opts.checkpoint_bytes / (1024 * 1024),
        opts.targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
        if opts.quick { " (quick)" } else { "" }
    );
    if let Some(p) = &opts.data_parent {
        println!("data dirs under: {}", p.display());
    } else {
        println!("data dirs under: {}", std::env::temp_dir().display());
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("load average at start: {}", load_average());
    let started = Instant::now();
    let res = rt.block_on(run_all(&opts));
    rt.shutdown_timeout(Duration::from_secs(5));
    Report {
        opts: &opts,
        res: &res,
    }
    .print();
    println!();
    println!(
        "total time {:.1} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
