//! Orchestration triggered by messages (§5.5): a message to an agent
//! (`ag::…`) or unique task (`tu::…`) that is not connected starts it
//! through an orchestrator, when its implementation is in the agent
//! registry with a `profile` in its launch parameters. Best effort: the
//! sender gets no reply either way, and the message itself waits in the
//! target's mailbox until it connects (§2.7).
//!
//! De-duplication: nothing is started while the target is connected or
//! while a startup task for it is active (pending, assigned, starting or
//! running), so a burst of messages starts it once; once that startup task
//! has ended, the next message starts it again. The gateway knows exactly
//! who is connected, so upstream's 5 s cache of negative lookups has no
//! counterpart. The startup task's creator is `aether-gateway`, and the
//! sender is kept in its metadata (`triggered_by`) rather than as an OBO
//! subject.

use std::collections::HashMap;

use aether_protocol::identity::Topic;

use crate::registry::Registry;
use crate::tasks::Tasks;
use crate::tasks::startup::{GATEWAY_CREATOR, StartAgent, start_for_message};

/// `sender` sent a message to `target`, whose mailbox nobody reads: start
/// it if the registry knows how. The change is settled in the background,
/// so the sender's session reads on.
pub(crate) fn message_to_offline(agents: &Registry, tasks: &Tasks, target: &str, sender: &str) {
    let Ok(topic) = target.parse::<Topic>() else {
        return;
    };
    let (workspace, implementation, specifier, unique_task) = match &topic {
        Topic::Agent {
            workspace,
            implementation,
            specifier,
        } => (workspace, implementation, specifier, false),
        Topic::UniqueTask {
            workspace,
            implementation,
            specifier,
        } => (workspace, implementation, specifier, true),
        _ => return,
    };
    let Some(entry) = agents.get(implementation) else {
        return;
    };
    let none = HashMap::new();
    let start = StartAgent {
        unique_task,
        workspace,
        implementation,
        specifier,
        defaults: &entry.launch_params,
        overrides: &none,
        creator: GATEWAY_CREATOR,
        metadata: HashMap::new(),
    };
    if let Some(settle) = start_for_message(tasks, start, target, sender) {
        tokio::spawn(settle.settle());
    }
}
