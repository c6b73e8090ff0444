//! How a gateway is configured: bind address, credentials, TLS and limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything [`start`](crate::start) needs to run a gateway.
///
/// `Default` binds `127.0.0.1:0` (an ephemeral port), requires credentials
/// (`dev = false`) and uses the default [`Limits`]. [`GatewayConfig::dev`]
/// is the usual choice for tests and examples. Its `Debug` output never
/// shows the admin key.
#[derive(Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Directory for durable state (KV, checkpoints, messages waiting for
    /// offline identities, ...); `None` keeps everything in memory only.
    pub data_dir: Option<PathBuf>,
    /// Dev mode: every principal is admitted without credentials and every
    /// session is an administrator. Outside it, every principal type
    /// (system principals included) needs a credential: the admin key, an
    /// API token minted for its type, or a client certificate mapped to it
    /// ([`TlsConfig::map_client_cert`]).
    pub dev: bool,
    /// The administrator's API key (`credentials["api_key"]` or
    /// `credentials["x-api-key"]`): it authenticates any principal, and its
    /// sessions may mint and revoke API tokens.
    pub admin_key: Option<String>,
    /// Serve TLS (and mTLS when a client CA is given) instead of plaintext.
    pub tls: Option<TlsConfig>,
    /// Size, rate and time limits.
    pub limits: Limits,
    /// Where to serve `/metrics` (Prometheus text format) over HTTP/1.1;
    /// `None` (the default) serves none. Port 0 picks a free port.
    pub metrics_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("dev", &self.dev)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("limits", &self.limits)
            .field("metrics_addr", &self.metrics_addr)
            .finish()
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: None,
            dev: false,
            admin_key: None,
            tls: None,
            limits: Limits::default(),
            metrics_addr: None,
        }
    }
}

impl GatewayConfig {
    /// A dev-mode configuration on `127.0.0.1:0`.
    pub fn dev() -> Self {
        GatewayConfig {
            dev: true,
            ..GatewayConfig::default()
        }
    }

    /// Sets the listen address.
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }

    /// Sets the data directory.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Turns dev mode on or off.
    pub fn with_dev(mut self, dev: bool) -> Self {
        self.dev = dev;
        self
    }

    /// Sets the admin API key.
    pub fn with_admin_key(mut self, key: impl Into<String>) -> Self {
        self.admin_key = Some(key.into());
        self
    }

    /// Serves TLS with `tls`.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Serves `/metrics` on `addr`.
    pub fn with_metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.metrics_addr = Some(addr);
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// PEM material for serving TLS; with a client CA, clients must present a
/// certificate signed by it (mTLS).
///
/// A client certificate only secures the transport unless the operator
/// maps it to a principal with [`TlsConfig::map_client_cert`]; a mapped
/// certificate is then a credential, like an API token bound to that
/// principal type.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) cert_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
    pub(crate) client_ca_pem: Option<Vec<u8>>,
    /// SHA-256 fingerprint (as given) -> the principals it authenticates.
    pub(crate) client_principals: Vec<(String, CertPrincipal)>,
}

/// The principals a mapped client certificate authenticates: a principal
/// type (`"Orchestrator"`, `"WorkflowEngine"`, `"Agent"`, ... any case),
/// optionally a bound id (the identity string, a user id, or an
/// implementation) and workspace patterns (default `*`), with the same
/// checks as an API token's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPrincipal {
    pub(crate) principal_type: String,
    pub(crate) bound_id: Option<String>,
    pub(crate) workspace_patterns: Vec<String>,
}

impl CertPrincipal {
    /// Any principal of `principal_type`, in any workspace.
    pub fn new(principal_type: impl Into<String>) -> Self {
        CertPrincipal {
            principal_type: principal_type.into(),
            bound_id: None,
            workspace_patterns: vec!["*".to_string()],
        }
    }

    /// Only the principal with this id.
    pub fn bound_id(mut self, id: impl Into<String>) -> Self {
        self.bound_id = Some(id.into());
        self
    }

    /// Only in workspaces matching one of these patterns.
    pub fn workspace_patterns<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.workspace_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Parses the command-line form `TYPE[/ID]`.
    pub fn parse(text: &str) -> Self {
        match text.split_once('/') {
            Some((t, id)) => CertPrincipal::new(t).bound_id(id),
            None => CertPrincipal::new(text),
        }
    }
}

