//! Authorization cost benchmark: one-way messaging throughput through the
//! SDK and the embedded gateway with no ACL rule, with 1 rule and with
//! 1,000 rules loaded, side by side in one run.
//!
//! ```text
//! cargo bench --bench authz                  # full run
//! cargo bench --bench authz -- --quick       # smoke run
//! cargo bench --bench authz -- --messages 200000 --runs 5
//! ```
//!
//! The sender is the workflow engine connecting with an API token: a
//! principal with no rights on workspaces of its own, so every send into the
//! receiver's workspace is decided by the engine from the rules (agents
//! sending inside their own workspace, and admin-key sessions, are
//! answered without looking at rules at all). It sends N messages of 64
//! bytes as fast as the client lets it to one agent, which counts them;
//! the clock runs from the first send to the last receipt.
//!
//! * **no rules**: a dev-mode gateway (every session is a superadmin: the
//!   engine answers without taking its lock): the cost of routing alone.
//! * **1 rule**: a gateway with an admin key and the single rule that
//!   lets the workflow engine write to the workspace.
//! * **1,000 rules**: the same rule among 999 others: rules for other
//!   agents and workspaces, 100 of them with glob principal ids (which
//!   every decision scans), wildcard rules and a group.
//!
//! Each configuration runs `--runs` times (3 by default), rotating the
//! order, and the median is reported with its ratio to "no rules".

use std::time::{Duration, Instant};

use aether_client::admin::{
    AccessLevel, AclGrant, AclPrincipal, AclResource, AdminClient, TokenSpec,
};
use aether_client::{AgentClient, Credentials, MessageType, WorkflowEngineClient};
use aether_gateway::{GatewayConfig, RunningGateway};
use futures_util::StreamExt;

const KEY: &str = "bench-admin-key";
const WS: &str = "bench";
/// Longest one run may take.
const RUN_CAP: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    NoRules,
    OneRule,
    ThousandRules,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::NoRules => "no rules (dev)",
            Setup::OneRule => "1 rule",
            Setup::ThousandRules => "1,000 rules",
        }
    }
}

struct Opts {
    messages: u64,
    runs: usize,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        messages: 100_000,
        runs: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => {
                o.messages = 10_000;
                o.runs = 1;
            }
            "--messages" => o.messages = number(args.next(), "--messages"),
            "--runs" => o.runs = number(args.next(), "--runs") as usize,
            "--bench" => {}
            f if f.starts_with('-') => die(&format!("unknown flag {f}")),
            _ => {}
        }
    }
    o.runs = o.runs.max(1);
    o
}

fn number(v: Option<String>, flag: &str) -> u64 {
    v.and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| die(&format!("{flag} needs a positive number")))
}

fn die(msg: &str) -> ! {
    eprintln!("authz bench: {msg}");
    std::process::exit(2)
}

type Res<T> = Result<T, String>;

async fn start(setup: Setup) -> Res<RunningGateway> {
    let config = match setup {
        Setup::NoRules => GatewayConfig::dev(),
        _ => GatewayConfig::default().with_admin_key(KEY),
    };
    aether_gateway::start(config)
        .await
        .map_err(|e| e.to_string())
}

