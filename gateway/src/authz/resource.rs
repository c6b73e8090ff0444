//! Resources rules name: a type and an id, where a rule's id may be a glob
//! (`*` any run of characters, `?` one character). The gateway's own
//! resource types are below; applications may use any other well-formed
//! type with access checks.

use super::principal::{MAX_ID_BYTES, check_id, clip};

/// Resource types the gateway itself checks.
pub(crate) mod rtype {
    /// A workspace (id: its name): messaging into it, its tasks, its shared
    /// KV scope.
    pub(crate) const WORKSPACE: &str = "workspace";
    /// An administrative family (id: `admin/<family>`, or `admin/*`).
    pub(crate) const ADMIN: &str = "admin";
    /// A capability (id: `capability/<name>`).
    pub(crate) const CAPABILITY: &str = "capability";
    /// A KV scope by name (`global`, `user-shared`, ...).
    pub(crate) const KV_SCOPE: &str = "kv_scope";
    /// A KV key: a rule on it overrides the scope's level.
    pub(crate) const KV_KEY: &str = "kv_key";
    /// A registered agent implementation.
    pub(crate) const AGENT: &str = "agent";
}

/// Capability ids (resource type [`rtype::CAPABILITY`]).
pub(crate) mod capability {
    /// Create workspaces (WorkspaceOperation CREATE).
    pub(crate) const CREATE_WORKSPACE: &str = "capability/create_workspace";
    /// Ask whether principals other than oneself are connected.
    pub(crate) const QUERY_CONNECTIONS: &str = "capability/query_connections";
    /// PURGE_IDENTITY of another principal's exclusive KV.
    pub(crate) const KV_PURGE_IDENTITY: &str = "capability/kv_purge_identity";
    /// Exchange another principal's live session for an authority grant.
    pub(crate) const EXCHANGE_AUTHORITY_GRANTS: &str = "capability/exchange_authority_grants";
    /// Resolve authority grants held by principals other than oneself.
    pub(crate) const RESOLVE_AUTHORITY: &str = "capability/resolve_authority";
    /// Mint API tokens for users (for the token operations).
    #[allow(dead_code)]
    pub(crate) const MINT_USER_TOKENS: &str = "capability/mint_user_tokens";
    /// Submit audit events into another workspace (for audit submission).
    #[allow(dead_code)]
    pub(crate) const AUDIT_SUBMIT: &str = "capability/audit_submit";
}

/// A resource: type and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Resource<'a> {
    pub(crate) rtype: &'a str,
    pub(crate) id: &'a str,
}

impl<'a> Resource<'a> {
    /// `rtype`/`id`.
    pub(crate) const fn new(rtype: &'a str, id: &'a str) -> Self {
        Resource { rtype, id }
    }

    /// The workspace `name`.
    pub(crate) const fn workspace(name: &'a str) -> Self {
        Resource::new(rtype::WORKSPACE, name)
    }

    /// A capability (`capability/...`).
    pub(crate) const fn capability(id: &'a str) -> Self {
        Resource::new(rtype::CAPABILITY, id)
    }
}

/// Checks a resource type from a request: lowercase ASCII letters,
/// digits and `_ - . /`, at most 64 bytes.
pub(crate) fn check_type(rtype: &str) -> Result<(), String> {
    let ok = !rtype.is_empty()
        && rtype.len() <= 64
        && rtype
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-./".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid resource_type {:?}: use lowercase letters, digits and _ - . /",
            clip(rtype)
        ))
    }
}

/// Checks a resource id (or pattern) from a request.
pub(crate) fn check_id_pattern(id: &str) -> Result<(), String> {
    check_id("resource_id", id)?;
    debug_assert!(id.len() <= MAX_ID_BYTES);
    Ok(())
}

/// Whether `s` contains glob characters.
pub(crate) fn is_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Whether `pattern` (`*` any run, `?` one character) matches `s`.
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    let p = pattern.as_bytes();
    let t = s.as_bytes();
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and the text position it is trying.
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == b'?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

/// Whether a rule's resource id (exact or glob) covers `id`.
pub(crate) fn covers(rule_id: &str, id: &str) -> bool {
    rule_id == id || (is_glob(rule_id) && glob(rule_id, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything"));
        assert!(glob("admin/*", "admin/acl"));
        assert!(!glob("admin/*", "capability/x"));
        assert!(glob("ag::ws::*", "ag::ws::i::s"));
        assert!(!glob("ag::ws::*", "ag::other::i::s"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*b*d", "abcd"));
        assert!(!glob("*b*e", "abcd"));
        assert!(covers("prod-*", "prod-eu"));
        assert!(covers("exact", "exact"));
        assert!(!covers("exact", "exactly"));
    }

    #[test]
    fn types() {
        assert!(check_type("workspace").is_ok());
        assert!(check_type("app.docs/v1").is_ok());
        assert!(check_type("").is_err());
        assert!(check_type("Work Space").is_err());
    }
}