/// The SHA-256 fingerprint (lowercase hex, as
/// [`TlsConfig::map_client_cert`] takes it) of the first certificate in
/// `pem`; `None` when `pem` holds no certificate.
pub fn cert_fingerprint(pem: &[u8]) -> Option<String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let der = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
    Some(crate::credential::secret::hex(
        &crate::credential::secret::digest_bytes(der.as_ref()),
    ))
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"<redacted>")
            .field("mtls", &self.client_ca_pem.is_some())
            .field("mapped_client_certs", &self.client_principals.len())
            .finish()
    }
}

impl TlsConfig {
    /// Server certificate chain and private key, both PEM.
    pub fn from_pem(cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            client_ca_pem: None,
            client_principals: Vec::new(),
        }
    }

    /// Reads the certificate, key and optional client CA from PEM files.
    pub fn from_paths(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        client_ca: Option<&Path>,
    ) -> std::io::Result<Self> {
        let mut tls = TlsConfig::from_pem(std::fs::read(cert)?, std::fs::read(key)?);
        if let Some(ca) = client_ca {
            tls.client_ca_pem = Some(std::fs::read(ca)?);
        }
        Ok(tls)
    }

    /// Requires client certificates signed by `ca_pem` (mTLS).
    pub fn with_client_ca(mut self, ca_pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(ca_pem.into());
        self
    }

    /// Maps the client certificate with this SHA-256 `fingerprint` (hex,
    /// any case, `:` separators allowed: `openssl x509 -noout -fingerprint
    /// -sha256` prints it; so does [`cert_fingerprint`]) to `principal`:
    /// presenting it authenticates that principal outside dev mode. Needs a
    /// client CA. [`start`](crate::start) refuses fingerprints and
    /// principal types it cannot parse.
    pub fn map_client_cert(
        mut self,
        fingerprint: impl Into<String>,
        principal: CertPrincipal,
    ) -> Self {
        self.client_principals.push((fingerprint.into(), principal));
        self
    }
}

/// A token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained messages per second.
    pub per_second: u32,
    /// Bucket size (the largest burst).
    pub burst: u32,
}

impl RateLimit {
    /// The upstream default: 100 msg/s, burst 200.
    pub const UPSTREAM: RateLimit = RateLimit {
        per_second: 100,
        burst: 200,
    };
}

