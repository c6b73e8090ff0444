//! Principals as the ACL names them: a canonical lowercase type and an id
//! (the identity string; for users the bare user id), parsed from the
//! `PrincipalRef`s of requests and derived from live sessions.

use aether_protocol::identity::{
    METRICS_BRIDGE_IDENTITY, Principal, PrincipalKind, WORKFLOW_ENGINE_IDENTITY,
};
use aether_protocol::proto::PrincipalRef;

/// The principal types of rules and references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum PType {
    User,
    Agent,
    Task,
    Service,
    Bridge,
    Orchestrator,
    WorkflowEngine,
    MetricsBridge,
}

impl PType {
    /// Every type, for listings.
    pub(crate) const ALL: [PType; 8] = [
        PType::User,
        PType::Agent,
        PType::Task,
        PType::Service,
        PType::Bridge,
        PType::Orchestrator,
        PType::WorkflowEngine,
        PType::MetricsBridge,
    ];

    /// The canonical (rule and fallback category) name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PType::User => "user",
            PType::Agent => "agent",
            PType::Task => "task",
            PType::Service => "service",
            PType::Bridge => "bridge",
            PType::Orchestrator => "orchestrator",
            PType::WorkflowEngine => "workflow_engine",
            PType::MetricsBridge => "metrics_bridge",
        }
    }

    /// Parses a type name, case-insensitively, in the spellings clients
    /// use (`Agent`, `agent`, `unique_task`, `WorkflowEngine`, ...).
    pub(crate) fn parse(s: &str) -> Option<PType> {
        let t = s.to_ascii_lowercase().replace(['_', '-'], "");
        Some(match t.as_str() {
            "user" => PType::User,
            "agent" => PType::Agent,
            "task" | "uniquetask" | "nonuniquetask" | "pooledtask" => PType::Task,
            "service" => PType::Service,
            "bridge" => PType::Bridge,
            "orchestrator" => PType::Orchestrator,
            "workflowengine" => PType::WorkflowEngine,
            "metricsbridge" => PType::MetricsBridge,
            _ => return None,
        })
    }

    /// The type of a session's principal.
    pub(crate) fn of(kind: PrincipalKind) -> PType {
        match kind {
            PrincipalKind::Agent => PType::Agent,
            PrincipalKind::UniqueTask | PrincipalKind::PooledTask => PType::Task,
            PrincipalKind::User => PType::User,
            PrincipalKind::Orchestrator => PType::Orchestrator,
            PrincipalKind::WorkflowEngine => PType::WorkflowEngine,
            PrincipalKind::MetricsBridge => PType::MetricsBridge,
            PrincipalKind::Bridge => PType::Bridge,
            _ => PType::Service,
        }
    }

    fn topic_prefix(self) -> &'static str {
        match self {
            PType::User => "us",
            PType::Agent => "ag",
            PType::Task => "tu",
            PType::Service => "sv",
            PType::Bridge => "br",
            PType::Orchestrator => "orc",
            PType::WorkflowEngine => "wfe",
            PType::MetricsBridge => "metrics",
        }
    }
}

/// Longest principal or resource id accepted in a request.
pub(crate) const MAX_ID_BYTES: usize = 512;

/// A principal as rules, grants and decisions name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PrincipalId {
    pub(crate) ptype: PType,
    /// The identity string (`ag::w::i::s`, `sv::i::s`, `wfe::shard0`);
    /// for users the bare user id.
    pub(crate) id: String,
}

impl PrincipalId {
    /// The principal of a live session with identity string `identity`.
    pub(crate) fn of_session(principal: &Principal, identity: &str) -> PrincipalId {
        let ptype = PType::of(principal.kind());
        let id = match principal {
            Principal::User { user_id, .. } => user_id.to_string(),
            _ => identity.to_string(),
        };
        PrincipalId { ptype, id }
    }

    /// Parses a `PrincipalRef`: the type case-insensitively, the id either
    /// qualified (`ag::w::i::s`) or bare (`w::i::s`, which gets the type's
    /// prefix). A user is named by its user id (`alice`, or a window
    /// `us::alice::tab`, which names user `alice`).
    pub(crate) fn parse(r: &PrincipalRef) -> Result<PrincipalId, String> {
        PrincipalId::parse_parts(&r.principal_type, &r.principal_id)
    }

