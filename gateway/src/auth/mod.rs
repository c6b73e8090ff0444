//! Authentication (§1.5): which credential a connection holds, API tokens
//! and their administration (`TokenOperation`, §6.5), mapped client
//! certificates, and the failure throttle.
//!
//! A connection is checked, in this order:
//!
//! 1. **Throttle**: an identity (or a remote address) cooling down after
//!    repeated failures is refused at once, whatever it presents.
//! 2. **Task token** (`token`): must be one this gateway minted for the
//!    connecting identity ([`Tasks`](crate::tasks::Tasks) decides).
//! 3. **API key** (`api_key` / `x-api-key`): the admin key (compared in
//!    constant time), or an API token with its binding checks (type, bound
//!    id, workspace patterns: PERMISSION_DENIED). An unknown, revoked or
//!    expired key is UNAUTHENTICATED with one text for all three.
//! 4. `authorization` / `session_token`: not supported (UNAUTHENTICATED).
//! 5. **Client certificate** the operator mapped to a principal, with the
//!    same binding checks.
//! 6. Nothing: admitted in dev mode only; otherwise UNAUTHENTICATED, for
//!    every principal type, system principals included.
//!
//! In dev mode an API key that authenticates nothing is ignored (the door
//! is open), but one that does authenticate binds the session like outside
//! dev mode (its checks apply, revoking it ends the session, a resume must
//! present it).
//!
//! **Administrators** are sessions authenticated with the admin key or
//! with a token whose scopes include `admin` (and, in dev mode, every
//! session): only they may create, list, get, revoke and delete tokens.
//! The system-level rights of §6.1 (session administration, audit
//! queries) also extend to the orchestrators and the workflow engine, as
//! before, but only once they have authenticated.

mod certs;
pub(crate) mod ops;
mod throttle;
pub(crate) mod tokens;

use std::collections::HashMap;
use std::net::IpAddr;

use aether_protocol::identity::{Principal, PrincipalKind};
use tonic::Status;

use crate::config::GatewayConfig;
use crate::credential::Credential;
use crate::credential::secret::{self, Digest};
use crate::store::{Store, StoreError};
use certs::CertMap;
use throttle::Throttle;
use tokens::{TokenStore, Verified};

/// The refusal text of a throttled attempt (upstream's).
pub(crate) const THROTTLED: &str = "auth temporarily throttled after repeated failures";
/// The refusal text of an API key that authenticates nothing.
const INVALID_KEY: &str = "credential authentication failed: invalid API key";

/// What the transport says about a connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    /// The remote IP address.
    pub(crate) ip: Option<IpAddr>,
    /// SHA-256 of the client's leaf certificate (mTLS).
    pub(crate) cert: Option<Digest>,
}

/// One connection's claim.
pub(crate) struct Attempt<'a> {
    pub(crate) principal: &'a Principal,
    pub(crate) identity: &'a str,
    pub(crate) credentials: &'a HashMap<String, String>,
    pub(crate) peer: &'a Peer,
}

/// An authenticated connection.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub(crate) credential: Credential,
    /// An administrator (admin key, `admin`-scoped token, dev mode).
    pub(crate) administrator: bool,
    /// System-level rights of §6.1 (administrators, orchestrators and the
    /// workflow engine).
    pub(crate) system: bool,
    /// The task a task-token worker is bound to.
    pub(crate) worker_task: Option<String>,
}

/// A refused connection.
#[derive(Debug)]
pub(crate) struct Refused {
    /// How the stream ends.
    pub(crate) status: Status,
    /// The credential method that was tried (`none` when nothing was).
    pub(crate) method: &'static str,
    /// Why, for the audit log (`unknown`, `revoked`, `expired`, `binding`,
    /// `missing`, `unsupported`, `task_token`, `throttled`).
    pub(crate) reason: &'static str,
    /// Refused by the throttle without looking at the credential.
    pub(crate) throttled: bool,
    /// This failure started a cooldown.
    pub(crate) cooldown_started: bool,
}

/// The authentication component.
pub(crate) struct Auth {
    /// API tokens.
    pub(crate) tokens: TokenStore,
    certs: CertMap,
    throttle: Throttle,
    admin_key: Option<Digest>,
    dev: bool,
}

fn credential<'a>(credentials: &'a HashMap<String, String>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .filter_map(|k| credentials.get(*k))
        .map(String::as_str)
        .find(|v| !v.is_empty())
}

/// Unix seconds now.
pub(crate) fn now_s() -> i64 {
    (crate::expiring::unix_ms() / 1000) as i64
}

/// Why `start` refuses a configuration.
#[derive(Debug)]
pub(crate) enum SetupError {
    Config(String),
    Store(StoreError),
}