/// Size, rate and time limits.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Largest `SendMessage.payload` (default 1 MiB).
    pub max_payload_bytes: usize,
    /// Largest upstream frame answered normally (default 4 MiB); larger ones
    /// get `ERR_FRAME_TOO_LARGE` and the session survives.
    pub max_frame_bytes: usize,
    /// Most messages a mailbox holds (default 10 000); more are refused
    /// with `ERR_MAILBOX_FULL`.
    pub mailbox_max_messages: usize,
    /// Most bytes (payloads, source topics, workspaces) a mailbox holds
    /// (default 64 MiB); more are refused with `ERR_MAILBOX_FULL`.
    pub mailbox_max_bytes: usize,
    /// Oldest message a mailbox keeps (default 24 h).
    pub mailbox_max_age: Duration,
    /// How long a new stream may take to send `InitConnection` (default 30 s).
    pub init_timeout: Duration,
    /// Largest first frame (`InitConnection`) of a stream, checked from its
    /// gRPC header before anything is buffered (default 64 KiB); larger
    /// ones end the stream with `RESOURCE_EXHAUSTED`.
    pub max_handshake_bytes: usize,
    /// How long a connection may stay open without a session completing
    /// its handshake on it (default 10 s): connections that never send the
    /// HTTP/2 preface, never finish TLS, open no stream, never send
    /// `InitConnection` or are refused are closed then.
    pub handshake_timeout: Duration,
    /// Most TCP connections open at once (default 10 000); more are closed
    /// as soon as they are accepted. Keep it below the process's file
    /// descriptor limit.
    pub max_connections: usize,
    /// Per-session send rate limit; `None` (the default) disables it.
    pub send_rate: Option<RateLimit>,
    /// Per-identity request rate limit, shared by all the sessions of a
    /// principal and taken by every request but HTTP/tunnel frames; `None`
    /// (the default) disables it. Refusals are `ERR_RATE_LIMITED`.
    pub identity_rate: Option<RateLimit>,
    /// Longest one pause of a sender for an online receiver whose mailbox
    /// is half full (default 1 s): the sending session stops reading until
    /// the receiver has drained its mailbox to a quarter. A receiver that
    /// does not get there in this time is *lagging*: nobody pauses for it
    /// until it catches up, and messages beyond its mailbox bounds are
    /// refused with `ERR_MAILBOX_FULL`.
    pub backpressure_wait: Duration,
    /// Largest KV `PUT` value (default 1 MiB); larger ones get
    /// `ErrorResponse{ERR_QUOTA_001}`.
    pub max_kv_value_bytes: usize,
    /// Largest checkpoint (default 4 MiB); larger SAVEs get
    /// `success=false, error="checkpoint too large: ..."`.
    pub max_checkpoint_bytes: usize,
    /// How long a finished task (completed, failed for good, cancelled,
    /// rejected) is kept before it is purged (default 7 days).
    pub task_retention: Duration,
    /// A task that has not finished and whose status has not changed for
    /// this long is cancelled as stuck; `None` (the default) never cancels.
    /// A pending retry or a scheduled wake counts from its due time.
    pub task_stuck_ttl: Option<Duration>,
    /// HTTP-proxy and tunnel limits.
    pub proxy: ProxyLimits,
    /// How long a relayed `workflow_op` waits for the workflow engine's
    /// answer (default 30 s).
    pub workflow_timeout: Duration,
    /// How long an identity's resume lineage (last session id, reconnection
    /// count, first connect time) is remembered after its last session
    /// ended (default 10 min; the 10 000 most recent departures at most): a
    /// reconnect with `resume_session_id` within it is `resumed=true`.
    /// Zero forgets an identity as soon as it departs.
    pub resume_window: Duration,
    /// Most items waiting in one session's outbound queue (replies and
    /// pushes: progress updates, task events, assignments) when a push
    /// arrives (default 10 000); a push beyond it ends the session as a
    /// slow consumer (`RESOURCE_EXHAUSTED`). Replies wait for room instead.
    pub max_push_backlog: usize,
    /// Most bytes waiting in one session's outbound queue when a push
    /// arrives (default 8 MiB); as `max_push_backlog`.
    pub max_push_backlog_bytes: usize,
    /// Throttling of failed authentications.
    pub auth_throttle: AuthThrottle,
    /// Newest audit entries kept (default 100 000); older ones are dropped.
    pub audit_max_entries: usize,
    /// Per-session rate of `SubmitAuditEvent` (default 100/s, burst 100).
    pub audit_submit_rate: RateLimit,
}

/// Throttling of failed authentications (§1.5 rule 4): `failures` within
/// `window` for one identity start a `cooldown` during which every attempt
/// for it is refused at once (UNAUTHENTICATED "auth temporarily throttled
/// after repeated failures"), whatever it presents; a success clears the
/// identity's record. `peer_failures` within `window` from one remote IP
/// address do the same for every attempt from that address, so rotating
/// identities does not lift the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthThrottle {
    /// Failures per identity before a cooldown (default 5).
    pub failures: u32,
    /// Failures per remote address before a cooldown (default 100).
    pub peer_failures: u32,
    /// The sliding window failures are counted in (default 30 s).
    pub window: Duration,
    /// How long a cooldown lasts (default 30 s).
    pub cooldown: Duration,
}

impl Default for AuthThrottle {
    fn default() -> Self {
        AuthThrottle {
            failures: 5,
            peer_failures: 100,
            window: Duration::from_secs(30),
            cooldown: Duration::from_secs(30),
        }
    }
}

impl AuthThrottle {
    /// Sets the failures per identity before a cooldown.
    pub fn with_failures(mut self, n: u32) -> Self {
        self.failures = n;
        self
    }
    /// Sets the failures per remote address before a cooldown.
    pub fn with_peer_failures(mut self, n: u32) -> Self {
        self.peer_failures = n;
        self
    }
    /// Sets the counting window.
    pub fn with_window(mut self, d: Duration) -> Self {
        self.window = d;
        self
    }
    /// Sets the cooldown.
    pub fn with_cooldown(mut self, d: Duration) -> Self {
        self.cooldown = d;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 1024 * 1024,
            max_frame_bytes: 4 * 1024 * 1024,
            mailbox_max_messages: 10_000,
            mailbox_max_bytes: 64 * 1024 * 1024,
            mailbox_max_age: Duration::from_secs(24 * 60 * 60),
            init_timeout: Duration::from_secs(30),
            max_handshake_bytes: 64 * 1024,
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            send_rate: None,
            identity_rate: None,
            backpressure_wait: Duration::from_secs(1),
            max_kv_value_bytes: 1024 * 1024,
            max_checkpoint_bytes: 4 * 1024 * 1024,
            task_retention: Duration::from_secs(7 * 24 * 60 * 60),
            task_stuck_ttl: None,
            proxy: ProxyLimits::default(),
            workflow_timeout: Duration::from_secs(30),
            resume_window: Duration::from_secs(10 * 60),
            max_push_backlog: 10_000,
            max_push_backlog_bytes: 8 * 1024 * 1024,
            auth_throttle: AuthThrottle::default(),
            audit_max_entries: 100_000,
            audit_submit_rate: RateLimit {
                per_second: 100,
                burst: 100,
            },
        }
    }
}

