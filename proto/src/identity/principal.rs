//! Who a client is: the eight principal types of the protocol.

use std::fmt;

use super::segment::{Segment, SegmentError};
use super::topic::Topic;
use crate::proto;
use crate::proto::init_connection::ClientType;

/// The kind of a principal, without its identifying fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// An agent (`ag::`).
    Agent,
    /// A task with a caller-chosen unique specifier (`tu::`).
    UniqueTask,
    /// A pooled task whose instance id the gateway assigns (`ta::`).
    PooledTask,
    /// A user window (`us::`).
    User,
    /// An orchestrator (`orc::`), reached only by task assignments.
    Orchestrator,
    /// The workflow engine (`wfe::shard0`), receiver of events.
    WorkflowEngine,
    /// The metrics bridge (`metrics::shard0`), receiver of metrics.
    MetricsBridge,
    /// A bridge (`br::`).
    Bridge,
    /// A service (`sv::`), workspace-less.
    Service,
}

impl PrincipalKind {
    /// The protocol enum value for this kind.
    pub fn principal_type(self) -> proto::PrincipalType {
        use proto::PrincipalType as P;
        match self {
            PrincipalKind::Agent => P::PrincipalAgent,
            PrincipalKind::UniqueTask | PrincipalKind::PooledTask => P::PrincipalTask,
            PrincipalKind::User => P::PrincipalUser,
            PrincipalKind::Orchestrator => P::PrincipalOrchestrator,
            PrincipalKind::WorkflowEngine => P::PrincipalWorkflowEngine,
            PrincipalKind::MetricsBridge => P::PrincipalMetricsBridge,
            PrincipalKind::Bridge => P::PrincipalBridge,
            PrincipalKind::Service => P::PrincipalService,
        }
    }

    /// The name the gateway uses for this kind in messages and tokens
    /// (`"Agent"`, `"Task"`, `"User"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PrincipalKind::Agent => "Agent",
            PrincipalKind::UniqueTask | PrincipalKind::PooledTask => "Task",
            PrincipalKind::User => "User",
            PrincipalKind::Orchestrator => "Orchestrator",
            PrincipalKind::WorkflowEngine => "WorkflowEngine",
            PrincipalKind::MetricsBridge => "MetricsBridge",
            PrincipalKind::Bridge => "Bridge",
            PrincipalKind::Service => "Service",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Identity string of the (singleton) workflow engine.
pub const WORKFLOW_ENGINE_IDENTITY: &str = "wfe::shard0";
/// Identity string of the (singleton) metrics bridge.
pub const METRICS_BRIDGE_IDENTITY: &str = "metrics::shard0";
/// Topic every event is delivered on, to the workflow engine.
pub const EVENT_RECEIVER_TOPIC: &str = "event::receiver0";
/// Topic every metric is delivered on, to the metrics bridge.
pub const METRIC_RECEIVER_TOPIC: &str = "metric::receiver0";

/// A principal: who a client connects as.
///
/// Constructors validate every segment, so an invalid identity is rejected
/// before anything is sent.
///
/// ```
/// use aether_protocol::identity::Principal;
/// let agent = Principal::agent("ws", "echo", "one").unwrap();
/// assert_eq!(agent.identity_string(), "ag::ws::echo::one");
/// assert!(Principal::agent("ws", "bad::impl", "one").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Principal {
    /// An agent `ag::{workspace}::{implementation}::{specifier}`.
    Agent {
        /// Workspace the agent lives in.
        workspace: Segment,
        /// Implementation name.
        implementation: Segment,
        /// Instance specifier.
        specifier: Segment,
    },
    /// A task: unique (`tu::`) when `unique_specifier` is set, pooled (`ta::`)
    /// otherwise, in which case the gateway assigns the instance id.
    Task {
        /// Workspace of the task.
        workspace: Segment,
        /// Implementation name.
        implementation: Segment,
        /// Unique specifier, or `None` for a pooled task.
        unique_specifier: Option<Segment>,
    },
    /// A user window `us::{user_id}::{window_id}`.
    User {
        /// User id.
        user_id: Segment,
        /// Window (session) id.
        window_id: Segment,
    },
    /// An orchestrator `orc::{implementation}::{specifier}`.
    Orchestrator {
        /// Implementation name.
        implementation: Segment,
        /// Instance specifier.
        specifier: Segment,
        /// Launch profiles this orchestrator serves.
        supported_profiles: Vec<String>,
    },
    /// The workflow engine (a singleton per gateway).
    WorkflowEngine {
        /// Informational instance id (the gateway ignores it).
        instance_id: String,
    },
    /// The metrics bridge (a singleton per gateway).
    MetricsBridge {
        /// Informational instance id (the gateway ignores it).
        instance_id: String,
    },
    /// A bridge `br::{implementation}::{specifier}`.
    Bridge {
        /// Implementation name.
        implementation: Segment,
        /// Instance specifier.
        specifier: Segment,
    },
    /// A service `sv::{implementation}::{specifier}` (no workspace).
    Service {
        /// Implementation name.
        implementation: Segment,
        /// Instance specifier.
        specifier: Segment,
        /// When true the service is not offered pooled tasks.
        no_pool_consumer: bool,
    },
}

