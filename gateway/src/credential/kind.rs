//! The principal type a credential is bound to, as tokens spell it.

use aether_protocol::identity::PrincipalKind;

/// One of the eight principal types, as API tokens and certificate
/// mappings name them (`"Agent"`, `"Task"`, `"User"`, `"Service"`,
/// `"WorkflowEngine"`, `"MetricsBridge"`, `"Orchestrator"`, `"Bridge"`).
/// Parsing ignores case and `_`/`-`, so `agent`, `AGENT` and
/// `workflow_engine` are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BoundType {
    Agent,
    /// Unique and pooled tasks alike.
    Task,
    User,
    Service,
    WorkflowEngine,
    MetricsBridge,
    Orchestrator,
    Bridge,
}

impl BoundType {
    const ALL: [BoundType; 8] = [
        BoundType::Agent,
        BoundType::Task,
        BoundType::User,
        BoundType::Service,
        BoundType::WorkflowEngine,
        BoundType::MetricsBridge,
        BoundType::Orchestrator,
        BoundType::Bridge,
    ];

    /// Parses a principal type name; `None` when it names none.
    pub(crate) fn parse(name: &str) -> Option<BoundType> {
        let folded: String = name
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        BoundType::ALL
            .into_iter()
            .find(|t| t.name().to_ascii_lowercase() == folded)
    }

    /// The canonical name (upstream's exact spelling).
    pub(crate) fn name(self) -> &'static str {
        match self {
            BoundType::Agent => "Agent",
            BoundType::Task => "Task",
            BoundType::User => "User",
            BoundType::Service => "Service",
            BoundType::WorkflowEngine => "WorkflowEngine",
            BoundType::MetricsBridge => "MetricsBridge",
            BoundType::Orchestrator => "Orchestrator",
            BoundType::Bridge => "Bridge",
        }
    }

    /// The type of a connecting principal (`None` for a kind this gateway
    /// does not know, which no credential is bound to).
    pub(crate) fn of(kind: PrincipalKind) -> Option<BoundType> {
        BoundType::parse(kind.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!(BoundType::parse("Agent"), Some(BoundType::Agent));
        assert_eq!(BoundType::parse("agent"), Some(BoundType::Agent));
        assert_eq!(BoundType::parse(" AGENT "), Some(BoundType::Agent));
        assert_eq!(
            BoundType::parse("workflow_engine"),
            Some(BoundType::WorkflowEngine)
        );
        assert_eq!(
            BoundType::parse("MetricsBridge"),
            Some(BoundType::MetricsBridge)
        );
        assert_eq!(BoundType::parse("robot"), None);
        assert_eq!(BoundType::parse(""), None);
        for t in BoundType::ALL {
            assert_eq!(BoundType::parse(t.name()), Some(t));
        }
        assert_eq!(
            BoundType::of(PrincipalKind::PooledTask),
            Some(BoundType::Task)
        );
    }
}