impl Limits {
    /// Sets the longest pause of a sender for a receiver that keeps up.
    pub fn with_backpressure_wait(mut self, d: Duration) -> Self {
        self.backpressure_wait = d;
        self
    }
    /// Sets the largest message payload.
    pub fn with_max_payload_bytes(mut self, n: usize) -> Self {
        self.max_payload_bytes = n;
        self
    }
    /// Sets the largest upstream frame.
    pub fn with_max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = n;
        self
    }
    /// Sets the mailbox message bound.
    pub fn with_mailbox_max_messages(mut self, n: usize) -> Self {
        self.mailbox_max_messages = n;
        self
    }
    /// Sets the mailbox byte bound.
    pub fn with_mailbox_max_bytes(mut self, n: usize) -> Self {
        self.mailbox_max_bytes = n;
        self
    }
    /// Sets the mailbox age bound.
    pub fn with_mailbox_max_age(mut self, age: Duration) -> Self {
        self.mailbox_max_age = age;
        self
    }
    /// Sets the `InitConnection` wait.
    pub fn with_init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }
    /// Sets the largest first frame (`InitConnection`).
    pub fn with_max_handshake_bytes(mut self, n: usize) -> Self {
        self.max_handshake_bytes = n;
        self
    }
    /// Sets how long a connection may go without a completed handshake.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
    /// Sets the connection limit.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }
    /// Sets the largest KV `PUT` value.
    pub fn with_max_kv_value_bytes(mut self, n: usize) -> Self {
        self.max_kv_value_bytes = n;
        self
    }
    /// Sets the largest checkpoint.
    pub fn with_max_checkpoint_bytes(mut self, n: usize) -> Self {
        self.max_checkpoint_bytes = n;
        self
    }
    /// Sets how long finished tasks are kept.
    pub fn with_task_retention(mut self, retention: Duration) -> Self {
        self.task_retention = retention;
        self
    }
    /// Sets (or clears) the time after which a stuck task is cancelled.
    pub fn with_task_stuck_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.task_stuck_ttl = ttl;
        self
    }
    /// Sets how long a departed identity's resume lineage is remembered.
    pub fn with_resume_window(mut self, window: Duration) -> Self {
        self.resume_window = window;
        self
    }
    /// Sets the push backlog bounds of a session (items, bytes).
    pub fn with_max_push_backlog(mut self, items: usize, bytes: usize) -> Self {
        self.max_push_backlog = items;
        self.max_push_backlog_bytes = bytes;
        self
    }
    /// Sets (or clears) the per-session send rate limit.
    pub fn with_send_rate(mut self, rate: Option<RateLimit>) -> Self {
        self.send_rate = rate;
        self
    }
    /// Sets how long a relayed workflow operation waits for its answer.
    pub fn with_workflow_timeout(mut self, d: Duration) -> Self {
        self.workflow_timeout = d;
        self
    }
    /// Sets (or clears) the per-identity request rate limit.
    pub fn with_identity_rate(mut self, rate: Option<RateLimit>) -> Self {
        self.identity_rate = rate;
        self
    }
    /// Replaces the HTTP-proxy and tunnel limits.
    pub fn with_proxy(mut self, proxy: ProxyLimits) -> Self {
        self.proxy = proxy;
        self
    }
    /// Replaces the authentication throttle.
    pub fn with_auth_throttle(mut self, throttle: AuthThrottle) -> Self {
        self.auth_throttle = throttle;
        self
    }
    /// Sets how many audit entries are kept.
    pub fn with_audit_max_entries(mut self, n: usize) -> Self {
        self.audit_max_entries = n;
        self
    }
    /// Sets the per-session rate of submitted audit events.
    pub fn with_audit_submit_rate(mut self, rate: RateLimit) -> Self {
        self.audit_submit_rate = rate;
        self
    }
}

