//! Topics: where a message goes. `Display` is the single source of the
//! `prefix::segment::...` format; `FromStr` parses it back.

use std::fmt;
use std::str::FromStr;

use super::segment::{Segment, SegmentError};

/// Longest topic the gateway accepts, in bytes.
pub const MAX_TOPIC_BYTES: usize = 256;

/// The prefix (first segment) of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TopicPrefix {
    /// `ag`: one agent.
    Agent,
    /// `tu`: one unique task.
    UniqueTask,
    /// `ta`: one pooled task instance.
    PooledTask,
    /// `tb`: every pooled task instance of an implementation.
    TaskBroadcast,
    /// `us`: one user window.
    UserSession,
    /// `uw`: every window of a user on a workspace.
    UserWorkspace,
    /// `uu`: every window of a user.
    UserBroadcast,
    /// `ga`: every agent of a workspace.
    AgentBroadcast,
    /// `gu`: every user window on a workspace.
    WorkspaceUsers,
    /// `pg`: progress streams.
    Progress,
    /// `tk`: per-task lanes.
    Task,
    /// `event`: events for the workflow engine.
    Event,
    /// `metric`: metrics for the metrics bridge.
    Metric,
    /// `br`: one bridge.
    Bridge,
    /// `sv`: one service (or any instance, with a bare `sv::impl`).
    Service,
}

impl TopicPrefix {
    /// Parses a prefix string.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ag" => TopicPrefix::Agent,
            "tu" => TopicPrefix::UniqueTask,
            "ta" => TopicPrefix::PooledTask,
            "tb" => TopicPrefix::TaskBroadcast,
            "us" => TopicPrefix::UserSession,
            "uw" => TopicPrefix::UserWorkspace,
            "uu" => TopicPrefix::UserBroadcast,
            "ga" => TopicPrefix::AgentBroadcast,
            "gu" => TopicPrefix::WorkspaceUsers,
            "pg" => TopicPrefix::Progress,
            "tk" => TopicPrefix::Task,
            "event" => TopicPrefix::Event,
            "metric" => TopicPrefix::Metric,
            "br" => TopicPrefix::Bridge,
            "sv" => TopicPrefix::Service,
            _ => return None,
        })
    }

    /// The prefix as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicPrefix::Agent => "ag",
            TopicPrefix::UniqueTask => "tu",
            TopicPrefix::PooledTask => "ta",
            TopicPrefix::TaskBroadcast => "tb",
            TopicPrefix::UserSession => "us",
            TopicPrefix::UserWorkspace => "uw",
            TopicPrefix::UserBroadcast => "uu",
            TopicPrefix::AgentBroadcast => "ga",
            TopicPrefix::WorkspaceUsers => "gu",
            TopicPrefix::Progress => "pg",
            TopicPrefix::Task => "tk",
            TopicPrefix::Event => "event",
            TopicPrefix::Metric => "metric",
            TopicPrefix::Bridge => "br",
            TopicPrefix::Service => "sv",
        }
    }
}

/// Why a topic string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Empty or longer than [`MAX_TOPIC_BYTES`].
    #[error("topic length must be 1-{MAX_TOPIC_BYTES} bytes, got {0}")]
    Length(usize),
    /// The prefix is not one of the protocol's prefixes.
    #[error("invalid topic prefix {0:?}")]
    Prefix(String),
    /// Wrong number of segments for the prefix.
    #[error("topic {0:?} has the wrong number of segments")]
    Shape(String),
    /// A segment is invalid.
    #[error("invalid topic segment: {0}")]
    Segment(#[from] SegmentError),
}

/// Splits a topic into its prefix and the raw segments after it, checking
/// only what the gateway checks on a send: the length and the prefix.
///
/// ```
/// use aether_protocol::identity::{split_topic, TopicPrefix};
/// let (prefix, rest) = split_topic("ag::ws::impl::spec").unwrap();
/// assert_eq!(prefix, TopicPrefix::Agent);
/// assert_eq!(rest, vec!["ws", "impl", "spec"]);
/// assert!(split_topic("zz::x").is_err());
/// ```
pub fn split_topic(topic: &str) -> Result<(TopicPrefix, Vec<&str>), TopicError> {
    if topic.is_empty() || topic.len() > MAX_TOPIC_BYTES {
        return Err(TopicError::Length(topic.len()));
    }
    let mut parts = topic.split("::");
    let head = parts.next().unwrap_or_default();
    if !topic.contains("::") {
        return Err(TopicError::Prefix(head.to_string()));
    }
    let prefix = TopicPrefix::parse(head).ok_or_else(|| TopicError::Prefix(head.to_string()))?;
    Ok((prefix, parts.collect()))
}

