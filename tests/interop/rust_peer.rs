//! The Rust side of the Python interop suite (`tests/interop/`).
//!
//! A small program the pytest suite spawns: it connects to a gateway as one
//! principal, plays a role, and reports every observation as one line on
//! stdout (flushed at once):
//!
//! * `READY <identity>`: `connect()` returned and the role is set up;
//! * `EVENT {json}`: an observation (a message received, a send made, a
//!   session listed, ...); the object always has a `"kind"` field;
//! * `ERROR <ErrorKind> {json message}`: `connect()` failed;
//! * `EXIT <reason>`: the peer is about to close and exit.
//!
//! Roles (`--role`):
//!
//! * `agent`: an agent with a typed handler (`on_chat_message`, replies
//!   `typed:<payload>`) and the catch-all `on_message` (replies
//!   `all:<payload>`), both to the sender with the same message type;
//! * `sender`: an agent that sends `--send TYPE:PAYLOAD` (repeatable,
//!   `--count` times each) to `--to TOPIC`, then reports what it receives;
//! * `user`: a user window (`--user`, `--window`) that optionally switches
//!   to `--switch-workspace` and reports what it receives;
//! * `pooled`: a pooled task that reports its assigned id and echoes every
//!   message back as `echo:<payload>`;
//! * `duplicate`: connects as `--principal` and exits at once, reporting
//!   `READY` or `ERROR <kind>`;
//! * `broadcast`: an agent that sends `--send` entries to every agent
//!   (`--to-agents WS`) and/or every user (`--to-users WS`) of a workspace;
//! * `state`: an agent that only runs stdin commands (the KV, checkpoint
//!   and task commands below) and reports what is pushed to it;
//! * `pool-worker`: an agent that works every task assigned to it: reports
//!   the `assignment`, claims it (`claimed`), optionally reports progress
//!   (`--progress-summary`, then `progress-sent`) and completes it
//!   (`completed`); a failed step is reported as `task-error`.
//!
//! Every role also takes commands on stdin, one per line:
//! `send TOPIC TYPE PAYLOAD`, `broadcast-agents WS TYPE PAYLOAD`,
//! `broadcast-users WS TYPE PAYLOAD`, `list-sessions [TYPE|all] [WS]` and
//! `quit`. Each command is answered with an `EVENT` of kind `ok` (carrying
//! the command's results as extra fields) or `command-error`.
//!
//! State commands take whitespace-separated words (values contain no
//! spaces). `SCOPE` is `global`, `workspace` (the peer's own workspace) or
//! `ws:NAME` (the shared scope of workspace NAME); a checkpoint `KEY` of
//! `-` is the empty key (the gateway's `"default"`); a `TASK` of `-` is no
//! task. Agents and tasks only (users may not use KV):
//!
//! * `kv-get SCOPE KEY` -> `found`, `value`;
//! * `kv-put SCOPE KEY VALUE [TTL_SECS]`, `kv-delete SCOPE KEY`;
//! * `kv-incr SCOPE KEY [COUNT]` -> `values` (each increment's result);
//! * `kv-cas SCOPE KEY EXPECTED NEW` -> `applied`;
//! * `kv-list SCOPE [PREFIX]` -> `keys`;
//!
//! and every role:
//!
//! * `checkpoint-save KEY DATA [TTL_SECS]`, `checkpoint-delete KEY`;
//! * `checkpoint-load KEY` -> `found`, `data`; `checkpoint-list` -> `keys`;
//! * `create-pool-task WS IMPL TYPE [PAYLOAD]` -> `task_id`, `status`,
//!   `assigned_to`;
//! * `get-task ID`, `claim-task ID`, `complete-task ID` -> the task
//!   (`task_id`, `status` such as `COMPLETED`, `assigned_to`, `creator`,
//!   `workspace`, `task_type`);
//! * `report-progress TASK COMPLETION SUMMARY`.
//!
//! Every role reports pushed task assignments (`assignment`) and progress
//! updates (`progress`).
//!
//! The peer exits by itself after `--timeout-secs` (default 20), on SIGTERM
//! or Ctrl-C, on end of stdin, on `quit`, or when its connection closes.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aether_client::proto::{ConnectionFilter, ConnectionInfo, PrincipalType};
use aether_client::tasks::{
    ProgressReport, ProgressUpdate, TaskAssignment, TaskInfo, TaskSpec, TaskStatus,
};
use aether_client::{
    AgentClient, CheckpointTtl, Client, Error, ErrorKind, KvScope, Message, MessageType,
    OutgoingMessage, SessionInfo, TaskClient, UserClient,
};
use clap::{Parser, ValueEnum};
use tokio::sync::mpsc;

