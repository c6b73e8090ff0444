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
//! subscriptions; the task clockwork (retries by `RetryPolicy`, scheduled
//! wakes, wait timeouts, grace windows, stuck-task TTL, purge of finished
//! tasks), completion events, orchestration triggered by messages; the
//! agent registry; HTTP proxying and tunnels between sessions; API tokens,
//! credentials for every principal outside dev mode and the audit log
//! (`AuditQuery`, `SubmitAuditEvent`); the authorization engine (ACL
//! rules, fallback policies, groups, roles, access checks), workspaces,
//! authority grants and requests with on-behalf-of contexts, the
//! `workflow_op` relay and per-identity rate limits; durable state under
//! a data directory (an embedded redb database). Every other upstream operation is
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
//! 1. **Foundations** (`config`, `error`, `stats`, `expiring`, `clock`,
//!    `reply`, `rate`, `store`, `answer`, `proto`, `unimplemented`,
//!    `credential`, `json`): configuration, counters, error replies, the
//!    clock of task timers, the durable store and its journal, deferred
//!    answers, the generated wire types, what a credential is and how
//!    secrets are handled, the JSON the gateway writes.
//! 2. **Delivery** (`mailbox`, `lane`, `outbound`, `push`): per-identity
//!    mailboxes, each session's proxy lane and outbound stream, and
//!    pushes to it.
//! 3. **Storage domains** (`authz`, `kv`, `checkpoint`, `audit`): the
//!    authorization engine (ACL rules, fallback policies, groups, roles,
//!    authority grants and the resolution of on-behalf-of contexts), the
//!    KV store, the checkpoints and the audit log; they know nothing of
//!    sessions (the engine decides for plain principal values, KV asks it).
//! 4. **Context** (`context`, `identity_rate`): what every domain shares:
//!    configuration, counters, mailboxes, the per-identity rate limits and
//!    the directory of live sessions (the `SessionHandle`s, identity lock
//!    and resume lineage, broadcast lanes, service instances, the fan-out
//!    of progress updates).
//! 5. **Domains on the context** (`admin`, `routing`, `tasks`, `proxy`,
//!    `auth`, `authority`, `workflow`): session administration and
//!    connection status, `SendMessage` routing, tasks and orchestration,
//!    HTTP proxying and tunnels, authentication and API tokens, authority
//!    grant and request operations, the `workflow_op` relay. The tasks
//!    component keeps the context and the checkpoints it needs; the agent
//!    registry's launch parameters are handed to task creation by its
//!    caller.
//! 6. **Domains on tasks** (`progress`, `registry`, `triggers`,
//!    `workspaces`): `ProgressReport` (which also emits a task event), the
//!    agent registry (whose LAUNCH creates a startup task), the
//!    orchestration that a message to an offline agent triggers, and
//!    workspaces (whose listing counts tasks).
//! 7. **Hub** (`hub`): one gateway's state, wired together: the context
//!    and every domain component, loaded from the store.
//! 8. **Sessions** (`session`): the handshake, then each upstream frame
//!    dispatched to its domain.
//! 9. **Serving** (`listener`, `service`, `server`): accepting connections
//!    (backlog, connection limit, accept back-off, the handshake deadline),
//!    the tonic `Connect` service, [`start`] and [`RunningGateway`].
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
//!   is kept for [`Limits::resume_window`] (10 min, the 10 000 most recent
//!   departures) after the identity's last session ended, so a client that
//!   reconnects after its old session ended is also `resumed=true` with
//!   `reconnection_count+1` (upstream would report a fresh connection);
//!   then it is forgotten, like every other per-identity entry: empty,
//!   unused mailboxes are reclaimed every second, so identities that come
//!   and go leave nothing behind ([`RunningGateway::identity_tables`]).
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
//! * **Admin rights** are decided by the authorization engine (`authz`):
//!   administrators (the admin key, a token with the `admin` scope, dev
//!   mode) are superadmins; authenticated orchestrators and the workflow
//!   engine keep the system-level rights of §6.1 for session
//!   administration (LIST/GET/DISCONNECT, any connection status) and audit
//!   queries, and like every other session get the rest (workspaces, the
//!   agent registry, ACL administration, other workspaces) only from ACL
//!   rules and fallback policies; refusals use the upstream texts. Only
//!   administrators manage tokens.
//! * **Grants valid while their audience is active**
//!   (`valid_while_audience_active`): when the last live session of the
//!   grant's delegate ends, the grant and those derived from it are
//!   revoked (`authority_grant_revocation`, reason `audience inactive`);
//!   a reconnecting delegate does not get them back. `operation_scope` is
//!   stored and returned but not enforced (the protocol names no
//!   operation vocabulary for it).
//! * **Audit** (§6.8): connections, refused authentications (not the
//!   attempts a cooldown refuses unseen), refused takeovers, token
//!   changes, session disconnections and submitted events are recorded
//!   durably (the newest [`Limits::audit_max_entries`]). `AuditQuery`
//!   answers newest first; `total_count` counts every match, not the page.
//!   Timestamps are unix seconds.
//! * **Rate limit**: the upstream per-session token bucket (100 msg/s,
//!   burst 200) is available as [`Limits::send_rate`] but **off by
//!   default**, because it would cripple benchmarks and tests. So is
//!   [`Limits::identity_rate`], one bucket per principal shared by all its
//!   sessions and taken by every request (`ERR_RATE_LIMITED`, retryable,
//!   with the request's id).
//! * **Mailboxes** ("lite" semantics): every identity topic and the two
//!   receiver topics have a mailbox that exists whether or not the owner is
//!   online, bounded by [`Limits`] (10 000 messages, 64 MiB, 24 h). A
//!   message leaves the mailbox when it is handed to the owner's stream;
//!   messages popped but never handed over go back when a stream ends. A
//!   mailbox is created for a topic only when it is a well-formed identity
//!   topic.
//! * **Delivery policy: nothing is lost silently** (upstream sheds with at
//!   most a best-effort `BACKPRESSURE`). A send that cannot be delivered or
//!   kept is refused with an `ErrorResponse` and counted by reason
//!   ([`GatewayStats::refused`], `/metrics`): a **full mailbox refuses the
//!   newest message** (`ERR_MAILBOX_FULL`, retryable, `retry_after_ms` 100
//!   when the owner is reading, 1000 otherwise; nothing already accepted
//!   is ever dropped to make room), a topic no principal could connect as
//!   and `pg::` are `ERR_INVALID_TOPIC`, `tk::` is `ERR_NOT_IMPLEMENTED`,
//!   a bare `sv::impl` without instance is `ERR_SV_UNAVAILABLE`. A
//!   broadcast is refused (one `ErrorResponse`, naming how many) when any
//!   subscriber's mailbox refused its copy. `SendMessage` carries no
//!   correlation id in the v1 protocol, so these refusals have an empty
//!   `request_id` (refusals of frames that carry one, such as
//!   `ERR_FRAME_TOO_LARGE`, carry it); the message names the target, and
//!   each refused send gets its own refusal. Only the age bound removes
//!   accepted messages (counted in `mailbox_expired` and logged).
//! * **Pacing, without head-of-line blocking**: a send to an online owner
//!   that keeps up and whose mailbox is at least half full starts a pause
//!   for that owner, until it has drained its mailbox to a quarter, for at
//!   most [`Limits::backpressure_wait`] (1 s). During the pause the session
//!   goes on reading and serving everything else (KV, tasks, sessions,
//!   messages to other targets); its sends to the same target topic are
//!   held, in order, and routed when the pause ends; past 1 MiB held the
//!   session stops reading until then (HTTP/2 flow control slows the
//!   client; nothing is refused).
//!   One pause at a time: a second congested receiver is protected by its
//!   bounds alone. An owner that does not get there in time is *lagging*:
//!   nobody pauses for it again until it catches up, and sends beyond its
//!   bounds are refused at once. So a reader that keeps up paces a fast
//!   sender losslessly, and a stalled or trickling one never freezes its
//!   senders' other work.
//! * **Outbound queues** are bounded in items and bytes. A session's
//!   replies wait for room (256 items, 4 MiB; a larger reply goes alone):
//!   a client that does not read its stream slows only itself. Pushes
//!   (assignments, progress, task events) never wait: a push that would
//!   make more than [`Limits::max_push_backlog`] items (10 000) or
//!   [`Limits::max_push_backlog_bytes`] (8 MiB) wait ends the session as a
//!   **slow consumer** (`RESOURCE_EXHAUSTED "slow consumer: ..."`, counted
//!   in `slow_consumers`) rather than growing or dropping silently; what
//!   was queued is freed as soon as the stream is polled again or its
//!   connection closes, and the client may reconnect (unclaimed
//!   assignments are pushed again). Mailbox messages are moved to the
//!   stream 64 messages or 256 KiB at a time.
//! * **Broadcast lanes** (`ga tb gu uw uu`) are live-only: each connected
//!   subscriber gets a copy in its own mailbox; a lane nobody is subscribed
//!   to right now is accepted and counted in `messages_unroutable`. `tb::`
//!   is broadcast, as upstream.
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
//! * **Before authentication nothing is free** (upstream decodes a 63 MiB
//!   `InitConnection`, never closes silent connections and spins on
//!   `EMFILE`): the first frame of every stream is checked from its gRPC
//!   header, before tonic reserves room for it, against
//!   [`Limits::max_handshake_bytes`] (64 KiB; beyond it the stream ends
//!   `RESOURCE_EXHAUSTED`); a connection on which no session completed its
//!   handshake within [`Limits::handshake_timeout`] (10 s) is closed,
//!   whatever it did (nothing, part of the HTTP/2 preface or of TLS,
//!   streams without `InitConnection`, refused credentials); at most
//!   [`Limits::max_connections`] (10 000) connections are open, more are
//!   closed as soon as they are accepted; `accept` errors other than a
//!   connection's own (out of file descriptors or memory) pause the
//!   listener, 10 ms doubling up to 1 s, instead of spinning; the listen
//!   backlog is 1024. All are counted ([`GatewayStats`]). Streams still
//!   have [`Limits::init_timeout`] (30 s, as upstream) to send
//!   `InitConnection` on a connection that already holds a session.
//! * **`/metrics`** (opt-in, [`GatewayConfig::metrics_addr`], the
//!   binary's `--metrics-addr`): the Prometheus text format over HTTP/1.1,
//!   computed when scraped (gauges walk the mailboxes then; the delivery
//!   path pays nothing). Pending proxies are always 0: proxying is not
//!   implemented. At most 16 scrapes at once, headers within 10 s.
//! * **Memory after load**: what hostile clients made the gateway hold is
//!   freed when they leave (queues with their streams, empty mailboxes and
//!   departed identities by the sweep). The `aether-gateway` binary also
//!   hands freed heap pages back to the system every 2 s (`malloc_trim`
//!   on glibc), so its RSS comes back down after a burst; an application
//!   embedding the library chooses its own allocator policy.
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
//!   releases the database, so a new gateway may open the same directory;
//!   a second gateway on a directory in use fails to start
//!   ([`GatewayError::Store`], naming the file).
//! * **Verified data directory**: at start the database's integrity is
//!   checked (redb verifies the checksum of every committed page) and every
//!   record must decode; corrupted or truncated data, an emptied or missing
//!   database file in a directory that held one, and a fall-back to the
//!   previous commit after a clean shutdown (which only corruption can
//!   cause; after a crash it is the normal recovery of a commit that did
//!   not reach the disk whole) all refuse to start with one
//!   [`GatewayError::Corrupt`] naming the file, never a panic and never a
//!   skipped record. The refusal leaves the file as it was.
//! * **Messages to connected identities are in flight in memory; messages
//!   waiting for offline identities are durable**: a message for an
//!   offline owner is journaled when it is queued and deleted when it is
//!   handed to the owner's stream; when an owner detaches, what is left in
//!   its mailbox is journaled. A crash loses what was queued for connected
//!   identities; restarting reloads the rest (within the age bound).
//! * **KV failures**: the `KV_ERROR` message is upstream's text followed by
//!   the reason (`internal error processing KV operation: key must not be
//!   empty`). Checks run in this order: principal type, `authorization`,
//!   value size (PUT), scope parameters, key. An `authorization` (OBO)
//!   context that does not resolve against a live grant held by the
//!   caller is refused (`ERR_PERMISSION_DENIED "invalid authorization
//!   context"` + `KVResponse{false}`); one that does decides with the
//!   subject's rights capped by the grant (namespaces stay the caller's).
//!   The metrics bridge may use KV (shared
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
//!   choices on the tasks each holds: agents and pooled task instances
//!   (`ta::`) of `{workspace}:{impl}`, and services of `{impl}` (any
//!   workspace) unless `no_pool_consumer`.
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
//!   background; a durable timer per drop instead of a 10 s reaper) when
//!   the stream broke and it did not reconnect; a worker that was working
//!   when the gateway stopped (a crash included) gets its window from the
//!   restart. The agent's `ConfigSnapshot`
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
//!   checkpoint store. Not implemented: authority lineage (authority
//!   filters match nothing), wakes on input messages and authority
//!   approvals.
//! * **The task clockwork** (upstream's task waker, retry scheduler,
//!   stale-task cleanup and disconnect reaper, §5.8): every change a task
//!   makes by itself at a given time is a timer derived from its record
//!   (a retry's scheduled start, `scheduled_wake_unix_ms`, `timeout_ms`
//!   since the pause, a dropped worker's grace deadline, the stuck-task
//!   TTL, the end of a finished task's retention), kept in one
//!   time-ordered index and fired by one task that sleeps until the
//!   earliest is due (upstream scans every 10 s). Records are durable, so
//!   timers are: one that fell due while the gateway was down fires right
//!   after the restart, and firing changes the record in the same commit,
//!   so it fires once. Timestamps and timers follow one clock that moves
//!   with tokio's (paused test time works).
//! * **Retries**: only tasks with a `retry_policy` are retried.
//!   `max_attempts` counts all attempts (0 = 3); `TaskInfo.attempt` is the
//!   number of failed ones. A failed attempt with retries left is not a
//!   failed task: it goes back to `pending` (QUEUED) with its assignment
//!   cleared and `error` kept, is not offered before its next attempt, and
//!   announces itself with `status_changed` to QUEUED (reason `attempt N of
//!   M failed: …; next attempt at T`) and a `progress` event
//!   `retry_scheduled` (metadata `attempt`, `max_attempts`,
//!   `next_attempt_at_unix_ms`, `delay_ms`, `error`, `status_code`);
//!   upstream marks it `failed` with a hidden `next_retry_at`. `TaskInfo`
//!   has no field for the next attempt, so it shows in
//!   `metadata["_next_attempt_at_unix_ms"]` while one is scheduled. When it
//!   is due: `progress` event `retry_started`, then it is offered by its
//!   mode; a self-assigned task goes back to its creator; a TARGETED task
//!   whose create started its target through an orchestrator starts it
//!   again when it is offline. The last failure reaches `failed` with the
//!   reason it was not retried appended to the event's reason. A FAIL
//!   carries a status code and a retry-after in its (otherwise unused)
//!   `wait_spec.input_match["status_code"]` / `["retry_after_ms"]`; a
//!   value that does not parse refuses the FAIL. With
//!   `retryable_status_codes`, an unlisted code is final and a failure
//!   without a code is retried; with `honor_retry_after` the retry-after is
//!   the delay exactly. Backoff: FIXED, EXPLICIT_SCHEDULE (last entry
//!   repeats), EXPONENTIAL/UNSPECIFIED (`initial * 2^(n-1)`, 1 s when
//!   unset), jitter clamped to [0, 1], `max_delay_ms` capping every
//!   computed delay after the jitter (upstream: exponential only, before
//!   it). Wait timeouts and expired grace windows are failed attempts too.
//! * **Wakes**: a hibernated task's wake (scheduled, or a timeout with
//!   escalation `retry`) puts it back to `pending` for a fresh worker; its
//!   checkpoint key and resume session id stay in the reserved metadata
//!   keys `_hibernation_checkpoint_key` / `_hibernation_resume_session_id`
//!   (as upstream) and travel in its next `TaskAssignment`. Other waits
//!   resume to `running` with their worker. A timeout fails the task
//!   ("wait timeout"); escalation `alert` keeps it hibernated and publishes
//!   a `progress` event `hibernation_timeout` once; an unknown escalation
//!   fails it. A waiting task is left alone when its token-bound worker
//!   leaves (a hibernating worker is expected to go; a graceful end of
//!   stream no longer completes it).
//! * **Cleanup**: a finished task is purged after
//!   [`Limits::task_retention`] (default 7 days for every final status;
//!   upstream keeps failed ones 14), with its idempotency key, after a
//!   `progress` event `purged`. With [`Limits::task_stuck_ttl`] (off by
//!   default) an unfinished task whose status has not changed for that
//!   long (counted from its scheduled start or wake when later) is
//!   cancelled with `error` `stuck: no status change for …`. Both are
//!   counted in [`GatewayStats`] (`tasks_purged`, `tasks_expired`), with
//!   the pending and fired timers.
//! * **Completion events**: when a task with `completion_event.enabled`
//!   finishes with a selected status, an EVENT message (as 5.9
//!   recommends; upstream publishes bare JSON) from `aether-gateway` with
//!   the task's workspace goes to `event::receiver0`, queued durably for
//!   an engine that is offline. The payload is upstream's JSON
//!   `EventPayload` (plus `error` for a task that did not complete). `on_statuses` empty selects
//!   every final status, REJECTED included; a failed attempt that will be
//!   retried publishes nothing. The message is queued before the status
//!   change is submitted to the journal, so a durable change implies a
//!   durable event.
//! * **Messages to offline agents** (`ag::`, `tu::`) whose implementation
//!   is registered with a `profile` start them through an orchestrator
//!   (§5.5), once while a startup task for them is active (that is the
//!   de-duplication; the gateway knows who is connected exactly, so
//!   upstream's 5 s negative cache has no counterpart). The startup task's
//!   creator is `aether-gateway`; the sender is in its metadata
//!   (`triggered_by`) with `trigger`, `target_topic` and
//!   `trigger_timestamp_ms`.
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
//! * **Proxy targets** (§8.1): a bare `sv::{impl}` goes to the connected
//!   instance serving the fewest open requests and tunnels (ties take
//!   turns; upstream picks at random). Any other topic must name a
//!   session connected now (its identity topic; `event::receiver0` and
//!   `metric::receiver0` name the workflow engine and the metrics
//!   bridge); otherwise the caller gets `ProxyHttpResponse{error:
//!   SIDECAR_UNAVAILABLE}` or `TunnelClose{ERROR, "SIDECAR_UNAVAILABLE:
//!   …"}` at once (upstream parks the frame in the mailbox and the caller
//!   waits for its own timeout). A session becomes a target once its
//!   handshake is over, so nothing overtakes its `ConnectionAck`.
//! * **Who may call whom**: any principal may call and any topic be a
//!   target; the caller needs READ_WRITE on a target's workspace, and an
//!   on-behalf-of context is resolved as for sends (refused with
//!   `ACL_DENIED`). `X-Auth-Workspace-Access` is the deciding level. Only
//!   the gateway fills in `authorization.resolved` (§8.2 step 4): the
//!   grant's root subject, audience, level cap, workspace scope and expiry
//!   on behalf of a subject, nothing for a direct call, whatever the
//!   caller sent; `access_receipt` is cleared (none is issued).
//! * **Wire ids and pins**: every request and tunnel (a *flow*) gets a
//!   wire id `_aether/wire/<uuid>`, the only id its target sees; the
//!   caller sees only its own id. The `caller@original` pin is kept per
//!   caller *session* (upstream: per topic), so callers may reuse each
//!   other's ids and a reconnecting caller inherits nothing. A frame that
//!   names a flow its session is not an end of names nothing. An id the
//!   same caller already has in flight is refused (`DECODE_FAILED`, or
//!   `TunnelClose{ERROR}` for tunnels) rather than overwriting the pin. A
//!   session may have [`ProxyLimits::max_flows_per_session`] (16 384)
//!   flows open as caller; more are refused (`SIDECAR_UNAVAILABLE`,
//!   tunnels `QUOTA`).
//! * **Trusted headers** (§8.2 step 5): every caller header starting with
//!   `x-auth-` or `x-aether-` (any case) is removed, then the direct-mode
//!   set is minted with upstream's casing: `x-aether-actor-topic` and
//!   `X-Aether-Caller-Topic` (the identity topic; orchestrators, which
//!   have none, their identity string where upstream leaves it empty),
//!   `X-Auth-Tenant-ID` (no tenant id is configurable: the caller's
//!   current workspace, empty for workspace-less principals),
//!   `X-Auth-Workspace-Access`, `X-Auth-User-ID` and `X-Auth-Actor-ID`
//!   (the user id for users, the identity string otherwise),
//!   `X-Auth-Principal-Type` and `X-Auth-Actor-Type` (`Agent`, `User`,
//!   …) and `X-Auth-Authority-Mode: direct` (on behalf of a subject:
//!   `on_behalf_of`, with `X-Auth-Subject-Type`, `X-Auth-Subject-ID` and
//!   `X-Auth-Grant-ID`, and the subject's workspace as tenant). The same hygiene and set are
//!   applied to `TunnelOpen.metadata` (upstream forwards it untouched), so
//!   a tunnel's target can tell who opened it.
//! * **Proxy frame sizes**: proxy and tunnel frames are not held to
//!   [`Limits::max_frame_bytes`] as a whole: an inline request body may
//!   have up to [`ProxyLimits::max_body_bytes`] (8 MiB; larger:
//!   `PAYLOAD_TOO_LARGE`) and the rest of the request frame up to
//!   `max_frame_bytes`. Any other proxy frame above `max_frame_bytes`
//!   ends its flow for both ends (`PAYLOAD_TOO_LARGE`, tunnels `QUOTA`)
//!   instead of an `ERR_FRAME_TOO_LARGE` the SDKs would not correlate.
//! * **Header count**: a request or response holds at most 8,192 headers
//!   (`aether_protocol::shared::http::MAX_HEADERS`; upstream takes any
//!   number). Entries past it are not kept; the request is refused, or
//!   the response ends its flow for both ends, with `PAYLOAD_TOO_LARGE`,
//!   and so is a request whose headers exceed it once the identity set
//!   is minted. The sessions carry on.
//! * **Order** (upstream forwards whatever comes): body chunks must come
//!   with seq 0, 1, 2, … in each direction, and after a chunked response
//!   header only body chunks or an error response may follow; tunnel data
//!   must carry consecutive seqs in each direction, starting anywhere (the
//!   SDKs start at 0, upstream's sidecar at 1), and nothing after its
//!   `fin`. A gap, a repeat or a frame out of place ends the flow for both
//!   ends (`DECODE_FAILED`; tunnels `TunnelClose{ERROR}`).
//! * **Frames that name no flow**: body chunks and responses get
//!   `ProxyHttpResponse{id, error: SIDECAR_UNAVAILABLE "request pin
//!   expired or unknown"}` (upstream drops those from targets silently),
//!   tunnel data `TunnelClose{PEER_RESET, "tunnel pin expired or
//!   unknown"}`; tunnel acks and closes are dropped (they race with
//!   closes). An empty id is refused (`DECODE_FAILED "request_id is
//!   required"`, `TunnelClose{ERROR, "tunnel_id is required"}`). Every
//!   refusal goes through the sender's own lane, behind any notice about
//!   the same id (so the first reason arrives first), and waits for room
//!   like a forwarded frame (a session sending bad frames without reading
//!   is slowed, not buffered).
//! * **Request lifetimes**: a request is open until both its request body
//!   and its response are complete (a response may finish first; the rest
//!   of the body still reaches the target). Its pins live `timeout_ms` +
//!   30 s (60 s without a timeout; [`ProxyLimits::pin_ttl`],
//!   [`ProxyLimits::pin_slack`]); each frame extends them to at least
//!   60 s, or `stream_idle_timeout_ms` + 30 s, from now (upstream resets
//!   them to 60 s, which can shorten them). When they expire both ends are
//!   told — `ProxyHttpResponse{error: TIMEOUT}` then a closing chunk — the
//!   caller only while its response is incomplete (upstream expires them
//!   silently and the caller hangs).
//! * **Tunnel limits**: 256 live tunnels per workspace of their callers
//!   (services share the workspace-less bucket), more get
//!   `TunnelClose{QUOTA}`. A tunnel idle (no data and no ack) for its
//!   `idle_timeout_ms`, or [`ProxyLimits::tunnel_idle_timeout`] (5 min)
//!   without one, is closed for both ends with `IDLE_TIMEOUT`. The byte
//!   cap, both directions together, is [`ProxyLimits::max_tunnel_bytes`]
//!   (default none) or the open's own lower `max_bytes`; the frame that
//!   would pass it is not forwarded and both ends get `QUOTA`.
//! * **Peer loss**: when a session ends, every flow it is an end of ends
//!   at once. The other end of a request gets (§8.5)
//!   `ProxyHttpResponse{error: SIDECAR_UNAVAILABLE "peer session ended
//!   (<topic>)"}` and a closing chunk (its seq is the next response seq);
//!   the other end of a tunnel gets `TunnelClose{PEER_RESET, "tunnel peer
//!   disconnected"}` at once (upstream waits for its next frame). Frames
//!   the leaving session had waiting for room are delivered first.
//! * **Proxy delivery and backpressure**: frames routed to a session go
//!   through its lane, bounded by [`ProxyLimits::lane_bytes`] (4 MiB), in
//!   the order they were routed; its stream yields direct replies first,
//!   then lane frames and mailbox messages by turns. A frame for a full
//!   lane waits in its sender's outbox, with every later frame of that
//!   sender to the same recipient; frames to other recipients and the
//!   sender's other work go on. When a sender's waiting frames reach
//!   [`ProxyLimits::park_bytes`] (4 MiB) the gateway stops reading its
//!   stream until they move on, so HTTP/2 flow control slows the client
//!   ([`GatewayStats::proxy_senders_waiting`]). Nothing is dropped
//!   silently: waiting frames move on as their recipient reads; if the
//!   recipient leaves, or the gateway ends their flow, they are discarded
//!   and their sender is told how the flow ended. The gateway's own
//!   notices (a few per flow) ignore the bound. Proxy memory is thus at
//!   most a lane and an outbox per session plus the notices.
//! * **Unimplemented operations** (admin queries, ...) answer
//!   `ERR_NOT_IMPLEMENTED` with the correlation id (request_id,
//!   client_request_id or tunnel_id) rather than upstream's id-less reply.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(unreachable_pub)]

mod admin;
mod answer;
mod audit;
mod auth;
mod authority;
mod authz;
mod checkpoint;
mod clock;
mod config;
mod context;
mod credential;
mod error;
mod expiring;
mod hub;
mod identity_rate;
mod json;
mod kv;
mod lane;
mod listener;
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
mod triggers;
mod unimplemented;
mod workflow;
mod workspaces;

pub use config::{
    AuthThrottle, CertPrincipal, GatewayConfig, Limits, ProxyLimits, RateLimit, TlsConfig,
    cert_fingerprint,
};
pub use context::IdentityTables;
pub use error::GatewayError;
pub use server::{RunningGateway, start};
pub use stats::{GatewayStats, Refusals};

/// `ConnectionAck.server_version` of this gateway.
pub const SERVER_VERSION: &str = session::SERVER_VERSION;
