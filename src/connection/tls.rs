//! TLS and mTLS settings (rustls, through tonic).

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Result};

/// PEM material, given inline or as a file path (read at connect time).
#[derive(Clone, Debug)]
pub enum Pem {
    /// PEM bytes.
    Bytes(Vec<u8>),
    /// A path to a PEM file.
    Path(PathBuf),
}

impl Pem {
    /// PEM bytes.
    pub fn bytes(pem: impl Into<Vec<u8>>) -> Self {
        Pem::Bytes(pem.into())
    }

    /// A PEM file.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Pem::Path(path.into())
    }

    fn load(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Bytes(b) => Ok(b.clone()),
            Pem::Path(p) => std::fs::read(p).map_err(|e| {
                Error::new(
                    ErrorKind::Tls,
                    format!("cannot read {what} from {}: {e}", p.display()),
                )
                .with_source(e)
            }),
        }
    }
}

/// TLS settings for the connection to the gateway.
///
/// With no root certificate the webpki roots are trusted. A client
/// certificate and key together enable mTLS; giving only one of them is an
/// error at connect time.
///
/// ```
/// use aether_client::{Pem, TlsOptions};
/// let tls = TlsOptions::new()
///     .root_ca(Pem::path("ca.pem"))
///     .client_identity(Pem::path("client.pem"), Pem::path("client.key"));
/// # let _ = tls;
/// ```
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    root_ca: Option<Pem>,
    client_cert: Option<Pem>,
    client_key: Option<Pem>,
    domain: Option<String>,
}

impl TlsOptions {
    /// TLS with the default (webpki) roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts this CA (PEM).
    pub fn root_ca(mut self, pem: Pem) -> Self {
        self.root_ca = Some(pem);
        self
    }

    /// Presents this certificate and key (mTLS).
    pub fn client_identity(mut self, cert: Pem, key: Pem) -> Self {
        self.client_cert = Some(cert);
        self.client_key = Some(key);
        self
    }

    /// Sets only the client certificate (pair it with [`client_key`](Self::client_key)).
    pub fn client_cert(mut self, cert: Pem) -> Self {
        self.client_cert = Some(cert);
        self
    }

    /// Sets only the client key (pair it with [`client_cert`](Self::client_cert)).
    pub fn client_key(mut self, key: Pem) -> Self {
        self.client_key = Some(key);
        self
    }

    /// Overrides the server name checked against the gateway's certificate.
    pub fn domain_name(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    pub(crate) fn to_tonic(&self, host: Option<&str>) -> Result<tonic::transport::ClientTlsConfig> {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let mut cfg = ClientTlsConfig::new();
        match &self.root_ca {
            Some(ca) => cfg = cfg.ca_certificate(Certificate::from_pem(ca.load("root CA")?)),
            None => cfg = cfg.with_webpki_roots(),
        }
        match (&self.client_cert, &self.client_key) {
            (Some(c), Some(k)) => {
                cfg = cfg.identity(Identity::from_pem(
                    c.load("client certificate")?,
                    k.load("client key")?,
                ))
            }
            (None, None) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Tls,
                    "mTLS needs both a client certificate and a client key",
                ));
            }
        }
        if let Some(d) = self.domain.as_deref().or(host) {
            cfg = cfg.domain_name(d.to_string());
        }
        Ok(cfg)
    }
}
