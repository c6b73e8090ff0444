//! The `aether-gateway` binary: the embedded gateway as a process.
//!
//! Prints one line to stdout, `listening on HOST:PORT`, then, with
//! `--metrics-addr`, a second one, `metrics on HOST:PORT`; logs go to
//! stderr (`RUST_LOG`, default `info`). SIGTERM or Ctrl-C shut it down
//! gracefully, then it exits 0.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use aether_gateway::{CertPrincipal, GatewayConfig, Limits, TlsConfig};
use clap::Parser;

/// Embedded, protocol-compatible Aether gateway.
#[derive(Debug, Parser)]
#[command(name = "aether-gateway", version)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Directory for durable state.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Dev mode: no credentials needed, every session is an administrator.
    #[arg(long)]
    dev: bool,
    /// The administrator's API key: it authenticates any principal and may
    /// mint and revoke API tokens. Prefer --admin-key-file (or the
    /// AETHER_ADMIN_KEY environment variable): a command line is visible
    /// to other local users.
    #[arg(long, env = "AETHER_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Reads the admin key from this file (trailing whitespace ignored).
    #[arg(long, conflicts_with = "admin_key")]
    admin_key_file: Option<PathBuf>,
    /// Server certificate (PEM); enables TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA (PEM) that client certificates must chain to (mTLS).
    #[arg(long, requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Seconds a finished task is kept before it is purged (default 7 days).
    #[arg(long)]
    task_retention_secs: Option<u64>,
    /// Cancel an unfinished task whose status has not changed for this many
    /// seconds (default: never).
    #[arg(long)]
    task_stuck_ttl_secs: Option<u64>,
    /// Most TCP connections open at once; more are closed when accepted.
    /// Keep it below the file descriptor limit (`ulimit -n`).
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Seconds a connection may stay open without completing a session
    /// handshake (HTTP/2, TLS, `InitConnection`, credentials).
    #[arg(long, default_value_t = Limits::default().handshake_timeout.as_secs_f64())]
    handshake_timeout: f64,
    /// Seconds a departed identity's resume lineage is remembered (0: none).
    #[arg(long, default_value_t = Limits::default().resume_window.as_secs_f64())]
    resume_window: f64,
    /// Newest audit entries kept (older ones are dropped).
    #[arg(long, default_value_t = Limits::default().audit_max_entries)]
    audit_max_entries: usize,
    /// Serve `/metrics` (Prometheus text format) on HOST:PORT; off by default.
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
    /// Maps a client certificate to a principal: `SHA256=TYPE[/ID]`, e.g.
    /// `--tls-client-principal 3f:a2:...=Orchestrator` (the fingerprint as
    /// `openssl x509 -noout -fingerprint -sha256` prints it). Repeatable.
    #[arg(
        long = "tls-client-principal",
        requires = "tls_client_ca",
        value_name = "SHA256=TYPE[/ID]"
    )]
    tls_client_principals: Vec<String>,
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, before the address is printed, so no early signal is missed.
fn terminated() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Ok(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = ctrl_c => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}

/// Freed heap memory glibc keeps for reuse before handing it back (its
/// default follows the largest block freed, about 512 KiB here).
const KEEP_FREED_BYTES: i32 = 32 * 1024 * 1024;

