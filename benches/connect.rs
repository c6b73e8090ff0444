//! Connect benchmark: how long the embedded gateway's handshake takes
//! with an API token, against the admin key and against no credential
//! (dev mode), side by side in one run.
//!
//! ```text
//! cargo bench --bench connect                      # full run
//! cargo bench --bench connect -- --quick           # smoke run
//! cargo bench --bench connect -- --connects 5000 --runs 5
//! ```
//!
//! Each connect opens a `Connect` stream on one HTTP/2 channel (no TCP
//! handshake: the cost measured is the gateway's), sends `InitConnection`
//! for a fresh agent identity with the credential, and waits for the
//! `ConnectionAck` and the `ConfigSnapshot`; the stream is then dropped.
//! Connects run one after another (latency, p50/p99 from an HDR
//! histogram) and then 32 at a time (rate). The three modes alternate run
//! by run on the same runtime; each figure is the median of `--runs`.
//! The token's verification is a SHA-256 of the presented key, a map
//! lookup and a constant-time compare, plus its binding checks; the admin
//! key's is one SHA-256 and a compare.

use std::time::{Duration, Instant};

use aether_client::proto::aether_gateway_client::AetherGatewayClient;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::init_connection::ClientType;
use aether_client::proto::upstream_message::Payload as Up;
use aether_client::proto::{
    AgentIdentity, InitConnection, TokenCreateRequest, TokenOperation, UpstreamMessage,
    token_operation,
};
use aether_gateway::{GatewayConfig, RunningGateway};
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

const KEY: &str = "bench-admin-key";
const GUARD: Duration = Duration::from_secs(10);
const CONCURRENCY: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Mode {
    Open,
    AdminKey,
    Token,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Open => "no credential (dev)",
            Mode::AdminKey => "admin key",
            Mode::Token => "API token",
        }
    }
}

struct Args {
    connects: usize,
    runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        connects: 3000,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => {
                a.connects = 300;
                a.runs = 1;
            }
            "--connects" => {
                a.connects = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.connects)
            }
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.runs),
            _ => {}
        }
    }
    a
}

