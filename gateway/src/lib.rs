//! An embedded, protocol-compatible, single-process Aether gateway.
//!
//! It serves the Aether v1 `Connect` stream with tonic, for the SDK's tests,
//! examples and benchmarks and for the interop suite. Start one in-process
//! with [`start`]; the `aether-gateway` binary wraps the same library.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aether_gateway::GatewayError> {
//! let gw = aether_gateway::start(aether_gateway::GatewayConfig::dev()).await?;
//! println!("connect to {}", gw.url());
//! gw.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Implemented
//!
//! Handshake for all eight principal types, identity lock and resume
//! (with proof of the credential), authentication (dev mode, the admin
//! key, API tokens minted with `TokenOperation`, mapped mTLS client
//! certificates, task tokens; a failure throttle), extension negotiation,
//! message routing with per-identity mailboxes and live broadcast lanes,
//! `SwitchWorkspace`, session administration, connection status, graceful
//! shutdown, frame and payload limits; the KV store (all fourteen
//! operations over the eight scopes), checkpoints and the connect-time
//! `ConfigSnapshot`; tasks in all three assignment modes with
//! orchestration, task tokens, queries, operations, progress and task
//! subscriptions; the agent registry; the audit log (`AuditQuery`,
//! `SubmitAuditEvent`); durable state under a data
//! directory (an embedded redb database). Every other upstream operation is
//! answered at once with `ErrorResponse{ERR_NOT_IMPLEMENTED}` carrying its
//! correlation id.
//!
//! # Layers
//!
//! Each top-level module imports (`crate::…`) only modules of its own
//! layer or of the layers below it, and the import graph has no cycle;
//! `tests/layers.rs` reads the sources and checks both against this list.
//! One domain per module or folder. From the bottom:
//!
//! 1. **Foundations** (`config`, `error`, `stats`, `expiring`, `reply`,
//!    `rate`, `store`, `answer`, `proto`, `unimplemented`, `credential`):
//!    configuration, counters, error replies, the durable store and its
//!    journal, deferred answers, the generated wire types, what a
//!    credential is and how secrets are handled.
//! 2. **Delivery** (`mailbox`, `lane`, `outbound`, `push`): per-identity
//!    mailboxes, each session's proxy lane and outbound stream, and
//!    pushes to it.
//! 3. **Storage domains** (`kv`, `checkpoint`, `audit`): the KV store,
//!    the checkpoints and the audit log; they know nothing of sessions.
//! 4. **Context** (`context`): what every domain shares: configuration,
//!    counters, mailboxes and the directory of live sessions (the
//!    `SessionHandle`s, identity lock and resume lineage, broadcast lanes,
//!    service instances, the fan-out of progress updates).
//! 5. **Domains on the context** (`admin`, `routing`, `tasks`, `proxy`,
//!    `auth`): session administration and connection status, `SendMessage`
//!    routing, tasks and orchestration, HTTP proxying and tunnels,
//!    authentication and API tokens. The tasks component keeps the context and the
//!    checkpoints it needs; the agent registry's launch parameters are
//!    handed to task creation by its caller.
//! 6. **Domains on tasks** (`progress`, `registry`): `ProgressReport`
//!    (which also emits a task event) and the agent registry (whose LAUNCH
//!    creates a startup task).
//! 7. **Hub** (`hub`): one gateway's state, wired together: the context
//!    and every domain component, loaded from the store.
//! 8. **Sessions** (`session`): the handshake, then each upstream frame
//!    dispatched to its domain.
//! 9. **Serving** (`service`, `server`): the tonic `Connect` service,
//!    [`start`] and [`RunningGateway`].
//!
//! # Choices where the behaviour specification leaves one
//!
//! Each picks the option that loses no data and fails loudly.
//!
//! * **Handshake order**: `ConnectionAck`, then (agents and tasks) the
//!   `ConfigSnapshot`, then the mailbox backlog. Upstream may deliver
//!   backlog before the ack.
//! * **`assigned_id`** is filled for pooled tasks (`ta::…::{uuid}`); empty
//!   otherwise. Orchestrators without a specifier get the first 8
//!   characters of a UUID.
//! * **Resume**: the process knows liveness exactly, so there are no lock
//!   TTLs. A live identity with a matching `resume_session_id` is taken
//!   over at once (the old RPC ends `CANCELLED "session disconnected by
//!   administrator"`); a live identity without it is `ALREADY_EXISTS`.
//!   The lineage (last session id, reconnection count, first connect time)
//!   is kept after a disconnect, so a client that reconnects after its old
//!   session ended is also `resumed=true` with `reconnection_count+1`
//!   (upstream would report a fresh connection).
//! * **Required extensions** are checked before the identity lock: the ack
//!   (fresh session id, `resumed=false`) is sent, then `FAILED_PRECONDITION`;
//!   a doomed connection never takes over a live session.
//! * **Credentials** (see the `auth` module for the full order): outside
//!   dev mode **every** principal type needs one, the orchestrators, the
//!   workflow engine and the metrics bridge included: the admin key, an API
//!   token minted for its type (`TokenOperation`; `api_key`/`x-api-key`),
//!   a client certificate the operator mapped to it
//!   ([`TlsConfig::map_client_cert`]), or a task token (`token`) minted for
//!   exactly its identity. A token's type, bound id and workspace
//!   patterns are checked (PERMISSION_DENIED); unknown, revoked and
//!   expired keys get one UNAUTHENTICATED text. `authorization` and
//!   `session_token` are refused as unsupported. Dev mode admits anyone
//!   (one warning line at start) but still honours keys that do
//!   authenticate. Secrets are compared in constant time, stored only as
//!   SHA-256 digests, never logged. After 5 failures in 30 s for one
//!   identity (100 for one remote address) every attempt is refused for
//!   30 s ([`AuthThrottle`]).
//! * **API tokens** (`TokenOperation`): only administrators (the admin
//!   key, a token with the `admin` scope, dev mode) may manage them;
//!   scopes are `connect` (default) and `admin`; `created_by` is the bound
//!   id (the identity string, a user id or an implementation; required for
//!   User tokens); revoking or deleting a token ends the live sessions that
//!   used it; an expired token's sessions end within a second.
//! * **Resume** takes over a live session only with the same credential
//!   as the live session (same token, certificate, task or the admin key);
//!   a session id alone is answered ALREADY_EXISTS, like any duplicate.
//! * **Admin rights**: administrators have every right; authenticated
//!   orchestrators and the workflow engine keep the system-level rights of
//!   §6.1 (session LIST/GET/DISCONNECT, any connection status, audit
//!   queries) but may not manage tokens; other sessions get the upstream
//!   refusal texts.
//! * **Audit** (§6.8): connections, refused authentications (not the
//!   attempts a cooldown refuses unseen), refused takeovers, token
//!   changes, session disconnections and submitted events are recorded
//!   durably (the newest [`Limits::audit_max_entries`]). `AuditQuery`
//!   answers newest first; `total_count` counts every match, not the page.
//!   Timestamps are unix seconds.
//! * **Rate limit**: the upstream per-session token bucket (100 msg/s,
//!   burst 200) is available as [`Limits::send_rate`] but **off by
//!   default**, because it would cripple benchmarks and tests.
//! * **Mailboxes** ("lite" semantics): every identity topic and the two
//!   receiver topics have a mailbox that exists whether or not the owner is
//!   online, bounded by [`Limits`] (10 000 messages, 64 MiB, 24 h). Overflow
//!   drops the oldest, counts it (in [`GatewayStats`] and per mailbox) and
//!   logs a warning (the first drop, then once per 1024). A message leaves
//!   the mailbox when it is handed to the owner's stream; messages popped
//!   but never handed over go back when a stream ends. A mailbox is created
//!   for a topic only when it is a well-formed identity topic; sends to
//!   malformed ones are accepted and counted as unroutable (upstream
//!   publishes them to a topic nobody can subscribe to).
//! * **Broadcast lanes** (`ga tb gu uw uu`) are live-only: each connected
//!   subscriber gets a copy in its own mailbox. `pg::` and `tk::`
//!   `SendMessage`s are accepted and dropped (progress travels as
//!   `ProgressReport`, task events as `TaskEvent`). `tb::` is broadcast,
//!   as upstream.
//! * **Fan-in**: `event::…`/`metric::…` targets all go to `event::receiver0`
//!   / `metric::receiver0` (including `…::receiverN`: one process, one
//!   shard).
//! * **`IncomingMessage.workspace`** is set to the effective workspace
//!   (first non-empty of `app_workspace`, the declared event/metric
//!   workspace, the sender's workspace); upstream leaves it empty.
//! * **Permission error text** names the target as the client wrote it.
//! * **`SwitchWorkspace`** validates the new workspace with the identifier
//!   rules (`ERR_INVALID_ARGUMENT`); upstream does not.
//! * **Connection status** of a `user` given by bare user id reports
//!   connected when any window of that user is connected (upstream checks
//!   `us::{uid}::` and normally says no). Other bare ids are prefixed with
//!   the type's topic prefix (`agent` + `w::i::s` → `ag::w::i::s`).
//! * **Frame limit**: tonic's decoder accepts up to 64 MiB; frames above
//!   [`Limits::max_frame_bytes`] (4 MiB) are answered with
//!   `ErrorResponse{ERR_FRAME_TOO_LARGE}` (with the op's correlation id)
//!   and the session survives.
//! * **Shutdown** ends every session with `Signal{GRACEFUL_DISCONNECT,
//!   "server shutting down"}` then `CANCELLED "session disconnected by
//!   administrator"` (as upstream); new streams get `UNAVAILABLE`.
//! * **Durability** (with [`GatewayConfig::data_dir`]): KV, checkpoints and
//!   waiting messages live in memory and every change is journaled to the
//!   database; one writer thread commits whatever is queued in one
//!   transaction per fsync, so sessions share commits. A change is
//!   acknowledged only once its commit is on disk, but the session reads
//!   its next frames meanwhile (up to 1024 replies wait per session), so
//!   replies to changes may arrive after replies to later reads. Reads
//!   answer from memory at once and may see a change whose own reply is
//!   still waiting for its commit. The journal commits in submission
//!   order, so an acknowledged change also covers every earlier change of
//!   the same session. A commit failure answers with the operation's
//!   failure reply. Without a data directory nothing survives a restart.
//!   [`RunningGateway::shutdown`] (and dropping it) flushes the journal and
//!   releases the database, so a new gateway may open the same directory.
//! * **Messages to connected identities are in flight in memory; messages
//!   waiting for offline identities are durable**: a message for an
//!   offline owner is journaled when it is queued and deleted when it is
//!   handed to the owner's stream; when an owner detaches, what is left in
//!   its mailbox is journaled. A crash loses what was queued for connected
//!   identities; restarting reloads the rest (within the age bound).
//! * **KV failures**: the `KV_ERROR` message is upstream's text followed by
//!   the reason (`internal error processing KV operation: key must not be
//!   empty`). Checks run in this order: principal type, `authorization`,
//!   value size (PUT), scope parameters, key. Any `authorization` (OBO)
//!   context is refused (`ERR_PERMISSION_DENIED` + `KVResponse{false}`):
//!   no authority grants exist here. The metrics bridge may use KV (shared
//!   scopes only, like the workflow engine: it has no implementation and
//!   specifier).
//! * **KV storage keys**: namespace and key are stored apart, so keys that
//!   contain `:` never collide across scopes (upstream's `ns:key` strings
//!   make a `user` key `ws:w:k` the same entry as `user-workspace` key `k`
//!   of workspace `w`). NUL in namespace components becomes `_`, like `:`
//!   and `|`.
//! * **KV TTLs**: INCREMENT applies its TTL when the result is 1 and
//!   otherwise keeps the existing expiry (a rate window stays a window;
//!   upstream's Badger store drops it); DECREMENT keeps it. Guarded
//!   counters apply a TTL only to a counter they create; SET_NX and
//!   COMPARE_AND_SET write with the request's TTL like PUT; SET_ADD
//!   (re)applies it when the member is new. Expired entries read as
//!   missing at once and are swept every second.
//! * **KV LIST** returns keys in order; the cursor is the last key of the
//!   page. SET_ADD members must be UTF-8. **PURGE_IDENTITY** purges only
//!   exclusive scopes (upstream would also wipe the shared `global`
//!   namespace for any target) and refuses a target without an
//!   implementation and specifier.
//! * **Checkpoints** have a size limit ([`Limits::max_checkpoint_bytes`],
//!   4 MiB; upstream has none but the frame limit): larger SAVEs answer
//!   `success=false, error="checkpoint too large: ..."`. The server
//!   default TTL (`ttl < 0`) is none.
//! * **Tasks** live in memory behind one lock and are journaled to the
//!   database (records, task tokens and idempotency keys); a create or op
//!   is answered, and its pushes leave, once its commit is on disk. Pushes
//!   (assignments, progress, task events, `TaskHibernated`) go straight to
//!   the live session's stream in order; a push to a session that is gone
//!   is dropped, and the task stays in the store to be delivered again.
//!   Timestamps in `TaskInfo` and `TaskAssignment.assigned_at` are unix
//!   seconds.
//! * **Create failures** answer `CreateTaskResponse{success: false}` (when
//!   `request_id` is set) then an id-less `ErrorResponse`, also for
//!   `ERR_INVALID_IDENTIFIER`, which upstream leaves unanswered (a
//!   synchronous caller would time out). `context_id` is stored.
//!   `parent_task_id` must name a non-terminal task assigned to the caller
//!   (missing: `ERR_INVALID_ARGUMENT`; otherwise `ERR_PERMISSION_DENIED`);
//!   without it a token-bound worker's task is the parent. `root_task_id`
//!   defaults to the parent's root.
//! * **Idempotency keys** are kept in the task component's own ledger
//!   (`Table::Meta`, per workspace, 24 h), committed with the task they
//!   name, rather than in GLOBAL KV: a repeated key answers `success`, the
//!   original task id and status `""`.
//! * **POOL** tasks go to a connected consumer chosen by the power of two
//!   choices on the tasks each holds: agents of `{workspace}:{impl}` and
//!   services of `{impl}` (any workspace) unless `no_pool_consumer`.
//!   Without one they wait and are handed (oldest first, up to 100) to the
//!   next Agent **or Service** consumer that connects (upstream serves
//!   services only at creation). The response reports `"pending_pool"` and
//!   the consumer in `assigned_to` when it was handed over at once
//!   (upstream leaves it empty). A pool task its consumer never claimed
//!   goes back to the pool when that identity disconnects.
//! * **Assigned but unclaimed** tasks are pushed again when their assignee
//!   reconnects (at-least-once delivery), except startup tasks, which
//!   stay with their orchestrator.
//! * **TARGETED** to a connected target needs no registry entry (dev).
//!   Offline, `UNSPECIFIED`/`ORCHESTRATE` creates an `agent_startup` task
//!   (profile: the registry's `launch_params["profile"]`, else the
//!   request's override; none: `ERR_TASK_CREATE_FAILED`), handed at once
//!   to a connected orchestrator serving the profile, else to the first
//!   one that connects (no polling); an active startup task for the same
//!   agent is reused (upstream fails the create). The target task waits
//!   for the agent (`"orchestration_triggered"`). `QUEUE`, and an offline
//!   non-agent target, wait without a start (`"pending"`); `REJECT` fails
//!   with `ERR_TARGET_OFFLINE` and creates nothing.
//! * **Startup assignments** carry the launch parameters plus
//!   `auth_token`, a fresh task token (64 hex characters, 24 h, revoked
//!   when the task ends) for `ag::{ws}::{impl}::{spec}`. Its worker's task
//!   runs on connect, is completed on a graceful end of stream, only
//!   stamped `disconnected_at` when the gateway ended the session, and
//!   failed after its grace window (30 s interactive, 5 min batch, 10 min
//!   background; a timer per drop instead of a 10 s reaper) when the
//!   stream broke and it did not reconnect. The agent's `ConfigSnapshot`
//!   carries `task_context` (no OBO `user`/`root_user`). A worker bound by
//!   a `target_identity` token to an ordinary task also gets that task's
//!   `TaskAssignment` on connect. Tokens are stored in clear in the
//!   gateway's own database.
//! * **Task operations**: COMPLETE, FAIL and CANCEL refuse terminal tasks
//!   (upstream leaves COMPLETE and FAIL unguarded); CLAIM of a running task
//!   succeeds only for its holder; a dependency counts as satisfied once
//!   terminal, whatever its outcome, and a WAIT_FOR whose dependencies are
//!   all finished resumes at once. Violations answer `success: false` with
//!   the reason. Hibernation checks the assignee's checkpoint in the
//!   checkpoint store. Not implemented: the retry scheduler (FAIL only
//!   counts attempts), scheduled and timed wakes, `completion_event`
//!   publication, authority lineage (authority filters match nothing).
//! * **TaskQuery LIST** with an empty workspace uses the caller's, or
//!   every workspace for callers without one; `exclude_statuses` maps
//!   statuses as `statuses` does (QUEUED is `pending` only); the opaque
//!   `page_token` names the last task of the previous page.
//! * **Progress** goes straight to sessions: `pg::{ws}` reaches agents of
//!   the workspace and users currently on it, `pg::us::{uid}` every window
//!   of the user. It is rate limited only when [`Limits::send_rate`] is
//!   set. Status notifications come from source `aether-gateway`. Subject
//!   (OBO) notifications and the task chat lane are not implemented.
//! * **Task subscriptions** can replay (`start_timestamp_unix_ms > 0`)
//!   from an in-memory log of the last 256 events of each of the 10 000
//!   most recently active tasks; they are not durable and end with their
//!   session. The response and replayed events precede live events.
//! * **Agent registry** is durable; `AgentResponse` echoes `request_id`
//!   (upstream leaves it empty); LIST ignores its filter;
//!   LIST_ORCHESTRATORS lists the orchestrators connected now.
//! * **Unimplemented operations** (workspaces, ACL, ...) answer
//!   `ERR_NOT_IMPLEMENTED` with the correlation id (request_id,
//!   client_request_id or tunnel_id) rather than upstream's id-less reply.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(unreachable_pub)]

mod admin;
mod answer;
mod audit;
mod auth;
mod checkpoint;
mod config;
mod context;
mod credential;
mod error;
mod expiring;
mod hub;
mod kv;
mod lane;
mod mailbox;
mod outbound;
mod progress;
pub mod proto;
mod proxy;
mod push;
mod rate;
mod registry;
mod reply;
mod routing;
mod server;
mod service;
mod session;
mod stats;
mod store;
mod tasks;
mod unimplemented;

pub use config::{
    AuthThrottle, CertPrincipal, GatewayConfig, Limits, ProxyLimits, RateLimit, TlsConfig,
    cert_fingerprint,
};
pub use error::GatewayError;
pub use server::{RunningGateway, start};
pub use stats::GatewayStats;

/// `ConnectionAck.server_version` of this gateway.
pub const SERVER_VERSION: &str = session::SERVER_VERSION;