/// Blocks below this size (body and tunnel chunk buffers, about 256 KiB)
/// come from the heap; larger ones are mapped and unmapped on their own,
/// so a burst's big queues go straight back to the kernel when freed.
const MMAP_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Sets glibc's allocator up for a gateway: what body chunks free is reused
/// instead of being returned to the kernel at once, and everything free is
/// still handed back by [`trim_heap_periodically`].
///
/// A body or tunnel chunk passes through buffers of about 256 KiB on its way
/// through the gateway. With glibc's defaults, freeing a few of them leaves
/// more than its trim threshold free at the top of a heap, which it hands
/// back at once, so the next chunk's buffer is faulted in again page by
/// page: 5 to 10 times the page faults, and about a fifth of the gateway's
/// CPU time on 16 MiB bodies (`benches/http.rs`). Three settings:
///
/// * keep up to 32 MiB free at the top of the heap, and serve blocks below
///   1 MiB from the heap (both thresholds fixed, not adaptive);
/// * one heap (arena) for all threads. `malloc_trim` hands back the top of
///   the main heap only; the per-thread heaps glibc otherwise adds would
///   each keep up to 32 MiB for good (seen in `tests/soak.rs`). Small
///   blocks still come from each thread's lock-free cache.
///
/// It must run before any other thread exists. An operator's own
/// `GLIBC_TUNABLES` or `MALLOC_*` settings win: then nothing is changed.
fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let operator_chose = std::env::vars_os().any(|(name, _)| {
            name.to_str()
                .is_some_and(|n| n == "GLIBC_TUNABLES" || n.starts_with("MALLOC_"))
        });
        if operator_chose {
            return;
        }
        // SAFETY: `mallopt` takes no pointers; it sets three of glibc's
        // allocator parameters and is thread-safe.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
            libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREED_BYTES);
        }
    }
}

/// How often freed heap memory is handed back to the operating system.
const TRIM_INTERVAL: Duration = Duration::from_secs(2);

/// Hands freed heap memory back to the operating system, periodically.
///
/// glibc's allocator keeps what a burst freed (a flood into a mailbox,
/// pushes to a slow consumer, thousands of connections) inside its heaps,
/// so without this the process stays at its high-water mark after the
/// burst is gone. `malloc_trim` releases every free page of every arena.
/// The gateway library itself stays free of `unsafe`; an application that
/// embeds it chooses its own allocator policy.
fn trim_heap_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // SAFETY: `malloc_trim` takes no pointers and only returns free
            // pages of glibc's own heaps to the kernel; it is thread-safe.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before the runtime's threads exist (they would get heaps of their own).
    keep_freed_memory_for_reuse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let handshake_timeout = Duration::try_from_secs_f64(args.handshake_timeout)
        .map_err(|e| format!("--handshake-timeout: {e}"))?;
    let resume_window = Duration::try_from_secs_f64(args.resume_window)
        .map_err(|e| format!("--resume-window: {e}"))?;
    let mut limits = Limits::default()
        .with_max_connections(args.max_connections)
        .with_handshake_timeout(handshake_timeout)
        .with_resume_window(resume_window)
        .with_audit_max_entries(args.audit_max_entries)
        .with_task_stuck_ttl(args.task_stuck_ttl_secs.map(Duration::from_secs));
    if let Some(secs) = args.task_retention_secs {
        limits = limits.with_task_retention(Duration::from_secs(secs));
    }
    let mut config = GatewayConfig::default()
        .with_bind(SocketAddr::new(args.host, args.port))
        .with_dev(args.dev)
        .with_limits(limits);
    if let Some(addr) = args.metrics_addr {
        config = config.with_metrics_addr(addr);
    }
    if let Some(dir) = args.data_dir {
        config = config.with_data_dir(dir);
    }
    if let Some(key) = args.admin_key {
        config = config.with_admin_key(key);
    }
    if let Some(path) = &args.admin_key_file {
        let key = std::fs::read_to_string(path)?;
        config = config.with_admin_key(key.trim_end());
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let mut tls = TlsConfig::from_paths(cert, key, args.tls_client_ca.as_deref())?;
        for mapping in &args.tls_client_principals {
            let (fingerprint, principal) = mapping
                .split_once('=')
                .ok_or("--tls-client-principal takes SHA256=TYPE[/ID]")?;
            tls = tls.map_client_cert(fingerprint, CertPrincipal::parse(principal));
        }
        config = config.with_tls(tls);
    }
    let stop = terminated();
    trim_heap_periodically();
    let gateway = aether_gateway::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", gateway.local_addr())?;
        if let Some(metrics) = gateway.metrics_addr() {
            writeln!(out, "metrics on {metrics}")?;
        }
        out.flush()?;
    }
    stop.await;
    tracing::info!("shutting down");
    gateway.shutdown().await;
    Ok(())
}
