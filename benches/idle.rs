//! Idle-client memory benchmark: what one connected `AgentClient` that
//! sends and receives nothing costs in resident memory, in the client
//! process and in the gateway.
//!
//! ```text
//! cargo bench --bench idle                          # full run
//! cargo bench --bench idle -- --quick               # smoke run
//! cargo bench --bench idle -- --clients 1,100,1000 --runs 3
//! ```
//!
//! For each number of clients N (1, 100 and 1,000 by default) it measures
//! the resident set size (`VmRSS` of `/proc/<pid>/status`) of two
//! processes, first with 0 clients (the baseline) and then with N idle
//! clients connected:
//!
//! * **client**: the process holding the N `AgentClient`s, each a distinct
//!   identity (`idle::bench::c{i}`), built with the default options (only
//!   reconnection is disabled, so a lost connection shows up instead of
//!   being silently redone) and connected with `connect().await`; after
//!   that they send and receive nothing;
//! * **gateway**: `aether_gateway::start(GatewayConfig::dev())` serving
//!   those N sessions.
//!
//! KiB/client is (RSS with N clients − RSS with 0 clients) / N. The row for
//! 1 client also carries one-time costs (the first connection warms up
//! lazily allocated state on both sides) and is within the noise of the
//! allocator; the **marginal cost** between the two largest counts (100 and
//! 1,000 by default), (growth at 1,000 − growth at 100) / 900, cancels those
//! one-time costs and is the most robust figure.
//!
//! # How
//!
//! The gateway runs in a separate process so that its memory is measured
//! apart from the clients'. The bench binary re-executes itself
//! (`std::env::current_exe()`) in three roles:
//!
//! * the **top** process (no hidden flag) parses the options, prints the
//!   header, runs every measurement point in a child and prints the table;
//! * a **measuring child** (`--measure N`) holds the clients of one
//!   point: it starts a gateway child, samples both RSS values with 0
//!   clients, connects the N clients, waits (event-driven, on each
//!   client's state watch) until every one of them is `Connected`, samples
//!   again, prints one result line for the top process, closes the clients
//!   and stops the gateway;
//! * a **gateway child** (`--serve-gateway`) starts the gateway, prints its
//!   URL on stdout and serves until its stdin closes (its parent ended or
//!   stopped it) or it is killed.
//!
//! Every point (each count, each run) gets a fresh client process and a
//! fresh gateway process. Reusing one process would skew the numbers:
//! memory freed by the clients of an earlier point stays in the
//! allocator's arenas and is reused by the next point's clients (growth
//! under-counted), and the gateway keeps a mailbox and the session lineage
//! of every identity it has seen after it disconnects. Both children use
//! the tokio runtime of the other benches (multi-thread, one worker per
//! core); the runtime, and the gateway with its listener, exist before the
//! baseline is taken, so the baseline is "everything but the clients".
//!
//! Sampling: after a settling pause, both RSS values are read every
//! interval until the last few readings of each process agree within
//! max(64 KiB, 0.5 %); the median of those readings is used. A point whose
//! readings never settle is marked `~` in the table. The runs of one count
//! are summarized by their median; the counts are interleaved run by run
//! so drift in machine load hits all of them. Nothing is asserted: the
//! bench prints what it saw.
//!
//! # File descriptors
//!
//! Each client holds one TCP connection, so with 1,000 clients the
//! measuring child and the gateway child each need a little over 1,000
//! open files. The top process checks the soft `RLIMIT_NOFILE` (children
//! inherit it) and stops with advice when it is too low; raise it in the
//! shell first, e.g. `ulimit -n 4096` (the bench does not raise it itself:
//! that would need `libc`, which is not a dependency).
//!
//! Every wait is bounded (connects, the state watch, the gateway's start
//! and exit, each measuring child), and each process runs a watchdog
//! thread that ends it if it overruns.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aether_client::{AgentClient, ReconnectPolicy};
use aether_gateway::GatewayConfig;
use futures_util::future::join_all;

