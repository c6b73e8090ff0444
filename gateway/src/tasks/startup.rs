//! `agent_startup` tasks (§5.4): created for offline TARGETED creates,
//! `AgentOperation LAUNCH` and messages to offline agents (§5.5), queued by
//! orchestrator profile, and handed to a connected orchestrator at once or
//! as soon as one serving the profile connects (no polling). One active
//! startup task per agent identity: a second request while one is active
//! reuses it, which is also what de-duplicates the starts a burst of
//! messages to an offline agent asks for.

use std::collections::HashMap;

use aether_protocol::proto::TaskAssignmentMode;

use super::index::Key;
use super::model::{AGENT_STARTUP, DEFAULT_MAX_ATTEMPTS, Status, TaskRecord};
use super::worker::grace_window_ms;
use super::{Settle, Tasks, Txn};
use crate::stats::Stats;

/// What to start.
pub(crate) struct StartAgent<'a> {
    /// Start the unique task `tu::…` rather than the agent `ag::…`.
    pub(crate) unique_task: bool,
    pub(crate) workspace: &'a str,
    pub(crate) implementation: &'a str,
    pub(crate) specifier: &'a str,
    /// The registry entry's launch parameters (defaults).
    pub(crate) defaults: &'a HashMap<String, String>,
    /// Overrides from the request.
    pub(crate) overrides: &'a HashMap<String, String>,
    /// Creator's identity string.
    pub(crate) creator: &'a str,
    /// Extra metadata (the trigger).
    pub(crate) metadata: HashMap<String, String>,
}

/// The profile of a start: the registry's `launch_params["profile"]`,
/// else the request's override.
fn profile_of(
    defaults: &HashMap<String, String>,
    overrides: &HashMap<String, String>,
) -> Option<String> {
    defaults
        .get("profile")
        .or_else(|| overrides.get("profile"))
        .filter(|p| !p.is_empty())
        .cloned()
}

impl Txn<'_> {
    /// The active startup task for agent `identity`, if any.
    fn active_startup(&self, identity: &str) -> Option<TaskRecord> {
        self.st
            .table
            .ids(&Key::ActiveStartup(identity.to_string()))
            .last()
            .and_then(|id| self.get(id))
    }

    /// Creates (or reuses) the startup task for `a` and offers it to an
    /// orchestrator; errors name what is missing.
    pub(crate) fn start_agent(&mut self, a: StartAgent<'_>) -> Result<TaskRecord, String> {
        let Some(profile) = profile_of(a.defaults, a.overrides) else {
            return Err("launch params missing 'profile' field".to_string());
        };
        let prefix = if a.unique_task { "tu" } else { "ag" };
        let identity = format!(
            "{prefix}::{}::{}::{}",
            a.workspace, a.implementation, a.specifier
        );
        if let Some(active) = self.active_startup(&identity) {
            return Ok(active);
        }
        let mut launch_params = a.defaults.clone();
        launch_params.extend(a.overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut metadata = a.metadata;
        metadata
            .entry("trigger_timestamp_ms".to_string())
            .or_insert_with(|| self.now.to_string());
        let r = TaskRecord {
            id: uuid::Uuid::new_v4().to_string(),
            task_type: AGENT_STARTUP.to_string(),
            status: Status::Pending.as_str().to_string(),
            workspace: a.workspace.to_string(),
            mode: TaskAssignmentMode::Targeted as i32,
            target_agent_id: identity,
            target_implementation: a.implementation.to_string(),
            target_specifier: a.specifier.to_string(),
            creator: a.creator.to_string(),
            metadata,
            launch_params,
            profile,
            created_ms: self.now,
            updated_ms: self.now,
            status_changed_ms: self.now,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            grace_window_ms: grace_window_ms(0),
            ..Default::default()
        };
        self.put(r.clone());
        Ok(self.offer_startup(r))
    }
}

/// `creator` of the startup tasks the gateway creates by itself.
pub(crate) const GATEWAY_CREATOR: &str = "aether-gateway";

/// Starts the offline agent (or unique task) `a` describes because
/// `sender` sent it a message (§5.5): nothing when it is connected after
/// all or a startup task for it is active; else a startup task with
/// metadata `trigger="message_routing"`, `target_topic`,
/// `trigger_timestamp_ms` and `triggered_by` (the sender). Returns the
/// change to settle, if one was made.
pub(crate) fn start_for_message(
    tasks: &Tasks,
    mut a: StartAgent<'_>,
    target_topic: &str,
    sender: &str,
) -> Option<Settle> {
    let mut txn = Txn::begin(tasks);
    if txn.cx.is_connected(target_topic) || txn.active_startup(target_topic).is_some() {
        return None;
    }
    let mut metadata = std::mem::take(&mut a.metadata);
    metadata.insert("trigger".into(), "message_routing".into());
    metadata.insert("target_topic".into(), target_topic.to_string());
    metadata.insert("trigger_timestamp_ms".into(), txn.now.to_string());
    metadata.insert("triggered_by".into(), sender.to_string());
    match txn.start_agent(StartAgent { metadata, ..a }) {
        Ok(r) => {
            tracing::info!(target = %target_topic, task = %r.id, "message to an offline agent: starting it");
            Stats::bump(&txn.cx.stats.message_triggered_starts);
            Some(txn.finish())
        }
        Err(e) => {
            tracing::warn!(target = %target_topic, error = %e, "cannot start an offline agent for a message");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_profile_wins_over_overrides() {
        let d: HashMap<String, String> = [("profile".into(), "reg".into())].into();
        let o: HashMap<String, String> = [("profile".into(), "req".into())].into();
        assert_eq!(profile_of(&d, &o).as_deref(), Some("reg"));
        assert_eq!(profile_of(&HashMap::new(), &o).as_deref(), Some("req"));
        assert_eq!(profile_of(&HashMap::new(), &HashMap::new()), None);
    }
}