/// HTTP-proxy and tunnel limits (§8.4, and the bounds of the gateway's
/// queues for them).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyLimits {
    /// Largest inline `ProxyHttpRequest.body` (default 8 MiB); larger ones
    /// get `ProxyHttpResponse{error: PAYLOAD_TOO_LARGE}`. The rest of a
    /// request frame is held to [`Limits::max_frame_bytes`].
    pub max_body_bytes: usize,
    /// Hop limit: a request or tunnel arriving with `proxy_chain_depth` at
    /// or above it is refused (default 8).
    pub max_chain_depth: u32,
    /// Live tunnels per workspace of their callers (default 256); more get
    /// `TunnelClose{QUOTA}`.
    pub max_tunnels_per_workspace: usize,
    /// Bytes one tunnel may carry, both directions together (default 0:
    /// unlimited); beyond it both ends get `TunnelClose{QUOTA}`. A tunnel's
    /// own `max_bytes`, when set and lower, applies instead.
    pub max_tunnel_bytes: u64,
    /// HTTP requests plus tunnels one session may have open as caller
    /// (default 16 384); more are refused.
    pub max_flows_per_session: usize,
    /// Bytes of proxy and tunnel frames queued for one session's stream
    /// (default 4 MiB); senders to a session whose queue is full wait.
    pub lane_bytes: usize,
    /// Bytes of proxy and tunnel frames one session may have waiting for
    /// full queues (default 4 MiB); at the bound the gateway stops reading
    /// that session's stream until they move on.
    pub park_bytes: usize,
    /// Pin lifetime of a request without `timeout_ms`, and the least each
    /// body chunk extends it to (default 60 s).
    pub pin_ttl: Duration,
    /// Added to a request's `timeout_ms` (or `stream_idle_timeout_ms`) for
    /// its pin lifetime (default 30 s).
    pub pin_slack: Duration,
    /// Idle timeout of a tunnel opened without `idle_timeout_ms` (default
    /// 5 min).
    pub tunnel_idle_timeout: Duration,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        ProxyLimits {
            max_body_bytes: 8 * 1024 * 1024,
            max_chain_depth: 8,
            max_tunnels_per_workspace: 256,
            max_tunnel_bytes: 0,
            max_flows_per_session: 16_384,
            lane_bytes: 4 * 1024 * 1024,
            park_bytes: 4 * 1024 * 1024,
            pin_ttl: Duration::from_secs(60),
            pin_slack: Duration::from_secs(30),
            tunnel_idle_timeout: Duration::from_secs(5 * 60),
        }
    }
}

impl ProxyLimits {
    /// Sets the largest inline request body.
    pub fn with_max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }
    /// Sets the hop limit.
    pub fn with_max_chain_depth(mut self, n: u32) -> Self {
        self.max_chain_depth = n;
        self
    }
    /// Sets the live tunnels allowed per workspace.
    pub fn with_max_tunnels_per_workspace(mut self, n: usize) -> Self {
        self.max_tunnels_per_workspace = n;
        self
    }
    /// Sets the per-tunnel byte cap (0: unlimited).
    pub fn with_max_tunnel_bytes(mut self, n: u64) -> Self {
        self.max_tunnel_bytes = n;
        self
    }
    /// Sets how many requests and tunnels one caller session may have open.
    pub fn with_max_flows_per_session(mut self, n: usize) -> Self {
        self.max_flows_per_session = n;
        self
    }
    /// Sets the bound of each session's queue of proxy frames.
    pub fn with_lane_bytes(mut self, n: usize) -> Self {
        self.lane_bytes = n;
        self
    }
    /// Sets how many bytes of a sender's frames may wait for full queues.
    pub fn with_park_bytes(mut self, n: usize) -> Self {
        self.park_bytes = n;
        self
    }
    /// Sets the pin lifetime of requests without a timeout.
    pub fn with_pin_ttl(mut self, d: Duration) -> Self {
        self.pin_ttl = d;
        self
    }
    /// Sets the slack added to a request's timeout for its pin lifetime.
    pub fn with_pin_slack(mut self, d: Duration) -> Self {
        self.pin_slack = d;
        self
    }
    /// Sets the idle timeout of tunnels opened without one.
    pub fn with_tunnel_idle_timeout(mut self, d: Duration) -> Self {
        self.tunnel_idle_timeout = d;
        self
    }
}