/// Workspace and implementation of every client; the specifier is `c{i}`.
const WS: &str = "idle";
const IMPLEMENTATION: &str = "bench";
/// Connecting one client (TCP + handshake + ack).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients connecting at once.
const CONNECT_BATCH: usize = 100;
/// Waiting for every client's state to read `Connected`.
const CONNECTED_TIMEOUT: Duration = Duration::from_secs(30);
/// Closing all clients.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);
/// The gateway child printing its URL.
const GATEWAY_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The gateway child exiting once its stdin is closed.
const GATEWAY_EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// The gateway's graceful shutdown inside the gateway child.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// One measuring child, from spawn to exit (its own watchdog fires first).
const POINT_TIMEOUT: Duration = Duration::from_secs(300);
/// Watchdog of a measuring child.
const MEASURE_BUDGET: Duration = Duration::from_secs(240);
/// Watchdog of a gateway child (it normally ends with its measuring child).
const SERVE_BUDGET: Duration = Duration::from_secs(600);
/// Open files needed besides one per client.
const FD_HEADROOM: u64 = 256;
/// Readings of one process agree when they differ by at most this much...
const STEADY_KIB: u64 = 64;
/// ...or by this fraction of the reading (1/200 = 0.5 %), if larger.
const STEADY_DIVISOR: u64 = 200;
/// Marks the measuring child's result line on its stdout.
const RESULT_TAG: &str = "idle-result";

type Res<T> = Result<T, String>;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Opts {
    clients: Vec<usize>,
    runs: usize,
    quick: bool,
}

/// What this process is.
enum Role {
    Top(Opts),
    Measure { clients: usize, quick: bool },
    Serve,
}

const USAGE: &str = "usage: idle [--quick] [--clients 1,100,1000] [--runs N]

  --quick            smoke run: 1 run, shorter settling
  --clients LIST     idle client counts (default 1,100,1000)
  --runs N           runs per count, each in fresh processes; the median is
                     reported (default 3)";

fn parse_args() -> Role {
    let mut opts = Opts {
        clients: vec![1, 100, 1000],
        runs: 3,
        quick: false,
    };
    let mut runs = None;
    let mut measure = None;
    let mut serve = false;
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
            "--clients" => {
                let v = value("--clients");
                opts.clients = v
                    .split(',')
                    .map(|p| parse_num(p.trim(), "--clients") as usize)
                    .collect();
            }
            "--runs" => runs = Some(parse_num(&value("--runs"), "--runs") as usize),
            // Hidden: the child roles.
            "--measure" => measure = Some(parse_num(&value("--measure"), "--measure") as usize),
            "--serve-gateway" => serve = true,
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
    if serve {
        return Role::Serve;
    }
    if let Some(clients) = measure {
        return Role::Measure {
            clients,
            quick: opts.quick,
        };
    }
    if opts.quick {
        opts.runs = 1;
    }
    if let Some(r) = runs {
        opts.runs = r;
    }
    opts.clients.sort_unstable();
    opts.clients.dedup();
    Role::Top(opts)
}

fn parse_num(v: &str, name: &str) -> u64 {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => n,
        _ => fail(&format!("{name}: expected a positive number, got {v:?}")),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("idle bench: {msg}\n{USAGE}");
    std::process::exit(2);
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The runtime of the other benches: multi-thread, one worker per core.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Ends the process if it is still running after `budget`.
fn watchdog(budget: Duration, who: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        eprintln!("idle bench ({who}): watchdog: still running after {budget:?}; aborting");
        std::process::exit(3);
    });
}

/// `VmRSS` of a process (this one for `None`), in KiB.
fn rss_kib(pid: Option<u32>) -> Res<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| format!("no VmRSS in {path}"))
}

/// The soft and hard limits on open files of this process.
fn nofile_limits() -> Option<(String, String)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    Some((fields.next()?.to_string(), fields.next()?.to_string()))
}

/// Reads one line from `from` on a helper thread; `None` on timeout or EOF.
fn read_line_within<R: Read + Send + 'static>(from: R, limit: Duration) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let n = BufReader::new(from).read_line(&mut line).unwrap_or(0);
        let _ = tx.send((n > 0).then_some(line));
    });
    rx.recv_timeout(limit).ok().flatten()
}

