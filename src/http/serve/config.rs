//! [`ServeConfig`]: how the terminator serves.

use std::time::Duration;

/// How [`serve`](super::serve) serves a tower service over Aether.
///
/// ```
/// use std::time::Duration;
/// use aether_client::http::ServeConfig;
/// let config = ServeConfig::new()
///     .allow_paths(["/api/*", "/health"])
///     .concurrency_limit(64)
///     .max_request_body(8 << 20)
///     .handler_timeout(Duration::from_secs(30));
/// assert_eq!(config.concurrency_limit, 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Paths served (`/*` = all, `prefix/*`, exact paths, `*` anywhere as
    /// a wildcard); others are refused with `ACL_DENIED` before the service
    /// sees them.
    pub allow_paths: Vec<String>,
    /// Requests handled at once; more wait (and slow the connection down).
    pub concurrency_limit: usize,
    /// Largest request body; a larger one is answered `PAYLOAD_TOO_LARGE`
    /// (before the handler runs when its size is known).
    pub max_request_body: u64,
    /// Longest wait for the handler's response header (the caller's own
    /// time to first byte, when shorter, wins); past it the caller gets
    /// `TIMEOUT`. `None`: no limit but the caller's.
    pub handler_timeout: Option<Duration>,
    /// Longest wait for the next chunk of a streamed request body.
    pub body_idle_timeout: Duration,
    /// Also serve the service over the tunnels opened to this client, as
    /// HTTP/1.1 or HTTP/2 (prior knowledge), with hyper.
    #[cfg(feature = "hyper")]
    pub serve_tunnels: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            allow_paths: vec!["/*".to_string()],
            concurrency_limit: 1024,
            max_request_body: 64 << 20,
            handler_timeout: Some(Duration::from_secs(60)),
            body_idle_timeout: Duration::from_secs(60),
            #[cfg(feature = "hyper")]
            serve_tunnels: false,
        }
    }
}

impl ServeConfig {
    /// Every path, 1,024 requests at once, 64 MiB bodies, 60 s handler
    /// timeout, 60 s body idle timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The paths served.
    pub fn allow_paths<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Requests handled at once (at least 1).
    pub fn concurrency_limit(mut self, n: usize) -> Self {
        self.concurrency_limit = n.max(1);
        self
    }

    /// Largest request body, in bytes.
    pub fn max_request_body(mut self, bytes: u64) -> Self {
        self.max_request_body = bytes;
        self
    }

    /// Longest wait for the handler's response header.
    pub fn handler_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.handler_timeout = t.into();
        self
    }

    /// Longest wait for a request body chunk.
    pub fn body_idle_timeout(mut self, t: Duration) -> Self {
        self.body_idle_timeout = t;
        self
    }

    /// Serve tunnels too (HTTP/1.1 and HTTP/2 over each accepted tunnel).
    #[cfg(feature = "hyper")]
    pub fn serve_tunnels(mut self, yes: bool) -> Self {
        self.serve_tunnels = yes;
        self
    }
}