/// The role this peer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Agent,
    Sender,
    User,
    Pooled,
    Duplicate,
    Broadcast,
    State,
    PoolWorker,
}

/// The principal type the `duplicate` role connects as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PrincipalArg {
    Agent,
    Task,
    User,
}

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "interop_peer",
    about = "Rust peer for the Python interop suite"
)]
struct Args {
    /// Gateway URL, e.g. `http://127.0.0.1:50051`.
    #[arg(long)]
    gateway: String,
    /// What to do once connected.
    #[arg(long, value_enum)]
    role: Role,
    /// Principal for the `duplicate` role.
    #[arg(long, value_enum, default_value = "agent")]
    principal: PrincipalArg,
    /// Workspace of agents and tasks.
    #[arg(long, default_value = "interop")]
    workspace: String,
    /// Implementation of agents and tasks.
    #[arg(long, default_value = "rust-peer")]
    implementation: String,
    /// Specifier of agents (unique specifier of a `duplicate` task).
    #[arg(long, default_value = "rust")]
    specifier: String,
    /// User id of a user window.
    #[arg(long, default_value = "rust-user")]
    user: String,
    /// Window id of a user window.
    #[arg(long, default_value = "w1")]
    window: String,
    /// Workspace a user window switches to after connecting.
    #[arg(long)]
    switch_workspace: Option<String>,
    /// Target topic of the `sender` role.
    #[arg(long)]
    to: Option<String>,
    /// Workspace whose agents the `broadcast` role sends to (`ga::WS`).
    #[arg(long)]
    to_agents: Option<String>,
    /// Workspace whose users the `broadcast` role sends to (`gu::WS`).
    #[arg(long)]
    to_users: Option<String>,
    /// A message to send, `TYPE:PAYLOAD` (e.g. `CHAT:hello`); repeatable.
    #[arg(long = "send")]
    sends: Vec<String>,
    /// How many times each `--send` entry is sent (payloads get `-N`
    /// suffixes when more than one).
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Summary of the progress report the `pool-worker` role makes between
    /// claiming and completing a task (none when absent).
    #[arg(long)]
    progress_summary: Option<String>,
    /// Exit after this many seconds whatever happens.
    #[arg(long, default_value_t = 20)]
    timeout_secs: u64,
}

/// Writes one line to stdout and flushes it. A closed stdout (the test
/// went away) is ignored: the peer still exits on its own.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value for [`event`].
enum Val<'a> {
    Str(&'a str),
    Text(String),
    Num(i64),
    Float(f64),
    Bool(bool),
    List(Vec<String>),
    Nums(Vec<i64>),
}

/// The extra fields of a command's `ok` event.
type Fields = Vec<(&'static str, Val<'static>)>;

/// Emits `EVENT {"kind":KIND, ...fields}`.
fn event(kind: &str, fields: &[(&str, Val<'_>)]) {
    let mut body = format!("{{\"kind\":{}", json_str(kind));
    for (name, value) in fields {
        body.push(',');
        body.push_str(&json_str(name));
        body.push(':');
        match value {
            Val::Str(s) => body.push_str(&json_str(s)),
            Val::Text(s) => body.push_str(&json_str(s)),
            Val::Num(n) => body.push_str(&n.to_string()),
            // JSON has no NaN or infinities.
            Val::Float(f) if f.is_finite() => body.push_str(&f.to_string()),
            Val::Float(_) => body.push_str("null"),
            Val::Bool(b) => body.push_str(if *b { "true" } else { "false" }),
            Val::List(items) => {
                let items: Vec<String> = items.iter().map(|i| json_str(i)).collect();
                body.push_str(&format!("[{}]", items.join(",")));
            }
            Val::Nums(items) => {
                let items: Vec<String> = items.iter().map(i64::to_string).collect();
                body.push_str(&format!("[{}]", items.join(",")));
            }
        }
    }
    body.push('}');
    emit(&format!("EVENT {body}"));
}

/// Reports a received message: which handler saw it and what it was.
fn report_message(handler: &str, msg: &Message) {
    let payload = String::from_utf8_lossy(msg.payload());
    event(
        "message",
        &[
            ("handler", Val::Str(handler)),
            ("type", Val::Str(type_name(msg.message_type()))),
            ("source", Val::Str(msg.source_topic())),
            ("payload", Val::Str(&payload)),
            ("workspace", Val::Str(msg.workspace())),
            ("utf8", Val::Bool(msg.payload_str().is_some())),
        ],
    );
}

/// `CHAT`, `TOOL_CALL`, ... (the protocol's names without prefixes).
fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Unspecified => "UNSPECIFIED",
        other => other.as_str_name(),
    }
}