impl Principal {
    /// An agent; every segment must be non-empty and valid.
    pub fn agent(
        workspace: impl Into<String>,
        implementation: impl Into<String>,
        specifier: impl Into<String>,
    ) -> Result<Self, SegmentError> {
        Ok(Principal::Agent {
            workspace: Segment::non_empty("workspace", workspace)?,
            implementation: Segment::non_empty("implementation", implementation)?,
            specifier: Segment::non_empty("specifier", specifier)?,
        })
    }

    /// A unique task `tu::{workspace}::{implementation}::{specifier}`.
    pub fn unique_task(
        workspace: impl Into<String>,
        implementation: impl Into<String>,
        specifier: impl Into<String>,
    ) -> Result<Self, SegmentError> {
        Ok(Principal::Task {
            workspace: Segment::non_empty("workspace", workspace)?,
            implementation: Segment::non_empty("implementation", implementation)?,
            unique_specifier: Some(Segment::non_empty("unique_specifier", specifier)?),
        })
    }

    /// A pooled task; the gateway assigns its instance id at connect.
    pub fn pooled_task(
        workspace: impl Into<String>,
        implementation: impl Into<String>,
    ) -> Result<Self, SegmentError> {
        Ok(Principal::Task {
            workspace: Segment::non_empty("workspace", workspace)?,
            implementation: Segment::non_empty("implementation", implementation)?,
            unique_specifier: None,
        })
    }

    /// A user window.
    pub fn user(
        user_id: impl Into<String>,
        window_id: impl Into<String>,
    ) -> Result<Self, SegmentError> {
        Ok(Principal::User {
            user_id: Segment::non_empty("user_id", user_id)?,
            window_id: Segment::non_empty("window_id", window_id)?,
        })
    }

    /// An orchestrator serving `supported_profiles` (at least one).
    pub fn orchestrator(
        implementation: impl Into<String>,
        specifier: impl Into<String>,
        supported_profiles: Vec<String>,
    ) -> Result<Self, SegmentError> {
        if supported_profiles.is_empty() {
            return Err(SegmentError::Empty("supported_profiles"));
        }
        for p in &supported_profiles {
            Segment::non_empty("supported_profiles", p.as_str())?;
        }
        Ok(Principal::Orchestrator {
            implementation: Segment::non_empty("implementation", implementation)?,
            specifier: Segment::non_empty("specifier", specifier)?,
            supported_profiles,
        })
    }

    /// The workflow engine.
    pub fn workflow_engine() -> Self {
        Principal::WorkflowEngine {
            instance_id: String::new(),
        }
    }

    /// The metrics bridge.
    pub fn metrics_bridge() -> Self {
        Principal::MetricsBridge {
            instance_id: String::new(),
        }
    }

    /// A bridge.
    pub fn bridge(
        implementation: impl Into<String>,
        specifier: impl Into<String>,
    ) -> Result<Self, SegmentError> {
        Ok(Principal::Bridge {
            implementation: Segment::non_empty("implementation", implementation)?,
            specifier: Segment::non_empty("specifier", specifier)?,
        })
    }

    /// A service; `no_pool_consumer` keeps pooled tasks away from it.
    pub fn service(
        implementation: impl Into<String>,
        specifier: impl Into<String>,
        no_pool_consumer: bool,
    ) -> Result<Self, SegmentError> {
        Ok(Principal::Service {
            implementation: Segment::non_empty("implementation", implementation)?,
            specifier: Segment::non_empty("specifier", specifier)?,
            no_pool_consumer,
        })
    }

    /// The kind of this principal.
    pub fn kind(&self) -> PrincipalKind {
        match self {
            Principal::Agent { .. } => PrincipalKind::Agent,
            Principal::Task {
                unique_specifier: Some(_),
                ..
            } => PrincipalKind::UniqueTask,
            Principal::Task {
                unique_specifier: None,
                ..
            } => PrincipalKind::PooledTask,
            Principal::User { .. } => PrincipalKind::User,
            Principal::Orchestrator { .. } => PrincipalKind::Orchestrator,
            Principal::WorkflowEngine { .. } => PrincipalKind::WorkflowEngine,
            Principal::MetricsBridge { .. } => PrincipalKind::MetricsBridge,
            Principal::Bridge { .. } => PrincipalKind::Bridge,
            Principal::Service { .. } => PrincipalKind::Service,
        }
    }

