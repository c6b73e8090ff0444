//! Errors from starting a gateway.

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The listen socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration was rejected.
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    /// Another I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The configuration is inconsistent (an empty admin key, a client
    /// certificate mapping that cannot be parsed, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The database under the data directory could not be opened or read.
    #[error("cannot open the data directory: {0}")]
    Store(String),
}