    /// [`parse`](Self::parse) from the two strings.
    pub(crate) fn parse_parts(ptype: &str, id: &str) -> Result<PrincipalId, String> {
        let t = PType::parse(ptype)
            .ok_or_else(|| format!("unknown principal type {:?}", clip(ptype)))?;
        check_id("principal_id", id)?;
        let id = match t {
            PType::WorkflowEngine => WORKFLOW_ENGINE_IDENTITY.to_string(),
            PType::MetricsBridge => METRICS_BRIDGE_IDENTITY.to_string(),
            PType::User => {
                let bare = id.strip_prefix("us::").unwrap_or(id);
                let user = bare.split("::").next().unwrap_or_default();
                if user.is_empty() {
                    return Err("principal_id names no user".to_string());
                }
                user.to_string()
            }
            PType::Task if id.starts_with("tu::") || id.starts_with("ta::") => id.to_string(),
            _ if id.starts_with(&format!("{}::", t.topic_prefix())) => id.to_string(),
            _ => format!("{}::{id}", t.topic_prefix()),
        };
        Ok(PrincipalId { ptype: t, id })
    }

    /// The workspace the principal lives in, from its identity (agents and
    /// tasks); `None` for workspace-less principals.
    pub(crate) fn home_workspace(&self) -> Option<&str> {
        match self.ptype {
            PType::Agent | PType::Task => self.id.split("::").nth(1).filter(|w| !w.is_empty()),
            _ => None,
        }
    }

    /// As a wire `PrincipalRef`.
    pub(crate) fn to_ref(&self) -> PrincipalRef {
        PrincipalRef {
            principal_type: self.ptype.name().to_string(),
            principal_id: self.id.clone(),
        }
    }

    /// Whether `r` names this principal.
    pub(crate) fn is(&self, r: &PrincipalRef) -> bool {
        PrincipalId::parse(r).is_ok_and(|p| p == *self)
    }
}

impl std::fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.ptype.name(), self.id)
    }
}

/// Checks an id from a request: non-empty, bounded, no control characters.
pub(crate) fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} is required"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "{what} is {} bytes; the limit is {MAX_ID_BYTES}",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("{what} contains a control character"));
    }
    Ok(())
}

/// A prefix of `s` short enough to quote in an error.
pub(crate) fn clip(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str, id: &str) -> Result<PrincipalId, String> {
        PrincipalId::parse_parts(t, id)
    }

    #[test]
    fn references_are_normalized() {
        let a = p("Agent", "w::i::s").unwrap();
        assert_eq!(a, p("agent", "ag::w::i::s").unwrap());
        assert_eq!(a.id, "ag::w::i::s");
        assert_eq!(a.home_workspace(), Some("w"));
        assert_eq!(p("user", "us::alice::tab").unwrap().id, "alice");
        assert_eq!(p("USER", "alice").unwrap().id, "alice");
        assert_eq!(p("unique_task", "tu::w::i::s").unwrap().ptype, PType::Task);
        assert_eq!(p("workflow_engine", "anything").unwrap().id, "wfe::shard0");
        assert_eq!(
            p("WorkflowEngine", "x").unwrap().ptype,
            PType::WorkflowEngine
        );
        assert!(p("martian", "x").is_err());
        assert!(p("agent", "").is_err());
        assert!(p("agent", "a\nb").is_err());
        assert!(p("agent", &"x".repeat(600)).is_err());
        assert!(p("user", "us::").is_err());
    }

    #[test]
    fn sessions_are_named_by_identity() {
        let u = Principal::user("alice", "tab").unwrap();
        assert_eq!(PrincipalId::of_session(&u, "us::alice::tab").id, "alice");
        let s = Principal::service("i", "s", false).unwrap();
        let id = PrincipalId::of_session(&s, "sv::i::s");
        assert_eq!((id.ptype, id.id.as_str()), (PType::Service, "sv::i::s"));
        assert_eq!(id.home_workspace(), None);
    }
}