fn init(n: u64, creds: &[(&str, &str)]) -> InitConnection {
    InitConnection {
        client_type: Some(ClientType::Agent(AgentIdentity {
            workspace: "bench".into(),
            implementation: "conn".into(),
            specifier: format!("c{n}"),
        })),
        credentials: creds
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn up(p: Up) -> UpstreamMessage {
    UpstreamMessage {
        payload: Some(p),
        active_extensions: Vec::new(),
    }
}

/// One connect: stream, init, ack, config. Returns its duration.
async fn connect_once(channel: Channel, init: InitConnection) -> Result<Duration, String> {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel(4);
    tx.send(up(Up::Init(Box::new(init))))
        .await
        .map_err(|_| "send")?;
    let mut client = AetherGatewayClient::new(channel);
    let mut stream = tokio::time::timeout(GUARD, client.connect(ReceiverStream::new(rx)))
        .await
        .map_err(|_| "headers timed out")?
        .map_err(|s| format!("connect: {s}"))?
        .into_inner();
    let mut got_ack = false;
    loop {
        let msg = tokio::time::timeout(GUARD, stream.message())
            .await
            .map_err(|_| "ack timed out")?
            .map_err(|s| format!("refused: {s}"))?
            .ok_or("stream ended")?;
        match msg.payload {
            Some(Down::ConnectionAck(_)) => got_ack = true,
            Some(Down::Config(_)) if got_ack => return Ok(started.elapsed()),
            _ => {}
        }
    }
}

async fn mint_token(url: &str) -> Result<String, String> {
    let channel = Endpoint::from_shared(url.to_string())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel(4);
    let mut admin = init(u64::MAX, &[("x-api-key", KEY)]);
    if let Some(ClientType::Agent(a)) = admin.client_type.as_mut() {
        a.specifier = "minter".into();
    }
    tx.send(up(Up::Init(Box::new(admin))))
        .await
        .map_err(|_| "send")?;
    tx.send(up(Up::TokenOp(Box::new(TokenOperation {
        op: token_operation::OpType::Create as i32,
        request_id: "mint".into(),
        create_request: Some(TokenCreateRequest {
            name: "bench".into(),
            principal_type: "Agent".into(),
            workspace_patterns: vec!["bench".into()],
            ..Default::default()
        }),
        ..Default::default()
    }))))
    .await
    .map_err(|_| "send")?;
    let mut stream = AetherGatewayClient::new(channel)
        .connect(ReceiverStream::new(rx))
        .await
        .map_err(|s| s.to_string())?
        .into_inner();
    loop {
        let msg = tokio::time::timeout(GUARD, stream.message())
            .await
            .map_err(|_| "mint timed out")?
            .map_err(|s| s.to_string())?
            .ok_or("stream ended")?;
        if let Some(Down::Token(t)) = msg.payload {
            return if t.success {
                Ok(t.plaintext_token)
            } else {
                Err(t.error)
            };
        }
    }
}

struct Figures {
    p50_us: f64,
    p99_us: f64,
    rate: f64,
}

async fn run(
    gw: &RunningGateway,
    mode: Mode,
    token: &str,
    n: usize,
    seq: &mut u64,
) -> Result<Figures, String> {
    let channel = Endpoint::from_shared(gw.url())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let creds: Vec<(&str, &str)> = match mode {
        Mode::Open => vec![],
        Mode::AdminKey => vec![("x-api-key", KEY)],
        Mode::Token => vec![("x-api-key", token)],
    };
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    for _ in 0..n {
        *seq += 1;
        let d = connect_once(channel.clone(), init(*seq, &creds)).await?;
        hist.record(d.as_micros().max(1) as u64)
            .map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = CONCURRENCY.min(n - done);
        let futs = (0..batch).map(|_| {
            *seq += 1;
            connect_once(channel.clone(), init(*seq, &creds))
        });
        for r in join_all(futs).await {
            r?;
        }
        done += batch;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    Ok(Figures {
        p50_us: hist.value_at_quantile(0.5) as f64,
        p99_us: hist.value_at_quantile(0.99) as f64,
        rate,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<(), String> {
    let a = args();
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    // The whole benchmark is bounded.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(600));
        eprintln!("connect bench: watchdog fired");
        std::process::exit(2);
    });
    rt.block_on(async {
        let secured = aether_gateway::start(GatewayConfig::default().with_admin_key(KEY))
            .await
            .map_err(|e| e.to_string())?;
        let dev = aether_gateway::start(GatewayConfig::dev())
            .await
            .map_err(|e| e.to_string())?;
        let token = mint_token(&secured.url()).await?;
        let modes = [Mode::Open, Mode::AdminKey, Mode::Token];
        let mut results: Vec<(Mode, Vec<Figures>)> = modes.iter().map(|m| (*m, Vec::new())).collect();
        let mut seq = 0;
        // Warm-up.
        run(&secured, Mode::AdminKey, &token, a.connects.min(200), &mut seq).await?;
        for _ in 0..a.runs {
            for (mode, figures) in results.iter_mut() {
                let gw = if *mode == Mode::Open { &dev } else { &secured };
                figures.push(run(gw, *mode, &token, a.connects, &mut seq).await?);
            }
        }
        println!(
            "connect: {} connects per run, {} runs (medians), sequential latency and {}-way concurrent rate",
            a.connects, a.runs, CONCURRENCY
        );
        println!("{:<22} {:>12} {:>10} {:>10}", "credential", "connects/s", "p50 us", "p99 us");
        let mut p50 = std::collections::HashMap::new();
        for (mode, figures) in &results {
            let rate = median(figures.iter().map(|f| f.rate).collect());
            let m50 = median(figures.iter().map(|f| f.p50_us).collect());
            let m99 = median(figures.iter().map(|f| f.p99_us).collect());
            p50.insert(*mode, m50);
            println!("{:<22} {:>12.0} {:>10.0} {:>10.0}", mode.name(), rate, m50, m99);
        }
        println!(
            "token verification adds {:+.0} us to the median connect (vs the admin key), {:+.0} us (vs no credential)",
            p50[&Mode::Token] - p50[&Mode::AdminKey],
            p50[&Mode::Token] - p50[&Mode::Open]
        );
        secured.shutdown().await;
        dev.shutdown().await;
        Ok(())
    })
}