/// Parses `CHAT`, `tool_call`, `OPAQUE`, ... (case-insensitive).
fn parse_type(s: &str) -> Result<MessageType, String> {
    let upper = s.to_ascii_uppercase();
    if upper == "UNSPECIFIED" {
        return Ok(MessageType::Unspecified);
    }
    MessageType::from_str_name(&upper).ok_or_else(|| format!("unknown message type {s:?}"))
}

/// Parses a `--send TYPE:PAYLOAD` entry.
fn parse_send(entry: &str) -> Result<(MessageType, String), String> {
    let (ty, payload) = entry
        .split_once(':')
        .ok_or_else(|| format!("--send expects TYPE:PAYLOAD, got {entry:?}"))?;
    Ok((parse_type(ty)?, payload.to_string()))
}

/// Parses `agent`, `task`, ... (or `all`) into a session filter type.
fn parse_principal_type(s: &str) -> Result<PrincipalType, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "" | "all" | "any" => PrincipalType::Unspecified,
        "agent" => PrincipalType::PrincipalAgent,
        "task" => PrincipalType::PrincipalTask,
        "user" => PrincipalType::PrincipalUser,
        "orchestrator" => PrincipalType::PrincipalOrchestrator,
        "workflow_engine" => PrincipalType::PrincipalWorkflowEngine,
        "metrics_bridge" => PrincipalType::PrincipalMetricsBridge,
        "bridge" => PrincipalType::PrincipalBridge,
        "service" => PrincipalType::PrincipalService,
        other => return Err(format!("unknown principal type {other:?}")),
    })
}

/// The connected principal, whichever client type it is.
#[derive(Clone, Debug)]
enum Peer {
    Agent(AgentClient),
    Task(TaskClient),
    User(UserClient),
}

impl Peer {
    fn erase(&self) -> Client {
        match self {
            Peer::Agent(c) => c.erase(),
            Peer::Task(c) => c.erase(),
            Peer::User(c) => c.erase(),
        }
    }

    async fn send(&self, msg: OutgoingMessage) -> aether_client::Result<()> {
        match self {
            Peer::Agent(c) => c.send(msg).await,
            Peer::Task(c) => c.send(msg).await,
            Peer::User(c) => c.send(msg).await,
        }
    }

    async fn broadcast_to_agents(
        &self,
        workspace: &str,
        payload: String,
        ty: MessageType,
    ) -> aether_client::Result<()> {
        match self {
            Peer::Agent(c) => c.send_broadcast_to_agents(workspace, payload, ty).await,
            Peer::Task(c) => c.send_broadcast_to_agents(workspace, payload, ty).await,
            Peer::User(c) => c.send_broadcast_to_agents(workspace, payload, ty).await,
        }
    }

    async fn broadcast_to_users(
        &self,
        workspace: &str,
        payload: String,
        ty: MessageType,
    ) -> aether_client::Result<()> {
        match self {
            Peer::Agent(c) => c.send_broadcast_to_users(workspace, payload, ty).await,
            Peer::Task(c) => c.send_broadcast_to_users(workspace, payload, ty).await,
            Peer::User(c) => c.send_broadcast_to_users(workspace, payload, ty).await,
        }
    }

    /// Sends `prefix:<payload>` back to the message's source, same type.
    /// Replies to replies are skipped so two replying peers cannot loop.
    async fn reply(&self, prefix: &str, msg: &Message) {
        let payload = String::from_utf8_lossy(msg.payload());
        if ["typed:", "all:", "echo:"]
            .iter()
            .any(|p| payload.starts_with(p))
        {
            return;
        }
        let body = format!("{prefix}:{payload}");
        let result = match OutgoingMessage::to(msg.source_topic(), body.clone()) {
            Ok(m) => self.send(m.message_type(msg.message_type())).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => event(
                "replied",
                &[
                    ("to", Val::Str(msg.source_topic())),
                    ("payload", Val::Str(&body)),
                    ("type", Val::Str(type_name(msg.message_type()))),
                ],
            ),
            Err(e) => report_error("reply", &e),
        }
    }
}

fn report_error(what: &str, e: &Error) {
    event(
        "command-error",
        &[
            ("command", Val::Str(what)),
            ("error_kind", Val::Str(&format!("{:?}", e.kind()))),
            ("error", Val::Str(&e.to_string())),
        ],
    );
}

