//! How a tunnel is opened.

use std::collections::HashMap;
use std::time::Duration;

use crate::proto::AuthorizationContext;

/// Bytes a tunnel may send before the peer grants more (the reference
/// SDK's initial credits).
pub const INITIAL_CREDITS: u32 = 1024 * 1024;
/// Largest data frame.
pub const FRAME_BYTES: usize = 256 * 1024;
/// A reader grants credits back once it has consumed this much.
pub const ACK_THRESHOLD: u64 = 256 * 1024;

/// What a tunnel carries, as told to its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TunnelProtocol {
    /// A byte stream (the default).
    #[default]
    Tcp,
    /// Datagrams.
    Udp,
    /// WebSocket frames.
    WebSocket,
}

impl TunnelProtocol {
    pub(crate) fn wire(self) -> i32 {
        use crate::proto::tunnel_open::Protocol;
        (match self {
            TunnelProtocol::Tcp => Protocol::Tcp,
            TunnelProtocol::Udp => Protocol::Udp,
            TunnelProtocol::WebSocket => Protocol::Websocket,
        }) as i32
    }

    pub(crate) fn from_wire(p: i32) -> Self {
        use crate::proto::tunnel_open::Protocol;
        match Protocol::try_from(p) {
            Ok(Protocol::Udp) => TunnelProtocol::Udp,
            Ok(Protocol::Websocket) => TunnelProtocol::WebSocket,
            _ => TunnelProtocol::Tcp,
        }
    }
}

/// How to open a tunnel.
///
/// ```
/// use std::time::Duration;
/// use aether_client::tunnel::TunnelOptions;
/// let opts = TunnelOptions::new().remote_hint("db:5432").idle_timeout(Duration::from_secs(60));
/// assert_eq!(opts.remote_hint, "db:5432");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TunnelOptions {
    /// What the tunnel carries.
    pub protocol: TunnelProtocol,
    /// Where the peer should connect it (its choice to honour).
    pub remote_hint: String,
    /// Free-form metadata for the peer.
    pub metadata: HashMap<String, String>,
    /// Closed after this long without data (default 5 min).
    pub idle_timeout: Duration,
    /// Most bytes the tunnel may carry (0 = unlimited).
    pub max_bytes: u64,
    /// An authorization context for the open.
    pub authorization: Option<AuthorizationContext>,
    /// The peer's backend to use.
    pub backend: String,
    /// Bytes the peer may send before we grant more (default 1 MiB).
    pub initial_credits: u32,
}

impl Default for TunnelOptions {
    fn default() -> Self {
        TunnelOptions {
            protocol: TunnelProtocol::Tcp,
            remote_hint: String::new(),
            metadata: HashMap::new(),
            idle_timeout: Duration::from_secs(300),
            max_bytes: 0,
            authorization: None,
            backend: String::new(),
            initial_credits: INITIAL_CREDITS,
        }
    }
}

impl TunnelOptions {
    /// TCP, 5 minutes idle, no byte cap, 1 MiB credits.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the tunnel carries.
    pub fn protocol(mut self, p: TunnelProtocol) -> Self {
        self.protocol = p;
        self
    }

    /// Where the peer should connect it.
    pub fn remote_hint(mut self, hint: impl Into<String>) -> Self {
        self.remote_hint = hint.into();
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The idle timeout.
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t;
        self
    }

    /// The byte cap (0 = unlimited).
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// An authorization context for the open.
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.authorization = Some(ctx);
        self
    }

    /// The peer's backend.
    pub fn backend(mut self, name: impl Into<String>) -> Self {
        self.backend = name.into();
        self
    }

    /// Initial receive credits (at least one frame's worth).
    pub fn initial_credits(mut self, n: u32) -> Self {
        self.initial_credits = n.max(FRAME_BYTES as u32);
        self
    }
}