    /// The workspace the principal connects into, if its type has one.
    /// (Users start without one and choose it with `switch_workspace`.)
    pub fn workspace(&self) -> Option<&str> {
        match self {
            Principal::Agent { workspace, .. } | Principal::Task { workspace, .. } => {
                Some(workspace)
            }
            _ => None,
        }
    }

    /// The implementation name, where the type has one.
    pub fn implementation(&self) -> Option<&str> {
        match self {
            Principal::Agent { implementation, .. }
            | Principal::Task { implementation, .. }
            | Principal::Orchestrator { implementation, .. }
            | Principal::Bridge { implementation, .. }
            | Principal::Service { implementation, .. } => Some(implementation),
            _ => None,
        }
    }

    /// The identity string (the gateway's lock key). For a pooled task the
    /// instance id is unknown until the ack; use
    /// [`identity_string_with`](Self::identity_string_with).
    pub fn identity_string(&self) -> String {
        self.identity_string_with(None)
    }

    /// The identity string, using `assigned_id` as a pooled task's instance id.
    pub fn identity_string_with(&self, assigned_id: Option<&str>) -> String {
        match self {
            Principal::Agent {
                workspace,
                implementation,
                specifier,
            } => {
                format!("ag::{workspace}::{implementation}::{specifier}")
            }
            Principal::Task {
                workspace,
                implementation,
                unique_specifier: Some(s),
            } => {
                format!("tu::{workspace}::{implementation}::{s}")
            }
            Principal::Task {
                workspace,
                implementation,
                unique_specifier: None,
            } => {
                format!(
                    "ta::{workspace}::{implementation}::{}",
                    assigned_id.unwrap_or("")
                )
            }
            Principal::User { user_id, window_id } => format!("us::{user_id}::{window_id}"),
            Principal::Orchestrator {
                implementation,
                specifier,
                ..
            } => {
                format!("orc::{implementation}::{specifier}")
            }
            Principal::WorkflowEngine { .. } => WORKFLOW_ENGINE_IDENTITY.to_string(),
            Principal::MetricsBridge { .. } => METRICS_BRIDGE_IDENTITY.to_string(),
            Principal::Bridge {
                implementation,
                specifier,
            } => format!("br::{implementation}::{specifier}"),
            Principal::Service {
                implementation,
                specifier,
                ..
            } => {
                format!("sv::{implementation}::{specifier}")
            }
        }
    }

    /// The topic messages to this principal are sent to, if it has one.
    /// Orchestrators have none; the workflow engine and metrics bridge
    /// receive on the fan-in receiver topics.
    pub fn topic_with(&self, assigned_id: Option<&str>) -> Option<String> {
        match self {
            Principal::Orchestrator { .. } => None,
            Principal::WorkflowEngine { .. } => Some(EVENT_RECEIVER_TOPIC.to_string()),
            Principal::MetricsBridge { .. } => Some(METRIC_RECEIVER_TOPIC.to_string()),
            _ => Some(self.identity_string_with(assigned_id)),
        }
    }

    /// The typed topic of this principal (pooled tasks need `assigned_id`).
    pub fn typed_topic(&self, assigned_id: Option<&str>) -> Option<Topic> {
        self.topic_with(assigned_id).and_then(|t| t.parse().ok())
    }

    /// The `InitConnection.client_type` announcing this principal.
    pub fn to_client_type(&self) -> ClientType {
        match self.clone() {
            Principal::Agent {
                workspace,
                implementation,
                specifier,
            } => ClientType::Agent(proto::AgentIdentity {
                workspace: workspace.into_string(),
                implementation: implementation.into_string(),
                specifier: specifier.into_string(),
            }),
            Principal::Task {
                workspace,
                implementation,
                unique_specifier,
            } => ClientType::Task(proto::TaskIdentity {
                workspace: workspace.into_string(),
                implementation: implementation.into_string(),
                unique_specifier: unique_specifier
                    .map(Segment::into_string)
                    .unwrap_or_default(),
            }),
            Principal::User { user_id, window_id } => ClientType::User(proto::UserIdentity {
                user_id: user_id.into_string(),
                window_id: window_id.into_string(),
            }),
            Principal::Orchestrator {
                implementation,
                specifier,
                supported_profiles,
            } => ClientType::Orchestrator(proto::OrchestratorIdentity {
                implementation: implementation.into_string(),
                specifier: specifier.into_string(),
                supported_profiles,
            }),
            Principal::WorkflowEngine { instance_id } => {
                ClientType::WorkflowEngine(proto::WorkflowEngineIdentity { instance_id })
            }
            Principal::MetricsBridge { instance_id } => {
                ClientType::MetricsBridge(proto::MetricsBridgeIdentity { instance_id })
            }
            Principal::Bridge {
                implementation,
                specifier,
            } => ClientType::Bridge(proto::BridgeIdentity {
                implementation: implementation.into_string(),
                specifier: specifier.into_string(),
            }),
            Principal::Service {
                implementation,
                specifier,
                no_pool_consumer,
            } => ClientType::Service(proto::ServiceIdentity {
                implementation: implementation.into_string(),
                specifier: specifier.into_string(),
                no_pool_consumer,
            }),
        }
    }