/// Waits for `child` to exit for at most `limit`; kills it otherwise.
/// `true` when it exited by itself with success.
fn wait_or_kill(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

fn median_u64(v: &[u64]) -> u64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s[s.len() / 2]
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

// ---------------------------------------------------------------------------
// Gateway child (`--serve-gateway`)
// ---------------------------------------------------------------------------

fn serve_main() -> i32 {
    watchdog(SERVE_BUDGET, "gateway");
    let rt = runtime();
    let gw = match rt.block_on(aether_gateway::start(GatewayConfig::dev())) {
        Ok(gw) => gw,
        Err(e) => {
            eprintln!("idle bench (gateway): start failed: {e}");
            return 1;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{}", gw.url())
            .and_then(|_| out.flush())
            .is_err()
        {
            return 1;
        }
    }
    // Serve (on the runtime's workers) until the parent closes our stdin.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    let _ = rt.block_on(async { tokio::time::timeout(SHUTDOWN_TIMEOUT, gw.shutdown()).await });
    rt.shutdown_timeout(Duration::from_secs(5));
    0
}

/// A gateway child process; stopped (or killed) when dropped.
struct GatewayProcess {
    child: Child,
    url: String,
}

impl GatewayProcess {
    fn spawn() -> Res<GatewayProcess> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .arg("--serve-gateway")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn the gateway child: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        match read_line_within(stdout, GATEWAY_START_TIMEOUT) {
            Some(line) if line.trim().starts_with("http") => Ok(GatewayProcess {
                url: line.trim().to_string(),
                child,
            }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "the gateway child did not print its URL within {GATEWAY_START_TIMEOUT:?} (got {other:?})"
                ))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes its stdin and waits for it to exit (bounded; killed after).
    fn stop(mut self) -> bool {
        drop(self.child.stdin.take());
        wait_or_kill(&mut self.child, GATEWAY_EXIT_TIMEOUT)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Measuring child (`--measure N`)
// ---------------------------------------------------------------------------

/// How RSS is read once the processes are where they should be.
struct Sampling {
    /// Pause before the first reading.
    settle: Duration,
    /// Between readings.
    interval: Duration,
    /// Readings that must agree; their median is used.
    window: usize,
    /// Give up waiting for agreement after this many readings.
    max_samples: usize,
}

impl Sampling {
    fn new(quick: bool) -> Sampling {
        if quick {
            Sampling {
                settle: Duration::from_millis(300),
                interval: Duration::from_millis(100),
                window: 3,
                max_samples: 20,
            }
        } else {
            Sampling {
                settle: Duration::from_secs(1),
                interval: Duration::from_millis(200),
                window: 5,
                max_samples: 50,
            }
        }
    }
}

/// Settled RSS of this process and of the gateway, in KiB.
struct Reading {
    client: u64,
    gateway: u64,
    stable: bool,
}

fn steady(window: &[u64]) -> bool {
    let lo = *window.iter().min().expect("non-empty window");
    let hi = *window.iter().max().expect("non-empty window");
    hi - lo <= STEADY_KIB.max(hi / STEADY_DIVISOR)
}

/// Waits, then reads both RSS values until the last `window` readings of
/// each agree (or `max_samples` were taken); the median of the window.
fn settled_rss(s: &Sampling, gateway_pid: u32) -> Res<Reading> {
    std::thread::sleep(s.settle);
    let (mut client, mut gateway) = (Vec::new(), Vec::new());
    loop {
        client.push(rss_kib(None)?);
        gateway.push(rss_kib(Some(gateway_pid))?);
        if client.len() >= s.window {
            let from = client.len() - s.window;
            let stable = steady(&client[from..]) && steady(&gateway[from..]);
            if stable || client.len() >= s.max_samples {
                return Ok(Reading {
                    client: median_u64(&client[from..]),
                    gateway: median_u64(&gateway[from..]),
                    stable,
                });
            }
        }
        std::thread::sleep(s.interval);
    }
}

fn idle_client(url: &str, i: usize) -> Res<AgentClient> {
    Ok(AgentClient::builder(WS, IMPLEMENTATION, &format!("c{i}"))
        .map_err(|e| e.to_string())?
        .gateway(url)
        .reconnect(ReconnectPolicy::disabled())
        .connect_timeout(CONNECT_TIMEOUT)
        .build())
}

/// Builds and connects `n` clients, [`CONNECT_BATCH`] at a time.
async fn connect_all(url: &str, n: usize) -> Res<Vec<AgentClient>> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        clients.push(idle_client(url, i)?);
    }
    for batch in clients.chunks(CONNECT_BATCH) {
        let results = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            join_all(batch.iter().map(|c| c.connect())),
        )
        .await
        .map_err(|_| format!("connects timed out after {:?}", CONNECT_TIMEOUT * 2))?;
        for r in results {
            r.map_err(|e| format!("connect: {e}"))?;
        }
    }
    Ok(clients)
}

/// Waits until every client's state reads `Connected` (or fails if one
/// closed or the wait overruns).
async fn all_connected(clients: &[AgentClient]) -> Res<()> {
    let waits = clients.iter().map(|c| {
        let mut state = c.watch_state();
        async move {
            state
                .wait_for(|s| s.is_connected() || s.is_closed())
                .await
                .map(|s| s.is_connected())
                .unwrap_or(false)
        }
    });
    let connected = tokio::time::timeout(CONNECTED_TIMEOUT, join_all(waits))
        .await
        .map_err(|_| format!("clients not all connected after {CONNECTED_TIMEOUT:?}"))?;
    let down = connected.iter().filter(|c| !**c).count();
    if down > 0 {
        return Err(format!(
            "{down} clients closed instead of staying connected"
        ));
    }
    Ok(())
}

async fn close_all(clients: &[AgentClient]) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, join_all(clients.iter().map(|c| c.close()))).await;
}

