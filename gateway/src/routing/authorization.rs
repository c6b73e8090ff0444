//! `AuthorizationContext` on sends (§6.9) once the session has resolved
//! any on-behalf-of context (`authz::grants::obo`) and taken it off: what
//! is left must be direct.

use aether_protocol::proto::AuthorizationContext;

use crate::reply::{ErrorReply, code};

/// Accepts a direct context; refuses on-behalf-of (no ACL engine) and
/// malformed contexts.
pub(crate) fn check(auth: Option<&AuthorizationContext>) -> Result<(), ErrorReply> {
    let Some(auth) = auth else {
        return Ok(());
    };
    let denied = |m: String| Err(ErrorReply::new(code::PERMISSION_DENIED, m));
    match auth.authority_mode.as_str() {
        "" | "direct" if auth.subject.is_none() && auth.grant_id.is_empty() => Ok(()),
        "" | "direct" => denied(
            "invalid authorization context: direct mode carries no subject or grant".to_string(),
        ),
        "on_behalf_of" => denied("on-behalf-of context was not resolved".to_string()),
        other => denied(format!(
            "invalid authorization context: unknown authority mode {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(check(None).is_ok());
        let ctx = |mode: &str, grant: &str| AuthorizationContext {
            authority_mode: mode.into(),
            grant_id: grant.into(),
            ..Default::default()
        };
        assert!(check(Some(&ctx("direct", ""))).is_ok());
        assert!(check(Some(&ctx("", ""))).is_ok());
        assert!(check(Some(&ctx("direct", "g"))).is_err());
        assert_eq!(
            check(Some(&ctx("on_behalf_of", "g"))).unwrap_err().message,
            "on-behalf-of context was not resolved"
        );
    }
}