/// Builds the client for the role (not connected yet).
fn build(args: &Args) -> aether_client::Result<Peer> {
    let connect_timeout = Duration::from_secs(args.timeout_secs.clamp(1, 10));
    let principal = match args.role {
        Role::Agent | Role::Sender | Role::Broadcast | Role::State | Role::PoolWorker => {
            PrincipalArg::Agent
        }
        Role::User => PrincipalArg::User,
        Role::Pooled => PrincipalArg::Task,
        Role::Duplicate => args.principal,
    };
    Ok(match (args.role, principal) {
        (Role::Pooled, _) => Peer::Task(
            TaskClient::pooled(&args.workspace, &args.implementation)?
                .gateway(args.gateway.clone())
                .connect_timeout(connect_timeout)
                .build(),
        ),
        (_, PrincipalArg::Task) => Peer::Task(
            TaskClient::builder(&args.workspace, &args.implementation, &args.specifier)?
                .gateway(args.gateway.clone())
                .connect_timeout(connect_timeout)
                .build(),
        ),
        (_, PrincipalArg::User) => Peer::User(
            UserClient::builder(&args.user, &args.window)?
                .gateway(args.gateway.clone())
                .connect_timeout(connect_timeout)
                .build(),
        ),
        (_, PrincipalArg::Agent) => Peer::Agent(
            AgentClient::builder(&args.workspace, &args.implementation, &args.specifier)?
                .gateway(args.gateway.clone())
                .connect_timeout(connect_timeout)
                .build(),
        ),
    })
}

/// Installs the role's handlers.
fn install_handlers(args: &Args, peer: &Peer) {
    let core = peer.erase();
    match args.role {
        Role::Agent => {
            let typed = peer.clone();
            core.on_chat_message(move |msg| {
                let peer = typed.clone();
                async move {
                    report_message("typed", &msg);
                    peer.reply("typed", &msg).await;
                }
            });
            let all = peer.clone();
            core.on_message(move |msg| {
                let peer = all.clone();
                async move {
                    report_message("all", &msg);
                    peer.reply("all", &msg).await;
                }
            });
        }
        Role::Pooled => {
            let echo = peer.clone();
            core.on_message(move |msg| {
                let peer = echo.clone();
                async move {
                    report_message("all", &msg);
                    peer.reply("echo", &msg).await;
                }
            });
        }
        Role::Sender | Role::User | Role::Broadcast | Role::State | Role::PoolWorker => {
            core.on_message(|msg| async move { report_message("all", &msg) });
        }
        Role::Duplicate => {}
    }
    if args.role == Role::PoolWorker {
        let worker = core.clone();
        let summary = args.progress_summary.clone();
        core.on_task_assignment(move |a| {
            let worker = worker.clone();
            let summary = summary.clone();
            async move {
                report_assignment(&a);
                work_task(&worker, &a, summary.as_deref()).await;
            }
        });
    } else if args.role != Role::Duplicate {
        core.on_task_assignment(|a| async move { report_assignment(&a) });
    }
    if args.role != Role::Duplicate {
        core.on_progress(|u| async move { report_progress_update(&u) });
    }
    core.on_error(|e| async move {
        event(
            "gateway-error",
            &[
                ("error_kind", Val::Str(&format!("{:?}", e.kind()))),
                ("code", Val::Str(e.code().unwrap_or(""))),
                ("error", Val::Str(&e.to_string())),
            ],
        );
    });
    core.on_disconnect(|reason| async move {
        event("disconnected", &[("reason", Val::Str(&reason))]);
    });
}

