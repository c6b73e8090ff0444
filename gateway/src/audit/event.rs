//! One thing that happened, as a domain reports it to the audit log.

use std::collections::BTreeMap;

/// Who did it: the session's principal, or the gateway itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Actor {
    /// The principal type, snake case (`agent`, `workflow_engine`, ...),
    /// or `gateway`.
    pub(crate) actor_type: String,
    /// The identity string (`ag::ws::impl::spec`), or `aether-gateway`.
    pub(crate) actor_id: String,
    /// The session that did it (empty for the gateway and for refused
    /// connections).
    pub(crate) session_id: String,
    /// The workspace the actor was on.
    pub(crate) workspace: String,
}

impl Actor {
    /// The gateway itself (sweepers, shutdown, revocations it carries out).
    pub(crate) fn gateway() -> Actor {
        Actor {
            actor_type: "gateway".into(),
            actor_id: "aether-gateway".into(),
            ..Actor::default()
        }
    }
}

/// Where an entry came from: recorded by the gateway, or submitted by a
/// client (`SubmitAuditEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Gateway,
    Client,
}

impl Source {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Gateway => "gateway",
            Source::Client => "client",
        }
    }
}

/// An event to record: build it with [`AuditEvent::new`] and the setters,
/// then hand it to [`Audit::record`](super::Audit::record).
///
/// ```ignore
/// cx.audit.record(
///     AuditEvent::new("acl", "grant")
///         .by(handle.actor())
///         .resource("acl_rule", &rule_id)
///         .workspace(&ws)
///         .meta("level", "40"),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditEvent {
    pub(crate) event_type: String,
    pub(crate) operation: String,
    pub(crate) actor: Actor,
    pub(crate) resource_type: String,
    pub(crate) resource_id: String,
    /// Defaults to the actor's workspace.
    pub(crate) workspace: Option<String>,
    pub(crate) success: bool,
    pub(crate) error_message: String,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) subject_type: String,
    pub(crate) subject_id: String,
    pub(crate) authority_mode: String,
    pub(crate) authority_grant_id: String,
    pub(crate) source: Source,
}

impl AuditEvent {
    /// A successful `operation` of kind `event_type` (`connection`,
    /// `authentication`, `token`, `admin`, `acl`, ...), done by the gateway
    /// until [`by`](Self::by) says who.
    pub(crate) fn new(event_type: impl Into<String>, operation: impl Into<String>) -> Self {
        AuditEvent {
            event_type: event_type.into(),
            operation: operation.into(),
            actor: Actor::gateway(),
            resource_type: String::new(),
            resource_id: String::new(),
            workspace: None,
            success: true,
            error_message: String::new(),
            metadata: BTreeMap::new(),
            subject_type: String::new(),
            subject_id: String::new(),
            authority_mode: String::new(),
            authority_grant_id: String::new(),
            source: Source::Gateway,
        }
    }

    /// Who did it.
    pub(crate) fn by(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// What it was done to.
    pub(crate) fn resource(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.resource_type = kind.into();
        self.resource_id = id.into();
        self
    }

    /// The workspace it happened in (default: the actor's).
    pub(crate) fn workspace(mut self, ws: impl Into<String>) -> Self {
        self.workspace = Some(ws.into());
        self
    }

    /// Marks it failed, with the reason given to the caller (never a
    /// secret).
    pub(crate) fn failed(mut self, error: impl Into<String>) -> Self {
        self.success = false;
        self.error_message = error.into();
        self
    }

    /// Adds a metadata entry.
    pub(crate) fn meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The subject it was done on behalf of (OBO).
    #[allow(dead_code)] // for the authorization engine's on-behalf-of events
    pub(crate) fn subject(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.subject_type = kind.into();
        self.subject_id = id.into();
        self
    }

    /// The authority it was done under (`on_behalf_of` and its grant).
    #[allow(dead_code)] // for the authorization engine's on-behalf-of events
    pub(crate) fn authority(
        mut self,
        mode: impl Into<String>,
        grant_id: impl Into<String>,
    ) -> Self {
        self.authority_mode = mode.into();
        self.authority_grant_id = grant_id.into();
        self
    }

    /// Marks it submitted by a client.
    pub(crate) fn submitted(mut self) -> Self {
        self.source = Source::Client;
        self
    }
}
