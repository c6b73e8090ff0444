//! Task timers benchmark: what pending task timers cost the gateway in
//! memory, how late they fire, and what the timer index costs task
//! creation.
//!
//! ```text
//! cargo bench --bench task_timers                      # 100,000 pending timers
//! cargo bench --bench task_timers -- --quick           # smoke run (2,000)
//! cargo bench --bench task_timers -- --tasks 50000 --creates 20000
//! ```
//!
//! The gateway runs in a child process (this binary re-executed with
//! `--serve-gateway`, dev mode, memory store) so that its resident memory
//! (`VmRSS`) is measured apart from the client's. One `AgentClient` drives
//! it with 256 operations in flight.
//!
//! * **creation**: `--creates` self-assigned tasks on a fresh gateway
//!   without a stuck-task TTL (no timer per task: what creation cost
//!   before the clockwork), then on a fresh gateway with one (every task
//!   gets a pending timer at creation); tasks/s of each (best of two
//!   interleaved rounds) and their ratio.
//!   Run it on the previous commit for the "today" figure of the first row.
//! * **pending timers**: `--tasks` tasks are created, claimed and paused
//!   with a scheduled wake an hour away (each holds a pending timer); the
//!   gateway's RSS growth over its baseline, per task.
//! * **lateness**: with those timers pending, 1,000 more tasks are paused
//!   with wakes spread over the next two seconds; each fires a status
//!   notification to its creator stamped with the gateway's clock when
//!   the timer fired, so lateness = stamp − due time (no network in it).
//!   p50, p99 and max.
//!
//! Nothing is asserted: the bench prints what it saw.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aether_client::tasks::{TaskSpec, WaitSpec};
use aether_client::{AgentClient, ReconnectPolicy};
use aether_gateway::{GatewayConfig, Limits};
use futures_util::{StreamExt, stream};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tokio::sync::mpsc;

type Res<T> = Result<T, String>;

const IN_FLIGHT: usize = 256;
const PROBES: usize = 1_000;