    /// Reads a principal from a handshake, as a gateway does: every non-empty
    /// field must be a valid segment; empty fields are tolerated (an empty
    /// unique specifier means a pooled task).
    pub fn from_client_type(client_type: &ClientType) -> Result<Self, SegmentError> {
        let seg = Segment::new;
        Ok(match client_type {
            ClientType::Agent(a) => Principal::Agent {
                workspace: seg(a.workspace.as_str())?,
                implementation: seg(a.implementation.as_str())?,
                specifier: seg(a.specifier.as_str())?,
            },
            ClientType::Task(t) => Principal::Task {
                workspace: seg(t.workspace.as_str())?,
                implementation: seg(t.implementation.as_str())?,
                unique_specifier: if t.unique_specifier.is_empty() {
                    None
                } else {
                    Some(seg(t.unique_specifier.as_str())?)
                },
            },
            ClientType::User(u) => Principal::User {
                user_id: seg(u.user_id.as_str())?,
                window_id: seg(u.window_id.as_str())?,
            },
            ClientType::Orchestrator(o) => {
                for p in &o.supported_profiles {
                    seg(p.as_str())?;
                }
                Principal::Orchestrator {
                    implementation: seg(o.implementation.as_str())?,
                    specifier: seg(o.specifier.as_str())?,
                    supported_profiles: o.supported_profiles.clone(),
                }
            }
            ClientType::WorkflowEngine(w) => Principal::WorkflowEngine {
                instance_id: w.instance_id.clone(),
            },
            ClientType::MetricsBridge(m) => Principal::MetricsBridge {
                instance_id: m.instance_id.clone(),
            },
            ClientType::Bridge(b) => Principal::Bridge {
                implementation: seg(b.implementation.as_str())?,
                specifier: seg(b.specifier.as_str())?,
            },
            ClientType::Service(s) => Principal::Service {
                implementation: seg(s.implementation.as_str())?,
                specifier: seg(s.specifier.as_str())?,
                no_pool_consumer: s.no_pool_consumer,
            },
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.identity_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_strings_match_the_gateway() {
        let p = |r: Result<Principal, SegmentError>| r.unwrap();
        assert_eq!(
            p(Principal::agent("w", "i", "s")).identity_string(),
            "ag::w::i::s"
        );
        assert_eq!(
            p(Principal::unique_task("w", "i", "s")).identity_string(),
            "tu::w::i::s"
        );
        assert_eq!(
            p(Principal::pooled_task("w", "i")).identity_string_with(Some("42")),
            "ta::w::i::42"
        );
        assert_eq!(
            p(Principal::user("u", "win")).identity_string(),
            "us::u::win"
        );
        assert_eq!(
            p(Principal::orchestrator("o", "x", vec!["local".into()])).identity_string(),
            "orc::o::x"
        );
        assert_eq!(
            Principal::workflow_engine().identity_string(),
            "wfe::shard0"
        );
        assert_eq!(
            Principal::metrics_bridge().topic_with(None).unwrap(),
            "metric::receiver0"
        );
        assert_eq!(p(Principal::bridge("b", "s")).identity_string(), "br::b::s");
        assert_eq!(
            p(Principal::service("svc", "s", false)).identity_string(),
            "sv::svc::s"
        );
        assert!(
            p(Principal::orchestrator("o", "x", vec!["p".into()]))
                .topic_with(None)
                .is_none()
        );
    }

    #[test]
    fn round_trips_through_the_handshake() {
        for pr in [
            Principal::agent("w", "i", "s").unwrap(),
            Principal::pooled_task("w", "i").unwrap(),
            Principal::unique_task("w", "i", "u").unwrap(),
            Principal::user("u", "w").unwrap(),
            Principal::service("s", "x", true).unwrap(),
            Principal::bridge("b", "x").unwrap(),
            Principal::workflow_engine(),
        ] {
            assert_eq!(
                Principal::from_client_type(&pr.to_client_type()).unwrap(),
                pr
            );
        }
    }

    #[test]
    fn constructors_reject_invalid_and_empty_segments() {
        assert!(Principal::agent("", "i", "s").is_err());
        assert!(Principal::user("u", "a b").is_err());
        assert!(Principal::orchestrator("o", "x", vec![]).is_err());
        let bad = ClientType::Agent(proto::AgentIdentity {
            workspace: "w".into(),
            implementation: "i::x".into(),
            specifier: "s".into(),
        });
        assert!(Principal::from_client_type(&bad).is_err());
    }
}
