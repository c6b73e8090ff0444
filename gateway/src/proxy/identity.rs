//! Header hygiene and the trusted identity headers (§8.2 step 5).
//!
//! Every caller-supplied entry whose name starts with `x-auth-` or
//! `x-aether-` (in any case) is removed, then the direct-mode set is
//! minted with upstream's exact key casing. The same is done to a tunnel's
//! `TunnelOpen.metadata`, so the target of a tunnel learns who opened it
//! from entries it can trust (upstream forwards the metadata untouched).
//! On behalf of a subject, the mode is `on_behalf_of` and
//! `X-Auth-Subject-Type`, `X-Auth-Subject-ID` and `X-Auth-Grant-ID` name
//! the subject and the grant (the actor headers still name the caller).

use std::collections::{BTreeMap, HashMap};

use crate::context::handle::SessionHandle;

use super::access::Grant;

/// The caller's topic as the headers name it: its identity topic, or its
/// identity string for principals without one (orchestrators).
pub(super) fn caller_topic(caller: &SessionHandle) -> &str {
    caller.topic.as_deref().unwrap_or(&caller.identity)
}

/// Whether `name` is reserved for the gateway.
fn reserved(name: &str) -> bool {
    let starts = |prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    starts("x-auth-") || starts("x-aether-")
}

/// A string map headers or metadata are carried in.
pub(super) trait Entries {
    fn remove_reserved(&mut self);
    fn put(&mut self, name: &str, value: &str);
}

impl Entries for BTreeMap<String, String> {
    fn remove_reserved(&mut self) {
        self.retain(|name, _| !reserved(name));
    }
    fn put(&mut self, name: &str, value: &str) {
        self.insert(name.to_string(), value.to_string());
    }
}

impl Entries for HashMap<String, String> {
    fn remove_reserved(&mut self) {
        self.retain(|name, _| !reserved(name));
    }
    fn put(&mut self, name: &str, value: &str) {
        self.insert(name.to_string(), value.to_string());
    }
}

/// Removes every reserved entry and mints the trusted set for `caller`,
/// whose current workspace is `workspace`.
pub(super) fn stamp(
    headers: &mut impl Entries,
    caller: &SessionHandle,
    workspace: &str,
    grant: &Grant,
) {
    headers.remove_reserved();
    let workspace = match &grant.on_behalf {
        Some(o) => o.workspace.as_str(),
        None => workspace,
    };
    let topic = caller_topic(caller);
    // Users are named by user id (so grants apply across windows), every
    // other principal by its identity string.
    let id = caller.user_id().unwrap_or(&caller.identity);
    let kind = caller.kind.name();
    for (name, value) in [
        ("x-aether-actor-topic", topic),
        ("X-Aether-Caller-Topic", topic),
        ("X-Auth-Tenant-ID", workspace),
        (
            "X-Auth-Workspace-Access",
            &grant.workspace_access.to_string(),
        ),
        ("X-Auth-User-ID", id),
        ("X-Auth-Principal-Type", kind),
        ("X-Auth-Actor-Type", kind),
        ("X-Auth-Actor-ID", id),
    ] {
        headers.put(name, value);
    }
    match &grant.on_behalf {
        None => {
            headers.put("X-Auth-Authority-Mode", "direct");
        }
        Some(o) => {
            for (name, value) in [
                ("X-Auth-Authority-Mode", "on_behalf_of"),
                ("X-Auth-Subject-Type", o.subject_type),
                ("X-Auth-Subject-ID", &o.subject_id),
                ("X-Auth-Grant-ID", &o.grant_id),
            ] {
                headers.put(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_prefixes_in_any_case() {
        for name in [
            "x-auth-user-id",
            "X-Auth-Tenant-ID",
            "X-AETHER-CALLER-TOPIC",
            "x-aether-",
        ] {
            assert!(reserved(name), "{name}");
        }
        for name in [
            "x-auth",
            "x-authorization",
            "authorization",
            "x-aetherx",
            "",
            "é",
        ] {
            assert!(!reserved(name), "{name}");
        }
    }
}
