//! Client certificates the operator mapped to principals
//! ([`TlsConfig::map_client_cert`](crate::TlsConfig::map_client_cert)),
//! by the SHA-256 digest of the leaf certificate (DER).

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::TlsConfig;
use crate::credential::secret::{self, Digest};
use crate::credential::{Binding, BoundType};

/// Mapped certificates.
#[derive(Debug, Default)]
pub(crate) struct CertMap {
    by_digest: HashMap<Digest, Binding>,
}

impl CertMap {
    /// The mappings of `tls`; an unparsable fingerprint or principal type
    /// is an error (the gateway refuses to start).
    pub(crate) fn from_config(tls: Option<&TlsConfig>) -> Result<CertMap, String> {
        let mut by_digest = HashMap::new();
        let Some(tls) = tls else {
            return Ok(CertMap::default());
        };
        if !tls.client_principals.is_empty() && tls.client_ca_pem.is_none() {
            return Err("client certificates can be mapped only with a client CA (mTLS)".into());
        }
        for (fingerprint, p) in &tls.client_principals {
            let digest = secret::parse_digest(fingerprint).ok_or_else(|| {
                format!("client certificate fingerprint {fingerprint:?} is not 64 hex digits")
            })?;
            let bound_type = BoundType::parse(&p.principal_type).ok_or_else(|| {
                format!(
                    "client certificate mapping: unknown principal type {:?}",
                    p.principal_type
                )
            })?;
            let workspaces: Arc<[String]> = if p.workspace_patterns.is_empty() {
                Arc::from(vec!["*".to_string()])
            } else {
                p.workspace_patterns.iter().cloned().collect()
            };
            by_digest.insert(
                digest,
                Binding {
                    bound_type,
                    bound_id: p.bound_id.clone().filter(|s| !s.is_empty()),
                    workspaces,
                },
            );
        }
        Ok(CertMap { by_digest })
    }

    /// The binding of the certificate with this digest.
    pub(crate) fn get(&self, digest: &Digest) -> Option<&Binding> {
        self.by_digest.get(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CertPrincipal;

    #[test]
    fn mappings_are_parsed_and_checked() {
        let fp = "AB:".repeat(31) + "AB";
        let tls = TlsConfig::from_pem("c", "k")
            .with_client_ca("ca")
            .map_client_cert(fp, CertPrincipal::parse("orchestrator/o1"));
        let map = CertMap::from_config(Some(&tls)).unwrap();
        let b = map.get(&[0xab; 32]).unwrap();
        assert_eq!(b.bound_type, BoundType::Orchestrator);
        assert_eq!(b.bound_id.as_deref(), Some("o1"));
        let bad = TlsConfig::from_pem("c", "k")
            .with_client_ca("ca")
            .map_client_cert("zz", CertPrincipal::new("Agent"));
        assert!(CertMap::from_config(Some(&bad)).is_err());
        let no_ca = TlsConfig::from_pem("c", "k")
            .map_client_cert("ab".repeat(32), CertPrincipal::new("Agent"));
        assert!(CertMap::from_config(Some(&no_ca)).is_err());
        let bad_type = TlsConfig::from_pem("c", "k")
            .with_client_ca("ca")
            .map_client_cert("ab".repeat(32), CertPrincipal::new("Robot"));
        assert!(CertMap::from_config(Some(&bad_type)).is_err());
    }
}
