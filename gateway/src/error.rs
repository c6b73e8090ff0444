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
    /// The database under the data directory could not be opened or read
    /// (for instance: another gateway has it open).
    #[error("cannot open the data directory: {0}")]
    Store(String),
    /// A file under the data directory is corrupted or truncated; the
    /// gateway does not start on it rather than serve wrong or missing
    /// values.
    #[error(
        "{} is corrupted or truncated: {reason}; the gateway will not start on it \
         (restore it from a backup, or move it away to start empty)",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// What the check found.
        reason: String,
    },
}

impl GatewayError {
    /// The error of a store under `data_dir` that could not be opened or
    /// read: [`GatewayError::Corrupt`] naming the database file when its
    /// content is refused, [`GatewayError::Store`] otherwise.
    pub(crate) fn from_store(
        data_dir: Option<&std::path::Path>,
        e: crate::store::StoreError,
    ) -> GatewayError {
        let path = data_dir
            .map(|d| d.join(crate::store::DB_FILE))
            .unwrap_or_default();
        if e.is_corrupt() {
            GatewayError::Corrupt { path, reason: e.0 }
        } else {
            GatewayError::Store(format!("{}: {}", path.display(), e.0))
        }
    }
}
