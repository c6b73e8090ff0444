//! Credential checks at connect (§1.5), as this gateway applies them.

use std::collections::HashMap;

use aether_protocol::identity::PrincipalKind;
use tonic::Status;

/// The result of a successful check: whether the session is an admin.
pub(crate) struct Authenticated {
    pub(crate) admin: bool,
}

fn impersonable(kind: PrincipalKind) -> bool {
    !matches!(
        kind,
        PrincipalKind::Orchestrator | PrincipalKind::WorkflowEngine | PrincipalKind::MetricsBridge
    )
}

fn api_key(credentials: &HashMap<String, String>) -> Option<&str> {
    ["api_key", "x-api-key"]
        .iter()
        .filter_map(|k| credentials.get(*k))
        .map(String::as_str)
        .find(|v| !v.is_empty())
}

/// Checks `credentials` for a principal of `kind`.
///
/// * `token` (a task token) is checked by the task component before this;
///   one that reaches here is refused.
/// * Dev mode admits everything; a matching admin key is still noted.
/// * Otherwise an API key must equal the admin key; impersonable
///   principals need one, the system principals need none.
pub(crate) fn authenticate(
    kind: PrincipalKind,
    credentials: &HashMap<String, String>,
    dev: bool,
    admin_key: Option<&str>,
) -> Result<Authenticated, Status> {
    if credentials.get("token").is_some_and(|t| !t.is_empty()) {
        return Err(Status::unauthenticated("invalid or revoked token"));
    }
    let key = api_key(credentials);
    let key_ok = matches!((key, admin_key), (Some(k), Some(a)) if k == a);
    let system = !impersonable(kind);
    if dev {
        return Ok(Authenticated { admin: true });
    }
    if key_ok {
        return Ok(Authenticated { admin: true });
    }
    if key.is_some() {
        return Err(Status::unauthenticated(
            "credential authentication failed: invalid API key",
        ));
    }
    let other = ["authorization", "session_token"]
        .iter()
        .any(|k| credentials.get(*k).is_some_and(|v| !v.is_empty()));
    if other {
        return Err(Status::unauthenticated(
            "credential authentication failed: only API keys are supported by this gateway",
        ));
    }
    if system {
        // Admitted, but with no rights beyond the ACL's: upstream's system
        // bypass (§6.1) would make any anonymous connection an
        // administrator.
        return Ok(Authenticated { admin: false });
    }
    Err(Status::unauthenticated(format!(
        "anonymous connection as {} requires credentials",
        kind.name()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dev_admits_everyone_but_refuses_tokens() {
        assert!(authenticate(PrincipalKind::Agent, &creds(&[]), true, None).is_ok());
        let err = authenticate(PrincipalKind::Agent, &creds(&[("token", "t")]), true, None)
            .err()
            .map(|s| s.code());
        assert_eq!(err, Some(tonic::Code::Unauthenticated));
    }

    #[test]
    fn non_dev_needs_the_admin_key_for_impersonable_principals() {
        let k = Some("secret");
        assert!(authenticate(PrincipalKind::User, &creds(&[]), false, k).is_err());
        assert!(authenticate(PrincipalKind::User, &creds(&[("api_key", "no")]), false, k).is_err());
        assert!(
            authenticate(
                PrincipalKind::User,
                &creds(&[("x-api-key", "secret")]),
                false,
                k
            )
            .is_ok()
        );
        assert!(authenticate(PrincipalKind::Orchestrator, &creds(&[]), false, k).is_ok());
    }
}
