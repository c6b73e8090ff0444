//! [`Launch`]: what an assignment asks an orchestrator to start.

use std::collections::HashMap;

use crate::connection::Credentials;
use crate::error::Result;
use crate::proto::TaskAssignment;
use crate::{AgentClient, ClientBuilder};

/// The launch parameter holding the agent's per-task token.
pub(crate) const AUTH_TOKEN_PARAM: &str = "auth_token";

/// One launch request: a typed view of an `agent_startup` assignment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Launch {
    /// The startup task's id.
    pub task_id: String,
    /// The task type (`"agent_startup"` for launches).
    pub task_type: String,
    /// The profile that chose this orchestrator.
    pub profile: String,
    /// The agent's workspace.
    pub workspace: String,
    /// The agent's implementation.
    pub implementation: String,
    /// The agent's specifier (the assignment's, else
    /// `launch_params["specifier"]`, else `"default"`).
    pub specifier: String,
    /// The token the agent connects with (`launch_params["auth_token"]`;
    /// empty if the gateway sent none).
    pub auth_token: String,
    /// Every launch parameter, as sent (including `auth_token`).
    pub launch_params: HashMap<String, String>,
    /// The assignment as received, with every field.
    pub assignment: TaskAssignment,
}

impl Launch {
    /// Reads an assignment.
    pub fn from_assignment(assignment: TaskAssignment) -> Self {
        let params = &assignment.launch_params;
        let specifier = if !assignment.specifier.is_empty() {
            assignment.specifier.clone()
        } else {
            params
                .get("specifier")
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| "default".to_string())
        };
        Launch {
            task_id: assignment.task_id.clone(),
            task_type: assignment.task_type.clone(),
            profile: assignment.profile.clone(),
            workspace: assignment.workspace.clone(),
            implementation: assignment.target_implementation.clone(),
            specifier,
            auth_token: params.get(AUTH_TOKEN_PARAM).cloned().unwrap_or_default(),
            launch_params: params.clone(),
            assignment,
        }
    }

    /// The agent's identity string (`ag::{workspace}::{implementation}::{specifier}`).
    pub fn identity(&self) -> String {
        format!(
            "ag::{}::{}::{}",
            self.workspace, self.implementation, self.specifier
        )
    }

    /// The credentials the launched agent connects with (its task token).
    pub fn credentials(&self) -> Credentials {
        if self.auth_token.is_empty() {
            Credentials::new()
        } else {
            Credentials::new().with_task_token(self.auth_token.clone())
        }
    }

    /// A builder for the agent to launch in this process, with its
    /// identity and credentials set (add the gateway).
    pub fn agent_builder(&self) -> Result<ClientBuilder<AgentClient>> {
        Ok(
            AgentClient::builder(&self.workspace, &self.implementation, &self.specifier)?
                .credentials(self.credentials()),
        )
    }

    /// The environment a launched process gets: `AETHER_GATEWAY`,
    /// `AETHER_WORKSPACE`, `AETHER_IMPLEMENTATION`, `AETHER_SPECIFIER`,
    /// `AETHER_AUTH_TOKEN` (as the reference SDK's launchers set them).
    pub fn env(&self, gateway: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AETHER_GATEWAY", gateway.to_string()),
            ("AETHER_WORKSPACE", self.workspace.clone()),
            ("AETHER_IMPLEMENTATION", self.implementation.clone()),
            ("AETHER_SPECIFIER", self.specifier.clone()),
            ("AETHER_AUTH_TOKEN", self.auth_token.clone()),
        ]
    }
}

impl From<TaskAssignment> for Launch {
    fn from(a: TaskAssignment) -> Self {
        Launch::from_assignment(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment() -> TaskAssignment {
        TaskAssignment {
            task_id: "t1".into(),
            task_type: "agent_startup".into(),
            profile: "echo".into(),
            workspace: "ws".into(),
            target_implementation: "echo".into(),
            launch_params: HashMap::from([
                ("auth_token".to_string(), "tok".to_string()),
                ("profile".to_string(), "echo".to_string()),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn reads_the_assignment() {
        let l = Launch::from_assignment(assignment());
        assert_eq!(l.specifier, "default");
        assert_eq!(l.auth_token, "tok");
        assert_eq!(l.identity(), "ag::ws::echo::default");
        assert_eq!(
            l.credentials().as_map().get("token").map(String::as_str),
            Some("tok")
        );
        let env = l.env("http://gw");
        assert!(env.contains(&("AETHER_AUTH_TOKEN", "tok".to_string())));
        assert!(env.contains(&("AETHER_GATEWAY", "http://gw".to_string())));
        assert!(l.agent_builder().is_ok());

        let mut a = assignment();
        a.launch_params.insert("specifier".into(), "p".into());
        assert_eq!(Launch::from(a.clone()).specifier, "p");
        a.specifier = "s".into();
        assert_eq!(Launch::from(a).specifier, "s");
    }
}
