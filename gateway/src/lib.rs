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
//! Handshake for all eight principal types, identity lock and resume,
//! credentials (dev mode or an admin API key), extension negotiation,
//! message routing with per-identity mailboxes and live broadcast lanes,
//! `SwitchWorkspace`, session administration, connection status, graceful
//! shutdown, frame and payload limits. Every other upstream operation is
//! answered at once with `ErrorResponse{ERR_NOT_IMPLEMENTED}` carrying its
//! correlation id.
//!
//! # Choices where the behaviour specification leaves one
//!
//! Each picks the option that loses no data and fails loudly.
//!
//! * **Handshake order**: `ConnectionAck`, then (agents and tasks) an empty
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
//! * **Credentials**: a `token` credential is always `UNAUTHENTICATED
//!   "invalid or revoked token"` (no task tokens are minted yet). Dev mode
//!   admits everyone else. Outside dev mode an `api_key`/`x-api-key` must
//!   equal the admin key (a wrong one is refused even for system
//!   principals); `authorization`/`session_token` are refused as
//!   unsupported; impersonable principals without a credential are refused.
//!   Without an admin key, only orchestrators, the workflow engine and the
//!   metrics bridge can connect outside dev mode.
//! * **Admin rights**: in dev mode every session is an administrator
//!   (session LIST/GET/DISCONNECT, any connection status). Otherwise
//!   sessions authenticated with the admin key, orchestrators and the
//!   workflow engine are; other sessions get the upstream refusal texts.
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
//!   subscriber gets a copy in its own mailbox. `pg::` and `tk::` sends are
//!   accepted and dropped (no subscribers exist yet). `tb::` is broadcast,
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
//! * **Unimplemented operations** (KV, tasks, checkpoints, progress, proxy,
//!   ...) answer `ERR_NOT_IMPLEMENTED` with the correlation id (request_id,
//!   client_request_id or tunnel_id) rather than upstream's id-less reply.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod config;
mod error;
mod hub;
mod mailbox;
mod outbound;
mod rate;
mod reply;
mod routing;
mod server;
mod service;
mod session;
mod stats;
#[allow(dead_code)] // wired in by the KV, checkpoint and task components
mod store;
mod unimplemented;

pub use config::{GatewayConfig, Limits, RateLimit, TlsConfig};
pub use error::GatewayError;
pub use server::{RunningGateway, start};
pub use stats::GatewayStats;

/// `ConnectionAck.server_version` of this gateway.
pub const SERVER_VERSION: &str = session::SERVER_VERSION;
