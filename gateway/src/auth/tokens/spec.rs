//! Validating a `TokenCreateRequest` into what gets stored. Every refusal
//! names the field and the rule, never the value (which may be huge, or a
//! secret pasted in the wrong place).

use aether_protocol::identity::validate_segment;
use aether_protocol::proto::TokenCreateRequest;

use crate::credential::BoundType;

/// Scopes a token may carry: `connect` (the default; every token
/// authenticates connections) and `admin` (its sessions are
/// administrators: they may manage tokens).
pub(crate) const SCOPES: [&str; 2] = ["connect", "admin"];

/// Longest `name`, `created_by`, pattern or scope, in bytes.
pub(crate) const MAX_FIELD: usize = 128;
/// Most workspace patterns per token.
pub(crate) const MAX_PATTERNS: usize = 32;
/// Most scopes per token.
pub(crate) const MAX_SCOPES: usize = 8;
/// Longest lifetime (ten years).
pub(crate) const MAX_HOURS: i32 = 10 * 365 * 24;

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewToken {
    pub(crate) name: String,
    pub(crate) bound_type: BoundType,
    pub(crate) created_by: String,
    pub(crate) workspace_patterns: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_in_hours: i32,
}

fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

impl NewToken {
    /// Checks `req`; the error is the reply's `error` text.
    pub(crate) fn from_request(req: Option<TokenCreateRequest>) -> Result<NewToken, String> {
        let req = req.ok_or("create_request is required")?;
        if req.name.is_empty() {
            return Err("name is required".into());
        }
        if req.name.len() > MAX_FIELD || !printable(&req.name) {
            return Err(format!(
                "name must be at most {MAX_FIELD} bytes, without control characters"
            ));
        }
        if req.principal_type.is_empty() {
            return Err("principal_type is required".into());
        }
        let bound_type = BoundType::parse(&req.principal_type).ok_or(
            "unknown principal_type: use Agent, Task, User, Service, WorkflowEngine, \
             MetricsBridge, Orchestrator or Bridge",
        )?;
        let created_by = req.created_by.trim().to_string();
        if created_by.len() > MAX_FIELD || !printable(&created_by) {
            return Err(format!(
                "created_by must be at most {MAX_FIELD} bytes, without control characters"
            ));
        }
        if bound_type == BoundType::User {
            if created_by.is_empty() {
                return Err("created_by (the bound user id) is required for User tokens".into());
            }
            if validate_segment(&created_by).is_err() {
                return Err("created_by must be a valid user id for User tokens".into());
            }
        }
        let workspace_patterns = if req.workspace_patterns.is_empty() {
            vec!["*".to_string()]
        } else {
            req.workspace_patterns
        };
        if workspace_patterns.len() > MAX_PATTERNS {
            return Err(format!("at most {MAX_PATTERNS} workspace_patterns"));
        }
        if workspace_patterns.iter().any(|p| {
            p.is_empty() || p.len() > MAX_FIELD || p.chars().any(|c| c.is_control() || c == ' ')
        }) {
            return Err(format!(
                "workspace_patterns must be non-empty, at most {MAX_FIELD} bytes, \
                 without spaces or control characters"
            ));
        }
        let mut scopes = if req.scopes.is_empty() {
            vec!["connect".to_string()]
        } else {
            req.scopes
        };
        if scopes.len() > MAX_SCOPES {
            return Err(format!("at most {MAX_SCOPES} scopes"));
        }
        if scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
            return Err(format!("unknown scope: use {}", SCOPES.join(" or ")));
        }
        scopes.dedup();
        if !(0..=MAX_HOURS).contains(&req.expires_in_hours) {
            return Err(format!(
                "expires_in_hours must be between 0 (no expiry) and {MAX_HOURS}"
            ));
        }
        Ok(NewToken {
            name: req.name,
            bound_type,
            created_by,
            workspace_patterns,
            scopes,
            expires_in_hours: req.expires_in_hours,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, t: &str) -> TokenCreateRequest {
        TokenCreateRequest {
            name: name.into(),
            principal_type: t.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_refusals() {
        let ok = NewToken::from_request(Some(req("n", "agent"))).unwrap();
        assert_eq!(ok.bound_type, BoundType::Agent);
        assert_eq!(ok.workspace_patterns, ["*"]);
        assert_eq!(ok.scopes, ["connect"]);
        let err = |r: TokenCreateRequest| NewToken::from_request(Some(r)).unwrap_err();
        assert_eq!(
            NewToken::from_request(None).unwrap_err(),
            "create_request is required"
        );
        assert_eq!(err(req("", "Agent")), "name is required");
        assert_eq!(err(req("n", "")), "principal_type is required");
        let bad_type = err(req("n", &"x".repeat(10_000)));
        assert!(bad_type.starts_with("unknown principal_type"));
        assert!(bad_type.len() < 200, "the value is not echoed");
        assert!(err(req("n", "User")).contains("required for User tokens"));
        let mut r = req("n", "User");
        r.created_by = "a::b".into();
        assert!(err(r).contains("valid user id"));
        let mut r = req("n", "Agent");
        r.scopes = vec!["root".into()];
        assert!(err(r).starts_with("unknown scope"));
        let mut r = req("n", "Agent");
        r.expires_in_hours = -1;
        assert!(err(r).starts_with("expires_in_hours"));
        let mut r = req("n", "Agent");
        r.workspace_patterns = vec!["a b".into()];
        assert!(err(r).starts_with("workspace_patterns"));
        let mut r = req(&"n".repeat(129), "Agent");
        r.workspace_patterns = vec!["w".into()];
        assert!(err(r).starts_with("name must be"));
    }
}
