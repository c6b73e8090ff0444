//! The principal-type permission matrix (§2.4).

use aether_protocol::identity::{PrincipalKind, TopicPrefix};

/// Whether a `kind` sender may target a topic with `prefix`.
pub(crate) fn allowed(kind: PrincipalKind, prefix: TopicPrefix) -> bool {
    use TopicPrefix as T;
    match kind {
        PrincipalKind::Agent | PrincipalKind::UniqueTask | PrincipalKind::PooledTask => {
            prefix != T::UserBroadcast
        }
        PrincipalKind::User => !matches!(
            prefix,
            T::UserBroadcast | T::Progress | T::Event | T::Metric
        ),
        PrincipalKind::Service | PrincipalKind::Bridge | PrincipalKind::WorkflowEngine => true,
        PrincipalKind::Orchestrator => matches!(
            prefix,
            T::Agent | T::UniqueTask | T::PooledTask | T::TaskBroadcast
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PrincipalKind as K;
    use TopicPrefix as T;

    #[test]
    fn matrix_matches_the_spec() {
        assert!(!allowed(K::Agent, T::UserBroadcast));
        assert!(allowed(K::Agent, T::Metric));
        assert!(!allowed(K::User, T::Event));
        assert!(!allowed(K::User, T::Progress));
        assert!(allowed(K::User, T::WorkspaceUsers));
        assert!(allowed(K::Service, T::UserBroadcast));
        assert!(allowed(K::Orchestrator, T::TaskBroadcast));
        assert!(!allowed(K::Orchestrator, T::UserSession));
        assert!(!allowed(K::MetricsBridge, T::Agent));
    }
}
