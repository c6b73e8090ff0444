//! What authenticated a session, and the pieces every credential shares:
//! the principal type a credential is bound to ([`BoundType`]), its
//! binding checks (§1.5 rule 2, [`Binding`]), workspace patterns
//! ([`glob`]) and the handling of secrets ([`secret`]: random generation,
//! hashing, constant-time comparison).
//!
//! It knows nothing of sessions or of where credentials are stored; the
//! `auth` domain decides which credential a connection holds, and the
//! session directory keeps it on the session's handle (resume proof,
//! revocation, workspace switches).

mod binding;
pub(crate) mod glob;
mod kind;
pub(crate) mod secret;

use std::sync::Arc;

pub(crate) use binding::Binding;
pub(crate) use kind::BoundType;

/// How a session proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// Nothing that authenticates was presented; only dev mode admits it.
    Open,
    /// The gateway's admin key.
    AdminKey,
    /// An API token minted by this gateway.
    Token {
        /// The token's public id.
        id: String,
        /// Its workspace patterns (`*` matches every workspace).
        workspaces: Arc<[String]>,
    },
    /// A client certificate the operator mapped to a principal.
    Certificate {
        /// SHA-256 of the certificate (DER), lowercase hex.
        fingerprint: String,
        /// The mapping's workspace patterns.
        workspaces: Arc<[String]>,
    },
    /// A task token minted for this identity on `agent_startup`.
    TaskToken {
        /// The task the worker is bound to.
        task_id: String,
    },
}

impl Credential {
    /// Whether a session authenticated with `other` holds the same
    /// credential as one authenticated with `self`: the proof a resume
    /// must bring before it may take over a live session.
    pub(crate) fn same_holder(&self, other: &Credential) -> bool {
        match (self, other) {
            (Credential::Open, Credential::Open) => true,
            (Credential::AdminKey, Credential::AdminKey) => true,
            (Credential::Token { id: a, .. }, Credential::Token { id: b, .. }) => a == b,
            (
                Credential::Certificate { fingerprint: a, .. },
                Credential::Certificate { fingerprint: b, .. },
            ) => a == b,
            (Credential::TaskToken { task_id: a }, Credential::TaskToken { task_id: b }) => a == b,
            _ => false,
        }
    }

    /// Whether this credential lets its session use `workspace` (tokens
    /// and certificates are limited to their patterns; the others are not
    /// limited here).
    pub(crate) fn allows_workspace(&self, workspace: &str) -> bool {
        match self {
            Credential::Token { workspaces, .. } | Credential::Certificate { workspaces, .. } => {
                glob::any_matches(workspaces, workspace)
            }
            _ => true,
        }
    }

    /// The method's name, as audit entries record it.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Credential::Open => "none",
            Credential::AdminKey => "admin_key",
            Credential::Token { .. } => "api_token",
            Credential::Certificate { .. } => "certificate",
            Credential::TaskToken { .. } => "task_token",
        }
    }

    /// The API token's id, when the session used one.
    pub(crate) fn token_id(&self) -> Option<&str> {
        match self {
            Credential::Token { id, .. } => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, ws: &[&str]) -> Credential {
        Credential::Token {
            id: id.into(),
            workspaces: ws.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn resume_needs_the_same_credential() {
        assert!(Credential::Open.same_holder(&Credential::Open));
        assert!(Credential::AdminKey.same_holder(&Credential::AdminKey));
        assert!(token("a", &["*"]).same_holder(&token("a", &["x"])));
        assert!(!token("a", &["*"]).same_holder(&token("b", &["*"])));
        assert!(!token("a", &["*"]).same_holder(&Credential::Open));
        assert!(!Credential::AdminKey.same_holder(&Credential::Open));
        assert!(!Credential::Open.same_holder(&Credential::AdminKey));
        let t = |id: &str| Credential::TaskToken { task_id: id.into() };
        assert!(t("1").same_holder(&t("1")) && !t("1").same_holder(&t("2")));
    }

    #[test]
    fn workspaces_are_limited_by_patterns() {
        assert!(token("a", &["team-*"]).allows_workspace("team-red"));
        assert!(!token("a", &["team-*"]).allows_workspace("payroll"));
        assert!(Credential::AdminKey.allows_workspace("payroll"));
    }
}