/// One stdin command; `Ok(false)` means `quit`.
async fn run_command(peer: &Peer, line: &str) -> Result<bool, String> {
    let mut words = line.trim().splitn(4, ' ');
    let verb = words.next().unwrap_or_default();
    let mut next = |what: &str| {
        words
            .next()
            .map(str::to_string)
            .ok_or_else(|| format!("{verb}: missing {what}"))
    };
    let fail = |e: Error| format!("{:?}: {e}", e.kind());
    match verb {
        "" => {}
        "quit" => return Ok(false),
        "send" => {
            let topic = next("topic")?;
            let ty = parse_type(&next("type")?)?;
            let payload = next("payload").unwrap_or_default();
            let msg = OutgoingMessage::to(&topic, payload).map_err(fail)?;
            peer.send(msg.message_type(ty)).await.map_err(fail)?;
        }
        "broadcast-agents" | "broadcast-users" => {
            let workspace = next("workspace")?;
            let ty = parse_type(&next("type")?)?;
            let payload = next("payload").unwrap_or_default();
            if verb == "broadcast-agents" {
                peer.broadcast_to_agents(&workspace, payload, ty).await
            } else {
                peer.broadcast_to_users(&workspace, payload, ty).await
            }
            .map_err(fail)?;
        }
        "list-sessions" => {
            let kind = parse_principal_type(&next("type").unwrap_or_default())?;
            let filter = ConnectionFilter {
                r#type: kind as i32,
                workspace: next("workspace").unwrap_or_default(),
                ..Default::default()
            };
            let sessions = peer.erase().list_sessions(filter).await.map_err(fail)?;
            for s in &sessions {
                report_session(s);
            }
            event(
                "sessions-done",
                &[(
                    "count",
                    Val::Num(i64::try_from(sessions.len()).unwrap_or(i64::MAX)),
                )],
            );
        }
        _ if STATE_VERBS.contains(&verb) => {
            let mut fields: Vec<(&str, Val<'_>)> = vec![("command", Val::Str(verb))];
            fields.extend(state_command(peer, verb, line).await?);
            event("ok", &fields);
            return Ok(true);
        }
        other => return Err(format!("unknown command {other:?}")),
    }
    event("ok", &[("command", Val::Str(verb))]);
    Ok(true)
}

/// The KV, checkpoint and task commands (see the module docs).
const STATE_VERBS: &[&str] = &[
    "kv-get",
    "kv-put",
    "kv-delete",
    "kv-incr",
    "kv-cas",
    "kv-list",
    "checkpoint-save",
    "checkpoint-load",
    "checkpoint-list",
    "checkpoint-delete",
    "create-pool-task",
    "get-task",
    "claim-task",
    "complete-task",
    "report-progress",
];

/// Runs `$call` with `$c` bound to the peer's KV-capable client (agents
/// and tasks have the `kv_*` methods; user windows may not use KV).
macro_rules! with_kv {
    ($peer:expr, $c:ident => $call:expr) => {
        match $peer {
            Peer::Agent($c) => $call,
            Peer::Task($c) => $call,
            Peer::User(_) => Err(Error::new(
                ErrorKind::InvalidArgument,
                "user windows may not use KV",
            )),
        }
    };
}

/// `global`, `workspace` (the caller's own) or `ws:NAME`.
fn parse_scope(s: &str) -> Result<KvScope, String> {
    match s {
        "global" => Ok(KvScope::Global),
        "workspace" => Ok(KvScope::Workspace),
        other => match other.strip_prefix("ws:") {
            Some(ws) => KvScope::workspace_in(ws).map_err(|e| e.to_string()),
            None => Err(format!("unknown KV scope {other:?}")),
        },
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("expected whole seconds, got {s:?}"))
}

/// `-` stands for the empty word (a checkpoint's default key, no task).
fn dash_empty(s: &str) -> &str {
    if s == "-" { "" } else { s }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `COMPLETED`, `RUNNING`, ... (the wire enum without its prefix).
fn status_name(status: i32) -> &'static str {
    TaskStatus::try_from(status)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN")
        .trim_start_matches("TASK_STATUS_")
}

fn task_fields(info: &TaskInfo) -> Fields {
    vec![
        ("task_id", Val::Text(info.task_id.clone())),
        ("status", Val::Str(status_name(info.status))),
        ("assigned_to", Val::Text(info.assigned_to.clone())),
        ("creator", Val::Text(info.creator_actor_id.clone())),
        ("workspace", Val::Text(info.workspace.clone())),
        ("task_type", Val::Text(info.task_type.clone())),
    ]
}

/// One KV, checkpoint or task command; its results as `ok` fields.
async fn state_command(peer: &Peer, verb: &str, line: &str) -> Result<Fields, String> {
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    let arg = |i: usize, what: &str| {
        words
            .get(i)
            .copied()
            .ok_or_else(|| format!("{verb}: missing {what}"))
    };
    let opt = |i: usize| words.get(i).copied();
    let fail = |e: Error| format!("{:?}: {e}", e.kind());
    let core = peer.erase();
    Ok(match verb {
        "kv-get" => {
            let (scope, key) = (parse_scope(arg(0, "scope")?)?, arg(1, "key")?);
            let value = with_kv!(peer, c => c.kv_get(key, &scope).await).map_err(fail)?;
            vec![
                ("key", Val::Text(key.to_string())),
                ("found", Val::Bool(value.is_some())),
                (
                    "value",
                    Val::Text(value.map(|v| lossy(&v)).unwrap_or_default()),
                ),
            ]
        }
        "kv-put" => {
            let (scope, key) = (parse_scope(arg(0, "scope")?)?, arg(1, "key")?);
            let value = arg(2, "value")?.to_string();
            let ttl = opt(3).map(parse_secs).transpose()?;
            with_kv!(peer, c => c.kv_put(key, value, &scope, ttl).await).map_err(fail)?;
            vec![("key", Val::Text(key.to_string()))]
        }
        "kv-delete" => {
            let (scope, key) = (parse_scope(arg(0, "scope")?)?, arg(1, "key")?);
            with_kv!(peer, c => c.kv_delete(key, &scope).await).map_err(fail)?;
            vec![("key", Val::Text(key.to_string()))]
        }
        "kv-incr" => {
            let (scope, key) = (parse_scope(arg(0, "scope")?)?, arg(1, "key")?);
            let count = match opt(2) {
                Some(n) => n
                    .parse::<u32>()
                    .map_err(|_| format!("kv-incr: bad count {n:?}"))?,
                None => 1,
            };
            let mut values = Vec::new();
            for _ in 0..count {
                values.push(
                    with_kv!(peer, c => c.kv_increment(key, &scope, None).await).map_err(fail)?,
                );
            }
            vec![
                ("key", Val::Text(key.to_string())),
                ("values", Val::Nums(values)),
            ]
        }
        "kv-cas" => {
            let (scope, key) = (parse_scope(arg(0, "scope")?)?, arg(1, "key")?);
            let expected = arg(2, "expected value")?.to_string();
            let new = arg(3, "new value")?.to_string();
            let applied =
                with_kv!(peer, c => c.kv_compare_and_set(key, expected, new, &scope, None).await)
                    .map_err(fail)?;
            vec![
                ("key", Val::Text(key.to_string())),
                ("applied", Val::Bool(applied)),
            ]
        }
        "kv-list" => {
            let scope = parse_scope(arg(0, "scope")?)?;
            let prefix = opt(1).unwrap_or_default();
            let mut keys = with_kv!(peer, c => c.kv_list(prefix, &scope).await).map_err(fail)?;
            keys.sort();
            vec![("keys", Val::List(keys))]
        }
        "checkpoint-save" => {
            let key = dash_empty(arg(0, "key")?);
            let data = arg(1, "data")?.to_string();
            let ttl = match opt(2) {
                Some(secs) => CheckpointTtl::After(parse_secs(secs)?),
                None => CheckpointTtl::ServerDefault,
            };
            let saved_at = core.checkpoint_save(key, data, ttl).await.map_err(fail)?;
            vec![
                ("key", Val::Text(key.to_string())),
                ("saved_at", Val::Num(unix_secs(saved_at))),
            ]
        }
        "checkpoint-load" => {
            let key = dash_empty(arg(0, "key")?);
            let cp = core.checkpoint_load(key).await.map_err(fail)?;
            vec![
                ("key", Val::Text(key.to_string())),
                ("found", Val::Bool(cp.is_some())),
                (
                    "data",
                    Val::Text(cp.as_ref().map(|c| lossy(&c.data)).unwrap_or_default()),
                ),
                (
                    "saved_at",
                    Val::Num(cp.map(|c| unix_secs(c.saved_at)).unwrap_or(0)),
                ),
            ]
        }
        "checkpoint-list" => {
            let mut keys = core.checkpoint_list().await.map_err(fail)?;
            keys.sort();
            vec![("keys", Val::List(keys))]
        }
        "checkpoint-delete" => {
            let key = dash_empty(arg(0, "key")?);
            core.checkpoint_delete(key).await.map_err(fail)?;
            vec![("key", Val::Text(key.to_string()))]
        }
        "create-pool-task" => {
            let spec = TaskSpec::new(arg(2, "task type")?)
                .workspace(arg(0, "workspace")?)
                .target_implementation(arg(1, "implementation")?)
                .payload(opt(3).unwrap_or_default().to_string());
            let created = core.create_task(spec).await.map_err(fail)?;
            vec![
                ("task_id", Val::Text(created.task_id)),
                ("status", Val::Text(created.status)),
                ("assigned_to", Val::Text(created.assigned_to)),
            ]
        }
        "get-task" => task_fields(&core.get_task(arg(0, "task id")?).await.map_err(fail)?),
        "claim-task" => task_fields(&core.claim_task(arg(0, "task id")?).await.map_err(fail)?),
        "complete-task" => {
            task_fields(&core.complete_task(arg(0, "task id")?).await.map_err(fail)?)
        }
        "report-progress" => {
            let task = dash_empty(arg(0, "task id")?);
            let completion = arg(1, "completion")?;
            let completion = completion
                .parse::<f64>()
                .map_err(|_| format!("report-progress: bad completion {completion:?}"))?;
            let report = ProgressReport::new(task)
                .completion(completion)
                .summary(arg(2, "summary")?);
            core.report_progress(report).await.map_err(fail)?;
            vec![("task_id", Val::Text(task.to_string()))]
        }
        other => return Err(format!("unknown command {other:?}")),
    })
}

/// Reports a task assignment pushed to this peer.
fn report_assignment(a: &TaskAssignment) {
    let mut metadata: Vec<String> = a.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
    metadata.sort();
    event(
        "assignment",
        &[
            ("task_id", Val::Str(&a.task_id)),
            ("task_type", Val::Str(&a.task_type)),
            ("assigned_to", Val::Str(&a.assigned_to)),
            ("payload", Val::Text(lossy(&a.payload))),
            ("metadata", Val::List(metadata)),
        ],
    );
}

/// Reports a progress update pushed to this peer.
fn report_progress_update(u: &ProgressUpdate) {
    event(
        "progress",
        &[
            ("source", Val::Str(&u.source)),
            ("task_id", Val::Str(&u.task_id)),
            ("state", Val::Str(&u.state)),
            ("completion", Val::Float(u.completion)),
            ("summary", Val::Str(&u.summary)),
            ("workspace", Val::Str(&u.workspace)),
            ("recipient", Val::Str(&u.recipient)),
            ("progress_kind", Val::Str(u.kind().as_str_name())),
            (
                "step",
                Val::Str(u.step.as_ref().map(|s| s.name.as_str()).unwrap_or("")),
            ),
        ],
    );
}

fn report_task_error(task_id: &str, step: &str, e: &Error) {
    event(
        "task-error",
        &[
            ("task_id", Val::Str(task_id)),
            ("step", Val::Str(step)),
            ("error_kind", Val::Text(format!("{:?}", e.kind()))),
            ("error", Val::Text(e.to_string())),
        ],
    );
}

/// The `pool-worker` role's work on one assignment: claim, optionally
/// report progress, complete; each step reported as it succeeds.
async fn work_task(client: &Client, a: &TaskAssignment, summary: Option<&str>) {
    let task = client.task_for(a);
    let id = a.task_id.as_str();
    match task.claim().await {
        Ok(info) => event(
            "claimed",
            &[
                ("task_id", Val::Str(id)),
                ("status", Val::Str(status_name(info.status))),
            ],
        ),
        Err(e) => return report_task_error(id, "claim", &e),
    }
    if let Some(summary) = summary {
        let report = ProgressReport::new("")
            .completion(0.5)
            .summary(summary)
            .step("work", 1, 2);
        match task.progress(report).await {
            Ok(()) => event("progress-sent", &[("task_id", Val::Str(id))]),
            Err(e) => return report_task_error(id, "progress", &e),
        }
    }
    match task.complete().await {
        Ok(info) => event(
            "completed",
            &[
                ("task_id", Val::Str(id)),
                ("status", Val::Str(status_name(info.status))),
            ],
        ),
        Err(e) => report_task_error(id, "complete", &e),
    }
}

fn report_session(s: &ConnectionInfo) {
    let kind = PrincipalType::try_from(s.r#type)
        .map(|t| t.as_str_name())
        .unwrap_or("UNKNOWN");
    event(
        "session",
        &[
            ("identity", Val::Str(&s.identity)),
            ("type", Val::Str(kind)),
            ("workspace", Val::Str(&s.workspace)),
            ("implementation", Val::Str(&s.implementation)),
            ("specifier", Val::Str(&s.specifier)),
            ("session_id", Val::Str(&s.session_id)),
        ],
    );
}

/// The sends given on the command line (`sender` and `broadcast` roles).
async fn initial_sends(args: &Args, peer: &Peer) -> Result<(), String> {
    let entries = args
        .sends
        .iter()
        .map(|e| parse_send(e))
        .collect::<Result<Vec<_>, _>>()?;
    for (ty, base) in &entries {
        for i in 1..=args.count {
            let payload = if args.count > 1 {
                format!("{base}-{i}")
            } else {
                base.clone()
            };
            let mut targets: Vec<(String, aether_client::Result<()>)> = Vec::new();
            if let Some(topic) = &args.to {
                let result = match OutgoingMessage::to(topic, payload.clone()) {
                    Ok(m) => peer.send(m.message_type(*ty)).await,
                    Err(e) => Err(e),
                };
                targets.push((topic.clone(), result));
            }
            if let Some(ws) = &args.to_agents {
                let result = peer.broadcast_to_agents(ws, payload.clone(), *ty).await;
                targets.push((format!("ga::{ws}"), result));
            }
            if let Some(ws) = &args.to_users {
                let result = peer.broadcast_to_users(ws, payload.clone(), *ty).await;
                targets.push((format!("gu::{ws}"), result));
            }
            for (target, result) in targets {
                match result {
                    Ok(()) => event(
                        "sent",
                        &[
                            ("to", Val::Str(&target)),
                            ("type", Val::Str(type_name(*ty))),
                            ("payload", Val::Str(&payload)),
                        ],
                    ),
                    Err(e) => report_error("send", &e),
                }
            }
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reads stdin lines on a plain thread (a blocked read must not hold up
/// the runtime's shutdown); the channel closes at end of input.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn report_connected(info: &SessionInfo, peer: &Peer) {
    let accessor = match peer {
        Peer::Task(t) => t.assigned_id().unwrap_or_default(),
        _ => String::new(),
    };
    event(
        "connected",
        &[
            ("identity", Val::Str(&info.identity)),
            ("session_id", Val::Str(&info.session_id)),
            ("assigned_id", Val::Str(&info.assigned_id)),
            ("task_assigned_id", Val::Str(&accessor)),
            ("topic", Val::Str(&peer.erase().topic().unwrap_or_default())),
        ],
    );
}

async fn run(args: Args) -> ExitCode {
    let peer = match build(&args) {
        Ok(p) => p,
        Err(e) => {
            emit(&format!(
                "ERROR {:?} {}",
                e.kind(),
                json_str(&e.to_string())
            ));
            return ExitCode::from(2);
        }
    };
    install_handlers(&args, &peer);
    let deadline = tokio::time::sleep(Duration::from_secs(args.timeout_secs));
    tokio::pin!(deadline);
    let term = terminated();
    tokio::pin!(term);

    let client = peer.erase();
    let connected = tokio::select! {
        r = client.connect() => r,
        _ = &mut deadline => Err(Error::new(ErrorKind::Timeout, "peer timeout before connect")),
        _ = &mut term => Err(Error::new(ErrorKind::Closed, "terminated before connect")),
    };
    let info = match connected {
        Ok(info) => info,
        Err(e) => {
            emit(&format!(
                "ERROR {:?} {}",
                e.kind(),
                json_str(&e.to_string())
            ));
            peer.erase().close().await;
            // For the duplicate probe a refusal is the expected outcome.
            return if args.role == Role::Duplicate {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
    };
    report_connected(&info, &peer);

    if args.role == Role::Duplicate {
        emit(&format!("READY {}", info.identity));
        peer.erase().close().await;
        emit("EXIT done");
        return ExitCode::SUCCESS;
    }

    if let (Peer::User(user), Some(ws)) = (&peer, &args.switch_workspace) {
        // The switch has no reply; a round trip on the same stream orders it
        // before anything this peer reports next.
        let barrier = match user.switch_workspace(ws).await {
            Ok(()) => user.connection_status("user", &args.user).await,
            Err(e) => Err(e),
        };
        match barrier {
            Ok(_) => event("switched", &[("workspace", Val::Str(ws))]),
            Err(e) => report_error("switch_workspace", &e),
        }
    }

    emit(&format!("READY {}", info.identity));

    if let Err(e) = initial_sends(&args, &peer).await {
        event(
            "command-error",
            &[("command", Val::Str("--send")), ("error", Val::Str(&e))],
        );
    }

    let mut commands = stdin_lines();
    let reason = loop {
        tokio::select! {
            _ = &mut deadline => break "timeout",
            _ = &mut term => break "signal",
            _ = client.wait_until_disconnected() => break "disconnected",
            line = commands.recv() => match line {
                None => break "stdin-eof",
                Some(line) => match run_command(&peer, &line).await {
                    Ok(true) => {}
                    Ok(false) => break "quit",
                    Err(e) => event(
                        "command-error",
                        &[("command", Val::Str(line.trim())), ("error", Val::Str(&e))],
                    ),
                },
            },
        }
    };
    emit(&format!("EXIT {reason}"));
    peer.erase().close().await;
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            emit(&format!("ERROR Runtime {}", json_str(&e.to_string())));
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run(args));
    // Bounded: handler tasks still running are abandoned after 2 s. (The
    // stdin reader is a plain thread, so a blocked read never holds us up.)
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}