fn measure_main(n: usize, quick: bool) -> i32 {
    watchdog(MEASURE_BUDGET, "measure");
    match measure(n, quick) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("idle bench (measure {n}): {e}");
            1
        }
    }
}

fn measure(n: usize, quick: bool) -> Res<String> {
    let sampling = Sampling::new(quick);
    let rt = runtime();
    let gateway = GatewayProcess::spawn()?;
    let base = settled_rss(&sampling, gateway.pid())?;
    let clients = rt.block_on(async {
        let clients = connect_all(&gateway.url, n).await?;
        all_connected(&clients).await?;
        Ok::<_, String>(clients)
    });
    let result = clients.and_then(|clients| {
        let loaded = settled_rss(&sampling, gateway.pid());
        let connected = clients.iter().filter(|c| c.is_connected()).count();
        rt.block_on(close_all(&clients));
        drop(clients);
        let loaded = loaded?;
        Ok(format!(
            "{RESULT_TAG} clients={n} connected={connected} client_base={} client_loaded={} \
             gateway_base={} gateway_loaded={} stable={}",
            base.client,
            loaded.client,
            base.gateway,
            loaded.gateway,
            base.stable && loaded.stable
        ))
    });
    if !gateway.stop() {
        eprintln!("idle bench (measure {n}): the gateway child did not exit cleanly");
    }
    rt.shutdown_timeout(Duration::from_secs(5));
    result
}

// ---------------------------------------------------------------------------
// Top process: run the points, print the table
// ---------------------------------------------------------------------------

/// One measured point, RSS in KiB.
#[derive(Debug, Clone)]
struct Point {
    clients: usize,
    connected: usize,
    client_base: u64,
    client_loaded: u64,
    gateway_base: u64,
    gateway_loaded: u64,
    stable: bool,
}

impl Point {
    fn client_growth(&self) -> f64 {
        self.client_loaded as f64 - self.client_base as f64
    }

    fn gateway_growth(&self) -> f64 {
        self.gateway_loaded as f64 - self.gateway_base as f64
    }

