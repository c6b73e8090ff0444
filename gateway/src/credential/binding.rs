//! The binding of a credential (an API token or a mapped client
//! certificate) to principals, and its checks at connect (§1.5 rule 2).

use std::sync::Arc;

use aether_protocol::identity::Principal;
use tonic::Status;

use super::BoundType;
use super::glob;

/// Which principals a credential admits.
///
/// * `bound_type`: the principal type; any other type is refused.
/// * `bound_id`: when set, the principal's id must equal it: the whole
///   identity string (`ag::ws::impl::spec`), or the principal's own id:
///   the user id of a user, the implementation of an agent, task, service,
///   bridge or orchestrator. Required for user credentials.
/// * `workspaces`: patterns (`*`, `team-*`) the principal's workspace must
///   match when it has one (users are checked when they switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) bound_type: BoundType,
    pub(crate) bound_id: Option<String>,
    pub(crate) workspaces: Arc<[String]>,
}

impl Binding {
    /// Checks a connecting principal; `what` names the credential in the
    /// refusal (`"API key"`, `"client certificate"`). Every refusal is
    /// PERMISSION_DENIED.
    pub(crate) fn admits(
        &self,
        principal: &Principal,
        identity: &str,
        what: &str,
    ) -> Result<(), Status> {
        if BoundType::of(principal.kind()) != Some(self.bound_type) {
            return Err(Status::permission_denied(format!(
                "{what} principal type mismatch"
            )));
        }
        if let Some(id) = &self.bound_id {
            let own = match principal {
                Principal::User { user_id, .. } => Some(user_id.as_str()),
                p => p.implementation(),
            };
            if id != identity && own != Some(id.as_str()) {
                return Err(Status::permission_denied(format!(
                    "{what} principal id mismatch"
                )));
            }
        }
        if let Some(ws) = principal.workspace().filter(|w| !w.is_empty())
            && !glob::any_matches(&self.workspaces, ws)
        {
            return Err(Status::permission_denied(format!(
                "{what} not authorized for workspace {ws}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(t: BoundType, id: Option<&str>, ws: &[&str]) -> Binding {
        Binding {
            bound_type: t,
            bound_id: id.map(str::to_string),
            workspaces: ws.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn code(r: Result<(), Status>) -> Option<(tonic::Code, String)> {
        r.err().map(|s| (s.code(), s.message().to_string()))
    }

    #[test]
    fn type_id_and_workspace_are_checked() {
        let agent = Principal::agent("team-a", "payroll", "v1").unwrap();
        let id = "ag::team-a::payroll::v1";
        let any = binding(BoundType::Agent, None, &["*"]);
        assert!(any.admits(&agent, id, "API key").is_ok());
        assert_eq!(
            code(binding(BoundType::User, None, &["*"]).admits(&agent, id, "API key")),
            Some((
                tonic::Code::PermissionDenied,
                "API key principal type mismatch".into()
            ))
        );
        assert!(
            binding(BoundType::Agent, Some("payroll"), &["*"])
                .admits(&agent, id, "API key")
                .is_ok()
        );
        assert!(
            binding(BoundType::Agent, Some(id), &["*"])
                .admits(&agent, id, "API key")
                .is_ok()
        );
        assert_eq!(
            code(binding(BoundType::Agent, Some("billing"), &["*"]).admits(&agent, id, "API key")),
            Some((
                tonic::Code::PermissionDenied,
                "API key principal id mismatch".into()
            ))
        );
        assert_eq!(
            code(binding(BoundType::Agent, None, &["team-b*"]).admits(&agent, id, "API key")),
            Some((
                tonic::Code::PermissionDenied,
                "API key not authorized for workspace team-a".into()
            ))
        );
        let user = Principal::user("alice", "w1").unwrap();
        let bound = binding(BoundType::User, Some("alice"), &["nothing"]);
        assert!(bound.admits(&user, "us::alice::w1", "API key").is_ok());
        let other = Principal::user("bob", "w1").unwrap();
        assert!(bound.admits(&other, "us::bob::w1", "API key").is_err());
    }
}