/// Builds the wire form `prefix::seg::seg...` in one allocation, checking
/// that every segment is non-empty and valid and that the whole topic fits
/// in [`MAX_TOPIC_BYTES`]. `parts` pairs each segment with its name (named
/// in the error when it is empty). The SDK's send helpers use this: it
/// avoids building a [`Topic`] (one `String` per segment) on the hot path.
///
/// `prefix` is written as given, unchecked.
///
/// ```
/// use aether_protocol::identity::{SegmentError, TopicError, wire_topic};
///
/// let topic = wire_topic("ag", &[("workspace", "ws"), ("implementation", "echo"), ("specifier", "one")]);
/// assert_eq!(topic.unwrap(), "ag::ws::echo::one");
/// assert_eq!(
///     wire_topic("us", &[("user_id", ""), ("window_id", "w")]),
///     Err(TopicError::Segment(SegmentError::Empty("user_id")))
/// );
/// assert!(wire_topic("ga", &[("workspace", "a::b")]).is_err());
/// ```
pub fn wire(prefix: &str, parts: &[(&'static str, &str)]) -> Result<String, TopicError> {
    let mut len = prefix.len();
    for (name, seg) in parts {
        if seg.is_empty() {
            return Err(TopicError::Segment(SegmentError::Empty(name)));
        }
        super::segment::validate(seg)?;
        len += 2 + seg.len();
    }
    if len > MAX_TOPIC_BYTES {
        return Err(TopicError::Length(len));
    }
    let mut out = String::with_capacity(len);
    out.push_str(prefix);
    for (_, seg) in parts {
        out.push_str("::");
        out.push_str(seg);
    }
    Ok(out)
}

/// A typed topic. Build one with the constructors (which validate every
/// segment) or parse a string; `Display` gives the wire form.
///
/// ```
/// use aether_protocol::identity::Topic;
/// let t = Topic::agent("ws", "echo", "one").unwrap();
/// assert_eq!(t.to_string(), "ag::ws::echo::one");
/// assert_eq!("ag::ws::echo::one".parse::<Topic>().unwrap(), t);
/// assert_eq!(Topic::events().to_string(), "event::*");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the segments named in each variant's doc
pub enum Topic {
    /// `ag::{ws}::{impl}::{spec}`
    Agent {
        workspace: Segment,
        implementation: Segment,
        specifier: Segment,
    },
    /// `tu::{ws}::{impl}::{spec}`
    UniqueTask {
        workspace: Segment,
        implementation: Segment,
        specifier: Segment,
    },
    /// `ta::{ws}::{impl}::{id}`
    PooledTask {
        workspace: Segment,
        implementation: Segment,
        id: Segment,
    },
    /// `tb::{ws}::{impl}`
    TaskBroadcast {
        workspace: Segment,
        implementation: Segment,
    },
    /// `us::{user}::{window}`
    UserSession {
        user_id: Segment,
        window_id: Segment,
    },
    /// `uw::{user}::{ws}`
    UserWorkspace {
        user_id: Segment,
        workspace: Segment,
    },
    /// `uu::{user}`
    UserBroadcast { user_id: Segment },
    /// `ga::{ws}`
    AgentBroadcast { workspace: Segment },
    /// `gu::{ws}`
    WorkspaceUsers { workspace: Segment },
    /// `pg::{ws}`
    Progress { workspace: Segment },
    /// `pg::us::{user}`
    UserProgress { user_id: Segment },
    /// `tk::{ws}::{task_id}::events`
    TaskEvents {
        workspace: Segment,
        task_id: Segment,
    },
    /// `tk::{ws}::{task_id}::msg`
    TaskChat {
        workspace: Segment,
        task_id: Segment,
    },
    /// `event::*` (the sender's workspace) or `event::{ws}`
    Event { workspace: Option<Segment> },
    /// `metric::*` (the sender's workspace) or `metric::{ws}`
    Metric { workspace: Option<Segment> },
    /// `sv::{impl}::{spec}`, or the wildcard `sv::{impl}` (any instance)
    Service {
        implementation: Segment,
        specifier: Option<Segment>,
    },
    /// `br::{impl}::{spec}`
    Bridge {
        implementation: Segment,
        specifier: Segment,
    },
}

macro_rules! seg {
    ($what:literal, $v:expr) => {
        Segment::non_empty($what, $v)?
    };
}

#[allow(missing_docs)]
impl Topic {
    /// An agent's topic.
    pub fn agent(
        ws: impl Into<String>,
        implementation: impl Into<String>,
        spec: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::Agent {
            workspace: seg!("workspace", ws),
            implementation: seg!("implementation", implementation),
            specifier: seg!("specifier", spec),
        })
    }
    /// A unique task's topic.
    pub fn unique_task(
        ws: impl Into<String>,
        implementation: impl Into<String>,
        spec: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::UniqueTask {
            workspace: seg!("workspace", ws),
            implementation: seg!("implementation", implementation),
            specifier: seg!("unique_specifier", spec),
        })
    }
    /// A pooled task instance's topic (its id comes from the gateway).
    pub fn pooled_task(
        ws: impl Into<String>,
        implementation: impl Into<String>,
        id: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::PooledTask {
            workspace: seg!("workspace", ws),
            implementation: seg!("implementation", implementation),
            id: seg!("id", id),
        })
    }
    /// Every pooled task instance of an implementation.
    pub fn task_broadcast(
        ws: impl Into<String>,
        implementation: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::TaskBroadcast {
            workspace: seg!("workspace", ws),
            implementation: seg!("implementation", implementation),
        })
    }
    /// One user window.
    pub fn user_session(
        user_id: impl Into<String>,
        window_id: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::UserSession {
            user_id: seg!("user_id", user_id),
            window_id: seg!("window_id", window_id),
        })
    }
    /// Every window of a user that is on a workspace.
    pub fn user_workspace(
        user_id: impl Into<String>,
        ws: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::UserWorkspace {
            user_id: seg!("user_id", user_id),
            workspace: seg!("workspace", ws),
        })
    }
    /// Every window of a user.
    pub fn user_broadcast(user_id: impl Into<String>) -> Result<Self, TopicError> {
        Ok(Topic::UserBroadcast {
            user_id: seg!("user_id", user_id),
        })
    }
    /// Every agent of a workspace.
    pub fn agent_broadcast(ws: impl Into<String>) -> Result<Self, TopicError> {
        Ok(Topic::AgentBroadcast {
            workspace: seg!("workspace", ws),
        })
    }
    /// Every user window on a workspace.
    pub fn workspace_users(ws: impl Into<String>) -> Result<Self, TopicError> {
        Ok(Topic::WorkspaceUsers {
            workspace: seg!("workspace", ws),
        })
    }
    /// Events, declared in the sender's own workspace (`event::*`).
    pub fn events() -> Self {
        Topic::Event { workspace: None }
    }
    /// Events declared in a given workspace (`event::{ws}`).
    pub fn events_in(ws: impl Into<String>) -> Result<Self, TopicError> {
        Ok(Topic::Event {
            workspace: Some(seg!("workspace", ws)),
        })
    }
    /// Metrics, declared in the sender's own workspace (`metric::*`).
    pub fn metrics() -> Self {
        Topic::Metric { workspace: None }
    }
    /// One service instance.
    pub fn service(
        implementation: impl Into<String>,
        spec: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::Service {
            implementation: seg!("implementation", implementation),
            specifier: Some(seg!("specifier", spec)),
        })
    }
    /// Any instance of a service (`sv::{impl}`), picked by the gateway.
    pub fn any_service(implementation: impl Into<String>) -> Result<Self, TopicError> {
        Ok(Topic::Service {
            implementation: seg!("implementation", implementation),
            specifier: None,
        })
    }
    /// One bridge.
    pub fn bridge(
        implementation: impl Into<String>,
        spec: impl Into<String>,
    ) -> Result<Self, TopicError> {
        Ok(Topic::Bridge {
            implementation: seg!("implementation", implementation),
            specifier: seg!("specifier", spec),
        })
    }

    /// The topic's prefix.
    pub fn prefix(&self) -> TopicPrefix {
        match self {
            Topic::Agent { .. } => TopicPrefix::Agent,
            Topic::UniqueTask { .. } => TopicPrefix::UniqueTask,
            Topic::PooledTask { .. } => TopicPrefix::PooledTask,
            Topic::TaskBroadcast { .. } => TopicPrefix::TaskBroadcast,
            Topic::UserSession { .. } => TopicPrefix::UserSession,
            Topic::UserWorkspace { .. } => TopicPrefix::UserWorkspace,
            Topic::UserBroadcast { .. } => TopicPrefix::UserBroadcast,
            Topic::AgentBroadcast { .. } => TopicPrefix::AgentBroadcast,
            Topic::WorkspaceUsers { .. } => TopicPrefix::WorkspaceUsers,
            Topic::Progress { .. } | Topic::UserProgress { .. } => TopicPrefix::Progress,
            Topic::TaskEvents { .. } | Topic::TaskChat { .. } => TopicPrefix::Task,
            Topic::Event { .. } => TopicPrefix::Event,
            Topic::Metric { .. } => TopicPrefix::Metric,
            Topic::Service { .. } => TopicPrefix::Service,
            Topic::Bridge { .. } => TopicPrefix::Bridge,
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Agent {
                workspace,
                implementation,
                specifier,
            } => write!(f, "ag::{workspace}::{implementation}::{specifier}"),
            Topic::UniqueTask {
                workspace,
                implementation,
                specifier,
            } => write!(f, "tu::{workspace}::{implementation}::{specifier}"),
            Topic::PooledTask {
                workspace,
                implementation,
                id,
            } => write!(f, "ta::{workspace}::{implementation}::{id}"),
            Topic::TaskBroadcast {
                workspace,
                implementation,
            } => write!(f, "tb::{workspace}::{implementation}"),
            Topic::UserSession { user_id, window_id } => write!(f, "us::{user_id}::{window_id}"),
            Topic::UserWorkspace { user_id, workspace } => write!(f, "uw::{user_id}::{workspace}"),
            Topic::UserBroadcast { user_id } => write!(f, "uu::{user_id}"),
            Topic::AgentBroadcast { workspace } => write!(f, "ga::{workspace}"),
            Topic::WorkspaceUsers { workspace } => write!(f, "gu::{workspace}"),
            Topic::Progress { workspace } => write!(f, "pg::{workspace}"),
            Topic::UserProgress { user_id } => write!(f, "pg::us::{user_id}"),
            Topic::TaskEvents { workspace, task_id } => {
                write!(f, "tk::{workspace}::{task_id}::events")
            }
            Topic::TaskChat { workspace, task_id } => write!(f, "tk::{workspace}::{task_id}::msg"),
            Topic::Event { workspace: None } => f.write_str("event::*"),
            Topic::Event {
                workspace: Some(ws),
            } => write!(f, "event::{ws}"),
            Topic::Metric { workspace: None } => f.write_str("metric::*"),
            Topic::Metric {
                workspace: Some(ws),
            } => write!(f, "metric::{ws}"),
            Topic::Service {
                implementation,
                specifier: None,
            } => write!(f, "sv::{implementation}"),
            Topic::Service {
                implementation,
                specifier: Some(s),
            } => write!(f, "sv::{implementation}::{s}"),
            Topic::Bridge {
                implementation,
                specifier,
            } => write!(f, "br::{implementation}::{specifier}"),
        }
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (prefix, rest) = split_topic(s)?;
        let shape = || TopicError::Shape(s.to_string());
        let g = |i: usize| -> Result<Segment, TopicError> {
            let raw = rest.get(i).ok_or_else(shape)?;
            Ok(Segment::new(*raw)?)
        };
        let n = rest.len();
        let topic = match (prefix, n) {
            (TopicPrefix::Agent, 3) => Topic::Agent {
                workspace: g(0)?,
                implementation: g(1)?,
                specifier: g(2)?,
            },
            (TopicPrefix::UniqueTask, 3) => Topic::UniqueTask {
                workspace: g(0)?,
                implementation: g(1)?,
                specifier: g(2)?,
            },
            (TopicPrefix::PooledTask, 3) => Topic::PooledTask {
                workspace: g(0)?,
                implementation: g(1)?,
                id: g(2)?,
            },
            (TopicPrefix::TaskBroadcast, 2) => Topic::TaskBroadcast {
                workspace: g(0)?,
                implementation: g(1)?,
            },
            (TopicPrefix::UserSession, 2) => Topic::UserSession {
                user_id: g(0)?,
                window_id: g(1)?,
            },
            (TopicPrefix::UserWorkspace, 2) => Topic::UserWorkspace {
                user_id: g(0)?,
                workspace: g(1)?,
            },
            (TopicPrefix::UserBroadcast, 1) => Topic::UserBroadcast { user_id: g(0)? },
            (TopicPrefix::AgentBroadcast, 1) => Topic::AgentBroadcast { workspace: g(0)? },
            (TopicPrefix::WorkspaceUsers, 1) => Topic::WorkspaceUsers { workspace: g(0)? },
            (TopicPrefix::Progress, 2) if rest[0] == "us" => Topic::UserProgress { user_id: g(1)? },
            (TopicPrefix::Progress, 1) => Topic::Progress { workspace: g(0)? },
            (TopicPrefix::Task, 3) if rest[2] == "events" => Topic::TaskEvents {
                workspace: g(0)?,
                task_id: g(1)?,
            },
            (TopicPrefix::Task, 3) if rest[2] == "msg" => Topic::TaskChat {
                workspace: g(0)?,
                task_id: g(1)?,
            },
            (TopicPrefix::Event, 1) if rest[0] == "*" || rest[0].is_empty() => {
                Topic::Event { workspace: None }
            }
            (TopicPrefix::Event, 1) => Topic::Event {
                workspace: Some(g(0)?),
            },
            (TopicPrefix::Metric, 1) if rest[0] == "*" || rest[0].is_empty() => {
                Topic::Metric { workspace: None }
            }
            (TopicPrefix::Metric, 1) => Topic::Metric {
                workspace: Some(g(0)?),
            },
            (TopicPrefix::Service, 1) => Topic::Service {
                implementation: g(0)?,
                specifier: None,
            },
            (TopicPrefix::Service, 2) => Topic::Service {
                implementation: g(0)?,
                specifier: Some(g(1)?),
            },
            (TopicPrefix::Bridge, 2) => Topic::Bridge {
                implementation: g(0)?,
                specifier: g(1)?,
            },
            _ => return Err(shape()),
        };
        Ok(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_round_trips() {
        for s in [
            "ag::w::i::s",
            "tu::w::i::s",
            "ta::w::i::id",
            "tb::w::i",
            "us::u::w",
            "uw::u::w",
            "uu::u",
            "ga::w",
            "gu::w",
            "pg::w",
            "pg::us::u",
            "tk::w::t::events",
            "tk::w::t::msg",
            "event::*",
            "event::w",
            "metric::*",
            "sv::i",
            "sv::i::s",
            "br::i::s",
        ] {
            let t: Topic = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn wire_matches_display() {
        let t = wire(
            "ag",
            &[
                ("workspace", "w"),
                ("implementation", "i"),
                ("specifier", "s"),
            ],
        )
        .unwrap();
        assert_eq!(t, Topic::agent("w", "i", "s").unwrap().to_string());
        assert!(wire("ag", &[("workspace", "")]).is_err());
        assert!(wire("ag", &[("workspace", "a::b")]).is_err());
        assert!(wire("uu", &[("user_id", &"x".repeat(255))]).is_err());
    }

    #[test]
    fn rejects_bad_topics() {
        assert!(matches!("".parse::<Topic>(), Err(TopicError::Length(0))));
        assert!(matches!(
            "nope::x".parse::<Topic>(),
            Err(TopicError::Prefix(_))
        ));
        assert!(matches!("ag".parse::<Topic>(), Err(TopicError::Prefix(_))));
        assert!(matches!(
            "ag::w::i".parse::<Topic>(),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            "ag::w::i*::s".parse::<Topic>(),
            Err(TopicError::Segment(_))
        ));
        assert!(matches!(
            split_topic(&"ag::".repeat(100)),
            Err(TopicError::Length(_))
        ));
        assert!(Topic::agent("w", "i::x", "s").is_err());
    }
}