    fn parse(line: &str) -> Option<Point> {
        let rest = line.trim().strip_prefix(RESULT_TAG)?;
        let mut p = Point {
            clients: 0,
            connected: 0,
            client_base: 0,
            client_loaded: 0,
            gateway_base: 0,
            gateway_loaded: 0,
            stable: false,
        };
        for field in rest.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "clients" => p.clients = v.parse().ok()?,
                "connected" => p.connected = v.parse().ok()?,
                "client_base" => p.client_base = v.parse().ok()?,
                "client_loaded" => p.client_loaded = v.parse().ok()?,
                "gateway_base" => p.gateway_base = v.parse().ok()?,
                "gateway_loaded" => p.gateway_loaded = v.parse().ok()?,
                "stable" => p.stable = v.parse().ok()?,
                _ => {}
            }
        }
        Some(p)
    }
}

/// Runs one point in a fresh measuring child (bounded).
fn run_point(n: usize, quick: bool) -> Res<Point> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--measure").arg(n.to_string());
    if quick {
        cmd.arg("--quick");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn the measuring child: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = tx.send(out);
    });
    let out = rx.recv_timeout(POINT_TIMEOUT);
    let ok = wait_or_kill(&mut child, Duration::from_secs(5));
    let out = out.map_err(|_| format!("no result within {POINT_TIMEOUT:?}"))?;
    match out.lines().find_map(Point::parse) {
        Some(p) if ok => Ok(p),
        Some(_) => Err("the measuring child failed after printing a result".to_string()),
        None => Err("the measuring child failed (see its message above)".to_string()),
    }
}

/// `git rev-parse --short HEAD` of the source tree, plus how many tracked
/// files differ from it, when git is available.
fn source_revision() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_string())
}

fn mib(kib: f64) -> String {
    format!("{:.1}", kib / 1024.0)
}

fn print_table(opts: &Opts, points: &[Point], failures: &[String]) {
    let med = |n: usize, f: &dyn Fn(&Point) -> f64| {
        let v: Vec<f64> = points.iter().filter(|p| p.clients == n).map(f).collect();
        median(&v)
    };
    let na = || "n/a".to_string();
    println!();
    println!(
        "aether-rs idle client memory (VmRSS; growth over 0 clients; median of {} run{})",
        opts.runs,
        if opts.runs == 1 { "" } else { "s" }
    );
    println!(
        "{:>7} | {:>20} | {:>17} | {:>21} | {:>18}",
        "clients",
        "client RSS total MiB",
        "client KiB/client",
        "gateway RSS total MiB",
        "gateway KiB/client"
    );
    println!(
        "{:->7}-+-{:->20}-+-{:->17}-+-{:->21}-+-{:->18}",
        "", "", "", "", ""
    );
    let base_c: Vec<f64> = points.iter().map(|p| p.client_base as f64).collect();
    let base_g: Vec<f64> = points.iter().map(|p| p.gateway_base as f64).collect();
    println!(
        "{:>7} | {:>20} | {:>17} | {:>21} | {:>18}",
        0,
        median(&base_c).map_or_else(na, mib),
        "-",
        median(&base_g).map_or_else(na, mib),
        "-"
    );
    for &n in &opts.clients {
        let unstable = points.iter().any(|p| p.clients == n && !p.stable);
        let mark = if unstable { "~" } else { "" };
        let per = |g: Option<f64>| g.map_or_else(na, |g| format!("{:.1}{mark}", g / n as f64));
        println!(
            "{:>7} | {:>20} | {:>17} | {:>21} | {:>18}",
            n,
            med(n, &|p| p.client_loaded as f64).map_or_else(na, mib),
            per(med(n, &|p| p.client_growth())),
            med(n, &|p| p.gateway_loaded as f64).map_or_else(na, mib),
            per(med(n, &|p| p.gateway_growth())),
        );
    }
    if points.iter().any(|p| !p.stable) {
        println!("~ RSS readings did not settle within the sampling window in at least one run");
    }

    // Marginal cost between the two largest counts.
    let measured: Vec<usize> = opts
        .clients
        .iter()
        .copied()
        .filter(|&n| points.iter().any(|p| p.clients == n))
        .collect();
    if let [.., lo, hi] = measured[..] {
        let extra = (hi - lo) as f64;
        let marginal = |f: &dyn Fn(&Point) -> f64| match (med(hi, f), med(lo, f)) {
            (Some(h), Some(l)) => format!("{:.1}", (h - l) / extra),
            _ => na(),
        };
        println!();
        println!(
            "marginal cost from {lo} to {hi} clients (KiB per extra client): client {}, gateway {}",
            marginal(&|p| p.client_growth()),
            marginal(&|p| p.gateway_growth()),
        );
    }

    println!();
    println!("per run (KiB: client base -> loaded | gateway base -> loaded):");
    for &n in &opts.clients {
        for p in points.iter().filter(|p| p.clients == n) {
            println!(
                "  clients={:<5} connected={:<5} client {} -> {} (+{:.1}/client) | gateway {} -> {} (+{:.1}/client){}",
                p.clients,
                p.connected,
                p.client_base,
                p.client_loaded,
                p.client_growth() / n as f64,
                p.gateway_base,
                p.gateway_loaded,
                p.gateway_growth() / n as f64,
                if p.stable { "" } else { "  (unsettled)" }
            );
        }
    }
    if !failures.is_empty() {
        println!();
        println!("failures:");
        for f in failures {
            println!("  {f}");
        }
    }
}