impl Auth {
    /// The component for `config`, with tokens loaded from `store`.
    pub(crate) fn new(config: &GatewayConfig, store: Store) -> Result<Auth, SetupError> {
        let certs = CertMap::from_config(config.tls.as_ref()).map_err(SetupError::Config)?;
        if config.admin_key.as_deref() == Some("") {
            return Err(SetupError::Config("the admin key must not be empty".into()));
        }
        Ok(Auth {
            tokens: TokenStore::load(store).map_err(SetupError::Store)?,
            certs,
            throttle: Throttle::new(config.limits.auth_throttle),
            admin_key: config.admin_key.as_deref().map(secret::digest),
            dev: config.dev,
        })
    }

    /// Authenticates `a`; `task_token` checks a presented task token for
    /// the connecting identity and returns its task id.
    pub(crate) fn authenticate(
        &self,
        a: &Attempt<'_>,
        task_token: impl FnOnce(&str) -> Result<String, Status>,
    ) -> Result<Authenticated, Refused> {
        let id_key = format!("id:{}", a.identity);
        let ip_key = a.peer.ip.map(|ip| format!("ip:{ip}"));
        let mut keys = vec![id_key.as_str()];
        keys.extend(ip_key.as_deref());
        if self.throttle.is_cooling(&keys) {
            return Err(Refused {
                status: Status::unauthenticated(THROTTLED),
                method: "none",
                reason: "throttled",
                throttled: true,
                cooldown_started: false,
            });
        }
        match self.decide(a, task_token) {
            Ok(ok) => {
                self.throttle.clear(&id_key);
                Ok(ok)
            }
            Err(mut refused) => {
                let limits = *self.throttle.config();
                refused.cooldown_started |= self.throttle.fail(&id_key, limits.failures);
                if let Some(ip) = &ip_key {
                    refused.cooldown_started |= self.throttle.fail(ip, limits.peer_failures);
                }
                Err(refused)
            }
        }
    }

    fn decide(
        &self,
        a: &Attempt<'_>,
        task_token: impl FnOnce(&str) -> Result<String, Status>,
    ) -> Result<Authenticated, Refused> {
        let kind = a.principal.kind();
        let refuse = |status: Status, method: &'static str, reason: &'static str| Refused {
            status,
            method,
            reason,
            throttled: false,
            cooldown_started: false,
        };
        if let Some(token) = credential(a.credentials, &["token"]) {
            let task_id = task_token(token).map_err(|s| refuse(s, "task_token", "task_token"))?;
            return Ok(self.admitted(
                kind,
                Credential::TaskToken {
                    task_id: task_id.clone(),
                },
                false,
                Some(task_id),
            ));
        }
        if let Some(key) = credential(a.credentials, &["api_key", "x-api-key"]) {
            if let Some(admin) = &self.admin_key
                && secret::same(&secret::digest(key), admin)
            {
                return Ok(self.admitted(kind, Credential::AdminKey, true, None));
            }
            let reason = match self.tokens.verify(key, now_s()) {
                Verified::Valid(t) => {
                    t.binding
                        .admits(a.principal, a.identity, "API key")
                        .map_err(|s| refuse(s, "api_token", "binding"))?;
                    self.tokens.touch(&t.id, now_s());
                    let credential = Credential::Token {
                        id: t.id,
                        workspaces: t.binding.workspaces.clone(),
                    };
                    return Ok(self.admitted(kind, credential, t.admin, None));
                }
                Verified::Unknown => "unknown",
                Verified::Revoked => "revoked",
                Verified::Expired => "expired",
            };
            if !self.dev {
                return Err(refuse(
                    Status::unauthenticated(INVALID_KEY),
                    "api_key",
                    reason,
                ));
            }
        }
        let unsupported = credential(a.credentials, &["authorization", "session_token"]);
        if unsupported.is_some() && !self.dev {
            return Err(refuse(
                Status::unauthenticated(
                    "credential authentication failed: only API keys are supported by this gateway",
                ),
                "unsupported",
                "unsupported",
            ));
        }
        if let Some(digest) = &a.peer.cert
            && let Some(binding) = self.certs.get(digest)
        {
            binding
                .admits(a.principal, a.identity, "client certificate")
                .map_err(|s| refuse(s, "certificate", "binding"))?;
            let credential = Credential::Certificate {
                fingerprint: secret::hex(digest),
                workspaces: binding.workspaces.clone(),
            };
            return Ok(self.admitted(kind, credential, false, None));
        }
        if self.dev {
            return Ok(self.admitted(kind, Credential::Open, true, None));
        }
        Err(refuse(
            Status::unauthenticated(format!(
                "anonymous connection as {} requires credentials",
                kind.name()
            )),
            "none",
            "missing",
        ))
    }

    fn admitted(
        &self,
        kind: PrincipalKind,
        credential: Credential,
        administrator: bool,
        worker_task: Option<String>,
    ) -> Authenticated {
        let administrator = administrator || self.dev;
        let system = administrator
            || matches!(
                kind,
                PrincipalKind::Orchestrator | PrincipalKind::WorkflowEngine
            ) && worker_task.is_none();
        Authenticated {
            credential,
            administrator,
            system,
            worker_task,
        }
    }

    /// Drops throttle records with nothing left to remember.
    pub(crate) fn sweep(&self) {
        self.throttle.sweep();
    }
}

#[cfg(test)]
mod tests;