/// Loads the rules of `setup` through an admin session; the credentials
/// the sender connects with (a token minted for the workflow engine).
async fn load_rules(url: &str, setup: Setup) -> Res<Credentials> {
    if setup == Setup::NoRules {
        return Ok(Credentials::new());
    }
    let root = AgentClient::builder("ops", "admin", "root")
        .map_err(|e| e.to_string())?
        .gateway(url)
        .credentials(Credentials::new().with_api_key(KEY))
        .build();
    root.connect().await.map_err(|e| e.to_string())?;
    let admin = AdminClient::new(&root);
    let e = |e: aether_client::Error| e.to_string();
    if setup == Setup::ThousandRules {
        admin.create_group("readers", "").await.map_err(e)?;
        for i in 0..999u32 {
            let (principal, resource) = match i % 10 {
                // Glob principal ids: scanned by every decision.
                0 => (
                    AclPrincipal::new("agent", format!("ag::team{i}::*")),
                    AclResource::workspace(&format!("team{i}")),
                ),
                1 => (
                    AclPrincipal::new("wildcard", "_any_agent"),
                    AclResource::new("app.docs", format!("doc-{i}")),
                ),
                2 => (
                    AclPrincipal::group("readers"),
                    AclResource::workspace(&format!("shared{i}")),
                ),
                _ => (
                    AclPrincipal::agent(&format!("ws{i}"), "worker", "1"),
                    AclResource::workspace(&format!("ws{i}")),
                ),
            };
            admin
                .grant(AclGrant::new(principal, resource, AccessLevel::Read))
                .await
                .map_err(e)?;
        }
    }
    admin
        .grant_access(
            AclPrincipal::workflow_engine(),
            AclResource::workspace(WS),
            AccessLevel::ReadWrite,
        )
        .await
        .map_err(e)?;
    let minted = admin
        .create_token(TokenSpec::new("bench sender", "WorkflowEngine"))
        .await
        .map_err(e)?;
    root.close().await;
    Ok(Credentials::new().with_api_key(minted.secret.expose()))
}

/// One measured run: messages per second.
async fn run(setup: Setup, messages: u64) -> Res<f64> {
    let gw = start(setup).await?;
    let url = gw.url();
    let sender_credentials = load_rules(&url, setup).await?;
    let receiver = AgentClient::builder(WS, "sink", "1")
        .map_err(|e| e.to_string())?
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(KEY))
        .build();
    receiver.connect().await.map_err(|e| e.to_string())?;
    let mut inbox = receiver.messages();
    let sender = WorkflowEngineClient::builder()
        .gateway(&url)
        .credentials(sender_credentials)
        .build();
    sender.connect().await.map_err(|e| e.to_string())?;
    // One message first: the route is allowed (a refusal would never arrive).
    sender
        .send_message_to_agent(WS, "sink", "1", vec![0u8; 64], MessageType::Event)
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(10), inbox.next())
        .await
        .map_err(|_| format!("{}: the first message never arrived", setup.name()))?;
    let counted = tokio::spawn(async move {
        let mut n = 0;
        while n < messages {
            match inbox.next().await {
                Some(Ok(_)) => n += 1,
                Some(Err(_)) => continue,
                None => break,
            }
        }
        n
    });
    let t0 = Instant::now();
    let payload = bytes::Bytes::from(vec![7u8; 64]);
    for _ in 0..messages {
        sender
            .send_message_to_agent(WS, "sink", "1", payload.clone(), MessageType::Event)
            .await
            .map_err(|e| e.to_string())?;
    }
    let got = tokio::time::timeout(RUN_CAP, counted)
        .await
        .map_err(|_| format!("{}: run took longer than {RUN_CAP:?}", setup.name()))?
        .map_err(|e| e.to_string())?;
    let secs = t0.elapsed().as_secs_f64();
    if got != messages {
        return Err(format!("{}: {got} of {messages} delivered", setup.name()));
    }
    sender.close().await;
    receiver.close().await;
    gw.shutdown().await;
    Ok(messages as f64 / secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let opts = parse_args();
    let setups = [Setup::NoRules, Setup::OneRule, Setup::ThousandRules];
    println!(
        "authz: one-way messaging, 1 sender (workflow engine, decided by rules) -> 1 agent, {} msgs of 64 B, median of {} run(s)",
        opts.messages, opts.runs
    );
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
    for r in 0..opts.runs {
        for k in 0..setups.len() {
            let i = (k + r) % setups.len();
            match run(setups[i], opts.messages).await {
                Ok(rate) => results[i].push(rate),
                Err(e) => die(&e),
            }
        }
    }
    let base = median(results[0].clone());
    println!("{:<16} {:>12} {:>10}", "setup", "msgs/s", "vs none");
    for (s, rates) in setups.iter().zip(results) {
        let m = median(rates);
        println!("{:<16} {:>12.0} {:>9.1}%", s.name(), m, m / base * 100.0);
    }
}