struct Opts {
    tasks: usize,
    creates: usize,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn rss_kib(pid: u32) -> Res<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no VmRSS in {path}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The gateway child: serves until its stdin closes.
fn serve(stuck_ttl: bool) -> i32 {
    let rt = runtime();
    let mut limits = Limits::default();
    if stuck_ttl {
        limits = limits.with_task_stuck_ttl(Some(Duration::from_secs(24 * 3600)));
    }
    let gw = match rt.block_on(aether_gateway::start(
        GatewayConfig::dev().with_limits(limits),
    )) {
        Ok(gw) => gw,
        Err(e) => {
            eprintln!("task_timers (gateway): {e}");
            return 1;
        }
    };
    println!("{}", gw.url());
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    rt.block_on(gw.shutdown());
    0
}

/// A gateway child process, stopped when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Gateway {
    fn start(stuck_ttl: bool) -> Res<Gateway> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("--serve-gateway");
        if stuck_ttl {
            cmd.arg("--stuck-ttl");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn the gateway: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut url = String::new();
        BufReader::new(stdout)
            .read_line(&mut url)
            .map_err(|e| e.to_string())?;
        Ok(Gateway {
            child,
            url: url.trim().to_string(),
        })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

async fn client(url: &str, spec: &str) -> Res<AgentClient> {
    let a = AgentClient::builder("bench", "timers", spec)
        .map_err(|e| e.to_string())?
        .gateway(url)
        .reconnect(ReconnectPolicy::default().max_retries(1))
        .build();
    a.connect().await.map_err(|e| e.to_string())?;
    Ok(a)
}

/// Creates `n` self-assigned tasks, `IN_FLIGHT` at a time; tasks/s.
async fn create_rate(a: &AgentClient, n: usize) -> Res<f64> {
    let t0 = Instant::now();
    let errors = stream::iter(0..n)
        .map(|_| a.create_task(TaskSpec::new("bench")))
        .buffer_unordered(IN_FLIGHT)
        .filter(|r| std::future::ready(r.is_err()))
        .count()
        .await;
    if errors > 0 {
        return Err(format!("{errors} creates failed"));
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// Creates, claims and pauses `n` tasks with wakes at `due(i)`.
async fn pause_many(
    a: &AgentClient,
    n: usize,
    due: impl Fn(usize) -> i64,
) -> Res<Vec<(String, i64)>> {
    let out = stream::iter(0..n)
        .map(|i| {
            let at = due(i);
            async move {
                let t = a.create_task(TaskSpec::new("sleeper")).await?;
                a.claim_task(&t.task_id).await?;
                a.pause_task(&t.task_id, WaitSpec::input().wake_at_unix_ms(at))
                    .await?;
                Ok::<_, aether_client::Error>((t.task_id, at))
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    out.into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

async fn run(opts: Opts) -> Res<()> {
    println!(
        "aether-rs task timers (gateway in a child process, {IN_FLIGHT} operations in flight)"
    );

    // Two interleaved rounds, the best of each kept, so warm-up and drift
    // do not favour one.
    let mut rates = [0f64; 2];
    for _ in 0..2 {
        for (i, stuck) in [false, true].into_iter().enumerate() {
            let gw = Gateway::start(stuck)?;
            let a = client(&gw.url, "creator").await?;
            rates[i] = rates[i].max(create_rate(&a, opts.creates).await?);
            a.close().await;
        }
    }
    println!(
        "creation: {:.0} tasks/s without a timer per task, {:.0} tasks/s with one ({:+.1} %)",
        rates[0],
        rates[1],
        (rates[1] / rates[0] - 1.0) * 100.0
    );

    let gw = Gateway::start(false)?;
    let pid = gw.child.id();
    let a = client(&gw.url, "sleeper").await?;
    // The creator hears each status change with the gateway's clock; a
    // `running` after `waiting_input` is a wake.
    let fired: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let last: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let f = fired.clone();
    a.on_progress(move |u| {
        let before = last.lock().insert(u.task_id.clone(), u.state.clone());
        if u.state == "running" && before.as_deref() == Some("waiting_input") {
            f.lock().insert(u.task_id.clone(), u.timestamp_ms);
            let _ = done_tx.send(());
        }
        async {}
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = rss_kib(pid)?;
    let far = now_ms() + 3_600_000;
    pause_many(&a, opts.tasks, |i| far + i as i64).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss_kib(pid)?.saturating_sub(base);
    println!(
        "pending timers: {} tasks paused with a wake an hour away: gateway RSS +{} KiB ({:.2} KiB/task)",
        opts.tasks,
        grown,
        grown as f64 / opts.tasks as f64
    );

    let start = now_ms() + 3_000;
    let probes = pause_many(&a, PROBES, |i| start + (i as i64 * 2_000) / PROBES as i64).await?;
    for _ in 0..PROBES {
        tokio::time::timeout(Duration::from_secs(60), done.recv())
            .await
            .map_err(|_| "probes did not all fire within a minute")?;
    }
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let stamps = std::mem::take(&mut *fired.lock());
    for (id, due) in &probes {
        let at = stamps.get(id).ok_or("a probe fired without a stamp")?;
        hist.record(u64::try_from(at - due).unwrap_or(0))
            .map_err(|e| e.to_string())?;
    }
    println!(
        "lateness of {PROBES} wakes with {} other timers pending: p50 {} ms, p99 {} ms, max {} ms",
        opts.tasks,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max()
    );
    a.close().await;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve-gateway") {
        std::process::exit(serve(args.iter().any(|a| a == "--stuck-ttl")));
    }
    let mut opts = Opts {
        tasks: 100_000,
        creates: 20_000,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |what: &str| -> usize {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match a.as_str() {
            "--quick" => {
                opts.tasks = 2_000;
                opts.creates = 2_000;
            }
            "--tasks" => opts.tasks = num("--tasks"),
            "--creates" => opts.creates = num("--creates"),
            _ => {}
        }
    }
    if let Err(e) = runtime().block_on(run(opts)) {
        eprintln!("task_timers: {e}");
        std::process::exit(1);
    }
}
