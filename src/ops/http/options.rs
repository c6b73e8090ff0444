//! Per-request options of HTTP over Aether.

use std::time::Duration;

use crate::proto::AuthorizationContext;

/// Largest piece of a body in one frame (the reference SDK's chunk size):
/// bodies above it travel as chunks.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How one request over Aether behaves. Every field has a default; build
/// with the setters.
///
/// ```
/// use std::time::Duration;
/// use aether_client::proxy::ProxyOptions;
/// let opts = ProxyOptions::new()
///     .timeout(Duration::from_secs(5))        // until the response header
///     .idle_timeout(Duration::from_secs(10))  // between body chunks
///     .max_response_bytes(16 << 20);
/// assert_eq!(opts.timeout, Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProxyOptions {
    /// Time to the first byte (the response header); `None` waits as long
    /// as it takes. Also sent to the terminator (`timeout_ms`). Default 30 s.
    pub timeout: Option<Duration>,
    /// Longest wait between two frames of a streamed body; `None` = the
    /// terminator's default, and no limit here. Default 30 s.
    pub idle_timeout: Option<Duration>,
    /// The application workspace the request belongs to.
    pub app_workspace: String,
    /// An authorization context (on-behalf-of, grants...) for the request.
    pub authorization: Option<AuthorizationContext>,
    /// Largest response body accepted (0 = unlimited); beyond it the body
    /// ends with a `PayloadTooLarge` error.
    pub max_response_bytes: u64,
    /// The terminator backend to use (empty = its default).
    pub backend: String,
    /// Ask the terminator to follow redirects.
    pub follow_redirects: bool,
    /// Ask the terminator to stream the response for as long as it lasts
    /// (server-sent events and the like).
    pub stream_indefinitely: bool,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(30)),
            app_workspace: String::new(),
            authorization: None,
            max_response_bytes: 0,
            backend: String::new(),
            follow_redirects: false,
            stream_indefinitely: false,
        }
    }
}

impl ProxyOptions {
    /// The defaults: 30 s to the first byte, 30 s between chunks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time to the first byte (`None`: no limit).
    pub fn timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.timeout = t.into();
        self
    }

    /// Longest wait between two body frames (`None`: no limit here).
    pub fn idle_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = t.into();
        self
    }

    /// The application workspace.
    pub fn app_workspace(mut self, ws: impl Into<String>) -> Self {
        self.app_workspace = ws.into();
        self
    }

    /// An authorization context for this request.
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.authorization = Some(ctx);
        self
    }

    /// Largest response body (0 = unlimited).
    pub fn max_response_bytes(mut self, n: u64) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// The terminator backend.
    pub fn backend(mut self, name: impl Into<String>) -> Self {
        self.backend = name.into();
        self
    }

    /// Whether the terminator follows redirects.
    pub fn follow_redirects(mut self, yes: bool) -> Self {
        self.follow_redirects = yes;
        self
    }

    /// Whether the response may stream indefinitely.
    pub fn stream_indefinitely(mut self, yes: bool) -> Self {
        self.stream_indefinitely = yes;
        self
    }
}

/// Milliseconds on the wire (0 = none), saturating.
pub(crate) fn millis(d: Option<Duration>) -> i64 {
    d.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