fn top_main(opts: Opts) -> i32 {
    let cores = cores();
    let argv: Vec<String> = std::env::args().collect();
    // Every wait below is bounded; this is the outer bound of them all.
    let budget = if opts.quick {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(1800)
    };
    watchdog(budget, "top");

    let max_clients = opts.clients.iter().copied().max().unwrap_or(0) as u64;
    let need = max_clients + FD_HEADROOM;
    let limits = nofile_limits();
    println!("command: {}", argv.join(" "));
    println!("source: {}", source_revision());
    println!(
        "machine: {cores} cores available; tokio multi-thread runtime with {cores} workers in the client and in the gateway process; loopback 127.0.0.1; load average {}",
        load_average()
    );
    println!(
        "config: clients {:?}, runs {}, fresh client and gateway processes per point, open files limit {}{}",
        opts.clients,
        opts.runs,
        limits
            .as_ref()
            .map_or_else(|| "unknown".to_string(), |(s, h)| format!("{s} (hard {h})")),
        if opts.quick { " (quick)" } else { "" }
    );
    if let Some((soft, hard)) = &limits
        && let Ok(soft) = soft.parse::<u64>()
        && soft < need
    {
        eprintln!(
            "idle bench: {max_clients} clients need about {need} open files per process but the soft limit is {soft} (hard {hard}); raise it first, e.g. `ulimit -n {}`",
            need.max(4096)
        );
        return 2;
    }

    let started = Instant::now();
    let mut points = Vec::new();
    let mut failures = Vec::new();
    // Counts interleaved run by run, so drift in machine load hits all.
    for run in 0..opts.runs {
        for &n in &opts.clients {
            match run_point(n, opts.quick) {
                Ok(p) => {
                    eprintln!(
                        "  run {} clients={n}: client +{:.1} KiB/client, gateway +{:.1} KiB/client{}",
                        run + 1,
                        p.client_growth() / n as f64,
                        p.gateway_growth() / n as f64,
                        if p.stable { "" } else { " (unsettled)" }
                    );
                    points.push(p);
                }
                Err(e) => {
                    eprintln!("  run {} clients={n} FAILED: {e}", run + 1);
                    failures.push(format!("run {} clients={n}: {e}", run + 1));
                }
            }
        }
    }
    print_table(&opts, &points, &failures);
    println!();
    println!(
        "total time {:.1} s; load average at the end {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    if failures.is_empty() { 0 } else { 1 }
}

fn main() {
    let code = match parse_args() {
        Role::Top(opts) => top_main(opts),
        Role::Measure { clients, quick } => measure_main(clients, quick),
        Role::Serve => serve_main(),
    };
    std::process::exit(code);
}
